// Face detection on a real photo: BlazeFace finds the astronaut's face where the hand-picked
// crop is, the crop classifies as happy, and bad inputs are errors.
#include "core/face/face.h"

#include <gtest/gtest.h>

#include "core/explain/probe.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

TEST(Face, FindsTheAstronautsFace) {
    auto det = FaceDetector::load(test::source_path("models/blazeface"), *select_kernel_set());
    ASSERT_TRUE(det) << det.status().message();
    auto img = load_image(test::source_path("tests/data/astronaut.jpg"));
    ASSERT_TRUE(img) << img.status().message();
    auto faces = det->detect(*img);
    ASSERT_TRUE(faces) << faces.status().message();
    ASSERT_GE(faces->size(), 1u);
    const FaceBox& f = faces->front();
    EXPECT_GT(f.score, 0.8f);
    // The oracle crop (rows 70..186, cols 170..286) is a face from eyebrows to chin.
    FaceBox truth;
    truth.x = 170; truth.y = 70; truth.width = 116; truth.height = 116;
    float cx, cy, cs;
    face_crop_box(f, 1.0f, cx, cy, cs);
    FaceBox square;
    square.x = cx; square.y = cy; square.width = square.height = cs;
    EXPECT_GT(box_iou(square, truth), 0.5f) << "box " << f.x << "," << f.y << " " << f.width << "x" << f.height;
    EXPECT_EQ(faces->size(), 1u) << "one person in the photo";

    auto model = load_model(test::source_path("models/fer2013-mini-xception"));
    ASSERT_TRUE(model);
    GraphProbe probe(*model, *select_kernel_set());
    Image crop = face_crop(*img, f);
    auto r = probe.run(image_to_input(crop, model->spec.input), ProbeRequest{});
    ASSERT_TRUE(r);
    EXPECT_EQ(argmax_rows(r->probs)[0], 3) << "the detected face must come out happy";
}

TEST(Face, PaddedAndTallPhotosMapBackToImageCoordinates) {
    auto det = FaceDetector::load(test::source_path("models/blazeface"), *select_kernel_set());
    ASSERT_TRUE(det);
    auto img = load_image(test::source_path("tests/data/astronaut.jpg"));
    ASSERT_TRUE(img);
    // Put the photo into a taller canvas, 100 px down: the face box must move by 100 px.
    Image tall;
    tall.width = img->width; tall.height = img->height + 300; tall.channels = img->channels;
    tall.pixels.assign(static_cast<size_t>(tall.width) * tall.height * tall.channels, 40);
    std::copy(img->pixels.begin(), img->pixels.end(), tall.pixels.begin() + static_cast<ptrdiff_t>(100) * tall.width * tall.channels);
    auto a = det->detect(*img);
    auto b = det->detect(tall);
    ASSERT_TRUE(a && b);
    ASSERT_FALSE(a->empty());
    ASSERT_FALSE(b->empty());
    EXPECT_NEAR(b->front().y - a->front().y, 100.f, 12.f);
    EXPECT_NEAR(b->front().x, a->front().x, 12.f);
}

TEST(Face, NoFaceInNoise) {
    auto det = FaceDetector::load(test::source_path("models/blazeface"), *select_kernel_set());
    ASSERT_TRUE(det);
    Image noise;
    noise.width = 200; noise.height = 150; noise.channels = 3;
    Rng rng(3);
    for (int i = 0; i < 200 * 150 * 3; ++i) noise.pixels.push_back(static_cast<uint8_t>(rng.below(256)));
    auto f = det->detect(noise);
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->empty());
    EXPECT_FALSE(det->detect(Image{}));
    EXPECT_FALSE(FaceDetector::load(test::source_path("models/no-such-folder"), reference_kernels()));
}

}  // namespace
}  // namespace cnnlens
