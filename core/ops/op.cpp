// The op registry (driven by op_list.inc) and helpers shared by op implementations.
#include "core/ops/op.h"

#include <algorithm>
#include <cmath>
#include <memory>

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
        if (kDefs[i]->name == name) {
            out = static_cast<OpType>(i);
            return true;
        }
    return false;
}

bool resolve_padding(PaddingMode mode, int in, int kernel, int stride, int dilation, int eb, int ea,
                     int& out, int& before, int& after) {
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
            before = eb;
            after = ea;
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

// kInPlace: g is gp (a layer's own output gradient, overwritten). Spelled as one pointer, so
// compilers vectorize it: with two that may overlap, their runtime overlap check sends the
// in-place call to the scalar loop (a quarter of a wasm gradient on mobilenet_v2).
template <bool kInPlace>
void activation_backward_range(Activation a, float alpha, ReluRule rule, const float* y,
                               const float* g_in, float* gp, int64_t n) {
    const float* g = kInPlace ? gp : g_in;
    switch (a) {
        case Activation::kNone:
            if (!kInPlace) std::copy(g, g + n, gp);
            return;
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
                case ReluRule::kGuided:  // g[i] loaded outside the condition: LLVM 14's wasm
                                         // target leaves a conditional load scalar
                    for (int64_t i = 0; i < n; ++i) {
                        const float v = g[i];
                        gp[i] = ((y[i] > 0.f) & (y[i] < hi) & (v > 0.f)) ? v : 0.f;
                    }
                    return;
                case ReluRule::kDeconvnet:
                    for (int64_t i = 0; i < n; ++i) {
                        const float v = g[i];
                        gp[i] = v > 0.f ? v : 0.f;
                    }
                    return;
            }
            return;
        }
        case Activation::kElu:
            for (int64_t i = 0; i < n; ++i) gp[i] = y[i] > 0.f ? g[i] : g[i] * (y[i] + 1.f);
            return;
        case Activation::kLeakyRelu:
            for (int64_t i = 0; i < n; ++i) gp[i] = y[i] > 0.f ? g[i] : g[i] * alpha;
            return;
        case Activation::kSigmoid:
            for (int64_t i = 0; i < n; ++i) gp[i] = g[i] * y[i] * (1.f - y[i]);
            return;
        case Activation::kTanh:
            for (int64_t i = 0; i < n; ++i) gp[i] = g[i] * (1.f - y[i] * y[i]);
            return;
    }
}

}  // namespace

void activation_backward(Activation a, float alpha, ReluRule rule, const float* y, const float* g,
                         float* gp, int64_t n) {
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e, int) {
        if (g == gp)
            activation_backward_range<true>(a, alpha, rule, y + b, gp + b, gp + b, e - b);
        else
            activation_backward_range<false>(a, alpha, rule, y + b, g + b, gp + b, e - b);
    });
}

const float* fused_activation_grad(OpContext& c, Activation a, float alpha, ReluRule rule,
                                   const Tensor& out, const Tensor& g) {
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
        if (accumulate)
            for (int64_t i = b; i < e; ++i) dst[i] += src[i];
        else
            std::copy(src + b, src + e, dst + b);
    });
}

Status lrp_pass(OpContext&, const Tensor&, const Tensor& r, std::span<Tensor* const> r_in,
                std::span<const bool> accumulate, const LrpRule&) {
    if (r_in[0]) store_or_add(r_in[0]->data(), r.data(), r.size(), accumulate[0]);
    return Status::ok();
}

namespace {

// Zennit's stabilize(): z + eps * sign(z), zero counting as positive. With eps == 0 (LRP-0) a
// zero denominator gives zero: such an output carries no relevance to share.
inline float lrp_ratio(float r, float z, float eps) {
    const float d = z + (z >= 0.f ? eps : -eps);
    return d == 0.f ? 0.f : r / d;
}

}  // namespace

Status lrp_split(OpContext& c, VjpFn vjp, const Tensor& out, const Tensor& r,
                 std::span<Tensor* const> r_in, std::span<const bool> accumulate) {
    const size_t m = r_in.size();
    std::vector<Tensor>& scratch = c.state.lrp_scratch;
    scratch.resize(m + 1);
    Tensor& s = scratch[m];
    s.reset(r.shape());
    for (int64_t i = 0; i < r.size(); ++i) s[i] = lrp_ratio(r[i], out[i], kLrpStabilizer);
    std::span<Tensor> g(scratch.data(), m);
    std::vector<Tensor*> gp(m, nullptr);
    std::unique_ptr<bool[]> fresh(new bool[m]());
    for (size_t k = 0; k < m; ++k)
        if (r_in[k]) g[k].reset(r_in[k]->shape()), gp[k] = &g[k];
    vjp(c, out, s, gp, {fresh.get(), m}, ReluRule::kStandard);
    for (size_t k = 0; k < m; ++k) {
        if (!r_in[k]) continue;
        const Tensor& x = *c.inputs[k];
        float* d = r_in[k]->data();
        for (int64_t i = 0; i < x.size(); ++i) {
            const float v = x[i] * g[k][i];
            d[i] = accumulate[k] ? d[i] + v : v;
        }
    }
    return Status::ok();
}

namespace {

// One modified forward of an op with weights: input `in` through parameter set `param`, added
// to its group's denominator with `sign`.
enum class LrpInput { kX, kPositive, kNegative, kOnes, kLow, kHigh };
struct LrpTerm {
    LrpInput in;
    int param;
    float sign;
    int group;
};
// A group's denominator is the signed sum of its terms; its relevance share is scaled by
// `coef`, and only outputs whose unmodified z has sign `mask` (0: any) take part.
struct LrpGroup {
    float coef;
    int mask;
};
// Parameter sets: how the weights and the bias are modified.
enum class LrpParam {
    kSame,
    kPositive,
    kNegative,
    kZero,
    kOnes,
    kSquare,
    kGammaPositive,
    kGammaNegative
};
struct LrpParamSet {
    LrpParam w, b;
};
struct LrpPlan {
    std::vector<LrpParamSet> params;
    std::vector<LrpTerm> terms;
    std::vector<LrpGroup> groups;
    int plain = -1;  // parameter set whose z on x gives the groups' masks (-1: none needed)
    float eps = kLrpStabilizer;
};

LrpPlan lrp_plan(const LrpRule& rule) {
    using P = LrpParam;
    using I = LrpInput;
    LrpPlan p;
    switch (rule.kind) {
        case LrpRule::Kind::kEpsilon:
            p.params = {{P::kSame, P::kSame}};
            p.terms = {{I::kX, 0, 1.f, 0}};
            p.groups = {{1.f, 0}};
            p.eps = rule.epsilon;
            break;
        case LrpRule::Kind::kAlphaBeta:
            p.params = {{P::kPositive, P::kPositive},
                        {P::kNegative, P::kZero},
                        {P::kNegative, P::kNegative},
                        {P::kPositive, P::kZero}};
            p.terms = {{I::kPositive, 0, 1.f, 0}, {I::kNegative, 1, 1.f, 0}};
            p.groups = {{rule.alpha, 0}};
            if (rule.beta != 0.f) {
                p.terms.push_back({I::kPositive, 2, 1.f, 1});
                p.terms.push_back({I::kNegative, 3, 1.f, 1});
                p.groups.push_back({-rule.beta, 0});
            }
            break;
        case LrpRule::Kind::kGamma:
            p.params = {{P::kGammaPositive, P::kGammaPositive},
                        {P::kGammaNegative, P::kZero},
                        {P::kGammaNegative, P::kGammaNegative},
                        {P::kGammaPositive, P::kZero},
                        {P::kSame, P::kSame}};
            p.terms = {{I::kPositive, 0, 1.f, 0},
                       {I::kNegative, 1, 1.f, 0},
                       {I::kPositive, 2, 1.f, 1},
                       {I::kNegative, 3, 1.f, 1}};
            p.groups = {{1.f, 1}, {1.f, -1}};
            p.plain = 4;
            break;
        case LrpRule::Kind::kFlat:
            p.params = {{P::kOnes, P::kZero}};
            p.terms = {{I::kOnes, 0, 1.f, 0}};
            p.groups = {{1.f, 0}};
            break;
        case LrpRule::Kind::kWSquare:
            p.params = {{P::kSquare, P::kSquare}};
            p.terms = {{I::kOnes, 0, 1.f, 0}};
            p.groups = {{1.f, 0}};
            break;
        case LrpRule::Kind::kZBox:
            p.params = {
                {P::kSame, P::kSame}, {P::kPositive, P::kPositive}, {P::kNegative, P::kNegative}};
            p.terms = {{I::kX, 0, 1.f, 0}, {I::kLow, 1, -1.f, 0}, {I::kHigh, 2, -1.f, 0}};
            p.groups = {{1.f, 0}};
            break;
    }
    return p;
}

float modify(LrpParam m, float v, float gamma) {
    switch (m) {
        case LrpParam::kSame:
            return v;
        case LrpParam::kPositive:
            return std::max(v, 0.f);
        case LrpParam::kNegative:
            return std::min(v, 0.f);
        case LrpParam::kZero:
            return 0.f;
        case LrpParam::kOnes:
            return 1.f;
        case LrpParam::kSquare:
            return v * v;
        case LrpParam::kGammaPositive:
            return v + gamma * std::max(v, 0.f);
        case LrpParam::kGammaNegative:
            return v + gamma * std::min(v, 0.f);
    }
    return v;
}

std::string rule_key(const LrpRule& rule) {
    return std::to_string(static_cast<int>(rule.kind)) + "/" + std::to_string(rule.gamma);
}

}  // namespace

Status lrp_weighted(OpContext& c, const OpAttrs& plain, ForwardFn forward, VjpFn vjp,
                    const Tensor& r, Tensor& r_in, bool accumulate, const LrpRule& rule) {
    const Tensor& x = *c.inputs[0];
    const Tensor& w = *c.inputs[1];
    const Tensor* b = c.inputs.size() > 2 ? c.inputs[2] : nullptr;
    const LrpPlan plan = lrp_plan(rule);
    if (rule.kind == LrpRule::Kind::kZBox &&
        (rule.low.empty() || rule.high.size() != rule.low.size()))
        return invalid_argument("LRP z-box rule at node '" + std::string(c.node_name) +
                                "': the input bounds are missing");
    const std::string key = rule_key(rule);
    if (c.state.lrp_key != key || c.state.lrp_params.size() != 2 * plan.params.size()) {
        c.state.lrp_params.clear();
        c.state.lrp_states.clear();
        for (const LrpParamSet& ps : plan.params) {
            Tensor mw(w.shape());
            for (int64_t i = 0; i < w.size(); ++i) mw[i] = modify(ps.w, w[i], rule.gamma);
            Tensor mb;
            if (b && ps.b != LrpParam::kZero) {
                mb.reset(b->shape());
                for (int64_t i = 0; i < b->size(); ++i) mb[i] = modify(ps.b, (*b)[i], rule.gamma);
            }
            c.state.lrp_params.push_back(std::move(mw));
            c.state.lrp_params.push_back(std::move(mb));
        }
        c.state.lrp_states.resize(plan.params.size());
        c.state.lrp_key = key;
    }
    auto modified_input = [&](LrpInput in, Tensor& t) {
        t.reset(x.shape());
        const int64_t n = x.size(), nb = static_cast<int64_t>(rule.low.size());
        const float* px = x.data();
        float* pt = t.data();
        switch (in) {
            case LrpInput::kX:
                std::copy(px, px + n, pt);
                break;
            case LrpInput::kPositive:
                for (int64_t i = 0; i < n; ++i) pt[i] = std::max(px[i], 0.f);
                break;
            case LrpInput::kNegative:
                for (int64_t i = 0; i < n; ++i) pt[i] = std::min(px[i], 0.f);
                break;
            case LrpInput::kOnes:
                std::fill(pt, pt + n, 1.f);
                break;
            case LrpInput::kLow:
                for (int64_t i = 0; i < n; ++i) pt[i] = rule.low[static_cast<size_t>(i % nb)];
                break;
            case LrpInput::kHigh:
                for (int64_t i = 0; i < n; ++i) pt[i] = rule.high[static_cast<size_t>(i % nb)];
                break;
        }
    };
    const bool is_const[3] = {false, true, true};
    auto context = [&](int param, const Tensor& in, const Tensor** ins) {
        ins[0] = &in;
        ins[1] = &c.state.lrp_params[static_cast<size_t>(2 * param)];
        const Tensor& mb = c.state.lrp_params[static_cast<size_t>(2 * param + 1)];
        const size_t n = mb.empty() ? 2 : 3;
        ins[2] = n == 3 ? &mb : nullptr;
        return OpContext{c.node_name,   plain,     {ins, n},
                         {is_const, n}, c.kernels, c.state.lrp_states[static_cast<size_t>(param)]};
    };

    // Denominators per group, and the sign of the unmodified z where a group needs it.
    const size_t groups = plan.groups.size(), terms = plan.terms.size();
    std::vector<Tensor>& scratch = c.state.lrp_scratch;
    scratch.resize(terms + 2 * groups + 4);
    std::span<Tensor> inputs(scratch.data(), terms), den(scratch.data() + terms, groups),
        s(scratch.data() + terms + groups, groups);
    Tensor& z = scratch[terms + 2 * groups];
    Tensor& plain_z = scratch[terms + 2 * groups + 1];
    Tensor& sum = scratch[terms + 2 * groups + 2];
    Tensor& grad = scratch[terms + 2 * groups + 3];
    for (Tensor& d : den) d.reset(r.shape()), d.zero();
    z.reset(r.shape());
    // A term whose input is all zero (x- after a ReLU) and that has no bias adds nothing: skipped,
    // which halves the work of z+, αβ and γ on every layer after a ReLU.
    std::vector<char> skip(plan.terms.size(), 0);
    for (size_t t = 0; t < plan.terms.size(); ++t) {
        const LrpTerm& term = plan.terms[t];
        modified_input(term.in, inputs[t]);
        const Tensor& in = inputs[t];
        skip[t] = c.state.lrp_params[static_cast<size_t>(2 * term.param + 1)].empty() &&
                  std::all_of(in.data(), in.data() + in.size(), [](float v) { return v == 0.f; });
        if (skip[t]) continue;
        const Tensor* ins[3];
        OpContext tc = context(term.param, inputs[t], ins);
        forward(tc, z);
        float* d = den[static_cast<size_t>(term.group)].data();
        const float* pz = z.data();
        for (int64_t i = 0; i < z.size(); ++i) d[i] += term.sign * pz[i];
    }
    if (plan.plain >= 0) {
        plain_z.reset(r.shape());
        const Tensor* ins[3];
        OpContext tc = context(plan.plain, x, ins);
        forward(tc, plain_z);
    }
    for (size_t g = 0; g < groups; ++g) {
        s[g].reset(r.shape());
        const int mask = plan.groups[g].mask;
        float* ps = s[g].data();
        const float *pr = r.data(), *pd = den[g].data();
        if (mask == 0) {
            for (int64_t i = 0; i < r.size(); ++i) ps[i] = lrp_ratio(pr[i], pd[i], plan.eps);
        } else {
            const float* pz = plain_z.data();
            for (int64_t i = 0; i < r.size(); ++i)
                ps[i] = (mask > 0 ? pz[i] > 0.f : pz[i] < 0.f) ? lrp_ratio(pr[i], pd[i], plan.eps)
                                                               : 0.f;
        }
    }
    sum.reset(x.shape());
    sum.zero();
    grad.reset(x.shape());
    for (size_t t = 0; t < plan.terms.size(); ++t) {
        if (skip[t]) continue;
        const LrpTerm& term = plan.terms[t];
        const Tensor* ins[3];
        OpContext tc = context(term.param, inputs[t], ins);
        Tensor* gp[3] = {&grad, nullptr, nullptr};
        const bool fresh[3] = {false, false, false};
        vjp(tc, z, s[static_cast<size_t>(term.group)], {gp, tc.inputs.size()},
            {fresh, tc.inputs.size()}, ReluRule::kStandard);
        const float k = term.sign * plan.groups[static_cast<size_t>(term.group)].coef;
        const float *pin = inputs[t].data(), *pg = grad.data();
        float* ps = sum.data();
        for (int64_t i = 0; i < sum.size(); ++i) ps[i] += k * pin[i] * pg[i];
    }
    store_or_add(r_in.data(), sum.data(), sum.size(), accumulate);
    return Status::ok();
}

namespace {

// The k-th per-call buffer of a DeepLIFT rule, shaped `s` (contents garbage). It lives in the
// op's lrp_scratch: LRP and DeepLIFT never share a sweep, and kept buffers spare the page faults
// that fresh ones cost on every call.
Tensor& deeplift_buffer(OpState& st, size_t k, const Shape& s) {
    // Sized for every rule's buffers at once: growing it later would move the ones handed out.
    if (st.lrp_scratch.size() < 4) st.lrp_scratch.resize(4);
    st.lrp_scratch[k].reset(s);
    return st.lrp_scratch[k];
}

// m_in = m's derivative-based value (d, from the VJP) replaced by m * dy / dx where the input and
// its reference differ; rows [n, 2n) zero.
void rescale_rows(const float* x, const float* y, const float* m, const float* d, float* dst,
                  int64_t half) {
    parallel_for(half, kElementwiseGrain, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) {
            const float dx = x[i] - x[i + half];
            dst[i] = std::fabs(dx) < kDeepLiftEpsilon ? d[i] : m[i] * ((y[i] - y[i + half]) / dx);
        }
    });
    std::fill(dst + half, dst + 2 * half, 0.f);
}

}  // namespace

Status deeplift_rescale(OpContext& c, VjpFn vjp, const Tensor& out, const Tensor& m, Tensor& m_in,
                        bool accumulate) {
    const Tensor& x = *c.inputs[0];
    if (x.shape() != out.shape())
        return unsupported("DeepLIFT: node '" + std::string(c.node_name) +
                           "' broadcasts its input " + x.shape().str() + " to " +
                           out.shape().str() + "; the rescale rule needs one output per input");
    Tensor& d = deeplift_buffer(c.state, 0, x.shape());
    // Only input 0 gets a gradient: the others (Prelu's alpha, Pow's exponent) are constants.
    Tensor* dp[3] = {&d, nullptr, nullptr};
    const bool fresh[3] = {false, false, false};
    const size_t k = std::min<size_t>(c.inputs.size(), 3);
    vjp(c, out, m, {dp, k}, {fresh, k}, ReluRule::kStandard);
    Tensor& r = deeplift_buffer(c.state, 1, x.shape());
    rescale_rows(x.data(), out.data(), m.data(), d.data(), r.data(), x.size() / 2);
    store_or_add(m_in.data(), r.data(), r.size(), accumulate);
    return Status::ok();
}

Status deeplift_fused(OpContext& c, const OpAttrs& plain, ForwardFn forward, VjpFn vjp,
                      Activation a, float alpha, const Tensor& out, const Tensor& m, Tensor& m_in,
                      bool accumulate) {
    Tensor* gp[3] = {&m_in, nullptr, nullptr};
    const bool acc[3] = {accumulate, false, false};
    const size_t k = std::min<size_t>(c.inputs.size(), 3);
    if (a == Activation::kNone) {
        vjp(c, out, m, {gp, k}, {acc, k}, ReluRule::kStandard);
        return Status::ok();
    }
    // The op without its activation runs on kernels of its own: c's are prepared with it.
    if (c.state.deeplift_plain.empty()) c.state.deeplift_plain.resize(1);
    OpContext pc{c.node_name,      plain,     c.inputs,
                 c.input_is_const, c.kernels, c.state.deeplift_plain[0]};
    Tensor& z = deeplift_buffer(c.state, 0, out.shape());
    Tensor& d = deeplift_buffer(c.state, 1, out.shape());
    Tensor& g = deeplift_buffer(c.state, 2, out.shape());
    forward(pc, z);
    activation_backward(a, alpha, ReluRule::kStandard, out.data(), m.data(), d.data(), m.size());
    rescale_rows(z.data(), out.data(), m.data(), d.data(), g.data(), m.size() / 2);
    vjp(pc, z, g, {gp, k}, {acc, k}, ReluRule::kStandard);
    return Status::ok();
}

}  // namespace cnnlens
