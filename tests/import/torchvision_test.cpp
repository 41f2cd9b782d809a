// torchvision classifiers with seeded random weights, exported to ONNX, against PyTorch
// (tests/oracle/torchvision_fixtures.py writes them into CNNLENS_TORCHVISION_DIR): on every
// compiled kernel set, probabilities within max(1e-5, 2x PyTorch float32's own error) of the
// float64 ones, and the input gradient of the top logit within max(1e-4, 2x PyTorch float32's
// error) of the float64 gradient, both errors as max |ours - truth| / max |truth|. Random inits
// leave some nets badly conditioned (their float32 gradient is far from the float64 one in
// PyTorch too), hence a tolerance tied to what float32 can reach on each model.
//
// Prints one line per model, opset and kernel set (read by scripts/torchvision_check.sh), SET
// followed by /float for the float32 tape (TapePrecision::kFloat):
//   [torchvision] NAME opset K SET imports|refused dp TOL grad TOL torch_f32 ERR ms MS
// With CNNLENS_TORCHVISION_TIME set, MS is a second (warm) forward pass, else the first.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/graph/executor.h"
#include "core/import/model.h"
#include "core/kernels/kernels.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

using json = nlohmann::json;

constexpr double kProbTol = 1e-5;
constexpr double kGradTol = 1e-4;

std::string fixture_dir() {
    const char* e = std::getenv("CNNLENS_TORCHVISION_DIR");
    return e && *e ? e : "";
}

bool under_ci() {
    const char* e = std::getenv("CI");
    return e && *e && std::string(e) != "0" && std::string(e) != "false";
}

// PyTorch's NCHW [1, C, H, W] as the engine's NHWC [1, H, W, C].
Tensor nhwc_from_nchw(const test::NpyArray& a) {
    const int64_t c = a.shape[1], h = a.shape[2], w = a.shape[3];
    Tensor t(Shape{1, h, w, c});
    for (int64_t k = 0; k < c; ++k)
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x)
                t[(y * w + x) * c + k] = static_cast<float>(a.values[size_t((k * h + y) * w + x)]);
    return t;
}

// max |ours - truth| / max |truth| with ours NHWC and truth NCHW [1, C, H, W]; `over` counts
// the elements whose own error exceeds tol * max |truth|.
double grad_error(const Tensor& ours, const test::NpyArray& truth, double tol, int64_t& over) {
    const int64_t c = truth.shape[1], h = truth.shape[2], w = truth.shape[3];
    double scale = 0, worst = 0;
    for (double v : truth.values) scale = std::max(scale, std::fabs(v));
    over = 0;
    for (int64_t k = 0; k < c; ++k)
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
                const double d = std::fabs(double(ours[(y * w + x) * c + k]) -
                                           truth.values[size_t((k * h + y) * w + x)]);
                worst = std::max(worst, d);
                if (d > tol * scale) ++over;
            }
    return scale > 0 ? worst / scale : INFINITY;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

class TorchvisionTest : public ::testing::TestWithParam<const KernelSet*> {};

TEST_P(TorchvisionTest, MatchesPyTorch) {
#ifdef __EMSCRIPTEN__
    // The reference loops compute the same under node as natively (the native release suite
    // compares them); what wasm adds is its SIMD128 kernels, the simd set.
    if (GetParam()->name == "reference")
        GTEST_SKIP() << "the reference set is compared in the native release build";
#endif
    const std::string dir = fixture_dir();
    if (dir.empty()) {
        if (under_ci())
            FAIL() << "CNNLENS_TORCHVISION_DIR is not set (CI is): scripts/test.sh generates it";
        GTEST_SKIP() << "CNNLENS_TORCHVISION_DIR is not set; generate fixtures with "
                        "/usr/bin/python3 tests/oracle/torchvision_fixtures.py --plan ci --out DIR";
    }
    std::ifstream f(dir + "/index.json");
    ASSERT_TRUE(f) << "no index.json in CNNLENS_TORCHVISION_DIR '" << dir << "'";
    const json index = json::parse(f, nullptr, false);
    ASSERT_TRUE(index.is_object() && index.contains("fixtures") && !index["fixtures"].empty())
        << dir << "/index.json lists no fixtures";
    const KernelSet& set = *GetParam();
    const bool time_warm = std::getenv("CNNLENS_TORCHVISION_TIME") != nullptr;
    // Every set with the default exact tape; the fast sets also with the float32 tape, whose
    // Winograd layers and float sums must stay within the same tolerance (printed as SET/float).
    std::vector<TapePrecision> precisions{TapePrecision::kExact};
    if (set.name != "reference") precisions.push_back(TapePrecision::kFloat);

    for (const json& e : index["fixtures"]) {
        const std::string name = e["name"].get<std::string>();
        const test::NpyArray input = test::read_npy(dir + "/" + e["input"].get<std::string>());
        const test::NpyArray probs = test::read_npy(dir + "/" + e["probs"].get<std::string>());
        const test::NpyArray grad = test::read_npy(dir + "/" + e["grad"].get<std::string>());
        ASSERT_TRUE(input.error.empty() && probs.error.empty() && grad.error.empty())
            << input.error << probs.error << grad.error;
        ASSERT_EQ(input.shape.size(), 4u) << name;
        ASSERT_EQ(grad.shape, input.shape) << name;
        const int cls = e["class"].get<int>();
        const double torch_grad_err = e["torch_f32_grad_err"].get<double>();
        const double prob_tol = std::max(kProbTol, 2 * e["torch_f32_prob_err"].get<double>());
        const double grad_tol = std::max(kGradTol, 2 * torch_grad_err);

        for (const auto& [opset, o] : e["opsets"].items()) {
            SCOPED_TRACE(name + " opset " + opset + " on " + std::string(set.name));
            if (o.contains("error")) {
                ADD_FAILURE() << "PyTorch could not export " << name << " at opset " << opset
                              << ": " << o["error"];
                continue;
            }
            auto model = load_model(dir + "/" + o["file"].get<std::string>());
            if (!model) {
                std::printf("[torchvision] %s opset %s %s refused: %s\n", name.c_str(),
                            opset.c_str(), std::string(set.name).c_str(),
                            model.status().message().c_str());
                ADD_FAILURE() << model.status().message();
                continue;
            }
            const Tensor x = nhwc_from_nchw(input);
            for (TapePrecision precision : precisions) {
                const std::string set_name =
                    std::string(set.name) + (precision == TapePrecision::kFloat ? "/float" : "");
                SCOPED_TRACE("tape precision " + std::string(tape_precision_name(precision)));
                Executor ex(model->graph, set);
                ex.set_tape_precision(precision);
                auto t0 = std::chrono::steady_clock::now();
                ASSERT_TRUE(ex.forward(x).is_ok());
                double ms = ms_since(t0);
                if (time_warm) {
                    t0 = std::chrono::steady_clock::now();
                    ASSERT_TRUE(ex.forward(x).is_ok());
                    ms = ms_since(t0);
                }
                const Tensor& logits = ex.value(model->logits);
                ASSERT_EQ(int64_t(logits.size()), int64_t(probs.values.size()));
                double top = -INFINITY, sum = 0, dp = 0;
                for (int64_t k = 0; k < logits.size(); ++k) top = std::max(top, double(logits[k]));
                for (int64_t k = 0; k < logits.size(); ++k)
                    sum += std::exp(double(logits[k]) - top);
                for (int64_t k = 0; k < logits.size(); ++k)
                    dp = std::max(dp, std::fabs(std::exp(double(logits[k]) - top) / sum -
                                                probs.values[size_t(k)]));
                EXPECT_LE(dp, prob_tol) << "max |p - p_torch64|";

                std::vector<Seed> seeds;
                seeds.push_back({model->logits, seed_class(logits.shape(), cls)});
                const int in = model->graph.input();
                std::vector<Tensor> g;
                ASSERT_TRUE(ex.backward(seeds, {&in, 1}, ReluRule::kStandard, g).is_ok());
                int64_t over = 0;
                const double err = grad_error(g[0], grad, grad_tol, over);
                EXPECT_LE(err, grad_tol)
                    << "input gradient of logit " << cls << ": max error / max |grad| " << err
                    << " on " << over << " of " << g[0].size()
                    << " elements (PyTorch float32: " << torch_grad_err << ")";
                std::printf(
                    "[torchvision] %s opset %s %s imports dp %.2e %.0e grad %.2e %.0e torch_f32 "
                    "%.2e "
                    "ms %.1f\n",
                    name.c_str(), opset.c_str(), set_name.c_str(), dp, prob_tol, err, grad_tol,
                    torch_grad_err, ms);
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllSets, TorchvisionTest,
                         ::testing::ValuesIn(compiled_kernel_sets().begin(),
                                             compiled_kernel_sets().end()),
                         [](const testing::TestParamInfo<const KernelSet*>& i) {
                             return test::kernel_test_name(*i.param);
                         });

}  // namespace
}  // namespace cnnlens
