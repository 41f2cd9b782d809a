#include "core/explain/least_squares.h"

#include <cassert>
#include <cmath>

namespace cnnlens {

int solve_psd(std::vector<double>& a, const std::vector<double>& b, size_t n,
              std::vector<double>& x) {
    assert(a.size() >= n * n && b.size() >= n);
    int undetermined = 0;
    std::vector<bool> dead(n, false);
    for (size_t j = 0; j < n; ++j) {
        const double tol = 1e-12 * (1.0 + std::fabs(a[j * n + j]));
        for (size_t k = 0; k < j; ++k) a[j * n + j] -= a[j * n + k] * a[j * n + k];
        if (a[j * n + j] <= tol) {
            dead[j] = true;
            ++undetermined;
            for (size_t k = 0; k <= j; ++k) a[j * n + k] = 0;
            for (size_t i = j + 1; i < n; ++i) a[i * n + j] = 0;
            continue;
        }
        const double d = std::sqrt(a[j * n + j]);
        a[j * n + j] = d;
        for (size_t i = j + 1; i < n; ++i) {
            double s = a[i * n + j];
            for (size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = s / d;
        }
    }
    // L u = b, then L^T x = u, skipping the undetermined directions.
    std::vector<double> u(n, 0.0);
    for (size_t j = 0; j < n; ++j) {
        if (dead[j]) continue;
        double s = b[j];
        for (size_t k = 0; k < j; ++k) s -= a[j * n + k] * u[k];
        u[j] = s / a[j * n + j];
    }
    x.assign(n, 0.0);
    for (size_t j = n; j-- > 0;) {
        if (dead[j]) continue;
        double s = u[j];
        for (size_t i = j + 1; i < n; ++i) s -= a[i * n + j] * x[i];
        x[j] = s / a[j * n + j];
    }
    return undetermined;
}

}  // namespace cnnlens
