// KernelSHAP, the Partition explainer and XRAI against independent float64 numpy implementations
// (tests/oracle/shap_oracle.py writes tests/data/shap/ and its fixtures.json) on the bundled model
// and on the ONNX fixture resnet48. The oracle's segments (skimage's) are passed in, so the
// comparison is of the estimators, with the model's float32 scores against float64 ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/explain/explain.h"
#include "core/explain/method_util.h"
#include "core/import/model.h"
#include "core/kernels/kernels.h"
#include "tests/test_util.h"

namespace cnnlens {
// A named namespace: the suite may compile as a unity build, where file-local names must not meet.
namespace shap_oracle_test {

using json = nlohmann::json;

const json& fixtures() {
    static const json j = [] {
        std::ifstream f(test::source_path("tests/data/shap/fixtures.json"));
        return f ? json::parse(f, nullptr, false) : json();
    }();
    return j;
}

// The entries of `method` with role `role` (failing when there are none).
std::vector<json> entries(const std::string& method, const std::string& role) {
    std::vector<json> out;
    if (fixtures().is_object())
        for (const json& e : fixtures()["files"])
            if (e.value("method", "") == method && e.value("role", "") == role) out.push_back(e);
    EXPECT_FALSE(out.empty())
        << "no '" << method << "' fixtures in tests/data/shap/fixtures.json; run "
        << "/usr/bin/python3 tests/oracle/shap_oracle.py from the repository root";
    return out;
}

std::vector<int32_t> read_i32(const std::string& name) {
    const std::vector<unsigned char> b =
        test::read_file(test::source_path("tests/data/shap/" + name));
    std::vector<int32_t> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), v.size() * 4);
    return v;
}

std::vector<float> read_f32(const std::string& name) {
    return test::read_f32(test::source_path("tests/data/shap/" + name));
}

// A model and one input of it, as a fixture entry names them.
struct Case {
    const Model* model = nullptr;
    Tensor x;
};

Case case_of(const json& e) {
    static const Model resnet = [] {
        auto m = load_model(test::source_path("tests/data/onnx/resnet48.opset17.onnx"));
        EXPECT_TRUE(m) << m.status().message();
        return m ? std::move(*m) : Model{};
    }();
    Case c;
    if (e["model"].get<std::string>() == "bundled") {
        static const std::vector<float> all =
            test::read_f32(test::source_path("tests/data/oracle/inputs.f32"));
        const size_t k = e["input_index"].get<size_t>();
        c.model = &test::default_model();
        c.x.reset(Shape{1, 64, 64, 1});
        std::copy(all.begin() + static_cast<int64_t>(k * 4096),
                  all.begin() + static_cast<int64_t>((k + 1) * 4096), c.x.data());
    } else {
        const std::vector<unsigned char> u8 =
            test::read_file(test::source_path("tests/data/onnx/resnet48.inputs.u8"));
        c.model = &resnet;
        c.x.reset(Shape{1, 48, 48, 1});
        for (int64_t i = 0; i < c.x.size(); ++i)
            c.x[i] = static_cast<float>(u8[static_cast<size_t>(i)]) / 255.f;
    }
    return c;
}

Target target_of(const json& e) {
    Target t{e["class"].get<int>()};
    t.score = e["score"].get<std::string>() == "probability" ? Target::Score::kProbability
                                                             : Target::Score::kLogit;
    return t;
}

// The oracle's values to 1e-4 (rel L2): float32 scores against float64 ones move a value by about
// 1e-7 of the scores' range, and the same coalitions (replayed from the seed) are solved.
TEST(ShapOracle, KernelShapMatchesNumpy) {
    for (const json& e : entries("kernel_shap", "values")) {
        SCOPED_TRACE(e["name"].get<std::string>());
        const Case c = case_of(e);
        ASSERT_NE(c.model, nullptr);
        const std::string tag = e["case"].get<std::string>();
        const std::vector<int32_t> labels = read_i32(tag + "_kernel_shap_segments.i32");
        const int h = static_cast<int>(c.x.shape()[1]), w = static_cast<int>(c.x.shape()[2]);
        ASSERT_EQ(labels.size(), size_t(h) * w);
        Segmentation seg{h,
                         w,
                         *std::max_element(labels.begin(), labels.end()) + 1,
                         {labels.begin(), labels.end()}};
        GraphProbe probe(*c.model, *select_kernel_set());
        ExplainContext ctx(probe);
        ctx.seed = e["seed"].get<uint64_t>();
        auto r =
            kernel_shap_on_segments(*find_method("kernel_shap"), c.x, target_of(e),
                                    Params().set("samples", e["samples"].get<double>()), ctx, seg);
        ASSERT_TRUE(r) << r.status().message();
        const std::vector<float> want = read_f32(e["name"].get<std::string>());
        ASSERT_EQ(want.size(), r->segment_weights.size());
        EXPECT_EQ(r->stats["samples"], e["coalitions"].get<double>());
        EXPECT_NEAR(r->stats["score"], e["score_x"].get<double>(), 1e-5);
        EXPECT_NEAR(r->stats["base"], e["score_base"].get<double>(), 1e-5);
        const double err =
            test::rel_l2(r->segment_weights.data(), want.data(), static_cast<int64_t>(want.size()));
        std::printf("[shap oracle] kernel_shap %-9s rel L2 %.3e\n", tag.c_str(), err);
        EXPECT_LT(err, 1e-4);
    }
}

// Partition SHAP: the same tree, budget and rounds; the traversal is decided by comparing
// |delta| w between items, so the two implementations agree while no two priorities lie within
// float32 rounding of each other, and then to the scores' precision.
TEST(ShapOracle, PartitionShapMatchesNumpy) {
    for (const json& e : entries("partition_shap", "values")) {
        SCOPED_TRACE(e["name"].get<std::string>());
        const Case c = case_of(e);
        GraphProbe probe(*c.model, *select_kernel_set());
        ExplainContext ctx(probe);
        const Params p = Params()
                             .set("max_evals", e["max_evals"].get<double>())
                             .set("blur", e["blur"].get<double>())
                             .set("batch", e["batch"].get<double>());
        auto r = find_method("partition_shap")->explain(c.x, target_of(e), p, ctx);
        ASSERT_TRUE(r) << r.status().message();
        const std::vector<float> want = read_f32(e["name"].get<std::string>());
        ASSERT_EQ(int64_t(want.size()), r->attribution.size());
        EXPECT_EQ(r->stats["evaluations"], e["evaluations"].get<double>());
        EXPECT_NEAR(r->stats["base"], e["score_base"].get<double>(), 1e-5);
        const double err =
            test::rel_l2(r->attribution.data(), want.data(), static_cast<int64_t>(want.size()));
        std::printf("[shap oracle] partition_shap %-9s rel L2 %.3e\n",
                    e["case"].get<std::string>().c_str(), err);
        EXPECT_LT(err, 1e-4);
    }
}

// XRAI with PAIR's segments (skimage's, passed in): IG from black and white to the float32/float64
// IG tolerance of torch_oracle_test (1e-3: ReLU inputs and max-pool ties within rounding of zero
// near a baseline; case 1 lands 2.6e-4 apart, case 0 1.2e-7), then the same regions in the same
// order (ranks equal pixel for pixel); the map, the regions' means of that IG, within the same
// 1e-3.
TEST(ShapOracle, XraiMatchesNumpy) {
    for (const json& e : entries("xrai", "map")) {
        SCOPED_TRACE(e["name"].get<std::string>());
        const Case c = case_of(e);
        const std::string tag = e["case"].get<std::string>();
        const std::vector<int32_t> labels = read_i32(tag + "_xrai_segments.i32");
        const size_t hw = size_t(c.x.shape()[1] * c.x.shape()[2]);
        ASSERT_EQ(labels.size() % hw, 0u);
        std::vector<Segmentation> segs;
        for (size_t k = 0; k < labels.size() / hw; ++k) {
            Segmentation s{
                int(c.x.shape()[1]),
                int(c.x.shape()[2]),
                0,
                {labels.begin() + int64_t(k * hw), labels.begin() + int64_t((k + 1) * hw)}};
            s.count = *std::max_element(s.labels.begin(), s.labels.end()) + 1;
            segs.push_back(std::move(s));
        }
        GraphProbe probe(*c.model, *select_kernel_set());
        ExplainContext ctx(probe);
        const Params p = Params()
                             .set("steps", e["steps"].get<double>())
                             .set("dilation", e["dilation"].get<double>())
                             .set("min_pixel_diff", e["min_pixel_diff"].get<double>());
        auto r = xrai_on_segments(*find_method("xrai"), c.x, target_of(e), p, ctx, segs);
        ASSERT_TRUE(r) << r.status().message();
        const std::vector<float> attr = read_f32(tag + "_xrai_attribution.f32");
        const double attr_err =
            test::rel_l2(r->attribution.data(), attr.data(), r->attribution.size());
        EXPECT_LT(attr_err, 1e-3);
        EXPECT_EQ(r->stats["regions"], e["regions"].get<double>());
        const std::vector<int32_t> ranks = read_i32(tag + "_xrai_ranks.i32");
        int differ = 0;
        for (size_t i = 0; i < hw; ++i)
            differ += int(r->extras.at("ranks")[int64_t(i)]) != ranks[i];
        EXPECT_EQ(differ, 0);
        const std::vector<float> want = read_f32(e["name"].get<std::string>());
        const double err = test::rel_l2(r->map.data(), want.data(), r->map.size());
        std::printf("[shap oracle] xrai %-9s map rel L2 %.3e, IG %.3e, %d regions\n", tag.c_str(),
                    err, attr_err, int(r->stats["regions"]));
        EXPECT_LT(err, 1e-3);
    }
}

}  // namespace shap_oracle_test
}  // namespace cnnlens
