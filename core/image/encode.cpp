// PNG and NumPy .npy files (see encode.h).
#include "core/image/encode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>

#include "core/image/render_internal.h"

namespace cnnlens {

using namespace render_detail;

std::vector<uint8_t> encode_png(const Image& img) {
    CNNLENS_ASSERT(img.channels >= 1 && img.channels <= 4 && img.width > 0 && img.height > 0);
    CNNLENS_ASSERT(img.pixels.size() == static_cast<size_t>(img.width) * img.height * img.channels);
    std::vector<uint8_t> bytes;
    const auto sink = [](void* ctx, void* data, int size) {
        auto* b = static_cast<std::vector<uint8_t>*>(ctx);
        b->insert(b->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
    };
    const int ok = stbi_write_png_to_func(sink, &bytes, img.width, img.height, img.channels,
                                          img.pixels.data(), img.width * img.channels);
    CNNLENS_ASSERT(ok);
    return bytes;
}

Status write_png(const std::string& path, const Image& img) {
    if (img.empty() || img.width <= 0 || img.height <= 0)
        return invalid_argument("cannot write PNG '" + path + "': the image is empty");
    if (img.channels < 1 || img.channels > 4)
        return invalid_argument("cannot write PNG '" + path + "': " + std::to_string(img.channels) +
                                " channels (1 to 4 supported)");
    if (img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
        return invalid_argument(
            "cannot write PNG '" + path + "': " + std::to_string(img.pixels.size()) +
            " bytes of pixels for a " + std::to_string(img.width) + "x" +
            std::to_string(img.height) + "x" + std::to_string(img.channels) + " image");
    return write_bytes(path, encode_png(img), "PNG");
}

std::vector<uint8_t> encode_npy(const Tensor& t) {
    const Shape& shape = t.shape();
    CNNLENS_ASSERT(t.data() != nullptr || t.size() == 0);
    std::string dims;
    for (int i = 0; i < shape.rank(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.rank() == 1) dims += ",";
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    const size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    const uint8_t preamble[10] = {0x93,
                                  'N',
                                  'U',
                                  'M',
                                  'P',
                                  'Y',
                                  1,
                                  0,
                                  static_cast<uint8_t>(header.size() & 0xff),
                                  static_cast<uint8_t>(header.size() >> 8)};
    const size_t data_at = sizeof preamble + header.size();
    std::vector<uint8_t> out(data_at + static_cast<size_t>(t.size()) * 4);
    std::memcpy(out.data(), preamble, sizeof preamble);
    std::memcpy(out.data() + sizeof preamble, header.data(), header.size());
    for (int64_t i = 0; i < t.size(); ++i) {
        uint32_t u;
        std::memcpy(&u, &t.data()[i], 4);
        for (int k = 0; k < 4; ++k)
            out[data_at + static_cast<size_t>(i) * 4 + static_cast<size_t>(k)] =
                static_cast<uint8_t>(u >> (8 * k));
    }
    return out;
}

Status write_npy(const std::string& path, const Tensor& t) {
    if (t.data() == nullptr && t.size() != 0)
        return invalid_argument("cannot write npy '" + path + "': the tensor has no data");
    return write_bytes(path, encode_npy(t), "npy");
}

Expected<NpyHeader> decode_npy_header(std::span<const uint8_t> b, std::string_view name) {
    const std::string who = "npy '" + std::string(name) + "'";
    if (b.size() < 10 || b[0] != 0x93 || std::memcmp(&b[1], "NUMPY", 5) != 0)
        return corrupt(who + ": no NumPy magic string");
    const int major = b[6];
    if (major != 1 && major != 2)
        return unsupported(who + ": format version " + std::to_string(major) + "." +
                           std::to_string(b[7]) + " (1.0 and 2.0 supported)");
    const size_t len_bytes = major == 1 ? 2 : 4;
    if (b.size() < 8 + len_bytes) return corrupt(who + ": truncated header");
    size_t header_len = 0;
    for (size_t k = 0; k < len_bytes; ++k) header_len |= size_t{b[8 + k]} << (8 * k);
    NpyHeader r;
    r.data_offset = 8 + len_bytes + header_len;
    if (r.data_offset > b.size())
        return corrupt(who + ": header of " + std::to_string(header_len) +
                       " bytes runs past the end of the file");
    const std::string h(reinterpret_cast<const char*>(&b[8 + len_bytes]), header_len);
    const auto value_after = [&](std::string_view key) -> size_t {
        const size_t k = h.find(key);
        if (k == std::string::npos) return k;
        const size_t colon = h.find(':', k + key.size());
        return colon == std::string::npos ? colon : h.find_first_not_of(' ', colon + 1);
    };
    const size_t d = value_after("'descr'");
    if (d == std::string::npos || (h[d] != '\'' && h[d] != '"'))
        return corrupt(who + ": header has no 'descr'");
    const size_t d_end = h.find(h[d], d + 1);
    r.descr = h.substr(d + 1, d_end == std::string::npos ? 0 : d_end - d - 1);
    const size_t f = value_after("'fortran_order'");
    if (f == std::string::npos) return corrupt(who + ": header has no 'fortran_order'");
    if (h.compare(f, 4, "True") == 0)
        return unsupported(who + ": Fortran order (only C order is read)");
    const size_t s = value_after("'shape'");
    const size_t s_end = s == std::string::npos ? s : h.find(')', s);
    if (s == std::string::npos || h[s] != '(' || s_end == std::string::npos)
        return corrupt(who + ": header has no 'shape' tuple");
    // Every element takes at least one byte: a count beyond the data is refused before it can
    // overflow.
    const size_t data_bytes = b.size() - r.data_offset;
    for (size_t i = s + 1; i < s_end;) {
        i = h.find_first_not_of(" ,", i);
        if (i >= s_end) break;
        char* end = nullptr;
        const long long v = std::strtoll(h.c_str() + i, &end, 10);
        const size_t used = static_cast<size_t>(end - (h.c_str() + i));
        if (used == 0 || v < 0)
            return corrupt(who + ": bad shape '" + h.substr(s, s_end - s + 1) + "'");
        if (r.shape.rank() == kMaxRank)
            return unsupported(who + ": shape " + h.substr(s, s_end - s + 1) + " has more than " +
                               std::to_string(kMaxRank) + " dimensions");
        r.shape.push_back(v);
        r.count = v == 0 || r.count == 0
                      ? 0
                      : (static_cast<uint64_t>(v) > data_bytes / static_cast<uint64_t>(r.count)
                             ? -1
                             : r.count * v);
        if (r.count < 0)
            return corrupt(who + ": shape " + h.substr(s, s_end - s + 1) +
                           " needs more data than the " + std::to_string(data_bytes) +
                           " bytes present");
        i += used;
    }
    return r;
}

Expected<Tensor> decode_npy(std::span<const uint8_t> b, std::string_view name) {
    const std::string who = "npy '" + std::string(name) + "'";
    auto h = decode_npy_header(b, name);
    if (!h) return h.status();
    if (h->descr != "<f4")
        return unsupported(who + ": dtype '" + h->descr +
                           "' (only '<f4', little-endian float32, is read)");
    const size_t data_bytes = b.size() - h->data_offset;
    if (data_bytes / 4 < static_cast<size_t>(h->count))
        return corrupt(who + ": shape " + h->shape.str() + " needs " +
                       std::to_string(h->count * 4) + " data bytes, " + std::to_string(data_bytes) +
                       " present");
    Tensor t(h->shape);
    for (int64_t i = 0; i < h->count; ++i) {
        const uint8_t* p = &b[h->data_offset + static_cast<size_t>(i) * 4];
        const uint32_t u = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
                           (uint32_t{p[3]} << 24);
        std::memcpy(&t.data()[i], &u, 4);
    }
    return t;
}

}  // namespace cnnlens
