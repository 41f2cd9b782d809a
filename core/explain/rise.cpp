// RISE (Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box
// Models", BMVC 2018): the image is shown to the model through `samples` random soft masks, and
// each pixel's saliency is the mean score of the masked images weighted by how much the mask kept
// that pixel, sum_i score_i M_i / (N p).
//
// A mask is the paper's recipe: an s x s grid of cells kept with probability p, upsampled
// bilinearly (pixel centres, edges clamped, as skimage's order-1 resize and torch's
// align_corners=False) to (s+1) x cell, cell = ceil(H / s), and cropped at a random shift in
// [0, cell) on each axis. Masked pixels fade to `fill` (0 black .. 1 white, mapped into model input
// space as occlusion's fill): fill + M (x - fill). Defaults follow the paper's ImageNet setting for
// ResNet-50, which Xplique also uses: 4000 masks, s = 7, p = 0.5 (torchray takes 8000 masks). RISE
// explains class probabilities, so that is its default score.
//
// Randomness: one Rng(seed) stream; per mask, s*s uniform() draws row by row (kept when < p), then
// below(cell_h) and below(cell_w) for the shift. The oracle (tests/oracle/torch_explain.py) replays
// that stream, so it rebuilds the same masks without storing them. Batch size changes no mask.
//
// Outputs: map [H,W] (unsigned for probabilities), stats score (the unmasked image), samples,
// mask_mean (the masks' mean value, about p). With ctx.partial set, the map of the masks so far is
// reported after each batch.
#include <algorithm>
#include <cmath>

#include "core/base/rng.h"
#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

// Source rows (or columns) of a bilinear upsampling from n cells to `up` pixels: for output
// pixel k, the cells i0, i1 and the weight f of i1.
struct Taps {
    std::vector<int> i0, i1;
    std::vector<float> f;
};

Taps bilinear_taps(int n, int up) {
    Taps t;
    for (int k = 0; k < up; ++k) {
        const float s = std::clamp((k + 0.5f) * n / up - 0.5f, 0.f, static_cast<float>(n - 1));
        const int a = static_cast<int>(s);
        t.i0.push_back(a);
        t.i1.push_back(std::min(a + 1, n - 1));
        t.f.push_back(s - a);
    }
    return t;
}

Expected<Explanation> rise(const ExplanationMethod& m, const Tensor& x, const Target& t,
                           const Params& p, ExplainContext& ctx) {
    const int64_t total = static_cast<int64_t>(m.param(p, "samples"));
    const int s = static_cast<int>(m.param(p, "cells"));
    const float keep = static_cast<float>(m.param(p, "p"));
    const int batch = static_cast<int>(m.param(p, "batch"));
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]),
              C = static_cast<int>(x.shape()[3]);
    const int classes = ctx.probe.num_classes();
    if (t.cls < 0 || t.cls >= classes || t.contrast >= classes)
        return invalid_argument("rise: target class " + std::to_string(t.cls) +
                                (t.contrast >= 0 ? " vs " + std::to_string(t.contrast) : "") +
                                " is outside the model's " + std::to_string(classes) + " classes");
    const InputSpec& spec = ctx.probe.input_spec();
    const float f = static_cast<float>(m.param(p, "fill"));
    const std::vector<float> fill = fill_in_input_space(spec, f, C);
    const int cell_h = (H + s - 1) / s, cell_w = (W + s - 1) / s;
    const Taps ty = bilinear_taps(s, (s + 1) * cell_h), tx = bilinear_taps(s, (s + 1) * cell_w);
    const size_t hw = static_cast<size_t>(H) * W;

    ProbeRequest plain;
    auto base = ctx.probe.run(x, plain);
    if (!base) return base.status();
    const double score = target_score(*base, 0, t);

    Rng rng(ctx.seed);
    std::vector<uint8_t> grid(static_cast<size_t>(s) * s);
    std::vector<float> masks;
    std::vector<double> sal(hw, 0.0);
    double mask_sum = 0;
    auto result = [&](int64_t done) {
        Explanation e;
        e.map.reset(Shape{H, W});
        const double norm = 1.0 / (static_cast<double>(done) * keep);
        for (size_t i = 0; i < hw; ++i)
            e.map[static_cast<int64_t>(i)] = static_cast<float>(sal[i] * norm);
        e.stats["score"] = score;
        e.stats["samples"] = static_cast<double>(done);
        e.stats["mask_mean"] = mask_sum / (static_cast<double>(done) * static_cast<double>(hw));
        return e;
    };
    for (int64_t first = 0; first < total;) {
        const int n = static_cast<int>(std::min<int64_t>(batch, total - first));
        masks.resize(static_cast<size_t>(n) * hw);
        Tensor b(Shape{n, H, W, C});
        for (int r = 0; r < n; ++r) {
            for (uint8_t& g : grid) g = rng.uniform() < keep;
            const int dy = static_cast<int>(rng.below(static_cast<uint32_t>(cell_h)));
            const int dx = static_cast<int>(rng.below(static_cast<uint32_t>(cell_w)));
            float* mr = &masks[static_cast<size_t>(r) * hw];
            for (int y = 0; y < H; ++y) {
                const int Y = y + dy;
                const uint8_t* g0 = &grid[static_cast<size_t>(ty.i0[static_cast<size_t>(Y)]) * s];
                const uint8_t* g1 = &grid[static_cast<size_t>(ty.i1[static_cast<size_t>(Y)]) * s];
                const float fy = ty.f[static_cast<size_t>(Y)];
                for (int xx = 0; xx < W; ++xx) {
                    const size_t X = static_cast<size_t>(xx + dx);
                    const int a = tx.i0[X], c = tx.i1[X];
                    const float fx = tx.f[X];
                    const float top = g0[a] * (1 - fx) + g0[c] * fx;
                    const float bot = g1[a] * (1 - fx) + g1[c] * fx;
                    mr[static_cast<size_t>(y) * W + xx] = top * (1 - fy) + bot * fy;
                }
            }
            float* dst = b.data() + static_cast<int64_t>(r) * static_cast<int64_t>(hw) * C;
            for (size_t i = 0; i < hw; ++i)
                for (int ch = 0; ch < C; ++ch) {
                    const float v = fill[static_cast<size_t>(ch)];
                    dst[i * C + ch] = v + mr[i] * (x[static_cast<int64_t>(i * C + ch)] - v);
                }
        }
        auto res = ctx.probe.run(b, plain);
        if (!res) return res.status();
        for (int r = 0; r < n; ++r) {
            const double sc = target_score(*res, r, t);
            const float* mr = &masks[static_cast<size_t>(r) * hw];
            for (size_t i = 0; i < hw; ++i) {
                sal[i] += sc * mr[i];
                mask_sum += mr[i];
            }
        }
        first += n;
        if (!ctx.report(static_cast<float>(first) / static_cast<float>(total)))
            return cancelled("rise cancelled after " + std::to_string(first) + " of " +
                             std::to_string(total) + " masks");
        if (ctx.partial && first < total) {
            Explanation e = result(first);
            stamp_explanation(m, x, t, p, ctx, e);
            ctx.partial(e);
        }
    }
    return result(total);
}

}  // namespace

const ExplanationMethod& method_Rise() {
    static const FnMethod m(
        {.name = "rise",
         .title = "RISE",
         .traits = {.cost = MethodCost::kJob,
                    .default_score = Target::Score::kProbability,
                    .norm = MapNorm::kMinMax,
                    .forward_images = [](const ExplanationMethod& m, const Params& p, int,
                                         int) -> int64_t {
                        return 1 + static_cast<int64_t>(m.param(p, "samples"));  // and the image
                    }},
         .card = {.what = "Shows the model the image through many random soft masks; each pixel's "
                          "value is the mean "
                          "score of the masked images, weighted by how much each mask kept that "
                          "pixel. Needs no "
                          "gradients.",
                  .reading = "Bright pixels keep the score up when they are visible. Fills in as "
                             "masks are drawn.",
                  .passes = "1 forward pass per mask ({samples}), {batch} per engine call",
                  .paper = "Petsiuk, Das & Saenko 2018, RISE: Randomized Input Sampling for "
                           "Explanation of Black-box "
                           "Models",
                  .anchor = "the paper's ResNet-50 settings (as Xplique)"},
         .params =
             {{.name = "samples",
               .label = "Masks",
               .def = 4000,
               .min = 1,
               .max = 100000,
               .integer = true,
               .help = "How many random masks: more gives a smoother, steadier map.",
               .anchor = "the paper; torchray uses 8000"},
              {.name = "cells",
               .label = "Grid cells",
               .def = 7,
               .min = 1,
               .max = 256,
               .integer = true,
               .help = "A mask is an s x s grid before upsampling: more cells find smaller parts.",
               .anchor = "the paper's s"},
              {.name = "p",
               .label = "Keep probability",
               .def = 0.5,
               .min = 0.01,
               .max = 1,
               .help = "Probability that a grid cell is kept (shown).",
               .anchor = "the paper"},
              {.name = "fill",
               .label = "Fill",
               .def = 0,
               .min = 0,
               .max = 1,
               .help = "What masked pixels fade to (0 black, 1 white).",
               .anchor = "the paper (0)"},
              batch_param("Masked images", 100, 4096)},
         .explain = rise});
    return m;
}

}  // namespace cnnlens
