// Image decoding (format sniffing, stb_image from Debian's libstb and the decoders of codecs.h,
// EXIF orientation), cropping, resampling, model input.
#include "core/image/image.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>

#define STBI_NO_STDIO
#define STBI_FAILURE_USERMSG
#include <stb_image.h>

#include "core/image/codecs.h"
#include "core/image/orientation.h"

namespace cnnlens {

namespace {

uint32_t be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint32_t le16(const uint8_t* p) { return p[0] | (uint32_t{p[1]} << 8); }

// Binary PGM/PPM header ("P5"/"P6", width, height, maximum value), parsed as stb_image does but
// with values capped instead of overflowing an int (Debian's stb_image multiplies without a
// check). False if the bytes are not a binary PNM.
bool pnm_header(std::span<const uint8_t> b, int64_t& w, int64_t& h, int64_t& maxval) {
    const size_t n = b.size();
    if (n < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6')) return false;
    size_t i = 2;
    auto space = [](uint8_t c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
    };
    auto skip = [&] {
        for (;;) {
            while (i < n && space(b[i])) ++i;
            if (i >= n || b[i] != '#') return;
            while (i < n && b[i] != '\n' && b[i] != '\r') ++i;
        }
    };
    auto number = [&] {
        int64_t v = 0;
        for (; i < n && b[i] >= '0' && b[i] <= '9'; ++i)
            v = std::min<int64_t>(v * 10 + (b[i] - '0'), int64_t{1} << 40);
        return v;
    };
    skip();
    w = number();
    skip();
    h = number();
    skip();
    maxval = number();
    return true;
}

// Width and height from the file header, read by us because stb_image refuses to report the
// size of images too large for it, and users deserve to hear the size. False if unknown.
bool header_size(std::span<const uint8_t> b, int64_t& w, int64_t& h) {
    const size_t n = b.size();
    if (n >= 24 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') {
        w = be32(&b[16]);
        h = be32(&b[20]);
        return true;
    }
    if (n >= 10 && b[0] == 'G' && b[1] == 'I' && b[2] == 'F') {
        w = le16(&b[6]);
        h = le16(&b[8]);
        return true;
    }
    if (n >= 26 && b[0] == 'B' && b[1] == 'M') {
        w = static_cast<int32_t>(b[18] | (b[19] << 8) | (b[20] << 16) | (uint32_t{b[21]} << 24));
        h = static_cast<int32_t>(b[22] | (b[23] << 8) | (b[24] << 16) | (uint32_t{b[25]} << 24));
        if (h < 0) h = -h;
        return true;
    }
    if (int64_t maxval = 0; pnm_header(b, w, h, maxval)) return true;
    if (n >= 4 && b[0] == 0xFF && b[1] == 0xD8) {  // JPEG: walk the segments up to a start-of-frame
        size_t i = 2;
        while (i + 9 < n) {
            if (b[i] != 0xFF) return false;
            const uint8_t m = b[i + 1];
            const size_t len = (size_t{b[i + 2]} << 8) | b[i + 3];
            if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
                h = (int64_t{b[i + 5]} << 8) | b[i + 6];
                w = (int64_t{b[i + 7]} << 8) | b[i + 8];
                return true;
            }
            if (len < 2) return false;
            i += 2 + len;
        }
    }
    return false;
}

// Debian's stb_image (2022-09) trusts the code counts of a JPEG Huffman table (DHT) and writes
// past its 257-entry size list when they add up to more than 256 (fixed upstream in 2.28). We
// walk the markers as stb_image does (re-syncing on 0xFF, skipping segments by their length,
// reading each DHT's tables back to back) and refuse such a table before stb_image sees it.
std::string jpeg_huffman_problem(std::span<const uint8_t> b) {
    const size_t n = b.size();
    size_t i = 0;  // start of image: 0xFF, any further 0xFF, 0xD8
    while (i < n && b[i] == 0xFF) ++i;
    if (i == 0 || i >= n || b[i] != 0xD8) return "";
    ++i;
    while (i < n) {
        if (b[i] != 0xFF) {
            ++i;
            continue;
        }
        while (i < n && b[i] == 0xFF) ++i;
        if (i >= n) break;
        const uint8_t m = b[i++];
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD9))
            continue;  // stuffing, TEM, RSTn, SOI, EOI: no length
        if (i + 2 > n) break;
        const size_t len = (size_t{b[i]} << 8) | b[i + 1];
        if (m != 0xC4) {
            i += len;
            continue;
        }
        size_t pos = i + 2;
        int64_t left = static_cast<int64_t>(len) - 2;
        for (int table = 0; left > 0 && pos < n; ++table) {
            size_t codes = 0;  // stb_image reads bytes past the end as 0
            for (size_t k = 1; k <= 16 && pos + k < n; ++k) codes += b[pos + k];
            if (codes > 256)
                return "JPEG Huffman table " + std::to_string(table) + " at byte " +
                       std::to_string(pos) + " declares " + std::to_string(codes) +
                       " codes (at most 256)";
            left -= static_cast<int64_t>(17 + codes);
            pos += 17 + codes;
        }
        i = pos;
    }
    return "";
}

// Debian's stb_image copies a PNG's first IDAT chunk into a buffer it has not allocated yet
// when that chunk is empty (memcpy to a null pointer: undefined behaviour). Such a file holds
// no image data where it should start; we refuse it. Chunks are walked by their lengths, as
// stb_image reads them. The position is 64-bit: on wasm32 a length near 2^32 would wrap a size_t
// back to where it was (an endless loop).
std::string png_chunk_problem(std::span<const uint8_t> b) {
    const uint64_t n = b.size();
    if (n < 8 || b[0] != 0x89 || b[1] != 'P' || b[2] != 'N' || b[3] != 'G') return "";
    uint64_t i = 8;
    while (i + 8 <= n) {
        const uint64_t len = be32(&b[i]);
        const bool idat = b[i + 4] == 'I' && b[i + 5] == 'D' && b[i + 6] == 'A' && b[i + 7] == 'T';
        if (idat && len == 0)
            return "PNG chunk IDAT at byte " + std::to_string(i) +
                   " is empty (the image data must start with data)";
        if (idat && len > 0) return "";  // from here on stb_image has its buffer
        if (b[i + 4] == 'I' && b[i + 5] == 'E' && b[i + 6] == 'N' && b[i + 7] == 'D') return "";
        i += 12 + len;
    }
    return "";
}

// The header's size against the limits of core/base/limits.h.
Status check_size(const std::string& who, int64_t w, int64_t h) {
    const std::string size = std::to_string(w) + "x" + std::to_string(h);
    if (w <= 0 || h <= 0)
        return corrupt(who + ": the header declares " + size + " pixels (a side of zero or less)");
    if (w > limits::kMaxImageSide || h > limits::kMaxImageSide || w * h > limits::kMaxImagePixels)
        return out_of_range(who + ": " + size + " pixels exceeds the limit of " +
                            std::to_string(limits::kMaxImageSide) + " per side and " +
                            std::to_string(limits::kMaxImagePixels / 1000000) + " megapixels");
    return Status::ok();
}

std::string stb_reason(const char* fallback) {
    return stbi_failure_reason() ? stbi_failure_reason() : fallback;
}

// stb_image, behind the header checks above (our size read first: stb_image will not report
// the size of an image too large for it).
Expected<codecs::Header> stb_header(std::span<const uint8_t> bytes, const std::string& who) {
    int64_t hw = 0, hh = 0;
    if (header_size(bytes, hw, hh)) CNNLENS_RETURN_IF_ERROR(check_size(who, hw, hh));
    if (const std::string p = jpeg_huffman_problem(bytes); !p.empty())
        return corrupt(who + ": " + p);
    if (const std::string p = png_chunk_problem(bytes); !p.empty()) return corrupt(who + ": " + p);
    if (int64_t maxval = 0; pnm_header(bytes, hw, hh, maxval) && (maxval < 1 || maxval > 65535))
        return corrupt(who + ": PNM maximum value " + std::to_string(maxval) +
                       " is not in 1..65535");
    int w = 0, h = 0, c = 0;
    if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &c))
        return corrupt(who + ": not a decodable image (" + stb_reason("unknown format") + ")");
    return codecs::Header{w, h, c, exif_orientation(bytes)};
}

Expected<Image> stb_decode(std::span<const uint8_t> bytes, const std::string& who, int channels) {
    int w = 0, h = 0, c = 0;
    stbi_uc* p =
        stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &c, channels);
    if (!p) return corrupt(who + ": decoding failed (" + stb_reason("unknown") + ")");
    Image img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.pixels.assign(p, p + static_cast<size_t>(w) * h * channels);
    stbi_image_free(p);
    return img;
}

}  // namespace

const codecs::Codec codecs::kStb{stb_header, stb_decode};

namespace {

bool starts_with(std::span<const uint8_t> b, size_t at, std::string_view s) {
    return at + s.size() <= b.size() && std::memcmp(b.data() + at, s.data(), s.size()) == 0;
}

// The brands of an ISO base media file's leading 'ftyp' box (HEIF, AVIF, MP4 and kin): the
// major brand, then the compatible ones up to the box's end.
bool has_brand(std::span<const uint8_t> b, std::initializer_list<std::string_view> brands) {
    if (!starts_with(b, 4, "ftyp") || b.size() < 12) return false;
    const uint64_t end = std::min<uint64_t>(be32(&b[0]), b.size());
    for (uint64_t at = 8; at + 4 <= std::max<uint64_t>(end, 12); at += at == 8 ? 8 : 4)
        for (std::string_view brand : brands)
            if (starts_with(b, static_cast<size_t>(at), brand)) return true;
    return false;
}

bool is_png(std::span<const uint8_t> b) { return starts_with(b, 0, "\x89PNG\r\n\x1a\n"); }
bool is_jpeg(
    std::span<const uint8_t> b) {  // stb_image, like libjpeg, takes any number of 0xFF before D8
    size_t i = 0;
    while (i < b.size() && b[i] == 0xFF) ++i;
    return i > 0 && i < b.size() && b[i] == 0xD8;
}
bool is_gif(std::span<const uint8_t> b) {
    return starts_with(b, 0, "GIF87a") || starts_with(b, 0, "GIF89a");
}
bool is_bmp(std::span<const uint8_t> b) { return starts_with(b, 0, "BM"); }
bool is_psd(std::span<const uint8_t> b) { return starts_with(b, 0, "8BPS"); }
bool is_pnm(std::span<const uint8_t> b) {
    return starts_with(b, 0, "P5") || starts_with(b, 0, "P6");
}
bool is_webp(std::span<const uint8_t> b) {
    return starts_with(b, 0, "RIFF") && starts_with(b, 8, "WEBP");
}
bool is_avif(std::span<const uint8_t> b) { return has_brand(b, {"avif", "avis"}); }
bool is_heic(std::span<const uint8_t> b) {
    return has_brand(b, {"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"});
}
bool is_cr3(std::span<const uint8_t> b) { return has_brand(b, {"crx "}); }
bool is_tiff(std::span<const uint8_t> b) {
    return starts_with(b, 0, {"II*\0", 4}) || starts_with(b, 0, {"MM\0*", 4}) ||
           starts_with(b, 0, {"II+\0", 4}) || starts_with(b, 0, {"MM\0+", 4});
}
bool is_jpeg_xl(std::span<const uint8_t> b) {
    return starts_with(b, 0, "\xFF\x0A") || starts_with(b, 0, {"\0\0\0\x0CJXL \r\n\x87\n", 12});
}
bool is_jpeg_2000(std::span<const uint8_t> b) {
    return starts_with(b, 0, "\xFF\x4F\xFF\x51") ||
           starts_with(b, 0, {"\0\0\0\x0CjP  \r\n\x87\n", 12});
}
bool is_openexr(std::span<const uint8_t> b) { return starts_with(b, 0, "\x76\x2F\x31\x01"); }
bool is_radiance_hdr(std::span<const uint8_t> b) {
    return starts_with(b, 0, "#?RADIANCE") || starts_with(b, 0, "#?RGBE");
}
bool is_qoi(std::span<const uint8_t> b) { return starts_with(b, 0, "qoif"); }

// Every image format recognised by its first bytes, decodable or not: one entry per format,
// read by probe_image for the decoder and by messages for the name. A null codec means no
// decoder in this build; `elsewhere` that other builds have one (WebP and AVIF natively; in
// the browser the page decodes them). AVIF is matched before HEIC (AVIF files also list HEIF's
// generic brand mif1); JPEG XL's codestream (0xFF 0x0A) is not a JPEG (0xFF 0xD8).
struct Format {
    std::string_view name;
    bool (*matches)(std::span<const uint8_t>);
    const codecs::Codec* codec;
    bool elsewhere = false;
};

// kNotHere marks a codec this build lacks; a build with both WebP and AVIF never uses it.
[[maybe_unused]] constexpr bool kNotHere = true;
constexpr bool kNowhere = false;

const Format kFormats[] = {
    {"PNG", is_png, &codecs::kStb, {}},
    {"JPEG XL", is_jpeg_xl, nullptr, kNowhere},
    {"JPEG", is_jpeg, &codecs::kStb, {}},
    {"GIF", is_gif, &codecs::kStb, {}},
    {"BMP", is_bmp, &codecs::kStb, {}},
    {"PSD", is_psd, &codecs::kStb, {}},
    {"PNM", is_pnm, &codecs::kStb, {}},
#if CNNLENS_HAVE_WEBP
    {"WebP", is_webp, &codecs::kWebp, {}},
#else
    {"WebP", is_webp, nullptr, kNotHere},
#endif
#if CNNLENS_HAVE_AVIF
    {"AVIF", is_avif, &codecs::kAvif, {}},
#else
    {"AVIF", is_avif, nullptr, kNotHere},
#endif
    {"HEIC/HEIF", is_heic, nullptr, kNowhere},
    {"Canon raw (CR3)", is_cr3, nullptr, kNowhere},
    {"TIFF (or a camera raw file built on TIFF)", is_tiff, nullptr, kNowhere},
    {"JPEG 2000", is_jpeg_2000, nullptr, kNowhere},
    {"OpenEXR", is_openexr, nullptr, kNowhere},
    {"Radiance HDR", is_radiance_hdr, nullptr, kNowhere},
    {"QOI", is_qoi, nullptr, kNowhere},
};

// Formats without a signature of their own, tried by stb_image when nothing above matches.
constexpr std::string_view kUnsignedFormats = "TGA";

const Format* format_of(std::span<const uint8_t> bytes) {
    for (const Format& f : kFormats)
        if (f.matches(bytes)) return &f;
    return nullptr;
}

// "PNG, JPEG, GIF, BMP, PSD, PNM, WebP, AVIF and TGA": what this build decodes.
std::string decodable_formats() {
    std::string list;
    for (const Format& f : kFormats)
        if (f.codec) list += (list.empty() ? "" : ", ") + std::string(f.name);
    return list + " and " + std::string(kUnsignedFormats);
}

}  // namespace

Expected<ImageInfo> probe_image(std::span<const uint8_t> bytes, std::string_view name) {
    const std::string who = "image '" + std::string(name) + "'";
    if (bytes.empty()) return invalid_argument(who + ": the file is empty");
    if (static_cast<uint64_t>(bytes.size()) > static_cast<uint64_t>(limits::kMaxImageFileBytes))
        return out_of_range(who + ": the file has " + std::to_string(bytes.size()) +
                            " bytes, over the limit of " +
                            std::to_string(limits::kMaxImageFileBytes >> 20) + " MiB");
    const Format* f = format_of(bytes);
    if (f && !f->codec) {
        const std::string name(f->name);
        return unsupported(who + ": " + name +
                           (f->elsewhere ? " is not decodable here: this build has no " + name +
                                               " decoder (in the web app the browser decodes it)"
                                         : " is not a format cnnlens decodes") +
                           "; this build reads " + decodable_formats() +
                           " (convert the image to one of them)");
    }
    auto h = (f ? *f->codec : codecs::kStb).header(bytes, who);
    if (!h) return h.status();
    CNNLENS_RETURN_IF_ERROR(check_size(who, h->width, h->height));
    ImageInfo info;
    const bool swap = orientation_swaps_sides(h->orientation);
    info.width = static_cast<int>(swap ? h->height : h->width);
    info.height = static_cast<int>(swap ? h->width : h->height);
    info.channels = h->channels;
    info.orientation = h->orientation;
    info.format = f ? f->name : kUnsignedFormats;
    return info;
}

Expected<Image> decode_image(std::span<const uint8_t> bytes, std::string_view name) {
    auto info = probe_image(bytes, name);
    if (!info) return info.status();
    const std::string who = "image '" + std::string(name) + "'";
    const Format* f = format_of(bytes);
    const int channels = (info->channels == 1 || info->channels == 2) ? 1 : 3;
    auto img = (f ? *f->codec : codecs::kStb).decode(bytes, who, channels);
    if (!img) return img;
    const bool swap = orientation_swaps_sides(info->orientation);
    if ((swap ? img->height : img->width) != info->width ||
        (swap ? img->width : img->height) != info->height)
        return corrupt(who + ": the " + std::string(info->format) + " data holds " +
                       std::to_string(img->width) + "x" + std::to_string(img->height) +
                       " pixels but the header declares " +
                       std::to_string(swap ? info->height : info->width) + "x" +
                       std::to_string(swap ? info->width : info->height));
    if (info->orientation == 1) return img;
    return orient_image(*img, info->orientation);
}

Expected<Image> load_image(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return not_found("cannot open image '" + path + "'");
    std::vector<uint8_t> bytes;
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
    std::fclose(f);
    return decode_image(bytes, path);
}

Expected<Image> crop_image(const Image& img, int x, int y, int w, int h) {
    const int x0 = std::max(x, 0), y0 = std::max(y, 0);
    const int x1 = std::min(x + w, img.width), y1 = std::min(y + h, img.height);
    if (x1 <= x0 || y1 <= y0)
        return invalid_argument("crop " + std::to_string(w) + "x" + std::to_string(h) + " at (" +
                                std::to_string(x) + "," + std::to_string(y) +
                                ") lies outside the " + std::to_string(img.width) + "x" +
                                std::to_string(img.height) + " image");
    Image out;
    out.width = x1 - x0;
    out.height = y1 - y0;
    out.channels = img.channels;
    out.pixels.resize(static_cast<size_t>(out.width) * out.height * out.channels);
    for (int r = 0; r < out.height; ++r)
        std::copy_n(&img.pixels[(static_cast<size_t>(y0 + r) * img.width + x0) * img.channels],
                    static_cast<size_t>(out.width) * img.channels,
                    &out.pixels[static_cast<size_t>(r) * out.width * out.channels]);
    return out;
}

namespace {

struct Tap {
    int index;
    float weight;
};

// For each of `dst` output positions, the source taps along one axis.
std::vector<std::vector<Tap>> axis_taps(int src, int dst) {
    std::vector<std::vector<Tap>> taps(static_cast<size_t>(dst));
    const double scale = static_cast<double>(src) / dst;
    for (int i = 0; i < dst; ++i) {
        auto& t = taps[static_cast<size_t>(i)];
        if (scale >= 1.0) {  // area: coverage of [i*scale, (i+1)*scale)
            const double a = i * scale, b = (i + 1) * scale;
            for (int s = static_cast<int>(std::floor(a));
                 s < std::min(static_cast<int>(std::ceil(b)), src); ++s) {
                const double cover = std::min<double>(b, s + 1) - std::max<double>(a, s);
                if (cover > 1e-12) t.push_back({s, static_cast<float>(cover / scale)});
            }
        } else {  // bilinear, pixel centres at +0.5
            const double x = std::clamp((i + 0.5) * scale - 0.5, 0.0, static_cast<double>(src - 1));
            const int s0 = static_cast<int>(std::floor(x));
            const int s1 = std::min(s0 + 1, src - 1);
            const float f = static_cast<float>(x - s0);
            t.push_back({s0, 1.f - f});
            if (s1 != s0 && f > 0.f) t.push_back({s1, f});
        }
    }
    return taps;
}

}  // namespace

void resample(const float* src, int sw, int sh, int c, float* dst, int dw, int dh) {
    const auto tx = axis_taps(sw, dw), ty = axis_taps(sh, dh);
    std::vector<float> rows(static_cast<size_t>(sh) * dw * c);  // horizontal pass
    for (int y = 0; y < sh; ++y)
        for (int x = 0; x < dw; ++x)
            for (int k = 0; k < c; ++k) {
                double acc = 0.0;
                for (const Tap& t : tx[static_cast<size_t>(x)])
                    acc += t.weight * src[(static_cast<size_t>(y) * sw + t.index) * c + k];
                rows[(static_cast<size_t>(y) * dw + x) * c + k] = static_cast<float>(acc);
            }
    for (int y = 0; y < dh; ++y)
        for (int x = 0; x < dw; ++x)
            for (int k = 0; k < c; ++k) {
                double acc = 0.0;
                for (const Tap& t : ty[static_cast<size_t>(y)])
                    acc += t.weight * rows[(static_cast<size_t>(t.index) * dw + x) * c + k];
                dst[(static_cast<size_t>(y) * dw + x) * c + k] = static_cast<float>(acc);
            }
}

Tensor image_to_input(const Image& img, const InputSpec& spec) {
    return image_to_input_padded(img, img.width, img.height, 0, 0, spec);
}

// resample() of the canvas, reading the image's bytes where it lies and skipping the taps on the
// black border (each would add 0 * weight to the sum, which leaves it unchanged). Each sum takes
// its taps in resample()'s order, so the values are its own; the loops run tap-major over flat
// tables, which the compiler vectorises.
Tensor image_to_input_padded(const Image& img, int canvas_w, int canvas_h, int pad_x, int pad_y,
                             const InputSpec& spec) {
    CNNLENS_ASSERT(spec.channels == 1 || spec.channels == 3);
    CNNLENS_ASSERT(pad_x >= 0 && pad_y >= 0 && pad_x + img.width <= canvas_w &&
                   pad_y + img.height <= canvas_h);
    const int c = spec.channels, ic = img.channels, dw = spec.width, dh = spec.height;
    // Per output position, its taps inside the image: [first[i], first[i + 1]).
    struct Table {
        std::vector<int> first, at;
        std::vector<float> weight;
    };
    const auto table = [](int canvas, int dst, int pad, int size) {
        Table t;
        for (const auto& taps : axis_taps(canvas, dst)) {
            t.first.push_back(static_cast<int>(t.at.size()));
            for (const Tap& tap : taps)
                if (tap.index - pad >= 0 && tap.index - pad < size) {
                    t.at.push_back(tap.index - pad);
                    t.weight.push_back(tap.weight);
                }
        }
        t.first.push_back(static_cast<int>(t.at.size()));
        return t;
    };
    const Table tx = table(canvas_w, dw, pad_x, img.width);
    const Table ty = table(canvas_h, dh, pad_y, img.height);
    // The image's values as resample() reads them: RGB bytes, or gray by the luma weights.
    std::vector<float> line(static_cast<size_t>(img.width) * c);
    std::vector<float> rows(static_cast<size_t>(img.height) * dw * c);  // horizontal pass
    for (int y = 0; y < img.height; ++y) {
        const uint8_t* px = img.pixels.data() + static_cast<size_t>(y) * img.width * ic;
        for (int x = 0; x < img.width; ++x, px += ic)
            for (int k = 0; k < c; ++k)
                line[static_cast<size_t>(x) * c + k] =
                    c == 3    ? (ic == 1 ? px[0] : px[k])
                    : ic == 1 ? px[0]
                              : static_cast<float>(0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]);
        float* row = rows.data() + static_cast<size_t>(y) * dw * c;
        for (int x = 0; x < dw; ++x) {
            double acc[3] = {0.0, 0.0, 0.0};
            for (int t = tx.first[x]; t < tx.first[x + 1]; ++t) {
                const float w = tx.weight[t];
                const float* v = line.data() + static_cast<size_t>(tx.at[t]) * c;
                for (int k = 0; k < c; ++k) acc[k] += w * v[k];
            }
            for (int k = 0; k < c; ++k) row[x * c + k] = static_cast<float>(acc[k]);
        }
    }
    Tensor out(Shape{1, dh, dw, c});
    std::vector<double> acc(static_cast<size_t>(dw) * c);
    for (int y = 0; y < dh; ++y) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int t = ty.first[y]; t < ty.first[y + 1]; ++t) {
            const float w = ty.weight[t];
            const float* src = rows.data() + static_cast<size_t>(ty.at[t]) * dw * c;
            for (size_t i = 0; i < acc.size(); ++i) acc[i] += w * src[i];
        }
        float* dst = out.data() + static_cast<size_t>(y) * dw * c;
        for (size_t i = 0; i < acc.size(); ++i) dst[i] = static_cast<float>(acc[i]);
    }
    for (int64_t i = 0; i < out.size(); ++i) {
        const int k = static_cast<int>(i % c);
        if (!spec.mean.empty()) {
            const size_t j = spec.mean.size() == 1 ? 0 : static_cast<size_t>(k);
            out[i] = (out[i] / 255.f - spec.mean[j]) / spec.std[j];
        } else {
            out[i] = spec.range_lo + (spec.range_hi - spec.range_lo) * (out[i] / 255.f);
        }
    }
    return out;
}

Image display_image(const Tensor& input, const InputSpec& spec) {
    Image img;
    img.width = static_cast<int>(input.shape()[2]);
    img.height = static_cast<int>(input.shape()[1]);
    img.channels = static_cast<int>(input.shape()[3]);
    img.pixels.resize(static_cast<size_t>(input.size()));
    for (int64_t i = 0; i < input.size(); ++i) {
        float v;
        if (spec.mean.empty())
            v = (input[i] - spec.range_lo) / (spec.range_hi - spec.range_lo);
        else {
            const size_t j = spec.mean.size() == 1 ? 0 : static_cast<size_t>(i % img.channels);
            v = input[i] * spec.std[j] + spec.mean[j];
        }
        img.pixels[static_cast<size_t>(i)] =
            static_cast<uint8_t>(std::clamp(v, 0.f, 1.f) * 255.f + 0.5f);
    }
    return img;
}

Tensor stack_batch(std::span<const Tensor> rows) {
    CNNLENS_ASSERT(!rows.empty());
    Shape s = rows[0].shape();
    s[0] = static_cast<int64_t>(rows.size());
    Tensor out(s);
    int64_t off = 0;
    for (const Tensor& r : rows) {
        CNNLENS_ASSERT(r.size() == rows[0].size());
        std::copy(r.data(), r.data() + r.size(), out.data() + off);
        off += r.size();
    }
    return out;
}

}  // namespace cnnlens
