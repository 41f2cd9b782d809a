// Pictures and maps to files: PNG (stb_image_write) and NumPy .npy (written, and read for
// `cnnlens run`'s inputs).
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/image/image.h"
#include "core/tensor/tensor.h"

namespace cnnlens {

// PNG bytes of a 1-4 channel image (stb_image_write).
std::vector<uint8_t> encode_png(const Image& img);
Status write_png(const std::string& path, const Image& img);

// NumPy .npy version 1.0: little-endian '<f4', C order, shape from the tensor; the header is
// padded so the data starts at a multiple of 64 bytes, as NumPy writes it.
std::vector<uint8_t> encode_npy(const Tensor& t);
Status write_npy(const std::string& path, const Tensor& t);
// The header of a .npy file, version 1.0 or 2.0, in C order: its dtype ("<f4"), its shape and
// element count (refused when the file holds fewer bytes than elements), and where the data
// starts. `name` is used in error messages.
struct NpyHeader {
    std::string descr;
    Shape shape;
    int64_t count = 1;
    size_t data_offset = 0;
};
Expected<NpyHeader> decode_npy_header(std::span<const uint8_t> bytes, std::string_view name);
// Reads a .npy file holding '<f4'.
Expected<Tensor> decode_npy(std::span<const uint8_t> bytes, std::string_view name);

}  // namespace cnnlens
