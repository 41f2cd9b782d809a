// Resize: nearest, bilinear or bicubic resampling of the spatial axes of an NHWC tensor, with
// ONNX's coordinate transformation modes (PyTorch's interpolate exports all of them). Each output
// pixel is a weighted sum of at most 4x4 input pixels, so the VJP scatters with the forward's
// weights.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& a = std::get<ResizeAttrs>(attrs);
    const std::string who = "Resize node '" + std::string(node) + "'";
    if (in.size() != 1)
        return invalid_argument(who + ": expects 1 input, got " + std::to_string(in.size()));
    if (in[0].rank() != 4) return invalid_argument(who + ": input " + in[0].str() + " is not NHWC");
    if (a.out_h < 1 || a.out_w < 1 || a.out_h > (1 << 15) || a.out_w > (1 << 15))
        return invalid_argument(who + ": output size " + std::to_string(a.out_h) + "x" +
                                std::to_string(a.out_w) + " is out of range");
    for (float v : {a.roi_h0, a.roi_h1, a.roi_w0, a.roi_w1, a.extrapolation})
        if (!std::isfinite(v))
            return invalid_argument(who + ": roi or extrapolation value " + std::to_string(v) +
                                    " is not finite");
    out = Shape{in[0][0], a.out_h, a.out_w, in[0][3]};
    return Status::ok();
}

// Along one axis: output i reads input idx[i * count + t] with weight w[i * count + t], t < count,
// unless outside[i] (tf_crop_and_resize sampling beyond the image: the output is a constant).
struct Taps {
    int count = 1;
    std::vector<int> idx;
    std::vector<float> w;
    std::vector<char> outside;
};

// Keys' cubic convolution weights of inputs floor - 1 .. floor + 2 for a point `t` in (0, 1]
// past `floor` (ONNX's reference cubic_coeffs).
std::array<double, 4> cubic_weights(double t, double A) {
    const double u = 1 - t;
    return {((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
            ((A + 2) * t - (A + 3)) * t * t + 1, ((A + 2) * u - (A + 3)) * u * u + 1,
            ((A * (u + 1) - 5 * A) * (u + 1) + 8 * A) * (u + 1) - 4 * A};
}

Taps taps(const ResizeAttrs& a, int in, int out, float given_scale, float roi0, float roi1) {
    Taps t;
    t.count = a.mode == ResizeMode::kNearest ? 1 : a.mode == ResizeMode::kLinear ? 2 : 4;
    const double scale = given_scale > 0.f ? given_scale : static_cast<double>(out) / in;
    // ONNX measures the resized axis as in * scale when scales are given, before flooring it
    // to the output size (test_resize_downsample_scales_linear_align_corners).
    const double out_len = in * scale;
    auto tap = [&](int k, double w) {
        t.idx.push_back(std::clamp(k, 0, in - 1));
        t.w.push_back(static_cast<float>(w));
    };
    for (int i = 0; i < out; ++i) {
        double x;
        switch (a.coord) {
            case ResizeCoord::kHalfPixel:
                x = (i + 0.5) / scale - 0.5;
                break;
            case ResizeCoord::kPytorchHalfPixel:
                x = out_len > 1 ? (i + 0.5) / scale - 0.5 : 0.0;
                break;
            case ResizeCoord::kAlignCorners:
                x = out_len > 1 ? static_cast<double>(i) * (in - 1) / (out_len - 1) : 0.0;
                break;
            case ResizeCoord::kTfHalfPixelForNn:
                x = (i + 0.5) / scale;
                break;
            case ResizeCoord::kTfCropAndResize:
                x = out > 1 ? roi0 * (in - 1.0) +
                                  i * static_cast<double>(roi1 - roi0) * (in - 1.0) / (out - 1.0)
                            : 0.5 * (static_cast<double>(roi0) + roi1) * (in - 1.0);
                break;
            default:
                x = i / scale;
                break;
        }
        const bool outside = a.coord == ResizeCoord::kTfCropAndResize && (x < 0.0 || x > in - 1.0);
        t.outside.push_back(outside);
        if (outside) {  // the taps keep their stride; none is read
            for (int k = 0; k < t.count; ++k) tap(0, 0.0);
            continue;
        }
        if (a.mode == ResizeMode::kNearest) {
            double r;
            switch (a.nearest) {
                case NearestRound::kFloor:
                    r = std::floor(x);
                    break;
                case NearestRound::kCeil:
                    r = std::ceil(x);
                    break;
                case NearestRound::kRoundPreferCeil:
                    r = std::floor(x + 0.5);
                    break;
                default:
                    r = x == std::floor(x) + 0.5 ? std::floor(x) : std::round(x);
                    break;
            }
            tap(static_cast<int>(std::clamp(r, 0.0, static_cast<double>(in - 1))), 1.0);
        } else if (a.mode == ResizeMode::kLinear) {
            x = std::clamp(x, 0.0, static_cast<double>(in - 1));
            const int k = static_cast<int>(std::floor(x));
            tap(k, 1.0 - (x - k));
            tap(k + 1, x - k);
        } else {
            // x lies in [-0.5, in - 0.5], so the taps stay within 2 of the edge, which ONNX's
            // reference repeats; an integer x is the end (t = 1) of the cell before it.
            x = std::clamp(x, -1.0, static_cast<double>(in));
            int f = static_cast<int>(std::floor(x));
            double r = x - f;
            if (r == 0.0) --f, r = 1.0;
            std::array<double, 4> w = cubic_weights(r, a.cubic_a);
            double sum = 0;
            for (int k = 0; k < 4; ++k) {
                if (a.exclude_outside && (f - 1 + k < 0 || f - 1 + k >= in))
                    w[static_cast<size_t>(k)] = 0.0;
                sum += w[static_cast<size_t>(k)];
            }
            for (int k = 0; k < 4; ++k)
                tap(f - 1 + k, a.exclude_outside ? w[static_cast<size_t>(k)] / sum
                                                 : w[static_cast<size_t>(k)]);
        }
    }
    return t;
}

// Calls f(out_pixel, in_pixel, weight) for every tap of nonzero weight of every output pixel,
// and outside(out_pixel) for each output sampled beyond the image (tf_crop_and_resize).
template <typename F, typename G>
void map_resize(const ResizeAttrs& a, const Shape& in, F&& f, G&& outside) {
    const int H = static_cast<int>(in[1]), W = static_cast<int>(in[2]);
    const Taps ty = taps(a, H, a.out_h, a.scale_h, a.roi_h0, a.roi_h1),
               tx = taps(a, W, a.out_w, a.scale_w, a.roi_w0, a.roi_w1);
    for (int64_t n = 0; n < in[0]; ++n)
        for (int y = 0; y < a.out_h; ++y)
            for (int x = 0; x < a.out_w; ++x) {
                const int64_t o = (n * a.out_h + y) * a.out_w + x;
                if (ty.outside[static_cast<size_t>(y)] || tx.outside[static_cast<size_t>(x)]) {
                    outside(o);
                    continue;
                }
                for (int i = 0; i < ty.count; ++i) {
                    const size_t iy = static_cast<size_t>(y * ty.count + i);
                    if (ty.w[iy] == 0.f) continue;
                    const int64_t row = (n * H + ty.idx[iy]) * W;
                    for (int j = 0; j < tx.count; ++j) {
                        const size_t ix = static_cast<size_t>(x * tx.count + j);
                        if (tx.w[ix] != 0.f) f(o, row + tx.idx[ix], ty.w[iy] * tx.w[ix]);
                    }
                }
            }
}

void forward(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    const int64_t C = x.shape()[3];
    const auto& a = std::get<ResizeAttrs>(c.attrs);
    out.zero();
    map_resize(
        a, x.shape(),
        [&](int64_t o, int64_t i, float w) {
            const float* xi = x.data() + i * C;
            float* yo = out.data() + o * C;
            for (int64_t k = 0; k < C; ++k) yo[k] += w * xi[k];
        },
        [&](int64_t o) { std::fill_n(out.data() + o * C, C, a.extrapolation); });
}

void vjp(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    if (!acc[0]) gin[0]->zero();
    const int64_t C = g.shape()[3];
    map_resize(
        std::get<ResizeAttrs>(c.attrs), c.inputs[0]->shape(),
        [&](int64_t o, int64_t i, float w) {
            const float* go = g.data() + o * C;
            float* di = gin[0]->data() + i * C;
            for (int64_t k = 0; k < C; ++k) di[k] += w * go[k];
        },
        [](int64_t) {});  // a constant: no gradient
}

}  // namespace

// LRP: relevance goes where the gradient goes; interpolation weights sum to 1, so it is conserved.
extern const OpDef kResizeDef{"Resize", infer, forward, vjp, lrp_route<vjp>, deeplift_linear<vjp>};

}  // namespace cnnlens
