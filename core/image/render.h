// Turning maps into pictures for the CLI report and the browser app, on the CPU: colormaps,
// map normalisation and masks as the reference libraries do them, overlays, colorbars, text,
// captioned grids, and PNG / NumPy .npy output.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/image/crop_frame.h"
#include "core/image/image.h"
#include "core/tensor/tensor.h"

namespace cnnlens {

using Rgb = std::array<uint8_t, 3>;
using Rgba = std::array<uint8_t, 4>;

inline constexpr Rgba kWhite{255, 255, 255, 255};
inline constexpr Rgba kBlack{0, 0, 0, 255};

// Maps in this file are float tensors of shape [H,W]; [H,W,1] and [1,H,W,1] are accepted too
// and treated as [H,W]. Outputs keep the input's shape. Images made here (overlays, colorbars,
// text, grids) are RGBA8 with alpha 255; functions that only filter an image keep its channels.

// ---- Colormaps -------------------------------------------------------------------------------

// Viridis, inferno, jet and RdBu are matplotlib's (sampled at 256 points, interpolated
// linearly). RdBu runs dark red (t=0) -> white (0.5) -> dark blue (1), as in matplotlib (LIME's
// weight heatmap); RdBu_r is it reversed (negative blue, positive red, the usual signed view).
enum class Colormap { kViridis, kInferno, kJet, kRdBu, kRdBuR, kGray };

struct ColormapInfo {
    Colormap colormap;
    std::string_view name;  // matplotlib's spelling; colormap_from_name ignores case
    bool diverging;         // meant for maps where 0.5 is "zero"
};
inline constexpr std::array<ColormapInfo, 6> kColormaps{{
    {Colormap::kViridis, "viridis", false},
    {Colormap::kInferno, "inferno", false},
    {Colormap::kJet, "jet", false},
    {Colormap::kRdBu, "RdBu", true},
    {Colormap::kRdBuR, "RdBu_r", true},
    {Colormap::kGray, "gray", false},
}};

std::string_view colormap_name(Colormap cmap);
// Fails with a sentence listing the known names.
Expected<Colormap> colormap_from_name(std::string_view name);
// Colour at t in [0,1] (clamped; NaN reads as 0), alpha 255.
Rgba colormap_rgba(Colormap cmap, float t);

// ---- Normalisation ---------------------------------------------------------------------------

// How a raw map becomes [0,1] for display. Percentiles are NumPy's (linear interpolation).
enum class MapNorm {
    // PAIR VisualizeImageGrayscale: lo = min, hi = P99, clip((s-lo)/(hi-lo), 0, 1). Takes the
    // map as given: pass |g| for PAIR's view of a gradient.
    kPercentile99,
    // lo = min, hi = max (Grad-CAM, UO colour output).
    kMinMax,
    // PAIR VisualizeImageDiverging: span = |P99(s)| of the signed map, (s+span)/(2 span), so
    // 0 -> 0.5. PAIR clips to [-1,1]; we clip to [0,1], the same picture once a colormap clamps.
    kSignedPercentile99,
    // span = max |s|, (s+span)/(2 span): symmetric about 0 -> 0.5 with nothing clipped.
    kSymmetricMaxAbs,
};
std::string_view map_norm_name(MapNorm norm);  // "p99", "minmax", "signed-p99", "symmetric"
Expected<MapNorm> map_norm_from_name(std::string_view name);
// Whether `norm` is for a signed map: 0 in the middle of the range.
bool map_norm_is_signed(MapNorm norm);

// A map in [0,1] and the input values that were mapped to 0 and 1 (for the legend).
// A flat map (hi == lo) normalises to 0, or to 0.5 for the signed modes.
struct NormalizedMap {
    Tensor map;
    float lo = 0.f, hi = 0.f;
};
NormalizedMap normalize_map(const Tensor& map, MapNorm norm);

// The p-th percentile (p in [0,100]) of the finite values, NumPy's default 'linear' method.
// 0 when there are none.
float percentile(std::span<const float> values, float p);

// ---- Masks (b2: PAIR top-k %, Grad-CAM ROAD 'auto' Otsu, Captum alpha_scaling) ---------------

// 1 where map >= its (100 - percent)-th percentile, else 0 (PAIR notebook: percent 30 keeps
// "the top 30 %"). percent <= 0 gives all zeros, >= 100 all ones.
Tensor mask_top_percent(const Tensor& map, float percent = 30.f);
// Grad-CAM's 'auto': min-max normalise, quantise to uint8 (truncating, as np.uint8(x*255)),
// Otsu threshold t on the 256-bin histogram, 1 where the value > t.
Tensor mask_otsu(const Tensor& map);
// Otsu's threshold for a 256-bin histogram: the bin t maximising the between-class variance of
// {<= t} and {> t} (the first such bin, like OpenCV).
int otsu_threshold(std::span<const uint32_t, 256> histogram);
// Continuous mask: the normalised map clamped to [0,1], used as opacity (Captum alpha_scaling).
// Meant for unsigned maps; for a diverging one take |2t-1| first.
Tensor alpha_mask(const Tensor& normalised);
// Each pixel blended towards `background` by the mask: out = m*img + (1-m)*background, for binary
// or continuous masks (Captum masked_image for background 0). A mask of another size is
// resampled to the image's (see resample()). Keeps the image's channels; alpha is left alone.
Image apply_mask(const Image& img, const Tensor& mask, uint8_t background = 0);

// ---- Overlays --------------------------------------------------------------------------------

// Gray, RGB or RGBA image as RGBA (alpha 255 where there was none).
Image to_rgba(const Image& img);
// The normalised map through a colormap, at the map's size.
Image colorize(const Tensor& normalised, Colormap cmap);
// (1-alpha)*base + alpha*colormap(map), at the base's size: a map of another size is resampled
// (bilinear up, area-averaged down). alpha 0.5 is Grad-CAM's image_weight 0.5 and Captum's
// blended_heat_map; alpha 0 returns the base.
Image overlay(const Image& base, const Tensor& normalised, Colormap cmap, float alpha = 0.5f);
// The normalised map drawn back on the photo through `frame` (crop_frame.h), the region of the
// photo the map was computed on: the map spans the whole frame, map[0, 0] at its top-left
// corner, so a map of a turned face crop lands turned on the photo. Each photo pixel whose centre
// lies inside the frame becomes (1-alpha)*photo + alpha*colormap(map sampled bilinearly at its
// crop position); the rest of the photo is unchanged. Returns RGBA at the photo's size.
Image overlay_in_frame(const Image& photo, const Tensor& normalised, const CropFrame& frame, Colormap cmap,
                       float alpha = 0.5f);
// Superpixel edges: `labels` holds label_w x label_h segment ids (row-major) and is sampled
// nearest-neighbour onto the image, so an upscaled image gets 1-pixel lines. A pixel is drawn
// when its segment differs from its right or lower neighbour's. Gray images become RGBA first.
void draw_boundaries(Image& img, std::span<const int> labels, int label_w, int label_h,
                     Rgb color = {255, 255, 0});
// LIME get_image_and_mask (mixed mode): in segments listed in `positive` the green channel, in
// `negative` the red channel, is set to the image's maximum; with hide_rest every other pixel
// is black. Segment ids index `labels` as for draw_boundaries.
Image paint_segments(const Image& base, std::span<const int> labels, int label_w, int label_h,
                     std::span<const int> positive, std::span<const int> negative,
                     bool hide_rest = false);
// [label_h, label_w] map whose pixels carry their segment's weight (weights[id]; 0 for ids
// outside the list): LIME's heatmap of all weights, shown with kSymmetricMaxAbs and RdBu.
Tensor segment_weight_map(std::span<const int> labels, int label_w, int label_h,
                          std::span<const float> weights);

// ---- Text, legends, grids --------------------------------------------------------------------

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

// Each pixel repeated factor x factor times (64-pixel faces are shown at 3-4x). Keeps channels.
Image upscale_nearest(const Image& img, int factor);

// ---- Files -----------------------------------------------------------------------------------

// PNG bytes of a 1-4 channel image (stb_image_write).
std::vector<uint8_t> encode_png(const Image& img);
Status write_png(const std::string& path, const Image& img);

// NumPy .npy version 1.0: little-endian '<f4', C order, shape from the tensor; the header is
// padded so the data starts at a multiple of 64 bytes, as NumPy writes it.
std::vector<uint8_t> encode_npy(const Tensor& t);
Status write_npy(const std::string& path, const Tensor& t);
// Reads .npy version 1.0 or 2.0 holding '<f4' in C order. `name` is used in error messages.
Expected<Tensor> decode_npy(std::span<const uint8_t> bytes, std::string_view name);
Expected<Tensor> read_npy(const std::string& path);

}  // namespace cnnlens
