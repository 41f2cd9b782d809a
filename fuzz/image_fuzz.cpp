// Fuzz target: an image file from a stranger. Decodes it (stb_image behind our header checks)
// and, when it decodes, runs the preprocessing the app and CLI apply: crop, gray and RGB model
// inputs (area-average downscale and bilinear upscale), as load -> face crop -> classify does.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/image/image.h"

using namespace cnnlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto img = decode_image(std::span<const uint8_t>(data, size), "fuzz.img");
    if (!img) return 0;
    // Preprocessing is linear in the pixels and the same code at any size; above 4 megapixels it
    // would only slow the fuzzer down (decoding is still exercised up to the limits).
    if (int64_t{img->width} * img->height > 4'000'000) return 0;
    InputSpec gray{48, 48, 1, 0.f, 1.f, {}, {}};
    InputSpec rgb{96, 96, 3, -1.f, 1.f, {0.5f, 0.4f, 0.3f}, {0.2f, 0.2f, 0.2f}};
    const Tensor a = image_to_input(*img, gray), b = image_to_input(*img, rgb);
    if (a.size() != 48 * 48 || b.size() != 96 * 96 * 3) __builtin_trap();
    auto crop = crop_image(*img, img->width / 4, img->height / 4, img->width / 2 + 1, img->height / 2 + 1);
    if (!crop) __builtin_trap();  // the rectangle always overlaps the image
    const Tensor c = image_to_input(*crop, gray);
    if (c.size() != 48 * 48) __builtin_trap();
    return 0;
}
