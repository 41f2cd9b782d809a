// Deletion and insertion curves: how fast the target score falls when the pixels an explanation
// ranks highest are removed, and how fast it rises when they are put back into a blurred image.
// Petsiuk, Das, Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box Models",
// BMVC 2018, section 4.1 (causal metrics). A random pixel order gives the curves to beat.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/explain/probe.h"

namespace cnnlens {

// What a removed pixel becomes.
enum class FaithBaseline {
    // The input value of pixel 0 (0 for [0,1] inputs): RISE's deletion substrate. On 64x64 faces
    // scattered black dots destroy the image faster than any region does, so random order beats
    // every map at deletion; kBlur makes deletion curves that separate maps from random.
    kBlack,
    kBlur,  // the same pixel of a Gaussian-blurred copy (RISE's insertion substrate)
};

struct FaithfulnessOptions {
    int steps = 32;  // curve points: steps + 1, at k/steps of the pixels
    // Blurred by default (RISE deletes to black): see kBlack for why black misleads on small faces.
    FaithBaseline deletion_baseline = FaithBaseline::kBlur;
    FaithBaseline insertion_baseline = FaithBaseline::kBlur;
    // In input pixels. RISE blurs 224 px images with sigma 5 (11x11 kernel); scaled to 64 px
    // (sigma 1.5) the bundled model still reads the astronaut as happy (p 0.86), at 4 not (0.40).
    float blur_sigma = 4.f;
    Target::Score score = Target::Score::kProbability;  // RISE uses the class probability
    int random_orders = 1;                              // random-order curves averaged
    uint64_t seed = 1;                                  // for the random orders
};

// A score curve over the fraction of pixels changed.
struct FaithCurve {
    std::vector<float> fraction;  // [steps + 1], 0 .. 1
    std::vector<float> score;     // target score after changing that fraction
    double auc = 0;               // trapezoid rule over fraction in [0, 1]
};

struct FaithfulnessResult {
    int cls = 0;
    FaithCurve deletion, insertion;                // pixels in the order of the map
    FaithCurve deletion_random, insertion_random;  // in seeded random orders (mean curve)
};

// `image` is one input row [1, H, W, C] in model input space; `map` is an explanation map
// [H, W] (Explanation::map). Pixels are ranked by map value, highest first (ties by position);
// all channels of a pixel change together. Deletion starts from the image and moves pixels to
// the deletion baseline; insertion starts from the insertion baseline and restores the image's
// pixels. A faithful map gives a low deletion AUC and a high insertion AUC. Each curve is one
// batch of steps + 1 images through the probe. `progress` is called after each curve; returning
// false cancels (kCancelled).
Expected<FaithfulnessResult> deletion_insertion(ModelProbe& probe, const Tensor& image,
                                                const Tensor& map, int cls,
                                                const FaithfulnessOptions& options = {},
                                                const std::function<bool(float)>& progress = {});

// Area under a piecewise-linear curve by the trapezoid rule (x ascending).
double trapezoid_auc(const std::vector<float>& x, const std::vector<float>& y);

// Pixel indices (y * W + x) ordered by map value, highest first, ties by index.
std::vector<int> rank_pixels(const Tensor& map);

}  // namespace cnnlens
