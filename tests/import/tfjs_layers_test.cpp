// TF.js layers-model (Keras) import: the hand-written fixtures of tests/data/keras/ against an
// independent float64 PyTorch reading of the same files (tests/oracle/keras_reference.py):
// outputs to 1e-5, input gradients of a logit and a probability to 1e-4 relative, and every
// Keras layer's output (found by its layer name) on every compiled kernel set. Then small
// closed-form models, and malformed files, each answered by an error naming the layer and value.
#include "core/import/tfjs/tfjs_layers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>

#include "core/graph/executor.h"
#include "tests/test_util.h"

namespace cnnlens {
// Named so that its helpers (Files, import, expect_error) stay apart from tfjs_graph_test.cpp's
// when the unity build puts both in one batch.
namespace tfjs_layers_test {
namespace {

using json = nlohmann::json;

const char* const kModels[] = {"fer_sequential", "functional_mix", "rgb64"};

std::string model_dir(const std::string& name) {
    return test::source_path("tests/data/keras/" + name);
}

json read_json(const std::string& path) {
    const auto b = test::read_file(path);
    return json::parse(b.begin(), b.end());
}

// The inputs of keras_reference.py: uniform [0, 1) from a 32-bit integer hash of (case, index).
Tensor hashed_inputs(int cases, int h, int w, int c) {
    Tensor x(Shape{cases, h, w, c});
    const int64_t n = int64_t{h} * w * c;
    for (int k = 0; k < cases; ++k)
        for (int64_t i = 0; i < n; ++i) {
            uint32_t v =
                static_cast<uint32_t>(i) * 2654435761u + static_cast<uint32_t>(k) * 40503u + 12345u;
            v ^= v >> 15;
            v *= 2246822519u;
            v ^= v >> 13;
            x[k * n + i] = static_cast<float>(v >> 8) / static_cast<float>(1 << 24);
        }
    return x;
}

// In-memory model files, for variants of the fixtures.
struct LayerFiles {
    std::map<std::string, std::vector<uint8_t>> m;
    FileSource source() const {
        return [this](const std::string& n) -> Expected<std::vector<uint8_t>> {
            auto it = m.find(n);
            if (it == m.end()) return not_found("no file '" + n + "'");
            return it->second;
        };
    }
};

// A fixture's model.json and shards.
struct LayersFixture {
    json model;
    LayerFiles files;
};
LayersFixture fixture(const std::string& name) {
    LayersFixture f;
    f.model = read_json(model_dir(name) + "/model.json");
    for (const json& g : f.model["weightsManifest"])
        for (const json& p : g["paths"])
            f.files.m[p.get<std::string>()] =
                test::read_file(model_dir(name) + "/" + p.get<std::string>());
    return f;
}

Expected<Graph> import_layers(const json& model, const LayerFiles& files) {
    return import_tfjs_layers(model.dump(), files.source(), "model.json");
}

// The layer object named `name` in a fixture's config (Sequential or functional).
json& layer(json& model, const std::string& name) {
    json& cfg = model["modelTopology"]["model_config"]["config"];
    json& list = cfg.is_array() ? cfg : cfg["layers"];
    for (json& l : list)
        if (l["config"]["name"] == name) return l;
    ADD_FAILURE() << "no layer " << name;
    return list[0];
}

void expect_layers_error(const Status& st, std::initializer_list<std::string> words) {
    ASSERT_FALSE(st.is_ok()) << "import succeeded but should have failed";
    for (const std::string& w : words)
        EXPECT_NE(st.message().find(w), std::string::npos)
            << "'" << w << "' not in: " << st.message();
}
void expect_layers_error(const Expected<Graph>& g, std::initializer_list<std::string> words) {
    ASSERT_FALSE(g) << "import succeeded but should have failed";
    expect_layers_error(g.status(), words);
}

// --- The fixtures against the PyTorch reference, on every kernel set ---------------------------

struct Case {
    const char* model;
    const KernelSet* kernels;
};

class KerasReference : public ::testing::TestWithParam<Case> {};

TEST_P(KerasReference, OutputsGradientsAndLayersMatchTorch) {
    const std::string dir = model_dir(GetParam().model);
    const json ref = read_json(dir + "/reference.json");
    auto m = load_model(dir + "/model.json");
    ASSERT_TRUE(m) << m.status().message();
    EXPECT_EQ(m->spec.format, "tfjs-layers");
    const Graph& g = m->graph;
    EXPECT_EQ(g.node(g.input()).name, ref["input"].get<std::string>());
    EXPECT_EQ(g.node(m->logits).name, ref["logits_node"].get<std::string>());
    ASSERT_GE(m->probs, 0);
    EXPECT_EQ(g.node(m->probs).name, ref["output_node"].get<std::string>());

    const int cases = ref["cases"], h = ref["input_shape"][0], w = ref["input_shape"][1],
              c = ref["input_shape"][2];
    const int64_t n = int64_t{h} * w * c;
    const int classes = m->num_classes();
    ASSERT_EQ(static_cast<int>(ref["probs"][0].size()), classes);
    Executor ex(g, *GetParam().kernels);
    const Tensor x = hashed_inputs(cases, h, w, c);
    ASSERT_TRUE(ex.forward(x).is_ok());
    const Tensor& probs = ex.value(m->probs);
    const Tensor& logits = ex.value(m->logits);
    ASSERT_EQ(probs.size(), int64_t{cases} * classes);
    for (int k = 0; k < cases; ++k)
        for (int j = 0; j < classes; ++j) {
            EXPECT_NEAR(probs[k * classes + j], ref["probs"][k][j].get<double>(), 1e-5)
                << "case " << k << " class " << j;
            EXPECT_NEAR(logits[k * classes + j], ref["logits"][k][j].get<double>(), 1e-5)
                << "case " << k << " class " << j;
        }

    // Every Keras layer's output, found by the layer's name (case 0): shape, mean and L2 norm.
    ASSERT_FALSE(ref["layers"].empty());
    for (const auto& [name, st] : ref["layers"].items()) {
        SCOPED_TRACE("layer " + name);
        const int id = g.find(name);
        ASSERT_GE(id, 0);
        Shape want{1};
        for (const json& d : st["shape"]) want.push_back(d.get<int64_t>());
        ASSERT_EQ(g.node(id).shape, want);
        const Tensor& v = ex.value(id);
        const int64_t per = v.size() / cases;
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < per; ++i) {
            sum += v[i];
            sq += double(v[i]) * v[i];
        }
        EXPECT_NEAR(sum / per, st["mean"].get<double>(),
                    1e-5 * (1 + std::abs(st["mean"].get<double>())));
        EXPECT_NEAR(std::sqrt(sq), st["l2"].get<double>(), 1e-5 * (1 + st["l2"].get<double>()));
    }

    const int target = ref["target"];
    const int input = g.input();
    for (auto [node, file] :
         {std::pair{m->logits, "grad_logit.f32"}, std::pair{m->probs, "grad_prob.f32"}}) {
        SCOPED_TRACE(file);
        const std::vector<float> expected = test::read_f32(dir + "/" + file);
        ASSERT_EQ(static_cast<int64_t>(expected.size()), cases * n);
        std::vector<Seed> seeds;
        seeds.push_back({node, seed_class(ex.value(node).shape(), target)});
        std::vector<Tensor> grads;
        ASSERT_TRUE(ex.backward(seeds, {&input, 1}, ReluRule::kStandard, grads).is_ok());
        for (int k = 0; k < cases; ++k)
            EXPECT_LT(test::rel_l2(grads[0].data() + k * n, expected.data() + k * n, n), 1e-4)
                << "case " << k;
    }
}

std::vector<Case> all_cases() {
    std::vector<Case> v;
    for (const char* m : kModels)
        for (const KernelSet* k : compiled_kernel_sets()) v.push_back({m, k});
    return v;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KerasReference, ::testing::ValuesIn(all_cases()),
                         [](const testing::TestParamInfo<Case>& i) {
                             return std::string(i.param.model) + "_" +
                                    test::kernel_test_name(*i.param.kernels);
                         });

json functional(const json& layers, const std::string& input, const std::string& output,
                int out_call = 0);
json input_layer(const std::string& name, const json& shape);
json keras_layer(const std::string& cls, const std::string& name, json config,
                 const std::vector<std::string>& inputs);

// --- The model description and format detection
// ----------------------------------------------------

TEST(TfjsLayers, SpecIsInferredFromTheInputLayer) {
    auto fer = load_model(model_dir("fer_sequential") + "/model.json");
    ASSERT_TRUE(fer) << fer.status().message();
    EXPECT_EQ(fer->spec.input.height, 48);
    EXPECT_EQ(fer->spec.input.width, 48);
    EXPECT_EQ(fer->spec.input.channels, 1);
    ASSERT_EQ(fer->num_classes(), 7);
    EXPECT_EQ(fer->spec.classes[3], "happy");  // 7 outputs on 48x48x1: FER2013's classes
    auto rgb = load_model(model_dir("rgb64") + "/model.json");
    ASSERT_TRUE(rgb) << rgb.status().message();
    EXPECT_EQ(rgb->spec.input.height, 64);
    EXPECT_EQ(rgb->spec.input.channels, 3);
    EXPECT_EQ(rgb->num_classes(), 3);
    EXPECT_EQ(rgb->spec.classes[2], "class 2");
    // Sequential without an InputLayer: Keras names the input after the first layer.
    EXPECT_EQ(rgb->graph.node(rgb->graph.input()).name, "rescaling_input");
}

TEST(TfjsLayers, FolderWithoutSpecLoadsModelJson) {
    auto m = load_model(model_dir("functional_mix"));
    ASSERT_TRUE(m) << m.status().message();
    EXPECT_EQ(m->graph.node(m->probs).name, "predictions");
    EXPECT_EQ(m->graph.node(m->logits).name, "dense");
}

// Rescaling(1/255) as the first layer means the model takes raw pixels: range [0, 255].
TEST(TfjsLayers, RescalingBy255MeansRawPixels) {
    for (auto [scale, offset, hi] :
         {std::tuple{1.0 / 255, 0.0, 255.f}, std::tuple{1.0 / 127.5, -1.0, 255.f},
          std::tuple{2.0, -1.0, 1.f}}) {
        SCOPED_TRACE(scale);
        json layers = json::array(
            {input_layer("x", {nullptr, 4, 4, 1}),
             keras_layer("Rescaling", "rescaling", {{"scale", scale}, {"offset", offset}}, {"x"}),
             keras_layer("GlobalAveragePooling2D", "gap", json::object(), {"rescaling"})});
        LayerFiles f;
        const std::string text = functional(layers, "x", "gap").dump();
        f.m["model.json"].assign(text.begin(), text.end());
        auto m = load_model_from(f.source(), "model.json");
        ASSERT_TRUE(m) << m.status().message();
        EXPECT_EQ(m->spec.input.range_lo, 0.f);
        EXPECT_EQ(m->spec.input.range_hi, hi);
    }
}

TEST(TfjsLayers, SidecarSpecPointsAtALayersModel) {
    LayersFixture f = fixture("fer_sequential");
    f.files.m["model.json"] = test::read_file(model_dir("fer_sequential") + "/model.json");
    const std::string spec =
        R"({"model": "model.json", "classes": ["a","b","c","d","e","f","g"], "input": {"range": [-1, 1]}})";
    f.files.m["cnnlens.json"].assign(spec.begin(), spec.end());
    auto m = load_model_from(f.files.source(), "cnnlens.json");
    ASSERT_TRUE(m) << m.status().message();
    EXPECT_EQ(m->spec.format, "tfjs-layers");
    EXPECT_EQ(m->spec.classes[6], "g");
    EXPECT_EQ(m->spec.input.range_lo, -1.f);
    EXPECT_EQ(m->graph.node(m->logits).name, "dense_1/linear");

    // A spec that insists on tfjs-layers for a file that is not one.
    const std::string graph_spec = R"({"model": "model.json", "format": "tfjs-layers"})";
    f.files.m["cnnlens.json"].assign(graph_spec.begin(), graph_spec.end());
    const std::string not_layers =
        R"({"format": "graph-model", "modelTopology": {"node": []}, "weightsManifest": []})";
    f.files.m["model.json"].assign(not_layers.begin(), not_layers.end());
    auto bad = load_model_from(f.files.source(), "cnnlens.json");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.status().message().find("not a TF.js layers model"), std::string::npos)
        << bad.status().message();
}

TEST(TfjsLayers, DetectsTheFormat) {
    EXPECT_TRUE(is_tfjs_layers_model(R"({"format": "layers-model", "modelTopology": {}})"));
    EXPECT_TRUE(
        is_tfjs_layers_model(R"({"modelTopology": {"class_name": "Sequential", "config": []}})"));
    EXPECT_TRUE(is_tfjs_layers_model(
        R"({"modelTopology": {"model_config": {"class_name": "Functional"}}})"));
    EXPECT_FALSE(
        is_tfjs_layers_model(R"({"format": "graph-model", "modelTopology": {"node": []}})"));
    EXPECT_FALSE(is_tfjs_layers_model("not json"));
}

TEST(TfjsLayers, NodeNamesKeepKerasLayerNames) {
    LayersFixture f = fixture("functional_mix");
    auto g = import_layers(f.model, f.files);
    ASSERT_TRUE(g) << g.status().message();
    // SeparableConv2D: a depthwise node (depth_multiplier 2) then the layer's 1x1 convolution.
    const int dw = g->find("separable_conv2d/depthwise");
    ASSERT_GE(dw, 0);
    EXPECT_EQ(std::get<ConvAttrs>(g->node(dw).attrs).groups, 8);
    EXPECT_EQ(g->node(dw).shape, (Shape{1, 17, 16, 16}));
    const int sep = g->find("separable_conv2d");
    ASSERT_GE(sep, 0);
    EXPECT_EQ(std::get<ConvAttrs>(g->node(sep).attrs).activation, Activation::kRelu);
    EXPECT_EQ(g->node(g->find("conv2d/kernel")).op, OpType::kConst);
    EXPECT_EQ(g->node(g->find("p_re_lu_1")).op, OpType::kPrelu);
    EXPECT_EQ(g->node(g->find("add")).op, OpType::kAdd);
}

// --- Closed-form models
// -------------------------------------------------------------------------------

json functional(const json& layers, const std::string& input, const std::string& output,
                int out_call) {
    json config = {{"name", "m"}, {"layers", layers}};
    config["input_layers"] = json::array({json::array({input, 0, 0})});
    config["output_layers"] = json::array({json::array({output, out_call, 0})});
    json model = {{"class_name", "Functional"}, {"config", config}};
    json root = {{"format", "layers-model"}, {"weightsManifest", json::array()}};
    root["modelTopology"]["model_config"] = model;
    return root;
}
json input_layer(const std::string& name, const json& shape) {
    return {{"class_name", "InputLayer"},
            {"name", name},
            {"config", {{"name", name}, {"batch_input_shape", shape}}},
            {"inbound_nodes", json::array()}};
}
json keras_layer(const std::string& cls, const std::string& name, json config,
                 const std::vector<std::string>& inputs) {
    config["name"] = name;
    json call = json::array();
    for (const std::string& i : inputs) call.push_back(json::array({i, 0, 0, json::object()}));
    return {{"class_name", cls},
            {"name", name},
            {"config", config},
            {"inbound_nodes", json::array({call})}};
}

std::vector<float> run_layers(const Graph& g, const Tensor& x) {
    Executor ex(g, reference_kernels());
    EXPECT_TRUE(ex.forward(x).is_ok());
    const Tensor& y = ex.value(g.output());
    return {y.data(), y.data() + y.size()};
}

TEST(TfjsLayers, MergeLayersAndKeras3Calls) {
    json layers =
        json::array({input_layer("x", {nullptr, 1, 1, 2}),
                     keras_layer("Rescaling", "a", {{"scale", 2.0}}, {"x"}),
                     keras_layer("Rescaling", "b", {{"scale", 3.0}, {"offset", 1.0}}, {"x"}),
                     keras_layer("Subtract", "sub", json::object(), {"a", "b"}),
                     keras_layer("Multiply", "mul", json::object(), {"a", "b", "x"}),
                     keras_layer("Average", "avg", json::object(), {"a", "b"}),
                     keras_layer("Concatenate", "cat", {{"axis", 3}}, {"sub", "mul", "avg"}),
                     keras_layer("Flatten", "flat", json::object(), {"cat"}),
                     keras_layer("Softmax", "soft", json::object(), {"flat"})});
    // Keras 3 writes calls as {"args": [tensors with keras_history]}.
    layers[7]["inbound_nodes"] = json::array(
        {{{"args", json::array({{{"class_name", "__keras_tensor__"},
                                 {"config", {{"keras_history", json::array({"cat", 0, 0})}}}}})},
          {"kwargs", json::object()}}});
    auto g = import_layers(functional(layers, "x", "flat"), LayerFiles{});
    ASSERT_TRUE(g) << g.status().message();
    Tensor x(Shape{1, 1, 1, 2});
    x[0] = 0.5f;
    x[1] = -2.f;
    const std::vector<float> y = run_layers(*g, x);
    ASSERT_EQ(y.size(), size_t(6));
    for (int c = 0; c < 2; ++c) {
        const float v = x[c], a = 2 * v, b = 3 * v + 1;
        EXPECT_FLOAT_EQ(y[static_cast<size_t>(c)], a - b);
        EXPECT_FLOAT_EQ(y[static_cast<size_t>(2 + c)], a * b * v);
        EXPECT_FLOAT_EQ(y[static_cast<size_t>(4 + c)], (a + b) / 2);
    }
}

TEST(TfjsLayers, ReluFormsAndActivations) {
    // ReLU(max_value 2), ReLU(negative_slope 0.1), LeakyReLU default (0.3), ELU(0.5), selu, swish.
    json layers = json::array({input_layer("x", {nullptr, 1, 1, 4}),
                               keras_layer("ReLU", "capped", {{"max_value", 2.0}}, {"x"}),
                               keras_layer("ReLU", "leaky", {{"negative_slope", 0.1}}, {"x"}),
                               keras_layer("LeakyReLU", "lrelu", json::object(), {"x"}),
                               keras_layer("ELU", "elu", {{"alpha", 0.5}}, {"x"}),
                               keras_layer("Activation", "selu", {{"activation", "selu"}}, {"x"}),
                               keras_layer("Activation", "swish", {{"activation", "swish"}}, {"x"}),
                               keras_layer("Concatenate", "cat", json::object(),
                                           {"capped", "leaky", "lrelu", "elu", "selu", "swish"})});
    auto g = import_layers(functional(layers, "x", "cat"), LayerFiles{});
    ASSERT_TRUE(g) << g.status().message();
    Tensor x(Shape{1, 1, 1, 4});
    const float in[4] = {-1.5f, -0.25f, 0.75f, 3.f};
    std::copy(in, in + 4, x.data());
    const std::vector<float> y = run_layers(*g, x);
    ASSERT_EQ(y.size(), size_t(24));
    for (size_t c = 0; c < 4; ++c) {
        const double v = in[c];
        EXPECT_NEAR(y[c], std::min(std::max(v, 0.0), 2.0), 1e-6);
        EXPECT_NEAR(y[4 + c], v > 0 ? v : 0.1 * v, 1e-6);
        EXPECT_NEAR(y[8 + c], v > 0 ? v : 0.3 * v, 1e-6);
        EXPECT_NEAR(y[12 + c], v > 0 ? v : 0.5 * std::expm1(v), 1e-6);
        EXPECT_NEAR(y[16 + c],
                    1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * std::expm1(v)), 1e-5);
        EXPECT_NEAR(y[20 + c], v / (1 + std::exp(-v)), 1e-6);
    }
}

// A layer called twice shares its weights: the same as two layers holding equal weights.
TEST(TfjsLayers, SharedLayerCalledTwice) {
    const json conv_cfg = {
        {"filters", 2}, {"kernel_size", 3}, {"padding", "same"}, {"activation", "tanh"}};
    json shared = json::array(
        {input_layer("x", {nullptr, 5, 5, 2}), keras_layer("Conv2D", "conv", conv_cfg, {"x"})});
    shared[1]["inbound_nodes"].push_back(
        json::array({json::array({"conv", 0, 0, json::object()})}));
    json twin = json::array({input_layer("x", {nullptr, 5, 5, 2}),
                             keras_layer("Conv2D", "conv", conv_cfg, {"x"}),
                             keras_layer("Conv2D", "conv_again", conv_cfg, {"conv"})});
    LayerFiles files;
    Rng rng(3);
    const Tensor k = test::random_tensor({3, 3, 2, 2}, rng), b = test::random_tensor({2}, rng);
    auto blob = [](const Tensor& t) {
        std::vector<uint8_t> v(static_cast<size_t>(t.size()) * 4);
        std::memcpy(v.data(), t.data(), v.size());
        return v;
    };
    std::vector<uint8_t> bytes = blob(k), bb = blob(b);
    bytes.insert(bytes.end(), bb.begin(), bb.end());
    files.m["w.bin"] = bytes;
    bytes.insert(bytes.end(), bytes.begin(), bytes.end());
    files.m["w2.bin"] = bytes;
    json m1 = functional(shared, "x", "conv", 1), m2 = functional(twin, "x", "conv_again");
    m1["weightsManifest"] =
        json::array({{{"paths", {"w.bin"}},
                      {"weights",
                       {{{"name", "conv/kernel"}, {"shape", {3, 3, 2, 2}}, {"dtype", "float32"}},
                        {{"name", "conv/bias"}, {"shape", {2}}, {"dtype", "float32"}}}}}});
    m2["weightsManifest"] = json::array(
        {{{"paths", {"w2.bin"}},
          {"weights",
           {{{"name", "conv/kernel"}, {"shape", {3, 3, 2, 2}}, {"dtype", "float32"}},
            {{"name", "conv/bias"}, {"shape", {2}}, {"dtype", "float32"}},
            {{"name", "conv_again/kernel"}, {"shape", {3, 3, 2, 2}}, {"dtype", "float32"}},
            {{"name", "conv_again/bias"}, {"shape", {2}}, {"dtype", "float32"}}}}}});
    auto g1 = import_layers(m1, files), g2 = import_layers(m2, files);
    ASSERT_TRUE(g1) << g1.status().message();
    ASSERT_TRUE(g2) << g2.status().message();
    EXPECT_EQ(g1->node(g1->output()).name, "conv/call_1");
    const Tensor x = test::random_tensor({1, 5, 5, 2}, rng);
    const std::vector<float> y1 = run_layers(*g1, x), y2 = run_layers(*g2, x);
    ASSERT_EQ(y1.size(), y2.size());
    EXPECT_LT(test::max_abs_diff(y1.data(), y2.data(), static_cast<int64_t>(y1.size())), 1e-6);
    EXPECT_GT(test::max_abs_diff(y1.data(), x.data(), static_cast<int64_t>(y1.size())), 0.01);
}

// The shared manifest reader dequantizes layers-model weights too (uint8 with scale and min).
TEST(TfjsLayers, QuantizedWeights) {
    LayersFixture f = fixture("fer_sequential");
    auto plain = import_layers(f.model, f.files);
    ASSERT_TRUE(plain) << plain.status().message();
    const std::vector<uint8_t> bin = f.files.m["group1-shard1of1.bin"];
    std::vector<uint8_t> q;
    size_t off = 0;
    for (json& w : f.model["weightsManifest"][0]["weights"]) {
        size_t n = 1;
        for (const json& d : w["shape"]) n *= d.get<size_t>();
        std::vector<float> v(n);
        std::memcpy(v.data(), bin.data() + off, n * 4);
        off += n * 4;
        const float lo = *std::min_element(v.begin(), v.end()),
                    hi = *std::max_element(v.begin(), v.end());
        const float scale = hi > lo ? (hi - lo) / 255.f : 1.f;
        for (float x : v) q.push_back(static_cast<uint8_t>(std::lround((x - lo) / scale)));
        w["quantization"] = {{"dtype", "uint8"}, {"scale", scale}, {"min", lo}};
    }
    f.files.m["group1-shard1of1.bin"] = q;
    auto quantized = import_layers(f.model, f.files);
    ASSERT_TRUE(quantized) << quantized.status().message();
    const Tensor x = hashed_inputs(1, 48, 48, 1);
    const std::vector<float> a = run_layers(*plain, x), b = run_layers(*quantized, x);
    EXPECT_LT(test::max_abs_diff(a.data(), b.data(), 7), 0.05);
    EXPECT_GT(test::max_abs_diff(a.data(), b.data(), 7), 0.0) << "quantization had no effect?";
}

// --- Malformed files
// ----------------------------------------------------------------------------------

TEST(TfjsLayers, MissingWeight) {
    LayersFixture f = fixture("fer_sequential");
    f.model["weightsManifest"][0]["weights"][11]["name"] = "conv2d_9/bias";  // was conv2d_2/bias
    expect_layers_error(import_layers(f.model, f.files),
                        {"layer 'conv2d_2' (Conv2D)", "weight 'conv2d_2/bias' is missing"});
}

TEST(TfjsLayers, MissingShard) {
    LayersFixture f = fixture("rgb64");
    f.files.m.erase("group1-shard2of2.bin");
    expect_layers_error(import_layers(f.model, f.files),
                        {"'group1-shard2of2.bin'", "cannot be read"});
}

TEST(TfjsLayers, ShardTooShortOrTooLong) {
    LayersFixture f = fixture("fer_sequential");
    f.files.m["group1-shard1of1.bin"].resize(1000);
    expect_layers_error(
        import_layers(f.model, f.files),
        {"'group1-shard1of1.bin'", "hold 1000 bytes", "needs at least 2752", "conv2d_1/kernel"});
    f = fixture("fer_sequential");
    f.files.m["group1-shard1of1.bin"].resize(13952);
    expect_layers_error(import_layers(f.model, f.files), {"13952 bytes", "describes 13948"});
}

TEST(TfjsLayers, UnsupportedLayersAreListedAtOnce) {
    LayersFixture f = fixture("functional_mix");
    layer(f.model, "add")["class_name"] = "Lambda";
    layer(f.model, "elu")["class_name"] = "Lambda";
    layer(f.model, "conv2d_2")["class_name"] = "UpSampling2D";
    layer(f.model, "conv2d")["config"]["activation"] = "gelu";
    expect_layers_error(
        import_layers(f.model, f.files),
        {"unsupported layer classes: Lambda (layers add, elu), UpSampling2D (layer conv2d_2)",
         "unsupported activations: gelu (layer conv2d)"});
    f = fixture("fer_sequential");
    layer(f.model, "conv2d_1")["class_name"] = "Functional";
    expect_layers_error(
        import_layers(f.model, f.files),
        {"Functional (layer conv2d_1)", "a model nested as a layer is not supported"});
}

TEST(TfjsLayers, ChannelsFirstIsRejected) {
    LayersFixture f = fixture("fer_sequential");
    layer(f.model, "conv2d")["config"]["data_format"] = "channels_first";
    layer(f.model, "max_pooling2d_1")["config"]["data_format"] = "channels_first";
    expect_layers_error(
        import_layers(f.model, f.files),
        {"data_format 'channels_first' is not supported", "layers conv2d, max_pooling2d_1"});
}

TEST(TfjsLayers, WeightWithTheWrongShape) {
    LayersFixture f = fixture("fer_sequential");
    f.model["weightsManifest"][0]["weights"][15]["shape"] = {16,
                                                             108};  // dense/kernel, same byte count
    expect_layers_error(import_layers(f.model, f.files),
                        {"layer 'dense' (Dense)",
                         "weight 'dense/kernel' has shape [16,108] but the layer needs [108,16]"});
}

TEST(TfjsLayers, LayersWhoseShapesDoNotFit) {
    LayersFixture f = fixture("functional_mix");
    layer(f.model, "separable_conv2d")["config"]["strides"] = {2, 2};
    expect_layers_error(import_layers(f.model, f.files),
                        {"layer 'add' (Add)", "[1,17,16,8]", "[1,9,8,8]", "do not broadcast"});
    f = fixture("rgb64");
    layer(f.model, "reshape")["config"]["target_shape"] = {3, 5};
    expect_layers_error(import_layers(f.model, f.files),
                        {"layer 'reshape' (Reshape)", "cannot reshape [1,10]"});
    f = fixture("fer_sequential");
    layer(f.model, "average_pooling2d")["config"]["pool_size"] = {9, 9};
    layer(f.model, "average_pooling2d")["config"]["padding"] = "valid";
    expect_layers_error(import_layers(f.model, f.files),
                        {"layer 'average_pooling2d' (AveragePooling2D)"});
}

TEST(TfjsLayers, InputWithoutFixedSize) {
    LayersFixture f = fixture("fer_sequential");
    layer(f.model, "input_1")["config"]["batch_input_shape"] = {nullptr, nullptr, nullptr, 1};
    expect_layers_error(import_layers(f.model, f.files),
                        {"input 'input_1'", "[null,null,null,1]", "fixed size"});
}

TEST(TfjsLayers, UnexpressibleReluAndBadConfig) {
    LayersFixture f = fixture("fer_sequential");
    layer(f.model, "re_lu")["config"]["threshold"] = 0.5;
    expect_layers_error(import_layers(f.model, f.files), {"layer 're_lu' (ReLU)", "threshold 0.5"});
    f = fixture("fer_sequential");
    layer(f.model, "conv2d_2")["config"]["kernel_size"] = {3, 0};
    expect_layers_error(import_layers(f.model, f.files),
                        {"layer 'conv2d_2' (Conv2D)", "kernel_size [3,0]"});
    f = fixture("fer_sequential");
    layer(f.model, "conv2d")["config"]["padding"] = "causal";
    expect_layers_error(import_layers(f.model, f.files),
                        {"layer 'conv2d' (Conv2D)", "padding 'causal'"});
    f = fixture("fer_sequential");
    layer(f.model, "batch_normalization")["config"]["axis"] = 1;
    expect_layers_error(import_layers(f.model, f.files),
                        {"layer 'batch_normalization' (BatchNormalization)", "axis 1"});
}

TEST(TfjsLayers, BrokenTopology) {
    LayersFixture f = fixture("functional_mix");
    layer(f.model, "add")["inbound_nodes"][0][1][0] = "nope";
    expect_layers_error(import_layers(f.model, f.files),
                        {"layer 'add' reads layer 'nope', which is not in the model"});
    f = fixture("functional_mix");
    f.model["modelTopology"]["model_config"]["config"]["input_layers"].push_back(
        json::array({"conv2d", 0, 0}));
    expect_layers_error(import_layers(f.model, f.files), {"2 inputs (input_1, conv2d)"});
    f = fixture("functional_mix");
    json& conv = layer(f.model, "conv2d");
    conv["config"]["name"] = "add";
    conv["name"] = "add";
    expect_layers_error(import_layers(f.model, f.files), {"two layers are named 'add'"});
    expect_layers_error(
        import_tfjs_layers("{\"modelTopology\": 3}", LayerFiles{}.source(), "model.json"),
        {"model.json", "no modelTopology"});
    expect_layers_error(import_tfjs_layers("[1,", LayerFiles{}.source(), "model.json"),
                        {"not valid JSON"});
}

}  // namespace
}  // namespace tfjs_layers_test
}  // namespace cnnlens
