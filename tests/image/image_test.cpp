// Image decoding (every format, named errors for the ones not decoded here), limits checked
// from the header, cropping, and exact area resampling.
#include "core/image/image.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace cnnlens {
namespace {

TEST(Image, DecodesPng) {
    auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
    ASSERT_TRUE(img) << img.status().message();
    EXPECT_EQ(img->channels, 3);
    EXPECT_EQ(img->width, img->height);
}

TEST(Image, CorruptAndEmptyFilesAreNamedErrors) {
    std::vector<uint8_t> none;
    auto e = decode_image(none, "empty.png");
    ASSERT_FALSE(e);
    EXPECT_NE(e.status().message().find("empty.png"), std::string::npos);
    const std::string text = "this is not an image";
    auto t =
        decode_image({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, "notes.png");
    ASSERT_FALSE(t);
    EXPECT_NE(t.status().message().find("notes.png"), std::string::npos);
    auto bytes = test::read_file(test::source_path("tests/data/astronaut_face.png"));
    bytes.resize(bytes.size() / 2);
    auto half = decode_image(bytes, "half.png");
    ASSERT_FALSE(half);
    EXPECT_NE(half.status().message().find("half.png"), std::string::npos);
    EXPECT_FALSE(load_image("no/such/file.png"));
}

TEST(Image, HugeDeclaredSizeIsRejectedBeforeDecoding) {
    // A PNG header claiming 100000 x 100000 pixels (no pixel data follows).
    std::vector<uint8_t> png = {0x89, 'P',  'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0,    0, 0,
                                13,   'I',  'H', 'D', 'R',  0,    1,    0x86, 0xa0, 0, 1,
                                0x86, 0xa0, 8,   2,   0,    0,    0,    0,    0,    0, 0};
    auto r = decode_image(png, "huge.png");
    ASSERT_FALSE(r);
    EXPECT_NE(r.status().message().find("100000x100000"), std::string::npos)
        << r.status().message();
}

TEST(Image, AreaResamplingAveragesExactly) {
    // 3x1 -> 2x1: output 0 covers source [0, 1.5), output 1 covers [1.5, 3).
    const float src[] = {0.f, 3.f, 6.f};
    float dst[2];
    resample(src, 3, 1, 1, dst, 2, 1);
    EXPECT_FLOAT_EQ(dst[0], (0.f * 1.f + 3.f * 0.5f) / 1.5f);
    EXPECT_FLOAT_EQ(dst[1], (3.f * 0.5f + 6.f * 1.f) / 1.5f);
    // A constant image stays constant at any size, up or down.
    std::vector<float> c(37 * 23, 7.f), o(64 * 64);
    resample(c.data(), 37, 23, 1, o.data(), 64, 64);
    for (float v : o) EXPECT_NEAR(v, 7.f, 1e-5);
    resample(c.data(), 37, 23, 1, o.data(), 5, 3);
    for (int i = 0; i < 15; ++i) EXPECT_NEAR(o[static_cast<size_t>(i)], 7.f, 1e-5);
}

TEST(Image, CropClampsAndRejectsOutside) {
    Image img;
    img.width = 4;
    img.height = 3;
    img.channels = 1;
    for (int i = 0; i < 12; ++i) img.pixels.push_back(static_cast<uint8_t>(i));
    auto c = crop_image(img, 2, 1, 10, 10);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->width, 2);
    EXPECT_EQ(c->height, 2);
    EXPECT_EQ(c->pixels[0], 6);
    EXPECT_FALSE(crop_image(img, 5, 0, 2, 2));
}

TEST(Image, InputSpecMapsValues) {
    Image img;
    img.width = 2;
    img.height = 2;
    img.channels = 3;
    img.pixels = {255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255};
    InputSpec gray{2, 2, 1, -1.f, 1.f, {}, {}};
    Tensor x = image_to_input(img, gray);
    EXPECT_NEAR(x[0], 1.f, 1e-6);
    EXPECT_NEAR(x[1], -1.f, 1e-6);
    EXPECT_NEAR(x[2], -1.f + 2.f * 0.299f, 1e-5);
    InputSpec rgb{2, 2, 3, 0.f, 1.f, {0.5f}, {0.25f}};
    Tensor y = image_to_input(img, rgb);
    EXPECT_NEAR(y[0], 2.f, 1e-5);
    EXPECT_NEAR(y[3], -2.f, 1e-5);
}

// A detector's input: the photo on a black square, resampled. Made without the square (and
// without a float copy of the photo), the values must be those of resample() on the square
// itself (the taps on black add nothing), for a downscale (area averaging) and an upscale
// (bilinear), gray and RGB.
TEST(Image, PaddedInputEqualsTheInputOfThePaddedCanvas) {
    auto photo = load_image(test::source_path("tests/data/astronaut.jpg"));
    ASSERT_TRUE(photo) << photo.status().message();
    auto cut = crop_image(*photo, 40, 10, 300, 170);  // wide: pads above and below
    ASSERT_TRUE(cut);
    const Image& img = *cut;
    for (const auto& [side, channels] : {std::pair{128, 3}, {512, 3}, {96, 1}}) {
        const int canvas = std::max(img.width, img.height);
        const int pad_x = (canvas - img.width) / 2, pad_y = (canvas - img.height) / 2;
        Image square;
        square.width = square.height = canvas;
        square.channels = img.channels;
        square.pixels.assign(static_cast<size_t>(canvas) * canvas * img.channels, 0);
        for (int y = 0; y < img.height; ++y)
            std::copy_n(
                &img.pixels[static_cast<size_t>(y) * img.width * img.channels],
                static_cast<size_t>(img.width) * img.channels,
                &square.pixels[(static_cast<size_t>(y + pad_y) * canvas + pad_x) * img.channels]);
        const InputSpec spec{side, side, channels, -1.f, 1.f, {}, {}};
        // The square's values through resample(), the float path, mapped to [-1, 1].
        std::vector<float> values;
        for (size_t p = 0; p < square.pixels.size(); p += 3)
            for (int k = 0; k < 3; ++k)
                values.push_back(channels == 3 ? square.pixels[p + k]
                                               : static_cast<float>(0.299 * square.pixels[p] +
                                                                    0.587 * square.pixels[p + 1] +
                                                                    0.114 * square.pixels[p + 2]));
        if (channels == 1)
            for (size_t p = 0; p < values.size() / 3; ++p) values[p] = values[p * 3];
        Tensor want(Shape{1, side, side, channels});
        resample(values.data(), canvas, canvas, channels, want.data(), side, side);
        for (int64_t i = 0; i < want.size(); ++i) want[i] = -1.f + 2.f * (want[i] / 255.f);
        const Tensor got = image_to_input_padded(img, canvas, canvas, pad_x, pad_y, spec);
        ASSERT_EQ(got.shape(), want.shape());
        int differ = 0;
        for (int64_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
        EXPECT_EQ(differ, 0) << "side " << side << ", " << channels << " channels";
    }
}

using test::mean_abs_diff;

Expected<Image> decode_bytes(std::string_view bytes, std::string_view name) {
    return decode_image({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, name);
}

// stb_image decodes a JPEG to the same pixels in every build: natively it runs its SSE2 loops
// (IDCT, colour conversion, chroma upsampling), in the browser build the same loops on
// WebAssembly SIMD (core/image/stb_impl.cpp). The digest is FNV-1a over the pixels; one value
// for both builds, so the page sees what the CLI sees.
TEST(Image, AJpegDecodesToTheSamePixelsInEveryBuild) {
    auto img = load_image(test::source_path("tests/data/astronaut.jpg"));
    ASSERT_TRUE(img) << img.status().message();
    ASSERT_EQ(img->pixels.size(), 512u * 512u * 3u);
    uint64_t h = 1469598103934665603ull;
    for (const uint8_t p : img->pixels) h = (h ^ p) * 1099511628211ull;
    EXPECT_EQ(h, 0x3bad5a82f3371aecull) << std::hex << h;
}

// The astronaut photo saved as WebP and AVIF (tests/data/photos/make_photos.py) decodes natively
// to the JPEG's pixels within the codecs' loss; the browser build names the format instead.
TEST(Image, WebPAndAvifPhotos) {
    auto jpeg = load_image(test::source_path("tests/data/astronaut.jpg"));
    ASSERT_TRUE(jpeg);
    for (const char* format : {"WebP", "AVIF"}) {
        const std::string ext = format == std::string("WebP") ? "webp" : "avif";
        const auto bytes = test::read_file(test::source_path("tests/data/photos/astronaut." + ext));
        auto img = decode_image(bytes, "astronaut." + ext);
        const bool here = ext == "webp" ? test::kHaveWebp : test::kHaveAvif;
        if (!here) {
            ASSERT_FALSE(img);
            EXPECT_EQ(img.status().message().find("image 'astronaut." + ext + "': " + format +
                                                  " is not decodable here"),
                      0u)
                << img.status().message();
            EXPECT_EQ(img.status().code(), ErrorCode::kUnsupported);
            continue;
        }
        ASSERT_TRUE(img) << img.status().message();
        EXPECT_EQ(img->width, 512);
        EXPECT_EQ(img->height, 512);
        EXPECT_EQ(img->channels, 3);
        const double d = mean_abs_diff(*img, *jpeg);
        EXPECT_LT(d, 4.0) << format << " differs from the JPEG by " << d << " levels on average";
        auto info = probe_image(bytes, "x");
        ASSERT_TRUE(info);
        EXPECT_EQ(info->format, format);
    }
}

TEST(Image, AnimatedWebPGivesItsFirstFrame) {
    if (!test::kHaveWebp)
        GTEST_SKIP() << "no WebP decoder in this build (WebPAndAvifPhotos checks its error)";
    auto img =
        load_image(test::source_path("fuzz/corpus/image/anim_red_blue8x6.webp"));  // red, then blue
    ASSERT_TRUE(img) << img.status().message();
    EXPECT_EQ(img->width, 8);
    EXPECT_EQ(img->height, 6);
    for (size_t p = 0; p < 8 * 6; ++p) {
        EXPECT_EQ(img->pixels[p * 3], 255);
        EXPECT_EQ(img->pixels[p * 3 + 2], 0);
    }
    auto lossless = load_image(test::source_path("fuzz/corpus/image/rgba8x8_lossless.webp"));
    ASSERT_TRUE(lossless) << lossless.status().message();
    EXPECT_EQ(lossless->channels, 3) << "alpha is dropped, as for PNG";
}

// Formats nothing here decodes are recognised by their first bytes and named.
TEST(Image, UndecodableFormatsAreNamed) {
    const std::pair<std::string_view, std::string_view> files[] = {
        {std::string_view("\0\0\0\x18"
                          "ftypheic\0\0\0\0mif1heic",
                          24),
         "HEIC/HEIF is not a format cnnlens decodes"},
        {std::string_view("\0\0\0\x14"
                          "ftypmif1\0\0\0\0heix",
                          20),
         "HEIC/HEIF is not a format"},
        {std::string_view("\0\0\0\x18"
                          "ftypcrx \0\0\0\0crx isom",
                          24),
         "Canon raw (CR3) is not a format"},
        {std::string_view("MM\0*\0\0\0\x08\0\0", 10),
         "TIFF (or a camera raw file built on TIFF) is not a format"},
        {std::string_view("II*\0\x08\0\0\0\0\0", 10),
         "TIFF (or a camera raw file built on TIFF) is not a format"},
        {std::string_view("\xFF\x0A\xFA\x1F", 4), "JPEG XL is not a format"},
        {std::string_view("\0\0\0\x0CJXL \r\n\x87\n\0\0", 14), "JPEG XL is not a format"},
        {std::string_view("\0\0\0\x0CjP  \r\n\x87\n\0\0", 14), "JPEG 2000 is not a format"},
        {std::string_view("\x76\x2F\x31\x01\x02\0\0\0", 8), "OpenEXR is not a format"},
        {"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n", "Radiance HDR is not a format"},
        {std::string_view("qoif\0\0\0\x10\0\0\0\x10\x03\x00", 14), "QOI is not a format"},
    };
    for (auto [bytes, expect] : files) {
        auto r = decode_bytes(bytes, "photo.x");
        ASSERT_FALSE(r) << expect;
        EXPECT_EQ(r.status().code(), ErrorCode::kUnsupported) << r.status().message();
        EXPECT_EQ(r.status().message().find("image 'photo.x': " + std::string(expect)), 0u)
            << r.status().message();
        EXPECT_NE(r.status().message().find("this build reads PNG, JPEG, GIF, BMP, PSD, PNM"),
                  std::string::npos)
            << r.status().message();
    }
    // An AVIF's brands come before HEIF's generic mif1: the file is AVIF, not HEIC.
    auto avif = decode_bytes(std::string_view("\0\0\0\x1C"
                                              "ftypavif\0\0\0\0avifmif1miaf",
                                              28),
                             "a.avif");
    ASSERT_FALSE(avif);
    EXPECT_EQ(avif.status().message().find("HEIC"), std::string::npos) << avif.status().message();
    EXPECT_NE(avif.status().message().find("AVIF"), std::string::npos) << avif.status().message();
}

// Every size and offset a header declares is checked in 64 bits: a PNG chunk length near 2^32
// once wrapped wasm32's 32-bit position back to where it was, and the check never ended.
TEST(Image, ChunkLengthsNearTwoToThe32AreErrors) {
    std::string png("\x89PNG\r\n\x1a\n\xFF\xFF\xFF\xF4IHDR\0\0\0\x01\0\0\0\x01", 24);  // 1x1 pixels
    png += std::string(40, '\0');
    auto r = decode_bytes(png, "wrap.png");
    ASSERT_FALSE(r);
    EXPECT_NE(r.status().message().find("wrap.png"), std::string::npos);
}

}  // namespace
}  // namespace cnnlens
