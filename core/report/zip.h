// ZIP archives of files stored as they are (no compression), and the CRC-32 they carry.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace cnnlens {

// CRC-32 as ZIP and PNG use it (IEEE 802.3, reflected, polynomial 0xEDB88320, initial and final
// XOR 0xFFFFFFFF): crc32 of "123456789" is 0xCBF43926.
uint32_t crc32(std::span<const uint8_t> bytes);

struct ZipEntry {
    std::string name;  // a relative path with '/' separators ("1_saliency.png")
    std::vector<uint8_t> bytes;
};

// A ZIP archive (APPNOTE 6.3, method 0 "stored") of `entries` in order: a local header and the
// bytes of each, then the central directory. Every entry has the same fixed time stamp
// (1980-01-01 00:00), so an archive depends only on its entries. No ZIP64: refused, naming the
// entry, when an entry or the archive would reach 4 GiB or there are more than 65535 entries;
// a name that is empty, absolute, has a ".." part, a backslash or over 65535 bytes is refused.
Expected<std::vector<uint8_t>> write_zip(std::span<const ZipEntry> entries);

}  // namespace cnnlens
