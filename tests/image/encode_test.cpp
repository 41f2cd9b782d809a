// PNG and .npy round trips and errors.
#include "core/image/encode.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/image/render.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

std::string temp_path(const std::string& name) {
    return ::testing::TempDir() + "cnnlens_render_" + name;
}

TEST(Png, RoundTripsThroughDecodeImage) {
    auto face = load_image(test::source_path("tests/data/astronaut_face.png"));
    ASSERT_TRUE(face);
    for (const Image& img : {*face, to_rgba(*face)}) {
        const std::vector<uint8_t> png = encode_png(img);
        auto back = decode_image(png, "encoded.png");
        ASSERT_TRUE(back) << back.status().message();
        EXPECT_EQ(back->width, img.width);
        EXPECT_EQ(back->height, img.height);
        ASSERT_EQ(back->channels, 3);  // decode_image drops alpha
        const size_t n = static_cast<size_t>(img.width) * img.height;
        for (size_t p = 0; p < n; ++p)
            for (size_t k = 0; k < 3; ++k)
                ASSERT_EQ(back->pixels[p * 3 + k],
                          img.pixels[p * static_cast<size_t>(img.channels) + k]);
    }
    const std::string path = temp_path("face.png");
    ASSERT_TRUE(write_png(path, *face));
    auto again = load_image(path);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->pixels, face->pixels);
    std::remove(path.c_str());
}

TEST(Png, WriteErrorsNameThePath) {
    Image img;
    img.width = 1;
    img.height = 1;
    img.channels = 1;
    img.pixels = {0};
    const Status s = write_png("/no/such/folder/out.png", img);
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("/no/such/folder/out.png"), std::string::npos);
    EXPECT_FALSE(write_png("empty.png", Image{}));
}

TEST(Npy, HeaderIsNumpyV1AndDataLittleEndian) {
    Tensor t(Shape{2, 3});
    for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i) - 1.5f;
    const std::vector<uint8_t> b = encode_npy(t);
    ASSERT_GE(b.size(), 10u);
    EXPECT_EQ(b[0], 0x93);
    EXPECT_EQ(std::string(b.begin() + 1, b.begin() + 6), "NUMPY");
    EXPECT_EQ(b[6], 1);
    EXPECT_EQ(b[7], 0);
    const size_t header_len = b[8] | (size_t{b[9]} << 8);
    EXPECT_EQ((10 + header_len) % 64, 0u);
    const std::string header(b.begin() + 10, b.begin() + 10 + static_cast<ptrdiff_t>(header_len));
    EXPECT_EQ(header.back(), '\n');
    EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u)
        << header;
    ASSERT_EQ(b.size(), 10 + header_len + 6 * 4);
    const uint8_t* d = &b[10 + header_len];
    EXPECT_EQ(d[0] | (d[1] << 8) | (d[2] << 16) | (static_cast<uint32_t>(d[3]) << 24),
              0xbfc00000u);  // -1.5f
    Tensor v(Shape{5});
    v.zero();
    const std::vector<uint8_t> vb = encode_npy(v);
    EXPECT_NE(std::string(vb.begin() + 10, vb.end()).find("'shape': (5,)"), std::string::npos);
}

TEST(Npy, RoundTripsThroughAFile) {
    Rng rng(5);
    const Tensor t = test::random_tensor(Shape{1, 7, 5, 1}, rng);
    const std::string path = temp_path("map.npy");
    ASSERT_TRUE(write_npy(path, t));
    auto back = decode_npy(test::read_file(path), path);
    ASSERT_TRUE(back) << back.status().message();
    EXPECT_EQ(back->shape(), t.shape());
    EXPECT_EQ(std::memcmp(back->data(), t.data(), sizeof(float) * static_cast<size_t>(t.size())),
              0);
    std::remove(path.c_str());
}

TEST(Npy, RejectsOtherDtypesAndTruncatedData) {
    Tensor t(Shape{4, 4}, 1.f);
    std::vector<uint8_t> b = encode_npy(t);
    std::vector<uint8_t> shortened(b.begin(), b.end() - 4);
    auto s = decode_npy(shortened, "short.npy");
    ASSERT_FALSE(s);
    EXPECT_NE(s.status().message().find("short.npy"), std::string::npos);
    std::string header(b.begin(), b.end());
    const size_t at = header.find("<f4");
    b[at + 1] = 'f';
    b[at + 2] = '8';
    auto f8 = decode_npy(b, "double.npy");
    ASSERT_FALSE(f8);
    EXPECT_NE(f8.status().message().find("'<f8'"), std::string::npos) << f8.status().message();
    const std::vector<uint8_t> junk = {1, 2, 3};
    EXPECT_FALSE(decode_npy(junk, "junk.npy"));
}

}  // namespace
}  // namespace cnnlens
