// EXIF orientation: a bounded walk to IFD0's tag 0x0112, and the pixel transform it names.
#include "core/image/orientation.h"

#include <cstring>

namespace cnnlens {

namespace {

constexpr uint16_t kOrientationTag = 0x0112;
constexpr uint16_t kTypeShort = 3;

// Reads of the TIFF structure; every caller checks the offset first.
struct Tiff {
    std::span<const uint8_t> b;
    bool big_endian = false;
    uint32_t u16(uint64_t at) const {
        return big_endian ? (uint32_t{b[at]} << 8) | b[at + 1] : b[at] | (uint32_t{b[at + 1]} << 8);
    }
    uint64_t u32(uint64_t at) const {
        const uint64_t hi = u16(big_endian ? at : at + 2), lo = u16(big_endian ? at + 2 : at);
        return (hi << 16) | lo;
    }
};

bool starts_with(std::span<const uint8_t> b, uint64_t at, const char* s, size_t n) {
    return at + n <= b.size() && std::memcmp(b.data() + at, s, n) == 0;
}

uint64_t be32(std::span<const uint8_t> b, uint64_t at) {
    return (uint64_t{b[at]} << 24) | (uint64_t{b[at + 1]} << 16) | (uint64_t{b[at + 2]} << 8) |
           b[at + 3];
}

// A JPEG's segments up to the scan; the payload of the first APP1 that holds "Exif\0\0".
// Positions are 64-bit so that no length can wrap them on wasm32.
int jpeg_orientation(std::span<const uint8_t> b) {
    const uint64_t n = b.size();
    uint64_t i = 2;
    while (i + 4 <= n) {
        if (b[i] != 0xFF) return 1;
        const uint8_t m = b[i + 1];
        if (m == 0xFF) {
            ++i;
            continue;
        }  // fill byte
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
            i += 2;
            continue;
        }                                      // TEM, RSTn: no length
        if (m == 0xD9 || m == 0xDA) return 1;  // end of image, start of scan
        const uint64_t len = (uint64_t{b[i + 2]} << 8) | b[i + 3];
        if (len < 2) return 1;
        const uint64_t payload = i + 4, end = std::min(i + 2 + len, n);
        if (m == 0xE1 && payload + 6 <= end && starts_with(b, payload, "Exif\0\0", 6))
            return tiff_orientation(b.subspan(payload + 6, end - payload - 6));
        i += 2 + len;
    }
    return 1;
}

// A PNG's chunks by their lengths, up to IEND; the first eXIf chunk.
int png_orientation(std::span<const uint8_t> b) {
    const uint64_t n = b.size();
    uint64_t i = 8;
    while (i + 8 <= n) {
        const uint64_t len = be32(b, i);
        if (starts_with(b, i + 4, "eXIf", 4))
            return tiff_orientation(b.subspan(i + 8, std::min(len, n - i - 8)));
        if (starts_with(b, i + 4, "IEND", 4)) return 1;
        i += 12 + len;
    }
    return 1;
}

}  // namespace

int tiff_orientation(std::span<const uint8_t> tiff) {
    const uint64_t n = tiff.size();
    if (n < 8) return 1;
    Tiff t{tiff};
    if (starts_with(tiff, 0, "MM", 2))
        t.big_endian = true;
    else if (!starts_with(tiff, 0, "II", 2))
        return 1;
    if (t.u16(2) != 42) return 1;
    const uint64_t ifd = t.u32(4);
    if (ifd < 8 || ifd + 2 > n) return 1;
    const uint64_t count = t.u16(ifd);
    for (uint64_t k = 0; k < count; ++k) {
        const uint64_t e = ifd + 2 + 12 * k;
        if (e + 12 > n) return 1;  // the directory runs past the segment
        if (t.u16(e) != kOrientationTag) continue;
        if (t.u16(e + 2) != kTypeShort || t.u32(e + 4) != 1) return 1;
        const uint32_t v =
            t.u16(e + 8);  // a single SHORT sits in the first two bytes of the value field
        return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
    }
    return 1;
}

int exif_orientation(std::span<const uint8_t> file) {
    if (file.size() >= 2 && file[0] == 0xFF && file[1] == 0xD8) return jpeg_orientation(file);
    if (starts_with(file, 0, "\x89PNG\r\n\x1a\n", 8)) return png_orientation(file);
    return 1;
}

Image orient_image(const Image& stored, int orientation) {
    if (orientation < 2 || orientation > 8) return stored;
    const int64_t sw = stored.width, sh = stored.height, c = stored.channels;
    Image out;
    out.channels = stored.channels;
    out.width = orientation_swaps_sides(orientation) ? stored.height : stored.width;
    out.height = orientation_swaps_sides(orientation) ? stored.width : stored.height;
    // Upright pixel (x, y) is stored at origin + x * step_x + y * step_y (in pixels): each
    // orientation is a corner to start from and the stored directions of upright right and down.
    const int64_t right = 1, left = -1, down = sw, up = -sw;
    struct Walk {
        int64_t origin, step_x, step_y;
    };
    const Walk walks[9] = {
        {},
        {0, right, down},
        {sw - 1, left, down},        // 2: mirrored
        {sw * sh - 1, left, up},     // 3: turned 180
        {sw * (sh - 1), right, up},  // 4: upside-down mirror
        {0, down, right},            // 5: transposed
        {sw * (sh - 1), up, right},  // 6: stored turned 90 counter-clockwise
        {sw * sh - 1, up, left},     // 7: transverse
        {sw - 1, down, left},        // 8: stored turned 90 clockwise
    };
    const Walk& w = walks[orientation];
    out.pixels.resize(stored.pixels.size());
    uint8_t* dst = out.pixels.data();
    for (int64_t y = 0; y < out.height; ++y) {
        int64_t s = w.origin + y * w.step_y;
        for (int64_t x = 0; x < out.width; ++x, s += w.step_x, dst += c)
            std::memcpy(dst, &stored.pixels[static_cast<size_t>(s * c)], static_cast<size_t>(c));
    }
    return out;
}

}  // namespace cnnlens
