// The trust metrics as one list: what each is called, what a good value looks like, and how to
// compute it on one map. The CLI's `evaluate` and the app read this list; neither compares
// metric names. Each family lives in its own file with its definition and paper
// (complexity.h, faithfulness.h, infidelity.h, road.h, robustness.h, random_logit.h).
#pragma once
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/eval/faithfulness.h"
#include "core/eval/infidelity.h"
#include "core/eval/road.h"
#include "core/eval/robustness.h"
#include "core/explain/explain.h"

namespace cnnlens {

// One map to score, and how it was made (robustness explains noisy copies the same way).
struct MetricInput {
    ModelProbe* probe = nullptr;
    Tensor image;                               // [1, H, W, C], model input space
    Target target;                              // the class the map explains (contrast unused)
    Tensor map;                                 // Explanation::map [H, W]
    const ExplanationMethod* method = nullptr;  // needed by the robustness metrics
    Params params;                              // the method's parameters
    uint64_t explain_seed = 1;                  // the map's ExplainContext::seed
};

// Every metric's settings; each family reads its own. Seeds are in each family's options.
struct MetricOptions {
    FaithfulnessOptions deletion{.steps = 32, .random_orders = 0};
    FaithCorrelationOptions correlation;
    SensitivityOptions sensitivity;
    RoadOptions road;
    InfidelityOptions infidelity;
    uint64_t random_logit_seed = 1;  // draws the other class
};

// What `cnnlens evaluate --seed SEED` uses when no other option is given: every family's
// defaults, each seed set to `seed`. The app's Trust section scores its map with these too, so
// the page and the CLI give the same numbers for the same map.
MetricOptions seeded_metric_options(uint64_t seed);

enum class MetricCost {
    kFree,   // reads the map only
    kModel,  // tens to hundreds of forward passes
    kJob,    // one explanation per sample
};

struct MetricDef {
    std::string_view name;   // "sparseness": CLI name, JSON key
    std::string_view title;  // "Sparseness (Gini)"
    std::string_view good;   // one line: what a good value looks like
    bool higher_is_better;
    MetricCost cost;
    std::string_view group;  // metrics of one group are computed together (one pass)
};

std::span<const MetricDef> all_metrics();
const MetricDef* find_metric(std::string_view name);
std::string metric_names();  // "sparseness, complexity, ..."

// The values of `metrics` for one map, in their order; a group is computed once. `progress`
// gets the fraction done over all of them; returning false cancels (kCancelled). A value may
// be NaN where its definition says so (a correlation over constant values).
Expected<std::vector<double>> compute_metrics(const MetricInput& input,
                                              std::span<const MetricDef* const> metrics,
                                              const MetricOptions& options = {},
                                              const std::function<bool(float)>& progress = {});

}  // namespace cnnlens
