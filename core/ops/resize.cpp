// Resize: nearest or bilinear resampling of the spatial axes of an NHWC tensor, with ONNX's
// coordinate transformation modes (PyTorch's interpolate exports all of them). Each output
// pixel reads at most 2x2 input pixels, so the VJP scatters with the forward's weights.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& a = std::get<ResizeAttrs>(attrs);
    const std::string who = "Resize node '" + std::string(node) + "'";
    if (in.size() != 1) return invalid_argument(who + ": expects 1 input, got " + std::to_string(in.size()));
    if (in[0].rank() != 4) return invalid_argument(who + ": input " + in[0].str() + " is not NHWC");
    if (a.out_h < 1 || a.out_w < 1 || a.out_h > (1 << 15) || a.out_w > (1 << 15))
        return invalid_argument(who + ": output size " + std::to_string(a.out_h) + "x" + std::to_string(a.out_w) + " is out of range");
    out = Shape{in[0][0], a.out_h, a.out_w, in[0][3]};
    return Status::ok();
}

// Along one axis: output i reads input lo[i] with weight 1 - w[i] and hi[i] with weight w[i].
struct Taps {
    std::vector<int> lo, hi;
    std::vector<float> w;
};

Taps taps(const ResizeAttrs& a, int in, int out, float given_scale) {
    Taps t;
    const double scale = given_scale > 0.f ? given_scale : static_cast<double>(out) / in;
    // ONNX measures the resized axis as in * scale when scales are given, before flooring it
    // to the output size (test_resize_downsample_scales_linear_align_corners).
    const double out_len = in * scale;
    for (int i = 0; i < out; ++i) {
        double x;
        switch (a.coord) {
            case ResizeCoord::kHalfPixel: x = (i + 0.5) / scale - 0.5; break;
            case ResizeCoord::kPytorchHalfPixel: x = out_len > 1 ? (i + 0.5) / scale - 0.5 : 0.0; break;
            case ResizeCoord::kAlignCorners: x = out_len > 1 ? static_cast<double>(i) * (in - 1) / (out_len - 1) : 0.0; break;
            default: x = i / scale; break;
        }
        if (a.mode == ResizeMode::kNearest) {
            double r;
            switch (a.nearest) {
                case NearestRound::kFloor: r = std::floor(x); break;
                case NearestRound::kCeil: r = std::ceil(x); break;
                case NearestRound::kRoundPreferCeil: r = std::floor(x + 0.5); break;
                default: r = x == std::floor(x) + 0.5 ? std::floor(x) : std::round(x); break;
            }
            const int k = static_cast<int>(std::clamp(r, 0.0, static_cast<double>(in - 1)));
            t.lo.push_back(k); t.hi.push_back(k); t.w.push_back(0.f);
        } else {
            x = std::clamp(x, 0.0, static_cast<double>(in - 1));
            const int k = static_cast<int>(std::floor(x));
            t.lo.push_back(k); t.hi.push_back(std::min(k + 1, in - 1)); t.w.push_back(static_cast<float>(x - k));
        }
    }
    return t;
}

// Calls f(out_pixel, in_pixel, weight) for the (up to 4) taps of every output pixel.
template <typename F>
void map_resize(const ResizeAttrs& a, const Shape& in, F&& f) {
    const int H = static_cast<int>(in[1]), W = static_cast<int>(in[2]);
    const Taps ty = taps(a, H, a.out_h, a.scale_h), tx = taps(a, W, a.out_w, a.scale_w);
    for (int64_t n = 0; n < in[0]; ++n)
        for (int y = 0; y < a.out_h; ++y)
            for (int x = 0; x < a.out_w; ++x) {
                const int64_t o = (n * a.out_h + y) * a.out_w + x, row = n * H;
                const float wy = ty.w[static_cast<size_t>(y)], wx = tx.w[static_cast<size_t>(x)];
                const int64_t y0 = row + ty.lo[static_cast<size_t>(y)], y1 = row + ty.hi[static_cast<size_t>(y)];
                const int x0 = tx.lo[static_cast<size_t>(x)], x1 = tx.hi[static_cast<size_t>(x)];
                f(o, y0 * W + x0, (1.f - wy) * (1.f - wx));
                if (wx != 0.f) f(o, y0 * W + x1, (1.f - wy) * wx);
                if (wy != 0.f) f(o, y1 * W + x0, wy * (1.f - wx));
                if (wy != 0.f && wx != 0.f) f(o, y1 * W + x1, wy * wx);
            }
}

void forward(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    const int64_t C = x.shape()[3];
    out.zero();
    map_resize(std::get<ResizeAttrs>(c.attrs), x.shape(), [&](int64_t o, int64_t i, float w) {
        const float* xi = x.data() + i * C;
        float* yo = out.data() + o * C;
        for (int64_t k = 0; k < C; ++k) yo[k] += w * xi[k];
    });
}

void vjp(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin, std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    if (!acc[0]) gin[0]->zero();
    const int64_t C = g.shape()[3];
    map_resize(std::get<ResizeAttrs>(c.attrs), c.inputs[0]->shape(), [&](int64_t o, int64_t i, float w) {
        const float* go = g.data() + o * C;
        float* di = gin[0]->data() + i * C;
        for (int64_t k = 0; k < C; ++k) di[k] += w * go[k];
    });
}

}  // namespace

extern const OpDef kResizeDef{"Resize", infer, forward, vjp};

}  // namespace cnnlens
