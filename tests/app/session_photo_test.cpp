// wasm/app/session.cpp's photo path, natively: pixels handed over as the page's browser decoder
// gives them (Session::open_pixels), photos larger than the preview (one downscale, detection on
// it, crops from the full photo), the size limits, and downscale_to itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/base/rng.h"
#include "core/base/thread_pool.h"
#include "tests/test_util.h"
#include "wasm/app/session.h"

namespace cnnlens::app {
namespace {

class SessionPhotoTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(
            s.load_models(directory_source(test::source_path("models/fer2013-mini-xception")),
                          directory_source(test::source_path("models/blazeface"))));
        bytes = test::read_file(test::source_path("tests/data/astronaut.jpg"));
        auto img = decode_image(bytes, "astronaut.jpg");
        ASSERT_TRUE(img);
        photo = std::move(*img);
    }
    Session s;
    std::vector<unsigned char> bytes;
    Image photo;  // astronaut.jpg decoded: 512x512 RGB
};

std::vector<float> box_of(const Face& f) { return {f.box.x, f.box.y, f.box.width, f.box.height}; }

// The page's browser decoder hands RGBA over; alpha is dropped and the faces are the file's.
TEST_F(SessionPhotoTest, RgbaPixelsGiveTheFacesOfTheFile) {
    ASSERT_TRUE(s.open_photo(bytes, "astronaut.jpg"));
    ASSERT_EQ(s.faces().size(), 1u);
    const std::vector<float> probs = s.faces()[0].probs, box = box_of(s.faces()[0]);
    std::vector<std::string> stages;
    for (const auto& [stage, ms] : s.photo_timings()) stages.push_back(stage);
    EXPECT_EQ(stages, (std::vector<std::string>{"decode", "preview", "detect", "classify"}));
    // The model's forward time the methods' estimates use: measured by the classification, at
    // most the classify stage's time per face.
    const double forward_ms = s.forward_ms_per_image();
    EXPECT_GT(forward_ms, 0);
    EXPECT_LE(forward_ms, s.photo_timings().back().second);

    Image rgba{photo.width, photo.height, 4, {}};
    for (size_t i = 0; i < photo.pixels.size(); i += 3)
        rgba.pixels.insert(rgba.pixels.end(), {photo.pixels[i], photo.pixels[i + 1],
                                               photo.pixels[i + 2], static_cast<uint8_t>(i % 251)});
    ASSERT_TRUE(s.open_pixels(std::move(rgba), "astronaut.webp"));
    EXPECT_EQ(s.photo_name(), "astronaut.webp");
    EXPECT_EQ(s.photo_version(), 2);
    EXPECT_EQ(s.photo().channels, 3);
    EXPECT_EQ(s.photo().pixels, photo.pixels);
    ASSERT_EQ(s.faces().size(), 1u);
    EXPECT_EQ(s.faces()[0].probs, probs);
    EXPECT_EQ(box_of(s.faces()[0]), box);
    EXPECT_EQ(s.photo_timings().front().first, "rgb");
}

// The astronaut enlarged k times (nearest).
Image enlarged(const Image& photo, int k) {
    Image big{photo.width * k, photo.height * k, 3,
              std::vector<uint8_t>(static_cast<size_t>(photo.width * k) * photo.height * k * 3)};
    for (int y = 0; y < big.height; ++y)
        for (int x = 0; x < big.width; ++x)
            std::copy_n(&photo.pixels[(static_cast<size_t>(y / k) * photo.width + x / k) * 3], 3,
                        &big.pixels[(static_cast<size_t>(y) * big.width + x) * 3]);
    return big;
}

// A photo larger than kMaxDisplaySide: kept whole, shown and searched through one shown copy
// (shown_copy), its face crop cut from the full photo at most kMaxCropSide a side; the
// export's 2048-pixel preview is made when first asked for. The astronaut enlarged 5x finds
// the same face, 5x larger, classified alike.
TEST_F(SessionPhotoTest, ALargePhotoIsSearchedThroughItsShownCopy) {
    ASSERT_TRUE(s.open_photo(bytes, "astronaut.jpg"));
    const std::vector<float> probs = s.faces()[0].probs, box = box_of(s.faces()[0]);
    const int top = s.faces()[0].top;
    constexpr int k = 5;
    ASSERT_TRUE(s.open_pixels(enlarged(photo, k), "big.jpg"));
    EXPECT_EQ(s.photo().width, 2560);
    EXPECT_EQ(s.photo_shown().width, 853);  // 2560 in blocks of 3
    EXPECT_EQ(s.photo_shown().height, 853);
    EXPECT_EQ(s.photo_preview().width, Session::kMaxDisplaySide);
    EXPECT_EQ(s.photo_preview().height, Session::kMaxDisplaySide);
    ASSERT_EQ(s.faces().size(), 1u);
    const Face& f = s.faces()[0];
    for (int i = 0; i < 4; ++i)
        EXPECT_NEAR(box_of(f)[static_cast<size_t>(i)] / k, box[static_cast<size_t>(i)], 2.0) << i;
    EXPECT_LE(std::max(f.crop.width, f.crop.height), Session::kMaxCropSide);
    EXPECT_GT(f.crop.width, 256);  // from the full photo: the face is about 900 pixels there
    EXPECT_EQ(f.top, top);
    for (size_t i = 0; i < probs.size(); ++i)
        EXPECT_NEAR(f.probs[i], probs[i], 0.02) << s.class_names()[i];
    // Switching alignment crops from the full photo the same way.
    ASSERT_TRUE(s.set_align_faces(!s.align_faces()));
    EXPECT_LE(std::max(s.faces()[0].crop.width, s.faces()[0].crop.height), Session::kMaxCropSide);
    EXPECT_GT(s.faces()[0].crop.width, 256);
}

// A photo up to kMaxDisplaySide is seen as the CLI sees it (faces found on the photo itself,
// crops at full size) and only its texture is smaller (2048 in blocks of 2).
TEST_F(SessionPhotoTest, APhotoUpTo2048IsSeenWholeAndOnlyShownSmaller) {
    const Image big = enlarged(photo, 4);
    ASSERT_TRUE(s.open_pixels(big, "2048.png"));
    EXPECT_EQ(s.photo_shown().width, Session::kMaxShownSide);
    EXPECT_EQ(&s.photo_preview(), &s.photo());
    ASSERT_EQ(s.faces().size(), 1u);
    const Face& f = s.faces()[0];
    EXPECT_EQ(f.crop.pixels, crop_frame(big, f.frame).pixels);
    EXPECT_GT(f.crop.width, Session::kMaxCropSide);
    ASSERT_TRUE(s.open_photo(bytes, "astronaut.jpg"));
    EXPECT_EQ(&s.photo_shown(), &s.photo());  // no copy of a photo that fits
}

// Pixels over the limits of core/base/limits.h, or not matching their size, are refused with
// the photo named; the previous photo and its faces stay.
TEST_F(SessionPhotoTest, PixelsOverTheLimitsAreRefusedAndThePhotoStays) {
    ASSERT_TRUE(s.open_photo(bytes, "astronaut.jpg"));
    EXPECT_TRUE(check_photo_size("x", 8000, 6000));
    Status st = check_photo_size("wide.webp", 40000, 2);
    EXPECT_EQ(st.code(), ErrorCode::kOutOfRange);
    EXPECT_NE(
        st.message().find("image 'wide.webp': 40000x2 pixels exceeds the limit of 32768 per side"),
        std::string::npos)
        << st.message();
    st = check_photo_size("huge.avif", 20000, 20000);
    EXPECT_NE(st.message().find("100 megapixels"), std::string::npos) << st.message();
    EXPECT_FALSE(check_photo_size("zero.webp", 0, 10));

    st = s.open_pixels(Image{40000, 2, 3, std::vector<uint8_t>(240000)}, "wide.webp");
    EXPECT_EQ(st.code(), ErrorCode::kOutOfRange) << st.message();
    st = s.open_pixels(Image{10, 10, 3, std::vector<uint8_t>(299)}, "short.webp");
    EXPECT_NE(st.message().find("short.webp"), std::string::npos) << st.message();
    EXPECT_FALSE(s.open_pixels(Image{10, 10, 2, std::vector<uint8_t>(200)}, "two.webp"));
    EXPECT_EQ(s.photo_name(), "astronaut.jpg");
    EXPECT_EQ(s.photo_version(), 1);
    EXPECT_EQ(s.faces().size(), 1u);
}

Image random_image(int w, int h, int c, uint64_t seed) {
    Rng rng(seed);
    Image img{w, h, c, std::vector<uint8_t>(static_cast<size_t>(w) * h * c)};
    for (uint8_t& p : img.pixels) p = static_cast<uint8_t>(rng.below(256));
    return img;
}

// downscale_to is resample()'s area average rounded to 8 bits (within one level: its sums are
// float, resample's double), whatever the thread count; no larger image is returned unchanged.
// shown_copy: k x k block means within kMaxShownSide, k the least that fits; none for a photo
// that fits already.
TEST(ShownCopy, IsTheBlockMeanWithinTheShownSide) {
    const Image img = random_image(2049, 1000, 3, 5);
    const Image shown = shown_copy(img);
    ASSERT_EQ(shown.width, 683);  // k = 3
    ASSERT_EQ(shown.height, 333);
    for (const int y : {0, 100, 332})
        for (const int x : {0, 400, 682}) {
            int sum = 0;
            for (int j = 0; j < 3; ++j)
                for (int i = 0; i < 3; ++i)
                    sum += img.pixels[(static_cast<size_t>(std::min(3 * y + j, 999)) * 2049 +
                                       static_cast<size_t>(3 * x + i)) *
                                          3 +
                                      1];
            EXPECT_EQ(shown.pixels[(static_cast<size_t>(y) * 683 + x) * 3 + 1], (sum + 4) / 9)
                << x << "," << y;
        }
    EXPECT_TRUE(shown_copy(random_image(1024, 700, 3, 6)).empty());
}

TEST(DownscaleTo, IsTheAreaAverageOnAnyThreadCount) {
    for (const int c : {1, 3, 4}) {
        const Image img = random_image(301, 177, c, static_cast<uint64_t>(c));
        set_pool_threads(1);
        const Image one = downscale_to(img, 64);
        set_pool_threads(std::min(2, max_pool_threads()));
        const Image two = downscale_to(img, 64);
        set_pool_threads(1);
        ASSERT_EQ(one.width, 64);
        ASSERT_EQ(one.height, 38);  // 177 * 64 / 301 = 37.6
        EXPECT_EQ(one.pixels, two.pixels);
        std::vector<float> src(img.pixels.begin(), img.pixels.end()), ref(one.pixels.size());
        resample(src.data(), img.width, img.height, c, ref.data(), one.width, one.height);
        for (size_t i = 0; i < ref.size(); ++i)
            ASSERT_NEAR(one.pixels[i], ref[i], 0.5f + 1e-3f) << "channels " << c << " at " << i;
    }
    const Image small = random_image(40, 30, 3, 9);
    EXPECT_EQ(downscale_to(small, 40).pixels, small.pixels);
}

}  // namespace
}  // namespace cnnlens::app
