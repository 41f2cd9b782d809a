// SmoothGrad (Smilkov et al. 2017) as a wrapper over any gradient method: the attribution
// averaged over N noisy copies x + e, e ~ N(0, sigma^2), sigma = noise x (max(x) - min(x)) as
// PAIR does. Returns the mean (SmoothGrad), the mean of squares (SmoothGrad^2, PAIR's default)
// and the variance (VarGrad); `aggregate` picks the one shown. A base method that batches (the
// gradient family) runs the noisy copies in batches; any other is called once per copy.
#include <algorithm>
#include <cmath>
#include <iterator>

#include "core/base/rng.h"
#include "core/base/thread_pool.h"
#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

// The `base` parameter's choices: its value is the index, so the order is part of the interface.
constexpr std::string_view kBases[] = {"saliency", "gradient_x_input", "guided", "ig", "occlusion"};

Expected<Explanation> smoothgrad(const ExplanationMethod& m, const Tensor& x, const Target& t,
                                 const Params& p, ExplainContext& ctx) {
    const int n = static_cast<int>(m.param(p, "samples"));
    const int base = static_cast<int>(m.param(p, "base"));
    const ExplanationMethod* bm = find_method(kBases[base]);
    if (!bm)
        return not_found("smoothgrad: base method '" + std::string(kBases[base]) +
                         "' is not available");
    const int aggregate = static_cast<int>(m.param(p, "aggregate"));
    const int batch = static_cast<int>(m.param(p, "batch"));
    float lo = *std::min_element(x.data(), x.data() + x.size()),
          hi = *std::max_element(x.data(), x.data() + x.size());
    if (hi <= lo) {
        lo = ctx.probe.input_spec().range_lo;
        hi = ctx.probe.input_spec().range_hi;
    }
    const float sigma = static_cast<float>(m.param(p, "noise")) * (hi - lo);
    const int64_t per = x.size();
    std::vector<double> sum(static_cast<size_t>(per), 0.0), sumsq(static_cast<size_t>(per), 0.0);
    // Sums over the copies in copy order per pixel, pixels split across the pool's threads.
    auto add = [&](const float* a, int copies) {
        parallel_for(per, 1024, [&](int64_t i0, int64_t i1, int) {
            for (int k = 0; k < copies; ++k)
                for (int64_t i = i0; i < i1; ++i) {
                    const double v = a[k * per + i];
                    sum[static_cast<size_t>(i)] += v;
                    sumsq[static_cast<size_t>(i)] += v * v;
                }
        });
    };
    const bool batched = bm->batches();
    for (int first = 0; first < n;) {
        const int count = batched ? std::min(batch, n - first) : 1;
        // Copy k's noise comes from its own stream of the seed, so copies are drawn in parallel
        // and the result depends on neither the thread count nor the batch size.
        Tensor noisy = repeat_image(x, count);
        parallel_for(count, 1, [&](int64_t k0, int64_t k1, int) {
            for (int64_t k = k0; k < k1; ++k) {
                Rng rng(ctx.seed, static_cast<uint64_t>(first + k));
                float* img = noisy.data() + k * per;
                for (int64_t i = 0; i < per; ++i) img[i] += sigma * rng.normal();
            }
        });
        if (batched) {
            auto a = bm->attribute_batch(noisy, t, Params(), ctx);
            if (!a) return a.status();
            add(a->data(), count);
        } else {
            ExplainContext inner(ctx.probe);
            inner.seed = ctx.seed + static_cast<uint64_t>(first) + 1;
            auto e = bm->explain(noisy, t, Params(), inner);
            if (!e) return e.status();
            if (e->attribution.size() != per)
                return unsupported("smoothgrad: base method '" + std::string(bm->name()) +
                                   "' has no per-pixel attribution");
            add(e->attribution.data(), 1);
        }
        first += count;
        if (!ctx.report(static_cast<float>(first) / n))
            return cancelled("smoothgrad cancelled after " + std::to_string(first) + " of " +
                             std::to_string(n) + " samples");
    }
    const Shape hwc{x.shape()[1], x.shape()[2], x.shape()[3]};
    Tensor mean(hwc), meansq(hwc), var(hwc);
    for (int64_t i = 0; i < per; ++i) {
        const double mu = sum[static_cast<size_t>(i)] / n, sq = sumsq[static_cast<size_t>(i)] / n;
        mean[i] = static_cast<float>(mu);
        meansq[i] = static_cast<float>(sq);
        var[i] = static_cast<float>(std::max(0.0, sq - mu * mu));
    }
    auto as_batch = [&](const Tensor& a) {
        Tensor b = a.clone();
        b.reshape(x.shape());
        return b;
    };
    Explanation e;
    e.extras["mean"] = abs_sum_channels(as_batch(mean));
    e.extras["mean_signed"] = sum_channels(as_batch(mean));
    e.extras["mean_of_squares"] = sum_channels(as_batch(meansq));
    e.extras["variance"] = sum_channels(as_batch(var));
    const char* shown = aggregate == 0 ? "mean" : aggregate == 1 ? "mean_of_squares" : "variance";
    e.map = e.extras[shown].clone();
    e.attribution = aggregate == 0   ? std::move(mean)
                    : aggregate == 1 ? std::move(meansq)
                                     : std::move(var);
    e.stats["sigma"] = sigma;
    return e;
}

}  // namespace

const ExplanationMethod& method_SmoothGrad() {
    static const FnMethod m(
        {.name = "smoothgrad",
         .title = "SmoothGrad",
         .traits = {.cost = MethodCost::kJob, .norm = MapNorm::kPercentile99},
         .card = {.what = "A method (the gradient by default) averaged over copies of the image "
                          "with Gaussian noise "
                          "added, which removes the speckle of a single gradient. It can also show "
                          "the mean of squares "
                          "(SmoothGrad squared) or the variance (VarGrad) of the copies.",
                  .passes = "{samples} runs of {base}, {batch} copies per engine call (a gradient "
                            "is 1 forward and 1 backward pass)",
                  .paper = "Smilkov, Thorat, Kim, Viegas & Wattenberg 2017, SmoothGrad: removing "
                           "noise by adding noise",
                  .anchor =
                      "PAIR saliency (noise as a fraction of the value range); Captum NoiseTunnel"},
         .params = {{.name = "samples",
                     .label = "Noisy copies",
                     .def = 50,
                     .min = 1,
                     .max = 10000,
                     .integer = true,
                     .help = "How many noisy copies are averaged: more gives a steadier map and "
                             "costs as many passes.",
                     .anchor = "the paper's 50; PAIR uses 25"},
                    {.name = "noise",
                     .label = "Noise level",
                     .def = 0.15,
                     .min = 0,
                     .max = 1,
                     .help = "Standard deviation of the noise, as a fraction of the image's value "
                             "range (max - min).",
                     .anchor = "PAIR's stdev_spread; the paper: 10-20 %"},
                    {.name = "base",
                     .label = "Averaged method",
                     .def = 0,
                     .min = 0,
                     .max = std::size(kBases) - 1,
                     .integer = true,
                     .choices = {std::begin(kBases), std::end(kBases)},
                     .help = "The method run on each noisy copy.",
                     .anchor = "the paper (vanilla gradient)"},
                    {.name = "aggregate",
                     .label = "Map shown",
                     .def = 0,
                     .min = 0,
                     .max = 2,
                     .integer = true,
                     .choices = {"mean", "mean_of_squares", "variance"},
                     .help = "Mean (SmoothGrad), mean of squares (SmoothGrad squared) or variance "
                             "(VarGrad) of the copies.",
                     .anchor = "the paper (mean); PAIR shows the mean of squares"},
                    batch_param("Noisy copies", 50, 1000)},
         .explain = smoothgrad});
    return m;
}

}  // namespace cnnlens
