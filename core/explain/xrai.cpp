// XRAI (Kapishnikov, Bolukbasi, Viégas & Terry, "XRAI: Better Attributions Through Regions",
// ICCV 2019) as PAIR saliency's xrai.py computes it ("full" algorithm).
//
// Attribution: Integrated Gradients from a black and from a white baseline (the paper's pair;
// PAIR's default takes the image's own minimum and maximum, which are black and white for a
// photo with both), averaged signed (PAIR's np.mean over baselines), then reduced over channels
// by their maximum (PAIR's _attr_aggregation_max). IG here is our IG's midpoint rule,
// `steps` per baseline (PAIR's 100).
// Regions: Felzenszwalb segmentations (core/image/superpixels.h) at scales 50, 100, 150, 250, 500
// and 1200, sigma 0.8, min_size 150, of the image min-max scaled to [-1, 1] and resized to
// 224 x 224 (PAIR's fixed working size, so its scales mean the same for any input; bilinear here,
// PAIR's skimage resize is a cubic spline), the labels resized back by nearest neighbour; every
// segment of every scale is a candidate, dilated by a disk of radius `dilation` pixels (PAIR's 5).
// Selection: greedily, the candidate whose pixels not yet covered have the highest mean
// attribution (its gain) is added; candidates adding fewer than `min_pixel_diff` pixels (PAIR's
// 50, or all of them when the image has fewer) are dropped, until none is left or the covered
// share exceeds `area_threshold`. Each pixel takes the gain of the region that first covered it,
// pixels never covered the mean attribution over them, so the map sums to the attribution's sum.
//
// Outputs: map [H,W] (gains, signed: a region of negative attribution has a negative gain),
// attribution [H,W,C] (the averaged IG), extras["ranks"] [H,W]
// (PAIR's flattened segments: 1 for the region of highest gain, ..., the uncovered rest last) and
// extras["ig"] [H,W] (the channel-max IG the regions rank); stats regions, candidates,
// sum_attributions, score_delta (the mean of f(x) - f(baseline) over the two baselines) and
// completeness_relative_error.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

constexpr double kScales[] = {50, 100, 150, 250, 500, 1200};
constexpr int kWorkSize = 224;

// IG of x from the constant `baseline` (per channel), midpoint rule; adds it times `share` to
// `acc` and returns f(x) - f(baseline) and the attributions' sum.
Status integrated_gradients(const Tensor& x, const std::vector<float>& baseline, const Target& t,
                            int steps, int batch, double share, std::vector<double>& acc,
                            double& delta, double& sum, ExplainContext& ctx, int done_before,
                            int total) {
    const int64_t per = x.size(), c = x.shape()[3];
    std::vector<double> grad(static_cast<size_t>(per), 0.0);
    {
        Tensor ends = repeat_image(x, 2);
        for (int64_t i = 0; i < per; ++i) ends[per + i] = baseline[static_cast<size_t>(i % c)];
        auto r = ctx.probe.run(ends, ProbeRequest{});
        if (!r) return r.status();
        delta = target_score(*r, 0, t) - target_score(*r, 1, t);
    }
    for (int first = 0; first < steps;) {
        const int n = std::min(batch, steps - first);
        Tensor path = repeat_image(x, n);
        for (int k = 0; k < n; ++k) {
            const float a = (static_cast<float>(first + k) + 0.5f) / static_cast<float>(steps);
            for (int64_t i = 0; i < per; ++i) {
                const float b = baseline[static_cast<size_t>(i % c)];
                path[k * per + i] = b + a * (x[i] - b);
            }
        }
        auto r = input_gradients(ctx.probe, path, t);
        if (!r) return r.status();
        for (int k = 0; k < n; ++k)
            for (int64_t i = 0; i < per; ++i)
                grad[static_cast<size_t>(i)] += r->input_grad[k * per + i];
        first += n;
        if (!ctx.report(static_cast<float>(done_before + first) / static_cast<float>(total)))
            return cancelled("xrai cancelled after " + std::to_string(done_before + first) +
                             " of " + std::to_string(total) + " gradients");
    }
    sum = 0;
    for (int64_t i = 0; i < per; ++i) {
        const double a =
            (x[i] - baseline[static_cast<size_t>(i % c)]) * grad[static_cast<size_t>(i)] / steps;
        acc[static_cast<size_t>(i)] += share * a;
        sum += a;
    }
    return Status::ok();
}

// PAIR's segmentation of x: [-1, 1], 224 x 224, Felzenszwalb at each scale, labels back at H x W.
Expected<std::vector<Segmentation>> xrai_segments(const Tensor& x) {
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]),
              C = static_cast<int>(x.shape()[3]);
    const auto [lo, hi] = std::minmax_element(x.data(), x.data() + x.size());
    const float range = *hi - *lo;
    Tensor work(Shape{kWorkSize, kWorkSize, C});
    for (int ch = 0; ch < C; ++ch) {
        Tensor plane(Shape{H, W});
        for (int64_t i = 0; i < plane.size(); ++i) {
            const float v = x[i * C + ch];
            plane[i] = range > 0 ? 2 * (v - *lo) / range - 1 : 0.f;
        }
        const Tensor up = resize_map(plane, kWorkSize, kWorkSize);
        for (int64_t i = 0; i < up.size(); ++i) work[i * C + ch] = up[i];
    }
    std::vector<Segmentation> out;
    for (double scale : kScales) {
        FelzenszwalbParams fp;
        fp.scale = scale;
        fp.sigma = 0.8;
        fp.min_size = 150;
        auto s = felzenszwalb(work, fp);
        if (!s) return s.status();
        Segmentation back{H, W, s->count, std::vector<int>(static_cast<size_t>(H) * W)};
        for (int y = 0; y < H; ++y) {
            const int sy = std::min(kWorkSize - 1, static_cast<int>((y + 0.5) * kWorkSize / H));
            for (int xx = 0; xx < W; ++xx) {
                const int sx =
                    std::min(kWorkSize - 1, static_cast<int>((xx + 0.5) * kWorkSize / W));
                back.labels[static_cast<size_t>(y) * W + xx] =
                    s->labels[static_cast<size_t>(sy) * kWorkSize + sx];
            }
        }
        out.push_back(std::move(back));
    }
    return out;
}

// The regions of the attribution `acc` [H,W,C] (channel max) over the dilated segments, as the
// Explanation's map, ranks, ig and attribution.
Explanation select_regions(const std::vector<double>& acc, int H, int W, int C,
                           std::span<const Segmentation> segs, int rad, double area_threshold,
                           int64_t min_pixel_diff) {
    const size_t hw = static_cast<size_t>(H) * W;
    std::vector<double> attr(hw, -std::numeric_limits<double>::infinity());
    for (size_t i = 0; i < hw; ++i)
        for (int ch = 0; ch < C; ++ch)
            attr[i] = std::max(attr[i], acc[i * C + static_cast<size_t>(ch)]);

    // Candidates: every segment of every scale, dilated by a disk.
    std::vector<std::pair<int, int>> disk;
    for (int dy = -rad; dy <= rad; ++dy)
        for (int dx = -rad; dx <= rad; ++dx)
            if (dy * dy + dx * dx <= rad * rad) disk.emplace_back(dy, dx);
    std::vector<std::vector<uint8_t>> masks;
    for (const Segmentation& s : segs) {
        const int count =
            s.labels.empty() ? 0 : *std::max_element(s.labels.begin(), s.labels.end()) + 1;
        const size_t first = masks.size();
        masks.resize(first + static_cast<size_t>(count), std::vector<uint8_t>(hw, 0));
        for (int y = 0; y < H; ++y)
            for (int xx = 0; xx < W; ++xx) {
                std::vector<uint8_t>& mk =
                    masks[first + static_cast<size_t>(s.labels[static_cast<size_t>(y) * W + xx])];
                for (const auto& [dy, dx] : disk) {
                    const int yy = y + dy, x2 = xx + dx;
                    if (yy >= 0 && yy < H && x2 >= 0 && x2 < W)
                        mk[static_cast<size_t>(yy) * W + x2] = 1;
                }
            }
    }
    const size_t candidates = masks.size();

    const int64_t min_diff = std::min<int64_t>(min_pixel_diff, static_cast<int64_t>(hw));
    std::vector<uint8_t> covered(hw, 0), alive(candidates, 1);
    std::vector<double> gain_map(hw, 0.0);
    std::vector<std::pair<double, std::vector<size_t>>> trace;  // (gain, pixels added)
    size_t n_covered = 0;
    while (static_cast<double>(n_covered) / static_cast<double>(hw) <= area_threshold) {
        double best = -std::numeric_limits<double>::infinity();
        size_t best_k = candidates;
        for (size_t k = 0; k < candidates; ++k) {
            if (!alive[k]) continue;
            int64_t diff = 0;
            double sum = 0;
            for (size_t i = 0; i < hw; ++i)
                if (masks[k][i] && !covered[i]) {
                    ++diff;
                    sum += attr[i];
                }
            if (diff < min_diff) {
                alive[k] = 0;
                continue;
            }
            const double gain = sum / static_cast<double>(diff);
            if (gain > best) {
                best = gain;
                best_k = k;
            }
        }
        if (best_k == candidates) break;
        std::vector<size_t> added;
        for (size_t i = 0; i < hw; ++i)
            if (masks[best_k][i] && !covered[i]) {
                covered[i] = 1;
                gain_map[i] = best;
                added.push_back(i);
            }
        n_covered += added.size();
        trace.emplace_back(best, std::move(added));
        alive[best_k] = 0;
    }
    std::vector<size_t> rest;
    double rest_sum = 0;
    for (size_t i = 0; i < hw; ++i)
        if (!covered[i]) {
            rest.push_back(i);
            rest_sum += attr[i];
        }
    const size_t regions = trace.size();
    std::stable_sort(trace.begin(), trace.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    if (!rest.empty()) {
        const double g = rest_sum / static_cast<double>(rest.size());
        for (size_t i : rest) gain_map[i] = g;
        trace.emplace_back(g, std::move(rest));
    }

    Explanation e;
    e.map.reset(Shape{H, W});
    Tensor ranks(Shape{H, W}), ig(Shape{H, W});
    for (size_t i = 0; i < hw; ++i) {
        e.map[static_cast<int64_t>(i)] = static_cast<float>(gain_map[i]);
        ig[static_cast<int64_t>(i)] = static_cast<float>(attr[i]);
    }
    for (size_t r = 0; r < trace.size(); ++r)
        for (size_t i : trace[r].second) ranks[static_cast<int64_t>(i)] = static_cast<float>(r + 1);
    e.extras["ranks"] = std::move(ranks);
    e.extras["ig"] = std::move(ig);
    e.attribution.reset(Shape{H, W, C});
    for (size_t i = 0; i < acc.size(); ++i)
        e.attribution[static_cast<int64_t>(i)] = static_cast<float>(acc[i]);
    e.stats["regions"] = static_cast<double>(regions);
    e.stats["candidates"] = static_cast<double>(candidates);
    return e;
}

Expected<Explanation> xrai(const ExplanationMethod& m, const Tensor& x, const Target& t,
                           const Params& p, ExplainContext& ctx) {
    auto segs = xrai_segments(x);
    if (!segs) return segs.status();
    return xrai_on_segments(m, x, t, p, ctx, *segs);
}

}  // namespace

Expected<Explanation> xrai_on_segments(const ExplanationMethod& m, const Tensor& x, const Target& t,
                                       const Params& p, ExplainContext& ctx,
                                       std::span<const Segmentation> segs) {
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]),
              C = static_cast<int>(x.shape()[3]);
    const size_t hw = static_cast<size_t>(H) * W;
    for (const Segmentation& s : segs)
        if (s.height != H || s.width != W || s.labels.size() != hw)
            return invalid_argument("xrai: segmentation " + std::to_string(s.height) + "x" +
                                    std::to_string(s.width) + " does not fit the image " +
                                    std::to_string(H) + "x" + std::to_string(W));
    const int steps = static_cast<int>(m.param(p, "steps")),
              batch = static_cast<int>(m.param(p, "batch"));
    const InputSpec& spec = ctx.probe.input_spec();
    std::vector<double> acc(static_cast<size_t>(x.size()), 0.0);
    double delta_black = 0, delta_white = 0, sum_black = 0, sum_white = 0;
    if (Status s = integrated_gradients(x, black_value(spec), t, steps, batch, 0.5, acc,
                                        delta_black, sum_black, ctx, 0, 2 * steps);
        !s)
        return s;
    if (Status s = integrated_gradients(x, fill_in_input_space(spec, 1.f, C), t, steps, batch, 0.5,
                                        acc, delta_white, sum_white, ctx, steps, 2 * steps);
        !s)
        return s;
    Explanation e = select_regions(acc, H, W, C, segs, static_cast<int>(m.param(p, "dilation")),
                                   m.param(p, "area_threshold"),
                                   static_cast<int64_t>(m.param(p, "min_pixel_diff")));
    double total = 0;
    for (double v : acc) total += v;
    const double delta = 0.5 * (delta_black + delta_white);
    e.stats["sum_attributions"] = total;
    e.stats["score_delta"] = delta;
    e.stats["completeness_relative_error"] =
        std::fabs(total - delta) / std::max(std::fabs(delta), 1e-12);
    return e;
}

const ExplanationMethod& method_Xrai() {
    static const FnMethod m(
        {.name = "xrai",
         .title = "XRAI",
         .traits = {.cost = MethodCost::kJob, .norm = MapNorm::kSignedPercentile99},
         .card = {.what = "Integrated Gradients from a black and a white baseline, then regions: "
                          "segments of the image "
                          "at six scales are added greedily, the one whose new pixels hold the "
                          "most attribution "
                          "first. Each pixel shows the gain of the region that first covered it.",
                  .reading = "Regions, not pixels: the brightest region matters most to the class; "
                             "its rank is in "
                             "the export (ranks).",
                  .passes = "2 x {steps} forward and backward passes (IG from black and from "
                            "white), {batch} per "
                            "engine call",
                  .paper = "Kapishnikov, Bolukbasi, Viégas & Terry 2019, XRAI: Better Attributions "
                           "Through Regions",
                  .anchor = "PAIR saliency's xrai.py (full algorithm)"},
         .params =
             {{.name = "steps",
               .label = "IG steps",
               .def = 100,
               .min = 1,
               .max = 10000,
               .integer = true,
               .help = "Integrated Gradients steps per baseline: more, more exact attributions.",
               .anchor = "PAIR saliency (100)"},
              batch_param("Path points", 50, 1000),
              {.name = "dilation",
               .label = "Dilation",
               .def = 5,
               .min = 0,
               .max = 64,
               .integer = true,
               .help = "Radius in pixels of the disk each segment is grown by before selection.",
               .anchor = "PAIR saliency (5)"},
              {.name = "min_pixel_diff",
               .label = "Minimum new pixels",
               .def = 50,
               .min = 1,
               .max = 1e6,
               .integer = true,
               .help = "A region must add at least this many pixels not yet covered.",
               .anchor = "PAIR saliency (50)"},
              {.name = "area_threshold",
               .label = "Area covered",
               .def = 1,
               .min = 0,
               .max = 1,
               .help = "Stop once this share of the image is covered; the rest is one region.",
               .anchor = "PAIR saliency (1)"}},
         .explain = xrai});
    return m;
}

}  // namespace cnnlens
