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
         .params = {{"samples", 50, 1, 10000, "noisy copies N", {}, true},
                    {"noise", 0.15, 0, 1,
                     "sigma as a fraction of the image's value range (max - min)"},
                    {"base",
                     0,
                     0,
                     std::size(kBases) - 1,
                     "method averaged over the noisy copies",
                     {std::begin(kBases), std::end(kBases)},
                     true},
                    {"aggregate",
                     0,
                     0,
                     2,
                     "map shown: mean (SmoothGrad), mean of squares (SG^2), variance (VarGrad)",
                     {"mean", "mean_of_squares", "variance"},
                     true},
                    {"batch", 50, 1, 1000, "noisy copies per engine call", {}, true}},
         .explain = smoothgrad});
    return m;
}

}  // namespace cnnlens
