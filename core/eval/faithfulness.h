// Deletion and insertion curves: how fast the target score falls when the pixels an explanation
// ranks highest are removed, and how fast it rises when they are put back into a blurred image.
// Petsiuk, Das, Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box Models",
// BMVC 2018, section 4.1 (causal metrics). A random pixel order gives the curves to beat.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
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
    kMean,  // each channel's mean over the image (Quantus's "mean" baseline)
};

// The image [1, H, W, C] with every pixel replaced as `baseline` says (`sigma` for kBlur, in
// pixels; `spec` gives kBlack's value).
Tensor faith_baseline(const Tensor& image, FaithBaseline baseline, float sigma,
                      const InputSpec& spec);
// "black", "blur", "mean"; parse_faith_baseline returns an error naming the unknown word.
const char* faith_baseline_name(FaithBaseline b);
Expected<FaithBaseline> parse_faith_baseline(std::string_view name);

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

// Faithfulness correlation: Bhatt, Weller, Moura, "Evaluating and Aggregating Feature-based
// Model Explanations", IJCAI 2020, section 3.1 (mu_F). For `runs` random subsets S of
// `subset_size` pixels, the pixels of S are set to the baseline; the score is Pearson's
// correlation between sum_{i in S} map_i and score(x) - score(x with S replaced), over the runs.
// In [-1, 1]; higher = the map's values predict how much the score drops when those pixels go.
// Variant: Quantus's FaithfulnessCorrelation with its defaults (100 runs, |S| = 224, black
// baseline, logits, subsets drawn without replacement), except that a subset is of pixels (all
// channels together, as deletion does) and the map is used as is: Quantus first normalises it
// (positive values by the maximum, negative by the minimum), which for a map of one sign is a
// positive scale that Pearson ignores. NaN when either side is constant over the runs.
struct FaithCorrelationOptions {
    int runs = 100;
    int subset_size = 224;  // pixels; at most H*W
    FaithBaseline baseline = FaithBaseline::kBlack;
    float blur_sigma = 4.f;  // for kBlur
    Target::Score score = Target::Score::kLogit;
    uint64_t seed = 1;  // for the subsets
    int batch = 32;     // perturbed images per probe call (and per progress report)
};

struct FaithCorrelationResult {
    double correlation = 0;
    std::vector<double> attribution_sums;  // [runs]
    std::vector<double> score_drops;       // [runs]
};

// `image` [1, H, W, C], `map` [H, W], target `cls` (contrast -1). `progress` gets the fraction of
// runs done; returning false cancels (kCancelled).
Expected<FaithCorrelationResult> faithfulness_correlation(
    ModelProbe& probe, const Tensor& image, const Tensor& map, int cls,
    const FaithCorrelationOptions& options = {}, const std::function<bool(float)>& progress = {});
// The same on given subsets (pixel indices y * W + x, each distinct within a subset); options'
// runs, subset_size and seed are not used. The seeded form draws its subsets and calls this.
Expected<FaithCorrelationResult> faithfulness_correlation(
    ModelProbe& probe, const Tensor& image, const Tensor& map, int cls,
    const std::vector<std::vector<int>>& subsets, const FaithCorrelationOptions& options,
    const std::function<bool(float)>& progress = {});
// `count` subsets of `size` distinct indices below n, by a partial Fisher-Yates shuffle of
// Rng(seed).
std::vector<std::vector<int>> random_subsets(int n, int size, int count, uint64_t seed);

// Pearson's correlation; NaN when either side is constant or they differ in length.
double pearson(std::span<const double> a, std::span<const double> b);

// Area under a piecewise-linear curve by the trapezoid rule (x ascending).
double trapezoid_auc(const std::vector<float>& x, const std::vector<float>& y);

// Pixel indices (y * W + x) ordered by map value, highest first, ties by index.
std::vector<int> rank_pixels(const Tensor& map);

}  // namespace cnnlens
