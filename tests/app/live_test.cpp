// wasm/app/live.cpp, natively: the face tracker (identity, smoothing, dropping), the Live job on
// a moving face (tracked, classified, explained with a cheap method only), the CSV rows.
#include "wasm/app/live.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/test_util.h"
#include "wasm/app/session.h"

namespace cnnlens::app {
namespace {

FaceBox live_box(float x, float y, float side = 100) { return FaceBox{x, y, side, side, 0.9f, {}}; }

TEST(FaceTracker, KeepsTheIdWhileAFaceMovesAndGivesANewFaceANewId) {
    FaceTracker t;
    ASSERT_EQ(t.update({live_box(100, 100)}).size(), 1u);
    const int id = t.tracks()[0].id;
    for (int i = 1; i <= 5; ++i) {
        ASSERT_EQ(t.update({live_box(100 + 10.f * i, 100)}).size(), 1u);
        EXPECT_EQ(t.tracks()[0].id, id);
    }
    // The track has learned the motion: a prediction moves it on.
    const float x = t.tracks()[0].box.x;
    t.predict();
    EXPECT_GT(t.tracks()[0].box.x, x + 3);
    t.update({live_box(170, 100), live_box(400, 300)});
    ASSERT_EQ(t.tracks().size(), 2u);
    EXPECT_EQ(t.tracks()[0].id, id);
    EXPECT_NE(t.tracks()[1].id, id);
}

TEST(FaceTracker, AFaceThatMovedFarBetweenDetectionsKeepsItsId) {
    FaceTracker t;
    t.update({live_box(100, 100)});
    const int id = t.tracks()[0].id;
    // 80 pixels on a 100-pixel face: the boxes barely overlap (IoU 0.05), the centres are close.
    ASSERT_EQ(t.update({live_box(180, 110)}).size(), 1u);
    EXPECT_EQ(t.tracks()[0].id, id);
    // Two faces far apart stay two tracks.
    t.update({live_box(180, 110), live_box(600, 110)});
    EXPECT_EQ(t.tracks().size(), 2u);
}

TEST(FaceTracker, SmoothsJitterAndDropsAFaceMissedTooOften) {
    FaceTracker t;
    t.update({live_box(100, 100)});
    t.update({live_box(
        110, 100)});  // a 10-pixel jump of the detector moves the box only part of the way
    EXPECT_GT(t.tracks()[0].box.x, 100);
    EXPECT_LT(t.tracks()[0].box.x, 110);
    for (int i = 0; i < FaceTracker::kMaxMisses; ++i)
        EXPECT_EQ(t.update({}).size(), 1u) << "miss " << i + 1;
    EXPECT_TRUE(t.update({}).empty());
}

// The astronaut photo shifted right by `dx` pixels (edge repeated), as RGBA, as the page hands
// camera frames over.
Image live_shifted_rgba(const Image& photo, int dx) {
    Image out{photo.width, photo.height, 4, {}};
    out.pixels.resize(static_cast<size_t>(photo.width) * photo.height * 4);
    for (int y = 0; y < photo.height; ++y)
        for (int x = 0; x < photo.width; ++x) {
            const int sx = std::clamp(x - dx, 0, photo.width - 1);
            const uint8_t* s = &photo.pixels[(static_cast<size_t>(y) * photo.width + sx) * 3];
            uint8_t* d = &out.pixels[(static_cast<size_t>(y) * photo.width + x) * 4];
            d[0] = s[0], d[1] = s[1], d[2] = s[2], d[3] = 255;
        }
    return out;
}

class LiveModeTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(
            s.load_models(directory_source(test::source_path("models/fer2013-mini-xception")),
                          directory_source(test::source_path("models/blazeface"))));
        auto img = load_image(test::source_path("tests/data/astronaut.jpg"));
        ASSERT_TRUE(img);
        photo = std::move(*img);
        s.live().reset();
        s.live().state = LiveState::kOn;
    }
    // Hands frame `i` (the face moved 4 pixels a frame) to the job and runs it.
    void process(int i) {
        s.live().incoming.pixels = live_shifted_rgba(photo, 4 * i);
        s.live().frame_ready(1000.0 + 33.0 * i, 1.0);
        ASSERT_TRUE(process_live_frame(s));
    }
    Session s;
    Image photo;
};

TEST_F(LiveModeTest, TracksClassifiesAndExplainsAMovingFace) {
    LiveWork& w = s.live();
    w.method = "saliency";
    w.start_recording(1000.0);
    int id = -1;
    for (int i = 0; i < 7; ++i) {
        process(i);
        ASSERT_EQ(w.result.faces.size(), 1u) << "frame " << i;
        const LiveFace& f = w.result.faces[0];
        if (id < 0) id = f.id;
        EXPECT_EQ(f.id, id) << "frame " << i;
        EXPECT_EQ(w.result.detected, i % w.detect_every == 0) << "frame " << i;
        EXPECT_EQ(s.class_names()[static_cast<size_t>(f.top)], "happy");
        ASSERT_TRUE(f.map);
        EXPECT_EQ(f.map->method, "saliency");
        EXPECT_EQ(f.map->target.cls, f.top);
        EXPECT_EQ(f.crop.channels, 3);
    }
    // The box followed the face to the right.
    EXPECT_GT(w.result.faces[0].box.x, 10);
    EXPECT_EQ(w.stats.processed, 7);
    EXPECT_EQ(w.stats.with_face, 7);
    EXPECT_GT(w.stats.explain, 0);
    // One CSV row per face per frame, the header naming the classes.
    ASSERT_EQ(w.rows.size(), 7u);
    const std::string csv = live_csv(w.rows, s.class_names());
    EXPECT_EQ(csv.substr(0, csv.find('\n')),
              "time_ms,frame,face,x,y,width,height,angry,disgust,fear,happy,sad,surprise,neutral");
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 8);
}

TEST_F(LiveModeTest, ExplainsWithACheapMethodOnlyAndTakesOnlyTheNewestFrame) {
    LiveWork& w = s.live();
    w.method = "lime";  // a job (MethodCost::kJob): Live never runs it
    s.live().incoming.pixels = live_shifted_rgba(photo, 0);
    w.frame_ready(1000, 1);
    s.live().incoming.pixels = live_shifted_rgba(photo, 8);
    w.frame_ready(1033, 1);  // replaces the waiting frame
    ASSERT_TRUE(process_live_frame(s));
    EXPECT_EQ(w.result.frame_time_ms, 1033);
    EXPECT_FALSE(w.pending);
    ASSERT_EQ(w.result.faces.size(), 1u);
    ASSERT_TRUE(w.result.faces[0].map);
    EXPECT_TRUE(find_method(w.result.faces[0].map->method)->live())
        << w.result.faces[0].map->method;
    // Nothing waits: the job does nothing.
    const int v = w.result_version;
    ASSERT_TRUE(process_live_frame(s));
    EXPECT_EQ(w.result_version, v);
}

}  // namespace
}  // namespace cnnlens::app
