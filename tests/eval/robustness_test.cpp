// Sensitivity on closed forms: saliency of a linear model is the same map wherever the input is
// (0); Gradient x Input's change is the noise times the weights; seeds reproduce; cancel honoured.
#include "core/eval/robustness.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/explain/analytic_probe.h"

namespace cnnlens {
namespace {

TEST(Robustness, SaliencyOfALinearModelDoesNotMove) {
    test::AnalyticProbe probe(8, 8, 3, 5);
    const ExplanationMethod* sal = find_method("saliency");
    ASSERT_NE(sal, nullptr);
    Rng rng(3);
    Tensor x = test::random_tensor({1, 8, 8, 1}, rng, 0.f, 1.f);
    Target t;
    t.cls = 2;
    ExplainContext ctx(probe);
    auto e = sal->explain(x, t, {}, ctx);
    ASSERT_TRUE(e);
    SensitivityOptions o;
    o.samples = 4;
    auto r = sensitivity(*sal, {}, probe, x, t, e->map, o);
    ASSERT_TRUE(r) << r.status().message();
    EXPECT_EQ(r->per_sample.size(), 4u);
    EXPECT_NEAR(r->max, 0.0, 1e-6);
    EXPECT_NEAR(r->mean, 0.0, 1e-6);
}

TEST(Robustness, GradientTimesInputMovesWithTheNoiseAndSeedsReproduce) {
    test::AnalyticProbe probe(8, 8, 3, 5);
    const ExplanationMethod* gxi = find_method("gradient_x_input");
    ASSERT_NE(gxi, nullptr);
    Rng rng(4);
    Tensor x = test::random_tensor({1, 8, 8, 1}, rng, 0.f, 1.f);
    Target t;
    t.cls = 1;
    ExplainContext ctx(probe);
    auto e = gxi->explain(x, t, {}, ctx);
    ASSERT_TRUE(e);
    // One noise sample e = r everywhere: the map moves by r * W_c, so the sensitivity relative to
    // the map is r ||W_c|| / ||W_c . x||.
    const float r = 0.05f;
    std::vector<Tensor> noise;
    noise.emplace_back(x.shape(), r);
    SensitivityOptions o;
    auto s = sensitivity(*gxi, {}, probe, x, t, e->map, noise, o);
    ASSERT_TRUE(s);
    double wn = 0, mn = 0;
    for (int64_t i = 0; i < 64; ++i) {
        const double w = probe.weights()[64 + i];
        wn += w * w;
        mn += (w * x[i]) * (w * x[i]);
    }
    EXPECT_NEAR(s->max, r * std::sqrt(wn) / std::sqrt(mn), 1e-5);
    EXPECT_EQ(s->max, s->mean);

    o.samples = 3;
    o.radius = 0.1f;
    auto a = sensitivity(*gxi, {}, probe, x, t, e->map, o);
    auto b = sensitivity(*gxi, {}, probe, x, t, e->map, o);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->per_sample, b->per_sample);
    EXPECT_GT(a->max, 0.0);
    EXPECT_GE(a->max, a->mean);
    o.seed = 2;
    auto c = sensitivity(*gxi, {}, probe, x, t, e->map, o);
    ASSERT_TRUE(c);
    EXPECT_NE(a->per_sample, c->per_sample);

    int calls = 0;
    auto cut = sensitivity(*gxi, {}, probe, x, t, e->map, o, [&](float) { return ++calls < 2; });
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.status().code(), ErrorCode::kCancelled);
    EXPECT_EQ(calls, 2);
}

TEST(Robustness, NoiseWidthFollowsTheInputRange) {
    InputSpec s{4, 4, 3, -1.f, 1.f, {}, {}};
    EXPECT_FLOAT_EQ(noise_half_width(s, 3, 0.2f)[1], 0.4f);
    s.mean = {0.5f, 0.5f, 0.5f};
    s.std = {0.25f, 0.5f, 1.f};
    const std::vector<float> w = noise_half_width(s, 3, 0.2f);
    EXPECT_FLOAT_EQ(w[0], 0.8f);
    EXPECT_FLOAT_EQ(w[2], 0.2f);
}

}  // namespace
}  // namespace cnnlens
