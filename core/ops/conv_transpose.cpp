// ConvTranspose: the transpose of a 2-D convolution (a "deconvolution"), run on the session's
// kernel set as the input-gradient of the convolution it transposes; its VJP is that
// convolution's forward pass.
#include <algorithm>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

std::string at(std::string_view node) { return "ConvTranspose node '" + std::string(node) + "'"; }

int out_size(int in, int k, int stride, int dilation, int before, int after, int output_padding) {
    return (in - 1) * stride - before - after + (k - 1) * dilation + 1 + output_padding;
}

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& a = std::get<ConvTransposeAttrs>(attrs);
    if (in.size() < 2 || in.size() > 3)
        return invalid_argument(at(node) + ": expects 2 or 3 inputs, got " +
                                std::to_string(in.size()));
    const Shape& x = in[0];
    const Shape& w = in[1];
    if (x.rank() != 4)
        return invalid_argument(at(node) + ": input must be NHWC (rank 4), got " + x.str());
    if (w.rank() != 4)
        return invalid_argument(at(node) + ": weights must be [KH,KW,Cout/groups,Cin], got " +
                                w.str());
    if (a.groups < 1 || w[3] != x[3] || x[3] % a.groups != 0)
        return invalid_argument(at(node) + ": weights " + w.str() + " with groups " +
                                std::to_string(a.groups) + " do not fit input " + x.str());
    const int64_t cout = w[2] * a.groups;
    if (in.size() == 3 && (in[2].rank() != 1 || in[2][0] != cout))
        return invalid_argument(at(node) + ": bias shape " + in[2].str() + " does not match " +
                                std::to_string(cout) + " output channels");
    if (a.stride_h < 1 || a.stride_w < 1 || a.dilation_h < 1 || a.dilation_w < 1 || a.pad_top < 0 ||
        a.pad_left < 0 || a.pad_bottom < 0 || a.pad_right < 0 || a.output_padding_h < 0 ||
        a.output_padding_w < 0 || a.output_padding_h >= std::max(a.stride_h, a.dilation_h) ||
        a.output_padding_w >= std::max(a.stride_w, a.dilation_w))
        return invalid_argument(at(node) +
                                ": strides, dilations, pads or output_padding are out of range");
    const int oh = out_size(static_cast<int>(x[1]), static_cast<int>(w[0]), a.stride_h,
                            a.dilation_h, a.pad_top, a.pad_bottom, a.output_padding_h);
    const int ow = out_size(static_cast<int>(x[2]), static_cast<int>(w[1]), a.stride_w,
                            a.dilation_w, a.pad_left, a.pad_right, a.output_padding_w);
    if (oh < 1 || ow < 1)
        return invalid_argument(at(node) + ": pads leave an empty output for input " + x.str());
    out = Shape{x[0], oh, ow, cout};
    return Status::ok();
}

// The convolution from this op's output (size O) to its input (size I). Output padding shows up
// as rows the convolution never reads: its end pad shrinks by output_padding (floored at 0,
// which still yields I because output_padding < stride).
ConvDesc describe(const ConvTransposeAttrs& a, const Shape& x, const Shape& w, const Shape& y) {
    ConvDesc d;
    d.in_h = static_cast<int>(y[1]);
    d.in_w = static_cast<int>(y[2]);
    d.in_c = static_cast<int>(y[3]);
    d.out_h = static_cast<int>(x[1]);
    d.out_w = static_cast<int>(x[2]);
    d.out_c = static_cast<int>(x[3]);
    d.kernel_h = static_cast<int>(w[0]);
    d.kernel_w = static_cast<int>(w[1]);
    d.stride_h = a.stride_h;
    d.stride_w = a.stride_w;
    d.dilation_h = a.dilation_h;
    d.dilation_w = a.dilation_w;
    d.pad_top = a.pad_top;
    d.pad_left = a.pad_left;
    d.pad_bottom = std::max(0, a.pad_bottom - a.output_padding_h);
    d.pad_right = std::max(0, a.pad_right - a.output_padding_w);
    d.groups = a.groups;
    return d;
}

ConvKernel& prepared(OpContext& c, const Shape& y) {
    const Tensor& x = *c.inputs[0];
    const Shape per_image{1, x.shape()[1], x.shape()[2], x.shape()[3]};
    if (!c.state.conv || c.state.prepared_for != per_image) {
        const Tensor& w = *c.inputs[1];
        c.state.conv = c.kernels.make_conv(
            describe(std::get<ConvTransposeAttrs>(c.attrs), x.shape(), w.shape(), y), w.data(),
            nullptr);
        c.state.prepared_for = per_image;
    }
    return *c.state.conv;
}

void forward(OpContext& c, Tensor& out) {
    prepared(c, out.shape())
        .backward_input(c.inputs[0]->data(), out.data(), static_cast<int>(out.shape()[0]), false);
    if (c.inputs.size() > 2) {
        const float* b = c.inputs[2]->data();
        const int64_t ch = out.shape()[3];
        for (int64_t i = 0; i < out.size(); ++i) out[i] += b[i % ch];
    }
}

void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    ConvKernel& k = prepared(c, out.shape());
    const int batch = static_cast<int>(g.shape()[0]);
    if (!acc[0]) {
        k.forward(g.data(), gin[0]->data(), batch);
        return;
    }
    c.state.scratch.reset(gin[0]->shape());
    k.forward(g.data(), c.state.scratch.data(), batch);
    store_or_add(gin[0]->data(), c.state.scratch.data(), c.state.scratch.size(), true);
}

// LRP: the rule's modified weights and inputs through this op's own forward and VJP.
Status lrp(OpContext& c, const Tensor&, const Tensor& r, std::span<Tensor* const> r_in,
           std::span<const bool> acc, const LrpRule& rule) {
    if (!r_in[0]) return Status::ok();
    return lrp_weighted(c, c.attrs, forward, vjp, r, *r_in[0], acc[0], rule);
}

}  // namespace

extern const OpDef kConvTransposeDef{"ConvTranspose",     infer, forward, vjp, lrp,
                                     deeplift_linear<vjp>};

}  // namespace cnnlens
