// Pixel helpers shared by the files of core/image that draw (colormap, normalize, overlay,
// draw, encode); not part of the library's interface.
#pragma once
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/assert.h"
#include "core/base/status.h"
#include "core/image/colormap.h"
#include "core/image/image.h"
#include "core/tensor/tensor.h"

namespace cnnlens::render_detail {

inline uint8_t to_u8(float v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

inline float clamp01(float v, float if_nan = 0.f) {
    return std::isnan(v) ? if_nan : std::clamp(v, 0.f, 1.f);
}

// [H,W], [H,W,1] or [1,H,W,1].
inline void map_hw(const Tensor& t, int& h, int& w) {
    const Shape& s = t.shape();
    const bool ok =
        s.rank() == 2 || (s.rank() == 3 && s[2] == 1) || (s.rank() == 4 && s[0] == 1 && s[3] == 1);
    CNNLENS_ASSERT(ok);
    h = static_cast<int>(s.rank() == 4 ? s[1] : s[0]);
    w = static_cast<int>(s.rank() == 4 ? s[2] : s[1]);
}

inline Image blank(int w, int h, Rgba fill) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = 4;
    img.pixels.resize(static_cast<size_t>(w) * h * 4);
    for (size_t i = 0; i < img.pixels.size(); i += 4)
        std::copy(fill.begin(), fill.end(), &img.pixels[i]);
    return img;
}

inline void blend_pixel(Image& img, int x, int y, Rgba c) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    uint8_t* p = &img.pixels[(static_cast<size_t>(y) * img.width + x) * 4];
    if (c[3] == 255) {
        std::copy(c.begin(), c.end(), p);
        return;
    }
    const float a = c[3] / 255.f;
    for (int k = 0; k < 3; ++k) p[k] = to_u8(a * c[k] + (1.f - a) * p[k]);
    p[3] = std::max(p[3], c[3]);
}

inline void fill_rect(Image& img, int x0, int y0, int x1, int y1, Rgba c) {
    for (int y = std::max(y0, 0); y < std::min(y1, img.height); ++y)
        for (int x = std::max(x0, 0); x < std::min(x1, img.width); ++x) blend_pixel(img, x, y, c);
}

// The map at w x h (resample() when the size differs).
inline std::vector<float> map_at(const Tensor& map, int w, int h) {
    int mh = 0, mw = 0;
    map_hw(map, mh, mw);
    if (mw == w && mh == h) return {map.data(), map.data() + map.size()};
    std::vector<float> out(static_cast<size_t>(w) * h);
    resample(map.data(), mw, mh, 1, out.data(), w, h);
    return out;
}

// Segment id under image pixel (x, y) when labels of label_w x label_h cover an img_w x img_h
// image.
struct LabelSampler {
    std::span<const int> labels;
    int lw, lh, iw, ih;
    int at(int x, int y) const {
        const int lx = static_cast<int>(static_cast<int64_t>(x) * lw / iw);
        const int ly = static_cast<int>(static_cast<int64_t>(y) * lh / ih);
        return labels[static_cast<size_t>(ly) * lw + lx];
    }
};

inline std::string lower(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

inline Status write_bytes(const std::string& path, const std::vector<uint8_t>& bytes,
                          std::string_view what) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        return not_found("cannot write " + std::string(what) + " '" + path +
                         "': " + std::strerror(errno));
    const size_t n = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
    const bool closed = std::fclose(f) == 0;
    if (n != bytes.size() || !closed)
        return Status(ErrorCode::kInternal, "writing " + std::string(what) + " '" + path +
                                                "' failed after " + std::to_string(n) + " of " +
                                                std::to_string(bytes.size()) + " bytes");
    return Status::ok();
}

}  // namespace cnnlens::render_detail
