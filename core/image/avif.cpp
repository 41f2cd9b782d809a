// AVIF through Debian's libavif (native builds; AV1 decoded by whichever decoder libavif was
// built with, dav1d first). The header is libavif's container parse, which reads the size
// before any AV1 is decoded; an image sequence gives its first frame, 10- and 12-bit images are
// converted to 8 bits, and the container's rotation and mirror (irot, imir) become an EXIF
// orientation, as browsers apply them.
#include <avif/avif.h>

#include <memory>

#include "core/base/limits.h"
#include "core/image/codecs.h"

namespace cnnlens::codecs {

namespace {

using Decoder = std::unique_ptr<avifDecoder, void (*)(avifDecoder*)>;

// A decoder over `bytes` whose container is parsed; libavif's own limits are set to ours so
// that its AV1 decoder never allocates a frame larger than any image we accept.
Expected<Decoder> parsed(std::span<const uint8_t> bytes, const std::string& who) {
    Decoder d(avifDecoderCreate(), avifDecoderDestroy);
    if (!d) return corrupt(who + ": libavif could not create a decoder");
    d->maxThreads = 1;
    d->imageSizeLimit = static_cast<uint32_t>(limits::kMaxImagePixels);
    d->imageDimensionLimit = static_cast<uint32_t>(limits::kMaxImageSide);
    d->imageCountLimit = 1u << 16;
    // Files from cameras and converters that miss a box the specification requires (pixi, clap
    // rules) are read, as browsers read them.
    d->strictFlags = AVIF_STRICT_DISABLED;
    d->ignoreExif = AVIF_TRUE;
    d->ignoreXMP = AVIF_TRUE;
    avifResult r = avifDecoderSetIOMemory(d.get(), bytes.data(), bytes.size());
    if (r == AVIF_RESULT_OK) r = avifDecoderParse(d.get());
    if (r != AVIF_RESULT_OK)
        return corrupt(who + ": not a readable AVIF file (libavif: " + avifResultToString(r) + ")");
    return d;
}

// irot turns counter-clockwise by angle x 90 degrees, then imir mirrors (mode 0: top and bottom
// exchanged; 1: left and right); the same transform as an EXIF orientation value.
int orientation_of(const avifImage& img) {
    static constexpr int kTurned[4] = {1, 8, 3, 6}, kTopBottom[4] = {4, 5, 2, 7},
                         kLeftRight[4] = {2, 7, 4, 5};
    const int angle = (img.transformFlags & AVIF_TRANSFORM_IROT) ? img.irot.angle & 3 : 0;
    if (!(img.transformFlags & AVIF_TRANSFORM_IMIR)) return kTurned[angle];
    return img.imir.mode == 0 ? kTopBottom[angle] : kLeftRight[angle];
}

Expected<Header> avif_header(std::span<const uint8_t> bytes, const std::string& who) {
    auto d = parsed(bytes, who);
    if (!d) return d.status();
    const avifImage& img = *(*d)->image;
    Header h;
    h.width = img.width;
    h.height = img.height;
    h.channels = (img.yuvFormat == AVIF_PIXEL_FORMAT_YUV400 ? 1 : 3) + ((*d)->alphaPresent ? 1 : 0);
    h.orientation = orientation_of(img);
    return h;
}

Expected<Image> avif_decode(std::span<const uint8_t> bytes, const std::string& who, int channels) {
    auto d = parsed(bytes, who);
    if (!d) return d.status();
    if (const avifResult r = avifDecoderNextImage(d->get()); r != AVIF_RESULT_OK)
        return corrupt(who + ": AVIF decoding failed (libavif: " + avifResultToString(r) + ")");
    avifRGBImage rgb;
    avifRGBImageSetDefaults(&rgb, (*d)->image);
    rgb.format = AVIF_RGB_FORMAT_RGB;
    rgb.depth = 8;
    avifRGBImageAllocatePixels(&rgb);
    std::unique_ptr<avifRGBImage, void (*)(avifRGBImage*)> owned(&rgb, avifRGBImageFreePixels);
    if (!rgb.pixels) return corrupt(who + ": AVIF: out of memory for the pixels");
    if (const avifResult r = avifImageYUVToRGB((*d)->image, &rgb); r != AVIF_RESULT_OK)
        return corrupt(who + ": AVIF colour conversion failed (libavif: " + avifResultToString(r) +
                       ")");
    Image img;
    img.width = static_cast<int>(rgb.width);
    img.height = static_cast<int>(rgb.height);
    img.channels = channels;
    img.pixels.resize(static_cast<size_t>(img.width) * img.height * channels);
    uint8_t* dst = img.pixels.data();
    for (int y = 0; y < img.height; ++y) {
        const uint8_t* row = rgb.pixels + static_cast<size_t>(y) * rgb.rowBytes;
        for (int x = 0; x < img.width; ++x)
            for (int k = 0; k < channels; ++k) *dst++ = row[x * 3 + k];
    }
    return img;
}

}  // namespace

const Codec kAvif{avif_header, avif_decode};

}  // namespace cnnlens::codecs
