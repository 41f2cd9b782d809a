// Colormaps against matplotlib's values, normalisation and mask semantics of the anchors,
// overlays, text and grids, and PNG / .npy round trips.
#include "core/image/render.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "tests/test_util.h"

namespace cnnlens {
namespace {

void expect_rgb_near(Rgba got, int r, int g, int b, int tol) {
    EXPECT_NEAR(got[0], r, tol);
    EXPECT_NEAR(got[1], g, tol);
    EXPECT_NEAR(got[2], b, tol);
    EXPECT_EQ(got[3], 255);
}

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

std::string temp_path(const std::string& name) {
    return ::testing::TempDir() + "cnnlens_render_" + name;
}

TEST(Colormap, MatchesMatplotlibAtKnownPoints) {
    // matplotlib 3.6: cmap(t)[:3] * 255, rounded.
    expect_rgb_near(colormap_rgba(Colormap::kViridis, 0.f), 68, 1, 84, 0);
    expect_rgb_near(colormap_rgba(Colormap::kViridis, 1.f), 253, 231, 37, 0);
    expect_rgb_near(colormap_rgba(Colormap::kViridis, 0.5f), 33, 145, 140, 2);
    expect_rgb_near(colormap_rgba(Colormap::kViridis, 0.25f), 59, 82, 139, 2);
    expect_rgb_near(colormap_rgba(Colormap::kInferno, 0.f), 0, 0, 4, 0);
    expect_rgb_near(colormap_rgba(Colormap::kInferno, 1.f), 252, 255, 164, 0);
    expect_rgb_near(colormap_rgba(Colormap::kInferno, 0.5f), 188, 55, 84, 2);
    expect_rgb_near(colormap_rgba(Colormap::kJet, 0.f), 0, 0, 128, 0);
    expect_rgb_near(colormap_rgba(Colormap::kJet, 1.f), 128, 0, 0, 0);
    expect_rgb_near(colormap_rgba(Colormap::kJet, 0.5f), 125, 255, 122, 4);
    expect_rgb_near(colormap_rgba(Colormap::kRdBu, 0.f), 103, 0, 31, 0);
    expect_rgb_near(colormap_rgba(Colormap::kRdBu, 1.f), 5, 48, 97, 0);
    expect_rgb_near(colormap_rgba(Colormap::kGray, 0.5f), 128, 128, 128, 1);
}

TEST(Colormap, RdBuIsWhiteInTheMiddleAndReversible) {
    const Rgba mid = colormap_rgba(Colormap::kRdBu, 0.5f);
    for (int k = 0; k < 3; ++k) EXPECT_GE(mid[static_cast<size_t>(k)], 240);
    for (float t : {0.f, 0.2f, 0.7f, 1.f})
        EXPECT_EQ(colormap_rgba(Colormap::kRdBuR, t), colormap_rgba(Colormap::kRdBu, 1.f - t));
}

TEST(Colormap, ClampsAndTreatsNanAsZero) {
    EXPECT_EQ(colormap_rgba(Colormap::kViridis, -3.f), colormap_rgba(Colormap::kViridis, 0.f));
    EXPECT_EQ(colormap_rgba(Colormap::kViridis, 7.f), colormap_rgba(Colormap::kViridis, 1.f));
    EXPECT_EQ(colormap_rgba(Colormap::kInferno, std::nanf("")),
              colormap_rgba(Colormap::kInferno, 0.f));
}

TEST(Colormap, NamesRoundTripAndUnknownNamesAreListed) {
    for (const ColormapInfo& c : kColormaps) {
        auto back = colormap_from_name(c.name);
        ASSERT_TRUE(back) << c.name;
        EXPECT_EQ(*back, c.colormap);
        EXPECT_EQ(colormap_name(c.colormap), c.name);
    }
    EXPECT_EQ(*colormap_from_name("VIRIDIS"), Colormap::kViridis);
    auto bad = colormap_from_name("rainbow");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.status().message().find("'rainbow'"), std::string::npos);
    EXPECT_NE(bad.status().message().find("inferno"), std::string::npos);
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
    const Image out = overlay(gray, map_from(1, 1, {1.f}), Colormap::kViridis, 1.f);
    for (size_t p = 0; p < 8; ++p) {
        EXPECT_EQ(out.pixels[p * 4 + 0], 253);
        EXPECT_EQ(out.pixels[p * 4 + 1], 231);
        EXPECT_EQ(out.pixels[p * 4 + 2], 37);
    }
    const Image half = overlay(gray, map_from(1, 1, {0.f}), Colormap::kGray, 0.5f);
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

TEST(Grid, DimensionsFollowTilesCaptionsAndHeaders) {
    Image tile;
    tile.width = 20;
    tile.height = 10;
    tile.channels = 3;
    tile.pixels.assign(600, 9);
    const std::vector<Image> tiles(5, tile);
    const Image g = grid(tiles, 3, {}, 4);
    EXPECT_EQ(g.width, 4 + 3 * (20 + 4));
    EXPECT_EQ(g.height, 4 + 2 * (10 + 4));
    EXPECT_EQ(g.channels, 4);
    EXPECT_EQ(g.pixels[(static_cast<size_t>(4) * g.width + 4) * 4], 9);  // first tile's corner
    const Image c = grid(tiles, 3, {"a", "b"}, 4);
    EXPECT_EQ(c.height, 4 + (10 + text_height("a") + 2 + 4) + (10 + 4));  // only row 0 has captions
    GridOptions o;
    o.columns = 2;
    o.row_headers = {"row one", "row two", "row three"};
    o.column_headers = {"left", "right"};
    const Image h = grid(tiles, o);
    const int left_w = std::max(20, text_width("left")),
              right_w = std::max(20, text_width("right"));
    EXPECT_GT(right_w, 20);  // a header wider than the tiles widens its column only
    EXPECT_EQ(h.width, 4 + text_width("row three") + 4 + (left_w + 4) + (right_w + 4));
    EXPECT_EQ(h.height, 4 + text_height("left") + 4 + 3 * (10 + 4));
}

TEST(Render, TextAndColorbarDrawInk) {
    const Image l = label_image("Happy 0.5", 2);
    EXPECT_EQ(l.width, text_width("Happy 0.5", 2) + 4);
    EXPECT_EQ(l.height, 24 + 4);
    int dark = 0;
    for (size_t i = 0; i < l.pixels.size(); i += 4) dark += l.pixels[i] < 128;
    EXPECT_GT(dark, 40);
    for (bool vertical : {true, false}) {
        const Image bar = colorbar(Colormap::kViridis, -1.f, 1.f, vertical ? 60 : 200,
                                   vertical ? 200 : 40, vertical);
        EXPECT_EQ(bar.width, vertical ? 60 : 200);
        EXPECT_EQ(bar.height, vertical ? 200 : 40);
        // Somewhere along the bar is viridis' yellow end and its purple start.
        bool yellow = false, purple = false;
        for (size_t i = 0; i < bar.pixels.size(); i += 4) {
            yellow |= bar.pixels[i] > 240 && bar.pixels[i + 1] > 220 && bar.pixels[i + 2] < 60;
            purple |= bar.pixels[i] == 68 && bar.pixels[i + 1] < 5 && bar.pixels[i + 2] == 84;
        }
        EXPECT_TRUE(yellow && purple) << vertical;
    }
    const Image tiny = colorbar(Colormap::kGray, 0.f, 1.f, 3, 3, true);  // no room for labels
    EXPECT_EQ(tiny.width, 3);
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

TEST(Png, RoundTripsThroughDecodeImage) {
    auto face = load_image(test::source_path("tests/data/astronaut_face.png"));
    ASSERT_TRUE(face);
    for (const Image& img : {*face, to_rgba(*face)}) {
        const std::vector<uint8_t> png = encode_png(img);
        auto back = decode_image(png, "encoded.png");
        ASSERT_TRUE(back) << back.status().message();
        EXPECT_EQ(back->width, img.width);
        EXPECT_EQ(back->height, img.height);
        ASSERT_EQ(back->channels, 3);  // decode_image drops alpha
        const size_t n = static_cast<size_t>(img.width) * img.height;
        for (size_t p = 0; p < n; ++p)
            for (size_t k = 0; k < 3; ++k)
                ASSERT_EQ(back->pixels[p * 3 + k],
                          img.pixels[p * static_cast<size_t>(img.channels) + k]);
    }
    const std::string path = temp_path("face.png");
    ASSERT_TRUE(write_png(path, *face));
    auto again = load_image(path);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->pixels, face->pixels);
    std::remove(path.c_str());
}

TEST(Png, WriteErrorsNameThePath) {
    Image img;
    img.width = 1;
    img.height = 1;
    img.channels = 1;
    img.pixels = {0};
    const Status s = write_png("/no/such/folder/out.png", img);
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("/no/such/folder/out.png"), std::string::npos);
    EXPECT_FALSE(write_png("empty.png", Image{}));
}

TEST(Npy, HeaderIsNumpyV1AndDataLittleEndian) {
    Tensor t(Shape{2, 3});
    for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i) - 1.5f;
    const std::vector<uint8_t> b = encode_npy(t);
    ASSERT_GE(b.size(), 10u);
    EXPECT_EQ(b[0], 0x93);
    EXPECT_EQ(std::string(b.begin() + 1, b.begin() + 6), "NUMPY");
    EXPECT_EQ(b[6], 1);
    EXPECT_EQ(b[7], 0);
    const size_t header_len = b[8] | (size_t{b[9]} << 8);
    EXPECT_EQ((10 + header_len) % 64, 0u);
    const std::string header(b.begin() + 10, b.begin() + 10 + static_cast<ptrdiff_t>(header_len));
    EXPECT_EQ(header.back(), '\n');
    EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u)
        << header;
    ASSERT_EQ(b.size(), 10 + header_len + 6 * 4);
    const uint8_t* d = &b[10 + header_len];
    EXPECT_EQ(d[0] | (d[1] << 8) | (d[2] << 16) | (static_cast<uint32_t>(d[3]) << 24),
              0xbfc00000u);  // -1.5f
    Tensor v(Shape{5});
    v.zero();
    const std::vector<uint8_t> vb = encode_npy(v);
    EXPECT_NE(std::string(vb.begin() + 10, vb.end()).find("'shape': (5,)"), std::string::npos);
}

TEST(Npy, RoundTripsThroughAFile) {
    Rng rng(5);
    const Tensor t = test::random_tensor(Shape{1, 7, 5, 1}, rng);
    const std::string path = temp_path("map.npy");
    ASSERT_TRUE(write_npy(path, t));
    auto back = read_npy(path);
    ASSERT_TRUE(back) << back.status().message();
    EXPECT_EQ(back->shape(), t.shape());
    EXPECT_EQ(std::memcmp(back->data(), t.data(), sizeof(float) * static_cast<size_t>(t.size())),
              0);
    std::remove(path.c_str());
    EXPECT_FALSE(read_npy(path));
}

TEST(Npy, RejectsOtherDtypesAndTruncatedData) {
    Tensor t(Shape{4, 4}, 1.f);
    std::vector<uint8_t> b = encode_npy(t);
    std::vector<uint8_t> shortened(b.begin(), b.end() - 4);
    auto s = decode_npy(shortened, "short.npy");
    ASSERT_FALSE(s);
    EXPECT_NE(s.status().message().find("short.npy"), std::string::npos);
    std::string header(b.begin(), b.end());
    const size_t at = header.find("<f4");
    b[at + 1] = 'f';
    b[at + 2] = '8';
    auto f8 = decode_npy(b, "double.npy");
    ASSERT_FALSE(f8);
    EXPECT_NE(f8.status().message().find("'<f8'"), std::string::npos) << f8.status().message();
    const std::vector<uint8_t> junk = {1, 2, 3};
    EXPECT_FALSE(decode_npy(junk, "junk.npy"));
}

}  // namespace
}  // namespace cnnlens
