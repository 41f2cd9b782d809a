// The metric list and compute_metrics: names unique, each metric reachable and equal to its
// family's function, a group computed once, progress and cancel; faithfulness correlation's
// closed form (a map equal to each pixel's logit contribution correlates 1 with the drops).
#include "core/eval/metric.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/eval/complexity.h"
#include "core/eval/random_logit.h"
#include "tests/explain/analytic_probe.h"

namespace cnnlens {
namespace {

TEST(Metric, ListIsUniqueAndFindable) {
    std::set<std::string_view> names;
    for (const MetricDef& m : all_metrics()) {
        EXPECT_TRUE(names.insert(m.name).second) << m.name;
        EXPECT_EQ(find_metric(m.name), &m);
        EXPECT_FALSE(m.good.empty()) << m.name;
        EXPECT_NE(metric_names().find(m.name), std::string::npos);
    }
    EXPECT_EQ(find_metric("nope"), nullptr);
}

TEST(Metric, FaithfulnessCorrelationOfTheExactContributionsIsOne) {
    test::AnalyticProbe probe(8, 8, 3, 7);
    Rng rng(1);
    Tensor x = test::random_tensor({1, 8, 8, 1}, rng, 0.f, 1.f);
    const int cls = 2;
    // Logit drop when S goes black (0) = sum_{i in S} W_c,i x_i: exactly the map's subset sum.
    Tensor map(Shape{8, 8});
    for (int64_t i = 0; i < 64; ++i) map[i] = probe.weights()[cls * 64 + i] * x[i];
    FaithCorrelationOptions o;
    o.runs = 30;
    o.subset_size = 10;
    auto r = faithfulness_correlation(probe, x, map, cls, o);
    ASSERT_TRUE(r) << r.status().message();
    EXPECT_NEAR(r->correlation, 1.0, 1e-5);
    for (size_t k = 0; k < r->score_drops.size(); ++k)
        EXPECT_NEAR(r->score_drops[k], r->attribution_sums[k], 1e-4);
    // The negated map: -1. Seeds reproduce; another seed draws other subsets.
    Tensor neg = map.clone();
    for (int64_t i = 0; i < 64; ++i) neg[i] = -neg[i];
    EXPECT_NEAR(faithfulness_correlation(probe, x, neg, cls, o)->correlation, -1.0, 1e-5);
    EXPECT_EQ(faithfulness_correlation(probe, x, map, cls, o)->score_drops, r->score_drops);
    o.seed = 9;
    EXPECT_NE(faithfulness_correlation(probe, x, map, cls, o)->score_drops, r->score_drops);
    // Bad parameters name themselves.
    o.subset_size = 65;
    auto bad = faithfulness_correlation(probe, x, map, cls, o);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.status().message().find("subset_size = 65"), std::string::npos);
}

TEST(Metric, InfidelityOfTheWeightsIsZero) {
    test::AnalyticProbe probe(8, 8, 3, 4);
    Rng rng(3);
    Tensor x = test::random_tensor({1, 8, 8, 1}, rng, 0.f, 1.f);
    // The logit change under x - I is exactly I . W_c: the weights as a map have infidelity 0,
    // at any scale (beta absorbs it); a shuffled map does not.
    Tensor map(Shape{8, 8}), shuffled(Shape{8, 8});
    for (int64_t i = 0; i < 64; ++i) map[i] = 3.f * probe.weights()[2 * 64 + i];
    for (int64_t i = 0; i < 64; ++i) shuffled[i] = map[(i * 7 + 3) % 64];
    auto r = infidelity(probe, x, map, 2);
    ASSERT_TRUE(r) << r.status().message();
    EXPECT_NEAR(r->infidelity, 0.0, 1e-9);
    EXPECT_NEAR(r->beta, 1.0 / 3.0, 1e-4);
    auto bad = infidelity(probe, x, shuffled, 2);
    ASSERT_TRUE(bad);
    EXPECT_GT(bad->infidelity, 1e-3);
    int calls = 0;
    InfidelityOptions o;
    o.batch = 10;
    auto cut = infidelity(probe, x, map, 2, o, [&](float) { return ++calls < 2; });
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.status().code(), ErrorCode::kCancelled);
}

TEST(Metric, RandomSubsetsAreDistinctWithinASubset) {
    for (const auto& s : random_subsets(50, 20, 10, 3)) {
        std::set<int> u(s.begin(), s.end());
        EXPECT_EQ(u.size(), 20u);
        EXPECT_LT(*u.rbegin(), 50);
        EXPECT_GE(*u.begin(), 0);
    }
}

TEST(Metric, ComputeMetricsMatchesTheFamiliesAndCancels) {
    test::AnalyticProbe probe(8, 8, 3, 7);
    Rng rng(2);
    MetricInput in;
    in.probe = &probe;
    in.image = test::random_tensor({1, 8, 8, 1}, rng, 0.f, 1.f);
    in.target.cls = 1;
    in.method = find_method("gradient_x_input");
    ExplainContext ctx(probe);
    auto e = in.method->explain(in.image, in.target, {}, ctx);
    ASSERT_TRUE(e);
    in.map = std::move(e->map);
    MetricOptions opt;
    opt.correlation.subset_size = 8;
    opt.correlation.runs = 20;
    opt.sensitivity.samples = 3;
    std::vector<const MetricDef*> all;
    for (const MetricDef& m : all_metrics()) all.push_back(&m);
    std::vector<float> seen;
    auto v = compute_metrics(in, all, opt, [&](float f) {
        seen.push_back(f);
        return true;
    });
    ASSERT_TRUE(v) << v.status().message();
    ASSERT_EQ(v->size(), all.size());
    for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i], seen[i - 1]);
    EXPECT_FLOAT_EQ(seen.back(), 1.f);
    auto at = [&](std::string_view n) {
        for (size_t i = 0; i < all.size(); ++i)
            if (all[i]->name == n) return (*v)[i];
        return double(NAN);
    };
    EXPECT_EQ(at("sparseness"), *sparseness(in.map));
    EXPECT_EQ(at("complexity"), *complexity(in.map));
    auto di = deletion_insertion(probe, in.image, in.map, 1, opt.deletion);
    EXPECT_EQ(at("deletion_auc"), di->deletion.auc);
    EXPECT_EQ(at("insertion_auc"), di->insertion.auc);
    EXPECT_EQ(at("faithfulness_correlation"),
              faithfulness_correlation(probe, in.image, in.map, 1, opt.correlation)->correlation);
    auto rd = road(probe, in.image, in.map, 1, opt.road);
    EXPECT_EQ(at("road_morf"), rd->morf_mean);
    EXPECT_EQ(at("road_lerf"), rd->lerf_mean);
    EXPECT_EQ(at("infidelity"), infidelity(probe, in.image, in.map, 1, opt.infidelity)->infidelity);
    EXPECT_EQ(at("random_logit"), random_logit(*in.method, {}, probe, in.image, in.target, in.map,
                                               opt.random_logit_seed)
                                      ->ssim);
    auto s = sensitivity(*in.method, {}, probe, in.image, in.target, in.map, opt.sensitivity);
    EXPECT_EQ(at("max_sensitivity"), s->max);
    EXPECT_EQ(at("avg_sensitivity"), s->mean);

    // max and avg sensitivity share one pass: 3 explanations, not 6.
    const int before = probe.calls;
    const MetricDef* pair[] = {find_metric("max_sensitivity"), find_metric("avg_sensitivity")};
    ASSERT_TRUE(compute_metrics(in, pair, opt));
    EXPECT_EQ(probe.calls - before, 3);

    int calls = 0;
    auto cut = compute_metrics(in, all, opt, [&](float) { return ++calls < 3; });
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.status().code(), ErrorCode::kCancelled);

    MetricInput no_probe;
    no_probe.map = in.map.clone();
    const MetricDef* free_only[] = {find_metric("sparseness")};
    EXPECT_TRUE(compute_metrics(no_probe, free_only, opt));
    const MetricDef* needs[] = {find_metric("deletion_auc")};
    EXPECT_FALSE(compute_metrics(no_probe, needs, opt));
}

TEST(Metric, MeanBaselineIsTheChannelMean) {
    Tensor x(Shape{1, 2, 2, 2});
    for (int64_t i = 0; i < 8; ++i) x[i] = float(i);
    InputSpec spec{2, 2, 2, 0.f, 1.f, {}, {}};
    Tensor m = faith_baseline(x, FaithBaseline::kMean, 1.f, spec);
    for (int64_t p = 0; p < 4; ++p) {
        EXPECT_FLOAT_EQ(m[p * 2], 3.f);
        EXPECT_FLOAT_EQ(m[p * 2 + 1], 4.f);
    }
    EXPECT_EQ(*parse_faith_baseline("mean"), FaithBaseline::kMean);
    EXPECT_FALSE(parse_faith_baseline("grey"));
}

}  // namespace
}  // namespace cnnlens
