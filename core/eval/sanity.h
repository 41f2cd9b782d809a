// The model-randomization sanity check: an explanation that barely changes when the model's
// weights are replaced by noise does not explain the model. Adebayo et al., "Sanity Checks for
// Saliency Maps", NeurIPS 2018 (cascading and independent randomization, Spearman / SSIM).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/explain/explain.h"
#include "core/import/model.h"

namespace cnnlens {

// Deep copies (Tensor is move-only, so Const values are cloned). The copy shares nothing.
Graph clone_graph(const Graph& g);
Model clone_model(const Model& m);

// Layers whose weights are randomized: Conv2D (depthwise included) and MatMul nodes with
// constant weights, from the logits side down (descending node index, i.e. reverse
// topological order).
std::vector<int> randomizable_layers(const Graph& g);

// Replaces the weights of `node` (a Conv2D or MatMul) by N(0, s^2) noise, s the standard
// deviation of the original weights; likewise the bias when `bias` is true. The noise depends
// only on (seed, node), so a layer gets the same weights in cascading and independent runs.
// Executors built on `g` before must be rebuilt (or invalidated).
Status randomize_layer(Graph& g, int node, uint64_t seed, bool bias = true);

enum class SanityMode {
    kCascading,    // step k randomizes the k top layers (Adebayo's cascading randomization)
    kIndependent,  // step k randomizes only the k-th layer from the top
};

struct SanityOptions {
    SanityMode mode = SanityMode::kCascading;
    uint64_t seed = 1;  // weight noise
    bool randomize_bias = true;
    int max_layers = 0;         // 0: every randomizable layer
    uint64_t explain_seed = 1;  // the same for every step, so stochastic methods share noise
    int max_batch = 64;         // of each step's GraphProbe
};

struct SanityStep {
    std::string layer;  // display name of the layer randomized at this step ("" at step 0)
    int node = -1;
    // Between this step's map and the original (step 0 compares the unmodified copy: 1 for
    // deterministic methods, which also checks the copy).
    double spearman_abs = 0;       // Spearman rank correlation of |map|
    double spearman_signed = 0;    // of the signed map (Explanation::extras["signed"] or the map)
    double ssim = 0;               // SSIM of |map|, each min-max normalized to [0,1]
    float target_probability = 0;  // the randomized model's probability of the target class
    Tensor map;                    // this step's Explanation::map [H, W]
};

// Explains `image` ([1,H,W,C], model input space) for `target` with `method` on step 0 (an
// unmodified copy of `model`) and after each randomization step, each on a fresh GraphProbe of
// a randomized copy; `model` is not touched. `progress` gets the fraction of steps done;
// returning false cancels (kCancelled).
Expected<std::vector<SanityStep>> model_randomization(
    const Model& model, const KernelSet& kernels, const ExplanationMethod& method,
    const Tensor& image, const Target& target, const Params& params = {},
    const SanityOptions& options = {}, const std::function<bool(float)>& progress = {});

// The signed map of an explanation: the map when signed, else extras["signed"], else the
// attribution summed over channels, else the map.
Tensor signed_map(const Explanation& e);

// |map| min-max normalized to [0, 1] (all 0 for a constant |map|): what ssim() compares.
Tensor abs_normalized(const Tensor& map);

// Spearman rank correlation (ties get average ranks); 0 when either input is constant.
double spearman(std::span<const float> a, std::span<const float> b);
// Mean SSIM of two [H, W] maps with values in [0, 1]: 7x7 uniform windows, K1 = 0.01,
// K2 = 0.03, sample covariances, image border of 3 excluded (skimage's structural_similarity).
double ssim(const Tensor& a, const Tensor& b);

}  // namespace cnnlens
