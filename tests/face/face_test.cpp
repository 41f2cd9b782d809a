// Face detection on a real photo: BlazeFace finds the astronaut's face where the hand-picked
// crop is, the crop classifies as happy, and bad inputs are errors. Aligned crops: the astronaut
// turned by up to 30 degrees is classified as upright, a map drawn back on the turned photo
// lands on the face, and the agreement with TF.js. A group photo lists every face.
#include "core/face/face.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>

#include "core/explain/probe.h"
#include "core/image/render.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

constexpr float kDeg = std::numbers::pi_v<float> / 180.f;
// The astronaut's face centre in tests/data/astronaut.jpg (the oracle crop rows 70..186, cols
// 170..286): photos are turned about it so the face stays inside.
constexpr double kFaceX = 228, kFaceY = 128;

FaceDetector& detector() {
    static FaceDetector d = [] {
        auto r = FaceDetector::load(test::source_path("models/blazeface"), *select_kernel_set());
        EXPECT_TRUE(r.has_value()) << r.status().message();
        return std::move(r).value();
    }();
    return d;
}

const Image& astronaut() {
    static const Image img = [] {
        auto r = load_image(test::source_path("tests/data/astronaut.jpg"));
        EXPECT_TRUE(r.has_value()) << r.status().message();
        return r ? std::move(r).value() : Image();
    }();
    return img;
}

// The strongest face of `img` (a test failure when there is none).
FaceBox strongest_face(const Image& img) {
    auto faces = detector().detect(img);
    EXPECT_TRUE(faces && !faces->empty());
    return faces && !faces->empty() ? faces->front() : FaceBox{};
}

struct Scores {
    std::vector<float> logits, probs;
};
Scores classify(const Image& crop) {
    static GraphProbe probe(test::default_model(), *select_kernel_set());
    auto r = probe.run(image_to_input(crop, test::default_model().spec.input), ProbeRequest{});
    EXPECT_TRUE(r.has_value());
    if (!r) return {};
    return {{r->logits.data(), r->logits.data() + r->logits.size()},
            {r->probs.data(), r->probs.data() + r->probs.size()}};
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && !a.empty()
               ? test::max_abs_diff(a.data(), b.data(), static_cast<int64_t>(a.size()))
               : 1e9;
}

CropOptions unaligned() {
    CropOptions o;
    o.align = false;
    return o;
}

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
    truth.x = 170;
    truth.y = 70;
    truth.width = 116;
    truth.height = 116;
    float cx, cy, cs;
    face_crop_box(f, 1.0f, cx, cy, cs);
    FaceBox square;
    square.x = cx;
    square.y = cy;
    square.width = square.height = cs;
    EXPECT_GT(box_iou(square, truth), 0.5f)
        << "box " << f.x << "," << f.y << " " << f.width << "x" << f.height;
    EXPECT_EQ(faces->size(), 1u) << "one person in the photo";

    auto model = load_model(test::source_path("models/fer2013-mini-xception"));
    ASSERT_TRUE(model);
    GraphProbe probe(*model, *select_kernel_set());
    Image crop = face_crop(*img, f, unaligned());
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
    tall.width = img->width;
    tall.height = img->height + 300;
    tall.channels = img->channels;
    tall.pixels.assign(static_cast<size_t>(tall.width) * tall.height * tall.channels, 40);
    std::copy(img->pixels.begin(), img->pixels.end(),
              tall.pixels.begin() + static_cast<ptrdiff_t>(100) * tall.width * tall.channels);
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
    noise.width = 200;
    noise.height = 150;
    noise.channels = 3;
    Rng rng(3);
    for (int i = 0; i < 200 * 150 * 3; ++i)
        noise.pixels.push_back(static_cast<uint8_t>(rng.below(256)));
    auto f = det->detect(noise);
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->empty());
    EXPECT_FALSE(det->detect(Image{}));
    EXPECT_FALSE(
        FaceDetector::load(test::source_path("models/no-such-folder"), reference_kernels()));
}

TEST(Face, ACropTurnsByTheEyeAnglePastTheThreshold) {
    FaceBox f;
    f.x = 100, f.y = 50, f.width = 80, f.height = 80;
    // Eyes 30 px apart, the left one (on the photo's right) 10 px lower: atan(1/3) = 18.4 deg.
    f.keypoints = {{125, 80}, {155, 90}, {140, 100}, {140, 115}, {105, 85}, {175, 95}};
    EXPECT_NEAR(eye_angle(f), std::atan2(10.f, 30.f), 1e-6);
    const CropFrame turned = face_crop_frame(f);
    EXPECT_NEAR(turned.angle_degrees(), 18.43, 0.01);
    EXPECT_FLOAT_EQ(turned.cx, 140);
    EXPECT_FLOAT_EQ(turned.cy, 90);
    // 2.3 eye distances (72.7 px) are less than the box: the box's side, times the scale.
    EXPECT_FLOAT_EQ(turned.width, 100);
    EXPECT_FLOAT_EQ(turned.height, 100);
    const CropFrame upright = face_crop_frame(f, unaligned());
    EXPECT_TRUE(upright.upright());
    EXPECT_FLOAT_EQ(upright.width, 100);
    // A small box on wide-set eyes: the eye distance sets the side of a turned crop.
    FaceBox small = f;
    small.width = small.height = 60;
    EXPECT_NEAR(face_crop_frame(small).width, 1.25f * 2.3f * std::hypot(30.f, 10.f), 1e-3);
    EXPECT_FLOAT_EQ(face_crop_frame(small, unaligned()).width, 75);
    // Under the threshold the crop stays upright (and is the unaligned crop, pixel for pixel).
    FaceBox level = f;
    level.keypoints[1].second = 81;  // 1.9 degrees
    EXPECT_TRUE(face_crop_frame(level).upright());
    CropOptions strict;
    strict.min_angle_degrees = 1.f;
    EXPECT_FALSE(face_crop_frame(level, strict).upright());
    // No keypoints (a hand-made box): upright.
    FaceBox bare = f;
    bare.keypoints.clear();
    EXPECT_EQ(eye_angle(bare), 0.f);
    EXPECT_TRUE(face_crop_frame(bare).upright());
    bare.keypoints = {{NAN, 1}, {2, 3}};
    EXPECT_EQ(eye_angle(bare), 0.f);
}

// Pearson correlation of two crops as the model sees them (64x64 gray inputs).
double input_correlation(const Image& a, const Image& b) {
    const InputSpec& in = test::default_model().spec.input;
    const Tensor x = image_to_input(a, in), y = image_to_input(b, in);
    double mx = 0, my = 0;
    for (int64_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
    mx /= static_cast<double>(x.size()), my /= static_cast<double>(y.size());
    double sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < x.size(); ++i)
        sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx),
            syy += (y[i] - my) * (y[i] - my);
    return sxy / std::sqrt(sxx * syy);
}

// The check: the astronaut turned by +-10, +-20 and +-30 degrees; the aligned crop's
// probabilities stay within 0.05 of the upright face's, and the aligned crop looks like the
// upright one (its pixels correlate), where the unaligned crop keeps the tilt.
TEST(Face, ATiltedFaceIsClassifiedAsUpright) {
    const Image& img = astronaut();
    const FaceBox up = strongest_face(img);
    const Image upright_crop = face_crop(img, up);
    const Scores upright = classify(upright_crop);
    ASSERT_EQ(upright.probs.size(), 7u);
    EXPECT_GT(upright.probs[3], 0.99f) << "happy";
    for (const double deg : {10.0, -10.0, 20.0, -20.0, 30.0, -30.0}) {
        SCOPED_TRACE("turned by " + std::to_string(deg) + " degrees");
        const Image turned = test::rotate_image(img, deg, kFaceX, kFaceY);
        const FaceBox f = strongest_face(turned);
        const CropFrame frame = face_crop_frame(f);
        EXPECT_NEAR(frame.angle_degrees(), deg + eye_angle(up) / kDeg, 8.0)
            << "BlazeFace's eye points";
        const Image aligned = crop_frame(turned, frame);
        const Image plain = face_crop(turned, f, unaligned());
        const Scores a = classify(aligned), u = classify(plain);
        EXPECT_LT(max_diff(a.probs, upright.probs), 0.05);
        const double ra = input_correlation(aligned, upright_crop),
                     ru = input_correlation(plain, upright_crop);
        // BlazeFace's box moves by a few pixels as the head turns, so even the aligned crop is not
        // the upright one pixel for pixel (0.65..0.90 here); the unaligned one is much less alike.
        EXPECT_GT(ra, 0.6) << "the aligned crop looks like the upright one";
        EXPECT_GT(ra, ru + 0.1) << "the unaligned crop keeps the tilt";
        std::printf(
            "  %+3.0f deg: eye angle %+6.2f, side %5.1f (box %5.1f); correlation with the upright "
            "crop: aligned %.3f, "
            "unaligned %.3f; max|dp| to upright: aligned %.5f, unaligned %.5f; max|dlogit|: "
            "aligned %.3f, unaligned %.3f\n",
            deg, frame.angle_degrees(), frame.width, f.width, ra, ru,
            max_diff(a.probs, upright.probs), max_diff(u.probs, upright.probs),
            max_diff(a.logits, upright.logits), max_diff(u.logits, upright.logits));
    }
}

// A map made on the aligned crop of a turned photo and drawn back through the frame lands on
// the face: blobs on the eyes the detector finds around the crop (in a frame twice its size, as
// BlazeFace wants some context) come back where it finds them in the photo.
TEST(Face, AMapDrawnBackOnATurnedPhotoLandsOnTheEyes) {
    const Image turned = test::rotate_image(astronaut(), 25, kFaceX, kFaceY);
    const FaceBox f = strongest_face(turned);
    const CropFrame frame = face_crop_frame(f);
    ASSERT_FALSE(frame.upright());
    CropFrame around = frame;
    around.width = around.height = 2 * frame.width;
    const FaceBox in_around = strongest_face(crop_frame(turned, around));
    ASSERT_GE(in_around.keypoints.size(), 2u);
    // A 64x64 map (the model's input size) over the crop, with a blob on each eye.
    Tensor map(Shape{64, 64});
    const float k = 64.f / frame.width, shift = (around.width - frame.width) / 2;
    for (int y = 0; y < 64; ++y)
        for (int x = 0; x < 64; ++x) {
            float v = 0;
            for (int e = 0; e < 2; ++e) {
                const float ex = (in_around.keypoints[e].first - shift) * k,
                            ey = (in_around.keypoints[e].second - shift) * k;
                v += std::exp(-(std::pow(x + 0.5f - ex, 2.f) + std::pow(y + 0.5f - ey, 2.f)) / 4.f);
            }
            map[y * 64 + x] = std::min(v, 1.f);
        }
    Image black = turned;
    std::fill(black.pixels.begin(), black.pixels.end(), 0);
    const Image back = overlay_in_frame(black, map, frame, Colormap::kGray, 1.f);
    double sx = 0, sy = 0, s = 0;
    for (int y = 0; y < back.height; ++y)
        for (int x = 0; x < back.width; ++x) {
            const double v = back.pixels[(static_cast<size_t>(y) * back.width + x) * 4];
            if (v < 128) continue;
            sx += v * (x + 0.5), sy += v * (y + 0.5), s += v;
        }
    ASSERT_GT(s, 0);
    const double mid_x = (f.keypoints[0].first + f.keypoints[1].first) / 2,
                 mid_y = (f.keypoints[0].second + f.keypoints[1].second) / 2;
    EXPECT_NEAR(sx / s, mid_x, 4.0);
    EXPECT_NEAR(sy / s, mid_y, 4.0);
    // The unturned way (the map drawn upright over the detector's square) misses by the tilt.
    const Image wrong =
        overlay_in_frame(black, map, face_crop_frame(f, unaligned()), Colormap::kGray, 1.f);
    double wx = 0, wy = 0, w = 0;
    for (int y = 0; y < wrong.height; ++y)
        for (int x = 0; x < wrong.width; ++x) {
            const double v = wrong.pixels[(static_cast<size_t>(y) * wrong.width + x) * 4];
            if (v >= 128) wx += v * (x + 0.5), wy += v * (y + 0.5), w += v;
        }
    ASSERT_GT(w, 0);
    EXPECT_GT(std::hypot(wx / w - mid_x, wy / w - mid_y), 6.0);
}

// How far the face pipeline is from TF.js on the astronaut: TF.js's logits and probabilities for
// the hand-picked upright crop (the oracle's case 0) against ours on the detected face, upright
// and turned, aligned and not. Upright, alignment changes nothing (the eyes are 1.5 degrees off
// level, under the threshold); turned, the aligned crop stays near the upright answer.
TEST(Face, AlignmentAgreementWithTfjs) {
    const char* dir = std::getenv("CNNLENS_ORACLE_DIR");
    if (!dir || !*dir)
        GTEST_SKIP()
            << "CNNLENS_ORACLE_DIR is not set (node tests/oracle/tfjs_oracle.mjs --out DIR)";
    const std::vector<float> logits = test::read_f32(std::string(dir) + "/logits.f32"),
                             probs = test::read_f32(std::string(dir) + "/probs.f32");
    ASSERT_GE(logits.size(), 7u);
    ASSERT_GE(probs.size(), 7u);
    const std::vector<float> tf_logits(logits.begin(), logits.begin() + 7),
        tf_probs(probs.begin(), probs.begin() + 7);
    double worst[2] = {0, 0};
    std::printf(
        "  TF.js (upright hand crop) vs cnnlens on the detected face: max|dlogit| / max|dp|\n");
    for (const double deg : {0.0, 10.0, -10.0, 20.0, -20.0, 30.0, -30.0}) {
        const Image img =
            deg == 0 ? astronaut() : test::rotate_image(astronaut(), deg, kFaceX, kFaceY);
        const FaceBox f = strongest_face(img);
        const Scores a = classify(face_crop(img, f)), u = classify(face_crop(img, f, unaligned()));
        std::printf("  %+3.0f deg  aligned %.3f / %.5f   unaligned %.3f / %.5f\n", deg,
                    max_diff(a.logits, tf_logits), max_diff(a.probs, tf_probs),
                    max_diff(u.logits, tf_logits), max_diff(u.probs, tf_probs));
        if (deg == 0) {
            EXPECT_EQ(a.logits, u.logits) << "upright: the aligned crop is the unaligned one";
            EXPECT_LT(max_diff(a.probs, tf_probs), 1e-3);
            // Without the threshold the upright face would be turned by its 1.5 degrees.
            CropOptions always;
            always.min_angle_degrees = 0;
            const Scores t = classify(face_crop(img, f, always));
            std::printf("  %+3.0f deg, turned by %.2f deg (no threshold): %.3f / %.5f\n", deg,
                        face_crop_frame(f, always).angle_degrees(), max_diff(t.logits, tf_logits),
                        max_diff(t.probs, tf_probs));
        } else {
            worst[0] = std::max(worst[0], max_diff(u.logits, tf_logits));
            worst[1] = std::max(worst[1], max_diff(a.logits, tf_logits));
        }
    }
    std::printf("  worst turned: aligned %.3f, unaligned %.3f\n", worst[1], worst[0]);
    EXPECT_LT(worst[1], worst[0]);
}

TEST(Face, FindFacesTakesAFaceCropWholeAndAPhotoByItsFaces) {
    auto crop = load_image(test::source_path("tests/data/astronaut_face.png"));
    ASSERT_TRUE(crop);
    auto auto_crop = find_faces(detector(), *crop);
    ASSERT_TRUE(auto_crop);
    ASSERT_EQ(auto_crop->size(), 1u);
    EXPECT_TRUE(auto_crop->front().whole_photo) << "one face fills the picture: it is a face crop";
    EXPECT_EQ(auto_crop->front().crop.pixels, crop->pixels);
    FindFacesOptions detect;
    detect.source = FaceSource::kDetect;
    auto detected = find_faces(detector(), *crop, detect);
    ASSERT_TRUE(detected);
    ASSERT_EQ(detected->size(), 1u);
    EXPECT_FALSE(detected->front().whole_photo);

    auto photo = find_faces(detector(), astronaut());
    ASSERT_TRUE(photo);
    ASSERT_EQ(photo->size(), 1u);
    EXPECT_FALSE(photo->front().whole_photo) << "a 512x512 photo whose face is small";
    FindFacesOptions whole;
    whole.source = FaceSource::kWhole;
    auto w = find_faces(detector(), astronaut(), whole);
    ASSERT_TRUE(w);
    ASSERT_EQ(w->size(), 1u);
    EXPECT_TRUE(w->front().whole_photo);
    EXPECT_FLOAT_EQ(w->front().frame.width, 512);

    EXPECT_EQ(face_source_name(*face_source_from_name("detect")), "detect");
    auto bad = face_source_from_name("some");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.status().message().find("'some'"), std::string::npos);
}

// A group photo of 20 faces: the detector finds most (BlazeFace misses a few of these blurry
// 48-pixel LFW faces), each in its own tile; max_faces caps the list.
TEST(Face, AGroupPhotoListsItsFaces) {
    const Image g = test::group_photo();
    ASSERT_EQ(g.width, 1008);
    auto faces = find_faces(detector(), g);
    ASSERT_TRUE(faces);
    std::printf("  group photo: %zu of 20 faces found\n", faces->size());
    EXPECT_GE(faces->size(), 15u);
    std::vector<int> tiles;
    for (const FoundFace& f : *faces) {
        const int col = static_cast<int>(f.frame.cx / 192),
                  row = static_cast<int>(f.frame.cy / 192);
        tiles.push_back(row * 5 + col);
        EXPECT_FALSE(f.whole_photo);
    }
    std::sort(tiles.begin(), tiles.end());
    EXPECT_EQ(std::unique(tiles.begin(), tiles.end()), tiles.end()) << "one face per tile";
    DetectOptions few;
    few.max_faces = 5;
    auto five = detector().detect(g, few);
    ASSERT_TRUE(five);
    EXPECT_EQ(five->size(), 5u);
}

}  // namespace
}  // namespace cnnlens
