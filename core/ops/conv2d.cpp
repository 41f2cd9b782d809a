// Conv2D: dense, grouped and depthwise 2-D convolution with fused bias and activation,
// running on the session's kernel set.
#include <algorithm>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

std::string at(std::string_view node) { return "Conv2D node '" + std::string(node) + "'"; }

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& a = std::get<ConvAttrs>(attrs);
    if (in.size() < 2 || in.size() > 3)
        return invalid_argument(at(node) + ": expects 2 or 3 inputs, got " +
                                std::to_string(in.size()));
    const Shape& x = in[0];
    const Shape& w = in[1];
    if (x.rank() != 4)
        return invalid_argument(at(node) + ": input must be NHWC (rank 4), got " + x.str());
    if (w.rank() != 4)
        return invalid_argument(at(node) + ": weights must be [KH,KW,Cin/groups,Cout], got " +
                                w.str());
    if (a.groups < 1 || x[3] % a.groups != 0 || w[3] % a.groups != 0)
        return invalid_argument(at(node) + ": groups " + std::to_string(a.groups) +
                                " does not divide channels of input " + x.str() + " and weights " +
                                w.str());
    if (w[2] * a.groups != x[3])
        return invalid_argument(at(node) + ": input has " + std::to_string(x[3]) +
                                " channels but weights " + w.str() + " expect " +
                                std::to_string(w[2] * a.groups));
    if (in.size() == 3 && (in[2].rank() != 1 || in[2][0] != w[3]))
        return invalid_argument(at(node) + ": bias shape " + in[2].str() + " does not match " +
                                std::to_string(w[3]) + " output channels");
    int oh, ow, pt, pb, pl, pr;
    if (!resolve_padding(a.padding, static_cast<int>(x[1]), static_cast<int>(w[0]), a.stride_h,
                         a.dilation_h, a.pad_top, a.pad_bottom, oh, pt, pb) ||
        !resolve_padding(a.padding, static_cast<int>(x[2]), static_cast<int>(w[1]), a.stride_w,
                         a.dilation_w, a.pad_left, a.pad_right, ow, pl, pr))
        return invalid_argument(at(node) + ": kernel " + std::to_string(w[0]) + "x" +
                                std::to_string(w[1]) + " does not fit input " + x.str());
    out = Shape{x[0], oh, ow, w[3]};
    return Status::ok();
}

ConvDesc describe(const ConvAttrs& a, const Shape& x, const Shape& w) {
    ConvDesc d;
    d.in_h = static_cast<int>(x[1]);
    d.in_w = static_cast<int>(x[2]);
    d.in_c = static_cast<int>(x[3]);
    d.kernel_h = static_cast<int>(w[0]);
    d.kernel_w = static_cast<int>(w[1]);
    d.out_c = static_cast<int>(w[3]);
    d.stride_h = a.stride_h;
    d.stride_w = a.stride_w;
    d.dilation_h = a.dilation_h;
    d.dilation_w = a.dilation_w;
    resolve_padding(a.padding, d.in_h, d.kernel_h, a.stride_h, a.dilation_h, a.pad_top,
                    a.pad_bottom, d.out_h, d.pad_top, d.pad_bottom);
    resolve_padding(a.padding, d.in_w, d.kernel_w, a.stride_w, a.dilation_w, a.pad_left,
                    a.pad_right, d.out_w, d.pad_left, d.pad_right);
    d.groups = a.groups;
    d.activation = a.activation;
    d.alpha = a.alpha;
    return d;
}

ConvKernel& prepared(OpContext& c) {
    const Tensor& x = *c.inputs[0];
    const Shape per_image{1, x.shape()[1], x.shape()[2], x.shape()[3]};
    if (!c.state.conv || c.state.prepared_for != per_image) {
        const Tensor& w = *c.inputs[1];
        const float* bias = c.inputs.size() > 2 ? c.inputs[2]->data() : nullptr;
        c.state.conv = c.kernels.make_conv(
            describe(std::get<ConvAttrs>(c.attrs), x.shape(), w.shape()), w.data(), bias);
        c.state.prepared_for = per_image;
    }
    return *c.state.conv;
}

void forward(OpContext& c, Tensor& out) {
    ConvKernel& k = prepared(c);
    const float* in = c.inputs[0]->data();
    const int batch = static_cast<int>(out.shape()[0]);
    if (c.tape && c.rounding == TapeRounding::kExact)
        k.forward_tape(in, out.data(), batch);
    else if (c.tape && c.rounding == TapeRounding::kUniform)
        k.forward_uniform(in, out.data(), batch);
    else if (c.tape)
        k.forward_float_tape(in, out.data(), batch);
    else
        k.forward(in, out.data(), batch);
}

void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule rule) {
    if (!gin[0]) return;
    const auto& a = std::get<ConvAttrs>(c.attrs);
    const float* grad_pre = fused_activation_grad(c, a.activation, a.alpha, rule, out, g);
    prepared(c).backward_input(grad_pre, gin[0]->data(), static_cast<int>(g.shape()[0]), acc[0]);
}

// LRP: the rule's modified weights and inputs through this op's own forward and VJP; relevance
// passes through a fused activation.
Status lrp(OpContext& c, const Tensor&, const Tensor& r, std::span<Tensor* const> r_in,
           std::span<const bool> acc, const LrpRule& rule) {
    if (!r_in[0]) return Status::ok();
    ConvAttrs plain = std::get<ConvAttrs>(c.attrs);
    plain.activation = Activation::kNone;
    return lrp_weighted(c, plain, forward, vjp, r, *r_in[0], acc[0], rule);
}

// DeepLIFT: linear, with the rescale rule through a fused activation.
Status deeplift(OpContext& c, const Tensor& out, const Tensor& m, std::span<Tensor* const> m_in,
                std::span<const bool> acc) {
    if (!m_in[0]) return Status::ok();
    ConvAttrs plain = std::get<ConvAttrs>(c.attrs);
    plain.activation = Activation::kNone;
    const auto& a = std::get<ConvAttrs>(c.attrs);
    return deeplift_fused(c, plain, forward, vjp, a.activation, a.alpha, out, m, *m_in[0], acc[0]);
}

// The VJP reads the output for a fused activation's derivative, never the input (no weight
// gradients).
uint8_t vjp_reads(const OpAttrs& a) {
    return std::get<ConvAttrs>(a).activation == Activation::kNone ? kReadsNothing : kReadsOutput;
}

}  // namespace

extern const OpDef kConv2DDef{"Conv2D", infer, forward, vjp, lrp, deeplift, vjp_reads};

}  // namespace cnnlens
