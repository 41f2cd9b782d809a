// Turned crops: the frame's geometry, upright crops as whole-pixel copies, turned crops that
// level a tilted bar, and a map drawn back on the photo through the turn landing where the
// crop saw the thing it marks (overlay_in_frame of render.h).
#include "core/image/crop_frame.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/image/render.h"

namespace cnnlens {
namespace {

constexpr float kDeg = std::numbers::pi_v<float> / 180.f;

Image gray(int w, int h, uint8_t v = 0) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = 1;
    img.pixels.assign(static_cast<size_t>(w) * h, v);
    return img;
}

// The intensity-weighted centroid of the pixels above `threshold` (channel 0).
PointF centroid(const Image& img, int threshold) {
    double sx = 0, sy = 0, s = 0;
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x) {
            const int v = img.pixels[(static_cast<size_t>(y) * img.width + x) * img.channels];
            if (v <= threshold) continue;
            sx += v * (x + 0.5), sy += v * (y + 0.5), s += v;
        }
    return s > 0 ? PointF{static_cast<float>(sx / s), static_cast<float>(sy / s)} : PointF{-1, -1};
}

TEST(CropFrame, MapsCropPointsToThePhotoAndBack) {
    const CropFrame f{100, 80, 60, 40, 30 * kDeg};
    const PointF centre = f.to_photo({30, 20});
    EXPECT_NEAR(centre.x, 100, 1e-4);
    EXPECT_NEAR(centre.y, 80, 1e-4);
    // The crop's x axis runs along (cos 30, sin 30): clockwise on screen, y pointing down.
    const PointF right = f.to_photo({40, 20});
    EXPECT_NEAR(right.x, 100 + 10 * std::cos(30 * kDeg), 1e-4);
    EXPECT_NEAR(right.y, 80 + 10 * std::sin(30 * kDeg), 1e-4);
    for (const PointF p : {PointF{0, 0}, PointF{60, 40}, PointF{13.5f, 7.25f}}) {
        const PointF back = f.to_crop(f.to_photo(p));
        EXPECT_NEAR(back.x, p.x, 1e-3);
        EXPECT_NEAR(back.y, p.y, 1e-3);
    }
    const auto c = f.corners();
    EXPECT_NEAR(std::hypot(c[1].x - c[0].x, c[1].y - c[0].y), 60, 1e-3);
    EXPECT_NEAR(std::hypot(c[3].x - c[0].x, c[3].y - c[0].y), 40, 1e-3);
    EXPECT_NEAR(f.angle_degrees(), 30, 1e-4);
    const CropFrame half = f.scaled(0.5f);
    EXPECT_NEAR(half.to_photo({15, 10}).x, 50, 1e-4);
    EXPECT_EQ(half.angle, f.angle);
}

TEST(CropFrame, AnUprightFrameCopiesWholePixelsAndRepeatsTheEdges) {
    Image img = gray(5, 4);
    for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(10 * i);
    // Top-left at (-1.2, 0.8) rounds to (-1, 1).
    const Image c = crop_frame(img, CropFrame{0.3f, 2.3f, 3, 3, 0});
    ASSERT_EQ(c.width, 3);
    ASSERT_EQ(c.height, 3);
    const auto at = [&](int x, int y) {
        return img.pixels[static_cast<size_t>(std::clamp(y, 0, 3)) * 5 + std::clamp(x, 0, 4)];
    };
    for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x)
            EXPECT_EQ(c.pixels[static_cast<size_t>(y) * 3 + x], at(x - 1, y + 1)) << x << "," << y;
}

TEST(CropFrame, ATurnedFrameLevelsATiltedBar) {
    // A bright bar through (100, 100) tilted by 25 degrees (clockwise on screen).
    Image img = gray(200, 200, 20);
    const float a = 25 * kDeg;
    for (int y = 0; y < 200; ++y)
        for (int x = 0; x < 200; ++x) {
            const float dx = x + 0.5f - 100, dy = y + 0.5f - 100;
            const float across = -dx * std::sin(a) + dy * std::cos(a),
                        along = dx * std::cos(a) + dy * std::sin(a);
            if (std::abs(across) < 4 && std::abs(along) < 50)
                img.pixels[static_cast<size_t>(y) * 200 + x] = 220;
        }
    const Image level = crop_frame(img, CropFrame{100, 100, 80, 80, a});
    const Image upright = crop_frame(img, CropFrame{100, 100, 80, 80, 0});
    // Count bright pixels per row: the levelled bar fills rows 36..43 across the whole crop.
    const auto bright_rows = [](const Image& c) {
        int rows = 0;
        for (int y = 0; y < c.height; ++y) {
            int n = 0;
            for (int x = 0; x < c.width; ++x)
                n += c.pixels[static_cast<size_t>(y) * c.width + x] > 120;
            rows += n > 0;
        }
        return rows;
    };
    EXPECT_LE(bright_rows(level), 9);
    EXPECT_GT(bright_rows(upright), 30) << "unturned, the bar crosses many rows";
    for (int x = 0; x < 80; ++x)
        EXPECT_GT(level.pixels[40 * 80 + x], 200) << "row 40, column " << x;
}

TEST(CropFrame, AMapDrawnBackThroughTheTurnLandsWhereTheCropSawIt) {
    // A dot at (130, 60); a 90-pixel frame centred at (110, 90) turned by -35 degrees holds it.
    Image photo = gray(240, 180, 0);
    for (int y = 57; y < 63; ++y)
        for (int x = 127; x < 133; ++x) photo.pixels[static_cast<size_t>(y) * 240 + x] = 255;
    const CropFrame f{110, 90, 90, 90, -35 * kDeg};
    const Image crop = crop_frame(photo, f);
    // The crop as a 64x64 map (as a model's input would be), drawn back at full opacity in gray.
    Tensor map(Shape{64, 64});
    std::vector<float> src(crop.pixels.begin(), crop.pixels.end());
    resample(src.data(), crop.width, crop.height, 1, map.data(), 64, 64);
    for (int64_t i = 0; i < map.size(); ++i) map[i] /= 255.f;
    const Image back = overlay_in_frame(gray(240, 180, 0), map, f, Colormap::kGray, 1.f);
    ASSERT_EQ(back.width, 240);
    ASSERT_EQ(back.channels, 4);
    const PointF dot = centroid(back, 60);
    EXPECT_NEAR(dot.x, 130, 1.5);
    EXPECT_NEAR(dot.y, 60, 1.5);
    // Over a white photo: outside the frame it stays white, inside (away from the dot) the dark
    // map replaces it.
    const Image over_white = overlay_in_frame(gray(240, 180, 255), map, f, Colormap::kGray, 1.f);
    const auto px = [&](float x, float y) {
        return over_white.pixels[(static_cast<size_t>(y) * 240 + static_cast<size_t>(x)) * 4];
    };
    EXPECT_EQ(px(5, 5), 255) << "outside the frame";
    const PointF inside = f.to_photo({10, 80});
    EXPECT_LT(px(inside.x, inside.y), 30) << "inside the frame, away from the dot";
    // An upright frame of the whole photo is the plain overlay.
    const Image whole =
        overlay_in_frame(photo, map, CropFrame{120, 90, 240, 180, 0}, Colormap::kGray, 0.5f);
    const Image plain = overlay(photo, map, Colormap::kGray, 0.5f);
    int worst = 0;
    for (size_t i = 0; i < whole.pixels.size(); ++i)
        worst = std::max(worst, std::abs(whole.pixels[i] - plain.pixels[i]));
    EXPECT_LE(worst, 1) << "both sample the map bilinearly with pixel centres at +0.5";
}

// The capped crop (a large photo's face): an upright frame is the plain crop averaged in k x k
// blocks, k = ceil(side / max_side), from its rounded top-left corner; frames within the cap
// and a cap of 0 give the plain crop; the outside repeats the edge pixels, as the plain crop's.
TEST(CropFrame, ACappedUprightFrameIsThePlainCropAveragedInBlocks) {
    Image img;
    img.width = 300, img.height = 200, img.channels = 3;
    for (int i = 0; i < 300 * 200 * 3; ++i)
        img.pixels.push_back(static_cast<uint8_t>((i * 7919) % 251));
    for (const CropFrame f : {CropFrame{150.2f, 99.7f, 120, 120, 0},
                              CropFrame{10, 190, 121, 121, 0}, CropFrame{-30, 40, 90, 90, 0}}) {
        const Image plain = crop_frame(img, f);
        for (const int cap : {40, 50, 61}) {
            const int k = (plain.width + cap - 1) / cap;
            const Image small = crop_frame(img, f, cap);
            ASSERT_LE(std::max(small.width, small.height), cap);
            ASSERT_EQ(small.width, static_cast<int>(std::lround(f.width / static_cast<float>(k))));
            ASSERT_EQ(small.channels, 3);
            int worst = 0;
            for (int y = 0; y < small.height; ++y)
                for (int x = 0; x < small.width; ++x)
                    for (int c = 0; c < 3; ++c) {
                        int sum = 0;
                        for (int j = 0; j < k; ++j)
                            for (int i = 0; i < k; ++i) {
                                // Blocks past the plain crop's last pixel take the photo beyond it.
                                const int px = std::clamp(
                                    static_cast<int>(std::lround(f.cx - f.width / 2)) + x * k + i,
                                    0, img.width - 1);
                                const int py = std::clamp(
                                    static_cast<int>(std::lround(f.cy - f.height / 2)) + y * k + j,
                                    0, img.height - 1);
                                sum +=
                                    img.pixels[(static_cast<size_t>(py) * img.width + px) * 3 + c];
                            }
                        const int want = (sum + k * k / 2) / (k * k);
                        worst = std::max(
                            worst,
                            std::abs(
                                small.pixels[(static_cast<size_t>(y) * small.width + x) * 3 + c] -
                                want));
                    }
            EXPECT_EQ(worst, 0) << "frame at " << f.cx << "," << f.cy << ", cap " << cap;
        }
        EXPECT_EQ(crop_frame(img, f, 0).pixels, plain.pixels);
        EXPECT_EQ(crop_frame(img, f, 200).pixels, plain.pixels);
    }
}

// A capped turned frame levels the tilted bar as the full-size crop does, at a third of its side.
TEST(CropFrame, ACappedTurnedFrameLevelsATiltedBarToo) {
    Image img = gray(600, 600, 20);
    const float a = 25 * kDeg;
    for (int y = 0; y < 600; ++y)
        for (int x = 0; x < 600; ++x) {
            const float dx = x + 0.5f - 300, dy = y + 0.5f - 300;
            const float across = -dx * std::sin(a) + dy * std::cos(a),
                        along = dx * std::cos(a) + dy * std::sin(a);
            if (std::abs(across) < 12 && std::abs(along) < 150)
                img.pixels[static_cast<size_t>(y) * 600 + x] = 220;
        }
    const CropFrame f{300, 300, 240, 240, a};
    const Image full = crop_frame(img, f), small = crop_frame(img, f, 80);
    ASSERT_EQ(small.width, 80);
    ASSERT_EQ(small.height, 80);
    // The full crop averaged 3:1 against the capped one: the same picture up to resampling.
    double diff = 0;
    for (int y = 0; y < 80; ++y)
        for (int x = 0; x < 80; ++x) {
            int sum = 0;
            for (int j = 0; j < 3; ++j)
                for (int i = 0; i < 3; ++i)
                    sum += full.pixels[static_cast<size_t>(3 * y + j) * 240 + 3 * x + i];
            diff += std::abs(sum / 9.0 - small.pixels[static_cast<size_t>(y) * 80 + x]);
        }
    EXPECT_LT(diff / (80 * 80), 3.0);
    for (int x = 0; x < 80; ++x)
        EXPECT_GT(small.pixels[40 * 80 + x], 200) << "row 40, column " << x;
    for (int x = 0; x < 80; ++x) EXPECT_LT(small.pixels[20 * 80 + x], 40) << "row 20, column " << x;
    // Far outside the photo (and a frame that is not a number) only edge pixels are seen.
    const Image outside = crop_frame(img, CropFrame{-5000, 300, 240, 240, a}, 80);
    for (const uint8_t v : outside.pixels) ASSERT_EQ(v, 20);
    const Image nan = crop_frame(img, CropFrame{std::nanf(""), 300, 240, 240, a}, 80);
    EXPECT_EQ(nan.width, 80);
}

}  // namespace
}  // namespace cnnlens
