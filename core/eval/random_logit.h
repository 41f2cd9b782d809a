// The random-logit test: a map that explains the class should differ from the map of another
// class on the same input; modified-backprop methods often draw the same picture whatever the
// class. Sixt, Granz, Landgraf, "When Explanations Lie: Why Many Modified BP Attributions Fail",
// ICML 2020.
// Variant: Quantus's RandomLogit (one other class drawn uniformly from the rest, seeded, the
// same method, parameters and explanation seed, SSIM of the two maps). Quantus compares the
// maps flattened and normalised by their maximum; we compare them as images with the SSIM of the
// sanity check (ssim() in sanity.h: |map| min-max normalised, 7x7 windows, skimage's form), so
// the two randomization tests read alike. Lower = the map depends on the class.
#pragma once
#include <cstdint>
#include <functional>

#include "core/explain/explain.h"

namespace cnnlens {

struct RandomLogitResult {
    int other_class = -1;
    double ssim = 0;
    Tensor other_map;  // the other class's Explanation::map
};

// `map` is `method`'s map of `image` [1, H, W, C] for `target` (with `params` and ExplainContext
// seed `explain_seed`); the other class is drawn from the rest by Rng(seed). One explanation,
// so no progress of its own. Needs a model of at least 2 classes.
Expected<RandomLogitResult> random_logit(const ExplanationMethod& method, const Params& params,
                                         ModelProbe& probe, const Tensor& image,
                                         const Target& target, const Tensor& map, uint64_t seed,
                                         uint64_t explain_seed = 1);
// The same against a given other class.
Expected<RandomLogitResult> random_logit_against(const ExplanationMethod& method,
                                                 const Params& params, ModelProbe& probe,
                                                 const Tensor& image, const Target& target,
                                                 const Tensor& map, int other_class,
                                                 uint64_t explain_seed = 1);

}  // namespace cnnlens
