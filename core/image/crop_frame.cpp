// Turned rectangular crops (see crop_frame.h).
#include "core/image/crop_frame.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <vector>

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
    return {to_photo({0, 0}), to_photo({width, 0}), to_photo({width, height}),
            to_photo({0, height})};
}

CropFrame CropFrame::scaled(float k) const {
    return {cx * k, cy * k, width * k, height * k, angle};
}

float CropFrame::angle_degrees() const { return angle * 180.f / std::numbers::pi_v<float>; }

Image crop_frame(const Image& photo, const CropFrame& f) {
    const int w = std::max(1, static_cast<int>(std::lround(f.width))),
              h = std::max(1, static_cast<int>(std::lround(f.height)));
    const int ch = photo.channels;
    Image out;
    out.width = w;
    out.height = h;
    out.channels = ch;
    out.pixels.resize(static_cast<size_t>(w) * h * ch);
    const auto at = [&](int x, int y) {
        return &photo
                    .pixels[(static_cast<size_t>(std::clamp(y, 0, photo.height - 1)) * photo.width +
                             std::clamp(x, 0, photo.width - 1)) *
                            ch];
    };
    if (f.upright()) {
        const int x0 = static_cast<int>(std::lround(f.cx - f.width / 2)),
                  y0 = static_cast<int>(std::lround(f.cy - f.height / 2));
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                std::copy_n(at(x0 + x, y0 + y), ch,
                            &out.pixels[(static_cast<size_t>(y) * w + x) * ch]);
        return out;
    }
    const float step_x = f.width / static_cast<float>(w), step_y = f.height / static_cast<float>(h);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const PointF p = f.to_photo({(x + 0.5f) * step_x, (y + 0.5f) * step_y});
            // Far outside the photo every tap is an edge pixel; clamping first keeps floor() in int
            // range (fmin/fmax also turn a NaN into the edge).
            const float sx =
                            std::fmax(-1.f, std::fmin(p.x - 0.5f, static_cast<float>(photo.width))),
                        sy = std::fmax(-1.f,
                                       std::fmin(p.y - 0.5f, static_cast<float>(photo.height)));
            const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
            const float ax = sx - x0, ay = sy - y0;
            const uint8_t *p00 = at(x0, y0), *p01 = at(x0 + 1, y0), *p10 = at(x0, y0 + 1),
                          *p11 = at(x0 + 1, y0 + 1);
            uint8_t* o = &out.pixels[(static_cast<size_t>(y) * w + x) * ch];
            for (int k = 0; k < ch; ++k) {
                const float top = p00[k] + ax * (p01[k] - p00[k]),
                            bottom = p10[k] + ax * (p11[k] - p10[k]);
                o[k] =
                    static_cast<uint8_t>(std::clamp(top + ay * (bottom - top) + 0.5f, 0.f, 255.f));
            }
        }
    return out;
}

namespace {

// Fills `out` with the means of k x k blocks of `photo` whose first starts at (x0, y0), edge
// pixels repeated outside. Each block row sums its k source rows first (one contiguous add over
// the part inside the photo: a loop the compiler vectorises; Acc holds k 8-bit values), then
// the k sums of each block.
template <typename Acc>
void block_means(const Image& photo, int x0, int y0, int k, Image& out) {
    const int ch = photo.channels, total = out.width * k;
    const int in0 = std::clamp(-x0, 0, total),
              in1 = std::clamp(photo.width - x0, in0, total);  // columns inside
    const size_t width_bytes = static_cast<size_t>(photo.width) * ch;
    std::vector<Acc> acc(static_cast<size_t>(total) * ch);
    const uint64_t n = static_cast<uint64_t>(k) * static_cast<uint64_t>(k);
    for (int by = 0; by < out.height; ++by) {
        std::fill(acc.begin(), acc.end(), Acc{0});
        for (int j = 0; j < k; ++j) {
            const uint8_t* row =
                &photo
                     .pixels[static_cast<size_t>(std::clamp(y0 + by * k + j, 0, photo.height - 1)) *
                             width_bytes];
            for (int i = 0; i < in0; ++i)
                for (int c = 0; c < ch; ++c)
                    acc[static_cast<size_t>(i) * ch + c] =
                        static_cast<Acc>(acc[static_cast<size_t>(i) * ch + c] + row[c]);
            const uint8_t* src = row + static_cast<ptrdiff_t>(x0 + in0) * ch;
            Acc* a = acc.data() + static_cast<size_t>(in0) * ch;
            const size_t inside = static_cast<size_t>(in1 - in0) * ch;
            for (size_t i = 0; i < inside; ++i) a[i] = static_cast<Acc>(a[i] + src[i]);
            const uint8_t* last = row + width_bytes - ch;
            for (int i = in1; i < total; ++i)
                for (int c = 0; c < ch; ++c)
                    acc[static_cast<size_t>(i) * ch + c] =
                        static_cast<Acc>(acc[static_cast<size_t>(i) * ch + c] + last[c]);
        }
        uint8_t* dst = &out.pixels[static_cast<size_t>(by) * out.width * ch];
        for (int bx = 0; bx < out.width; ++bx)
            for (int c = 0; c < ch; ++c) {
                uint64_t sum = 0;
                for (int i = 0; i < k; ++i) sum += acc[(static_cast<size_t>(bx) * k + i) * ch + c];
                dst[bx * ch + c] = static_cast<uint8_t>((sum + n / 2) / n);
            }
    }
}

}  // namespace

Image crop_frame(const Image& photo, const CropFrame& f, int max_side) {
    const int side = std::max(std::max(1, static_cast<int>(std::lround(f.width))),
                              std::max(1, static_cast<int>(std::lround(f.height))));
    if (max_side <= 0 || side <= max_side || photo.empty()) return crop_frame(photo, f);
    const int k = (side + max_side - 1) / max_side;
    // The photo region the frame covers, from the corner the blocks start at: an upright frame's
    // rounded top-left (so its crop takes whole blocks), else its bounding box with one pixel
    // to spare for the bilinear taps. Kept within a frame's reach of the photo, so a frame far
    // outside (only edge pixels) costs no more than one inside.
    const auto to_int = [](float v) {
        return static_cast<int>(std::fmax(-1e8f, std::fmin(v, 1e8f)));
    };  // a NaN lands far away
    int x0, y0, x1, y1;
    if (f.upright()) {
        x0 = to_int(std::round(f.cx - f.width / 2)), y0 = to_int(std::round(f.cy - f.height / 2));
        x1 = x0 + to_int(std::round(f.width)), y1 = y0 + to_int(std::round(f.height));
    } else {
        float lx = f.cx, ly = f.cy, hx = f.cx, hy = f.cy;
        for (const PointF c : f.corners())
            lx = std::fmin(lx, c.x), ly = std::fmin(ly, c.y), hx = std::fmax(hx, c.x),
            hy = std::fmax(hy, c.y);
        x0 = to_int(std::floor(lx)) - 1, y0 = to_int(std::floor(ly)) - 1,
        x1 = to_int(std::ceil(hx)) + 1, y1 = to_int(std::ceil(hy)) + 1;
    }
    const int reach = 2 * side + 2;
    x0 = std::clamp(x0, -reach, photo.width + reach), x1 = std::clamp(x1, x0 + 1, x0 + 2 * reach);
    y0 = std::clamp(y0, -reach, photo.height + reach), y1 = std::clamp(y1, y0 + 1, y0 + 2 * reach);
    Image blocks;
    blocks.width = (x1 - x0 + k - 1) / k;
    blocks.height = (y1 - y0 + k - 1) / k;
    blocks.channels = photo.channels;
    blocks.pixels.resize(static_cast<size_t>(blocks.width) * blocks.height * photo.channels);
    if (k <= 257)
        block_means<uint16_t>(photo, x0, y0, k, blocks);  // k rows of 8-bit values fit 16 bits
    else
        block_means<uint32_t>(photo, x0, y0, k, blocks);
    const float inv = 1.f / static_cast<float>(k);
    return crop_frame(blocks, CropFrame{(f.cx - x0) * inv, (f.cy - y0) * inv, f.width * inv,
                                        f.height * inv, f.angle});
}

}  // namespace cnnlens
