// The reference-based methods (issue 18): GradientSHAP's expected completeness on a linear
// model and its independence of the batch size for one seed; DeepLIFT's summation-to-delta on a
// small net with sigmoid, tanh, fused ReLU, bias and MaxPool (every kernel set) and on the
// bundled model (DeepSHAP too) and on ONNX fixtures; a model with an op without a rescale rule is
// refused by name.
// The torch oracle test compares the three with a float64 PyTorch implementation.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/explain/explain.h"
#include "core/explain/probe.h"
#include "core/graph/executor.h"
#include "core/image/image.h"
#include "core/import/model.h"
#include "core/kernels/kernels.h"
#include "tests/explain/analytic_probe.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

using test::random_image;

// On f(x) = W x + b every draw's attribution is W * (x' - x0), whatever alpha: with the black
// baseline and no noise it is W * x exactly (black is 0 for this [0, 1] probe), and its sum is
// f(x) - f(black).
TEST(GradientShap, LinearModelBlackBaselineIsExact) {
    test::AnalyticProbe probe(6, 7, 3, 11);
    ExplainContext ctx(probe);
    const Tensor x = random_image(6, 7, 12);
    auto e = find_method("gradient_shap")
                 ->explain(x, Target{1}, Params().set("baselines", 1).set("samples", 8), ctx);
    ASSERT_TRUE(e) << e.status().message();
    double want = 0;
    for (int j = 0; j < 42; ++j) {
        const double a = double(probe.weights()[42 + j]) * x[j];
        EXPECT_NEAR(e->attribution[j], a, 1e-6);
        want += a;
    }
    EXPECT_NEAR(e->stats["sum_attributions"], want, 1e-5);
}

// Expected completeness with noise on both the input and the baseline: the mean attribution
// tends to W * (x - E[x0]) = W * x; at 4000 draws of sigma 0.1 and 0.2 each pixel's mean is
// within 4 standard errors (sqrt(0.1^2 + 0.2^2) / sqrt(4000) |W| = 0.0035 |W|).
TEST(GradientShap, LinearModelExpectedCompleteness) {
    test::AnalyticProbe probe(5, 5, 2, 13);
    ExplainContext ctx(probe);
    ctx.seed = 3;
    const Tensor x = random_image(5, 5, 14);
    const Params p = Params()
                         .set("baselines", 2)
                         .set("samples", 4000)
                         .set("noise", 0.1)
                         .set("baseline_noise", 0.2);
    auto e = find_method("gradient_shap")->explain(x, Target{0}, p, ctx);
    ASSERT_TRUE(e) << e.status().message();
    double want = 0;
    for (int j = 0; j < 25; ++j) {
        const double w = probe.weights()[j];
        EXPECT_NEAR(e->attribution[j], w * x[j], 4 * 0.0035 * std::fabs(w) + 1e-6) << j;
        want += w * x[j];
    }
    EXPECT_NEAR(e->stats["sum_attributions"], want, 0.05 * std::fabs(want) + 0.02);
}

// One seed, one map: the draws come from per-sample streams, so the batch size does not matter
// and a second run repeats the first; another seed gives another map.
TEST(GradientShap, DeterministicForASeedWhateverTheBatch) {
    test::AnalyticProbe probe(6, 6, 2, 15, 0.5f);  // quadratic, so alpha and the baseline matter
    const Tensor x = random_image(6, 6, 16);
    auto run = [&](int batch, uint64_t seed) {
        ExplainContext ctx(probe);
        ctx.seed = seed;
        auto e =
            find_method("gradient_shap")
                ->explain(x, Target{1},
                          Params().set("samples", 9).set("batch", batch).set("noise", 0.05), ctx);
        EXPECT_TRUE(e) << e.status().message();
        return e->attribution.clone();
    };
    const Tensor a = run(50, 5), b = run(2, 5), c = run(50, 5), d = run(50, 6);
    bool differs = false;
    for (int64_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i], b[i]);
        EXPECT_EQ(a[i], c[i]);
        differs |= a[i] != d[i];
    }
    EXPECT_TRUE(differs) << "seed 6 gave seed 5's map";
}

// x [N,6,6,2] -> conv 3x3 + bias (ReLU fused) -> Sigmoid -> MaxPool 2x2 -> Tanh -> Mean over
// H, W -> MatMul + bias -> logits [N,3]. `gate` multiplies the Tanh output by itself: a product
// of two activations, which has no rescale rule.
struct SmallNet {
    Graph g;
    int logits = -1;
};

SmallNet small_net(Rng& rng, bool gate = false) {
    SmallNet n;
    Graph& g = n.g;
    const int x = g.add_input("x", Shape{-1, 6, 6, 2});
    ConvAttrs ca;
    ca.padding = PaddingMode::kSame;
    ca.activation = Activation::kRelu;
    const int c1 = g.add_node("conv", OpType::kConv2D, ca,
                              {x, g.add_const("w1", test::random_tensor(Shape{3, 3, 2, 4}, rng)),
                               g.add_const("b1", test::random_tensor(Shape{4}, rng, -0.3f, 0.3f))});
    const int s = g.add_node("sig", OpType::kSigmoid, NoAttrs{}, {c1});
    PoolAttrs pa;
    pa.kernel_h = pa.kernel_w = pa.stride_h = pa.stride_w = 2;
    const int p = g.add_node("pool", OpType::kMaxPool, pa, {s});
    int t = g.add_node("tanh", OpType::kTanh, NoAttrs{}, {p});
    if (gate) t = g.add_node("gate", OpType::kMul, NoAttrs{}, {t, t});
    const int m = g.add_node("gap", OpType::kMean, ReduceAttrs{{1, 2}, false}, {t});
    n.logits = g.add_node("fc", OpType::kMatMul, MatMulAttrs{},
                          {m, g.add_const("wfc", test::random_tensor(Shape{4, 3}, rng)),
                           g.add_const("bfc", test::random_tensor(Shape{3}, rng))});
    g.set_output(n.logits);
    return n;
}

// The multipliers of the input for logit `cls` of each of the n images of `x` against `x0` (one
// reference per image), and the logits of both.
Status multipliers(Executor& ex, const SmallNet& n, const Tensor& x, const Tensor& x0, int cls,
                   Tensor& m, Tensor& logits) {
    Shape s = x.shape();
    const int64_t rows = s[0];
    s[0] = 2 * rows;
    Tensor both(s);
    std::copy(x.data(), x.data() + x.size(), both.data());
    std::copy(x0.data(), x0.data() + x0.size(), both.data() + x.size());
    CNNLENS_RETURN_IF_ERROR(ex.forward(both));
    logits = ex.value(n.logits).clone();
    Tensor seed(logits.shape(), 0.f);
    for (int64_t i = 0; i < rows; ++i) seed[i * 3 + cls] = 1.f;
    std::vector<Seed> seeds;
    seeds.push_back({n.logits, std::move(seed)});
    const int in = n.g.input();
    std::vector<Tensor> got;
    CNNLENS_RETURN_IF_ERROR(ex.deeplift(seeds, {&in, 1}, got));
    m = std::move(got[0]);
    return Status::ok();
}

// Summation-to-delta: sum((x - x0) * m) = logit(x) - logit(x0) per image, through the sigmoid,
// tanh, fused ReLU, biases and MaxPool (whose winners at x and x0 differ for random images).
TEST(DeepLift, SummationToDeltaOnASmallNetWithSigmoid) {
    for (const KernelSet* ks : compiled_kernel_sets()) {
        SCOPED_TRACE(test::kernel_test_name(*ks));
        Rng rng(21);
        SmallNet n = small_net(rng);
        ASSERT_TRUE(n.g.validate().is_ok()) << n.g.validate().message();
        Executor ex(n.g, *ks);
        const Tensor x = test::random_tensor(Shape{3, 6, 6, 2}, rng, -2.f, 2.f);
        const Tensor x0 = test::random_tensor(Shape{3, 6, 6, 2}, rng, -2.f, 2.f);
        for (int cls = 0; cls < 3; ++cls) {
            Tensor m, lg;
            ASSERT_TRUE(multipliers(ex, n, x, x0, cls, m, lg).is_ok());
            ASSERT_EQ(m.shape(), (Shape{6, 6, 6, 2}));
            const int64_t per = 72;
            for (int64_t i = 0; i < 3; ++i) {
                double sum = 0, scale = 0;
                for (int64_t j = 0; j < per; ++j) {
                    const double a = double(x[i * per + j] - x0[i * per + j]) * m[i * per + j];
                    sum += a;
                    scale += std::fabs(a);
                    EXPECT_EQ(m[(3 + i) * per + j], 0.f) << "the references' rows are zero";
                }
                const double delta = double(lg[i * 3 + cls]) - lg[(3 + i) * 3 + cls];
                EXPECT_NEAR(sum, delta, 1e-5 * (1 + scale)) << "image " << i << " class " << cls;
                EXPECT_GT(std::fabs(delta), 1e-4) << "a degenerate case";
            }
        }
    }
}

// Where the input equals its reference nowhere in a linear region, DeepLIFT is not the gradient:
// the rescale rule differs from Gradient x (x - x0) on this net (a check that the rule ran).
TEST(DeepLift, DiffersFromGradientTimesDelta) {
    Rng rng(22);
    SmallNet n = small_net(rng);
    ASSERT_TRUE(n.g.validate().is_ok());
    Executor ex(n.g, reference_kernels());
    const Tensor x = test::random_tensor(Shape{1, 6, 6, 2}, rng, -2.f, 2.f);
    const Tensor x0 = test::random_tensor(Shape{1, 6, 6, 2}, rng, -2.f, 2.f);
    Tensor m, lg;
    ASSERT_TRUE(multipliers(ex, n, x, x0, 0, m, lg).is_ok());
    ASSERT_TRUE(ex.forward(x).is_ok());
    std::vector<Seed> seeds;
    seeds.push_back({n.logits, seed_class(ex.value(n.logits).shape(), 0)});
    const int in = n.g.input();
    std::vector<Tensor> g;
    ASSERT_TRUE(ex.backward(seeds, {&in, 1}, ReluRule::kStandard, g).is_ok());
    EXPECT_GT(test::rel_l2(m.data(), g[0].data(), 72), 0.05);
}

TEST(DeepLift, RefusesAModelWithAnOpWithoutARule) {
    Rng rng(23);
    SmallNet n = small_net(rng, true);
    ASSERT_TRUE(n.g.validate().is_ok()) << n.g.validate().message();
    Executor ex(n.g, reference_kernels());
    const Tensor x = test::random_tensor(Shape{1, 6, 6, 2}, rng);
    Tensor m, lg;
    const Status s = multipliers(ex, n, x, x, 0, m, lg);
    ASSERT_FALSE(s.is_ok());
    EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
    EXPECT_NE(s.message().find("Mul"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("gate"), std::string::npos) << s.message();
}

struct Bundled {
    Model model;
    std::unique_ptr<GraphProbe> probe;
    Tensor face;
    Bundled() {
        auto m = load_model(test::source_path("models/fer2013-mini-xception"));
        EXPECT_TRUE(m) << m.status().message();
        model = std::move(*m);
        probe = std::make_unique<GraphProbe>(model, *select_kernel_set());
        auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
        face = image_to_input(*img, model.spec.input);
    }
};

Bundled& bundled() {
    static Bundled b;
    return b;
}

// On the bundled model (separable convolutions, BatchNorm folded, fused ReLUs, MaxPool in every
// residual block, global average pooling) the attributions sum to the logit's difference, for
// both baselines and for a contrast; DeepSHAP's mean sums to the mean difference.
TEST(DeepLift, SummationToDeltaOnTheBundledModel) {
    ExplainContext ctx(*bundled().probe);
    for (int baseline : {0, 1})
        for (Target t : {Target{3}, Target{3, 4}}) {
            SCOPED_TRACE("baseline " + std::to_string(baseline) + " contrast " +
                         std::to_string(t.contrast));
            auto e = find_method("deeplift")
                         ->explain(bundled().face, t, Params().set("baseline", baseline), ctx);
            ASSERT_TRUE(e) << e.status().message();
            EXPECT_GT(std::fabs(e->stats["score_delta"]), 0.1);
            EXPECT_LT(e->stats["completeness_relative_error"], 1e-3)
                << e->stats["sum_attributions"] << " vs " << e->stats["score_delta"];
        }
    for (int kind : {0, 2}) {
        auto e =
            find_method("deepshap")
                ->explain(bundled().face, Target{3},
                          Params().set("samples", 6).set("baselines", kind).set("batch", 4), ctx);
        ASSERT_TRUE(e) << e.status().message();
        EXPECT_LT(e->stats["completeness_relative_error"], 1e-3)
            << e->stats["sum_attributions"] << " vs " << e->stats["score_delta"];
    }
}

// The ONNX fixtures: a ResNet (residual Add, BatchNorm, standalone ReLU, Gemm), one with every
// element-wise activation the importer maps, and depthwise-separable convolutions hold
// summation-to-delta against the black image; attention (BatchMatMul of two activations) and a
// ConvNeXt (LayerNorm) are refused with the op and node named.
TEST(DeepLift, SummationToDeltaOnOnnxFixtures) {
    auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
    ASSERT_TRUE(img);
    for (const char* name : {"resnet48.opset17", "act48.opset17", "dwsep48.opset11",
                             "attn32.opset17", "convnext32.opset17"}) {
        SCOPED_TRACE(name);
        auto m = load_model(test::source_path(std::string("tests/data/onnx/") + name + ".onnx"));
        ASSERT_TRUE(m) << m.status().message();
        GraphProbe probe(*m, *select_kernel_set());
        ExplainContext ctx(probe);
        auto e = find_method("deeplift")
                     ->explain(image_to_input(*img, m->spec.input), Target{1}, Params(), ctx);
        const std::string n = name;
        if (n.starts_with("attn") || n.starts_with("convnext")) {
            ASSERT_FALSE(e);
            EXPECT_EQ(e.status().code(), ErrorCode::kUnsupported);
            EXPECT_NE(e.status().message().find(n.starts_with("attn") ? "BatchMatMul (node '"
                                                                      : "LayerNorm (node '"),
                      std::string::npos)
                << e.status().message();
            continue;
        }
        ASSERT_TRUE(e) << e.status().message();
        EXPECT_GT(std::fabs(e->stats["score_delta"]), 1e-4);
        EXPECT_LT(e->stats["completeness_relative_error"], 1e-4)
            << e->stats["sum_attributions"] << " vs " << e->stats["score_delta"];
    }
}

// DeepLIFT explains logits only, and says so.
TEST(DeepLift, RefusesProbabilityTargets) {
    ExplainContext ctx(*bundled().probe);
    Target t{3};
    t.score = Target::Score::kProbability;
    for (const char* name : {"deeplift", "deepshap"}) {
        auto e = find_method(name)->explain(bundled().face, t, Params(), ctx);
        ASSERT_FALSE(e);
        EXPECT_NE(e.status().message().find("logit"), std::string::npos) << e.status().message();
    }
}

}  // namespace
}  // namespace cnnlens
