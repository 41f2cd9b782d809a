// ROAD: remove the pixels a map ranks first (MoRF) or last (LeRF) by noisy linear imputation
// instead of a constant, so the shape of the removed region carries no class evidence of its
// own. Rong, Leemann, Borisov, Kasneci, Kasneci, "A Consistent and Efficient Evaluation Strategy
// for Attribution Methods", ICML 2022.
// Imputation (the paper's and Quantus's noisy_linear_imputation): each removed pixel takes the
// weighted mean of its 8 neighbours inside the image (weight 1/6 for the 4 direct, 1/12 for the
// diagonal ones), removed neighbours being unknowns of the same linear system, solved per channel;
// then Gaussian noise is added to the imputed values (Quantus: standard deviation 0.01).
// Variant: at each percentage p of pixels removed (floor(n p / 100), as Quantus), we record the
// target's score (the class probability by default) rather than Quantus's 0/1 "prediction still
// the label": the mean over a set at each p is then the soft form of ROAD's accuracy curve. The
// percentages are pytorch-grad-cam's ROAD set (10, 20, ..., 90); the one-number summaries are the
// curves' means over them. A faithful map: low MoRF (removing its top pixels hurts), high LeRF.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/base/rng.h"
#include "core/explain/probe.h"

namespace cnnlens {

struct RoadOptions {
    std::vector<int> percentages = {10, 20, 30, 40, 50, 60, 70, 80, 90};  // each in 0..99
    float noise = 0.01f;  // standard deviation, as a fraction of the input's value range
    Target::Score score = Target::Score::kProbability;
    uint64_t seed = 1;  // for the noise
};

struct RoadResult {
    std::vector<int> percentages;
    std::vector<float> morf, lerf;  // the target's score per percentage
    double morf_mean = 0, lerf_mean = 0;
};

// `image` [1, H, W, C], `map` [H, W], class `cls`. MoRF removes pixels by map value highest first,
// LeRF lowest first (ties by position in both). Two batches of percentages.size() images.
// `progress` is called after each curve; returning false cancels (kCancelled).
Expected<RoadResult> road(ModelProbe& probe, const Tensor& image, const Tensor& map, int cls,
                          const RoadOptions& options = {},
                          const std::function<bool(float)>& progress = {});

// The image [1, H, W, C] with the pixels where removed[y * W + x] != 0 imputed as above, plus
// N(0, noise_std[c]^2) per imputed value from `rng` (no draws when noise_std is all 0). At
// least one pixel must be kept (else the system has no solution): an error otherwise.
Expected<Tensor> noisy_linear_imputation(const Tensor& image, const std::vector<uint8_t>& removed,
                                         const std::vector<float>& noise_std, Rng& rng);

}  // namespace cnnlens
