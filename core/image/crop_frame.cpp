// Turned rectangular crops (see crop_frame.h).
#include "core/image/crop_frame.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cnnlens {

PointF CropFrame::to_photo(PointF crop) const {
    const float dx = crop.x - width / 2, dy = crop.y - height / 2;
    const float c = std::cos(angle), s = std::sin(angle);
    return {cx + dx * c - dy * s, cy + dx * s + dy * c};
}

PointF CropFrame::to_crop(PointF photo) const {
    const float dx = photo.x - cx, dy = photo.y - cy;
    const float c = std::cos(angle), s = std::sin(angle);
    return {width / 2 + dx * c + dy * s, height / 2 - dx * s + dy * c};
}

std::array<PointF, 4> CropFrame::corners() const {
    return {to_photo({0, 0}), to_photo({width, 0}), to_photo({width, height}), to_photo({0, height})};
}

CropFrame CropFrame::scaled(float k) const { return {cx * k, cy * k, width * k, height * k, angle}; }

float CropFrame::angle_degrees() const { return angle * 180.f / std::numbers::pi_v<float>; }

Image crop_frame(const Image& photo, const CropFrame& f) {
    const int w = std::max(1, static_cast<int>(std::lround(f.width))), h = std::max(1, static_cast<int>(std::lround(f.height)));
    const int ch = photo.channels;
    Image out;
    out.width = w;
    out.height = h;
    out.channels = ch;
    out.pixels.resize(static_cast<size_t>(w) * h * ch);
    const auto at = [&](int x, int y) {
        return &photo.pixels[(static_cast<size_t>(std::clamp(y, 0, photo.height - 1)) * photo.width + std::clamp(x, 0, photo.width - 1)) * ch];
    };
    if (f.upright()) {
        const int x0 = static_cast<int>(std::lround(f.cx - f.width / 2)), y0 = static_cast<int>(std::lround(f.cy - f.height / 2));
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) std::copy_n(at(x0 + x, y0 + y), ch, &out.pixels[(static_cast<size_t>(y) * w + x) * ch]);
        return out;
    }
    const float step_x = f.width / static_cast<float>(w), step_y = f.height / static_cast<float>(h);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const PointF p = f.to_photo({(x + 0.5f) * step_x, (y + 0.5f) * step_y});
            // Far outside the photo every tap is an edge pixel; clamping first keeps floor() in int
            // range (fmin/fmax also turn a NaN into the edge).
            const float sx = std::fmax(-1.f, std::fmin(p.x - 0.5f, static_cast<float>(photo.width))),
                        sy = std::fmax(-1.f, std::fmin(p.y - 0.5f, static_cast<float>(photo.height)));
            const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
            const float ax = sx - x0, ay = sy - y0;
            const uint8_t *p00 = at(x0, y0), *p01 = at(x0 + 1, y0), *p10 = at(x0, y0 + 1), *p11 = at(x0 + 1, y0 + 1);
            uint8_t* o = &out.pixels[(static_cast<size_t>(y) * w + x) * ch];
            for (int k = 0; k < ch; ++k) {
                const float top = p00[k] + ax * (p01[k] - p00[k]), bottom = p10[k] + ax * (p11[k] - p10[k]);
                o[k] = static_cast<uint8_t>(std::clamp(top + ay * (bottom - top) + 0.5f, 0.f, 255.f));
            }
        }
    return out;
}

}  // namespace cnnlens
