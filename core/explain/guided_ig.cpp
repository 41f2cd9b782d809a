// Guided Integrated Gradients (Kapishnikov, Venugopalan, Avci, Wedin, Terry & Birdwell, "Guided
// Integrated Gradients: an Adaptive Path Method for Removing Noise", CVPR 2021), as PAIR
// saliency's guided_ig.py computes it: the path starts at the baseline and, at each of `steps`
// steps, moves the `fraction` of features with the smallest |gradient| toward the input until the
// L1 distance to the input has shrunk by 1 / steps of the total; no feature strays more than
// `max_dist` (as a fraction of the way) from the straight line, and features left behind are
// pulled up to that band first. attribution += (x_new - x_old) * gradient at the step's start,
// so sum(attribution) approaches f(x) - f(baseline) (completeness error reported as IG's).
// max_dist 0 is IG on the straight line (left Riemann sum); 1 leaves the path unbounded.
//
// Defaults are PAIR's: 200 steps, fraction 0.25, max_dist 0.02; the baseline is black (PAIR's
// zeros, here black in the model's input space, as IG's). The quantile is NumPy's 'lower' over
// all |g| (features already at the band's upper edge count as +inf). The path is kept in double.
// Each step needs the previous one's gradient, so steps run one image at a time.
// Attribution [H,W,C]; map = its channel sum (signed), as IG's.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

Expected<Explanation> guided_ig(const ExplanationMethod& m, const Tensor& x, const Target& t,
                                const Params& p, ExplainContext& ctx) {
    const int steps = static_cast<int>(m.param(p, "steps"));
    const double fraction = m.param(p, "fraction"), max_dist = m.param(p, "max_dist");
    const int64_t n = x.size(), c = x.shape()[3];
    const size_t un = static_cast<size_t>(n);
    const std::vector<float> black = black_value(ctx.probe.input_spec());
    std::vector<double> xin(un), x0(un), cur(un), attr(un, 0.0);
    for (size_t i = 0; i < un; ++i) {
        xin[i] = x[static_cast<int64_t>(i)];
        x0[i] = black[i % static_cast<size_t>(c)];
    }
    cur = x0;

    double score_x = 0, score_x0 = 0;
    {
        Tensor ends(Shape{2, x.shape()[1], x.shape()[2], c});
        for (size_t i = 0; i < un; ++i) {
            ends[static_cast<int64_t>(i)] = x[static_cast<int64_t>(i)];
            ends[n + static_cast<int64_t>(i)] = static_cast<float>(x0[i]);
        }
        auto res = ctx.probe.run(ends, ProbeRequest{});
        if (!res) return res.status();
        score_x = target_score(*res, 0, t);
        score_x0 = target_score(*res, 1, t);
    }
    double l1_total = 0;
    for (size_t i = 0; i < un; ++i) l1_total += std::fabs(xin[i] - x0[i]);

    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> g(un), xmin(un), xmax(un), absg(un), sorted(un), old(un);
    std::vector<uint8_t> sel(un);
    Tensor point(x.shape());
    int64_t inner = 0;
    for (int step = 0; step < steps && l1_total > 0; ++step) {
        for (size_t i = 0; i < un; ++i) point[static_cast<int64_t>(i)] = static_cast<float>(cur[i]);
        auto r = input_gradients(ctx.probe, point, t);
        if (!r) return r.status();
        const float* grad = r->input_grad.data();
        for (size_t i = 0; i < un; ++i) g[i] = grad[i];
        const double alpha = (step + 1.0) / steps;
        const double amin = std::max(alpha - max_dist, 0.0), amax = std::min(alpha + max_dist, 1.0);
        for (size_t i = 0; i < un; ++i) {
            xmin[i] = x0[i] + (xin[i] - x0[i]) * amin;
            xmax[i] = x0[i] + (xin[i] - x0[i]) * amax;
        }
        const double l1_target = l1_total * (1 - (step + 1.0) / steps);
        // Each pass either reaches the target or pins at least one more feature at its upper
        // edge, so a step takes at most n + 1 passes. A pass with nothing left to move, or a
        // path already past the target, ends the step (PAIR would loop or assert there).
        for (int64_t pass = 0; pass <= n; ++pass) {
            ++inner;
            old = cur;
            for (size_t i = 0; i < un; ++i) {
                const double d = xin[i] - x0[i];
                const double a = d != 0 ? (cur[i] - x0[i]) / d : amax;
                if (a < amin) cur[i] = xmin[i];
            }
            double l1 = 0;
            for (size_t i = 0; i < un; ++i) l1 += std::fabs(cur[i] - xin[i]);
            const bool done = l1 < l1_target || std::fabs(l1 - l1_target) <=
                                                    std::max(1e-9 * std::max(l1, l1_target), 1e-9);
            double gamma = 0;
            if (!done) {
                for (size_t i = 0; i < un; ++i) {
                    if (cur[i] == xmax[i]) g[i] = inf;
                    absg[i] = std::fabs(g[i]);
                }
                sorted = absg;
                const size_t k =
                    static_cast<size_t>(std::floor(fraction * static_cast<double>(un - 1)));
                std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k),
                                 sorted.end());
                const double threshold = sorted[k];
                double l1_s = 0;
                for (size_t i = 0; i < un; ++i) {
                    sel[i] = absg[i] <= threshold && g[i] != inf;
                    if (sel[i]) l1_s += std::fabs(cur[i] - xmax[i]);
                }
                gamma = l1_s > 0 ? (l1 - l1_target) / l1_s : 0;
                for (size_t i = 0; i < un; ++i)
                    if (sel[i]) cur[i] = gamma > 1 ? xmax[i] : cur[i] + (xmax[i] - cur[i]) * gamma;
            }
            for (size_t i = 0; i < un; ++i) attr[i] += (cur[i] - old[i]) * grad[i];
            if (!(gamma > 1)) break;
        }
        if (!ctx.report(static_cast<float>(step + 1) / steps))
            return cancelled("guided_ig cancelled after " + std::to_string(step + 1) + " of " +
                             std::to_string(steps) + " steps");
    }
    Tensor a(x.shape()), base(x.shape());
    double total = 0;
    for (size_t i = 0; i < un; ++i) {
        a[static_cast<int64_t>(i)] = static_cast<float>(attr[i]);
        base[static_cast<int64_t>(i)] = static_cast<float>(x0[i]);
        total += attr[i];
    }
    Explanation e = path_explanation(std::move(a), base, total, score_x, score_x0);
    e.stats["passes"] = static_cast<double>(inner);
    return e;
}

}  // namespace

const ExplanationMethod& method_GuidedIG() {
    static const FnMethod m(
        {.name = "guided_ig",
         .title = "Guided IG",
         .traits = {.cost = MethodCost::kJob, .norm = MapNorm::kSignedPercentile99},
         .card = {.what = "Integrated Gradients on a path of its own choosing: at each step it "
                          "first moves the pixels "
                          "whose gradient is smallest, which keeps noise from unrelated pixels out "
                          "of the map.",
                  .passes = "{steps} forward and backward passes, one image at a time",
                  .paper = "Kapishnikov, Venugopalan, Avci, Wedin, Terry & Birdwell 2021, Guided "
                           "Integrated Gradients: "
                           "an Adaptive Path Method for Removing Noise",
                  .anchor = "PAIR saliency's guided_ig"},
         .params = {{.name = "steps",
                     .label = "Path steps",
                     .def = 200,
                     .min = 1,
                     .max = 10000,
                     .integer = true,
                     .help = "Steps from the black baseline to the image, one gradient each.",
                     .anchor = "PAIR's x_steps"},
                    {.name = "fraction",
                     .label = "Share moved",
                     .def = 0.25,
                     .min = 0,
                     .max = 1,
                     .help = "Share of the pixels, smallest gradient first, moved at each pass.",
                     .anchor = "PAIR"},
                    {.name = "max_dist",
                     .label = "Path freedom",
                     .def = 0.02,
                     .min = 0,
                     .max = 1,
                     .help = "How far a pixel may stray from the straight path, as a fraction of "
                             "the way (0 is plain IG).",
                     .anchor = "PAIR"}},
         .explain = guided_ig});
    return m;
}

}  // namespace cnnlens
