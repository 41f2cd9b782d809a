// ROAD's imputation on closed forms (a constant stays constant; a lone interior pixel of a linear
// ramp gets its ramp value, the neighbour weights being symmetric), its refusal of an image with
// nothing kept, seeded noise, and the curves' order on a model that reads one patch.
#include "core/eval/road.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/explain/analytic_probe.h"

namespace cnnlens {
namespace {

TEST(Road, ImputationClosedForms) {
    Rng rng(1);
    Tensor flat(Shape{1, 7, 9, 2}, 0.3f);
    std::vector<uint8_t> removed(63, 0);
    for (int p = 0; p < 63; p += 2)
        removed[static_cast<size_t>(p)] = 1;  // half the pixels, borders too
    auto c = noisy_linear_imputation(flat, removed, {0.f}, rng);
    ASSERT_TRUE(c) << c.status().message();
    for (int64_t i = 0; i < c->size(); ++i) EXPECT_NEAR((*c)[i], 0.3f, 1e-6);

    Tensor ramp(Shape{1, 7, 9, 1});
    for (int y = 0; y < 7; ++y)
        for (int x = 0; x < 9; ++x) ramp[y * 9 + x] = 0.1f * x - 0.05f * y;
    std::vector<uint8_t> one(63, 0);
    one[3 * 9 + 4] = 1;
    Tensor hole = ramp.clone();
    hole[3 * 9 + 4] = 7.f;  // the removed value is not read
    auto r = noisy_linear_imputation(hole, one, {0.f}, rng);
    ASSERT_TRUE(r);
    EXPECT_NEAR((*r)[3 * 9 + 4], ramp[3 * 9 + 4], 1e-6);

    std::vector<uint8_t> all(63, 1);
    auto none = noisy_linear_imputation(ramp, all, {0.f}, rng);
    ASSERT_FALSE(none);
    EXPECT_NE(none.status().message().find("every pixel is removed"), std::string::npos);
}

TEST(Road, NoiseIsSeeded) {
    Tensor x(Shape{1, 6, 6, 1}, 0.5f);
    std::vector<uint8_t> removed(36, 0);
    removed[7] = removed[20] = 1;
    Rng a(3), b(3), c(4);
    auto xa = noisy_linear_imputation(x, removed, {0.01f}, a);
    auto xb = noisy_linear_imputation(x, removed, {0.01f}, b);
    auto xc = noisy_linear_imputation(x, removed, {0.01f}, c);
    EXPECT_EQ((*xa)[7], (*xb)[7]);
    EXPECT_NE((*xa)[7], (*xc)[7]);
    EXPECT_NE((*xa)[7], 0.5f);
    EXPECT_EQ((*xa)[8], 0.5f);
}

TEST(Road, CurvesAndCancel) {
    test::AnalyticProbe probe(8, 8, 3, 11);
    Rng rng(2);
    Tensor x = test::random_tensor({1, 8, 8, 1}, rng, 0.f, 1.f);
    // The map of each pixel's contribution to class 0's logit: MoRF removes the largest first.
    Tensor map(Shape{8, 8});
    for (int64_t i = 0; i < 64; ++i) map[i] = probe.weights()[i] * x[i];
    auto r = road(probe, x, map, 0);
    ASSERT_TRUE(r) << r.status().message();
    ASSERT_EQ(r->morf.size(), 9u);
    EXPECT_LT(r->morf_mean, r->lerf_mean);
    auto again = road(probe, x, map, 0);
    EXPECT_EQ(again->morf, r->morf);
    int calls = 0;
    auto cut = road(probe, x, map, 0, {}, [&](float) { return ++calls > 5; });
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.status().code(), ErrorCode::kCancelled);
    RoadOptions bad;
    bad.percentages = {100};
    EXPECT_FALSE(road(probe, x, map, 0, bad));
}

}  // namespace
}  // namespace cnnlens
