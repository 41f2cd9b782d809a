// Element-wise activations as standalone ops: Relu, Relu6, Elu, LeakyRelu, Prelu, Sigmoid, Silu,
// Tanh, Selu, Clip, HardSigmoid, HardSwish. Relu and Relu6 honour the ReluRule (standard / guided /
// deconvnet) in their VJP; the others always pass the true gradient.
#include <algorithm>
#include <cmath>

#include "core/base/thread_pool.h"
#include "core/kernels/kernels.h"
#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer_unary(std::string_view node, const OpAttrs&, std::span<const Shape> in, Shape& out) {
    if (in.size() != 1)
        return invalid_argument("node '" + std::string(node) + "': expects 1 input, got " +
                                std::to_string(in.size()));
    out = in[0];
    return Status::ok();
}

float alpha_of(const OpAttrs& a) {
    if (auto* l = std::get_if<LeakyReluAttrs>(&a)) return l->alpha;
    if (auto* e = std::get_if<EluAttrs>(&a)) return e->alpha;
    return 0.f;
}

constexpr int64_t kSigmoidBlock = 1 << 14;  // elements a thread takes at a time

template <Activation kAct>
void forward(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    const float alpha = alpha_of(c.attrs);
    if constexpr (kAct == Activation::kElu) {
        for (int64_t i = 0; i < out.size(); ++i) {
            const float v = x[i];
            out[i] = v > 0.f ? v : alpha * std::expm1(v);
        }
    } else if constexpr (kAct == Activation::kSigmoid) {
        const auto sigmoid = c.kernels.sigmoid;
        parallel_for(out.size(), kSigmoidBlock, [&](int64_t b, int64_t e, int) {
            sigmoid(x.data() + b, out.data() + b, e - b);
        });
    } else {
        apply_activation(kAct, alpha, x.data(), out.data(), out.size());
    }
}

template <Activation kAct>
void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule rule) {
    if (!gin[0]) return;
    const Tensor& x = *c.inputs[0];
    const float alpha = alpha_of(c.attrs);
    float* d = gin[0]->data();
    const int64_t n = g.size();
    auto put = [&](int64_t i, float v) { d[i] = acc[0] ? d[i] + v : v; };
    if constexpr (kAct == Activation::kRelu || kAct == Activation::kRelu6) {
        // The derivative read off the input: 0 < x < hi exactly where 0 < y < hi, so the fused
        // activations' backward (threads, vectorised loops) computes it from x as well.
        if (!acc[0]) return activation_backward(kAct, 0.f, rule, x.data(), g.data(), d, n);
        const float hi = kAct == Activation::kRelu6 ? 6.f : INFINITY;
        const float* xs = x.data();
        const float* gs = g.data();
        auto run = [&](auto pass) {  // values loaded outside the select: vectorised in wasm too
            for (int64_t i = 0; i < n; ++i) {
                const float xv = xs[i], gv = gs[i];
                d[i] += pass(xv, gv) ? gv : 0.f;
            }
        };
        if (rule == ReluRule::kStandard)
            run([hi](float xv, float) { return xv > 0.f && xv < hi; });
        else if (rule == ReluRule::kGuided)
            run([hi](float xv, float gv) { return xv > 0.f && xv < hi && gv > 0.f; });
        else
            run([](float, float gv) { return gv > 0.f; });
    } else if constexpr (kAct == Activation::kLeakyRelu) {
        for (int64_t i = 0; i < n; ++i) put(i, x[i] > 0.f ? g[i] : alpha * g[i]);
    } else if constexpr (kAct == Activation::kElu) {
        for (int64_t i = 0; i < n; ++i) put(i, x[i] > 0.f ? g[i] : g[i] * alpha * std::exp(x[i]));
    } else if constexpr (kAct == Activation::kSigmoid) {
        for (int64_t i = 0; i < n; ++i) put(i, g[i] * out[i] * (1.f - out[i]));
    } else {
        for (int64_t i = 0; i < n; ++i) put(i, g[i] * (1.f - out[i] * out[i]));
    }
}

// Silu: y = x * s with s = Sigmoid(x) (PyTorch's SiLU, which ONNX spells as Sigmoid and Mul; the
// importer joins them): one pass over x where the pair took three tensor passes, with the same
// bits as the pair's forward. dx = g * s + (g * x) * s * (1 - s), the pair's two paths.
constexpr int64_t kSiluBlock = 4096;  // s of one block, recomputed by the VJP (on the stack)

void forward_silu(OpContext& c, Tensor& out) {
    const float* x = c.inputs[0]->data();
    float* y = out.data();
    const auto sigmoid = c.kernels.sigmoid;
    parallel_for(out.size(), kSiluBlock, [&](int64_t b, int64_t e, int) {
        sigmoid(x + b, y + b, e - b);
        for (int64_t i = b; i < e; ++i) y[i] = x[i] * y[i];
    });
}

void vjp_silu(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
              std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    const float* x = c.inputs[0]->data();
    const float* gs = g.data();
    float* d = gin[0]->data();
    const bool add = acc[0];
    const auto sigmoid = c.kernels.sigmoid;
    parallel_for(g.size(), kSiluBlock, [&](int64_t b, int64_t e, int) {
        float s[kSiluBlock];
        for (int64_t b0 = b; b0 < e; b0 += kSiluBlock) {
            const int64_t n = std::min(kSiluBlock, e - b0);
            sigmoid(x + b0, s, n);
            for (int64_t i = 0; i < n; ++i) {
                const float gv = gs[b0 + i], sv = s[i];
                const float v = gv * sv + gv * x[b0 + i] * sv * (1.f - sv);
                d[b0 + i] = add ? d[b0 + i] + v : v;
            }
        }
    });
}

// Prelu: y = x > 0 ? x : alpha * x, alpha (Const) broadcast over the trailing axes.
Status infer_prelu(std::string_view node, const OpAttrs&, std::span<const Shape> in, Shape& out) {
    const std::string who = "Prelu node '" + std::string(node) + "'";
    if (in.size() != 2)
        return invalid_argument(who + ": expects 2 inputs, got " + std::to_string(in.size()));
    const int64_t na = in[1].elements();
    if (na != 1 && na != in[0].dim(-1) && na * in[0][0] != in[0].elements())
        return invalid_argument(who + ": alpha " + in[1].str() + " does not fit input " +
                                in[0].str());
    out = in[0];
    return Status::ok();
}

float prelu_alpha(const Tensor& x, const Tensor& alpha, int64_t i) {
    const int64_t na = alpha.size();
    if (na == 1) return alpha[0];
    if (na == x.shape().dim(-1)) return alpha[i % na];
    return alpha[i % na];  // per-element alpha over one image
}

void forward_prelu(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    const Tensor& a = *c.inputs[1];
    for (int64_t i = 0; i < x.size(); ++i) out[i] = x[i] > 0.f ? x[i] : prelu_alpha(x, a, i) * x[i];
}

void vjp_prelu(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
               std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    const Tensor& x = *c.inputs[0];
    const Tensor& a = *c.inputs[1];
    float* d = gin[0]->data();
    for (int64_t i = 0; i < x.size(); ++i) {
        const float v = x[i] > 0.f ? g[i] : prelu_alpha(x, a, i) * g[i];
        d[i] = acc[0] ? d[i] + v : v;
    }
}

// Selu, Clip, HardSigmoid, HardSwish: y = f(x), dx = g * f'(x), with f' read off x.
template <OpType kOp>
float pointwise(const OpAttrs& attrs, float x, float& slope) {
    if constexpr (kOp == OpType::kSelu) {
        const auto& a = std::get<SeluAttrs>(attrs);
        if (x > 0.f) {
            slope = a.gamma;
            return a.gamma * x;
        }
        const float e = std::exp(x);
        slope = a.gamma * a.alpha * e;
        return a.gamma * a.alpha * (e - 1.f);
    } else if constexpr (kOp == OpType::kClip) {
        const auto& a = std::get<ClipAttrs>(attrs);
        slope = x > a.lo && x < a.hi ? 1.f : 0.f;
        return std::min(std::max(x, a.lo), a.hi);
    } else {
        const auto& a = std::get<HardSigmoidAttrs>(attrs);
        const float t = a.alpha * x + a.beta;
        const bool inside = t > 0.f && t < 1.f;
        const float hs = std::min(std::max(t, 0.f), 1.f);
        if constexpr (kOp == OpType::kHardSigmoid) {
            slope = inside ? a.alpha : 0.f;
            return hs;
        } else {  // HardSwish: x * hs(x)
            slope = hs + (inside ? x * a.alpha : 0.f);
            return x * hs;
        }
    }
}

template <OpType kOp>
void forward_pointwise(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    float slope;
    for (int64_t i = 0; i < x.size(); ++i) out[i] = pointwise<kOp>(c.attrs, x[i], slope);
}

template <OpType kOp>
void vjp_pointwise(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
                   std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    const Tensor& x = *c.inputs[0];
    float* d = gin[0]->data();
    float slope;
    for (int64_t i = 0; i < x.size(); ++i) {
        pointwise<kOp>(c.attrs, x[i], slope);
        d[i] = acc[0] ? d[i] + g[i] * slope : g[i] * slope;
    }
}

}  // namespace

// Relevance passes through every element-wise activation unchanged (Zennit's Pass rule); DeepLIFT
// rescales the multiplier by the activation's difference quotient.
extern const OpDef kSeluDef{"Selu",
                            infer_unary,
                            forward_pointwise<OpType::kSelu>,
                            vjp_pointwise<OpType::kSelu>,
                            lrp_pass,
                            deeplift_rescale<vjp_pointwise<OpType::kSelu>>};
extern const OpDef kClipDef{"Clip",
                            infer_unary,
                            forward_pointwise<OpType::kClip>,
                            vjp_pointwise<OpType::kClip>,
                            lrp_pass,
                            deeplift_rescale<vjp_pointwise<OpType::kClip>>};
extern const OpDef kHardSigmoidDef{"HardSigmoid",
                                   infer_unary,
                                   forward_pointwise<OpType::kHardSigmoid>,
                                   vjp_pointwise<OpType::kHardSigmoid>,
                                   lrp_pass,
                                   deeplift_rescale<vjp_pointwise<OpType::kHardSigmoid>>};
extern const OpDef kHardSwishDef{"HardSwish",
                                 infer_unary,
                                 forward_pointwise<OpType::kHardSwish>,
                                 vjp_pointwise<OpType::kHardSwish>,
                                 lrp_pass,
                                 deeplift_rescale<vjp_pointwise<OpType::kHardSwish>>};
extern const OpDef kReluDef{"Relu",
                            infer_unary,
                            forward<Activation::kRelu>,
                            vjp<Activation::kRelu>,
                            lrp_pass,
                            deeplift_rescale<vjp<Activation::kRelu>>,
                            vjp_reads_inputs};
extern const OpDef kRelu6Def{"Relu6",
                             infer_unary,
                             forward<Activation::kRelu6>,
                             vjp<Activation::kRelu6>,
                             lrp_pass,
                             deeplift_rescale<vjp<Activation::kRelu6>>,
                             vjp_reads_inputs};
extern const OpDef kEluDef{"Elu",
                           infer_unary,
                           forward<Activation::kElu>,
                           vjp<Activation::kElu>,
                           lrp_pass,
                           deeplift_rescale<vjp<Activation::kElu>>,
                           vjp_reads_inputs};
extern const OpDef kLeakyReluDef{"LeakyRelu",
                                 infer_unary,
                                 forward<Activation::kLeakyRelu>,
                                 vjp<Activation::kLeakyRelu>,
                                 lrp_pass,
                                 deeplift_rescale<vjp<Activation::kLeakyRelu>>,
                                 vjp_reads_inputs};
extern const OpDef kSigmoidDef{"Sigmoid",
                               infer_unary,
                               forward<Activation::kSigmoid>,
                               vjp<Activation::kSigmoid>,
                               lrp_pass,
                               deeplift_rescale<vjp<Activation::kSigmoid>>,
                               vjp_reads_output};
extern const OpDef kSiluDef{"Silu",          infer_unary, forward_silu,
                            vjp_silu,        lrp_pass,    deeplift_rescale<vjp_silu>,
                            vjp_reads_inputs};
extern const OpDef kTanhDef{"Tanh",
                            infer_unary,
                            forward<Activation::kTanh>,
                            vjp<Activation::kTanh>,
                            lrp_pass,
                            deeplift_rescale<vjp<Activation::kTanh>>,
                            vjp_reads_output};
extern const OpDef kPreluDef{"Prelu",   infer_prelu, forward_prelu,
                             vjp_prelu, lrp_pass,    deeplift_rescale<vjp_prelu>};

}  // namespace cnnlens
