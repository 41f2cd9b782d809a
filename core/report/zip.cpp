// Hand-written because the report needs only "stored" entries (its PNGs are compressed already):
// that is headers and a CRC-32. Debian's zlib is there natively but not for the Emscripten build,
// whose zlib port is fetched at build time; a writer this small costs less than either.
#include "core/report/zip.h"

#include <array>
#include <limits>

namespace cnnlens {
namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
        uint32_t c = n;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[n] = c;
    }
    return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

void put16(std::vector<uint8_t>& out, uint32_t v) {
    out.push_back(static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
    put16(out, v & 0xFFFF);
    put16(out, v >> 16);
}

// MS-DOS date and time of 1980-01-01 00:00, the earliest a ZIP can say.
constexpr uint32_t kDosTime = 0, kDosDate = (0 << 9) | (1 << 5) | 1;
constexpr uint32_t kMax32 = std::numeric_limits<uint32_t>::max();

Status check_name(const std::string& name) {
    const auto bad = [&](const char* why) {
        return invalid_argument("zip entry '" + name + "': " + why);
    };
    if (name.empty()) return invalid_argument("zip entry with an empty name");
    if (name.size() > 0xFFFF) return bad("name longer than 65535 bytes");
    if (name.front() == '/') return bad("absolute path");
    if (name.find('\\') != std::string::npos) return bad("backslash in the name");
    size_t start = 0;
    for (;;) {
        const size_t end = name.find('/', start);
        if (name.compare(start, end == std::string::npos ? std::string::npos : end - start, "..") ==
            0)
            return bad("'..' in the path");
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return Status::ok();
}

}  // namespace

uint32_t crc32(std::span<const uint8_t> bytes) {
    uint32_t c = 0xFFFFFFFFu;
    for (uint8_t b : bytes) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

Expected<std::vector<uint8_t>> write_zip(std::span<const ZipEntry> entries) {
    if (entries.size() > 0xFFFF)
        return invalid_argument("zip: " + std::to_string(entries.size()) +
                                " entries, more than 65535");
    std::vector<uint8_t> out, central;
    for (const ZipEntry& e : entries) {
        if (Status s = check_name(e.name); !s) return s;
        if (e.bytes.size() >= kMax32 || out.size() + e.bytes.size() + 30 + e.name.size() >= kMax32)
            return invalid_argument("zip entry '" + e.name + "': the archive would reach 4 GiB");
        const uint32_t crc = crc32(e.bytes), size = static_cast<uint32_t>(e.bytes.size());
        const uint32_t offset = static_cast<uint32_t>(out.size());
        // Local file header.
        put32(out, 0x04034b50);
        put16(out, 20);      // version needed: 2.0
        put16(out, 0x0800);  // flags: the name is UTF-8
        put16(out, 0);       // method: stored
        put16(out, kDosTime);
        put16(out, kDosDate);
        put32(out, crc);
        put32(out, size);
        put32(out, size);
        put16(out, static_cast<uint32_t>(e.name.size()));
        put16(out, 0);  // extra field length
        out.insert(out.end(), e.name.begin(), e.name.end());
        out.insert(out.end(), e.bytes.begin(), e.bytes.end());
        // Its central directory entry.
        put32(central, 0x02014b50);
        put16(central, (3 << 8) | 20);  // made by: UNIX, 2.0 (so the attributes below are read)
        put16(central, 20);
        put16(central, 0x0800);
        put16(central, 0);
        put16(central, kDosTime);
        put16(central, kDosDate);
        put32(central, crc);
        put32(central, size);
        put32(central, size);
        put16(central, static_cast<uint32_t>(e.name.size()));
        put16(central, 0);               // extra
        put16(central, 0);               // comment
        put16(central, 0);               // disk number
        put16(central, 0);               // internal attributes
        put32(central, 0100644u << 16);  // external attributes: a regular file, rw-r--r--
        put32(central, offset);
        central.insert(central.end(), e.name.begin(), e.name.end());
    }
    if (out.size() + central.size() + 22 >= kMax32)
        return invalid_argument("zip: the archive would reach 4 GiB");
    const uint32_t dir_offset = static_cast<uint32_t>(out.size());
    out.insert(out.end(), central.begin(), central.end());
    // End of central directory.
    put32(out, 0x06054b50);
    put16(out, 0);
    put16(out, 0);
    put16(out, static_cast<uint32_t>(entries.size()));
    put16(out, static_cast<uint32_t>(entries.size()));
    put32(out, static_cast<uint32_t>(central.size()));
    put32(out, dir_offset);
    put16(out, 0);  // comment length
    return out;
}

}  // namespace cnnlens
