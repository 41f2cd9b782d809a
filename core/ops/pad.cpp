// Pad with a constant value, by reflection or by repeating the edge; paddings per axis (the batch
// axis may not be padded). Reflect and edge read one input element per output element, so their
// VJP scatter-adds through the same index map.
#include <algorithm>
#include <array>
#include <vector>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& a = std::get<PadAttrs>(attrs);
    const std::string who = "Pad node '" + std::string(node) + "'";
    if (in.size() != 1)
        return invalid_argument(who + ": expects 1 input, got " + std::to_string(in.size()));
    if (static_cast<int>(a.paddings.size()) != in[0].rank())
        return invalid_argument(who + ": " + std::to_string(a.paddings.size()) +
                                " paddings for input " + in[0].str());
    out = in[0];
    for (int d = 0; d < in[0].rank(); ++d) {
        const auto [b, e] = a.paddings[d];
        if (b < 0 || e < 0 || b > (1 << 16) || e > (1 << 16))
            return invalid_argument(who + ": padding (" + std::to_string(b) + "," +
                                    std::to_string(e) + ") on axis " + std::to_string(d) +
                                    " not supported");
        if (d == 0 && (b || e))
            return unsupported(who + ": padding the batch axis is not supported");
        if (a.mode == PadMode::kReflect && (b >= in[0][d] || e >= in[0][d]))
            return invalid_argument(who + ": reflect padding (" + std::to_string(b) + "," +
                                    std::to_string(e) + ") on axis " + std::to_string(d) +
                                    " needs more than " + std::to_string(in[0][d]) + " elements");
        out[d] += b + e;
    }
    return Status::ok();
}

// Calls f(input_index, output_index) for every input element.
template <typename F>
void map_pad(const Shape& in, const Shape& out, const PadAttrs& a, F&& f) {
    std::array<int64_t, kMaxRank> ostride{};
    int64_t s = 1;
    for (int d = in.rank() - 1; d >= 0; --d) {
        ostride[d] = s;
        s *= out[d];
    }
    int64_t base = 0;
    for (int d = 0; d < in.rank(); ++d) base += a.paddings[d].first * ostride[d];
    std::array<int64_t, kMaxRank> idx{};
    int64_t o = base;
    for (int64_t i = 0; i < in.elements(); ++i) {
        f(i, o);
        for (int d = in.rank() - 1; d >= 0; --d) {
            o += ostride[d];
            if (++idx[d] < in[d]) break;
            o -= ostride[d] * in[d];
            idx[d] = 0;
        }
    }
}

// Reflect/edge: calls f(output_index, input_index) for every output element.
template <typename F>
void map_border(const Shape& in, const Shape& out, const PadAttrs& a, F&& f) {
    const int r = in.rank();
    std::vector<std::vector<int64_t>> src(static_cast<size_t>(r));
    std::array<int64_t, kMaxRank> istride{};
    int64_t s = 1;
    for (int d = r - 1; d >= 0; --d) {
        istride[d] = s;
        s *= in[d];
    }
    for (int d = 0; d < r; ++d) {
        const int64_t n = in[d];
        for (int64_t o = 0; o < out[d]; ++o) {
            int64_t i = o - a.paddings[static_cast<size_t>(d)].first;
            if (a.mode == PadMode::kEdge)
                i = std::clamp<int64_t>(i, 0, n - 1);
            else if (n == 1)
                i = 0;
            else {
                const int64_t period = 2 * (n - 1);
                i = ((i % period) + period) % period;
                if (i >= n) i = period - i;
            }
            src[static_cast<size_t>(d)].push_back(i * istride[d]);
        }
    }
    std::array<int64_t, kMaxRank> idx{};
    const int64_t total = out.elements();
    for (int64_t o = 0; o < total; ++o) {
        int64_t i = 0;
        for (int d = 0; d < r; ++d) i += src[static_cast<size_t>(d)][static_cast<size_t>(idx[d])];
        f(o, i);
        for (int d = r - 1; d >= 0; --d) {
            if (++idx[d] < out[d]) break;
            idx[d] = 0;
        }
    }
}

void forward(OpContext& c, Tensor& out) {
    const auto& a = std::get<PadAttrs>(c.attrs);
    const Tensor& x = *c.inputs[0];
    if (a.mode != PadMode::kConstant) {
        map_border(x.shape(), out.shape(), a, [&](int64_t o, int64_t i) { out[o] = x[i]; });
        return;
    }
    std::fill(out.data(), out.data() + out.size(), a.value);
    map_pad(x.shape(), out.shape(), a, [&](int64_t i, int64_t o) { out[o] = x[i]; });
}

void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    float* d = gin[0]->data();
    const bool add = acc[0];
    const auto& a = std::get<PadAttrs>(c.attrs);
    if (a.mode != PadMode::kConstant) {
        if (!add) gin[0]->zero();
        map_border(c.inputs[0]->shape(), out.shape(), a,
                   [&](int64_t o, int64_t i) { d[i] += g[o]; });
        return;
    }
    map_pad(c.inputs[0]->shape(), out.shape(), std::get<PadAttrs>(c.attrs),
            [&](int64_t i, int64_t o) { d[i] = add ? d[i] + g[o] : g[o]; });
}

}  // namespace

extern const OpDef kPadDef{"Pad", infer, forward, vjp, lrp_route<vjp>, deeplift_linear<vjp>};

}  // namespace cnnlens
