// wasm/app/session.cpp and export.cpp, natively: photo in, faces, the explanation job with
// progress, cancel, partial results and the interactive batch; the export picture and JSON.
#include "wasm/app/session.h"

#include <gtest/gtest.h>

#include "core/image/render.h"
#include "tests/test_util.h"
#include "wasm/app/export.h"
#include "wasm/app/session_panels.h"

namespace cnnlens::app {
namespace {

class SessionTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(s.load_models(directory_source(test::source_path("models/fer2013-mini-xception")),
                                  directory_source(test::source_path("models/blazeface"))));
        photo = test::read_file(test::source_path("tests/data/astronaut.jpg"));
        ASSERT_TRUE(s.open_photo(photo, "astronaut.jpg"));
    }
    ExplainRequest request(const std::string& method) {
        ExplainRequest r;
        r.method = method;
        r.target.cls = s.selected_face()->top;
        r.target.score = method == "lime" ? Target::Score::kProbability : Target::Score::kLogit;
        return r;
    }
    Session s;
    std::vector<unsigned char> photo;
};

TEST_F(SessionTest, OpensAPhotoWithOneHappyFace) {
    ASSERT_EQ(s.faces().size(), 1u);
    EXPECT_EQ(s.class_names()[static_cast<size_t>(s.faces()[0].top)], "happy");
    EXPECT_EQ(s.selected(), 0);
    EXPECT_EQ(s.photo_version(), 1);
}

TEST_F(SessionTest, ACorruptFileKeepsThePreviousPhoto) {
    const std::vector<uint8_t> junk(100, 7);
    const Status st = s.open_photo(junk, "broken.jpg");
    EXPECT_FALSE(st);
    EXPECT_NE(st.message().find("broken.jpg"), std::string::npos) << st.message();
    EXPECT_EQ(s.photo_name(), "astronaut.jpg");
    EXPECT_EQ(s.faces().size(), 1u);
}

TEST_F(SessionTest, RunsARequestOnceAndBumpsTheVersion) {
    const ExplainRequest r = request("saliency");
    s.request(r);
    EXPECT_TRUE(s.job().pending);
    const int v0 = s.explanation_version();
    ASSERT_TRUE(s.run_pending());
    ASSERT_NE(s.explanation(), nullptr);
    EXPECT_EQ(s.explanation()->method, "saliency");
    EXPECT_GT(s.explanation_version(), v0);
    EXPECT_FALSE(s.explanation_partial());
    EXPECT_FALSE(s.job().pending || s.job().running);
    s.request(r);  // already shown
    EXPECT_FALSE(s.job().pending);
}

TEST_F(SessionTest, ProgressReportsWhileBusyAndRefusesNewPhotos) {
    s.set_job_batch(8);
    s.request(request("smoothgrad"));
    int reports = 0;
    bool busy = false, refused = false;
    ASSERT_TRUE(s.run_pending([&](float p) {
        ++reports;
        busy = s.busy() && s.job().running && s.job().progress == p;
        refused = !s.open_photo(photo, "again.jpg");
        s.select(5);
        return true;
    }));
    EXPECT_GE(reports, 50 / 8);  // one report per batch of 8 noisy copies
    EXPECT_TRUE(busy);
    EXPECT_TRUE(refused);
    EXPECT_EQ(s.photo_version(), 1);
    EXPECT_EQ(s.selected(), 0);
    EXPECT_FALSE(s.busy());
    EXPECT_EQ(s.explanation()->params.at("batch"), 8);
}

TEST_F(SessionTest, AnExplicitBatchWins) {
    s.set_job_batch(8);
    ExplainRequest r = request("smoothgrad");
    r.params.set("batch", 25);
    s.request(r);
    ASSERT_TRUE(s.run_pending());
    EXPECT_EQ(s.explanation()->params.at("batch"), 25);
}

TEST_F(SessionTest, LimeFillsInAndACancelKeepsThePartialResult) {
    s.set_job_batch(50);
    const ExplainRequest r = request("lime");
    s.request(r);
    int partial_versions = 0;
    const Status st = s.run_pending([&](float) {
        if (s.explanation_partial()) ++partial_versions;
        return partial_versions < 2;  // cancel once two partial fits were shown
    });
    EXPECT_EQ(st.code(), ErrorCode::kCancelled) << st.message();
    ASSERT_NE(s.explanation(), nullptr);
    EXPECT_TRUE(s.explanation_partial());
    EXPECT_EQ(s.explanation()->method, "lime");
    EXPECT_LT(s.explanation()->stats.at("samples"), 1000);
    EXPECT_FALSE(s.busy());
    s.request(r);  // the same settings run again, to completion this time
    EXPECT_TRUE(s.job().pending);
    ASSERT_TRUE(s.run_pending());
    EXPECT_FALSE(s.explanation_partial());
    EXPECT_EQ(s.explanation()->stats.at("samples"), 1000);
}

TEST_F(SessionTest, CancelStopsARunningJobAndDropsAPendingOne) {
    s.request(request("occlusion"));
    Status st = s.run_pending([&](float) { s.cancel(); return true; });
    EXPECT_EQ(st.code(), ErrorCode::kCancelled);
    EXPECT_EQ(s.explanation(), nullptr);
    s.request(request("occlusion"));
    s.cancel();  // before it started
    st = s.run_pending();
    EXPECT_EQ(st.code(), ErrorCode::kCancelled);
    EXPECT_EQ(s.explanation(), nullptr);
    s.cancel();  // nothing running: not remembered for the next job
    s.request(request("saliency"));
    EXPECT_TRUE(s.run_pending());
    EXPECT_NE(s.explanation(), nullptr);
}

TEST_F(SessionTest, ExportsTheViewAsPngAndJson) {
    AppState state;
    EXPECT_TRUE(view_picture(state, s).empty());
    EXPECT_NE(view_json(state, s).find("\"result\": null"), std::string::npos);
    s.request(request("gradcam"));
    ASSERT_TRUE(s.run_pending());
    const Image pic = view_picture(state, s);
    EXPECT_GE(pic.width, 2 * 256 + 70);
    EXPECT_GE(pic.height, 256);
    const std::vector<uint8_t> png = encode_png(pic);
    ASSERT_GT(png.size(), 8u);
    EXPECT_EQ(png[1], 'P');
    const std::string json = view_json(state, s);
    for (const char* want : {"\"method\": \"gradcam\"", "\"seed\": 1", "\"class_name\": \"happy\"", "\"name\": \"astronaut.jpg\"",
                             "\"partial\": false", "\"norm\": \"minmax\""})
        EXPECT_NE(json.find(want), std::string::npos) << want << " not in\n" << json;
    EXPECT_EQ(export_name(s, "gradcam", ".png"), "astronaut_gradcam.png");
    const Image map = map_picture(s.explanation()->map, MapNorm::kMinMax, Colormap::kInferno, 2);
    EXPECT_EQ(map.height >= 128, true);
}

TEST_F(SessionTest, TheViewOverlayFollowsTheDisplaySettings) {
    s.request(request("saliency"));
    ASSERT_TRUE(s.run_pending());
    AppState state;
    state.opacity = 0;
    const Face& f = *s.selected_face();
    const Image plain = to_rgba(upscale_nearest(f.input_picture, 4));
    const Image same = to_rgba(view_overlay(state, f, *s.explanation(), 4));
    EXPECT_EQ(same.pixels, plain.pixels);  // opacity 0: the face itself
    state.opacity = 1;
    EXPECT_NE(to_rgba(view_overlay(state, f, *s.explanation(), 4)).pixels, plain.pixels);
}

TEST_F(SessionTest, ADroppedOnnxWaitsForItsInputRangeUnlessDescribed) {
    PanelWork w;
    std::vector<DroppedFile> drop(1);
    drop[0].name = "vgg48.onnx";
    drop[0].bytes = test::read_file(test::source_path("tests/data/onnx/vgg48.opset17.onnx"));
    ASSERT_TRUE(open_files(s, w, drop));
    ASSERT_TRUE(w.model.pending.has_value());
    EXPECT_TRUE(w.model.pending->spec.inferred);
    EXPECT_EQ(w.model.pending_source, "vgg48.onnx");
    EXPECT_EQ(w.model.pending->spec.input.height, 48);
    ASSERT_TRUE(install_pending(s, w, w.model.pending->spec.input));
    EXPECT_EQ(s.model().spec.format, "onnx");

    std::vector<DroppedFile> described(2);
    described[0].name = "net.onnx";
    described[0].bytes = test::read_file(test::source_path("tests/data/onnx/dwsep48.opset11.onnx"));
    described[1].name = "net.cnnlens.json";
    const std::string spec = R"({"name": "dwsep", "input": {"range": [-1, 1]}})";
    described[1].bytes.assign(spec.begin(), spec.end());
    ASSERT_TRUE(open_files(s, w, described));
    EXPECT_FALSE(w.model.pending.has_value());
    EXPECT_EQ(s.model().spec.name, "dwsep");
    EXPECT_EQ(s.model().spec.input.range_lo, -1.f);
}

}  // namespace
}  // namespace cnnlens::app

namespace cnnlens::app {
namespace {

// An own model dropped without a spec waits for the input dialog; mean/std normalisation is
// accepted (one value or one per channel), a std of 0 is refused and the model stays pending.
TEST_F(SessionTest, OwnModelTakesMeanStdFromTheDialog) {
    PanelWork w;
    std::vector<DroppedFile> files;
    for (const char* name : {"emotion.json", "emotion.bin"})
        files.push_back({test::read_file(test::source_path(std::string("models/fer2013-mini-xception/") + name)), name});
    ASSERT_TRUE(open_files(s, w, files));
    ASSERT_TRUE(w.model.pending.has_value());
    InputSpec in = w.model.pending->spec.input;
    in.mean = {0.5f};
    in.std = {0.f};
    Status st = install_pending(s, w, in);
    EXPECT_FALSE(st);
    EXPECT_NE(st.message().find("std must be > 0"), std::string::npos) << st.message();
    in.mean = {0.5f, 0.5f};
    in.std = {0.5f, 0.5f};
    st = install_pending(s, w, in);
    EXPECT_NE(st.message().find("one per channel (1)"), std::string::npos) << st.message();
    ASSERT_TRUE(w.model.pending.has_value());
    const int v0 = s.model_version();
    in.mean = {0.5f};
    in.std = {0.5f};
    ASSERT_TRUE(install_pending(s, w, in));
    EXPECT_GT(s.model_version(), v0);
    EXPECT_EQ(s.model().spec.input.mean, std::vector<float>{0.5f});
    EXPECT_EQ(s.model().spec.input.std, std::vector<float>{0.5f});
}

}  // namespace
}  // namespace cnnlens::app
