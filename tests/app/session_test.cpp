// wasm/app/session.cpp and export.cpp, natively: photo in, faces, the explanation job with
// progress, cancel, partial results and the interactive batch; the export picture and JSON.
#include "wasm/app/session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/image/render.h"
#include "tests/test_util.h"
#include "wasm/app/export.h"
#include "wasm/app/session_panels.h"

namespace cnnlens::app {
namespace {

class SessionTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(
            s.load_models(directory_source(test::source_path("models/fer2013-mini-xception")),
                          directory_source(test::source_path("models/blazeface"))));
        photo = test::read_file(test::source_path("tests/data/astronaut.jpg"));
        ASSERT_TRUE(s.open_photo(photo, "astronaut.jpg"));
    }
    ExplainRequest request(const std::string& method) {
        ExplainRequest r;
        r.method = method;
        r.target.cls = s.selected_face()->top;
        r.target.score = find_method(method)->traits().default_score;
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
    Status st = s.run_pending([&](float) {
        s.cancel();
        return true;
    });
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
    for (const char* want :
         {"\"method\": \"gradcam\"", "\"seed\": 1", "\"class_name\": \"happy\"",
          "\"name\": \"astronaut.jpg\"", "\"partial\": false", "\"norm\": \"minmax\"",
          "\"stat_labels\": {\"layer_node\": \"Layer\", \"score\": \"Class score\"}"})
        EXPECT_NE(json.find(want), std::string::npos) << want << " not in\n" << json;
    EXPECT_EQ(export_name(s, "gradcam", ".png"), "astronaut_gradcam.png");
    const Image map = map_picture(s.explanation()->map, MapNorm::kMinMax, Colormap::kInferno, 2);
    EXPECT_EQ(map.height >= 128, true);
}

// A turned face: the crop is aligned by default, the JSON states its angle, the photo export
// draws the map back through the turned frame; switched off, the crop is upright and the faces
// are classified again without a new detection.
TEST_F(SessionTest, AlignmentTurnsTheCropAndCanBeSwitchedOff) {
    const Image turned = test::rotate_image(s.photo(), 25, 228, 128);
    ASSERT_TRUE(s.open_photo(encode_png(turned), "turned.png"));
    ASSERT_EQ(s.faces().size(), 1u);
    EXPECT_TRUE(s.align_faces());
    struct {
        FaceBox box;
        CropFrame frame;
        std::vector<float> probs;
    } aligned{s.faces()[0].box, s.faces()[0].frame, s.faces()[0].probs};
    EXPECT_NEAR(aligned.frame.angle_degrees(), 25, 6);
    EXPECT_EQ(s.faces()[0].crop.width, static_cast<int>(std::lround(aligned.frame.width)));
    s.request(request("gradcam"));
    ASSERT_TRUE(s.run_pending());
    AppState state;
    const std::string json = view_json(state, s);
    EXPECT_NE(json.find("\"angle_degrees\": " +
                        std::to_string(aligned.frame.angle_degrees()).substr(0, 4)),
              std::string::npos)
        << json;
    EXPECT_NE(json.find("\"aligned\": true"), std::string::npos) << json;
    // The photo export: the map inside the turned square, the photo elsewhere.
    const Image pic = view_photo_overlay(state, s);
    ASSERT_EQ(pic.width, turned.width);
    int inside = 0, inside_changed = 0, outside_changed = 0;
    for (int y = 0; y < pic.height; ++y)
        for (int x = 0; x < pic.width; ++x) {
            const PointF c = aligned.frame.to_crop({x + 0.5f, y + 0.5f});
            const bool in =
                c.x >= 0 && c.y >= 0 && c.x < aligned.frame.width && c.y < aligned.frame.height;
            const size_t i = static_cast<size_t>(y) * turned.width + x;
            bool changed = false;
            for (int k = 0; k < 3; ++k)
                changed |= pic.pixels[i * 4 + k] != turned.pixels[i * 3 + k];
            inside += in;
            (in ? inside_changed : outside_changed) += changed;
        }
    EXPECT_GT(inside_changed, inside * 9 / 10);
    EXPECT_EQ(outside_changed, 0);
    const Image map_rgba = view_map_rgba(state, *s.explanation());
    EXPECT_EQ(map_rgba.width, s.explanation()->width);
    EXPECT_EQ(map_rgba.pixels[3], static_cast<uint8_t>(state.opacity * 255 + 0.5f));

    const int v0 = s.photo_version();
    ASSERT_TRUE(s.set_align_faces(false));
    EXPECT_FALSE(s.align_faces());
    EXPECT_GT(s.photo_version(), v0);
    EXPECT_EQ(s.explanation(), nullptr);
    ASSERT_EQ(s.faces().size(), 1u);
    const Face& upright = s.faces()[0];
    EXPECT_TRUE(upright.frame.upright());
    EXPECT_EQ(upright.box.x, aligned.box.x) << "the same detection";
    EXPECT_NE(upright.probs, aligned.probs);
    EXPECT_NE(view_json(state, s).find("\"aligned\": false"), std::string::npos);
    ASSERT_TRUE(s.set_align_faces(true));
    EXPECT_EQ(s.faces()[0].probs, aligned.probs);

    // Flipped while work runs, the switch waits: the checkbox shows the state asked for, and
    // the faces change once the session is idle again.
    s.set_background_work(true);
    EXPECT_FALSE(s.set_align_faces(false)) << "refused while busy";
    s.want_align_faces(false);
    EXPECT_FALSE(s.align_faces_shown());
    ASSERT_TRUE(s.apply_wanted_align());
    EXPECT_TRUE(s.align_faces()) << "not applied while busy";
    s.set_background_work(false);
    ASSERT_TRUE(s.apply_wanted_align());
    EXPECT_FALSE(s.align_faces());
    EXPECT_TRUE(s.faces()[0].frame.upright());
    ASSERT_TRUE(s.apply_wanted_align()) << "applied once";
    EXPECT_FALSE(s.align_faces());
}

// A group photo of 20 faces: every face the detector finds is listed and classified in one
// batch, each as it would be alone; stepping through them wraps around.
TEST_F(SessionTest, AGroupPhotoClassifiesEveryFaceInOneBatch) {
    ASSERT_TRUE(s.open_photo(encode_png(test::group_photo()), "group.png"));
    const auto& faces = s.faces();
    ASSERT_GE(faces.size(), 10u);
    GraphProbe alone(s.model(), *select_kernel_set());
    std::set<int> tops;
    for (const Face& f : faces) {
        auto r = alone.run(image_to_input(f.crop, s.model().spec.input), ProbeRequest{});
        ASSERT_TRUE(r);
        ASSERT_EQ(f.probs.size(), 7u);
        EXPECT_LT(test::max_abs_diff(f.probs.data(), r->probs.data(), 7), 1e-5);
        EXPECT_EQ(f.top, argmax_rows(r->probs)[0]);
        tops.insert(f.top);
    }
    EXPECT_GE(tops.size(), 3u) << "different people, different predictions";
    EXPECT_EQ(s.selected(), 0);
    s.select_step(4);
    EXPECT_EQ(s.selected(), 4);
    s.select_step(-5);
    EXPECT_EQ(s.selected(), static_cast<int>(faces.size()) - 1);
    s.select_step(1);
    EXPECT_EQ(s.selected(), 0);
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
        files.push_back({test::read_file(test::source_path(
                             std::string("models/fer2013-mini-xception/") + name)),
                         name});
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

namespace cnnlens::app {
namespace {

std::vector<DroppedFile> onnx_drop(const char* fixture, const char* name) {
    std::vector<DroppedFile> drop(1);
    drop[0].name = name;
    drop[0].bytes = test::read_file(test::source_path(std::string("tests/data/onnx/") + fixture));
    return drop;
}

// An RGB 64-pixel model (rgb64: 7 classes but RGB, so not a FER face model) is an image model:
// it sees the photo's center crop, exactly what photo_to_input (the CLI's input) gives; switched
// to the face task it sees the detected face.
TEST_F(SessionTest, AnImageModelSeesTheWholePhotosCenterCrop) {
    PanelWork w;
    auto drop = onnx_drop("rgb64.opset17.onnx", "rgb64.onnx");
    ASSERT_TRUE(open_files(s, w, drop));
    ASSERT_TRUE(w.model.pending.has_value());
    EXPECT_EQ(w.model.pending->spec.task, ModelTask::kImage);
    ASSERT_TRUE(install_pending(s, w, w.model.pending->spec.input));
    ASSERT_EQ(s.faces().size(), 1u);
    const Face& f = s.faces()[0];
    EXPECT_TRUE(f.whole_photo);
    const Image& p = s.photo();
    const int side = std::min(p.width, p.height);
    EXPECT_EQ(static_cast<int>(f.box.width), side);
    EXPECT_EQ(static_cast<int>(f.box.x), (p.width - side) / 2);
    const Tensor cli_input = photo_to_input(p, s.model().spec.input);
    ASSERT_EQ(f.input.shape(), cli_input.shape());
    for (int64_t i = 0; i < f.input.size(); ++i) ASSERT_EQ(f.input[i], cli_input[i]) << i;

    const int v0 = s.photo_version();
    ASSERT_TRUE(s.set_task(ModelTask::kFace));
    EXPECT_EQ(s.model().spec.task, ModelTask::kFace);
    ASSERT_EQ(s.faces().size(), 1u);
    EXPECT_FALSE(s.faces()[0].whole_photo);  // the detector's face
    EXPECT_GT(s.photo_version(), v0);
    ASSERT_TRUE(s.set_task(ModelTask::kImage));
    EXPECT_TRUE(s.faces()[0].whole_photo);
}

// A 1000-class model: ImageNet's names, and the class grid shows the 8 most probable classes
// of the face, best first, instead of all 1000.
TEST_F(SessionTest, TheClassGridOfAManyClassModelShowsItsTopClasses) {
    Model m;
    const int x = m.graph.add_input("x", Shape{-1, 32, 32, 3});
    const int gap = m.graph.add_node("gap", OpType::kMean, ReduceAttrs{{1, 2}, false}, {x});
    Tensor b(Shape{3, 1000});
    for (int64_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 7919) % 1000) / 1000.f;
    m.graph.set_output(m.graph.add_node("fc", OpType::kMatMul, MatMulAttrs{},
                                        {gap, m.graph.add_const("b", std::move(b))}));
    ASSERT_TRUE(m.graph.validate());
    m.spec.inferred = true;
    ASSERT_TRUE(complete_model(m));
    ASSERT_TRUE(s.install_model(std::move(m)));
    EXPECT_EQ(s.class_names()[0], "tench");
    ASSERT_EQ(s.faces().size(), 1u);
    EXPECT_TRUE(s.faces()[0].whole_photo);  // an image model: no detector
    PanelWork w;
    ExplainRequest r = request("saliency");
    w.grid.want(s, r);
    ASSERT_EQ(w.grid.classes.size(), static_cast<size_t>(ClassGrid::kTopClasses));
    const auto& probs = s.faces()[0].probs;
    EXPECT_EQ(w.grid.classes[0], s.faces()[0].top);
    for (size_t k = 1; k < w.grid.classes.size(); ++k)
        EXPECT_GE(probs[static_cast<size_t>(w.grid.classes[k - 1])],
                  probs[static_cast<size_t>(w.grid.classes[k])]);
    int worst_shown = w.grid.classes.back(), above = 0;
    for (float p : probs) above += p > probs[static_cast<size_t>(worst_shown)];
    EXPECT_EQ(above, ClassGrid::kTopClasses - 1);
    ASSERT_TRUE(w.grid.step(s));
    ASSERT_EQ(w.grid.maps.size(), 1u);
    EXPECT_EQ(w.grid.maps[0].target.cls, w.grid.classes[0]);
    while (!w.grid.complete(s)) ASSERT_TRUE(w.grid.step(s));
    EXPECT_EQ(w.grid.maps.size(), static_cast<size_t>(ClassGrid::kTopClasses));
}

TEST(ModelMemory, ChecksNeedAgainstWhatThePageCanGet) {
    EXPECT_TRUE(check_memory("m.onnx", 100, "x", -1));  // unknown: no limit
    EXPECT_TRUE(check_memory("m.onnx", 100, "x", 100));
    const Status st = check_memory("m.onnx", 45'000'000, "its weights", 20'000'000);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.message(),
              "m.onnx needs 45.0 MB (its weights) but the page can get only 20.0 MB more memory; "
              "the current model stays");
    Graph g;
    const int x = g.add_input("x", Shape{-1, 4, 4, 2});
    g.set_output(g.add_node("fc", OpType::kMatMul, MatMulAttrs{},
                            {g.add_node("gap", OpType::kMean, ReduceAttrs{{1, 2}, false}, {x}),
                             g.add_const("b", Tensor(Shape{2, 3}, 0.f))}));
    ASSERT_TRUE(g.validate());
    const ModelMemory mm = model_memory(g, 4);
    EXPECT_EQ(mm.weights, 6 * 4);
    EXPECT_EQ(mm.tape, g.tape_bytes_per_image());
    EXPECT_EQ(mm.total(), mm.weights + 4 * mm.tape);
}

// A model that cannot fit in the page's memory is refused with the sizes; the model in use stays.
TEST_F(SessionTest, AModelTooLargeForThePageIsRefusedAndThePreviousStays) {
    PanelWork w;
    const std::string before = s.model().spec.name;
    const int v0 = s.model_version();
    auto drop = onnx_drop("resnet48.opset17.onnx", "resnet48.onnx");
    const int64_t file = static_cast<int64_t>(drop[0].bytes.size());
    w.model.memory_available = [file] { return file / 2; };  // less than its weights
    Status st = open_files(s, w, drop);
    ASSERT_FALSE(st);
    EXPECT_NE(st.message().find("resnet48.onnx needs " + megabytes(file)), std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find("the current model stays"), std::string::npos) << st.message();
    EXPECT_FALSE(w.model.pending.has_value());
    EXPECT_EQ(s.model().spec.name, before);
    EXPECT_EQ(s.model_version(), v0);
    // Room for the weights but not for one image's activations and gradients.
    drop = onnx_drop("resnet48.opset17.onnx", "resnet48.onnx");
    w.model.memory_available = [file] { return file + 1; };
    st = open_files(s, w, drop);
    ASSERT_FALSE(st);
    EXPECT_NE(st.message().find("activations and gradients of one image"), std::string::npos)
        << st.message();
    EXPECT_FALSE(w.model.pending.has_value());
    w.model.memory_available = {};
    drop = onnx_drop("resnet48.opset17.onnx", "resnet48.onnx");
    EXPECT_TRUE(open_files(s, w, drop));
    EXPECT_TRUE(w.model.pending.has_value());
}

}  // namespace
}  // namespace cnnlens::app
