// Text, colour bars and grids.
#include "core/image/draw.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/image/render.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

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

}  // namespace
}  // namespace cnnlens
