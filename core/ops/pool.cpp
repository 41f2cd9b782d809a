// MaxPool and AvgPool over the spatial axes of NHWC tensors, on the session's kernel set.
#include <algorithm>
#include <climits>
#include <cmath>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

template <PoolKind kKind>
Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& a = std::get<PoolAttrs>(attrs);
    const std::string who = std::string(kKind == PoolKind::kMax ? "MaxPool" : "AvgPool") +
                            " node '" + std::string(node) + "'";
    if (in.size() != 1)
        return invalid_argument(who + ": expects 1 input, got " + std::to_string(in.size()));
    if (in[0].rank() != 4)
        return invalid_argument(who + ": input must be NHWC (rank 4), got " + in[0].str());
    int oh, ow, b, e;
    if (a.dilation_h < 1 || a.dilation_w < 1)
        return invalid_argument(who + ": dilation " + std::to_string(a.dilation_h) + "x" +
                                std::to_string(a.dilation_w) + " is not positive");
    if (!resolve_padding(a.padding, static_cast<int>(in[0][1]), a.kernel_h, a.stride_h,
                         a.dilation_h, a.pad_top, a.pad_bottom, oh, b, e) ||
        !resolve_padding(a.padding, static_cast<int>(in[0][2]), a.kernel_w, a.stride_w,
                         a.dilation_w, a.pad_left, a.pad_right, ow, b, e))
        return invalid_argument(who + ": window " + std::to_string(a.kernel_h) + "x" +
                                std::to_string(a.kernel_w) + " stride " +
                                std::to_string(a.stride_h) + " does not fit input " + in[0].str());
    out = Shape{in[0][0], oh, ow, in[0][3]};
    return Status::ok();
}

template <PoolKind kKind>
PoolKernel& prepared(OpContext& c) {
    const Shape& x = c.inputs[0]->shape();
    const Shape per_image{1, x[1], x[2], x[3]};
    if (!c.state.pool || c.state.prepared_for != per_image) {
        const auto& a = std::get<PoolAttrs>(c.attrs);
        PoolDesc d;
        d.kind = kKind;
        d.in_h = static_cast<int>(x[1]);
        d.in_w = static_cast<int>(x[2]);
        d.channels = static_cast<int>(x[3]);
        d.kernel_h = a.kernel_h;
        d.kernel_w = a.kernel_w;
        d.stride_h = a.stride_h;
        d.stride_w = a.stride_w;
        d.dilation_h = a.dilation_h;
        d.dilation_w = a.dilation_w;
        resolve_padding(a.padding, d.in_h, a.kernel_h, a.stride_h, a.dilation_h, a.pad_top,
                        a.pad_bottom, d.out_h, d.pad_top, d.pad_bottom);
        resolve_padding(a.padding, d.in_w, a.kernel_w, a.stride_w, a.dilation_w, a.pad_left,
                        a.pad_right, d.out_w, d.pad_left, d.pad_right);
        c.state.pool = c.kernels.make_pool(d);
        c.state.prepared_for = per_image;
    }
    return *c.state.pool;
}

template <PoolKind kKind>
void forward(OpContext& c, Tensor& out) {
    PoolKernel& k = prepared<kKind>(c);
    const int batch = static_cast<int>(out.shape()[0]);
    // Max pooling on a pass that a backward may follow records its argmax, making the VJP one
    // scatter instead of a second search of every window (offsets are int32 within an image).
    const int64_t in_image = c.inputs[0]->size() / std::max(batch, 1);
    c.state.argmax_valid = kKind == PoolKind::kMax && c.tape && in_image <= INT32_MAX;
    if (c.state.argmax_valid) {
        c.state.argmax.resize(static_cast<size_t>(out.size()));
        k.forward_argmax(c.inputs[0]->data(), out.data(), c.state.argmax.data(), batch);
    } else {
        k.forward(c.inputs[0]->data(), out.data(), batch);
    }
}

template <PoolKind kKind>
void vjp(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    PoolKernel& k = prepared<kKind>(c);
    const int batch = static_cast<int>(g.shape()[0]);
    if (c.state.argmax_valid && static_cast<int64_t>(c.state.argmax.size()) == g.size())
        return k.backward_argmax(c.state.argmax.data(), g.data(), gin[0]->data(), batch, acc[0]);
    k.backward_input(c.inputs[0]->data(), g.data(), gin[0]->data(), batch, acc[0]);
}

// DeepLIFT for MaxPool, Captum's rule: with y = max(x) at the input and y0 = max(x0) at the
// reference, max(y, y0) - y0 goes to the input's winner and y - max(y, y0) to the reference's,
// each times m; an input's multiplier is what it received over its own x - x0 (the gradient
// where |x - x0| < kDeepLiftEpsilon). The two parts sum to m (y - y0), so summation-to-delta
// holds through the pool.
// A kept per-call buffer (see deeplift_buffer in op.cpp).
Tensor& buffer(OpState& st, size_t k, const Shape& s) {
    // Sized for every rule's buffers at once: growing it later would move the ones handed out.
    if (st.lrp_scratch.size() < 4) st.lrp_scratch.resize(4);
    st.lrp_scratch[k].reset(s);
    return st.lrp_scratch[k];
}

Status deeplift_max(OpContext& c, const Tensor& out, const Tensor& m, std::span<Tensor* const> m_in,
                    std::span<const bool> acc) {
    if (!m_in[0]) return Status::ok();
    if (!c.state.argmax_valid || static_cast<int64_t>(c.state.argmax.size()) != m.size())
        return unsupported("DeepLIFT: MaxPool node '" + std::string(c.node_name) +
                           "' kept no window winners (an image too large)");
    PoolKernel& k = prepared<PoolKind::kMax>(c);
    const Tensor& x = *c.inputs[0];
    const int batch = static_cast<int>(m.shape()[0]);
    const int64_t half_out = m.size() / 2, half_in = x.size() / 2;
    Tensor& share = buffer(c.state, 0, m.shape());
    Tensor& routed = buffer(c.state, 1, x.shape());
    Tensor& grad = buffer(c.state, 2, x.shape());
    for (int64_t i = 0; i < half_out; ++i) {
        const float y = out[i], y0 = out[i + half_out], top = std::max(y, y0);
        share[i] = m[i] * (top - y0);
        share[i + half_out] = m[i] * (y - top);
    }
    k.backward_argmax(c.state.argmax.data(), share.data(), routed.data(), batch, false);
    k.backward_argmax(c.state.argmax.data(), m.data(), grad.data(), batch, false);
    Tensor& r = buffer(c.state, 3, x.shape());
    for (int64_t i = 0; i < half_in; ++i) {
        const float dx = x[i] - x[i + half_in];
        r[i] = std::fabs(dx) < kDeepLiftEpsilon ? grad[i] : (routed[i] + routed[i + half_in]) / dx;
    }
    std::fill(r.data() + half_in, r.data() + x.size(), 0.f);
    store_or_add(m_in[0]->data(), r.data(), r.size(), acc[0]);
    return Status::ok();
}

}  // namespace

// LRP: MaxPool sends relevance to the window's winner (the gradient, as Zennit leaves max pooling);
// AvgPool splits it in proportion to the inputs (Zennit's Norm rule for AvgPool).
extern const OpDef kMaxPoolDef{
    "MaxPool",           infer<PoolKind::kMax>,          forward<PoolKind::kMax>,
    vjp<PoolKind::kMax>, lrp_route<vjp<PoolKind::kMax>>, deeplift_max,
    vjp_reads_inputs};
extern const OpDef kAvgPoolDef{
    "AvgPool",           infer<PoolKind::kAvg>,          forward<PoolKind::kAvg>,
    vjp<PoolKind::kAvg>, lrp_split<vjp<PoolKind::kAvg>>, deeplift_linear<vjp<PoolKind::kAvg>>,
    vjp_reads_inputs};

}  // namespace cnnlens
