// Max and average sensitivity of a method's map under uniform input noise.
#include "core/eval/robustness.h"

#include <cmath>

#include "core/base/rng.h"

namespace cnnlens {

std::vector<float> noise_half_width(const InputSpec& spec, int channels, float radius) {
    std::vector<float> w(static_cast<size_t>(channels), radius * (spec.range_hi - spec.range_lo));
    if (!spec.mean.empty() && spec.std.size() == spec.mean.size())
        for (int k = 0; k < channels; ++k)
            w[static_cast<size_t>(k)] =
                radius / spec.std[spec.std.size() == 1 ? 0 : static_cast<size_t>(k)];
    return w;
}

Expected<SensitivityResult> sensitivity(const ExplanationMethod& method, const Params& params,
                                        ModelProbe& probe, const Tensor& image,
                                        const Target& target, const Tensor& map,
                                        const SensitivityOptions& opt,
                                        const std::function<bool(float)>& progress) {
    if (opt.samples < 0)
        return invalid_argument("sensitivity: samples = " + std::to_string(opt.samples) +
                                " (expected >= 0)");
    if (!(opt.radius >= 0) || !std::isfinite(opt.radius))
        return invalid_argument("sensitivity: radius = " + std::to_string(opt.radius) +
                                " (expected a finite value >= 0)");
    if (image.shape().rank() != 4)
        return invalid_argument("sensitivity: expects one image [1,H,W,C], got " +
                                image.shape().str());
    const int64_t c = image.shape()[3];
    const std::vector<float> w =
        noise_half_width(probe.input_spec(), static_cast<int>(c), opt.radius);
    Rng rng(opt.seed);
    std::vector<Tensor> noise;
    for (int k = 0; k < opt.samples; ++k) {
        Tensor e(image.shape());
        for (int64_t i = 0; i < e.size(); ++i) {
            const float h = w[static_cast<size_t>(i % c)];
            e[i] = rng.uniform(-h, h);
        }
        noise.push_back(std::move(e));
    }
    return sensitivity(method, params, probe, image, target, map, noise, opt, progress);
}

Expected<SensitivityResult> sensitivity(const ExplanationMethod& method, const Params& params,
                                        ModelProbe& probe, const Tensor& image,
                                        const Target& target, const Tensor& map,
                                        std::span<const Tensor> noise,
                                        const SensitivityOptions& opt,
                                        const std::function<bool(float)>& progress) {
    const Shape& s = image.shape();
    if (s.rank() != 4 || s[0] != 1)
        return invalid_argument("sensitivity: expects one image [1,H,W,C], got " + s.str());
    if (map.shape() != Shape{s[1], s[2]})
        return invalid_argument("sensitivity: the map is " + map.shape().str() +
                                " but the image is " + std::to_string(s[1]) + "x" +
                                std::to_string(s[2]));
    for (size_t k = 0; k < noise.size(); ++k)
        if (noise[k].shape() != s)
            return invalid_argument("sensitivity: noise sample " + std::to_string(k) + " is " +
                                    noise[k].shape().str() + ", the image " + s.str());
    double denom = 0;
    const Tensor& d = opt.denominator == SensitivityDenominator::kMap ? map : image;
    for (int64_t i = 0; i < d.size(); ++i) denom += static_cast<double>(d[i]) * d[i];
    denom = std::sqrt(denom);

    SensitivityResult res;
    ExplainContext ctx(probe);
    ctx.seed = opt.explain_seed;
    const size_t n = noise.size();
    for (size_t k = 0; k < n; ++k) {
        Tensor x = image.clone();
        for (int64_t i = 0; i < x.size(); ++i) x[i] += noise[k][i];
        Expected<Explanation> e = method.explain(x, target, params, ctx);
        if (!e) return e.status();
        if (e->map.shape() != map.shape())
            return invalid_argument("sensitivity: " + std::string(method.name()) +
                                    " returned a map " + e->map.shape().str() +
                                    " for a noisy input, " + map.shape().str() + " for the image");
        double num = 0;
        for (int64_t i = 0; i < map.size(); ++i) {
            const double diff = static_cast<double>(map[i]) - e->map[i];
            num += diff * diff;
        }
        const double v = denom > 0 ? std::sqrt(num) / denom : NAN;
        res.per_sample.push_back(v);
        if (v > res.max) res.max = v;
        const float f = static_cast<float>(k + 1) / static_cast<float>(n);
        if (progress && !progress(f) && k + 1 < n)
            return cancelled("sensitivity cancelled after " + std::to_string(k + 1) + " of " +
                             std::to_string(n) + " samples");
    }
    double sum = 0;
    for (double v : res.per_sample) sum += v;
    res.mean = n > 0 ? sum / static_cast<double>(n) : 0.0;
    if (!(denom > 0) && n > 0) res.max = NAN;
    return res;
}

}  // namespace cnnlens
