// Infidelity: how well the map, read as a linear model of the score, predicts the score's change
// under random input perturbations. Yeh, Hsieh, Suggala, Inouye, Ravikumar, "On the (In)fidelity
// and Sensitivity of Explanations", NeurIPS 2019, definition 2.1:
//   INFD = E_I[(I^T map - (f(x) - f(x - I)))^2].
// Variant: Captum's infidelity with normalize=True, which first scales the map by the
// least-squares beta = E[I^T map . df] / E[(I^T map)^2] so the score does not depend on the map's
// units (methods compare), and Gaussian perturbations I ~ N(0, sigma^2) as in the paper's noisy
// baseline. A perturbation is per pixel, the same value on every channel (the map has one value
// per pixel). Quantus's Infidelity replaces patches by a baseline instead; we keep the paper's
// noise. 0 for a map equal to a linear model's weights; lower = more faithful.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/explain/probe.h"

namespace cnnlens {

struct InfidelityOptions {
    int samples = 50;
    float sigma = 0.1f;  // standard deviation, as a fraction of the input's value range
    Target::Score score = Target::Score::kLogit;
    uint64_t seed = 1;
    int batch = 32;  // perturbed images per probe call (and per progress report)
};

struct InfidelityResult {
    double infidelity = 0;
    double beta = 0;  // the map's least-squares scale
};

// `image` [1, H, W, C], `map` [H, W], class `cls`. `progress` gets the fraction of samples done;
// returning false cancels (kCancelled).
Expected<InfidelityResult> infidelity(ModelProbe& probe, const Tensor& image, const Tensor& map,
                                      int cls, const InfidelityOptions& options = {},
                                      const std::function<bool(float)>& progress = {});
// The same with given perturbations, each [H, W] in model input units; options' samples, sigma
// and seed are not used.
Expected<InfidelityResult> infidelity(ModelProbe& probe, const Tensor& image, const Tensor& map,
                                      int cls, std::span<const Tensor> perturbations,
                                      const InfidelityOptions& options,
                                      const std::function<bool(float)>& progress = {});

}  // namespace cnnlens
