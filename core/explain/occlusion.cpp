// Occlusion (Zeiler & Fergus 2014): slide a window of `fill` over the image and record how much
// the target score drops; each pixel gets the mean drop over the windows covering it
// (Captum's averaging; PAIR sums). Windows run as batches through the engine, in row-major order.
//
// Outputs: map [H,W] (signed), stats score (the unoccluded image) and windows. With ctx.partial
// set, the map of the windows so far is reported after each batch but the last: each pixel the
// mean drop of the windows so far that cover it, 0 where none has yet.
#include <algorithm>

#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

// The image itself and one per window position: positions along an axis of n pixels start every
// `stride` pixels, the last one flush with the edge, as occlusion() places them.
int64_t occlusion_images(const ExplanationMethod& m, const Params& p, int height, int width) {
    const int win = static_cast<int>(m.param(p, "window"));
    const int stride = static_cast<int>(m.param(p, "stride"));
    auto positions = [&](int n) -> int64_t {
        return n < win ? 0 : (n - win + stride - 1) / stride + 1;
    };
    return 1 + positions(height) * positions(width);
}

Expected<Explanation> occlusion(const ExplanationMethod& m, const Tensor& x, const Target& t,
                                const Params& p, ExplainContext& ctx) {
    const int win = static_cast<int>(m.param(p, "window"));
    const int stride = static_cast<int>(m.param(p, "stride"));
    const int batch = static_cast<int>(m.param(p, "batch"));
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]),
              C = static_cast<int>(x.shape()[3]);
    if (win > H || win > W)
        return invalid_argument("occlusion: window " + std::to_string(win) +
                                " is larger than the " + std::to_string(W) + "x" +
                                std::to_string(H) + " image");
    // Fill value: `fill` is a pixel intensity in [0, 1], mapped into model input space.
    const InputSpec& spec = ctx.probe.input_spec();
    const float f = static_cast<float>(m.param(p, "fill"));
    const std::vector<float> fill = fill_in_input_space(spec, f, C);
    std::vector<std::pair<int, int>> windows;
    for (int y = 0;; y += stride) {
        const int yy = std::min(y, H - win);
        for (int xw = 0;; xw += stride) {
            const int xx = std::min(xw, W - win);
            windows.push_back({yy, xx});
            if (xx == W - win) break;
        }
        if (yy == H - win) break;
    }
    ProbeRequest plain;
    auto base = ctx.probe.run(x, plain);
    if (!base) return base.status();
    const double s0 = target_score(*base, 0, t);
    std::vector<double> sum(static_cast<size_t>(H) * W, 0.0),
        count(static_cast<size_t>(H) * W, 0.0);
    const int64_t per = x.size();
    auto result = [&](size_t done) {
        Explanation e;
        e.map.reset(Shape{H, W});
        for (size_t i = 0; i < sum.size(); ++i)
            e.map[static_cast<int64_t>(i)] =
                count[i] > 0 ? static_cast<float>(sum[i] / count[i]) : 0.f;
        e.stats["score"] = s0;
        e.stats["windows"] = static_cast<double>(done);
        return e;
    };
    for (size_t first = 0; first < windows.size();) {
        const int n =
            static_cast<int>(std::min<size_t>(static_cast<size_t>(batch), windows.size() - first));
        Tensor b = repeat_image(x, n);
        for (int k = 0; k < n; ++k) {
            auto [wy, wx] = windows[first + static_cast<size_t>(k)];
            for (int y = wy; y < wy + win; ++y)
                for (int xx = wx; xx < wx + win; ++xx)
                    for (int ch = 0; ch < C; ++ch)
                        b[k * per + (static_cast<int64_t>(y) * W + xx) * C + ch] =
                            fill[static_cast<size_t>(ch)];
        }
        auto r = ctx.probe.run(b, plain);
        if (!r) return r.status();
        for (int k = 0; k < n; ++k) {
            const double drop = s0 - target_score(*r, k, t);
            auto [wy, wx] = windows[first + static_cast<size_t>(k)];
            for (int y = wy; y < wy + win; ++y)
                for (int xx = wx; xx < wx + win; ++xx) {
                    sum[static_cast<size_t>(y) * W + xx] += drop;
                    count[static_cast<size_t>(y) * W + xx] += 1;
                }
        }
        first += static_cast<size_t>(n);
        if (!ctx.report(static_cast<float>(first) / windows.size()))
            return cancelled("occlusion cancelled after " + std::to_string(first) + " of " +
                             std::to_string(windows.size()) + " windows");
        if (ctx.partial && first < windows.size()) {
            Explanation e = result(first);
            stamp_explanation(m, x, t, p, ctx, e);
            ctx.partial(e);
        }
    }
    return result(windows.size());
}

}  // namespace

std::vector<float> fill_in_input_space(const InputSpec& spec, float f, int channels) {
    std::vector<float> fill(static_cast<size_t>(channels));
    for (int k = 0; k < channels; ++k) {
        if (spec.mean.empty())
            fill[static_cast<size_t>(k)] = spec.range_lo + (spec.range_hi - spec.range_lo) * f;
        else {
            const size_t j = spec.mean.size() == 1 ? 0 : static_cast<size_t>(k);
            fill[static_cast<size_t>(k)] = (f - spec.mean[j]) / spec.std[j];
        }
    }
    return fill;
}

const ExplanationMethod& method_Occlusion() {
    static const FnMethod m(
        {.name = "occlusion",
         .title = "Occlusion",
         .traits = {.cost = MethodCost::kJob,
                    .norm = MapNorm::kSignedPercentile99,
                    .forward_images = occlusion_images},
         .card = {.what =
                      "Slides a grey or black square over the image and records how much the score "
                      "drops; each "
                      "pixel gets the mean drop of the windows that cover it. Needs no gradients.",
                  .reading =
                      "Red: covering the region lowers the class score (the model used it); blue: "
                      "covering it raises the score. While it runs, the map fills in from "
                      "the top down.",
                  .passes = "1 forward pass per window position ((side - {window}) / {stride} + 1 "
                            "squared), {batch} per "
                            "engine call",
                  .paper =
                      "Zeiler & Fergus 2014, Visualizing and Understanding Convolutional Networks",
                  .anchor = "Captum Occlusion (mean over windows); PAIR's window is 15 at 224 px"},
         .params = {{.name = "window",
                     .label = "Window size",
                     .def = 8,
                     .min = 1,
                     .max = 4096,
                     .integer = true,
                     .help = "Side of the square hidden at a time, in pixels: larger finds larger "
                             "parts, blurrier.",
                     .anchor = "PAIR's 15 at 224 px, scaled to a 64-pixel face"},
                    {.name = "stride",
                     .label = "Stride",
                     .def = 2,
                     .min = 1,
                     .max = 4096,
                     .integer = true,
                     .help =
                         "Step between window positions, in pixels: smaller is finer and slower.",
                     .anchor = "cnnlens; PAIR and Captum use 1"},
                    {.name = "fill",
                     .label = "Fill",
                     .def = 0,
                     .min = 0,
                     .max = 1,
                     .help = "Intensity the window is filled with (0 black, 1 white).",
                     .anchor = "PAIR and Captum (0)"},
                    batch_param("Windows", 64, 1000)},
         .explain = occlusion});
    return m;
}

}  // namespace cnnlens
