// Fuzz target: an image file from a stranger. Reads its EXIF orientation (and the bytes as a bare
// TIFF structure, so the tag parser sees every input), decodes it (stb_image behind our header
// checks; natively libwebp and libavif too), turned upright, and, when it decodes, runs the
// preprocessing the app and CLI apply: crop, gray and RGB model inputs (area-average downscale
// and bilinear upscale), as load -> face crop -> classify does.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/image/image.h"
#include "core/image/orientation.h"

using namespace cnnlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Images over 512x512 pixels (up to the 100-megapixel limit) pass the checks but take from a
    // tenth of a second to seconds each to decode and resample under ASan, which would cut the
    // fuzzer to a few dozen executions a second; they run the same code as smaller ones, so only
    // their header is probed (probe_image: every check decode_image makes before decoding).
    const std::span<const uint8_t> bytes(data, size);
    for (int o : {tiff_orientation(bytes), exif_orientation(bytes)})
        if (o < 1 || o > 8) __builtin_trap();
    auto info = probe_image(bytes, "fuzz.img");
    if (info && int64_t{info->width} * info->height > 512 * 512) return 0;
    auto img = decode_image(bytes, "fuzz.img");
    if (!img) return 0;
    if (!info || img->width != info->width || img->height != info->height)
        __builtin_trap();  // probe says the upright size
    InputSpec gray{48, 48, 1, 0.f, 1.f, {}, {}};
    InputSpec rgb{96, 96, 3, -1.f, 1.f, {0.5f, 0.4f, 0.3f}, {0.2f, 0.2f, 0.2f}};
    const Tensor a = image_to_input(*img, gray), b = image_to_input(*img, rgb);
    if (a.size() != 48 * 48 || b.size() != 96 * 96 * 3) __builtin_trap();
    auto crop =
        crop_image(*img, img->width / 4, img->height / 4, img->width / 2 + 1, img->height / 2 + 1);
    if (!crop) __builtin_trap();  // the rectangle always overlaps the image
    const Tensor c = image_to_input(*crop, gray);
    if (c.size() != 48 * 48) __builtin_trap();
    return 0;
}
