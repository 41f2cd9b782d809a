// Pad with a constant value; paddings per axis (the batch axis may not be padded).
#include <array>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& a = std::get<PadAttrs>(attrs);
    const std::string who = "Pad node '" + std::string(node) + "'";
    if (in.size() != 1) return invalid_argument(who + ": expects 1 input, got " + std::to_string(in.size()));
    if (static_cast<int>(a.paddings.size()) != in[0].rank())
        return invalid_argument(who + ": " + std::to_string(a.paddings.size()) + " paddings for input " + in[0].str());
    out = in[0];
    for (int d = 0; d < in[0].rank(); ++d) {
        const auto [b, e] = a.paddings[d];
        if (b < 0 || e < 0 || b > (1 << 16) || e > (1 << 16)) return invalid_argument(who + ": padding (" + std::to_string(b) + "," + std::to_string(e) + ") on axis " + std::to_string(d) + " not supported");
        if (d == 0 && (b || e)) return unsupported(who + ": padding the batch axis is not supported");
        out[d] += b + e;
    }
    return Status::ok();
}

// Calls f(input_index, output_index) for every input element.
template <typename F>
void map_pad(const Shape& in, const Shape& out, const PadAttrs& a, F&& f) {
    std::array<int64_t, kMaxRank> ostride{};
    int64_t s = 1;
    for (int d = in.rank() - 1; d >= 0; --d) { ostride[d] = s; s *= out[d]; }
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

void forward(OpContext& c, Tensor& out) {
    const auto& a = std::get<PadAttrs>(c.attrs);
    const Tensor& x = *c.inputs[0];
    std::fill(out.data(), out.data() + out.size(), a.value);
    map_pad(x.shape(), out.shape(), a, [&](int64_t i, int64_t o) { out[o] = x[i]; });
}

void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin, std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    float* d = gin[0]->data();
    const bool add = acc[0];
    map_pad(c.inputs[0]->shape(), out.shape(), std::get<PadAttrs>(c.attrs), [&](int64_t i, int64_t o) { d[i] = add ? d[i] + g[o] : g[o]; });
}

}  // namespace

extern const OpDef kPadDef{"Pad", infer, forward, vjp};

}  // namespace cnnlens
