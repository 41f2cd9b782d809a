// Mean over axes (global average pooling when the axes are H and W).
#include <array>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& a = std::get<ReduceAttrs>(attrs);
    const std::string who = "Mean node '" + std::string(node) + "'";
    if (in.size() != 1)
        return invalid_argument(who + ": expects 1 input, got " + std::to_string(in.size()));
    bool reduced[kMaxRank] = {};
    for (int ax : a.axes) {
        if (ax < 0 || ax >= in[0].rank())
            return invalid_argument(who + ": axis " + std::to_string(ax) + " out of range for " +
                                    in[0].str());
        if (ax == 0) return unsupported(who + ": reducing over the batch axis is not supported");
        reduced[ax] = true;
    }
    out = Shape();
    for (int i = 0; i < in[0].rank(); ++i) {
        if (!reduced[i])
            out.push_back(in[0][i]);
        else if (a.keep_dims)
            out.push_back(1);
    }
    return Status::ok();
}

// For every input element i, calls f(i, o) with o its output element.
template <typename F>
void map_reduce(const Shape& in, const ReduceAttrs& a, F&& f) {
    bool reduced[kMaxRank] = {};
    for (int ax : a.axes) reduced[ax] = true;
    std::array<int64_t, kMaxRank> ostride{};
    int64_t s = 1;
    for (int d = in.rank() - 1; d >= 0; --d) {
        ostride[d] = reduced[d] ? 0 : s;
        if (!reduced[d]) s *= in[d];
    }
    std::array<int64_t, kMaxRank> idx{};
    int64_t o = 0;
    const int64_t n = in.elements();
    for (int64_t i = 0; i < n; ++i) {
        f(i, o);
        for (int d = in.rank() - 1; d >= 0; --d) {
            o += ostride[d];
            if (++idx[d] < in[d]) break;
            o -= ostride[d] * in[d];
            idx[d] = 0;
        }
    }
}

void forward(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    const auto& a = std::get<ReduceAttrs>(c.attrs);
    const float inv = static_cast<float>(out.size()) / static_cast<float>(x.size());
    std::vector<double> acc(static_cast<size_t>(out.size()), 0.0);
    map_reduce(x.shape(), a, [&](int64_t i, int64_t o) { acc[o] += x[i]; });
    for (int64_t o = 0; o < out.size(); ++o) out[o] = static_cast<float>(acc[o] * inv);
}

void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> accum, ReluRule) {
    if (!gin[0]) return;
    const Tensor& x = *c.inputs[0];  // its shape only: the backward's tape may drop its data
    const float inv =
        static_cast<float>(out.shape().elements()) / static_cast<float>(x.shape().elements());
    float* d = gin[0]->data();
    const bool add = accum[0];
    map_reduce(x.shape(), std::get<ReduceAttrs>(c.attrs),
               [&](int64_t i, int64_t o) { d[i] = (add ? d[i] : 0.f) + g[o] * inv; });
}

}  // namespace

// LRP: global average pooling splits relevance in proportion to the inputs (Zennit's Norm rule).
extern const OpDef kMeanDef{
    "Mean", infer, forward, vjp, lrp_split<vjp>, deeplift_linear<vjp>, vjp_reads_nothing};

}  // namespace cnnlens
