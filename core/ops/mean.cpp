// Mean over axes (global average pooling when the axes are H and W).
#include <algorithm>
#include <array>

#include "core/base/thread_pool.h"
#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& a = std::get<ReduceAttrs>(attrs);
    const std::string who = "Mean node '" + std::string(node) + "'";
    if (in.size() != 1)
        return invalid_argument(who + ": expects 1 input, got " + std::to_string(in.size()));
    bool reduced[kMaxRank] = {};
    for (int ax : a.axes) {
        if (ax < 0 || ax >= in[0].rank())
            return invalid_argument(who + ": axis " + std::to_string(ax) + " out of range for " +
                                    in[0].str());
        if (ax == 0) return unsupported(who + ": reducing over the batch axis is not supported");
        reduced[ax] = true;
    }
    out = Shape();
    for (int i = 0; i < in[0].rank(); ++i) {
        if (!reduced[i])
            out.push_back(in[0][i]);
        else if (a.keep_dims)
            out.push_back(1);
    }
    return Status::ok();
}

// For every input element i, calls f(i, o) with o its output element.
template <typename F>
void map_reduce(const Shape& in, const ReduceAttrs& a, F&& f) {
    bool reduced[kMaxRank] = {};
    for (int ax : a.axes) reduced[ax] = true;
    std::array<int64_t, kMaxRank> ostride{};
    int64_t s = 1;
    for (int d = in.rank() - 1; d >= 0; --d) {
        ostride[d] = reduced[d] ? 0 : s;
        if (!reduced[d]) s *= in[d];
    }
    std::array<int64_t, kMaxRank> idx{};
    int64_t o = 0;
    const int64_t n = in.elements();
    for (int64_t i = 0; i < n; ++i) {
        f(i, o);
        for (int d = in.rank() - 1; d >= 0; --d) {
            o += ostride[d];
            if (++idx[d] < in[d]) break;
            o -= ostride[d] * in[d];
            idx[d] = 0;
        }
    }
}

// The input as [outer, reduced, inner] when the reduced axes are adjacent (global average
// pooling in NHWC: [N, H*W, C]); false otherwise.
bool as_block(const Shape& in, const ReduceAttrs& a, int64_t& outer, int64_t& reduced,
              int64_t& inner) {
    bool r[kMaxRank] = {};
    for (int ax : a.axes) r[ax] = true;
    int lo = in.rank(), hi = -1;
    for (int d = 0; d < in.rank(); ++d)
        if (r[d]) lo = std::min(lo, d), hi = std::max(hi, d);
    if (hi < 0) return false;
    for (int d = lo; d <= hi; ++d)
        if (!r[d]) return false;
    outer = reduced = inner = 1;
    for (int d = 0; d < in.rank(); ++d) (d < lo ? outer : d <= hi ? reduced : inner) *= in[d];
    return true;
}

void forward(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    const auto& a = std::get<ReduceAttrs>(c.attrs);
    const float inv = static_cast<float>(out.size()) / static_cast<float>(x.size());
    int64_t outer, reduced, inner;
    if (as_block(x.shape(), a, outer, reduced, inner)) {
        // Each output sums its inputs in the order the element-wise walk below does (in double),
        // a vector of outputs at a time, split across the pool by outputs. Blocks of 8 outputs
        // (one vector of doubles) give a global average pool of 32 channels (efficientnet's
        // first squeeze-and-excitation) four blocks to share among threads.
        constexpr int64_t kBlock = 8;
        const int64_t blocks = (inner + kBlock - 1) / kBlock;
        parallel_for(outer * blocks, 1, [&](int64_t i0, int64_t i1, int) {
            double acc[kBlock];
            for (int64_t i = i0; i < i1; ++i) {
                const int64_t o = i / blocks, j0 = i % blocks * kBlock;
                const int64_t m = std::min(kBlock, inner - j0);
                std::fill(acc, acc + m, 0.0);
                const float* p = x.data() + o * reduced * inner + j0;
                if (m == kBlock)  // a fixed count the compiler turns into vector adds
                    for (int64_t k = 0; k < reduced; ++k, p += inner)
                        for (int64_t j = 0; j < kBlock; ++j) acc[j] += p[j];
                else
                    for (int64_t k = 0; k < reduced; ++k, p += inner)
                        for (int64_t j = 0; j < m; ++j) acc[j] += p[j];
                for (int64_t j = 0; j < m; ++j)
                    out[o * inner + j0 + j] = static_cast<float>(acc[j] * inv);
            }
        });
        return;
    }
    std::vector<double> acc(static_cast<size_t>(out.size()), 0.0);
    map_reduce(x.shape(), a, [&](int64_t i, int64_t o) { acc[o] += x[i]; });
    for (int64_t o = 0; o < out.size(); ++o) out[o] = static_cast<float>(acc[o] * inv);
}

void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> accum, ReluRule) {
    if (!gin[0]) return;
    const Tensor& x = *c.inputs[0];  // its shape only: the backward's tape may drop its data
    const float inv =
        static_cast<float>(out.shape().elements()) / static_cast<float>(x.shape().elements());
    float* d = gin[0]->data();
    const bool add = accum[0];
    int64_t outer, reduced, inner;
    if (as_block(x.shape(), std::get<ReduceAttrs>(c.attrs), outer, reduced, inner)) {
        parallel_for(outer * reduced, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(inner, 1)),
                     [&](int64_t r0, int64_t r1, int) {
                         for (int64_t row = r0; row < r1; ++row) {
                             const float* gr = g.data() + row / reduced * inner;
                             float* dr = d + row * inner;
                             for (int64_t j = 0; j < inner; ++j)
                                 dr[j] = (add ? dr[j] : 0.f) + gr[j] * inv;
                         }
                     });
        return;
    }
    map_reduce(x.shape(), std::get<ReduceAttrs>(c.attrs),
               [&](int64_t i, int64_t o) { d[i] = (add ? d[i] : 0.f) + g[o] * inv; });
}

}  // namespace

// LRP: global average pooling splits relevance in proportion to the inputs (Zennit's Norm rule).
extern const OpDef kMeanDef{
    "Mean", infer, forward, vjp, lrp_split<vjp>, deeplift_linear<vjp>, vjp_reads_nothing};

}  // namespace cnnlens
