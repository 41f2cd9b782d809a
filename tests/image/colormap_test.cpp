// Colormaps against matplotlib's values; names round trip.
#include "core/image/colormap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/image/render.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

void expect_rgb_near(Rgba got, int r, int g, int b, int tol) {
    EXPECT_NEAR(got[0], r, tol);
    EXPECT_NEAR(got[1], g, tol);
    EXPECT_NEAR(got[2], b, tol);
    EXPECT_EQ(got[3], 255);
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

}  // namespace
}  // namespace cnnlens
