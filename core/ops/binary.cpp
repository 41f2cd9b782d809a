// Add, Sub, Mul, Div: element-wise with NumPy broadcasting. VJPs reduce over broadcast axes.
#include <algorithm>
#include <array>
#include <vector>

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

// Calls f(out_index, a_index, b_index) for every output element.
template <typename F>
void for_each(const Shape& out, const std::array<int64_t, kMaxRank>& sa,
              const std::array<int64_t, kMaxRank>& sb, F&& f) {
    const int r = out.rank();
    std::array<int64_t, kMaxRank> idx{};
    int64_t ia = 0, ib = 0;
    const int64_t n = out.elements();
    for (int64_t o = 0; o < n; ++o) {
        f(o, ia, ib);
        for (int d = r - 1; d >= 0; --d) {
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

template <Bin kOp>
void forward(OpContext& c, Tensor& out) {
    const Tensor& a = *c.inputs[0];
    const Tensor& b = *c.inputs[1];
    float* __restrict o = out.data();
    const float* __restrict pa = a.data(), * __restrict pb = b.data();
    const int64_t n = out.size();
    if (a.shape() == out.shape() &&
        b.shape() == out.shape()) {  // the common case: a vectorised loop
        for (int64_t i = 0; i < n; ++i) o[i] = apply<kOp>(pa[i], pb[i]);
        return;
    }
    for_each(out.shape(), strides_for(a.shape(), out.shape()), strides_for(b.shape(), out.shape()),
             [&](int64_t i, int64_t ia, int64_t ib) { o[i] = apply<kOp>(pa[ia], pb[ib]); });
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
            const float* __restrict other = k == 0 ? pb : pa;
            const float* __restrict self = k == 0 ? pa : pb;
            const int64_t n = g.size();
            const bool add = acc[k];
            for (int64_t i = 0; i < n; ++i) {
                float d;
                if constexpr (kOp == Bin::kAdd)
                    d = gg[i];
                else if constexpr (kOp == Bin::kSub)
                    d = k == 0 ? gg[i] : -gg[i];
                else if constexpr (kOp == Bin::kMul)
                    d = gg[i] * other[i];
                else
                    d = k == 0 ? gg[i] / other[i] : -gg[i] * other[i] / (self[i] * self[i]);
                pd[i] = add ? pd[i] + d : d;
            }
            continue;
        }
        if (!acc[k]) dst->zero();
        float* pd = dst->data();
        for_each(os, sa, sb, [&](int64_t i, int64_t ia, int64_t ib) {
            float d;
            if constexpr (kOp == Bin::kAdd)
                d = pg[i];
            else if constexpr (kOp == Bin::kSub)
                d = k == 0 ? pg[i] : -pg[i];
            else if constexpr (kOp == Bin::kMul)
                d = pg[i] * (k == 0 ? pb[ib] : pa[ia]);
            else
                d = k == 0 ? pg[i] / pb[ib] : -pg[i] * pa[ia] / (pb[ib] * pb[ib]);
            pd[k == 0 ? ia : ib] += d;
        });
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
