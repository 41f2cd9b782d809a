// The metric list and the one entry point that computes any of them on one map.
#include "core/eval/metric.h"

#include <algorithm>
#include <map>

#include "core/eval/complexity.h"
#include "core/eval/infidelity.h"
#include "core/eval/random_logit.h"

namespace cnnlens {

namespace {

constexpr MetricDef kMetrics[] = {
    {"sparseness", "Sparseness (Gini of |map|)",
     "higher = the attribution sits on fewer pixels (0 uniform, 1 one pixel)", true,
     MetricCost::kFree, "sparseness"},
    {"complexity", "Complexity (entropy of |map|)",
     "lower = a simpler map (0 one pixel, log n uniform)", false, MetricCost::kFree, "complexity"},
    {"deletion_auc", "Deletion AUC",
     "lower = removing the map's top pixels first makes the score fall fast", false,
     MetricCost::kModel, "deletion_insertion"},
    {"insertion_auc", "Insertion AUC",
     "higher = restoring the map's top pixels first brings the score back fast", true,
     MetricCost::kModel, "deletion_insertion"},
    {"faithfulness_correlation", "Faithfulness correlation",
     "higher = pixels with more attribution cost more score when removed (-1..1)", true,
     MetricCost::kModel, "faithfulness_correlation"},
    {"infidelity", "Infidelity (Yeh et al., scale-normalised)",
     "lower = the map, read as a linear model, predicts the score change under input noise", false,
     MetricCost::kModel, "infidelity"},
    {"road_morf", "ROAD, most relevant first",
     "lower = imputing the map's top pixels lowers the class probability most (mean over 10..90 %)",
     false, MetricCost::kModel, "road"},
    {"road_lerf", "ROAD, least relevant first",
     "higher = imputing the map's bottom pixels keeps the class probability (mean over 10..90 %)",
     true, MetricCost::kModel, "road"},
    {"random_logit", "Random logit (SSIM to another class's map)",
     "lower = the map changes when it explains another class (0..1)", false, MetricCost::kJob,
     "random_logit"},
    {"max_sensitivity", "Max-sensitivity",
     "lower = the map barely changes under small input noise (worst sample)", false,
     MetricCost::kJob, "sensitivity"},
    {"avg_sensitivity", "Average sensitivity",
     "lower = the map barely changes under small input noise (mean over samples)", false,
     MetricCost::kJob, "sensitivity"},
};

using Progress = std::function<bool(float)>;

// The values of a group, by metric name.
Expected<std::map<std::string_view, double>> compute_group(std::string_view group,
                                                           const MetricInput& in,
                                                           const MetricOptions& opt,
                                                           const Progress& progress) {
    std::map<std::string_view, double> out;
    if (group == "sparseness") {
        Expected<double> v = sparseness(in.map);
        if (!v) return v.status();
        out["sparseness"] = *v;
    } else if (group == "complexity") {
        Expected<double> v = complexity(in.map);
        if (!v) return v.status();
        out["complexity"] = *v;
    } else if (group == "deletion_insertion") {
        FaithfulnessOptions o = opt.deletion;
        o.random_orders = 0;
        auto r = deletion_insertion(*in.probe, in.image, in.map, in.target.cls, o, progress);
        if (!r) return r.status();
        out["deletion_auc"] = r->deletion.auc;
        out["insertion_auc"] = r->insertion.auc;
    } else if (group == "faithfulness_correlation") {
        auto r = faithfulness_correlation(*in.probe, in.image, in.map, in.target.cls,
                                          opt.correlation, progress);
        if (!r) return r.status();
        out["faithfulness_correlation"] = r->correlation;
    } else if (group == "infidelity") {
        auto r = infidelity(*in.probe, in.image, in.map, in.target.cls, opt.infidelity, progress);
        if (!r) return r.status();
        out["infidelity"] = r->infidelity;
    } else if (group == "road") {
        auto r = road(*in.probe, in.image, in.map, in.target.cls, opt.road, progress);
        if (!r) return r.status();
        out["road_morf"] = r->morf_mean;
        out["road_lerf"] = r->lerf_mean;
    } else if (group == "random_logit") {
        if (!in.method)
            return invalid_argument("random logit: the metric needs the method that made the map");
        auto r = random_logit(*in.method, in.params, *in.probe, in.image, in.target, in.map,
                              opt.random_logit_seed, in.explain_seed);
        if (!r) return r.status();
        out["random_logit"] = r->ssim;
    } else if (group == "sensitivity") {
        if (!in.method)
            return invalid_argument("sensitivity: the metric needs the method that made the map");
        SensitivityOptions o = opt.sensitivity;
        o.explain_seed = in.explain_seed;
        auto r =
            sensitivity(*in.method, in.params, *in.probe, in.image, in.target, in.map, o, progress);
        if (!r) return r.status();
        out["max_sensitivity"] = r->max;
        out["avg_sensitivity"] = r->mean;
    } else {
        return invalid_argument("metric group '" + std::string(group) + "' is not known");
    }
    return out;
}

}  // namespace

MetricOptions seeded_metric_options(uint64_t seed) {
    MetricOptions o;
    o.deletion.seed = o.correlation.seed = o.sensitivity.seed = o.road.seed = o.infidelity.seed =
        o.random_logit_seed = seed;
    return o;
}

std::span<const MetricDef> all_metrics() { return kMetrics; }

const MetricDef* find_metric(std::string_view name) {
    for (const MetricDef& m : kMetrics)
        if (m.name == name) return &m;
    return nullptr;
}

std::string metric_names() {
    std::string s;
    for (const MetricDef& m : kMetrics) s += (s.empty() ? "" : ", ") + std::string(m.name);
    return s;
}

Expected<std::vector<double>> compute_metrics(const MetricInput& in,
                                              std::span<const MetricDef* const> metrics,
                                              const MetricOptions& opt, const Progress& progress) {
    const bool needs_model = std::any_of(metrics.begin(), metrics.end(), [](const MetricDef* m) {
        return m->cost != MetricCost::kFree;
    });
    if (needs_model && !in.probe)
        return invalid_argument(
            "metrics: a model probe is needed for the metrics that run the model");
    std::vector<std::string_view> groups;
    for (const MetricDef* m : metrics)
        if (std::find(groups.begin(), groups.end(), m->group) == groups.end())
            groups.push_back(m->group);
    std::map<std::string_view, double> values;
    for (size_t g = 0; g < groups.size(); ++g) {
        const float lo = static_cast<float>(g) / static_cast<float>(groups.size());
        const float span = 1.f / static_cast<float>(groups.size());
        Progress sub;
        if (progress) sub = [&](float f) { return progress(lo + span * f); };
        auto r = compute_group(groups[g], in, opt, sub);
        if (!r) return r.status();
        values.insert(r->begin(), r->end());
        if (progress && !progress(lo + span) && g + 1 < groups.size())
            return cancelled("metrics cancelled after " + std::to_string(g + 1) + " of " +
                             std::to_string(groups.size()) + " groups");
    }
    std::vector<double> out;
    for (const MetricDef* m : metrics) out.push_back(values.at(m->name));
    return out;
}

}  // namespace cnnlens
