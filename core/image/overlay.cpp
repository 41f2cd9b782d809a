// Maps drawn on images: colorize, overlays, superpixel edges and paint (see overlay.h).
#include "core/image/overlay.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/image/render_internal.h"

namespace cnnlens {

using namespace render_detail;

Image to_rgba(const Image& img) {
    if (img.channels == 4) return img;
    Image out = blank(img.width, img.height, kBlack);
    const size_t n = static_cast<size_t>(img.width) * img.height;
    for (size_t p = 0; p < n; ++p) {
        const uint8_t* s = &img.pixels[p * static_cast<size_t>(img.channels)];
        uint8_t* d = &out.pixels[p * 4];
        if (img.channels >= 3) {
            d[0] = s[0];
            d[1] = s[1];
            d[2] = s[2];
        } else {
            d[0] = d[1] = d[2] = s[0];
        }
        d[3] = img.channels == 2 ? s[1] : 255;
    }
    return out;
}

Image colorize(const Tensor& normalised, Colormap cmap) {
    int h = 0, w = 0;
    map_hw(normalised, h, w);
    Image out = blank(w, h, kBlack);
    for (int64_t i = 0; i < normalised.size(); ++i) {
        const Rgba c = colormap_rgba(cmap, normalised[i]);
        std::copy(c.begin(), c.end(), &out.pixels[static_cast<size_t>(i) * 4]);
    }
    return out;
}

Image overlay(const Image& base, const Tensor& normalised, Colormap cmap, float alpha) {
    Image out = to_rgba(base);
    const std::vector<float> m = map_at(normalised, base.width, base.height);
    const float a = clamp01(alpha);
    for (size_t p = 0; p < m.size(); ++p) {
        const Rgba c = colormap_rgba(cmap, m[p]);
        uint8_t* px = &out.pixels[p * 4];
        for (int k = 0; k < 3; ++k)
            px[k] = to_u8((1.f - a) * px[k] + a * c[static_cast<size_t>(k)]);
    }
    return out;
}

Image overlay_in_frame(const Image& photo, const Tensor& normalised, const CropFrame& frame,
                       Colormap cmap, float alpha) {
    Image out = to_rgba(photo);
    int mh = 0, mw = 0;
    map_hw(normalised, mh, mw);
    if (!(frame.width > 0 && frame.height > 0)) return out;
    const float a = clamp01(alpha);
    // Only the frame's bounding box can change.
    float x0 = static_cast<float>(out.width), y0 = static_cast<float>(out.height), x1 = 0, y1 = 0;
    for (const PointF& c : frame.corners()) {
        x0 = std::min(x0, c.x), y0 = std::min(y0, c.y);
        x1 = std::max(x1, c.x), y1 = std::max(y1, c.y);
    }
    const int ix0 = std::max(0, static_cast<int>(std::floor(x0))),
              iy0 = std::max(0, static_cast<int>(std::floor(y0)));
    const int ix1 = std::min(out.width, static_cast<int>(std::ceil(x1))),
              iy1 = std::min(out.height, static_cast<int>(std::ceil(y1)));
    const float sx = mw / frame.width, sy = mh / frame.height;
    const auto m = [&](int x, int y) {
        return normalised[static_cast<int64_t>(std::clamp(y, 0, mh - 1)) * mw +
                          std::clamp(x, 0, mw - 1)];
    };
    for (int y = iy0; y < iy1; ++y)
        for (int x = ix0; x < ix1; ++x) {
            const PointF c = frame.to_crop({x + 0.5f, y + 0.5f});
            if (!(c.x >= 0 && c.y >= 0 && c.x < frame.width && c.y < frame.height)) continue;
            const float u = c.x * sx - 0.5f, v = c.y * sy - 0.5f;
            const int u0 = static_cast<int>(std::floor(u)), v0 = static_cast<int>(std::floor(v));
            const float fu = u - u0, fv = v - v0;
            const float top = m(u0, v0) + fu * (m(u0 + 1, v0) - m(u0, v0));
            const float bottom = m(u0, v0 + 1) + fu * (m(u0 + 1, v0 + 1) - m(u0, v0 + 1));
            const Rgba col = colormap_rgba(cmap, top + fv * (bottom - top));
            uint8_t* px = &out.pixels[(static_cast<size_t>(y) * out.width + x) * 4];
            for (int k = 0; k < 3; ++k)
                px[k] = to_u8((1.f - a) * px[k] + a * col[static_cast<size_t>(k)]);
        }
    return out;
}

void draw_boundaries(Image& img, std::span<const int> labels, int label_w, int label_h, Rgb color) {
    CNNLENS_ASSERT(static_cast<int64_t>(labels.size()) == int64_t{label_w} * label_h);
    if (img.channels < 3) img = to_rgba(img);
    const LabelSampler seg{labels, label_w, label_h, img.width, img.height};
    const int c = img.channels;
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x) {
            const int id = seg.at(x, y);
            const bool edge = (x + 1 < img.width && seg.at(x + 1, y) != id) ||
                              (y + 1 < img.height && seg.at(x, y + 1) != id);
            if (edge)
                std::copy(color.begin(), color.end(),
                          &img.pixels[(static_cast<size_t>(y) * img.width + x) * c]);
        }
}

Image paint_segments(const Image& base, std::span<const int> labels, int label_w, int label_h,
                     std::span<const int> positive, std::span<const int> negative, bool hide_rest) {
    CNNLENS_ASSERT(static_cast<int64_t>(labels.size()) == int64_t{label_w} * label_h);
    Image out = to_rgba(base);
    int max_id = 0;
    for (int id : labels) max_id = std::max(max_id, id);
    std::vector<int8_t> sign(static_cast<size_t>(max_id) + 1, 0);
    for (int id : positive)
        if (id >= 0 && id <= max_id) sign[static_cast<size_t>(id)] = 1;
    for (int id : negative)
        if (id >= 0 && id <= max_id) sign[static_cast<size_t>(id)] = -1;
    uint8_t top = 0;
    for (size_t i = 0; i < out.pixels.size(); ++i)
        if (i % 4 != 3) top = std::max(top, out.pixels[i]);
    const LabelSampler seg{labels, label_w, label_h, out.width, out.height};
    for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x) {
            const int id = seg.at(x, y);
            const int s = id >= 0 ? sign[static_cast<size_t>(id)] : 0;
            uint8_t* px = &out.pixels[(static_cast<size_t>(y) * out.width + x) * 4];
            if (s > 0)
                px[1] = top;
            else if (s < 0)
                px[0] = top;
            else if (hide_rest)
                px[0] = px[1] = px[2] = 0;
        }
    return out;
}

Tensor segment_weight_map(std::span<const int> labels, int label_w, int label_h,
                          std::span<const float> weights) {
    CNNLENS_ASSERT(static_cast<int64_t>(labels.size()) == int64_t{label_w} * label_h);
    Tensor m(Shape{label_h, label_w});
    for (size_t i = 0; i < labels.size(); ++i) {
        const int id = labels[i];
        m[static_cast<int64_t>(i)] = id >= 0 && static_cast<size_t>(id) < weights.size()
                                         ? weights[static_cast<size_t>(id)]
                                         : 0.f;
    }
    return m;
}

Image upscale_nearest(const Image& img, int factor) {
    CNNLENS_ASSERT(factor >= 1);
    Image out;
    out.width = img.width * factor;
    out.height = img.height * factor;
    out.channels = img.channels;
    out.pixels.resize(static_cast<size_t>(out.width) * out.height * out.channels);
    const size_t c = static_cast<size_t>(img.channels);
    for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x)
            std::memcpy(&out.pixels[(static_cast<size_t>(y) * out.width + x) * c],
                        &img.pixels[(static_cast<size_t>(y / factor) * img.width + x / factor) * c],
                        c);
    return out;
}

}  // namespace cnnlens
