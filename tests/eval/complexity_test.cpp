// Sparseness and complexity on maps whose values are known in closed form.
#include "core/eval/complexity.h"

#include <gtest/gtest.h>

#include <cmath>

namespace cnnlens {
namespace {

TEST(Complexity, OneHotAndUniform) {
    for (int n : {1, 2, 7, 64, 4096}) {
        Tensor one_hot(Shape{1, n}, 0.f);
        one_hot[n / 2] = -3.f;  // |map|: the sign does not matter
        EXPECT_NEAR(*sparseness(one_hot), (n - 1.0) / n, 1e-12) << n;
        EXPECT_NEAR(*complexity(one_hot), 0.0, 1e-12) << n;
        Tensor uniform(Shape{1, n}, 0.25f);
        EXPECT_NEAR(*sparseness(uniform), 0.0, 1e-12) << n;
        EXPECT_NEAR(*complexity(uniform), std::log(double(n)), 1e-9) << n;
    }
}

TEST(Complexity, KHotAndScale) {
    // k equal values among n: Gini (n - k) / n, entropy log k, whatever the scale.
    const int n = 100, k = 10;
    Tensor m(Shape{10, 10}, 0.f);
    for (int i = 0; i < k; ++i) m[i * 7] = 5.f;
    EXPECT_NEAR(*sparseness(m), double(n - k) / n, 1e-12);
    EXPECT_NEAR(*complexity(m), std::log(double(k)), 1e-12);
    for (int64_t i = 0; i < m.size(); ++i) m[i] *= 1e-3f;
    EXPECT_NEAR(*sparseness(m), double(n - k) / n, 1e-9);
    EXPECT_NEAR(*complexity(m), std::log(double(k)), 1e-9);
}

TEST(Complexity, ZeroMapAndBadValues) {
    Tensor zero(Shape{4, 4}, 0.f);
    EXPECT_EQ(*sparseness(zero), 0.0);
    EXPECT_NEAR(*complexity(zero), std::log(16.0), 1e-12);
    Tensor bad(Shape{4, 4}, 1.f);
    bad[5] = NAN;
    auto s = sparseness(bad);
    ASSERT_FALSE(s);
    EXPECT_NE(s.status().message().find("map value 5"), std::string::npos) << s.status().message();
    EXPECT_FALSE(complexity(Tensor(Shape{0, 4})));
}

}  // namespace
}  // namespace cnnlens
