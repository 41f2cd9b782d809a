#include "core/graph/memory_plan.h"

#include <algorithm>
#include <vector>

namespace cnnlens {

GraphMemory graph_memory(const Graph& g) {
    GraphMemory m;
    const int n = g.size();
    std::vector<int64_t> bytes(static_cast<size_t>(n), 0);
    std::vector<int> last(static_cast<size_t>(n), -1);
    for (int i = 0; i < n; ++i) {
        const Node& node = g.node(i);
        if (node.op == OpType::kConst) {
            m.weight_bytes += node.value.size() * static_cast<int64_t>(sizeof(float));
            continue;
        }
        Shape s = node.shape;
        s[0] = 1;
        bytes[static_cast<size_t>(i)] = s.elements() * static_cast<int64_t>(sizeof(float));
        m.activation_bytes += bytes[static_cast<size_t>(i)];
        for (int k : node.inputs) last[static_cast<size_t>(k)] = i;
    }
    int64_t alive = 0;
    for (int i = 0; i < n; ++i) {
        alive += bytes[static_cast<size_t>(i)];
        m.forward_plan_bytes = std::max(m.forward_plan_bytes, alive);
        for (int k : g.node(i).inputs)
            if (last[static_cast<size_t>(k)] == i) {  // once, even if read twice (x + x)
                alive -= bytes[static_cast<size_t>(k)];
                bytes[static_cast<size_t>(k)] = 0;
            }
    }
    return m;
}

}  // namespace cnnlens
