// Multiply-add counts per node (see macs.h for the convention).
#include "core/graph/macs.h"

namespace cnnlens {

namespace {

int64_t spatial(const Shape& s) { return s.rank() == 4 ? s[1] * s[2] : 1; }

int64_t elements(const Shape& s) {  // for one image: the batch axis is left out
    int64_t n = 1;
    for (int i = 1; i < s.rank(); ++i) n *= s[i];
    return n;
}

bool is_conv_or_matmul(OpType op) {
    return op == OpType::kConv2D || op == OpType::kConvTranspose || op == OpType::kMatMul ||
           op == OpType::kBatchMatMul;
}

}  // namespace

int64_t node_macs(const Graph& g, int i) {
    const Node& n = g.node(i);
    auto in_shape = [&](size_t k) { return g.node(n.inputs[k]).shape; };
    switch (n.op) {
        case OpType::kConv2D:
            return spatial(n.shape) * g.node(n.inputs[1]).value.size();
        case OpType::kConvTranspose:
            return spatial(in_shape(0)) * g.node(n.inputs[1]).value.size();
        case OpType::kMatMul: {
            const Shape a = in_shape(0), b = in_shape(1);
            return a.dim(-1) * b.dim(-1) * (elements(a) / a.dim(-1));
        }
        case OpType::kBatchMatMul: {  // every output element is a K-long dot product
            const Shape a = in_shape(0);
            return elements(n.shape) * a.dim(-1);
        }
        case OpType::kBatchNorm:
            return elements(n.shape);
        case OpType::kMaxPool:
        case OpType::kAvgPool: {
            const auto& p = std::get<PoolAttrs>(n.attrs);
            return elements(n.shape) * p.kernel_h * p.kernel_w;
        }
        case OpType::kMean:
            return elements(in_shape(0));
        default:
            return 0;
    }
}

MacTotals graph_macs(const Graph& g) {
    MacTotals t;
    for (int i = 0; i < g.size(); ++i) {
        const int64_t m = node_macs(g, i);
        t.total += m;
        if (is_conv_or_matmul(g.node(i).op)) t.conv_matmul += m;
    }
    return t;
}

}  // namespace cnnlens
