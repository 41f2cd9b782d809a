// Model-randomization sanity check on the bundled FER2013 model: deep copies are identical and
// independent, re-initialised layers keep their weight scale, saliency correlates perfectly at
// step 0 and decorrelates as layers are randomized; rank correlation and SSIM basics.
#include "core/eval/sanity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "tests/test_util.h"

namespace cnnlens {
namespace {

struct SanityFixture {
    Model model;
    Tensor image;
};

const SanityFixture& fer() {
    static const SanityFixture f = [] {
        SanityFixture x;
        auto m = load_model(test::source_path("models/fer2013-mini-xception"));
        EXPECT_TRUE(m) << m.status().message();
        if (m) x.model = std::move(*m);
        auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
        EXPECT_TRUE(img) << img.status().message();
        if (img && m) x.image = image_to_input(*img, x.model.spec.input);
        return x;
    }();
    return f;
}

double weight_std(const Tensor& t) {
    double mean = 0, sq = 0;
    for (int64_t i = 0; i < t.size(); ++i) mean += t[i];
    mean /= static_cast<double>(t.size());
    for (int64_t i = 0; i < t.size(); ++i) sq += (t[i] - mean) * (t[i] - mean);
    return std::sqrt(sq / static_cast<double>(t.size()));
}

TEST(Sanity, CloneIsIdenticalAndIndependent) {
    const SanityFixture& f = fer();
    ASSERT_FALSE(f.image.empty());
    Model copy = clone_model(f.model);
    ASSERT_EQ(copy.graph.size(), f.model.graph.size());
    EXPECT_EQ(copy.logits, f.model.logits);
    EXPECT_EQ(copy.graph.find("Identity"), f.model.graph.find("Identity"));
    GraphProbe a(f.model, reference_kernels()), b(copy, reference_kernels());
    auto ra = a.run(f.image, ProbeRequest{});
    auto rb = b.run(f.image, ProbeRequest{});
    ASSERT_TRUE(ra && rb);
    for (int c = 0; c < 7; ++c) EXPECT_EQ(ra->logits[c], rb->logits[c]);

    const std::vector<int> layers = randomizable_layers(copy.graph);
    ASSERT_EQ(layers.size(), 13u);  // 13 Conv2D (4 depthwise), no MatMul
    EXPECT_EQ(display_name(copy.graph.node(layers.front()).name), "conv2d_5/BiasAdd");
    EXPECT_LT(layers.back(), layers.front());
    const int w = copy.graph.node(layers.front()).inputs[1];
    const float before = f.model.graph.node(w).value[0];
    ASSERT_TRUE(randomize_layer(copy.graph, layers.front(), 7).is_ok());
    EXPECT_EQ(f.model.graph.node(w).value[0], before);  // the original is untouched
    EXPECT_NE(copy.graph.node(w).value[0], before);
    const double s0 = weight_std(f.model.graph.node(w).value),
                 s1 = weight_std(copy.graph.node(w).value);
    EXPECT_NEAR(s1 / s0, 1.0, 0.1);
    // The noise depends on (seed, node) only.
    Model again = clone_model(f.model);
    ASSERT_TRUE(randomize_layer(again.graph, layers.front(), 7).is_ok());
    EXPECT_EQ(again.graph.node(w).value[5], copy.graph.node(w).value[5]);
    EXPECT_FALSE(randomize_layer(copy.graph, f.model.logits, 7).is_ok());
}

TEST(Sanity, SpearmanAndSsim) {
    const std::vector<float> a = {1, 2, 3, 4, 5}, b = {10, 20, 30, 40, 1000}, c = {5, 4, 3, 2, 1};
    EXPECT_DOUBLE_EQ(spearman(a, b), 1.0);
    EXPECT_DOUBLE_EQ(spearman(a, c), -1.0);
    const std::vector<float> ties = {1, 1, 2, 2, 3}, flat = {4, 4, 4, 4, 4};
    // Average ranks: ties -> 0.5, 0.5, 2.5, 2.5, 4 against 0..4.
    EXPECT_NEAR(spearman(a, ties), 0.9486832980505138, 1e-12);
    EXPECT_EQ(spearman(a, flat), 0.0);
    Rng rng(3);
    Tensor x = test::random_tensor(Shape{16, 16}, rng, 0.f, 1.f),
           y = test::random_tensor(Shape{16, 16}, rng, 0.f, 1.f);
    EXPECT_NEAR(ssim(x, x), 1.0, 1e-12);
    EXPECT_LT(ssim(x, y), 0.2);
}

TEST(Sanity, SaliencyDecorrelatesUnderCascadingRandomization) {
    const ExplanationMethod* saliency = find_method("saliency");
    ASSERT_NE(saliency, nullptr) << "saliency is not registered";
    const SanityFixture& f = fer();
    ASSERT_FALSE(f.image.empty());
    Target t;
    t.cls = 3;  // happy
    std::vector<float> progress;
    auto steps = model_randomization(f.model, *select_kernel_set(), *saliency, f.image, t, {}, {},
                                     [&](float p) {
                                         progress.push_back(p);
                                         return true;
                                     });
    ASSERT_TRUE(steps) << steps.status().message();
    ASSERT_EQ(steps->size(), 14u);
    const SanityStep& s0 = steps->front();
    EXPECT_TRUE(s0.layer.empty());
    EXPECT_NEAR(s0.spearman_abs, 1.0, 1e-9);
    EXPECT_NEAR(s0.spearman_signed, 1.0, 1e-9);
    EXPECT_NEAR(s0.ssim, 1.0, 1e-9);
    EXPECT_EQ(s0.map.shape(), (Shape{64, 64}));
    EXPECT_EQ((*steps)[1].layer, "conv2d_5/BiasAdd");
    for (const SanityStep& s : *steps) {
        SCOPED_TRACE(s.layer);
        EXPECT_TRUE(std::isfinite(s.spearman_abs) && std::isfinite(s.spearman_signed) &&
                    std::isfinite(s.ssim));
    }
    const SanityStep& last = steps->back();
    EXPECT_LT(last.spearman_abs, 0.5);
    EXPECT_LT(std::fabs(last.spearman_signed), 0.5);
    EXPECT_LT(last.ssim, 0.5);
    EXPECT_LT((*steps)[1].spearman_signed, 0.9);
    ASSERT_FALSE(progress.empty());
    EXPECT_FLOAT_EQ(progress.back(), 1.f);
    for (const SanityStep& s : *steps)
        std::printf("  %-50s spearman |map| %+.3f signed %+.3f ssim %.3f p(happy) %.3f\n",
                    s.layer.empty() ? "(original)" : s.layer.c_str(), s.spearman_abs,
                    s.spearman_signed, s.ssim, s.target_probability);

    // Deterministic for a seed.
    SanityOptions o;
    o.max_layers = 3;
    auto again = model_randomization(f.model, *select_kernel_set(), *saliency, f.image, t, {}, o);
    ASSERT_TRUE(again);
    ASSERT_EQ(again->size(), 4u);
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ((*again)[i].spearman_abs, (*steps)[i].spearman_abs);
}

// Adebayo et al.'s finding on the bundled model: the maps of gradient, SmoothGrad and Grad-CAM
// lose their likeness to the original as the layers are randomized from the top, Guided
// Backprop's much less (its ReLU masking draws the image's edges whatever the weights).
TEST(Sanity, GuidedBackpropSurvivesRandomizationOthersDoNot) {
    const SanityFixture& f = fer();
    ASSERT_FALSE(f.image.empty());
    Target t;
    t.cls = 3;  // happy
    struct Case {
        const char* method;
        Params params;
        double top_rho = 0;   // with the top layer randomized
        double mean_rho = 0;  // over the randomization steps after the original
        double last_rho = 0;
    };
    std::vector<Case> cases = {{"saliency", {}},
                               {"smoothgrad", Params().set("samples", 8)},
                               {"gradcam", {}},
                               {"guided", {}}};
    SanityOptions o;
    // Under ASan the top half of the layers: the finding shows there already.
    if (test::kUnderAsan) o.max_layers = 7;
    for (Case& c : cases) {
        const ExplanationMethod* m = find_method(c.method);
        ASSERT_NE(m, nullptr) << c.method;
        Target tm = t;
        tm.score = m->traits().default_score;
        auto steps =
            model_randomization(f.model, *select_kernel_set(), *m, f.image, tm, c.params, o);
        ASSERT_TRUE(steps) << c.method << ": " << steps.status().message();
        ASSERT_GE(steps->size(), 2u);
        for (size_t i = 1; i < steps->size(); ++i)
            c.mean_rho += (*steps)[i].spearman_abs / static_cast<double>(steps->size() - 1);
        c.top_rho = (*steps)[1].spearman_abs;
        c.last_rho = steps->back().spearman_abs;
        std::printf(
            "  %-10s rho with the top layer randomized %+.3f, mean over %zu steps %+.3f, last "
            "%+.3f\n",
            c.method, c.top_rho, steps->size() - 1, c.mean_rho, c.last_rho);
    }
    const Case& guided = cases[3];
    // Measured (all 13 steps): top layer saliency 0.49, SmoothGrad-8 0.35, Grad-CAM 0.45, Guided
    // Backprop 0.93; means 0.38, 0.28, 0.54 and 0.73.
    for (size_t i = 0; i < 3; ++i) {
        SCOPED_TRACE(cases[i].method);
        EXPECT_LT(cases[i].top_rho, 0.65);
        EXPECT_LT(cases[i].mean_rho + 0.1, guided.mean_rho);
    }
    if (!test::kUnderAsan)
        for (size_t i = 0; i < 3; ++i) EXPECT_LT(cases[i].last_rho, 0.5) << cases[i].method;
    EXPECT_GT(guided.top_rho, 0.85);
}

TEST(Sanity, IndependentModeAndCancel) {
    const ExplanationMethod* saliency = find_method("saliency");
    ASSERT_NE(saliency, nullptr) << "saliency is not registered";
    const SanityFixture& f = fer();
    Target t;
    t.cls = 3;
    SanityOptions o;
    o.mode = SanityMode::kIndependent;
    o.max_layers = 2;
    auto ind = model_randomization(f.model, *select_kernel_set(), *saliency, f.image, t, {}, o);
    o.mode = SanityMode::kCascading;
    auto cas = model_randomization(f.model, *select_kernel_set(), *saliency, f.image, t, {}, o);
    ASSERT_TRUE(ind && cas);
    // Step 1 randomizes the same single layer in both modes; step 2 differs.
    EXPECT_EQ((*ind)[1].spearman_abs, (*cas)[1].spearman_abs);
    EXPECT_NE((*ind)[2].spearman_abs, (*cas)[2].spearman_abs);
    auto cancel = model_randomization(f.model, *select_kernel_set(), *saliency, f.image, t, {}, o,
                                      [](float p) { return p < 0.5f; });
    ASSERT_FALSE(cancel);
    EXPECT_EQ(cancel.status().code(), ErrorCode::kCancelled);
}

}  // namespace
}  // namespace cnnlens
