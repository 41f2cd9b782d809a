// The model spec: ImageNet class names and preset, the task (face or whole image) and how a whole
// photo becomes an image model's input.
#include "core/import/model.h"

#include <gtest/gtest.h>

#include "core/graph/macs.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

// A tiny classifier: global mean of an HxWxC input, then a [C, classes] matmul.
Model tiny_model(int h, int w, int c, int classes, bool inferred) {
    Model m;
    const int x = m.graph.add_input("x", Shape{-1, h, w, c});
    const int mean = m.graph.add_node("gap", OpType::kMean, ReduceAttrs{{1, 2}, false}, {x});
    const int b = m.graph.add_const("b", Tensor(Shape{c, classes}, 0.f));
    m.graph.set_output(m.graph.add_node("fc", OpType::kMatMul, MatMulAttrs{}, {mean, b}));
    EXPECT_TRUE(m.graph.validate().is_ok());
    m.spec.inferred = inferred;
    return m;
}

TEST(ModelSpec, ImagenetNamesAndPresetForAGuessed1000ClassRgbModel) {
    Model m = tiny_model(16, 16, 3, 1000, true);
    ASSERT_TRUE(complete_model(m).is_ok());
    ASSERT_EQ(m.spec.classes.size(), 1000u);
    EXPECT_EQ(m.spec.classes[0], "tench");
    EXPECT_EQ(m.spec.classes[1], "goldfish");
    EXPECT_EQ(m.spec.classes[999], "toilet tissue");
    EXPECT_EQ(imagenet_class_names().size(), 1000u);
    EXPECT_EQ(m.spec.preset, "imagenet");
    EXPECT_EQ(m.spec.input.mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
    EXPECT_EQ(m.spec.input.std, (std::vector<float>{0.229f, 0.224f, 0.225f}));
    EXPECT_TRUE(m.spec.inferred);
    EXPECT_EQ(m.spec.task, ModelTask::kImage);
}

TEST(ModelSpec, DescribedModelsKeepTheirOwnInputAndClasses) {
    Model m = tiny_model(16, 16, 3, 1000, false);  // a sidecar without mean/std: range [0, 1] stays
    ASSERT_TRUE(complete_model(m).is_ok());
    EXPECT_TRUE(m.spec.input.mean.empty());
    EXPECT_EQ(m.spec.classes[0], "tench");        // names still ImageNet's: the sidecar gave none
    Model g = tiny_model(16, 16, 1, 1000, true);  // gray: not the RGB ImageNet preset
    ASSERT_TRUE(complete_model(g).is_ok());
    EXPECT_TRUE(g.spec.input.mean.empty());
    Model o = tiny_model(16, 16, 3, 10, true);
    ASSERT_TRUE(complete_model(o).is_ok());
    EXPECT_EQ(o.spec.classes[9], "class 9");
    EXPECT_TRUE(o.spec.input.mean.empty());
}

TEST(ModelSpec, PresetAndTaskFields) {
    auto s = parse_model_spec(R"({"model": "r.onnx", "preset": "imagenet", "task": "face"})");
    ASSERT_TRUE(s) << s.status().message();
    EXPECT_EQ(s->preset, "imagenet");
    EXPECT_EQ(s->input.mean.size(), 3u);
    EXPECT_FLOAT_EQ(s->input.std[2], 0.225f);
    EXPECT_EQ(s->task, ModelTask::kFace);
    // An explicit mean/std wins over the preset.
    s = parse_model_spec(
        R"({"model": "r.onnx", "preset": "imagenet", "input": {"mean": [0.5], "std": [0.5]}})");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->input.mean, std::vector<float>{0.5f});
    EXPECT_EQ(s->task, ModelTask::kAuto);
    s = parse_model_spec(R"({"model": "r.onnx", "preset": "coco"})");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.status().message(),
              "field 'preset': unknown input preset 'coco' (known: imagenet)");
    s = parse_model_spec(R"({"model": "r.onnx", "task": "faces"})");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.status().message(), "field 'task' must be \"face\" or \"image\", got \"faces\"");
    InputSpec in;
    EXPECT_FALSE(apply_input_preset(in, "nope"));
    EXPECT_TRUE(in.mean.empty());
}

TEST(ModelSpec, TaskInference) {
    auto spec = [](int h, int w, int c) {
        InputSpec s;
        s.height = h;
        s.width = w;
        s.channels = c;
        return s;
    };
    EXPECT_EQ(infer_task(spec(48, 48, 1), 7), ModelTask::kFace);
    EXPECT_EQ(infer_task(spec(64, 64, 1), 7), ModelTask::kFace);
    EXPECT_EQ(infer_task(spec(64, 64, 3), 7), ModelTask::kImage);    // RGB
    EXPECT_EQ(infer_task(spec(224, 224, 1), 7), ModelTask::kImage);  // too large for a FER crop
    EXPECT_EQ(infer_task(spec(32, 32, 1), 7), ModelTask::kImage);
    EXPECT_EQ(infer_task(spec(48, 48, 1), 8), ModelTask::kImage);
    Model m = tiny_model(48, 48, 1, 7, true);
    ASSERT_TRUE(complete_model(m).is_ok());
    EXPECT_EQ(m.spec.task, ModelTask::kFace);
    Model given = tiny_model(48, 48, 1, 7, false);
    given.spec.task = ModelTask::kImage;
    ASSERT_TRUE(complete_model(given).is_ok());
    EXPECT_EQ(given.spec.task, ModelTask::kImage);
    EXPECT_EQ(task_name(ModelTask::kFace), "face");
}

TEST(PhotoToInput, CentersTheCropWithTheInputsAspect) {
    int x, y, w, h;
    center_crop_box(300, 200, 224, 224, x, y, w, h);
    EXPECT_EQ(std::vector<int>({x, y, w, h}), std::vector<int>({50, 0, 200, 200}));
    center_crop_box(200, 301, 10, 10, x, y, w, h);
    EXPECT_EQ(std::vector<int>({x, y, w, h}), std::vector<int>({0, 50, 200, 200}));
    center_crop_box(64, 64, 64, 64, x, y, w, h);
    EXPECT_EQ(std::vector<int>({x, y, w, h}), std::vector<int>({0, 0, 64, 64}));
    // A 6x2 photo, left third black, middle white, right third black, into a 2x2 input: the
    // center crop keeps only the white middle (a full resize would mix in the black).
    Image img;
    img.width = 6;
    img.height = 2;
    img.channels = 1;
    img.pixels = {0, 0, 255, 255, 0, 0, 0, 0, 255, 255, 0, 0};
    InputSpec in;
    in.height = in.width = 2;
    in.channels = 1;
    const Tensor t = photo_to_input(img, in);
    ASSERT_EQ(t.shape(), (Shape{1, 2, 2, 1}));
    for (int64_t i = 0; i < t.size(); ++i) EXPECT_FLOAT_EQ(t[i], 1.f);
}

// A real ONNX file without a description (tests/oracle/make_imagenet_tiny.py: conv 3->8 on
// 32x32, global average pooling, linear 8->1000): ImageNet names, preset and the image task are
// guessed, and its multiply-adds match a hand count.
TEST(ModelSpec, AGuessedImagenetOnnxModel) {
    auto m = load_model(test::source_path("tests/data/onnx/imagenet_tiny.onnx"));
    ASSERT_TRUE(m) << m.status().message();
    EXPECT_TRUE(m->spec.inferred);
    EXPECT_EQ(m->spec.classes[0], "tench");
    EXPECT_EQ(m->spec.preset, "imagenet");
    EXPECT_EQ(m->spec.task, ModelTask::kImage);
    const MacTotals t = graph_macs(m->graph);
    EXPECT_EQ(t.conv_matmul, 32 * 32 * (3 * 3 * 3 * 8) + 8 * 1000);
    EXPECT_EQ(t.total, t.conv_matmul + 32 * 32 * 8);  // + the global pooling's adds
}

}  // namespace
}  // namespace cnnlens
