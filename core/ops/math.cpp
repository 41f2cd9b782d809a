// Element-wise math of ONNX graphs: Erf, Sqrt, Exp, Log, Neg, Pow (constant exponent). They
// share one shape rule and one loop shape, so they live together like binary.cpp's four ops.
// Erf and Pow carry GELU and LayerNorm decompositions exported by PyTorch.
#include <cmath>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

enum class Fn { kErf, kSqrt, kExp, kLog, kNeg, kPow };

Status infer(std::string_view node, const OpAttrs&, std::span<const Shape> in, Shape& out) {
    if (in.size() != 1)
        return invalid_argument("node '" + std::string(node) + "': expects 1 input, got " +
                                std::to_string(in.size()));
    out = in[0];
    return Status::ok();
}

float exponent_of(const OpAttrs& a) {
    const auto* p = std::get_if<PowAttrs>(&a);
    return p ? p->exponent : 1.f;
}

template <Fn kFn>
void forward(OpContext& c, Tensor& out) {
    const float* __restrict x = c.inputs[0]->data();
    float* __restrict y = out.data();
    const int64_t n = out.size();
    const float e = exponent_of(c.attrs);
    for (int64_t i = 0; i < n; ++i) {
        if constexpr (kFn == Fn::kErf)
            y[i] = std::erf(x[i]);
        else if constexpr (kFn == Fn::kSqrt)
            y[i] = std::sqrt(x[i]);
        else if constexpr (kFn == Fn::kExp)
            y[i] = std::exp(x[i]);
        else if constexpr (kFn == Fn::kLog)
            y[i] = std::log(x[i]);
        else if constexpr (kFn == Fn::kNeg)
            y[i] = -x[i];
        else
            y[i] = e == 2.f ? x[i] * x[i]
                            : std::pow(x[i], e);  // x*x is what PyTorch computes for x**2
    }
}

template <Fn kFn>
void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    const float* __restrict x = c.inputs[0]->data();
    const float* __restrict y = out.data();
    const float* __restrict gp = g.data();
    float* __restrict d = gin[0]->data();
    const int64_t n = g.size();
    const bool add = acc[0];
    const float e = exponent_of(c.attrs);
    constexpr float kTwoOverSqrtPi = 1.1283791670955126f;
    for (int64_t i = 0; i < n; ++i) {
        float v;
        if constexpr (kFn == Fn::kErf)
            v = gp[i] * kTwoOverSqrtPi * std::exp(-x[i] * x[i]);
        else if constexpr (kFn == Fn::kSqrt)
            v = gp[i] * 0.5f / y[i];
        else if constexpr (kFn == Fn::kExp)
            v = gp[i] * y[i];
        else if constexpr (kFn == Fn::kLog)
            v = gp[i] / x[i];
        else if constexpr (kFn == Fn::kNeg)
            v = -gp[i];
        else
            v = gp[i] * (e == 2.f ? 2.f * x[i] : e * std::pow(x[i], e - 1.f));
        d[i] = add ? d[i] + v : v;
    }
}

}  // namespace

// No LRP rule for these element-wise functions but Neg (y = -x passes relevance on): they are no
// activations, and appear inside products (GELU, normalisation) that have none. DeepLIFT's
// rescale rule holds for any element-wise function.
extern const OpDef kErfDef{"Erf",         infer,   forward<Fn::kErf>,
                           vjp<Fn::kErf>, nullptr, deeplift_rescale<vjp<Fn::kErf>>};
extern const OpDef kSqrtDef{"Sqrt",         infer,   forward<Fn::kSqrt>,
                            vjp<Fn::kSqrt>, nullptr, deeplift_rescale<vjp<Fn::kSqrt>>};
extern const OpDef kExpDef{"Exp",         infer,   forward<Fn::kExp>,
                           vjp<Fn::kExp>, nullptr, deeplift_rescale<vjp<Fn::kExp>>};
extern const OpDef kLogDef{"Log",         infer,   forward<Fn::kLog>,
                           vjp<Fn::kLog>, nullptr, deeplift_rescale<vjp<Fn::kLog>>};
extern const OpDef kNegDef{"Neg",         infer,    forward<Fn::kNeg>,
                           vjp<Fn::kNeg>, lrp_pass, deeplift_rescale<vjp<Fn::kNeg>>};
extern const OpDef kPowDef{"Pow",         infer,   forward<Fn::kPow>,
                           vjp<Fn::kPow>, nullptr, deeplift_rescale<vjp<Fn::kPow>>};

}  // namespace cnnlens
