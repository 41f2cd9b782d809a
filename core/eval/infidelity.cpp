// Infidelity under Gaussian perturbations, with Captum's normalisation of the map's scale.
#include "core/eval/infidelity.h"

#include <algorithm>
#include <cmath>

#include "core/base/rng.h"
#include "core/eval/robustness.h"
#include "core/explain/method_util.h"

namespace cnnlens {

Expected<InfidelityResult> infidelity(ModelProbe& probe, const Tensor& image, const Tensor& map,
                                      int cls, const InfidelityOptions& opt,
                                      const std::function<bool(float)>& progress) {
    const Shape& s = image.shape();
    if (s.rank() != 4 || s[0] != 1)
        return invalid_argument("infidelity: expects one image [1,H,W,C], got " + s.str());
    if (opt.samples < 2)
        return invalid_argument("infidelity: samples = " + std::to_string(opt.samples) +
                                " (expected >= 2)");
    if (!(opt.sigma > 0) || !std::isfinite(opt.sigma))
        return invalid_argument("infidelity: sigma = " + std::to_string(opt.sigma) +
                                " (expected > 0)");
    // One noise value per pixel: the channel widths differ only for mean/std inputs, whose
    // first channel sets the scale.
    const float sd = noise_half_width(probe.input_spec(), 1, opt.sigma)[0];
    Rng rng(opt.seed);
    std::vector<Tensor> noise;
    for (int k = 0; k < opt.samples; ++k) {
        Tensor e(Shape{s[1], s[2]});
        for (int64_t i = 0; i < e.size(); ++i) e[i] = sd * rng.normal();
        noise.push_back(std::move(e));
    }
    return infidelity(probe, image, map, cls, noise, opt, progress);
}

Expected<InfidelityResult> infidelity(ModelProbe& probe, const Tensor& image, const Tensor& map,
                                      int cls, std::span<const Tensor> noise,
                                      const InfidelityOptions& opt,
                                      const std::function<bool(float)>& progress) {
    const Shape& s = image.shape();
    if (s.rank() != 4 || s[0] != 1)
        return invalid_argument("infidelity: expects one image [1,H,W,C], got " + s.str());
    if (map.shape() != Shape{s[1], s[2]})
        return invalid_argument("infidelity: the map is " + map.shape().str() +
                                " but the image is " + std::to_string(s[1]) + "x" +
                                std::to_string(s[2]));
    if (cls < 0 || cls >= probe.num_classes())
        return invalid_argument("infidelity: class " + std::to_string(cls) +
                                " is out of range (the model has " +
                                std::to_string(probe.num_classes()) + " classes)");
    if (noise.empty()) return invalid_argument("infidelity: no perturbations");
    if (opt.batch < 1)
        return invalid_argument("infidelity: batch = " + std::to_string(opt.batch) +
                                " (expected >= 1)");
    for (size_t k = 0; k < noise.size(); ++k)
        if (noise[k].shape() != map.shape())
            return invalid_argument("infidelity: perturbation " + std::to_string(k) + " is " +
                                    noise[k].shape().str() + ", the map " + map.shape().str());
    Target t;
    t.cls = cls;
    t.score = opt.score;
    Expected<ProbeResult> r0 = probe.run(image, ProbeRequest{});
    if (!r0) return r0.status();
    const double y = target_score(*r0, 0, t);
    const int64_t n = s[1] * s[2], c = s[3];
    const int total = static_cast<int>(noise.size());
    std::vector<double> dot, drop;
    for (int first = 0; first < total; first += opt.batch) {
        const int count = std::min(opt.batch, total - first);
        Tensor batch = repeat_image(image, count);
        for (int k = 0; k < count; ++k) {
            const Tensor& e = noise[static_cast<size_t>(first + k)];
            float* row = batch.data() + k * n * c;
            double d = 0;
            for (int64_t p = 0; p < n; ++p) {
                for (int64_t ch = 0; ch < c; ++ch) row[p * c + ch] -= e[p];
                d += static_cast<double>(e[p]) * map[p];
            }
            dot.push_back(d);
        }
        Expected<ProbeResult> r = probe.run(batch, ProbeRequest{});
        if (!r) return r.status();
        for (int k = 0; k < count; ++k) drop.push_back(y - target_score(*r, k, t));
        const int done = first + count;
        if (progress && !progress(static_cast<float>(done) / static_cast<float>(total)) &&
            done < total)
            return cancelled("infidelity cancelled after " + std::to_string(done) + " of " +
                             std::to_string(total) + " perturbations");
    }
    double num = 0, den = 0;
    for (size_t k = 0; k < dot.size(); ++k) num += dot[k] * drop[k], den += dot[k] * dot[k];
    InfidelityResult res;
    res.beta = den > 0 ? num / den : 0.0;
    double sum = 0;
    for (size_t k = 0; k < dot.size(); ++k) {
        const double e = res.beta * dot[k] - drop[k];
        sum += e * e;
    }
    res.infidelity = sum / static_cast<double>(dot.size());
    return res;
}

}  // namespace cnnlens
