// Feature maps and their colour ranges (see feature_maps.h).
#include "core/explain/feature_maps.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cnnlens {

Expected<FeatureMaps> feature_maps(ModelProbe& probe, const Tensor& image, int layer_node) {
    if (image.shape().rank() != 4 || image.shape()[0] != 1)
        return invalid_argument("feature maps need one image [1, H, W, C], got " +
                                image.shape().str());
    ProbeRequest r;
    r.layers = {layer_node};
    auto res = probe.run(image, r);
    if (!res) return res.status();
    const Tensor& act = res->activations[0];
    FeatureMaps fm;
    fm.layer = layer_name(probe, layer_node);
    const Shape& s = act.shape();
    if (s.rank() == 4) {
        fm.height = static_cast<int>(s[1]);
        fm.width = static_cast<int>(s[2]);
    } else if (s.rank() == 2) {
        fm.height = fm.width = 1;
    } else {
        return invalid_argument("layer '" + fm.layer + "' has output " + s.str() +
                                ", not feature maps [1, H, W, C] or units [1, C]");
    }
    fm.channels = static_cast<int>(s.dim(-1));
    const int64_t positions = int64_t{fm.height} * fm.width, c = fm.channels;
    fm.maps.reset(Shape{c, fm.height, fm.width});
    fm.channel_min.assign(static_cast<size_t>(c), std::numeric_limits<float>::infinity());
    fm.channel_max.assign(static_cast<size_t>(c), -std::numeric_limits<float>::infinity());
    for (int64_t p = 0; p < positions; ++p)
        for (int64_t k = 0; k < c; ++k) {
            const float a = act[p * c + k];
            fm.maps[k * positions + p] = a;
            fm.channel_min[static_cast<size_t>(k)] =
                std::min(fm.channel_min[static_cast<size_t>(k)], a);
            fm.channel_max[static_cast<size_t>(k)] =
                std::max(fm.channel_max[static_cast<size_t>(k)], a);
        }
    fm.layer_min = *std::min_element(fm.channel_min.begin(), fm.channel_min.end());
    fm.layer_max = *std::max_element(fm.channel_max.begin(), fm.channel_max.end());
    return fm;
}

Expected<ValueRange> global_activation_range(ModelProbe& probe, const Tensor& image) {
    ProbeRequest r;
    for (const LayerInfo& l : probe.layers())
        if (l.spatial() && l.op != "Input") r.layers.push_back(l.node);
    if (r.layers.empty())
        return unsupported(
            "the model lists no spatial layers, so there is no global activation range");
    auto res = probe.run(image, r);
    if (!res) return res.status();
    ValueRange g{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
    for (const Tensor& a : res->activations) {
        const auto [lo, hi] = std::minmax_element(a.data(), a.data() + a.size());
        g.lo = std::min(g.lo, *lo);
        g.hi = std::max(g.hi, *hi);
    }
    return g;
}

ValueRange map_range(const FeatureMaps& fm, int k, MapScale scale, ValueRange global,
                     bool symmetric) {
    ValueRange r = global;
    if (scale == MapScale::kPerMap)
        r = {fm.channel_min[static_cast<size_t>(k)], fm.channel_max[static_cast<size_t>(k)]};
    if (scale == MapScale::kPerLayer) r = {fm.layer_min, fm.layer_max};
    if (symmetric) {
        const float m = std::max(std::fabs(r.lo), std::fabs(r.hi));
        return m > 0.f ? ValueRange{-m, m} : ValueRange{-1.f, 1.f};
    }
    if (!(r.hi > r.lo)) r.hi = r.lo + 1.f;
    return r;
}

}  // namespace cnnlens
