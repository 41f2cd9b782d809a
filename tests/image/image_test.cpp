// Image decoding, limits checked from the header, cropping, and exact area resampling.
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
    auto t = decode_image({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, "notes.png");
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
    std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0, 0, 0, 0, 0};
    auto r = decode_image(png, "huge.png");
    ASSERT_FALSE(r);
    EXPECT_NE(r.status().message().find("100000x100000"), std::string::npos) << r.status().message();
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
    img.width = 4; img.height = 3; img.channels = 1;
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
    img.width = 2; img.height = 2; img.channels = 3;
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

}  // namespace
}  // namespace cnnlens
