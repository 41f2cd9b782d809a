// GradientSHAP (Lundberg & Lee 2017, as Captum's GradientShap defines it): the mean over
// `samples` draws of grad f(x0 + alpha (x' - x0)) * (x' - x0), where per draw the baseline x0
// comes from a distribution, x' = x + N(0, noise^2) and alpha ~ U(0, 1). Its expectation
// approximates the SHAP values for the baseline distribution, so the attributions' sum estimates
// f(x) - E[f(x0)]. Like Captum (NoiseTunnel around InputBaselineXGradient), the factor is the
// noisy input's difference x' - x0; with noise 0 (Captum's default) it is x - x0. Captum's
// n_samples default is 5; we take 50, as Captum's tutorials do: five draws leave a speckled map.
//
// Baseline distributions: the black image and the image blurred (one of the two per draw, as a
// Captum user passes torch.cat([black, blurred]) for baselines), the black image alone, or
// Gaussian noise around the black image (sigma `baseline_noise`, fresh per draw). Draw k reads its
// own stream Rng(seed, k): the baseline (draw_baseline), then alpha (uniform()), then the input
// noise (normal(), pixel order, only when noise > 0), so the map depends on neither the batch
// size nor the thread count.
#include <algorithm>

#include "core/base/rng.h"
#include "core/base/thread_pool.h"
#include "core/explain/method_util.h"

namespace cnnlens {

void draw_baseline(int kind, Rng& rng, const Tensor& black, const Tensor& blurred,
                   float baseline_noise, float* out) {
    const int64_t per = black.size();
    const Tensor& pick = kind == 0 && rng.below(2) == 1 ? blurred : black;
    std::copy(pick.data(), pick.data() + per, out);
    if (kind == 2)
        for (int64_t i = 0; i < per; ++i) out[i] += baseline_noise * rng.normal();
}

namespace {

Expected<Explanation> gradient_shap(const ExplanationMethod& m, const Tensor& x, const Target& t,
                                    const Params& p, ExplainContext& ctx) {
    const int n = static_cast<int>(m.param(p, "samples"));
    const int kind = static_cast<int>(m.param(p, "baselines"));
    const float noise = static_cast<float>(m.param(p, "noise"));
    const float baseline_noise = static_cast<float>(m.param(p, "baseline_noise"));
    const int batch = static_cast<int>(m.param(p, "batch"));
    const int64_t per = x.size(), c = x.shape()[3];
    Tensor black(x.shape());
    const std::vector<float> bv = black_value(ctx.probe.input_spec());
    for (int64_t i = 0; i < per; ++i) black[i] = bv[static_cast<size_t>(i % c)];
    const Tensor blurred =
        kind == 0 ? gaussian_blur(x, static_cast<float>(m.param(p, "blur_sigma"))) : Tensor();
    std::vector<double> acc(static_cast<size_t>(per), 0.0);
    for (int first = 0; first < n;) {
        const int count = std::min(batch, n - first);
        Tensor points(Shape{count, x.shape()[1], x.shape()[2], c}), diffs(points.shape());
        parallel_for(count, 1, [&](int64_t k0, int64_t k1, int) {
            std::vector<float> x0(static_cast<size_t>(per));
            for (int64_t k = k0; k < k1; ++k) {
                Rng rng(ctx.seed, static_cast<uint64_t>(first + k));
                draw_baseline(kind, rng, black, blurred, baseline_noise, x0.data());
                const float alpha = rng.uniform();
                float* pt = points.data() + k * per;
                float* d = diffs.data() + k * per;
                for (int64_t i = 0; i < per; ++i)
                    pt[i] = x[i] + (noise > 0.f ? noise * rng.normal() : 0.f);
                for (int64_t i = 0; i < per; ++i) {
                    const float b = x0[static_cast<size_t>(i)];
                    d[i] = pt[i] - b;
                    pt[i] = b + alpha * d[i];
                }
            }
        });
        auto r = input_gradients(ctx.probe, points, t);
        if (!r) return r.status();
        parallel_for(per, 1024, [&](int64_t i0, int64_t i1, int) {
            for (int k = 0; k < count; ++k)
                for (int64_t i = i0; i < i1; ++i)
                    acc[static_cast<size_t>(i)] +=
                        static_cast<double>(r->input_grad[k * per + i]) * diffs[k * per + i];
        });
        first += count;
        if (!ctx.report(static_cast<float>(first) / n))
            return cancelled("gradient_shap cancelled after " + std::to_string(first) + " of " +
                             std::to_string(n) + " samples");
    }
    Tensor a(x.shape());
    double total = 0;
    for (int64_t i = 0; i < per; ++i) {
        a[i] = static_cast<float>(acc[static_cast<size_t>(i)] / n);
        total += acc[static_cast<size_t>(i)] / n;
    }
    Explanation e;
    e.map = sum_channels(a);
    a.reshape(Shape{x.shape()[1], x.shape()[2], c});
    e.attribution = std::move(a);
    e.stats["sum_attributions"] = total;
    return e;
}

}  // namespace

const ExplanationMethod& method_GradientShap() {
    static const FnMethod m(
        {.name = "gradient_shap",
         .title = "GradientSHAP",
         .traits = {.cost = MethodCost::kJob, .norm = MapNorm::kSignedPercentile99},
         .card = {.what = "The gradient at a random point between a random baseline and the "
                          "(optionally noisy) image, "
                          "times their difference, averaged over many draws: an estimate of the "
                          "SHAP values against the "
                          "baselines' distribution.",
                  .passes = "{samples} forward and backward passes, {batch} per engine call",
                  .paper =
                      "Lundberg & Lee 2017, A Unified Approach to Interpreting Model Predictions",
                  .anchor = "Captum GradientShap"},
         .params =
             {{.name = "samples",
               .label = "Draws",
               .def = 50,
               .min = 1,
               .max = 10000,
               .integer = true,
               .help = "Draws of baseline, noise and point on the path: more gives a steadier map.",
               .anchor = "Captum's tutorials; its n_samples default 5 leaves a speckled map"},
              baselines_param(),
              {.name = "noise",
               .label = "Input noise",
               .def = 0,
               .min = 0,
               .max = 10,
               .help =
                   "Sigma of the Gaussian noise added to the image per draw, in model input units.",
               .anchor = "Captum's stdevs"},
              baseline_noise_param(),
              blur_sigma_param(),
              batch_param("Draws", 50, 1000)},
         .explain = gradient_shap});
    return m;
}

}  // namespace cnnlens
