// Part 5 of the report (report.h): the report's methods (saliency, SmoothGrad, LIME) and a seeded
// random map scored with the trust metrics on the report's images, one (method, image) at a
// time, then ranked and written as the HTML section with its mean deletion and insertion curves.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/eval/metric.h"
#include "core/report/report.h"

namespace cnnlens {

struct TrustScores {
    struct Method {
        std::string label;
        const ExplanationMethod* method = nullptr;  // null: the random map
        Params params;
        std::vector<std::vector<double>> values;  // [metric][image]
        std::vector<double> deletion, insertion;  // mean curves over the images
        std::vector<double> rank;                 // per ranked metric (1 = best; ties share)
        double mean_rank = 0;
    };
    std::vector<Method> methods;  // saliency, SmoothGrad, LIME, random map
    std::vector<const MetricDef*> metrics;
    std::vector<double> random_deletion, random_insertion;
    size_t images = 0;
};

TrustScores trust_start(const ReportOptions& options, size_t images);
// Scores methods[method] on image `image` (x, explaining class `cls`) with `map` (the method's
// map; ignored for the random map, which is drawn from the seed). On error nothing changes.
Status trust_score(TrustScores& t, GraphProbe& probe, size_t method, size_t image, const Tensor& x,
                   int cls, const Tensor& map, uint64_t seed, const ProgressFn& progress);
// Ranks the methods (every image scored) and returns the section; fills `table`.
std::string trust_html(TrustScores& t, uint64_t seed, TrustTable& table);

}  // namespace cnnlens
