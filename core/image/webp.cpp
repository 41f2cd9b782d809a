// WebP through Debian's libwebp (native builds): the header through WebPGetFeatures, still
// images through WebPDecodeRGBInto into our buffer, animations through libwebpdemux's
// compositing decoder, of which the first frame is kept (what a browser shows before playing).
#include <webp/decode.h>
#include <webp/demux.h>

#include <memory>

#include "core/base/assert.h"
#include "core/image/codecs.h"

namespace cnnlens::codecs {

namespace {

const char* status_name(VP8StatusCode s) {
    switch (s) {
        case VP8_STATUS_OK:
            return "ok";
        case VP8_STATUS_OUT_OF_MEMORY:
            return "out of memory";
        case VP8_STATUS_INVALID_PARAM:
            return "invalid parameter";
        case VP8_STATUS_BITSTREAM_ERROR:
            return "bitstream error";
        case VP8_STATUS_UNSUPPORTED_FEATURE:
            return "unsupported feature";
        case VP8_STATUS_SUSPENDED:
            return "suspended";
        case VP8_STATUS_USER_ABORT:
            return "user abort";
        case VP8_STATUS_NOT_ENOUGH_DATA:
            return "not enough data";
    }
    return "unknown status";
}

Expected<Header> webp_header(std::span<const uint8_t> bytes, const std::string& who) {
    WebPBitstreamFeatures f;
    if (const VP8StatusCode s = WebPGetFeatures(bytes.data(), bytes.size(), &f); s != VP8_STATUS_OK)
        return corrupt(who + ": not a readable WebP header (libwebp: " + status_name(s) + ")");
    Header h;
    h.width = f.width;
    h.height = f.height;
    h.channels = f.has_alpha ? 4 : 3;
    return h;
}

Expected<Image> first_frame(std::span<const uint8_t> bytes, const std::string& who, int channels) {
    WebPAnimDecoderOptions options;
    if (!WebPAnimDecoderOptionsInit(&options))
        return corrupt(who + ": libwebp's animation decoder is not the version we were built with");
    options.color_mode = MODE_RGBA;
    options.use_threads = 0;
    const WebPData data{bytes.data(), bytes.size()};
    std::unique_ptr<WebPAnimDecoder, void (*)(WebPAnimDecoder*)> dec(
        WebPAnimDecoderNew(&data, &options), WebPAnimDecoderDelete);
    WebPAnimInfo info;
    if (!dec || !WebPAnimDecoderGetInfo(dec.get(), &info))
        return corrupt(who + ": animated WebP: the animation's structure is corrupt");
    uint8_t* rgba = nullptr;
    int timestamp = 0;
    if (!WebPAnimDecoderGetNext(dec.get(), &rgba, &timestamp))
        return corrupt(who + ": animated WebP: decoding the first frame failed");
    Image img;
    img.width = static_cast<int>(info.canvas_width);
    img.height = static_cast<int>(info.canvas_height);
    img.channels = channels;
    const size_t n = static_cast<size_t>(img.width) * img.height;
    img.pixels.resize(n * channels);
    for (size_t p = 0; p < n; ++p)
        for (int k = 0; k < channels; ++k) img.pixels[p * channels + k] = rgba[p * 4 + k];
    return img;
}

// WebP is always colour (the header says 3 or 4 channels), so `channels` is 3.
Expected<Image> webp_decode(std::span<const uint8_t> bytes, const std::string& who, int channels) {
    CNNLENS_ASSERT(channels == 3);
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(bytes.data(), bytes.size(), &f) != VP8_STATUS_OK)
        return corrupt(who + ": not a readable WebP header");
    if (f.has_animation) return first_frame(bytes, who, channels);
    Image img;
    img.width = f.width;
    img.height = f.height;
    img.channels = 3;
    img.pixels.resize(static_cast<size_t>(img.width) * img.height * 3);
    if (!WebPDecodeRGBInto(bytes.data(), bytes.size(), img.pixels.data(), img.pixels.size(),
                           img.width * 3))
        return corrupt(who +
                       ": WebP decoding failed (the compressed data is corrupt or cut short)");
    return img;
}

}  // namespace

const Codec kWebp{webp_header, webp_decode};

}  // namespace cnnlens::codecs
