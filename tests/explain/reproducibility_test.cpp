// Reproducibility across builds: for a seed, LIME, SmoothGrad and a filter picture on the
// reference kernel set give the values committed in tests/data/repro/expected.json — natively
// (gcc, clang+ASan) and compiled to WebAssembly (emscripten, musl's libm) alike. The committed
// values are 16x16 block means of each map plus its largest magnitude; a build agrees when
// every block is within kTolerance (1e-5) times that magnitude. Builds may differ in libm's
// last bits (exp, log, sin, cos in the Gaussian noise, SLIC and the Fourier basis) and in how
// the compiler orders float sums; measured (2026-11): gcc and clang+ASan give identical values,
// emscripten differs by 9e-8 of the magnitude on the filter picture and not at all on the others.
// CNNLENS_WRITE_REPRO=<file> writes the current build's values there instead of checking
// (how expected.json was made, natively, once).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/explain/explain.h"
#include "core/explain/filters.h"
#include "core/import/model.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

using json = nlohmann::json;
constexpr int kBlocks = 16;
constexpr uint64_t kSeed = 7;
constexpr double kTolerance = 1e-5;

// 16x16 block means of an [H, W] or [H, W, C] map (channels averaged) and max |value|.
json summarize(const Tensor& t, int h, int w) {
    const int64_t c = t.size() / (int64_t{h} * w);
    std::vector<double> blocks(kBlocks * kBlocks, 0.0), counts(kBlocks * kBlocks, 0.0);
    double scale = 0;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int64_t k = 0; k < c; ++k) {
                const double v = t[(int64_t{y} * w + x) * c + k];
                const size_t b = static_cast<size_t>((y * kBlocks / h) * kBlocks + x * kBlocks / w);
                blocks[b] += v;
                counts[b] += 1;
                scale = std::max(scale, std::abs(v));
            }
    for (size_t b = 0; b < blocks.size(); ++b) blocks[b] /= std::max(1.0, counts[b]);
    return {{"scale", scale}, {"blocks", blocks}};
}

class Reproducibility : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        auto m = load_model(test::source_path("models/fer2013-mini-xception"));
        ASSERT_TRUE(m) << m.status().message();
        model_ = new Model(std::move(*m));
        auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
        ASSERT_TRUE(img) << img.status().message();
        input_ = new Tensor(image_to_input(*img, model_->spec.input));
        results_ = new json(json::object());
    }
    static void TearDownTestSuite() {
        if (const char* out = std::getenv("CNNLENS_WRITE_REPRO");
            out && *out && results_->size() == 3) {
            std::ofstream(out) << results_->dump(1) << "\n";
            std::printf("wrote %s\n", out);
        }
        delete model_;
        delete input_;
        delete results_;
    }

    // Compares one method's summary with the committed one (or records it).
    static void check(const std::string& name, const json& got, double tolerance) {
        (*results_)[name] = got;
        if (const char* out = std::getenv("CNNLENS_WRITE_REPRO"); out && *out) return;
        const auto bytes = test::read_file(test::source_path("tests/data/repro/expected.json"));
        const json want = json::parse(bytes.begin(), bytes.end(), nullptr, false);
        ASSERT_TRUE(want.is_object() && want.contains(name))
            << "tests/data/repro/expected.json has no '" << name << "'";
        const double scale = want[name]["scale"].get<double>();
        ASSERT_GT(scale, 0.0);
        EXPECT_NEAR(got["scale"].get<double>(), scale, tolerance * scale)
            << name << ": largest magnitude";
        const auto& a = got["blocks"];
        const auto& b = want[name]["blocks"];
        ASSERT_EQ(a.size(), b.size());
        double worst = 0;
        for (size_t i = 0; i < a.size(); ++i)
            worst = std::max(worst, std::abs(a[i].get<double>() - b[i].get<double>()));
        std::printf(
            "%s: largest block difference %.3g (%.3g of the map's largest magnitude %.4g; "
            "tolerance %.0e)\n",
            name.c_str(), worst, worst / scale, scale, tolerance);
        EXPECT_LE(worst, tolerance * scale) << name;
    }

    static Expected<Explanation> explain(const std::string& method, const Params& p) {
        GraphProbe probe(*model_, reference_kernels());
        ExplainContext ctx(probe);
        ctx.seed = kSeed;
        return find_method(method)->explain(*input_, Target{3, -1, Target::Score::kLogit}, p, ctx);
    }

    static Model* model_;
    static Tensor* input_;
    static json* results_;
};
Model* Reproducibility::model_ = nullptr;
Tensor* Reproducibility::input_ = nullptr;
json* Reproducibility::results_ = nullptr;

TEST_F(Reproducibility, SmoothGrad) {
    auto e = explain("smoothgrad", Params().set("samples", 8));
    ASSERT_TRUE(e) << e.status().message();
    check("smoothgrad", summarize(e->map, e->height, e->width), kTolerance);
}

TEST_F(Reproducibility, Lime) {
    Target t{3, -1, Target::Score::kProbability};
    GraphProbe probe(*model_, reference_kernels());
    ExplainContext ctx(probe);
    ctx.seed = kSeed;
    auto e =
        find_method("lime")->explain(*input_, t, Params().set("samples", 32).set("batch", 32), ctx);
    ASSERT_TRUE(e) << e.status().message();
    check("lime", summarize(e->map, e->height, e->width), kTolerance);
}

TEST_F(Reproducibility, FilterPicture) {
    GraphProbe probe(*model_, reference_kernels());
    const int layer = model_->graph.find("StatefulPartitionedCall/model_1/block1_conv2_act/Relu");
    ASSERT_GE(layer, 0);
    AscentParams p;
    p.steps = 8;
    p.seed = kSeed;
    auto f = visualize_filter(probe, layer, 5, p);
    ASSERT_TRUE(f) << f.status().message();
    check("filter",
          summarize(f->image, static_cast<int>(f->image.shape()[0]),
                    static_cast<int>(f->image.shape()[1])),
          kTolerance);
}

}  // namespace
}  // namespace cnnlens
