// Add, Sub, Mul, Div: element-wise with NumPy broadcasting. VJPs reduce over broadcast axes.
#include <algorithm>
#include <array>
#include <vector>

#include "core/base/thread_pool.h"
#include "core/ops/op.h"

namespace cnnlens {
namespace {

enum class Bin { kAdd, kSub, kMul, kDiv };
constexpr std::string_view kNames[] = {"Add", "Sub", "Mul", "Div"};

bool broadcast(const Shape& a, const Shape& b, Shape& out) {
    const int r = std::max(a.rank(), b.rank());
    out = Shape();
    for (int i = 0; i < r; ++i) {
        const int ia = a.rank() - r + i, ib = b.rank() - r + i;
        const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1) return false;
        out.push_back(da == 1 ? db : da);
    }
    return true;
}

// Strides of `s` aligned to `out`'s rank, 0 on broadcast axes.
std::array<int64_t, kMaxRank> strides_for(const Shape& s, const Shape& out) {
    std::array<int64_t, kMaxRank> st{};
    int64_t stride = 1;
    for (int i = out.rank() - 1; i >= 0; --i) {
        const int is = s.rank() - out.rank() + i;
        const int64_t d = is >= 0 ? s[is] : 1;
        st[i] = d == 1 ? 0 : stride;
        stride *= d;
    }
    return st;
}

// Calls f(row, a_index, b_index) for rows [r0, r1) of the innermost axis of `out` (rank >= 1):
// the indices of each row's first element, the outer axes walked as an odometer, in order.
template <typename F>
void for_rows(const Shape& out, const std::array<int64_t, kMaxRank>& sa,
              const std::array<int64_t, kMaxRank>& sb, int64_t r0, int64_t r1, F&& f) {
    const int r = out.rank();
    std::array<int64_t, kMaxRank> idx{};
    int64_t ia = 0, ib = 0, rest = r0;
    for (int d = r - 2; d >= 0; --d) {
        idx[d] = rest % out[d];
        rest /= out[d];
        ia += idx[d] * sa[d];
        ib += idx[d] * sb[d];
    }
    for (int64_t row = r0; row < r1; ++row) {
        f(row, ia, ib);
        for (int d = r - 2; d >= 0; --d) {
            ia += sa[d];
            ib += sb[d];
            if (++idx[d] < out[d]) break;
            ia -= sa[d] * out[d];
            ib -= sb[d] * out[d];
            idx[d] = 0;
        }
    }
}

template <Bin kOp>
Status infer(std::string_view node, const OpAttrs&, std::span<const Shape> in, Shape& out) {
    const std::string who =
        std::string(kNames[static_cast<int>(kOp)]) + " node '" + std::string(node) + "'";
    if (in.size() != 2)
        return invalid_argument(who + ": expects 2 inputs, got " + std::to_string(in.size()));
    if (!broadcast(in[0], in[1], out))
        return invalid_argument(who + ": shapes " + in[0].str() + " and " + in[1].str() +
                                " do not broadcast");
    return Status::ok();
}

template <Bin kOp>
float apply(float a, float b) {
    if constexpr (kOp == Bin::kAdd) return a + b;
    if constexpr (kOp == Bin::kSub) return a - b;
    if constexpr (kOp == Bin::kMul) return a * b;
    return a / b;
}

// Elements per range of the pool's split: large layers split at batch 1.
constexpr int64_t kGrain = 1 << 14;

// o[i] = a[i * sa] op b[i * sb] for a row of the innermost axis, where each input's stride is 1
// or 0 (broadcast): one vectorized loop per case.
template <Bin kOp>
void apply_row(const float* __restrict a, int64_t sa, const float* __restrict b, int64_t sb,
               float* __restrict o, int64_t n) {
    if (sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; ++i) o[i] = apply<kOp>(a[i], b[i]);
    } else if (sa == 1) {
        const float v = b[0];
        for (int64_t i = 0; i < n; ++i) o[i] = apply<kOp>(a[i], v);
    } else if (sb == 1) {
        const float v = a[0];
        for (int64_t i = 0; i < n; ++i) o[i] = apply<kOp>(v, b[i]);
    } else {
        std::fill(o, o + n, apply<kOp>(a[0], b[0]));
    }
}

template <Bin kOp>
void forward(OpContext& c, Tensor& out) {
    const Tensor& a = *c.inputs[0];
    const Tensor& b = *c.inputs[1];
    float* o = out.data();
    const float *pa = a.data(), *pb = b.data();
    const int64_t n = out.size();
    if (a.shape() == out.shape() && b.shape() == out.shape()) {  // the common case
        parallel_for(n, kGrain, [&](int64_t i0, int64_t i1, int) {
            apply_row<kOp>(pa + i0, 1, pb + i0, 1, o + i0, i1 - i0);
        });
        return;
    }
    // Broadcast (a squeeze-and-excitation scale [N,1,1,C] over [N,H,W,C]): row by row of the
    // innermost axis.
    const Shape& os = out.shape();
    const auto sa = strides_for(a.shape(), os), sb = strides_for(b.shape(), os);
    const int64_t inner = os[os.rank() - 1], rows = n / std::max<int64_t>(inner, 1);
    const int64_t ia1 = sa[os.rank() - 1], ib1 = sb[os.rank() - 1];
    parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)),
                 [&](int64_t r0, int64_t r1, int) {
                     for_rows(os, sa, sb, r0, r1, [&](int64_t row, int64_t ia, int64_t ib) {
                         apply_row<kOp>(pa + ia, ia1, pb + ib, ib1, o + row * inner, inner);
                     });
                 });
}

// d out / d input k times g, where a and b are the two inputs' values at the element. Add and
// Sub read neither (the tape may have dropped them): callers pass 0 there (kReadsInputs).
template <Bin kOp>
constexpr bool kReadsInputs = kOp == Bin::kMul || kOp == Bin::kDiv;
template <Bin kOp>
inline float input_grad(int k, float g, float a, float b) {
    if constexpr (kOp == Bin::kAdd)
        return g;
    else if constexpr (kOp == Bin::kSub)
        return k == 0 ? g : -g;
    else if constexpr (kOp == Bin::kMul)
        return g * (k == 0 ? b : a);
    else
        return k == 0 ? g / b : -g * a / (b * b);
}

template <Bin kOp>
void vjp(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    const Tensor& a = *c.inputs[0];
    const Tensor& b = *c.inputs[1];
    const Shape& os = g.shape();
    const auto sa = strides_for(a.shape(), os), sb = strides_for(b.shape(), os);
    const float *pa = a.data(), *pb = b.data(), *pg = g.data();
    const bool same = a.shape() == os && b.shape() == os;
    for (int k = 0; k < 2; ++k) {
        Tensor* dst = gin[k];
        if (!dst) continue;
        if (same) {  // no broadcast (a residual connection): one vectorised pass
            float* __restrict pd = dst->data();
            const float* __restrict gg = pg;
            const float* __restrict ra = pa;
            const float* __restrict rb = pb;
            const bool add = acc[k];
            parallel_for(g.size(), kGrain, [&](int64_t i0, int64_t i1, int) {
                for (int64_t i = i0; i < i1; ++i) {
                    const float d = kReadsInputs<kOp> ? input_grad<kOp>(k, gg[i], ra[i], rb[i])
                                                      : input_grad<kOp>(k, gg[i], 0.f, 0.f);
                    pd[i] = add ? pd[i] + d : d;
                }
            });
            continue;
        }
        if (!acc[k]) dst->zero();
        float* pd = dst->data();
        // Row by row of the innermost axis, rows in order: an input broadcast over rows sums
        // their gradients in the order the element-wise walk would. Rows are split across the
        // pool only when every row writes its own elements.
        const int r = os.rank();
        const int64_t inner = os[r - 1], rows = g.size() / std::max<int64_t>(inner, 1);
        const int64_t ia1 = sa[r - 1], ib1 = sb[r - 1];
        const auto& sd = k == 0 ? sa : sb;
        bool shared = false;
        for (int d = 0; d < r - 1; ++d) shared |= sd[d] == 0 && os[d] > 1;
        auto rows_fn = [&](int64_t r0, int64_t r1, int) {
            for_rows(os, sa, sb, r0, r1, [&](int64_t row, int64_t ia, int64_t ib) {
                const float* gr = pg + row * inner;
                // Add and Sub form no pointers into input values (the tape may have dropped them).
                const float* ar = kReadsInputs<kOp> ? pa + ia : nullptr;
                const float* br = kReadsInputs<kOp> ? pb + ib : nullptr;
                float* dr = pd + (k == 0 ? ia : ib);
                const int64_t ds = k == 0 ? ia1 : ib1;
                for (int64_t j = 0; j < inner; ++j)
                    dr[j * ds] += kReadsInputs<kOp>
                                      ? input_grad<kOp>(k, gr[j], ar[j * ia1], br[j * ib1])
                                      : input_grad<kOp>(k, gr[j], 0.f, 0.f);
            });
        };
        if (shared)
            rows_fn(0, rows, 0);
        else
            parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), rows_fn);
    }
}

// LRP for Add and Sub: each operand keeps its share of the sum (Zennit's Norm rule on its Sum
// layer, the rule of residual connections); a constant operand (a bias) absorbs its own.
// Mul and Div by a constant scale relevance by (x c) / (x c): it passes on unchanged. A product
// or quotient of two activations has no conserving split and is refused.
template <Bin kOp>
Status lrp(OpContext& c, const Tensor& out, const Tensor& r, std::span<Tensor* const> r_in,
           std::span<const bool> acc, const LrpRule&) {
    if constexpr (kOp == Bin::kAdd || kOp == Bin::kSub) {
        return lrp_split(c, vjp<kOp>, out, r, r_in, acc);
    } else {
        const bool constant =
            kOp == Bin::kMul ? c.input_is_const[0] || c.input_is_const[1] : c.input_is_const[1];
        if (!constant)
            return unsupported("LRP has no rule for " + std::string(kNames[static_cast<int>(kOp)]) +
                               " (node '" + std::string(c.node_name) + "'): " +
                               (kOp == Bin::kMul ? "both factors are activations"
                                                 : "the divisor is an activation"));
        const int k = c.input_is_const[0] ? 1 : 0;
        if (!r_in[static_cast<size_t>(k)]) return Status::ok();
        const Tensor& x = *c.inputs[static_cast<size_t>(k)];
        if (x.shape() != r.shape())
            return unsupported("LRP has no rule for " + std::string(kNames[static_cast<int>(kOp)]) +
                               " (node '" + std::string(c.node_name) + "'): the activation " +
                               x.shape().str() + " is broadcast to " + r.shape().str());
        store_or_add(r_in[static_cast<size_t>(k)]->data(), r.data(), r.size(),
                     acc[static_cast<size_t>(k)]);
        return Status::ok();
    }
}

// DeepLIFT: Add and Sub are linear, and so are Mul and Div by a constant: the VJP. A product or
// quotient of two activations has no rescale rule (DeepLIFT's RevealCancel paper leaves
// multiplicative interactions open) and is refused.
template <Bin kOp>
Status deeplift(OpContext& c, const Tensor& out, const Tensor& m, std::span<Tensor* const> m_in,
                std::span<const bool> acc) {
    if constexpr (kOp == Bin::kMul || kOp == Bin::kDiv) {
        const bool constant =
            kOp == Bin::kMul ? c.input_is_const[0] || c.input_is_const[1] : c.input_is_const[1];
        if (!constant)
            return unsupported("DeepLIFT has no rule for " +
                               std::string(kNames[static_cast<int>(kOp)]) + " (node '" +
                               std::string(c.node_name) + "'): " +
                               (kOp == Bin::kMul ? "both factors are activations"
                                                 : "the divisor is an activation"));
    }
    vjp<kOp>(c, out, m, m_in, acc, ReluRule::kStandard);
    return Status::ok();
}

}  // namespace

// Add's and Sub's VJPs read only their inputs' shapes.
extern const OpDef kAddDef{"Add",          infer<Bin::kAdd>,    forward<Bin::kAdd>, vjp<Bin::kAdd>,
                           lrp<Bin::kAdd>, deeplift<Bin::kAdd>, vjp_reads_nothing};
extern const OpDef kSubDef{"Sub",          infer<Bin::kSub>,    forward<Bin::kSub>, vjp<Bin::kSub>,
                           lrp<Bin::kSub>, deeplift<Bin::kSub>, vjp_reads_nothing};
// Mul's and Div's read both inputs, never the output.
extern const OpDef kMulDef{"Mul",          infer<Bin::kMul>,    forward<Bin::kMul>, vjp<Bin::kMul>,
                           lrp<Bin::kMul>, deeplift<Bin::kMul>, vjp_reads_inputs};
extern const OpDef kDivDef{"Div",          infer<Bin::kDiv>,    forward<Bin::kDiv>, vjp<Bin::kDiv>,
                           lrp<Bin::kDiv>, deeplift<Bin::kDiv>, vjp_reads_inputs};

}  // namespace cnnlens
