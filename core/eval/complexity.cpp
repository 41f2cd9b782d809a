// Sparseness (Gini) and complexity (entropy) of one map, accumulated in double.
#include "core/eval/complexity.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cnnlens {

namespace {

Status check_map(const Tensor& map, const char* metric) {
    if (map.size() == 0) return invalid_argument(std::string(metric) + ": the map is empty");
    for (int64_t i = 0; i < map.size(); ++i)
        if (!std::isfinite(map[i]))
            return invalid_argument(std::string(metric) + ": map value " + std::to_string(i) +
                                    " is " + std::to_string(map[i]) + " (expected finite)");
    return Status::ok();
}

}  // namespace

double sparseness(std::span<const float> map) {
    std::vector<double> a(map.size());
    for (size_t i = 0; i < map.size(); ++i) a[i] = std::fabs(static_cast<double>(map[i]));
    std::sort(a.begin(), a.end());
    const double n = static_cast<double>(a.size());
    double num = 0, sum = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        num += (2.0 * static_cast<double>(i + 1) - n - 1.0) * a[i];
        sum += a[i];
    }
    return sum > 0 ? num / (n * sum) : 0.0;
}

double complexity(std::span<const float> map) {
    double sum = 0;
    for (float v : map) sum += std::fabs(static_cast<double>(v));
    if (!(sum > 0)) return map.empty() ? 0.0 : std::log(static_cast<double>(map.size()));
    double h = 0;
    for (float v : map) {
        const double p = std::fabs(static_cast<double>(v)) / sum;
        if (p > 0) h -= p * std::log(p);
    }
    return h;
}

Expected<double> sparseness(const Tensor& map) {
    CNNLENS_RETURN_IF_ERROR(check_map(map, "sparseness"));
    return sparseness(std::span<const float>(map.data(), static_cast<size_t>(map.size())));
}

Expected<double> complexity(const Tensor& map) {
    CNNLENS_RETURN_IF_ERROR(check_map(map, "complexity"));
    return complexity(std::span<const float>(map.data(), static_cast<size_t>(map.size())));
}

}  // namespace cnnlens
