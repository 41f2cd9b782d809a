// The Shapley family over regions (issue 18): KernelSHAP's efficiency on the bundled model, its
// exact Shapley values when every coalition is enumerated, its partial results and batch
// independence. The oracle comparisons are in shap_oracle_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "core/explain/explain.h"
#include "core/explain/method_util.h"
#include "core/image/image.h"
#include "core/import/model.h"
#include "core/kernels/kernels.h"
#include "tests/explain/analytic_probe.h"
#include "tests/test_util.h"

namespace cnnlens {
// A named namespace: the suite may compile as a unity build, where file-local names must not meet.
namespace shapley_test {

struct Bundled {
    std::unique_ptr<GraphProbe> probe;
    Tensor face;
    Bundled() {
        probe = std::make_unique<GraphProbe>(test::default_model(), *select_kernel_set());
        auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
        EXPECT_TRUE(img);
        face = image_to_input(*img, test::default_model().spec.input);
    }
};

Bundled& bundled() {
    static Bundled b;
    return b;
}

Target probability(int cls, int contrast = -1) {
    Target t{cls, contrast};
    t.score = Target::Score::kProbability;
    return t;
}

// A [h, w] image cut into a rows x cols grid of segments.
Segmentation grid(int h, int w, int rows, int cols) {
    Segmentation s{h, w, rows * cols, {}};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) s.labels.push_back((y * rows / h) * cols + x * cols / w);
    return s;
}

// Shapley values by definition: phi_j = sum over S not holding j of |S|! (M-|S|-1)! / M! (v(S+j) -
// v(S)), v(S) the score of the image with the segments outside S replaced by the baseline image.
std::vector<double> exact_shapley(ModelProbe& probe, const Tensor& x, const Tensor& base,
                                  const Segmentation& seg, const Target& t) {
    const int m = seg.count;
    const int64_t n = int64_t{1} << m, hw = static_cast<int64_t>(seg.labels.size()),
                  c = x.shape()[3];
    Tensor b(Shape{n, x.shape()[1], x.shape()[2], c});
    for (int64_t k = 0; k < n; ++k)
        for (int64_t i = 0; i < hw * c; ++i)
            b[k * hw * c + i] = (k >> seg.labels[static_cast<size_t>(i / c)]) & 1 ? x[i] : base[i];
    auto r = probe.run(b, ProbeRequest{});
    EXPECT_TRUE(r);
    std::vector<double> fact(static_cast<size_t>(m) + 1, 1.0);
    for (int i = 1; i <= m; ++i)
        fact[static_cast<size_t>(i)] = fact[static_cast<size_t>(i - 1)] * i;
    std::vector<double> phi(static_cast<size_t>(m), 0.0);
    for (int64_t k = 0; k < n; ++k) {
        const int s = __builtin_popcountll(static_cast<unsigned long long>(k));
        for (int j = 0; j < m; ++j)
            if (!((k >> j) & 1))
                phi[static_cast<size_t>(j)] +=
                    fact[static_cast<size_t>(s)] * fact[static_cast<size_t>(m - s - 1)] /
                    fact[static_cast<size_t>(m)] *
                    (target_score(*r, k | (int64_t{1} << j), t) - target_score(*r, k, t));
    }
    return phi;
}

Tensor mean_image(const Tensor& x) {
    double sum = 0;
    for (int64_t i = 0; i < x.size(); ++i) sum += x[i];
    Tensor b(x.shape());
    for (int64_t i = 0; i < b.size(); ++i)
        b[i] = static_cast<float>(sum / static_cast<double>(x.size()));
    return b;
}

// With every coalition enumerated (samples >= 2^M - 2, or shap's auto budget capped there), the
// weighted regression returns the Shapley values themselves: on a nonlinear closed-form model
// (softmax of a quadratic) with 6 and 7 segments, and on the bundled model with 8.
TEST(KernelShap, ExactShapleyValuesWithEveryCoalition) {
    const ExplanationMethod* m = find_method("kernel_shap");
    ASSERT_NE(m, nullptr);
    test::AnalyticProbe probe(6, 7, 3, 21, 0.7f);
    Rng rng(22);
    const Tensor x = test::random_tensor({1, 6, 7, 1}, rng, 0.f, 1.f);
    for (const Segmentation& seg : {grid(6, 7, 2, 3), grid(6, 7, 1, 7)}) {
        for (double samples : {0.0, 1000.0}) {
            ExplainContext ctx(probe);
            auto e = kernel_shap_on_segments(
                *m, x, probability(1), Params().set("samples", samples).set("batch", 9), ctx, seg);
            ASSERT_TRUE(e) << e.status().message();
            EXPECT_EQ(e->stats["samples"], double((1 << seg.count) - 2));
            EXPECT_EQ(e->stats["enumerated_sizes"], double(seg.count / 2));
            const std::vector<double> want =
                exact_shapley(probe, x, mean_image(x), seg, probability(1));
            for (int j = 0; j < seg.count; ++j)
                EXPECT_NEAR(e->segment_weights[static_cast<size_t>(j)],
                            want[static_cast<size_t>(j)], 1e-6)
                    << "segment " << j;
        }
    }
    const Segmentation seg = grid(64, 64, 2, 4);
    ExplainContext ctx(*bundled().probe);
    auto e = kernel_shap_on_segments(*m, bundled().face, probability(3), Params(), ctx, seg);
    ASSERT_TRUE(e) << e.status().message();
    const std::vector<double> want = exact_shapley(*bundled().probe, bundled().face,
                                                   mean_image(bundled().face), seg, probability(3));
    for (int j = 0; j < seg.count; ++j)
        EXPECT_NEAR(e->segment_weights[static_cast<size_t>(j)], want[static_cast<size_t>(j)], 2e-6)
            << "segment " << j;
}

// Efficiency: the values sum to f(x) - f(baseline) whatever the budget (it is a constraint of
// the regression), for each baseline and for a contrast; and f(x) is the model's score.
TEST(KernelShap, EfficiencyOnTheBundledModel) {
    const ExplanationMethod* m = find_method("kernel_shap");
    ExplainContext ctx(*bundled().probe);
    for (int baseline : {0, 1, 2})
        for (Target t : {probability(3), probability(3, 4)}) {
            SCOPED_TRACE("baseline " + std::to_string(baseline) + " contrast " +
                         std::to_string(t.contrast));
            auto e = m->explain(bundled().face, t,
                                Params().set("baseline", baseline).set("samples", 300), ctx);
            ASSERT_TRUE(e) << e.status().message();
            const double delta = e->stats["score"] - e->stats["base"];
            EXPECT_GT(std::fabs(delta), 1e-3);
            double sum = 0;
            for (float v : e->segment_weights) sum += v;
            EXPECT_NEAR(sum, delta, 1e-5 * std::fabs(delta));
            EXPECT_EQ(e->stats["samples"], 300);
            EXPECT_EQ(e->stats["undetermined"], 0);
            EXPECT_EQ(e->map.shape(), Shape({64, 64}));
        }
    auto probs = bundled().probe->run(bundled().face, ProbeRequest{});
    ASSERT_TRUE(probs);
    auto e = m->explain(bundled().face, probability(3), Params().set("samples", 100), ctx);
    ASSERT_TRUE(e);
    EXPECT_NEAR(e->stats["score"], probs->probs[3], 1e-6);
}

// Partial results arrive after each batch once 2M coalitions are in, each efficient, the last
// before the end; the final values do not depend on the batch size.
TEST(KernelShap, PartialResultsAndBatchIndependence) {
    const ExplanationMethod* m = find_method("kernel_shap");
    ExplainContext ctx(*bundled().probe);
    std::vector<std::pair<std::string, std::map<std::string, double>>> partials;
    ctx.partial = [&](const Explanation& e) { partials.emplace_back(e.method, e.stats); };
    auto whole = m->explain(bundled().face, probability(3),
                            Params().set("samples", 400).set("batch", 50), ctx);
    ASSERT_TRUE(whole) << whole.status().message();
    ASSERT_GE(partials.size(), 3u);
    const double m2 = 2 * whole->stats["segments"];
    for (const auto& [method, stats] : partials) {
        EXPECT_EQ(method, "kernel_shap");
        EXPECT_GE(stats.at("samples"), m2);
        EXPECT_LT(stats.at("samples"), 400);
        EXPECT_LT(stats.at("efficiency_error"), 1e-6);
    }
    ctx.partial = nullptr;
    auto other = m->explain(bundled().face, probability(3),
                            Params().set("samples", 400).set("batch", 37), ctx);
    ASSERT_TRUE(other);
    EXPECT_LT(test::rel_l2(other->map.data(), whole->map.data(), whole->map.size()), 1e-6);
    ctx.seed = 2;
    auto seeded = m->explain(bundled().face, probability(3),
                             Params().set("samples", 400).set("batch", 50), ctx);
    ASSERT_TRUE(seeded);
    EXPECT_GT(test::rel_l2(seeded->map.data(), whole->map.data(), whole->map.size()), 1e-3);
}

// A segmentation that does not fit the image is refused with both sizes named.
TEST(KernelShap, RefusesAMismatchedSegmentation) {
    ExplainContext ctx(*bundled().probe);
    auto e = kernel_shap_on_segments(*find_method("kernel_shap"), bundled().face, probability(3),
                                     Params(), ctx, grid(32, 32, 2, 2));
    ASSERT_FALSE(e);
    EXPECT_NE(e.status().message().find("32x32"), std::string::npos) << e.status().message();
    EXPECT_NE(e.status().message().find("64x64"), std::string::npos) << e.status().message();
}

// Partition SHAP: the values sum to f(x) - f(all blurred) at any budget (each expansion splits
// its item's contribution between four children), with a contrast too; the budget is spent
// exactly (max_evals, f(x) and the blurred image included).
TEST(PartitionShap, EfficiencyOnTheBundledModel) {
    const ExplanationMethod* m = find_method("partition_shap");
    ASSERT_NE(m, nullptr);
    ExplainContext ctx(*bundled().probe);
    for (double evals : {4.0, 101.0, 500.0})
        for (Target t : {probability(3), probability(3, 4), Target{3}}) {
            SCOPED_TRACE("max_evals " + std::to_string(evals) + " contrast " +
                         std::to_string(t.contrast));
            auto e = m->explain(bundled().face, t, Params().set("max_evals", evals), ctx);
            ASSERT_TRUE(e) << e.status().message();
            const double delta = e->stats["score"] - e->stats["base"];
            EXPECT_GT(std::fabs(delta), 1e-3);
            double sum = 0;
            for (int64_t i = 0; i < e->map.size(); ++i) sum += e->map[i];
            EXPECT_NEAR(sum, delta, 1e-5 * std::fabs(delta));
            EXPECT_LE(e->stats["evaluations"], evals + 1);
            EXPECT_GE(e->stats["evaluations"], evals - 1);
        }
}

// On an additive model (a linear logit: each pixel contributes W_j (x_j - blurred_j)) every
// region's Owen value is its own contribution: with the budget for every leaf, each pixel's value
// is its contribution; with a small one, each box the budget did not split holds its box's total,
// spread evenly, so the root's children (columns 0-2 and 3-5: the longer side splits) hold theirs.
TEST(PartitionShap, AdditiveModelGivesEachRegionItsContribution) {
    const ExplanationMethod* m = find_method("partition_shap");
    test::AnalyticProbe probe(4, 6, 3, 31);
    Rng rng(32);
    const Tensor x = test::random_tensor({1, 4, 6, 1}, rng, 0.f, 1.f);
    ExplainContext ctx(probe);
    auto full = m->explain(x, Target{2}, Params().set("max_evals", 5000).set("blur", 0.5), ctx);
    ASSERT_TRUE(full) << full.status().message();
    const Tensor& blurred = full->extras.at("baseline");
    std::vector<double> contrib(24);
    for (int j = 0; j < 24; ++j) {
        contrib[static_cast<size_t>(j)] = double(probe.weights()[2 * 24 + j]) * (x[j] - blurred[j]);
        EXPECT_NEAR(full->map[j], contrib[static_cast<size_t>(j)], 1e-6) << "pixel " << j;
    }
    EXPECT_LT(full->stats["evaluations"], 5000);  // every leaf reached before the budget
    auto small = m->explain(x, Target{2}, Params().set("max_evals", 8).set("blur", 0.5), ctx);
    ASSERT_TRUE(small);
    for (int half = 0; half < 2; ++half) {
        double got = 0, want = 0;
        for (int j = 0; j < 24; ++j)
            if ((j % 6) / 3 == half) {
                got += small->map[j];
                want += contrib[static_cast<size_t>(j)];
            }
        EXPECT_NEAR(got, want, 1e-6) << "half " << half;
    }
}

// Partial maps arrive after each round while budget is left, each efficient; cancel is honoured.
TEST(PartitionShap, PartialResultsAndCancel) {
    const ExplanationMethod* m = find_method("partition_shap");
    ExplainContext ctx(*bundled().probe);
    std::vector<double> errors;
    ctx.partial = [&](const Explanation& e) { errors.push_back(e.stats.at("efficiency_error")); };
    auto e = m->explain(bundled().face, probability(3), Params().set("max_evals", 102), ctx);
    ASSERT_TRUE(e);
    EXPECT_EQ(
        errors.size(),
        10u);  // rounds of 2 (the root), 8 (its four items), then 10s to 100; the last is final
    for (double err : errors) EXPECT_LT(err, 1e-6);
    int calls = 0;
    ctx.partial = nullptr;
    ctx.progress = [&](float) { return ++calls < 3; };
    auto c = m->explain(bundled().face, probability(3), Params(), ctx);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.status().code(), ErrorCode::kCancelled);
}

}  // namespace shapley_test
}  // namespace cnnlens
