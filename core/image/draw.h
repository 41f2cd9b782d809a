// Text, colour bars and captioned grids for the CLI report and the app's legends; images made
// here are RGBA8 with alpha 255.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/image/colormap.h"
#include "core/image/image.h"

namespace cnnlens {

// Text in stb_easy_font's bitmap font (printable ASCII; others print as '?', '\n' breaks lines),
// each font pixel drawn as a scale x scale block. A line is 12*scale high, a digit 6*scale wide.
int text_width(std::string_view text, int scale = 1);
int text_height(std::string_view text, int scale = 1);
// Draws onto an RGBA image (asserted) with (x, y) the top left of the first line; clipped.
void draw_text(Image& img, int x, int y, std::string_view text, Rgba color = kBlack, int scale = 1);
// The text on its own: its size plus `pad` pixels on each side.
Image label_image(std::string_view text, int scale = 1, Rgba color = kBlack,
                  Rgba background = kWhite, int pad = 2);

// A colour scale of exactly width x height pixels: the bar plus tick marks and labels ("%.3g")
// at lo, hi and evenly between (5, 3 or 2 ticks, as many as fit). Vertical bars put hi at the
// top and labels on the right; horizontal ones put lo on the left and labels below. When the
// box is too small for labels only the bar is drawn.
Image colorbar(Colormap cmap, float lo, float hi, int width, int height, bool vertical,
               int text_scale = 1);

// Tiles laid out row by row; each column is as wide as its widest tile, caption or header and
// each row as tall as its tallest tile (so equal tiles give equal cells). Tiles are centred in
// their cells, captions centred under them; optional headers sit left of each row and above
// each column. Any tile channels; empty tiles leave their cell blank.
struct GridOptions {
    int columns = 3;
    int pad = 4;  // around and between cells, in pixels
    Rgba background = kWhite;
    std::vector<std::string> captions;        // one per tile; missing or empty: none
    std::vector<std::string> row_headers;     // one per row; empty: no header column
    std::vector<std::string> column_headers;  // one per column; empty: no header row
    int text_scale = 1;
    Rgba text_color = kBlack;
};
Image grid(const std::vector<Image>& tiles, const GridOptions& options);
Image grid(const std::vector<Image>& tiles, int columns,
           const std::vector<std::string>& captions = {}, int pad = 4, Rgba background = kWhite);

}  // namespace cnnlens
