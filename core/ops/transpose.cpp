// Transpose: permutes the axes of a tensor (the batch axis stays first). Forward gathers, the
// VJP scatters the gradient back through the same index map.
#include <array>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& perm = std::get<TransposeAttrs>(attrs).perm;
    const std::string who = "Transpose node '" + std::string(node) + "'";
    if (in.size() != 1)
        return invalid_argument(who + ": expects 1 input, got " + std::to_string(in.size()));
    const int r = in[0].rank();
    if (static_cast<int>(perm.size()) != r)
        return invalid_argument(who + ": permutation of " + std::to_string(perm.size()) +
                                " axes for input " + in[0].str());
    bool seen[kMaxRank] = {};
    out = Shape();
    for (int i = 0; i < r; ++i) {
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
            return invalid_argument(who + ": perm is not a permutation of 0.." +
                                    std::to_string(r - 1));
        seen[perm[i]] = true;
        out.push_back(in[0][perm[i]]);
    }
    if (perm[0] != 0) return unsupported(who + ": moving the batch axis is not supported");
    return Status::ok();
}

// Calls f(out_index, in_index) for every element.
template <typename F>
void map_transpose(const Shape& in, const std::vector<int>& perm, F&& f) {
    const int r = in.rank();
    std::array<int64_t, kMaxRank> in_stride{}, step{}, dims{};
    int64_t s = 1;
    for (int d = r - 1; d >= 0; --d) {
        in_stride[d] = s;
        s *= in[d];
    }
    for (int i = 0; i < r; ++i) {
        step[i] = in_stride[perm[i]];
        dims[i] = in[perm[i]];
    }
    std::array<int64_t, kMaxRank> idx{};
    int64_t src = 0;
    const int64_t n = in.elements();
    for (int64_t o = 0; o < n; ++o) {
        f(o, src);
        for (int d = r - 1; d >= 0; --d) {
            src += step[d];
            if (++idx[d] < dims[d]) break;
            src -= step[d] * dims[d];
            idx[d] = 0;
        }
    }
}

void forward(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    map_transpose(x.shape(), std::get<TransposeAttrs>(c.attrs).perm,
                  [&](int64_t o, int64_t i) { out[o] = x[i]; });
}

void vjp(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    float* d = gin[0]->data();
    const bool add = acc[0];
    map_transpose(c.inputs[0]->shape(), std::get<TransposeAttrs>(c.attrs).perm,
                  [&](int64_t o, int64_t i) { d[i] = add ? d[i] + g[o] : g[o]; });
}

}  // namespace

extern const OpDef kTransposeDef{"Transpose", infer,          forward,
                                 vjp,         lrp_route<vjp>, deeplift_linear<vjp>};

}  // namespace cnnlens
