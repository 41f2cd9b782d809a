// How much a map changes when the input changes by a little noise the model should not care
// about: max-sensitivity and average sensitivity. Yeh, Hsieh, Suggala, Inouye, Ravikumar, "On the
// (In)fidelity and Sensitivity of Explanations", NeurIPS 2019, section 4 (SENS_MAX), and Bhatt
// et al. 2020 (the average, mu_A).
// Variant: Quantus's MaxSensitivity and AvgSensitivity: n samples of uniform noise in
// [-r, r] on every input value (no clipping), the explanation recomputed on each noisy input
// for the same target, ||map - map_noisy||_F / denominator; the maximum, resp. the mean, over
// the samples. Quantus's defaults are r = 0.2 on [0, 1] inputs and 200 samples; we measure r in
// units of the input's value range (so 0.2 on [0, 1] is Quantus's) and default to 10 samples,
// since each sample is a whole explanation. Quantus divides by ||x||_F, which leaves the map's
// own units in the score (a gradient map and a Grad-CAM map then differ by their scale, not by
// their stability); we divide by ||map||_F by default so methods compare, with
// SensitivityDenominator::kInput for Quantus's form.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/explain/explain.h"

namespace cnnlens {

enum class SensitivityDenominator {
    kMap,    // ||map||_F: relative change of the map (scale-free)
    kInput,  // ||x||_F: Quantus's
};

struct SensitivityOptions {
    int samples = 10;
    float radius = 0.2f;  // noise half-width, as a fraction of the input's value range
    SensitivityDenominator denominator = SensitivityDenominator::kMap;
    uint64_t seed = 1;          // for the noise
    uint64_t explain_seed = 1;  // ExplainContext::seed of every noisy explanation
};

struct SensitivityResult {
    double max = 0;   // max-sensitivity (0 when no sample: Quantus starts its maximum at 0)
    double mean = 0;  // average sensitivity
    std::vector<double> per_sample;
};

// `map` is the explanation of `image` [1, H, W, C] for `target` by `method` with `params`
// (Explanation::map [H, W]); each noisy input is explained the same way and compared with it.
// `progress` gets the fraction of samples done; returning false cancels (kCancelled). NaN when
// the denominator is 0.
Expected<SensitivityResult> sensitivity(const ExplanationMethod& method, const Params& params,
                                        ModelProbe& probe, const Tensor& image,
                                        const Target& target, const Tensor& map,
                                        const SensitivityOptions& options = {},
                                        const std::function<bool(float)>& progress = {});
// The same with given noise tensors (each shaped like `image`, added to it); options' samples,
// radius and seed are not used.
Expected<SensitivityResult> sensitivity(const ExplanationMethod& method, const Params& params,
                                        ModelProbe& probe, const Tensor& image,
                                        const Target& target, const Tensor& map,
                                        std::span<const Tensor> noise,
                                        const SensitivityOptions& options,
                                        const std::function<bool(float)>& progress = {});

// The half-width of radius r per channel in model input units: r (range_hi - range_lo), or r / std
// for a mean/std input.
std::vector<float> noise_half_width(const InputSpec& spec, int channels, float radius);

}  // namespace cnnlens
