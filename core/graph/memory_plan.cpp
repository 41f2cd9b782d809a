#include "core/graph/memory_plan.h"

#include <algorithm>
#include <vector>

namespace cnnlens {

std::vector<char> read_by_backward(const Graph& g) {
    std::vector<char> read(static_cast<size_t>(g.size()), 0);
    for (int i = 0; i < g.size(); ++i) {
        const Node& n = g.node(i);
        if (n.inputs.empty()) continue;
        const OpDef& def = op_def(n.op);
        const uint8_t reads = def.vjp_reads ? def.vjp_reads(n.attrs) : kReadsOutput | kReadsInputs;
        if (reads & kReadsOutput) read[static_cast<size_t>(i)] = 1;
        if (reads & kReadsInputs)
            for (int k : n.inputs) read[static_cast<size_t>(k)] = 1;
    }
    return read;
}

GraphMemory graph_memory(const Graph& g) {
    GraphMemory m;
    const std::vector<char> read = read_by_backward(g);
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
        if (read[static_cast<size_t>(i)]) m.backward_tape_bytes += bytes[static_cast<size_t>(i)];
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
