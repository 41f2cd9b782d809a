// BatchNorm in inference form, y = x * scale + shift over the last (channel) axis; importers
// fold mean, variance and epsilon into scale and shift.
#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs&, std::span<const Shape> in, Shape& out) {
    const std::string who = "BatchNorm node '" + std::string(node) + "'";
    if (in.size() != 3)
        return invalid_argument(who + ": expects x, scale, shift; got " +
                                std::to_string(in.size()) + " inputs");
    const int64_t c = in[0].dim(-1);
    if (in[1].elements() != c || in[2].elements() != c)
        return invalid_argument(who + ": scale " + in[1].str() + " / shift " + in[2].str() +
                                " do not match " + std::to_string(c) + " channels");
    out = in[0];
    return Status::ok();
}

void forward(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    const float *s = c.inputs[1]->data(), *b = c.inputs[2]->data();
    const int64_t ch = x.shape().dim(-1);
    for (int64_t i = 0; i < x.size(); ++i) out[i] = x[i] * s[i % ch] + b[i % ch];
}

void vjp(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    const float* s = c.inputs[1]->data();
    const int64_t ch = g.shape().dim(-1);
    float* d = gin[0]->data();
    for (int64_t i = 0; i < g.size(); ++i) d[i] = (acc[0] ? d[i] : 0.f) + g[i] * s[i % ch];
}

}  // namespace

// LRP: an unfolded BatchNorm is a per-channel affine map; x * scale keeps its share and the shift
// absorbs its own (import folds BatchNorm into the convolution before it when it can).
extern const OpDef kBatchNormDef{
    "BatchNorm", infer, forward, vjp, lrp_split<vjp>, deeplift_linear<vjp>, vjp_reads_nothing};

}  // namespace cnnlens
