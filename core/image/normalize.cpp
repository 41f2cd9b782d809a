// Map normalisation for display and masks (see normalize.h).
#include "core/image/normalize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/image/render_internal.h"

namespace cnnlens {

using namespace render_detail;

namespace {
constexpr std::array<std::pair<MapNorm, std::string_view>, 4> kMapNorms{{
    {MapNorm::kPercentile99, "p99"},
    {MapNorm::kMinMax, "minmax"},
    {MapNorm::kSignedPercentile99, "signed-p99"},
    {MapNorm::kSymmetricMaxAbs, "symmetric"},
}};
}  // namespace

std::string_view map_norm_name(MapNorm norm) {
    for (const auto& [n, name] : kMapNorms)
        if (n == norm) return name;
    return "?";
}

Expected<MapNorm> map_norm_from_name(std::string_view name) {
    std::string known;
    for (const auto& [n, s] : kMapNorms) {
        if (s == lower(name)) return n;
        known += (known.empty() ? "" : ", ") + std::string(s);
    }
    return invalid_argument("unknown map normalisation '" + std::string(name) +
                            "' (known: " + known + ")");
}

float percentile(std::span<const float> values, float p) {
    std::vector<float> v;
    v.reserve(values.size());
    for (float x : values)
        if (std::isfinite(x)) v.push_back(x);
    if (v.empty()) return 0.f;
    const double pos =
        std::clamp(static_cast<double>(p), 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
    const size_t k = static_cast<size_t>(pos);
    std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
    const double a = v[k];
    if (k + 1 >= v.size()) return static_cast<float>(a);
    const double b = *std::min_element(v.begin() + static_cast<ptrdiff_t>(k) + 1, v.end());
    return static_cast<float>(a + (b - a) * (pos - static_cast<double>(k)));
}

bool map_norm_is_signed(MapNorm norm) {
    return norm == MapNorm::kSignedPercentile99 || norm == MapNorm::kSymmetricMaxAbs;
}

NormalizedMap normalize_map(const Tensor& map, MapNorm norm) {
    int h = 0, w = 0;
    map_hw(map, h, w);
    NormalizedMap r{Tensor(map.shape()), 0.f, 0.f};
    const std::span<const float> s = map.span();
    float mn = std::numeric_limits<float>::infinity(), mx = -mn, max_abs = 0.f;
    for (float v : s)
        if (std::isfinite(v)) {
            mn = std::min(mn, v);
            mx = std::max(mx, v);
            max_abs = std::max(max_abs, std::fabs(v));
        }
    if (mn > mx) mn = mx = 0.f;
    const bool is_signed = map_norm_is_signed(norm);
    switch (norm) {
        case MapNorm::kPercentile99:
            r.lo = mn;
            r.hi = percentile(s, 99.f);
            break;
        case MapNorm::kMinMax:
            r.lo = mn;
            r.hi = mx;
            break;
        case MapNorm::kSignedPercentile99:
            r.hi = std::fabs(percentile(s, 99.f));
            r.lo = -r.hi;
            break;
        case MapNorm::kSymmetricMaxAbs:
            r.hi = max_abs;
            r.lo = -r.hi;
            break;
    }
    const float flat = is_signed ? 0.5f : 0.f;
    const float range = r.hi - r.lo;
    float* o = r.map.data();
    for (size_t i = 0; i < s.size(); ++i)
        o[i] = range > 0.f ? clamp01((s[i] - r.lo) / range, flat) : flat;
    return r;
}

Tensor mask_top_percent(const Tensor& map, float percent) {
    int h = 0, w = 0;
    map_hw(map, h, w);
    Tensor m(map.shape(), 0.f);
    if (percent <= 0.f) return m;
    if (percent >= 100.f) {
        std::fill_n(m.data(), m.size(), 1.f);
        return m;
    }
    const float t = percentile(map.span(), 100.f - percent);
    for (int64_t i = 0; i < map.size(); ++i) m[i] = map[i] >= t ? 1.f : 0.f;
    return m;
}

int otsu_threshold(std::span<const uint32_t, 256> hist) {
    double total = 0, sum = 0;
    for (int i = 0; i < 256; ++i) {
        total += hist[static_cast<size_t>(i)];
        sum += static_cast<double>(i) * hist[static_cast<size_t>(i)];
    }
    double w0 = 0, sum0 = 0, best = -1;
    int best_t = 0;
    for (int t = 0; t < 256; ++t) {
        w0 += hist[static_cast<size_t>(t)];
        sum0 += static_cast<double>(t) * hist[static_cast<size_t>(t)];
        const double w1 = total - w0;
        if (w0 == 0 || w1 == 0) continue;
        const double d = sum0 / w0 - (sum - sum0) / w1;
        const double between = w0 * w1 * d * d;
        if (between > best) {
            best = between;
            best_t = t;
        }
    }
    return best_t;
}

Tensor mask_otsu(const Tensor& map) {
    const NormalizedMap n = normalize_map(map, MapNorm::kMinMax);
    std::vector<uint8_t> q(static_cast<size_t>(map.size()));
    std::array<uint32_t, 256> hist{};
    for (size_t i = 0; i < q.size(); ++i) {
        q[i] = static_cast<uint8_t>(std::min(n.map[static_cast<int64_t>(i)] * 255.f, 255.f));
        ++hist[q[i]];
    }
    const int t = otsu_threshold(hist);
    Tensor m(map.shape());
    for (size_t i = 0; i < q.size(); ++i) m[static_cast<int64_t>(i)] = q[i] > t ? 1.f : 0.f;
    return m;
}

Tensor alpha_mask(const Tensor& normalised) {
    Tensor m(normalised.shape());
    for (int64_t i = 0; i < m.size(); ++i) m[i] = clamp01(normalised[i]);
    return m;
}

Image apply_mask(const Image& img, const Tensor& mask, uint8_t background) {
    const std::vector<float> m = map_at(mask, img.width, img.height);
    Image out = img;
    const int c = img.channels, colour = (c == 2 || c == 4) ? c - 1 : c;
    for (size_t p = 0; p < m.size(); ++p) {
        const float a = clamp01(m[p]);
        uint8_t* px = &out.pixels[p * static_cast<size_t>(c)];
        for (int k = 0; k < colour; ++k) px[k] = to_u8(a * px[k] + (1.f - a) * background);
    }
    return out;
}

}  // namespace cnnlens
