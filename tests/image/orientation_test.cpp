// EXIF orientation: the tag parser on hand-made TIFF, JPEG and PNG bytes (both byte orders,
// every bound it checks), the eight transforms on a tiny image, and the photo fixtures of
// tests/data/photos/orientation (made by PIL, jpegtran and libavif, make_photos.py): decoded
// upright, the eight files of each format are one photo; AVIF's irot/imir likewise.
#include "core/image/orientation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <string>

#include "tests/test_util.h"

namespace cnnlens {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, bool be, uint32_t v) {
    if (be)
        b.insert(b.end(), {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
    else
        b.insert(b.end(), {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)});
}
void put32(Bytes& b, bool be, uint32_t v) {
    if (be) {
        put16(b, be, v >> 16);
        put16(b, be, v & 0xFFFF);
    } else {
        put16(b, be, v & 0xFFFF);
        put16(b, be, v >> 16);
    }
}

struct Entry {
    uint16_t tag, type;
    uint32_t count, value;  // a SHORT value sits in the first two bytes of the field
};

// A TIFF header and IFD0 holding `entries`; `ifd_offset` is where the header says IFD0 is.
Bytes tiff(bool be, std::vector<Entry> entries, uint32_t ifd_offset = 8) {
    Bytes b = be ? Bytes{'M', 'M', 0, 42} : Bytes{'I', 'I', 42, 0};
    put32(b, be, ifd_offset);
    put16(b, be, static_cast<uint32_t>(entries.size()));
    for (const Entry& e : entries) {
        put16(b, be, e.tag);
        put16(b, be, e.type);
        put32(b, be, e.count);
        if (e.type == 3) {
            put16(b, be, e.value);
            put16(b, be, 0);
        } else
            put32(b, be, e.value);
    }
    put32(b, be, 0);  // no next IFD
    return b;
}

Bytes oriented(bool be, uint32_t o) {
    return tiff(be, {{0x010F, 2, 4, 0x41424300}, {0x0112, 3, 1, o}, {0x0128, 3, 1, 2}});
}

// A JPEG start, then `segments` (marker and payload), then the start of a scan.
Bytes jpeg(std::vector<std::pair<uint8_t, Bytes>> segments) {
    Bytes b = {0xFF, 0xD8};
    for (auto& [marker, payload] : segments) {
        b.insert(b.end(), {0xFF, marker});
        put16(b, true, static_cast<uint32_t>(payload.size() + 2));
        b.insert(b.end(), payload.begin(), payload.end());
    }
    b.insert(b.end(), {0xFF, 0xDA, 0, 2});
    return b;
}

// The APP1 payload: "Exif\0\0", then the TIFF bytes.
Bytes exif_app1(const Bytes& tiff) {
    static constexpr uint8_t kHeader[] = {'E', 'x', 'i', 'f', 0, 0};
    Bytes p(sizeof kHeader + tiff.size());
    std::copy(std::begin(kHeader), std::end(kHeader), p.begin());
    std::copy(tiff.begin(), tiff.end(), p.begin() + sizeof kHeader);
    return p;
}

TEST(Orientation, ReadsTheTagInBothByteOrders) {
    for (bool be : {false, true})
        for (uint32_t o = 1; o <= 8; ++o) {
            EXPECT_EQ(tiff_orientation(oriented(be, o)), static_cast<int>(o))
                << (be ? "MM " : "II ") << o;
            EXPECT_EQ(exif_orientation(jpeg({{0xE1, exif_app1(oriented(be, o))}})),
                      static_cast<int>(o));
        }
}

TEST(Orientation, ValuesOutsideOneToEightAreOne) {
    for (uint32_t o : {0u, 9u, 255u, 65535u}) {
        EXPECT_EQ(tiff_orientation(oriented(false, o)), 1) << o;
        EXPECT_EQ(tiff_orientation(oriented(true, o)), 1) << o;
    }
}

TEST(Orientation, OnlyASingleShortCounts) {
    // As browsers read it: a LONG, or a SHORT with a count other than 1, is no orientation.
    EXPECT_EQ(tiff_orientation(tiff(false, {{0x0112, 4, 1, 6}})), 1);
    EXPECT_EQ(tiff_orientation(tiff(true, {{0x0112, 3, 2, 6}})), 1);
    EXPECT_EQ(tiff_orientation(tiff(true, {{0x0112, 3, 0, 6}})), 1);
    EXPECT_EQ(tiff_orientation(tiff(false, {{0x0110, 2, 4, 0}})), 1) << "no orientation tag";
}

TEST(Orientation, BogusOffsetsAndCountsAreOne) {
    const Bytes good = oriented(false, 6);
    ASSERT_EQ(tiff_orientation(good), 6);
    EXPECT_EQ(tiff_orientation(tiff(false, {{0x0112, 3, 1, 6}}, 0xFFFFFFF0u)), 1)
        << "IFD0 past the end";
    EXPECT_EQ(tiff_orientation(tiff(false, {{0x0112, 3, 1, 6}}, 4)), 1) << "IFD0 inside the header";
    EXPECT_EQ(tiff_orientation(tiff(true, {{0x0112, 3, 1, 6}}, static_cast<uint32_t>(good.size()))),
              1)
        << "IFD0 at the very end";
    Bytes many = good;
    many[8] = 0xFF;  // 255 entries declared, 3 present: the walk stops at the end, before the tag
                     // if it must
    many[9] = 0;
    EXPECT_EQ(tiff_orientation(many), 6) << "entries before the end are still read";
    Bytes late = tiff(false, {{0x010F, 2, 4, 0}, {0x0110, 2, 4, 0}, {0x0112, 3, 1, 6}});
    late[8] = 0xFF;
    late.resize(8 + 2 + 12 * 2 + 6);  // the orientation entry is cut in half
    EXPECT_EQ(tiff_orientation(late), 1);
    Bytes magic = good;
    magic[2] = 43;
    EXPECT_EQ(tiff_orientation(magic), 1) << "not 42";
    Bytes order = good;
    order[0] = 'M';  // "MI": neither byte order
    EXPECT_EQ(tiff_orientation(order), 1);
    for (size_t n = 0; n < good.size(); ++n)
        EXPECT_EQ(tiff_orientation(std::span(good).first(n)), n >= 8 + 2 + 12 * 2 ? 6 : 1)
            << "cut to " << n << " bytes";
}

TEST(Orientation, JpegSegmentsAreWalkedByTheirLengths) {
    const Bytes six = exif_app1(oriented(true, 6));
    // An APP0, an XMP APP1 and a comment before the Exif APP1 are skipped.
    const Bytes xmp = {'h', 't', 't', 'p', ':', '/', '/', 'n', 's', 0};
    EXPECT_EQ(exif_orientation(
                  jpeg({{0xE0, Bytes(14, 0)}, {0xE1, xmp}, {0xFE, Bytes(3, 'x')}, {0xE1, six}})),
              6);
    // After the scan starts nothing is read; nor in an APP2 or an APP1 without "Exif\0\0".
    Bytes after = jpeg({});
    after.insert(after.end(), {0xFF, 0xE1, 0, static_cast<uint8_t>(six.size() + 2)});
    after.insert(after.end(), six.begin(), six.end());
    EXPECT_EQ(exif_orientation(after), 1);
    EXPECT_EQ(exif_orientation(jpeg({{0xE2, six}})), 1);
    Bytes exif0 = six;
    exif0[5] = 'x';
    EXPECT_EQ(exif_orientation(jpeg({{0xE1, exif0}})), 1);
    // Fill bytes before a marker are allowed.
    Bytes fill = jpeg({{0xE1, six}});
    fill.insert(fill.begin() + 2, {0xFF, 0xFF});
    EXPECT_EQ(exif_orientation(fill), 6);
}

TEST(Orientation, TruncatedApp1IsOne) {
    const Bytes whole = jpeg({{0xE1, exif_app1(oriented(false, 8))}});
    ASSERT_EQ(exif_orientation(whole), 8);
    // Cut anywhere before the orientation entry ends: 1; the bytes after it do not matter.
    const size_t entry_end = 2 + 4 + 6 + 8 + 2 + 12 * 2;
    for (size_t n = 0; n <= whole.size(); ++n)
        EXPECT_EQ(exif_orientation(std::span(whole).first(n)), n >= entry_end ? 8 : 1)
            << "cut to " << n << " bytes";
    // A segment length shorter than its "Exif" header, or longer than the file.
    Bytes tiny = {0xFF, 0xD8, 0xFF, 0xE1, 0, 5, 'E', 'x', 'i', 'f', 0, 0};
    tiny.insert(tiny.end(), whole.begin() + 12, whole.end());
    EXPECT_EQ(exif_orientation(tiny), 1);
    Bytes longer = whole;
    longer[4] = 0xFF;
    longer[5] = 0xFF;
    EXPECT_EQ(exif_orientation(longer), 8)
        << "a length past the end: the segment is what the file holds";
    Bytes zero = whole;
    zero[4] = 0;
    zero[5] = 1;
    EXPECT_EQ(exif_orientation(zero), 1) << "a length below 2";
}

// A PNG signature and chunks (CRCs are not read by the orientation parser).
Bytes png(std::vector<std::pair<std::string, Bytes>> chunks) {
    Bytes b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    for (auto& [type, data] : chunks) {
        put32(b, true, static_cast<uint32_t>(data.size()));
        b.insert(b.end(), type.begin(), type.end());
        b.insert(b.end(), data.begin(), data.end());
        put32(b, true, 0);
    }
    return b;
}

TEST(Orientation, PngExifChunk) {
    const Bytes ihdr(13, 1);
    EXPECT_EQ(
        exif_orientation(png(
            {{"IHDR", ihdr}, {"eXIf", oriented(true, 5)}, {"IDAT", Bytes(4, 0)}, {"IEND", {}}})),
        5);
    EXPECT_EQ(
        exif_orientation(png(
            {{"IHDR", ihdr}, {"IDAT", Bytes(4, 0)}, {"eXIf", oriented(false, 7)}, {"IEND", {}}})),
        7);
    EXPECT_EQ(exif_orientation(png({{"IHDR", ihdr}, {"IEND", {}}, {"eXIf", oriented(false, 7)}})),
              1)
        << "after IEND";
    EXPECT_EQ(exif_orientation(png({{"IHDR", ihdr}, {"IDAT", Bytes(4, 0)}})), 1);
    // A chunk length near 2^32 ends the walk (on wasm32 it must not wrap the position around).
    Bytes huge = png({{"IHDR", ihdr}, {"tEXt", Bytes(4, 'a')}, {"eXIf", oriented(false, 3)}});
    huge[8 + 12 + 13] = 0xFF;
    huge[8 + 12 + 13 + 1] = 0xFF;
    huge[8 + 12 + 13 + 2] = 0xFF;
    huge[8 + 12 + 13 + 3] = 0xF0;
    EXPECT_EQ(exif_orientation(huge), 1);
    Bytes cut = png({{"IHDR", ihdr}, {"eXIf", oriented(true, 6)}});
    EXPECT_EQ(exif_orientation(cut), 6);
    cut.resize(cut.size() - 4 - 20);  // the CRC and the end of the IFD
    EXPECT_EQ(exif_orientation(cut), 1);
}

// The 3x2 image  a b c / d e f  (one gray channel), upright for each orientation.
TEST(Orientation, EachValueTurnsTheStoredPixelsUpright) {
    Image stored;
    stored.width = 3;
    stored.height = 2;
    stored.channels = 1;
    stored.pixels = {'a', 'b', 'c', 'd', 'e', 'f'};
    const char* upright[9] = {"",         "abc/def",  "cba/fed",  "fed/cba", "def/abc",
                              "ad/be/cf", "da/eb/fc", "fc/eb/da", "cf/be/ad"};
    for (int o = 1; o <= 8; ++o) {
        const Image u = orient_image(stored, o);
        std::string rows;
        for (int y = 0; y < u.height; ++y) {
            if (y) rows += '/';
            for (int x = 0; x < u.width; ++x)
                rows += static_cast<char>(u.pixels[static_cast<size_t>(y * u.width + x)]);
        }
        EXPECT_EQ(rows, upright[o]) << "orientation " << o;
        EXPECT_EQ(u.width, orientation_swaps_sides(o) ? 2 : 3);
    }
    // Three channels move together.
    Image rgb;
    rgb.width = 2;
    rgb.height = 1;
    rgb.channels = 3;
    rgb.pixels = {1, 2, 3, 4, 5, 6};
    const Image r = orient_image(rgb, 6);
    EXPECT_EQ(r.width, 1);
    EXPECT_EQ(r.pixels, (Bytes{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(orient_image(rgb, 2).pixels, (Bytes{4, 5, 6, 1, 2, 3}));
}

std::string fixture(int o, const char* ext) {
    return test::source_path("tests/data/photos/orientation/astronaut_" + std::to_string(o) + ext);
}

TEST(Orientation, ProbeReportsTheUprightSize) {
    for (const char* ext : {".jpg", ".png"})
        for (int o = 1; o <= 8; ++o) {
            const auto bytes = test::read_file(fixture(o, ext));
            auto info = probe_image(bytes, "photo");
            ASSERT_TRUE(info) << info.status().message();
            EXPECT_EQ(info->orientation, o) << ext;
            EXPECT_EQ(info->width, 320) << ext << " " << o;
            EXPECT_EQ(info->height, 272) << ext << " " << o;
            EXPECT_EQ(info->format, std::string(ext) == ".jpg" ? "JPEG" : "PNG");
        }
}

// PNG stores pixels exactly, so the eight decode to the same upright pixels. The JPEGs were
// turned by jpegtran without re-encoding, but stb_image's inverse DCT is not symmetric under
// transposition and mirroring (its rounding differs), so they agree within a few levels.
TEST(Orientation, TheEightFixturesDecodeToOnePhoto) {
    for (const char* ext : {".png", ".jpg"}) {
        auto first = load_image(fixture(1, ext));
        ASSERT_TRUE(first) << first.status().message();
        for (int o = 2; o <= 8; ++o) {
            auto img = load_image(fixture(o, ext));
            ASSERT_TRUE(img) << img.status().message();
            ASSERT_EQ(img->width, first->width);
            ASSERT_EQ(img->height, first->height);
            ASSERT_EQ(img->channels, 3);
            int worst = 0;
            for (size_t i = 0; i < img->pixels.size(); ++i)
                worst = std::max(worst, std::abs(img->pixels[i] - first->pixels[i]));
            if (std::string(ext) == ".png")
                EXPECT_EQ(worst, 0) << "orientation " << o;
            else
                EXPECT_LE(worst, 3) << "orientation " << o;
        }
    }
}

using test::mean_abs_diff;

// AVIF turns its pixels by the container's irot and imir, not EXIF. The fixtures were stored by
// make_photos.py from the specification's words (PIL's turns); decoded here, each must be the
// upright photo within the codec's loss, and closer to it than any other turn of the same pixels.
TEST(Orientation, AvifRotationAndMirrorTurnThePhotoUpright) {
#ifndef CNNLENS_HAVE_AVIF
    GTEST_SKIP() << "no AVIF decoder in this build (Image.WebPAndAvifPhotos checks its error)";
#endif
    auto upright = load_image(fixture(1, ".png"));
    ASSERT_TRUE(upright);
    for (const char* name : {"irot0", "irot1", "irot2", "irot3", "irot0_imir1", "irot1_imir1",
                             "irot2_imir1", "irot3_imir1", "irot1_imir0", "irot2_imir0"}) {
        SCOPED_TRACE(name);
        auto img = load_image(test::source_path(
            std::string("tests/data/photos/orientation/astronaut_") + name + ".avif"));
        ASSERT_TRUE(img) << img.status().message();
        ASSERT_EQ(img->width, 320);
        ASSERT_EQ(img->height, 272);
        const double d = mean_abs_diff(*img, *upright);
        EXPECT_LT(d, 3.0);
        for (int o = 2; o <= 8; ++o)
            EXPECT_GT(mean_abs_diff(orient_image(*img, o), *upright), 2 * d)
                << "turned as orientation " << o;
    }
}

}  // namespace
}  // namespace cnnlens
