// Images in and out of the engine: decoding (stb_image: PNG, JPEG, BMP, GIF, TGA, PSD, PNM;
// natively also WebP and AVIF through Debian's libwebp and libavif), turned upright by the EXIF
// orientation, 8-bit interleaved pixels, cropping and resampling, and conversion to a model's
// input tensor.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/limits.h"
#include "core/base/status.h"
#include "core/tensor/tensor.h"

namespace cnnlens {

// 8-bit pixels, row-major, interleaved; channels is 1 (gray), 3 (RGB) or 4 (RGBA).
struct Image {
    int width = 0, height = 0, channels = 0;
    std::vector<uint8_t> pixels;
    bool empty() const { return pixels.empty(); }
};

// What the file's header says, after every check decode_image makes before decoding (size
// limits, headers that would overflow stb_image). width and height are the upright photo's
// (swapped from the stored ones for orientations 5..8); channels as stored (1..4); orientation
// is the EXIF value decode_image applies (1..8, 1 = as stored; see orientation.h); format names
// the container ("JPEG", "PNG", "WebP", ...).
struct ImageInfo {
    int width = 0, height = 0, channels = 0;
    int orientation = 1;
    std::string_view format;
};
Expected<ImageInfo> probe_image(std::span<const uint8_t> bytes, std::string_view name);

// Decodes an image file held in memory, upright: a JPEG's or PNG's EXIF orientation (and an
// AVIF's rotation and mirror) is applied to the pixels. `name` is used in error messages. The
// result has 1 channel for gray files and 3 otherwise (alpha dropped). Sizes over
// limits::kMaxImageSide, limits::kMaxImagePixels (core/base/limits.h) are refused from the
// header, before decoding. A format recognised but not decodable in this build (HEIC, TIFF,
// JPEG XL, ...; WebP and AVIF in the browser build) is an error naming the format.
Expected<Image> decode_image(std::span<const uint8_t> bytes, std::string_view name);
Expected<Image> load_image(const std::string& path);

// Axis-aligned crop (clamped to the image). Fails on an empty intersection.
Expected<Image> crop_image(const Image& img, int x, int y, int w, int h);

// How an image becomes a model's input: size, channels and value mapping.
struct InputSpec {
    int height = 0, width = 0, channels = 0;  // channels: 1 (gray) or 3 (RGB)
    float range_lo = 0.f, range_hi = 1.f;     // pixel 0..255 -> lo..hi, when mean/std are empty
    std::vector<float> mean, std;             // per channel (or one for all), on pixel/255
};

// Resamples interleaved float pixels. Downscaling on an axis uses exact area averaging (each
// output pixel is the coverage-weighted mean of the source pixels under it); upscaling uses
// bilinear interpolation with pixel centres at +0.5.
void resample(const float* src, int sw, int sh, int channels, float* dst, int dw, int dh);

// The image as one input row [1, H, W, C]: converted to gray (0.299 R + 0.587 G + 0.114 B) or
// RGB, resampled to the spec's size, values mapped by the spec.
Tensor image_to_input(const Image& img, const InputSpec& spec);
// The same for the image placed at (pad_x, pad_y) on a black canvas_w x canvas_h canvas (the
// padded square a detector sees), without making the canvas: equal to image_to_input of the
// canvas, bit for bit.
Tensor image_to_input_padded(const Image& img, int canvas_w, int canvas_h, int pad_x, int pad_y,
                             const InputSpec& spec);
// The input row [1, H, W, C] back as an 8-bit picture (inverse of the spec's value mapping).
Image display_image(const Tensor& input, const InputSpec& spec);
// Writes `count` images' tensors ([1,H,W,C] each) into one batch [count,H,W,C].
Tensor stack_batch(std::span<const Tensor> rows);

}  // namespace cnnlens
