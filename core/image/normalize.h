// From a raw map to [0,1] for display (PAIR's and the CAM libraries' normalisations) and the
// masks the reference libraries cut from a map.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/image/image.h"
#include "core/tensor/tensor.h"

namespace cnnlens {

// Maps here are float tensors of shape [H,W]; [H,W,1] and [1,H,W,1] are accepted too and
// treated as [H,W]. Outputs keep the input's shape.

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

}  // namespace cnnlens
