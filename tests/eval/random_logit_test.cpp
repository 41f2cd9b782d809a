// The random-logit test on closed forms: when one class's weights are the other's negated,
// Gradient x Input draws the same |map| for both (SSIM 1, the failure the test exists to catch);
// the other class is never the target, is seeded, and bad classes are named.
#include "core/eval/random_logit.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/eval/linear_fixture_probe.h"
#include "tests/explain/analytic_probe.h"

namespace cnnlens {
namespace {

TEST(RandomLogit, MirroredClassesGiveTheSameMap) {
    Rng rng(6);
    std::vector<double> w;
    for (int i = 0; i < 100; ++i) w.push_back(rng.uniform(-1.f, 1.f));
    for (int i = 0; i < 100; ++i) w.push_back(-w[static_cast<size_t>(i)]);
    test::LinearFixtureProbe probe(10, 10, 1, w, {0.0, 0.0});
    Tensor x = test::random_tensor({1, 10, 10, 1}, rng, 0.f, 1.f);
    const ExplanationMethod* gxi = find_method("gradient_x_input");
    Target t;
    ExplainContext ctx(probe);
    auto e = gxi->explain(x, t, {}, ctx);
    ASSERT_TRUE(e);
    auto r = random_logit(*gxi, {}, probe, x, t, e->map, 1);
    ASSERT_TRUE(r) << r.status().message();
    EXPECT_EQ(r->other_class, 1);
    EXPECT_NEAR(r->ssim, 1.0, 1e-6);
}

TEST(RandomLogit, OtherClassIsSeededAndNeverTheTarget) {
    test::AnalyticProbe probe(8, 8, 5, 2);
    Rng rng(1);
    Tensor x = test::random_tensor({1, 8, 8, 1}, rng, 0.f, 1.f);
    const ExplanationMethod* gxi = find_method("gradient_x_input");
    Target t;
    t.cls = 3;
    ExplainContext ctx(probe);
    auto e = gxi->explain(x, t, {}, ctx);
    ASSERT_TRUE(e);
    std::set<int> seen;
    for (uint64_t seed = 1; seed <= 40; ++seed) {
        auto r = random_logit(*gxi, {}, probe, x, t, e->map, seed);
        ASSERT_TRUE(r);
        EXPECT_NE(r->other_class, 3);
        EXPECT_LT(r->ssim, 1.0);
        seen.insert(r->other_class);
        EXPECT_EQ(random_logit(*gxi, {}, probe, x, t, e->map, seed)->other_class, r->other_class);
    }
    EXPECT_EQ(seen.size(), 4u);
    auto bad = random_logit_against(*gxi, {}, probe, x, t, e->map, 3);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.status().message().find("other class 3"), std::string::npos);
}

}  // namespace
}  // namespace cnnlens
