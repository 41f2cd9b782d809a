// How concentrated a map is: sparseness (Gini index of |map|) and complexity (entropy of the
// normalised |map|). Neither calls the model; both read one map.
//   Sparseness: Chalasani et al., "Concise Explanations of Neural Networks using Adversarial
//   Training", ICML 2020. Complexity: Bhatt, Weller, Moura, "Evaluating and Aggregating
//   Feature-based Model Explanations", IJCAI 2020.
// Variant: Quantus's Sparseness and Complexity (abs = true, normalise off: both are invariant to
// a positive scale of the map). Quantus adds 1e-7 to every |a| before the Gini index so an
// all-zero map divides by something; we leave the values exact and define the all-zero map's
// sparseness as 0 and its complexity as log n (no pixel singled out, like a uniform map).
#pragma once
#include <span>

#include "core/base/status.h"
#include "core/tensor/tensor.h"

namespace cnnlens {

// Gini index of |a| over its n values: sorted ascending a_(1) <= ... <= a_(n),
//   G = sum_i (2i - n - 1) a_(i) / (n sum_i a_(i)).
// In [0, (n-1)/n]: 0 for a uniform map, (n-1)/n for a one-hot map. Higher = sparser: fewer
// pixels carry the attribution.
double sparseness(std::span<const float> map);

// Shannon entropy (natural log) of p_i = |a_i| / sum |a|, with 0 log 0 = 0. In [0, log n]: 0
// for a one-hot map, log n for a uniform one. Lower = simpler: the attribution sits on fewer
// pixels.
double complexity(std::span<const float> map);

// The same on an explanation map [H, W] (Explanation::map), with an error naming a map that is
// empty or holds a NaN or infinity.
Expected<double> sparseness(const Tensor& map);
Expected<double> complexity(const Tensor& map);

}  // namespace cnnlens
