// The method registry (driven by method_list.inc) and helpers shared by methods.
#include "core/explain/explain.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <string>

#include "core/base/assert.h"
#include "core/explain/method_util.h"

namespace cnnlens {

#define X(var) const ExplanationMethod& method_##var();
#include "core/explain/method_list.inc"
#undef X

std::span<const ExplanationMethod* const> all_methods() {
    static const std::vector<const ExplanationMethod*> list = {
#define X(var) &method_##var(),
#include "core/explain/method_list.inc"
#undef X
    };
    return list;
}

const ExplanationMethod* find_method(std::string_view name) {
    for (const ExplanationMethod* m : all_methods())
        if (m->name() == name) return m;
    return nullptr;
}

std::string method_names() {
    std::string s;
    for (const ExplanationMethod* m : all_methods()) {
        if (!s.empty()) s += ", ";
        s += m->name();
    }
    return s;
}

std::span<const StatDef> all_stats() {
    static constexpr StatDef list[] = {
#define S(key, label, help) {#key, label, help},
#include "core/explain/stat_list.inc"
#undef S
    };
    return list;
}

const StatDef* find_stat(std::string_view key) {
    for (const StatDef& s : all_stats())
        if (s.key == key) return &s;
    return nullptr;
}

const ParamDef* ExplanationMethod::find_param(std::string_view name) const {
    for (const ParamDef& d : params())
        if (d.name == name) return &d;
    return nullptr;
}

double ExplanationMethod::param(const Params& p, std::string_view name) const {
    const ParamDef* d = find_param(name);
    CNNLENS_ASSERT(d != nullptr);
    return p.get(name, d->def);
}

void stamp_explanation(const ExplanationMethod& m, const Tensor& image, const Target& target,
                       const Params& p, const ExplainContext& ctx, Explanation& e) {
    e.method = std::string(m.name());
    e.target = target;
    e.height = static_cast<int>(image.shape()[1]);
    e.width = static_cast<int>(image.shape()[2]);
    e.norm = m.traits().norm;
    for (const ParamDef& d : m.params()) e.params[std::string(d.name)] = p.get(d.name, d.def);
    e.params["seed"] = static_cast<double>(ctx.seed);
}

Expected<ProbeResult> input_gradients(ModelProbe& probe, const Tensor& batch, const Target& target,
                                      ReluRule rule) {
    ProbeRequest r;
    r.target = target;
    r.input_gradient = true;
    r.relu_rule = rule;
    return probe.run(batch, r);
}

Tensor abs_sum_channels(const Tensor& g) {
    const int64_t h = g.shape()[1], w = g.shape()[2], c = g.shape()[3];
    Tensor m(Shape{h, w}, 0.f);
    for (int64_t p = 0; p < h * w; ++p)
        for (int64_t k = 0; k < c; ++k) m[p] += std::fabs(g[p * c + k]);
    return m;
}

Tensor sum_channels(const Tensor& g) {
    const int64_t h = g.shape()[1], w = g.shape()[2], c = g.shape()[3];
    Tensor m(Shape{h, w}, 0.f);
    for (int64_t p = 0; p < h * w; ++p)
        for (int64_t k = 0; k < c; ++k) m[p] += g[p * c + k];
    return m;
}

Tensor resize_map(const Tensor& map, int height, int width) {
    const int h = static_cast<int>(map.shape()[0]), w = static_cast<int>(map.shape()[1]);
    Tensor out(Shape{height, width});
    for (int y = 0; y < height; ++y) {
        const float sy = std::clamp((y + 0.5f) * h / height - 0.5f, 0.f, static_cast<float>(h - 1));
        const int y0 = static_cast<int>(sy), y1 = std::min(y0 + 1, h - 1);
        const float fy = sy - y0;
        for (int x = 0; x < width; ++x) {
            const float sx =
                std::clamp((x + 0.5f) * w / width - 0.5f, 0.f, static_cast<float>(w - 1));
            const int x0 = static_cast<int>(sx), x1 = std::min(x0 + 1, w - 1);
            const float fx = sx - x0;
            const float top = map[y0 * w + x0] * (1 - fx) + map[y0 * w + x1] * fx;
            const float bot = map[y1 * w + x0] * (1 - fx) + map[y1 * w + x1] * fx;
            out[static_cast<int64_t>(y) * width + x] = top * (1 - fy) + bot * fy;
        }
    }
    return out;
}

Tensor gaussian_blur(const Tensor& img, float sigma) {
    Tensor out = img.clone();
    if (sigma <= 0.f) return out;
    const int64_t n = img.shape()[0], h = img.shape()[1], w = img.shape()[2], c = img.shape()[3];
    const int r = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
    std::vector<float> k(static_cast<size_t>(2 * r + 1));
    float s = 0;
    for (int i = -r; i <= r; ++i)
        s += k[static_cast<size_t>(i + r)] = std::exp(-0.5f * i * i / (sigma * sigma));
    for (float& v : k) v /= s;
    Tensor tmp(img.shape());
    // Edges are handled by renormalising over the in-bounds taps (no dark border).
    auto pass = [&](const Tensor& src, Tensor& dst, bool horizontal) {
        for (int64_t b = 0; b < n; ++b)
            for (int64_t y = 0; y < h; ++y)
                for (int64_t x = 0; x < w; ++x)
                    for (int64_t ch = 0; ch < c; ++ch) {
                        float acc = 0, norm = 0;
                        for (int i = -r; i <= r; ++i) {
                            const int64_t yy = horizontal ? y : y + i, xx = horizontal ? x + i : x;
                            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                            const float kv = k[static_cast<size_t>(i + r)];
                            acc += kv * src[((b * h + yy) * w + xx) * c + ch];
                            norm += kv;
                        }
                        dst[((b * h + y) * w + x) * c + ch] = acc / norm;
                    }
    };
    pass(img, tmp, true);
    pass(tmp, out, false);
    return out;
}

ParamDef batch_param(std::string_view unit, double def, double max, std::string_view anchor,
                     std::string_view same) {
    // ParamDef holds views: the composed help text lives as long as the methods (for good).
    static std::mutex mutex;
    static std::deque<std::string> texts;
    const std::lock_guard lock(mutex);
    const std::string& help =
        texts.emplace_back(std::string(unit) + " per engine call: memory against speed; the " +
                           std::string(same) + (same == "values" ? " are" : " is") + " the same.");
    return {.name = "batch",
            .label = "Batch size",
            .def = def,
            .min = 1,
            .max = max,
            .integer = true,
            .help = help,
            .anchor = anchor};
}

}  // namespace cnnlens
