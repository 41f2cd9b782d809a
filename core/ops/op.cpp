// The op registry (driven by op_list.inc) and helpers shared by op implementations.
#include "core/ops/op.h"

#include <algorithm>
#include <cmath>

#include "core/base/thread_pool.h"

namespace cnnlens {

#define X(name) extern const OpDef k##name##Def;
#include "core/ops/op_list.inc"
#undef X

namespace {
const OpDef* const kDefs[] = {
#define X(name) &k##name##Def,
#include "core/ops/op_list.inc"
#undef X
};
}  // namespace

const OpDef& op_def(OpType t) { return *kDefs[static_cast<int>(t)]; }
std::string_view op_name(OpType t) { return op_def(t).name; }

bool op_from_name(std::string_view name, OpType& out) {
    for (int i = 0; i < kOpCount; ++i)
        if (kDefs[i]->name == name) { out = static_cast<OpType>(i); return true; }
    return false;
}

bool resolve_padding(PaddingMode mode, int in, int kernel, int stride, int dilation, int eb, int ea, int& out,
                     int& before, int& after) {
    const int span = (kernel - 1) * dilation + 1;
    if (stride < 1 || kernel < 1 || dilation < 1 || in < 1) return false;
    switch (mode) {
        case PaddingMode::kValid:
            before = after = 0;
            out = in >= span ? (in - span) / stride + 1 : 0;
            break;
        case PaddingMode::kSame: {
            out = (in + stride - 1) / stride;
            const int total = std::max((out - 1) * stride + span - in, 0);
            before = total / 2;
            after = total - before;
            break;
        }
        case PaddingMode::kExplicit:
            before = eb; after = ea;
            if (eb < 0 || ea < 0) return false;
            out = in + eb + ea >= span ? (in + eb + ea - span) / stride + 1 : 0;
            break;
    }
    return out >= 1;
}

namespace {

// Element-wise passes over at least this many floats are split across the kernel threads (each
// element is computed the same way whichever thread runs it).
constexpr int64_t kElementwiseGrain = 1 << 14;

void activation_backward_range(Activation a, float alpha, ReluRule rule, const float* y, const float* g, float* gp,
                               int64_t n) {
    switch (a) {
        case Activation::kNone: std::copy(g, g + n, gp); return;
        case Activation::kRelu:
        case Activation::kRelu6: {
            // One branch-free loop per rule, so the compiler vectorises each (this runs on every
            // fused ReLU of every backward pass).
            const float hi = a == Activation::kRelu6 ? 6.f : INFINITY;
            switch (rule) {
                case ReluRule::kStandard:
                    for (int64_t i = 0; i < n; ++i) {
                        const float v = g[i];
                        gp[i] = ((y[i] > 0.f) & (y[i] < hi)) ? v : 0.f;
                    }
                    return;
                case ReluRule::kGuided:
                    for (int64_t i = 0; i < n; ++i) gp[i] = ((y[i] > 0.f) & (y[i] < hi) & (g[i] > 0.f)) ? g[i] : 0.f;
                    return;
                case ReluRule::kDeconvnet:
                    for (int64_t i = 0; i < n; ++i) gp[i] = g[i] > 0.f ? g[i] : 0.f;
                    return;
            }
            return;
        }
        case Activation::kElu: for (int64_t i = 0; i < n; ++i) gp[i] = y[i] > 0.f ? g[i] : g[i] * (y[i] + 1.f); return;
        case Activation::kLeakyRelu: for (int64_t i = 0; i < n; ++i) gp[i] = y[i] > 0.f ? g[i] : g[i] * alpha; return;
        case Activation::kSigmoid: for (int64_t i = 0; i < n; ++i) gp[i] = g[i] * y[i] * (1.f - y[i]); return;
        case Activation::kTanh: for (int64_t i = 0; i < n; ++i) gp[i] = g[i] * (1.f - y[i] * y[i]); return;
    }
}

}  // namespace

void activation_backward(Activation a, float alpha, ReluRule rule, const float* y, const float* g, float* gp,
                         int64_t n) {
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e, int) {
        activation_backward_range(a, alpha, rule, y + b, g + b, gp + b, e - b);
    });
}

const float* fused_activation_grad(OpContext& c, Activation a, float alpha, ReluRule rule, const Tensor& out, const Tensor& g) {
    if (a == Activation::kNone) return g.data();
    // In place when allowed: one buffer less in cache on the backward sweep.
    float* dst = c.spent_grad;
    if (!dst) {
        c.state.scratch.reset(g.shape());
        dst = c.state.scratch.data();
    }
    activation_backward(a, alpha, rule, out.data(), g.data(), dst, g.size());
    return dst;
}

void store_or_add(float* dst, const float* src, int64_t n, bool accumulate) {
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e, int) {
        if (accumulate) for (int64_t i = b; i < e; ++i) dst[i] += src[i];
        else std::copy(src + b, src + e, dst + b);
    });
}

}  // namespace cnnlens
