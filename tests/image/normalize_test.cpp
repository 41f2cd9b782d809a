// Normalisation and mask semantics of the anchors (PAIR, Grad-CAM, Captum).
#include "core/image/normalize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/image/render.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

Tensor map_from(int h, int w, std::initializer_list<float> values) {
    Tensor t(Shape{h, w});
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

// 0, 1, ..., n-1 as a 1 x n map.
Tensor ramp(int n) {
    Tensor t(Shape{1, n});
    for (int i = 0; i < n; ++i) t[i] = static_cast<float>(i);
    return t;
}

TEST(Render, PercentileMatchesNumpyLinear) {
    const float v[] = {3.f, 1.f, 4.f, 1.f, 5.f, 9.f, 2.f, 6.f};
    // np.percentile([3,1,4,1,5,9,2,6], [0, 50, 99, 100]) = 1, 3.5, 8.79, 9
    EXPECT_FLOAT_EQ(percentile(v, 0.f), 1.f);
    EXPECT_FLOAT_EQ(percentile(v, 50.f), 3.5f);
    EXPECT_NEAR(percentile(v, 99.f), 8.79f, 1e-5);
    EXPECT_FLOAT_EQ(percentile(v, 100.f), 9.f);
    const float with_nan[] = {std::nanf(""), 2.f, INFINITY, 4.f};
    EXPECT_FLOAT_EQ(percentile(with_nan, 50.f), 3.f);
}

TEST(Render, Percentile99ClipsTheTopPercent) {
    // 0..199: PAIR VisualizeImageGrayscale, vmin = 0, vmax = P99 = 197.01.
    const Tensor m = ramp(200);
    const NormalizedMap n = normalize_map(m, MapNorm::kPercentile99);
    EXPECT_FLOAT_EQ(n.lo, 0.f);
    EXPECT_NEAR(n.hi, 197.01f, 1e-3);
    EXPECT_FLOAT_EQ(n.map[0], 0.f);
    EXPECT_NEAR(n.map[100], 100.f / 197.01f, 1e-6);
    EXPECT_FLOAT_EQ(n.map[198], 1.f);
    EXPECT_FLOAT_EQ(n.map[199], 1.f);
    EXPECT_EQ(n.map.shape(), m.shape());
}

TEST(Render, MinMaxSpansTheRange) {
    const NormalizedMap n = normalize_map(map_from(2, 2, {-2.f, 0.f, 2.f, 6.f}), MapNorm::kMinMax);
    EXPECT_FLOAT_EQ(n.lo, -2.f);
    EXPECT_FLOAT_EQ(n.hi, 6.f);
    EXPECT_FLOAT_EQ(n.map[0], 0.f);
    EXPECT_FLOAT_EQ(n.map[1], 0.25f);
    EXPECT_FLOAT_EQ(n.map[3], 1.f);
    const NormalizedMap flat = normalize_map(map_from(1, 2, {3.f, 3.f}), MapNorm::kMinMax);
    EXPECT_FLOAT_EQ(flat.map[0], 0.f);
}

TEST(Render, SignedPercentile99MapsZeroToHalfLikePair) {
    // s = -100..99 (200 values): span = |P99(s)| = 97.01 (of the signed values, as PAIR does).
    Tensor m = ramp(200);
    for (int64_t i = 0; i < m.size(); ++i) m[i] -= 100.f;
    const NormalizedMap n = normalize_map(m, MapNorm::kSignedPercentile99);
    EXPECT_NEAR(n.hi, 97.01f, 1e-3);
    EXPECT_FLOAT_EQ(n.lo, -n.hi);
    EXPECT_FLOAT_EQ(n.map[100], 0.5f);                          // s = 0
    EXPECT_NEAR(n.map[150], (50.f + n.hi) / (2 * n.hi), 1e-6);  // s = 50
    EXPECT_FLOAT_EQ(n.map[0], 0.f);                             // s = -100 < -span: clipped
    EXPECT_FLOAT_EQ(n.map[199], 1.f);
    const NormalizedMap zero =
        normalize_map(map_from(1, 2, {0.f, 0.f}), MapNorm::kSignedPercentile99);
    EXPECT_FLOAT_EQ(zero.map[1], 0.5f);
}

TEST(Render, SymmetricMaxAbsKeepsZeroAtHalf) {
    const NormalizedMap n =
        normalize_map(map_from(1, 4, {-1.f, 0.f, 2.f, -4.f}), MapNorm::kSymmetricMaxAbs);
    EXPECT_FLOAT_EQ(n.lo, -4.f);
    EXPECT_FLOAT_EQ(n.hi, 4.f);
    EXPECT_FLOAT_EQ(n.map[0], 0.375f);
    EXPECT_FLOAT_EQ(n.map[1], 0.5f);
    EXPECT_FLOAT_EQ(n.map[2], 0.75f);
    EXPECT_FLOAT_EQ(n.map[3], 0.f);
}

TEST(Render, MapNormNamesRoundTrip) {
    for (MapNorm m : {MapNorm::kPercentile99, MapNorm::kMinMax, MapNorm::kSignedPercentile99,
                      MapNorm::kSymmetricMaxAbs})
        EXPECT_EQ(*map_norm_from_name(map_norm_name(m)), m);
    EXPECT_FALSE(map_norm_from_name("p98"));
}

TEST(Mask, TopPercentSelectsAboutThirtyPercent) {
    Rng rng(7);
    const Tensor m = test::random_tensor(Shape{48, 48}, rng, 0.f, 1.f);
    const Tensor mask = mask_top_percent(m, 30.f);
    double on = 0, min_on = 2, max_off = -1;
    for (int64_t i = 0; i < m.size(); ++i) {
        on += mask[i];
        if (mask[i] > 0.5f)
            min_on = std::min<double>(min_on, m[i]);
        else
            max_off = std::max<double>(max_off, m[i]);
    }
    EXPECT_NEAR(on / static_cast<double>(m.size()), 0.30, 0.002);
    EXPECT_GT(min_on, max_off);  // the selected pixels are exactly the largest ones
    const Tensor none = mask_top_percent(m, 0.f), all = mask_top_percent(m, 100.f);
    for (int64_t i = 0; i < m.size(); ++i) {
        EXPECT_EQ(none[i], 0.f);
        EXPECT_EQ(all[i], 1.f);
    }
}

TEST(Mask, OtsuSeparatesTwoModes) {
    Rng rng(3);
    Tensor m(Shape{32, 32});
    for (int64_t i = 0; i < m.size(); ++i)
        m[i] = (i % 3 == 0 ? 0.8f : 0.2f) + rng.uniform(-0.05f, 0.05f);
    const Tensor mask = mask_otsu(m);
    for (int64_t i = 0; i < m.size(); ++i) EXPECT_EQ(mask[i], i % 3 == 0 ? 1.f : 0.f) << i;
}

TEST(Mask, OtsuThresholdOfATwoBinHistogramLiesBetweenThem) {
    std::array<uint32_t, 256> h{};
    h[40] = 100;
    h[200] = 50;
    const int t = otsu_threshold(h);
    EXPECT_GE(t, 40);
    EXPECT_LT(t, 200);
}

TEST(Mask, AlphaMaskAndApplyMask) {
    const Tensor a = alpha_mask(map_from(1, 3, {-0.5f, 0.25f, 2.f}));
    EXPECT_FLOAT_EQ(a[0], 0.f);
    EXPECT_FLOAT_EQ(a[1], 0.25f);
    EXPECT_FLOAT_EQ(a[2], 1.f);
    Image img;
    img.width = 3;
    img.height = 1;
    img.channels = 3;
    img.pixels = {200, 100, 40, 200, 100, 40, 200, 100, 40};
    const Image out = apply_mask(img, a, 0);
    EXPECT_EQ(out.channels, 3);
    const std::vector<uint8_t> want = {0, 0, 0, 50, 25, 10, 200, 100, 40};
    EXPECT_EQ(out.pixels, want);
    const Image white = apply_mask(img, map_from(1, 1, {0.f}), 255);  // mask resampled to 3x1
    for (uint8_t p : white.pixels) EXPECT_EQ(p, 255);
}

}  // namespace
}  // namespace cnnlens
