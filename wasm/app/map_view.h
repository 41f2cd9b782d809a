// Maps drawn to fill the space they have: a picture of layers (a smooth face, the map over it,
// superpixel edges) drawn at any size, a hover that reads the pixel's value and the face's class
// scores, a click that zooms it to the largest size the page fits, and the layout arithmetic the
// panels share (side by side or stacked, grid columns from the width). Sizes are in framebuffer
// pixels; ui_px() converts the design sizes of a 13-pixel font (the page scales its font with the
// device pixel ratio, platform_web.cpp).
#pragma once
#include <imgui.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wasm/app/texture.h"

namespace cnnlens::app {

// `px` design pixels in framebuffer pixels (x the font's scale: 3 on a phone at devicePixelRatio
// 3).
float ui_px(float px);

struct MapLayer {
    const Texture* texture = nullptr;  // skipped when null or empty
    ImVec2 uv0{0, 0}, uv1{1, 1};
};

// What a map shows and what a hover over it reads. The spans and pointers must outlive the
// frame's draw call only (the zoom keeps copies).
struct MapPicture {
    MapLayer layers[3];             // drawn in order: the face, the map, edges
    std::span<const float> values;  // the map's values, row-major [height, width], or empty
    int width = 0, height = 0;      // the map's size in its own pixels
    float lo = 0, hi = 1;           // the legend's range (values mapped to its ends)
    std::string_view unit;          // what a value is ("gradient", "activation")
    std::string_view reading;       // how to read the colours (map_reading())
    std::string title;              // the zoom's caption
    std::span<const float> probs;   // the face's class scores, or empty
    const std::vector<std::string>* names = nullptr;
};

// Draws `pic` at the cursor at w x h. Hovered: a tooltip with the pixel's value and where it sits
// on the legend, and the face's class scores. Clicked: true, and when `click_zooms` the map opens
// in the zoom (draw_map_zoom).
bool draw_map(const char* id, const MapPicture& pic, ImVec2 size, bool click_zooms = true);
// The hover's tooltip for the map point (u, v) in [0, 1]^2 of `pic` (for maps drawn some other
// way, e.g. turned over Live's video).
void map_tooltip(const MapPicture& pic, float u, float v);
// The zoomed map, if one is open: a modal window with the map at the largest size that fits, the
// same hover; a click or Escape closes it. Call once a frame, after the panels.
void draw_map_zoom();
// Whether a zoom is open, and its map's drawn rectangle (x, y, w, h) for the test hook.
bool map_zoom_open(float rect[4]);

// The side of `count` equal square pictures laid out side by side or stacked in `region`, each
// with `beside` pixels to its right (a legend) and `above` above it (a caption), whichever gives
// them more room; `stacked` says which was chosen.
float fit_pictures(int count, ImVec2 region, float beside, float above, bool* stacked);

// Columns and tile width for `count` tiles of aspect w/h `aspect` in `region`, each tile with
// `caption` pixels of text under it: the layout that shows them largest while every tile fits in
// the region's height, or, when even min_tile-wide tiles cannot fit it, as many min_tile-wide
// columns as the width holds (the rest scrolls). Tiles are never wider than max_tile.
struct GridFit {
    int columns = 1;
    float tile = 0;
};
GridFit fit_grid(int count, float aspect, ImVec2 region, float caption, float min_tile,
                 float max_tile);

// Text in `width` pixels: the whole text when it fits, else shorten()'s (the whole text then
// shows in a tooltip on hover). Returns true when it was shortened.
bool text_fit(std::string_view text, float width, bool disabled = false);
// SameLine() when `width` more pixels fit on the line, else the next line.
void same_line_if_fits(float width);
// The width of a checkbox or radio button with `label`.
float check_width(const char* label);
// Disabled (gray) text beside the last item when it fits there, else wrapped on the next line.
void hint_beside(std::string_view text);
// ImGui::BeginCombo with the preview cut to the box (whole on hover while closed).
bool begin_combo(const char* label, std::string_view preview);
// `text` cut to its start and "..." to fit `width` pixels at the current font (whole when it fits).
std::string shorten(std::string_view text, float width);

}  // namespace cnnlens::app
