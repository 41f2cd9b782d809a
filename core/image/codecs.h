// The decoders behind decode_image, one per library (internal to core/image). stb_image reads
// PNG, JPEG, GIF, BMP, TGA, PSD and PNM everywhere; webp.cpp (Debian's libwebp) and avif.cpp
// (Debian's libavif) are compiled only in native builds that find their library, which CMake
// announces with CNNLENS_HAVE_WEBP / CNNLENS_HAVE_AVIF. In the browser the page decodes those
// formats itself and hands the engine pixels.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "core/base/status.h"
#include "core/image/image.h"

namespace cnnlens::codecs {

// What a decoder reads from the header, before any size check: the stored (not upright)
// size, channels as stored (1..4) and the orientation the file asks for (1..8).
struct Header {
    int64_t width = 0, height = 0;
    int channels = 0;
    int orientation = 1;
};

// Each decoder: `who` ("image 'x.webp'") starts every message. decode() runs only after
// header() passed and decode_image checked the size; `channels` is 1 (gray) or 3 (RGB) and the
// result holds the stored pixels, not yet oriented.
struct Codec {
    Expected<Header> (*header)(std::span<const uint8_t> bytes, const std::string& who);
    Expected<Image> (*decode)(std::span<const uint8_t> bytes, const std::string& who, int channels);
};

extern const Codec kStb;
#if CNNLENS_HAVE_WEBP
extern const Codec kWebp;
#endif
#if CNNLENS_HAVE_AVIF
extern const Codec kAvif;
#endif

}  // namespace cnnlens::codecs
