// Integrated Gradients (Sundararajan et al. 2017): (x - x0) times the average gradient along
// the straight path from a baseline x0 to x, by the midpoint Riemann rule
// (alpha_k = (k + 0.5) / steps). Baselines: black, blurred image, uniform noise (seeded).
// The completeness error |sum(attribution) - (f(x) - f(x0))| is reported.
#include <algorithm>
#include <cmath>

#include "core/base/rng.h"
#include "core/base/thread_pool.h"
#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

Expected<Explanation> ig(const ExplanationMethod& m, const Tensor& x, const Target& t,
                         const Params& p, ExplainContext& ctx) {
    const int steps = static_cast<int>(m.param(p, "steps"));
    const int kind = static_cast<int>(m.param(p, "baseline"));
    const int batch = static_cast<int>(m.param(p, "batch"));
    const InputSpec& spec = ctx.probe.input_spec();
    const int64_t per = x.size(), c = x.shape()[3];
    Tensor x0(x.shape());
    if (kind == 0) {
        const std::vector<float> black = black_value(spec);
        for (int64_t i = 0; i < per; ++i) x0[i] = black[static_cast<size_t>(i % c)];
    } else if (kind == 1) {
        x0 = gaussian_blur(x, static_cast<float>(m.param(p, "blur_sigma")));
    } else {
        Rng rng(ctx.seed);
        float lo = spec.range_lo, hi = spec.range_hi;
        if (!spec.mean.empty()) {
            lo = *std::min_element(x.data(), x.data() + per);
            hi = *std::max_element(x.data(), x.data() + per);
        }
        for (int64_t i = 0; i < per; ++i) x0[i] = rng.uniform(lo, hi);
    }
    std::vector<double> acc(static_cast<size_t>(per), 0.0);
    double score_x = 0, score_x0 = 0;
    // The endpoints' scores come from one extra two-image batch.
    {
        Tensor ends(Shape{2, x.shape()[1], x.shape()[2], c});
        std::copy(x.data(), x.data() + per, ends.data());
        std::copy(x0.data(), x0.data() + per, ends.data() + per);
        ProbeRequest r;
        auto res = ctx.probe.run(ends, r);
        if (!res) return res.status();
        score_x = target_score(*res, 0, t);
        score_x0 = target_score(*res, 1, t);
    }
    for (int first = 0; first < steps;) {
        const int count = std::min(batch, steps - first);
        Tensor path = repeat_image(x, count);
        parallel_for(count, 1, [&](int64_t k0, int64_t k1, int) {
            for (int64_t k = k0; k < k1; ++k) {
                const float a = (first + static_cast<float>(k) + 0.5f) / steps;
                for (int64_t i = 0; i < per; ++i) path[k * per + i] = x0[i] + a * (x[i] - x0[i]);
            }
        });
        auto r = input_gradients(ctx.probe, path, t);
        if (!r) return r.status();
        // Per pixel in step order, pixels split across the pool's threads.
        parallel_for(per, 1024, [&](int64_t i0, int64_t i1, int) {
            for (int k = 0; k < count; ++k)
                for (int64_t i = i0; i < i1; ++i)
                    acc[static_cast<size_t>(i)] += r->input_grad[k * per + i];
        });
        first += count;
        if (!ctx.report(static_cast<float>(first) / steps))
            return cancelled("integrated gradients cancelled after " + std::to_string(first) +
                             " of " + std::to_string(steps) + " steps");
    }
    Tensor a(x.shape());
    double total = 0;
    for (int64_t i = 0; i < per; ++i) {
        a[i] = static_cast<float>((x[i] - x0[i]) * acc[static_cast<size_t>(i)] / steps);
        total += a[i];
    }
    return path_explanation(std::move(a), x0, total, score_x, score_x0);
}

}  // namespace

Explanation path_explanation(Tensor a, const Tensor& baseline, double total, double score_x,
                             double score_baseline) {
    const Shape s = a.shape();
    Explanation e;
    e.map = sum_channels(a);
    e.extras["baseline"] = sum_channels(baseline);
    a.reshape(Shape{s[1], s[2], s[3]});
    e.attribution = std::move(a);
    const double delta = score_x - score_baseline;
    e.stats["sum_attributions"] = total;
    e.stats["score_delta"] = delta;
    e.stats["completeness_error"] = std::fabs(total - delta);
    e.stats["completeness_relative_error"] =
        std::fabs(total - delta) / std::max(std::fabs(delta), 1e-12);
    e.stats["score"] = score_x;
    return e;
}

const ExplanationMethod& method_IntegratedGradients() {
    static const FnMethod m(
        {.name = "ig",
         .title = "Integrated Gradients",
         .traits = {.cost = MethodCost::kJob, .norm = MapNorm::kSignedPercentile99},
         .card = {.what = "The gradient averaged along the straight path from a baseline image "
                          "(black by default) to "
                          "the image, times the difference between them: the attributions add up "
                          "to the score's change "
                          "from baseline to image (its completeness error is reported).",
                  .passes = "{steps} forward and backward passes, {batch} per engine call",
                  .paper = "Sundararajan, Taly & Yan 2017, Axiomatic Attribution for Deep Networks",
                  .anchor = "Captum IntegratedGradients (50 steps, black baseline)"},
         .params = {{.name = "steps",
                     .label = "Path steps",
                     .def = 50,
                     .min = 1,
                     .max = 10000,
                     .integer = true,
                     .help =
                         "Points on the path (midpoint rule): more lowers the completeness error.",
                     .anchor = "Captum's n_steps"},
                    {.name = "baseline",
                     .label = "Baseline",
                     .def = 0,
                     .min = 0,
                     .max = 2,
                     .integer = true,
                     .choices = {"black", "blurred", "uniform noise"},
                     .help =
                         "The image the path starts from: attributions explain the change from it.",
                     .anchor = "Captum and PAIR (zeros)"},
                    blur_sigma_param(),
                    batch_param("Path points", 50, 1000)},
         .explain = ig});
    return m;
}

}  // namespace cnnlens
