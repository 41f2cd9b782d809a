// Feature maps: a layer's activations for one image, and the colour scales to show them
// (per map, per layer, or global as CNNX offers).
#pragma once
#include <string>
#include <vector>

#include "core/explain/probe.h"

namespace cnnlens {

// One layer's activations for one image, channel-major for tiling one map per channel.
struct FeatureMaps {
    std::string layer;                            // display name
    int height = 0, width = 0, channels = 0;      // a rank-2 layer gives 1 x 1 maps
    Tensor maps;                                  // [C, H, W]
    std::vector<float> channel_min, channel_max;  // per map
    float layer_min = 0.f, layer_max = 0.f;
};

// Activations of node `layer_node` for `image` [1, H, W, C] in model input space.
Expected<FeatureMaps> feature_maps(ModelProbe& probe, const Tensor& image, int layer_node);

// The shared colour scale of a map display (CNNX's per unit / per module / global choice).
enum class MapScale { kPerMap, kPerLayer, kGlobal };

struct ValueRange {
    float lo = 0.f, hi = 1.f;
};

// Min and max of every spatial layer's activations for `image` (all rank-4 layers except the
// input), fetched in one probe run: the kGlobal range.
Expected<ValueRange> global_activation_range(ModelProbe& probe, const Tensor& image);

// The (lo, hi) that maps map k of `fm` onto a colour scale: its own range, its layer's, or
// `global` (from global_activation_range). symmetric gives (-m, m), m = max(|lo|, |hi|), for a
// diverging colormap. hi > lo always: a constant map gets hi = lo + 1 (m = 1 when symmetric).
ValueRange map_range(const FeatureMaps& fm, int k, MapScale scale, ValueRange global = {},
                     bool symmetric = false);

}  // namespace cnnlens
