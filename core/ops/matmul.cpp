// MatMul: a fully connected layer, a [N,...,K] x b [K,M] (+ bias, + activation), with b constant;
// the leading axes of a are rows (a Linear applied to an NHWC tensor, as in ConvNeXt).
#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs&, std::span<const Shape> in, Shape& out) {
    const std::string who = "MatMul node '" + std::string(node) + "'";
    if (in.size() < 2 || in.size() > 3)
        return invalid_argument(who + ": expects 2 or 3 inputs, got " + std::to_string(in.size()));
    if (in[0].rank() < 2 || in[1].rank() != 2)
        return invalid_argument(who + ": operands must be [N,...,K] and [K,M], got " + in[0].str() +
                                " and " + in[1].str());
    if (in[0].dim(-1) != in[1][0])
        return invalid_argument(who + ": inner dimensions differ: " + in[0].str() + " x " +
                                in[1].str());
    if (in.size() == 3 && (in[2].rank() != 1 || in[2][0] != in[1][1]))
        return invalid_argument(who + ": bias shape " + in[2].str() + " does not match " +
                                std::to_string(in[1][1]) + " outputs");
    out = in[0];
    out[out.rank() - 1] = in[1][1];
    return Status::ok();
}

DenseKernel& prepared(OpContext& c) {
    if (!c.state.dense) {
        const auto& a = std::get<MatMulAttrs>(c.attrs);
        const Tensor& w = *c.inputs[1];
        DenseDesc d{static_cast<int>(w.shape()[0]), static_cast<int>(w.shape()[1]), a.activation,
                    a.alpha};
        c.state.dense =
            c.kernels.make_dense(d, w.data(), c.inputs.size() > 2 ? c.inputs[2]->data() : nullptr);
    }
    return *c.state.dense;
}

int rows(const Tensor& t) { return static_cast<int>(t.size() / t.shape().dim(-1)); }

void forward(OpContext& c, Tensor& out) {
    // A fully connected layer rounds alike at every row, so kUniform is its forward().
    if (c.tape && c.rounding == TapeRounding::kExact)
        prepared(c).forward_tape(c.inputs[0]->data(), out.data(), rows(out));
    else
        prepared(c).forward(c.inputs[0]->data(), out.data(), rows(out));
}

void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule rule) {
    if (!gin[0]) return;
    const auto& a = std::get<MatMulAttrs>(c.attrs);
    const float* gp = fused_activation_grad(c, a.activation, a.alpha, rule, out, g);
    prepared(c).backward_input(gp, gin[0]->data(), rows(g), acc[0]);
}

// LRP: the rule's modified weights and inputs through this op's own forward and VJP; relevance
// passes through a fused activation.
Status lrp(OpContext& c, const Tensor&, const Tensor& r, std::span<Tensor* const> r_in,
           std::span<const bool> acc, const LrpRule& rule) {
    if (!r_in[0]) return Status::ok();
    MatMulAttrs plain = std::get<MatMulAttrs>(c.attrs);
    plain.activation = Activation::kNone;
    return lrp_weighted(c, plain, forward, vjp, r, *r_in[0], acc[0], rule);
}

// DeepLIFT: linear, with the rescale rule through a fused activation.
Status deeplift(OpContext& c, const Tensor& out, const Tensor& m, std::span<Tensor* const> m_in,
                std::span<const bool> acc) {
    if (!m_in[0]) return Status::ok();
    MatMulAttrs plain = std::get<MatMulAttrs>(c.attrs);
    plain.activation = Activation::kNone;
    const auto& a = std::get<MatMulAttrs>(c.attrs);
    return deeplift_fused(c, plain, forward, vjp, a.activation, a.alpha, out, m, *m_in[0], acc[0]);
}

// The VJP reads the output for a fused activation's derivative, never the input.
uint8_t vjp_reads(const OpAttrs& a) {
    return std::get<MatMulAttrs>(a).activation == Activation::kNone ? kReadsNothing : kReadsOutput;
}

}  // namespace

extern const OpDef kMatMulDef{"MatMul", infer, forward, vjp, lrp, deeplift, vjp_reads};

}  // namespace cnnlens
