// TF.js graph-model import: the bundled model, quantized manifests (uint8, uint16, float16
// dequantized on load), and bad files, each answered by an error naming the file/node and value.
#include "core/import/tfjs/tfjs_graph.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "core/graph/executor.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

using json = nlohmann::json;

const std::string kDir = "models/fer2013-mini-xception";

struct Files {
    std::map<std::string, std::vector<uint8_t>> m;
    FileSource source() const {
        return [this](const std::string& n) -> Expected<std::vector<uint8_t>> {
            auto it = m.find(n);
            if (it == m.end()) return not_found("no file '" + n + "'");
            return it->second;
        };
    }
};

json model_json() {
    const auto b = test::read_file(test::source_path(kDir + "/emotion.json"));
    return json::parse(b.begin(), b.end());
}
std::vector<uint8_t> weights_bin() {
    return test::read_file(test::source_path(kDir + "/emotion.bin"));
}

Expected<Graph> import(const json& j, const Files& f) {
    return import_tfjs_graph(j.dump(), f.source(), "model.json");
}

// Forward of the bundled model on a fixed random batch.
std::vector<float> run(Graph& g) {
    EXPECT_TRUE(g.validate().is_ok());
    Executor ex(g, reference_kernels());
    Rng rng(5);
    Tensor x = test::random_tensor({2, 64, 64, 1}, rng, 0.f, 1.f);
    EXPECT_TRUE(ex.forward(x).is_ok());
    const Tensor& y = ex.value(g.output());
    return {y.data(), y.data() + y.size()};
}

TEST(TfjsGraph, ImportsTheBundledModel) {
    Files f;
    f.m["emotion.bin"] = weights_bin();
    auto g = import(model_json(), f);
    ASSERT_TRUE(g) << g.status().message();
    EXPECT_EQ(g->node(g->output()).name, "Identity");
    const int conv = g->find("StatefulPartitionedCall/model_1/block1_conv2_act/Relu");
    ASSERT_GE(conv, 0);
    EXPECT_EQ(g->node(conv).shape, (Shape{1, 29, 29, 64}));
    EXPECT_EQ(std::get<ConvAttrs>(g->node(conv).attrs).activation, Activation::kRelu);
    const int dw =
        g->find("StatefulPartitionedCall/model_1/separable_conv2d_1/separable_conv2d/depthwise");
    ASSERT_GE(dw, 0);
    EXPECT_EQ(std::get<ConvAttrs>(g->node(dw).attrs).groups, 64);
}

// Rewrites every float32 weight of the manifest in `dtype` and returns the new shard.
std::vector<uint8_t> quantize(json& j, const std::vector<uint8_t>& bin, const std::string& dtype) {
    std::vector<uint8_t> out;
    size_t off = 0;
    for (json& w : j["weightsManifest"][0]["weights"]) {
        int64_t n = 1;
        for (auto& d : w["shape"]) n *= d.get<int64_t>();
        if (w["dtype"] != "float32") {
            out.insert(out.end(), bin.begin() + off, bin.begin() + off + n * 4);
            off += n * 4;
            continue;
        }
        std::vector<float> v(static_cast<size_t>(n));
        std::memcpy(v.data(), bin.data() + off, n * 4);
        off += n * 4;
        if (dtype == "float16") {
            for (float f : v) {  // round to nearest half (normal range is enough for these weights)
                uint32_t u;
                std::memcpy(&u, &f, 4);
                uint16_t h;
                const uint32_t sign = (u >> 16) & 0x8000;
                const int exp = static_cast<int>((u >> 23) & 0xff) - 127 + 15;
                uint32_t man = u & 0x7fffff;
                if (exp <= 0)
                    h = static_cast<uint16_t>(sign);
                else {
                    uint32_t hm = (man + 0x1000) >> 13;
                    int e = exp;
                    if (hm == 0x400) {
                        hm = 0;
                        ++e;
                    }
                    h = static_cast<uint16_t>(sign | (static_cast<uint32_t>(e) << 10) | hm);
                }
                out.push_back(h & 0xff);
                out.push_back(h >> 8);
            }
        } else {
            const float lo = *std::min_element(v.begin(), v.end()),
                        hi = *std::max_element(v.begin(), v.end());
            const int levels = dtype == "uint8" ? 255 : 65535;
            const float scale = hi > lo ? (hi - lo) / levels : 1.f;
            for (float f : v) {
                const auto q = static_cast<uint32_t>(std::lround((f - lo) / scale));
                out.push_back(q & 0xff);
                if (dtype == "uint16") out.push_back((q >> 8) & 0xff);
            }
            w["quantization"] = {{"dtype", dtype}, {"scale", scale}, {"min", lo}};
            continue;
        }
        w["quantization"] = {{"dtype", "float16"}};
    }
    return out;
}

TEST(TfjsGraph, DequantizesUint8Uint16Float16) {
    Files plain;
    plain.m["emotion.bin"] = weights_bin();
    auto g0 = import(model_json(), plain);
    ASSERT_TRUE(g0);
    const std::vector<float> ref = run(*g0);
    for (auto [dtype, tol] :
         {std::pair{"float16", 2e-3}, std::pair{"uint16", 2e-3}, std::pair{"uint8", 0.15}}) {
        SCOPED_TRACE(dtype);
        json j = model_json();
        Files f;
        f.m["emotion.bin"] = quantize(j, weights_bin(), dtype);
        auto g = import(j, f);
        ASSERT_TRUE(g) << g.status().message();
        const std::vector<float> got = run(*g);
        EXPECT_LT(test::max_abs_diff(got.data(), ref.data(), static_cast<int64_t>(ref.size())),
                  tol);
        EXPECT_GT(test::max_abs_diff(got.data(), ref.data(), static_cast<int64_t>(ref.size())), 0.0)
            << "quantization had no effect?";
    }
}

// Expects an error that contains every one of `words`.
void expect_error(const Expected<Graph>& g, std::initializer_list<std::string> words) {
    ASSERT_FALSE(g) << "import succeeded but should have failed";
    for (const std::string& w : words)
        EXPECT_NE(g.status().message().find(w), std::string::npos)
            << "'" << w << "' not in: " << g.status().message();
}

TEST(TfjsGraph, MissingShard) {
    expect_error(import(model_json(), Files{}), {"emotion.bin", "cannot be read"});
}

TEST(TfjsGraph, ShortShard) {
    Files f;
    f.m["emotion.bin"] = weights_bin();
    f.m["emotion.bin"].resize(1000);
    expect_error(import(model_json(), f), {"1000 bytes", "needs at least"});
}

TEST(TfjsGraph, ManifestDisagreesWithShardSize) {
    Files f;
    f.m["emotion.bin"] = weights_bin();
    f.m["emotion.bin"].resize(f.m["emotion.bin"].size() + 12);
    expect_error(import(model_json(), f), {"820528 bytes", "describes 820516"});
}

TEST(TfjsGraph, NonFiniteWeights) {
    Files f;
    f.m["emotion.bin"] = weights_bin();
    const float nan = NAN;
    std::memcpy(f.m["emotion.bin"].data() + 8, &nan, 4);
    expect_error(import(model_json(), f), {"unknown_26", "non-finite", "element 2"});
}

TEST(TfjsGraph, EveryUnsupportedOpListedAtOnce) {
    json j = model_json();
    for (json& n : j["modelTopology"]["node"]) {
        if (n["name"] == "StatefulPartitionedCall/model_1/add_1/add") n["op"] = "Erf";
        if (n["name"] == "StatefulPartitionedCall/model_1/add_2/add") n["op"] = "Erf";
        if (n["name"] == "StatefulPartitionedCall/model_1/predictions/Softmax")
            n["op"] = "LogSoftmax";
    }
    Files f;
    f.m["emotion.bin"] = weights_bin();
    expect_error(import(j, f), {"unsupported ops", "Erf (2 nodes", "add_1/add", "add_2/add",
                                "LogSoftmax (1 node", "predictions/Softmax"});
}

TEST(TfjsGraph, CycleIsRejected) {
    json j = model_json();
    for (json& n : j["modelTopology"]["node"])
        if (n["name"] == "StatefulPartitionedCall/model_1/block1_conv1_act/Relu")
            n["input"][0] = "StatefulPartitionedCall/model_1/block1_conv2_act/Relu";
    Files f;
    f.m["emotion.bin"] = weights_bin();
    expect_error(import(j, f), {"cycle"});
}

TEST(TfjsGraph, ShapeMismatchNamesTheNode) {
    json j = model_json();
    // The first conv's input is 1 channel; claim the image has 3.
    for (json& n : j["modelTopology"]["node"])
        if (n["op"] == "Placeholder") n["attr"]["shape"]["shape"]["dim"][3]["size"] = "3";
    Files f;
    f.m["emotion.bin"] = weights_bin();
    expect_error(import(j, f), {"block1_conv1_act/Relu", "3 channels"});
}

TEST(TfjsGraph, AbsurdDimensions) {
    json j = model_json();
    for (json& n : j["modelTopology"]["node"])
        if (n["op"] == "Placeholder") n["attr"]["shape"]["shape"]["dim"][1]["size"] = "100000000";
    Files f;
    f.m["emotion.bin"] = weights_bin();
    expect_error(import(j, f), {"input_1", "100000000"});
    json k = model_json();
    k["weightsManifest"][0]["weights"][0]["shape"] = {100000, 100000, 1000};
    expect_error(import(k, f), {"unknown_26", "elements (the limit)"});
    json m = model_json();
    m["weightsManifest"][0]["weights"][0]["shape"] = {3, -3, 1};
    expect_error(import(m, f), {"unknown_26", "-3"});
}

TEST(TfjsGraph, NotAGraphModel) {
    expect_error(import_tfjs_graph("{]", Files{}.source(), "model.json"),
                 {"model.json", "not valid JSON"});
    expect_error(import_tfjs_graph(
                     R"({"format":"layers-model","modelTopology":{"class_name":"Sequential"}})",
                     Files{}.source(), "model.json"),
                 {"layers model"});
    expect_error(import_tfjs_graph(R"({"modelTopology":{}})", Files{}.source(), "model.json"),
                 {"modelTopology.node"});
}

TEST(TfjsGraph, MalformedFieldTypesAreErrorsNotCrashes) {
    json j = model_json();
    j["modelTopology"]["node"][3]["name"] = 17;
    const auto g = load_model_from(
        [&](const std::string& n) -> Expected<std::vector<uint8_t>> {
            if (n == "model.json") {
                std::string s = j.dump();
                return std::vector<uint8_t>(s.begin(), s.end());
            }
            return weights_bin();
        },
        "model.json");
    ASSERT_FALSE(g);
    EXPECT_NE(g.status().message().find("model.json"), std::string::npos) << g.status().message();
}

TEST(ModelSpec, LoadsTheBundledSpec) {
    auto m = load_model(test::source_path(kDir));
    ASSERT_TRUE(m) << m.status().message();
    EXPECT_EQ(m->spec.input.height, 64);
    EXPECT_EQ(m->spec.input.channels, 1);
    ASSERT_EQ(m->num_classes(), 7);
    EXPECT_EQ(m->spec.classes[3], "happy");
    EXPECT_EQ(m->graph.node(m->logits).op, OpType::kMean);
    EXPECT_EQ(m->graph.node(m->probs).op, OpType::kSoftmax);
}

TEST(ModelSpec, BareModelJsonGetsInferredSpec) {
    auto m = load_model(test::source_path(kDir + "/emotion.json"));
    ASSERT_TRUE(m) << m.status().message();
    EXPECT_EQ(m->spec.classes.size(), 7u);  // 7 outputs: FER2013's classes
    EXPECT_EQ(m->spec.classes[6], "neutral");
    EXPECT_EQ(m->graph.node(m->logits).op, OpType::kMean);
}

TEST(ModelSpec, BadSpecFieldsAreNamed) {
    EXPECT_NE(parse_model_spec(R"({"model":"m.json","input":{"height":0}})")
                  .status()
                  .message()
                  .find("input.height"),
              std::string::npos);
    EXPECT_NE(parse_model_spec(R"({"model":"m.json","input":{"channels":2}})")
                  .status()
                  .message()
                  .find("channels"),
              std::string::npos);
    EXPECT_NE(parse_model_spec(R"({"model":"m.json","classes":"happy"})")
                  .status()
                  .message()
                  .find("classes"),
              std::string::npos);
    EXPECT_NE(parse_model_spec(R"({"input":{}})").status().message().find("'model'"),
              std::string::npos);
    EXPECT_NE(parse_model_spec(R"({"model":"m.json","input":{"mean":[0.5],"std":[0]}})")
                  .status()
                  .message()
                  .find("std"),
              std::string::npos);
}

TEST(ModelSpec, DisplayNames) {
    EXPECT_EQ(display_name("StatefulPartitionedCall/model_1/conv2d_5/BiasAdd"), "conv2d_5/BiasAdd");
    EXPECT_EQ(display_name("input_1"), "input_1");
}

}  // namespace
}  // namespace cnnlens
