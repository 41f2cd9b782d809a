// Colormaps for maps shown as pictures: matplotlib's viridis, inferno, jet, RdBu (and reversed)
// and gray, by enum or by name, and the RGBA colours the drawing files share.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace cnnlens {

using Rgb = std::array<uint8_t, 3>;
using Rgba = std::array<uint8_t, 4>;

inline constexpr Rgba kWhite{255, 255, 255, 255};
inline constexpr Rgba kBlack{0, 0, 0, 255};

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

}  // namespace cnnlens
