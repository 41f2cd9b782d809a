// core/report/zip.cpp: CRC-32 against its check value, archives read back by a reader written
// here from the APPNOTE (and, natively, by Python's zipfile), and the names it refuses.
#include "core/report/zip.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "tests/test_util.h"

namespace cnnlens {
namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

// Bit by bit, apart from zip.cpp's table.
uint32_t crc_bitwise(const std::vector<uint8_t>& b) {
    uint32_t c = 0xFFFFFFFFu;
    for (uint8_t x : b) {
        c ^= x;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

uint32_t u16(const std::vector<uint8_t>& z, size_t at) { return z[at] | (z[at + 1] << 8); }
uint32_t u32(const std::vector<uint8_t>& z, size_t at) {
    return u16(z, at) | (static_cast<uint32_t>(u16(z, at + 2)) << 16);
}

// Reads an archive through its central directory as a ZIP reader does; fails the test on any
// inconsistency between the end record, the directory and the local headers.
std::vector<ZipEntry> read_zip(const std::vector<uint8_t>& z) {
    std::vector<ZipEntry> out;
    EXPECT_GE(z.size(), 22u);
    if (z.size() < 22) return out;
    const size_t end = z.size() - 22;
    EXPECT_EQ(u32(z, end), 0x06054b50u);
    const uint32_t n = u16(z, end + 10), dir_size = u32(z, end + 12), dir_at = u32(z, end + 16);
    EXPECT_EQ(u16(z, end + 8), n);
    EXPECT_EQ(dir_at + dir_size, end);
    size_t at = dir_at;
    for (uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(u32(z, at), 0x02014b50u);
        EXPECT_EQ(u16(z, at + 10), 0u) << "stored";
        const uint32_t crc = u32(z, at + 16), csize = u32(z, at + 20), size = u32(z, at + 24);
        const uint32_t name_len = u16(z, at + 28), extra = u16(z, at + 30),
                       comment = u16(z, at + 32), local = u32(z, at + 42);
        EXPECT_EQ(csize, size);
        const std::string name(z.begin() + static_cast<std::ptrdiff_t>(at + 46),
                               z.begin() + static_cast<std::ptrdiff_t>(at + 46 + name_len));
        EXPECT_EQ(u32(z, local), 0x04034b50u);
        EXPECT_EQ(u32(z, local + 14), crc);
        EXPECT_EQ(u32(z, local + 22), size);
        const uint32_t lname = u16(z, local + 26), lextra = u16(z, local + 28);
        EXPECT_EQ(std::string(z.begin() + static_cast<std::ptrdiff_t>(local + 30),
                              z.begin() + static_cast<std::ptrdiff_t>(local + 30 + lname)),
                  name);
        const size_t data = local + 30 + lname + lextra;
        ZipEntry e{name,
                   {z.begin() + static_cast<std::ptrdiff_t>(data),
                    z.begin() + static_cast<std::ptrdiff_t>(data + size)}};
        EXPECT_EQ(crc_bitwise(e.bytes), crc) << name;
        out.push_back(std::move(e));
        at += 46 + name_len + extra + comment;
    }
    EXPECT_EQ(at, end);
    return out;
}

TEST(Zip, Crc32MatchesItsCheckValue) {
    EXPECT_EQ(crc32(bytes("123456789")), 0xCBF43926u);
    EXPECT_EQ(crc32({}), 0u);
    Rng rng(3);
    std::vector<uint8_t> b(10000);
    for (uint8_t& x : b) x = static_cast<uint8_t>(rng.uniform() * 256);
    EXPECT_EQ(crc32(b), crc_bitwise(b));
}

TEST(Zip, ReadsBackWhatWasWritten) {
    std::vector<ZipEntry> entries = {{"index.html", bytes("<!doctype html>")},
                                     {"empty.json", {}},
                                     {"dir/a.png", std::vector<uint8_t>(70000, 0xAB)}};
    entries[2].bytes[123] = 7;
    auto z = write_zip(entries);
    ASSERT_TRUE(z.has_value()) << z.status().message();
    const std::vector<ZipEntry> back = read_zip(*z);
    ASSERT_EQ(back.size(), entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
        EXPECT_EQ(back[i].name, entries[i].name);
        EXPECT_EQ(back[i].bytes, entries[i].bytes);
    }
    // Deterministic: no clock in the archive.
    EXPECT_EQ(*write_zip(entries), *z);
    auto empty = write_zip({});
    ASSERT_TRUE(empty.has_value());
    EXPECT_EQ(empty->size(), 22u);
    EXPECT_TRUE(read_zip(*empty).empty());
}

TEST(Zip, RefusesNamesThatLeaveTheFolder) {
    for (const char* bad : {"", "/etc/passwd", "a/../b", "..", "a\\b"}) {
        std::vector<ZipEntry> e = {{bad, bytes("x")}};
        auto z = write_zip(e);
        ASSERT_FALSE(z.has_value()) << bad;
        EXPECT_NE(z.status().message().find("zip entry"), std::string::npos)
            << z.status().message();
    }
    std::vector<ZipEntry> fine = {{"a..b/c..", bytes("x")}};
    EXPECT_TRUE(write_zip(fine).has_value());
}

// A reader we did not write: Python's zipfile (Debian's python3), natively.
TEST(Zip, PythonsZipfileReadsIt) {
#ifdef __EMSCRIPTEN__
    GTEST_SKIP() << "no processes under node";
#else
    if (!std::fopen("/usr/bin/python3", "rb")) GTEST_SKIP() << "no /usr/bin/python3";
    std::vector<ZipEntry> entries = {{"1_saliency.png", std::vector<uint8_t>(5000, 3)},
                                     {"5_trust.json", bytes("{\"ranking\":[]}")}};
    auto z = write_zip(entries);
    ASSERT_TRUE(z.has_value());
    const std::string path = ::testing::TempDir() + "cnnlens_zip_test.zip";
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_TRUE(f);
    std::fwrite(z->data(), 1, z->size(), f);
    std::fclose(f);
    const std::string cmd =
        "/usr/bin/python3 -c \"import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); "
        "assert z.testzip() is None; print(';'.join('%s:%d:%d' % (i.filename, i.file_size, "
        "i.compress_type) for i in z.infolist()), z.read('5_trust.json').decode())\" " +
        path;
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_TRUE(p);
    char buf[512] = {};
    const size_t n = std::fread(buf, 1, sizeof buf - 1, p);
    EXPECT_EQ(pclose(p), 0);
    EXPECT_EQ(std::string(buf, n), "1_saliency.png:5000:0;5_trust.json:14:0 {\"ranking\":[]}\n");
    std::remove(path.c_str());
#endif
}

}  // namespace
}  // namespace cnnlens
