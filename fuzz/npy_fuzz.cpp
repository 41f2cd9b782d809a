// Fuzz target: a NumPy .npy file from a stranger, as `cnnlens run --input NAME=FILE.npy` reads
// it: the header (version, dtype, order, shape against the bytes present), then the float32
// data. A tensor that decodes holds exactly the elements its shape names.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/image/encode.h"

using namespace cnnlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> bytes(data, size);
    auto header = decode_npy_header(bytes, "fuzz.npy");
    auto t = decode_npy(bytes, "fuzz.npy");
    if (t && !header) __builtin_trap();  // decoding reads the same header
    if (!t) return 0;
    if (t->size() != header->count || t->shape() != header->shape) __builtin_trap();
    if (header->data_offset + static_cast<size_t>(t->size()) * 4 > size) __builtin_trap();
    return 0;
}
