// BatchMatMul: a [..., M, K] x b [..., K, N] -> [..., M, N], both operands computed tensors (or
// one a constant), their leading axes broadcast as NumPy does. Attention's scores and weighted
// sums (ONNX MatMul of two activations) are this op; a Linear layer with constant weights is
// MatMul, which packs its weights once.
//
// The products are small (a transformer's heads: M, N ~ 50-200, K ~ 64) and are summed in
// double, so the result is rounded once: the tape holds the exact product, as it does for the
// convolutions, and results do not depend on the kernel set or the thread count.
#include <algorithm>
#include <array>
#include <vector>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

// The leading (batch) axes of the output and each operand's strides over them (0 where an
// operand broadcasts), in matrices.
struct Batches {
    Shape lead;
    std::array<int64_t, kMaxRank> sa{}, sb{};
    int64_t count = 1;
};

bool batches(const Shape& a, const Shape& b, Batches& out) {
    const int ra = a.rank() - 2, rb = b.rank() - 2, r = std::max(ra, rb);
    out.lead = Shape();
    for (int i = 0; i < r; ++i) {
        const int ia = ra - r + i, ib = rb - r + i;
        const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1) return false;
        out.lead.push_back(std::max(da, db));
    }
    int64_t st_a = 1, st_b = 1;
    for (int i = r - 1; i >= 0; --i) {
        const int ia = ra - r + i, ib = rb - r + i;
        const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        out.sa[static_cast<size_t>(i)] = da == 1 ? 0 : st_a;
        out.sb[static_cast<size_t>(i)] = db == 1 ? 0 : st_b;
        st_a *= da;
        st_b *= db;
    }
    out.count = 1;
    for (int i = 0; i < r; ++i) out.count *= out.lead[i];
    return true;
}

// Calls f(output matrix, a matrix, b matrix) for every batch, in order.
template <typename F>
void for_each_batch(const Batches& bt, F&& f) {
    const int r = bt.lead.rank();
    std::array<int64_t, kMaxRank> idx{};
    int64_t ia = 0, ib = 0;
    for (int64_t o = 0; o < bt.count; ++o) {
        f(o, ia, ib);
        for (int d = r - 1; d >= 0; --d) {
            ia += bt.sa[static_cast<size_t>(d)];
            ib += bt.sb[static_cast<size_t>(d)];
            if (++idx[static_cast<size_t>(d)] < bt.lead[d]) break;
            ia -= bt.sa[static_cast<size_t>(d)] * bt.lead[d];
            ib -= bt.sb[static_cast<size_t>(d)] * bt.lead[d];
            idx[static_cast<size_t>(d)] = 0;
        }
    }
}

Status infer(std::string_view node, const OpAttrs&, std::span<const Shape> in, Shape& out) {
    const std::string who = "BatchMatMul node '" + std::string(node) + "'";
    if (in.size() != 2)
        return invalid_argument(who + ": expects 2 inputs, got " + std::to_string(in.size()));
    if (in[0].rank() < 2 || in[1].rank() < 2)
        return invalid_argument(who + ": operands must have 2 axes or more, got " + in[0].str() +
                                " and " + in[1].str());
    if (in[0].dim(-1) != in[1].dim(-2))
        return invalid_argument(who + ": inner dimensions differ: " + in[0].str() + " x " +
                                in[1].str());
    Batches bt;
    if (!batches(in[0], in[1], bt))
        return invalid_argument(who + ": leading axes of " + in[0].str() + " and " + in[1].str() +
                                " do not broadcast");
    if (bt.lead.rank() + 2 > kMaxRank)
        return unsupported(who + ": the result has more than " + std::to_string(kMaxRank) +
                           " axes");
    out = bt.lead;
    out.push_back(in[0].dim(-2));
    out.push_back(in[1].dim(-1));
    return Status::ok();
}

void forward(OpContext& c, Tensor& out) {
    const Tensor& a = *c.inputs[0];
    const Tensor& b = *c.inputs[1];
    const int64_t m = a.shape().dim(-2), k = a.shape().dim(-1), n = b.shape().dim(-1);
    Batches bt;
    batches(a.shape(), b.shape(), bt);
    std::vector<double> row(static_cast<size_t>(n));
    for_each_batch(bt, [&](int64_t o, int64_t ia, int64_t ib) {
        const float* pa = a.data() + ia * m * k;
        const float* pb = b.data() + ib * k * n;
        float* po = out.data() + o * m * n;
        for (int64_t i = 0; i < m; ++i) {
            std::fill(row.begin(), row.end(), 0.0);
            for (int64_t p = 0; p < k; ++p) {
                const double av = pa[i * k + p];
                const float* br = pb + p * n;
                for (int64_t j = 0; j < n; ++j) row[static_cast<size_t>(j)] += av * br[j];
            }
            for (int64_t j = 0; j < n; ++j)
                po[i * n + j] = static_cast<float>(row[static_cast<size_t>(j)]);
        }
    });
}

// da = g b^T, db = a^T g, each summed over the batches where that operand broadcasts.
void vjp(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    const Tensor& a = *c.inputs[0];
    const Tensor& b = *c.inputs[1];
    const int64_t m = a.shape().dim(-2), k = a.shape().dim(-1), n = b.shape().dim(-1);
    Batches bt;
    batches(a.shape(), b.shape(), bt);
    // Sums in double per operand element, then one rounding (accumulating into gin when asked).
    std::vector<double> da(gin[0] ? static_cast<size_t>(a.size()) : 0),
        db(gin[1] ? static_cast<size_t>(b.size()) : 0);
    for_each_batch(bt, [&](int64_t o, int64_t ia, int64_t ib) {
        const float* pa = a.data() + ia * m * k;
        const float* pb = b.data() + ib * k * n;
        const float* pg = g.data() + o * m * n;
        if (gin[0]) {
            double* d = da.data() + ia * m * k;
            for (int64_t i = 0; i < m; ++i)
                for (int64_t p = 0; p < k; ++p) {
                    double s = 0.0;
                    for (int64_t j = 0; j < n; ++j)
                        s += static_cast<double>(pg[i * n + j]) * pb[p * n + j];
                    d[i * k + p] += s;
                }
        }
        if (gin[1]) {
            double* d = db.data() + ib * k * n;
            for (int64_t i = 0; i < m; ++i)
                for (int64_t p = 0; p < k; ++p) {
                    const double av = pa[i * k + p];
                    for (int64_t j = 0; j < n; ++j) d[p * n + j] += av * pg[i * n + j];
                }
        }
    });
    for (int t = 0; t < 2; ++t) {
        if (!gin[t]) continue;
        const std::vector<double>& s = t == 0 ? da : db;
        float* dst = gin[t]->data();
        for (size_t i = 0; i < s.size(); ++i)
            dst[i] = acc[t] ? dst[i] + static_cast<float>(s[i]) : static_cast<float>(s[i]);
    }
}

}  // namespace

// No LRP rule: a product of two activations (attention) has no conserving split.
extern const OpDef kBatchMatMulDef{"BatchMatMul", infer, forward, vjp, nullptr};

}  // namespace cnnlens
