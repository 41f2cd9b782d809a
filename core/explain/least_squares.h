// Symmetric positive semi-definite solves for the surrogate fits of LIME (ridge regression) and
// KernelSHAP (constrained weighted least squares). Written here rather than taken from a linear
// algebra library: the systems are small (one unknown per superpixel), and both fits need the
// same treatment of a direction the samples never determine (a column that never varied): its
// unknown is 0, and it is counted, instead of a division by zero or a least-norm answer.
#pragma once

#include <cstddef>
#include <vector>

namespace cnnlens {

// Solves A x = b, A n x n symmetric given by its lower triangle (row-major; the upper one is not
// read). `a` is overwritten by its Cholesky factor. A pivot at or below 1e-12 (1 + |a_jj|) marks
// an undetermined direction: its x is 0. Returns how many there were.
int solve_psd(std::vector<double>& a, const std::vector<double>& b, size_t n,
              std::vector<double>& x);

}  // namespace cnnlens
