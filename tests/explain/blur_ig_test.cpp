// Blur IG: completeness on closed-form probes and on the bundled model, its blur path (edges
// renormalised: a flat image is its own blur), and its baseline.
#include <gtest/gtest.h>

#include <cmath>

#include "core/explain/explain.h"
#include "core/import/model.h"
#include "core/kernels/kernels.h"
#include "tests/explain/analytic_probe.h"

namespace cnnlens {
namespace {

const ExplanationMethod& blur_ig() {
    const ExplanationMethod* m = find_method("blur_ig");
    EXPECT_NE(m, nullptr);
    return *m;
}

using test::random_image;

// Sum of attributions = f(x) - f(L(x, max_sigma)) up to the midpoint rule's error, which shrinks
// as the steps grow (linear and quadratic models, linear and square-root spacing). PAIR's forward
// difference (grad_step 0.01) would leave 2 % on the quadratic model at any step count.
TEST(BlurIG, CompletenessOnClosedFormModels) {
    for (float q : {0.f, 0.7f}) {
        test::AnalyticProbe probe(9, 8, 3, 5, q);
        ExplainContext ctx(probe);
        const Tensor x = random_image(9, 8, 6);
        for (int spacing : {0, 1}) {
            SCOPED_TRACE("q=" + std::to_string(q) + " spacing=" + std::to_string(spacing));
            auto coarse = blur_ig().explain(
                x, Target{1},
                Params().set("steps", 50).set("max_sigma", 10).set("spacing", spacing), ctx);
            auto fine = blur_ig().explain(
                x, Target{1},
                Params().set("steps", 3200).set("max_sigma", 10).set("spacing", spacing), ctx);
            ASSERT_TRUE(coarse) << coarse.status().message();
            ASSERT_TRUE(fine);
            EXPECT_GT(std::fabs(fine->stats["score_delta"]), 1e-3);
            EXPECT_LT(fine->stats["completeness_relative_error"], 1e-3)
                << fine->stats["sum_attributions"] << " vs " << fine->stats["score_delta"];
            EXPECT_LT(fine->stats["completeness_error"], coarse->stats["completeness_error"]);
        }
    }
}

// Renormalised edges: a flat image stays flat at every sigma, so nothing changes along the path.
TEST(BlurIG, AFlatImageHasNoAttribution) {
    test::AnalyticProbe probe(6, 7, 2, 3, 0.5f);
    ExplainContext ctx(probe);
    auto e = blur_ig().explain(Tensor(Shape{1, 6, 7, 1}, 0.4f), Target{0},
                               Params().set("steps", 20), ctx);
    ASSERT_TRUE(e) << e.status().message();
    for (int64_t i = 0; i < e->attribution.size(); ++i) EXPECT_NEAR(e->attribution[i], 0.f, 1e-6f);
    for (int64_t i = 0; i < e->extras["baseline"].size(); ++i)
        EXPECT_NEAR(e->extras["baseline"][i], 0.4f, 1e-6f);
}

// A blur far wider than the image leaves its mean everywhere; square-root spacing ends at
// sigma = sqrt(max_sigma), as PAIR's: the baseline of max_sigma 100 there is that of 10 here.
TEST(BlurIG, BaselineIsTheMostBlurredImage) {
    test::AnalyticProbe probe(8, 8, 2, 3);
    ExplainContext ctx(probe);
    const Tensor x = random_image(8, 8, 9);
    double mean = 0;
    for (int64_t i = 0; i < x.size(); ++i) mean += x[i];
    mean /= x.size();
    auto e = blur_ig().explain(x, Target{0}, Params().set("steps", 4).set("max_sigma", 1000), ctx);
    ASSERT_TRUE(e);
    for (int64_t i = 0; i < 64; ++i) EXPECT_NEAR(e->extras["baseline"][i], mean, 1e-4);
    auto s = blur_ig().explain(
        x, Target{0}, Params().set("steps", 4).set("max_sigma", 100).set("spacing", 1), ctx);
    auto l = blur_ig().explain(x, Target{0}, Params().set("steps", 4).set("max_sigma", 10), ctx);
    ASSERT_TRUE(s);
    ASSERT_TRUE(l);
    double spread = 0;
    for (int64_t i = 0; i < 64; ++i) {
        EXPECT_EQ(s->extras["baseline"][i], l->extras["baseline"][i]);
        spread = std::max(spread, std::fabs(s->extras["baseline"][i] - mean));
    }
    EXPECT_GT(spread, 1e-3) << "sigma 10 is not yet flat on an 8 px image";
}

TEST(BlurIG, CompletenessOnTheModel) {
    const Model& model = test::default_model();
    GraphProbe probe(model, *select_kernel_set());
    ExplainContext ctx(probe);
    auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
    ASSERT_TRUE(img);
    const Tensor face = image_to_input(*img, model.spec.input);
    auto e = blur_ig().explain(face, Target{3}, Params().set("steps", 400), ctx);
    ASSERT_TRUE(e) << e.status().message();
    EXPECT_GT(std::fabs(e->stats["score_delta"]), 1.0);
    EXPECT_LT(e->stats["completeness_relative_error"], 0.05)
        << e->stats["sum_attributions"] << " vs " << e->stats["score_delta"];
}

}  // namespace
}  // namespace cnnlens
