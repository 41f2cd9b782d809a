// The random-logit test: SSIM between the map of the target and of a random other class.
#include "core/eval/random_logit.h"

#include "core/base/rng.h"
#include "core/eval/sanity.h"

namespace cnnlens {

Expected<RandomLogitResult> random_logit(const ExplanationMethod& method, const Params& params,
                                         ModelProbe& probe, const Tensor& image,
                                         const Target& target, const Tensor& map, uint64_t seed,
                                         uint64_t explain_seed) {
    const int k = probe.num_classes();
    if (k < 2)
        return invalid_argument("random logit: the model has " + std::to_string(k) +
                                " class, so there is no other class to explain");
    if (target.cls < 0 || target.cls >= k)
        return invalid_argument("random logit: class " + std::to_string(target.cls) +
                                " is out of range (the model has " + std::to_string(k) +
                                " classes)");
    Rng rng(seed);
    int other = static_cast<int>(rng.below(static_cast<uint32_t>(k - 1)));
    if (other >= target.cls) ++other;
    return random_logit_against(method, params, probe, image, target, map, other, explain_seed);
}

Expected<RandomLogitResult> random_logit_against(const ExplanationMethod& method,
                                                 const Params& params, ModelProbe& probe,
                                                 const Tensor& image, const Target& target,
                                                 const Tensor& map, int other_class,
                                                 uint64_t explain_seed) {
    if (other_class < 0 || other_class >= probe.num_classes() || other_class == target.cls)
        return invalid_argument("random logit: other class " + std::to_string(other_class) +
                                " (expected a class of the model other than " +
                                std::to_string(target.cls) + ")");
    if (map.shape().rank() != 2 || map.shape()[0] < 7 || map.shape()[1] < 7)
        return invalid_argument("random logit: the map is " + map.shape().str() +
                                " (SSIM needs a map of at least 7x7)");
    Target t = target;
    t.cls = other_class;
    ExplainContext ctx(probe);
    ctx.seed = explain_seed;
    Expected<Explanation> e = method.explain(image, t, params, ctx);
    if (!e) return e.status();
    if (e->map.shape() != map.shape())
        return invalid_argument("random logit: " + std::string(method.name()) + " returned a map " +
                                e->map.shape().str() + " for class " + std::to_string(other_class) +
                                ", " + map.shape().str() + " for the target");
    RandomLogitResult r;
    r.other_class = other_class;
    r.ssim = ssim(abs_normalized(map), abs_normalized(e->map));
    r.other_map = std::move(e->map);
    return r;
}

}  // namespace cnnlens
