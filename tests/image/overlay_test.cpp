// Overlays, superpixel edges, LIME paint and nearest upscaling.
#include "core/image/overlay.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/image/render.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

Tensor overlay_map(int h, int w, std::initializer_list<float> values) {
    Tensor t(Shape{h, w});
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

TEST(Render, OverlayAlphaZeroReturnsTheBase) {
    auto face = load_image(test::source_path("tests/data/astronaut_face.png"));
    ASSERT_TRUE(face) << face.status().message();
    Rng rng(1);
    const Tensor map = test::random_tensor(Shape{6, 6}, rng, 0.f, 1.f);
    const Image out = overlay(*face, map, Colormap::kJet, 0.f);
    ASSERT_EQ(out.width, face->width);
    ASSERT_EQ(out.height, face->height);
    ASSERT_EQ(out.channels, 4);
    const size_t n = static_cast<size_t>(out.width) * out.height;
    for (size_t p = 0; p < n; ++p)
        for (size_t k = 0; k < 3; ++k) ASSERT_EQ(out.pixels[p * 4 + k], face->pixels[p * 3 + k]);
}

TEST(Render, OverlayAlphaOneIsTheColormapAndGrayBasesWork) {
    Image gray;
    gray.width = 4;
    gray.height = 2;
    gray.channels = 1;
    gray.pixels.assign(8, 77);
    const Image out = overlay(gray, overlay_map(1, 1, {1.f}), Colormap::kViridis, 1.f);
    for (size_t p = 0; p < 8; ++p) {
        EXPECT_EQ(out.pixels[p * 4 + 0], 253);
        EXPECT_EQ(out.pixels[p * 4 + 1], 231);
        EXPECT_EQ(out.pixels[p * 4 + 2], 37);
    }
    const Image half = overlay(gray, overlay_map(1, 1, {0.f}), Colormap::kGray, 0.5f);
    EXPECT_NEAR(half.pixels[0], 38.5, 1);
}

TEST(Render, BoundariesAndLimePaint) {
    // Two 2x2 labels side by side (ids 0 | 1), drawn on a 4x2 image upscaled 2x to 8x4.
    const std::vector<int> labels = {0, 1, 0, 1};
    Image img;
    img.width = 8;
    img.height = 4;
    img.channels = 1;
    img.pixels.assign(32, 100);
    draw_boundaries(img, labels, 2, 2, {255, 0, 0});
    ASSERT_EQ(img.channels, 4);
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 8; ++x) {
            const uint8_t* p = &img.pixels[(static_cast<size_t>(y) * 8 + x) * 4];
            if (x == 3)
                EXPECT_EQ(p[0], 255) << x << "," << y;
            else
                EXPECT_EQ(p[0], 100) << x << "," << y;
        }
    Image base;
    base.width = 2;
    base.height = 2;
    base.channels = 1;
    base.pixels = {10, 200, 10, 200};
    const std::vector<int> pos = {1}, neg = {0};
    const Image painted = paint_segments(base, labels, 2, 2, pos, neg);
    EXPECT_EQ(painted.pixels[0], 200);  // segment 0 negative: red = image max
    EXPECT_EQ(painted.pixels[1], 10);
    EXPECT_EQ(painted.pixels[4 + 1], 200);  // segment 1 positive: green = image max
    const Image hidden = paint_segments(base, labels, 2, 2, pos, {}, true);
    EXPECT_EQ(hidden.pixels[0], 0);
    EXPECT_EQ(hidden.pixels[4], 200);
    const float w[] = {-0.5f, 2.f};
    const Tensor wm = segment_weight_map(labels, 2, 2, w);
    EXPECT_FLOAT_EQ(wm[0], -0.5f);
    EXPECT_FLOAT_EQ(wm[3], 2.f);
}

TEST(Render, UpscaleNearestRepeatsPixels) {
    Image img;
    img.width = 2;
    img.height = 1;
    img.channels = 1;
    img.pixels = {1, 2};
    const Image up = upscale_nearest(img, 3);
    EXPECT_EQ(up.width, 6);
    EXPECT_EQ(up.height, 3);
    const std::vector<uint8_t> row = {1, 1, 1, 2, 2, 2};
    for (int y = 0; y < 3; ++y)
        EXPECT_TRUE(std::equal(row.begin(), row.end(), up.pixels.begin() + y * 6));
}

}  // namespace
}  // namespace cnnlens
