// Deletion / insertion curves on a closed-form probe whose score depends only on a 4x4 patch:
// exact curve values, a good map beats random order, and the blur substrate of insertion.
#include "core/eval/faithfulness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "core/explain/explain.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

constexpr int kSide = 16;

bool in_patch(int64_t p) {
    const int64_t y = p / kSide, x = p % kSide;
    return y >= 4 && y < 8 && x >= 4 && x < 8;
}

// Class 0's logit is 8 * (mean of the patch rows/cols 4..7) - 4; class 1's is 0.
class PatchProbe final : public ModelProbe {
public:
    PatchProbe() {
        spec_.height = spec_.width = kSide;
        spec_.channels = 1;
        names_ = {"patch", "other"};
    }
    Expected<ProbeResult> run(const Tensor& batch, const ProbeRequest&) override {
        ++runs;
        const int64_t n = batch.shape()[0], per = kSide * kSide;
        ProbeResult r;
        r.logits.reset(Shape{n, 2});
        for (int64_t i = 0; i < n; ++i) {
            double m = 0;
            for (int64_t p = 0; p < per; ++p)
                if (in_patch(p)) m += batch[i * per + p];
            r.logits[i * 2] = static_cast<float>(8 * m / 16 - 4);
            r.logits[i * 2 + 1] = 0.f;
        }
        r.probs = softmax_rows(r.logits);
        return r;
    }
    const InputSpec& input_spec() const override { return spec_; }
    int num_classes() const override { return 2; }
    const std::vector<std::string>& class_names() const override { return names_; }
    int runs = 0;

private:
    InputSpec spec_;
    std::vector<std::string> names_;
};

float sigmoid(double z) { return static_cast<float>(1 / (1 + std::exp(-z))); }

Tensor ones() { return Tensor(Shape{1, kSide, kSide, 1}, 1.f); }

Tensor patch_map() {
    Tensor m(Shape{kSide, kSide}, 0.f);
    for (int64_t p = 0; p < m.size(); ++p)
        if (in_patch(p)) m[p] = 1.f;
    return m;
}

TEST(Faithfulness, ExactCurvesForAPatchModel) {
    PatchProbe probe;
    FaithfulnessOptions o;
    o.deletion_baseline = FaithBaseline::kBlack;
    o.insertion_baseline = FaithBaseline::kBlack;  // the blur of a constant image is the image
    auto r = deletion_insertion(probe, ones(), patch_map(), 0, o);
    ASSERT_TRUE(r) << r.status().message();
    EXPECT_EQ(probe.runs, 4);
    // 256 pixels in 32 steps of 8: the patch's 16 pixels go in the first two steps.
    const FaithCurve& d = r->deletion;
    ASSERT_EQ(d.score.size(), 33u);
    EXPECT_FLOAT_EQ(d.fraction[1], 1.f / 32);
    EXPECT_FLOAT_EQ(d.fraction[32], 1.f);
    EXPECT_NEAR(d.score[0], sigmoid(4), 1e-6);
    EXPECT_NEAR(d.score[1], 0.5, 1e-6);
    for (int k = 2; k <= 32; ++k) EXPECT_NEAR(d.score[static_cast<size_t>(k)], sigmoid(-4), 1e-6);
    const double step = 1.0 / 32;
    EXPECT_NEAR(d.auc,
                step * (0.5 * (sigmoid(4) + 0.5) + 0.5 * (0.5 + sigmoid(-4)) + 30 * sigmoid(-4)),
                1e-6);
    const FaithCurve& in = r->insertion;
    EXPECT_NEAR(in.score[0], sigmoid(-4), 1e-6);
    EXPECT_NEAR(in.score[1], 0.5, 1e-6);
    EXPECT_NEAR(in.score[2], sigmoid(4), 1e-6);
    EXPECT_NEAR(in.auc, 1.0 - d.auc, 1e-6);  // symmetric logistic

    // The map beats random order on both curves, and deletion beats insertion.
    EXPECT_LT(d.auc, in.auc);
    EXPECT_LT(d.auc, r->deletion_random.auc - 0.2);
    EXPECT_GT(in.auc, r->insertion_random.auc + 0.2);
    EXPECT_NEAR(r->deletion_random.score.front(), sigmoid(4), 1e-6);
    EXPECT_NEAR(r->deletion_random.score.back(), sigmoid(-4), 1e-6);
}

TEST(Faithfulness, ReversedMapIsWorstAndRandomIsSeeded) {
    PatchProbe probe;
    FaithfulnessOptions o;
    o.deletion_baseline = FaithBaseline::kBlack;
    o.insertion_baseline = FaithBaseline::kBlack;
    Tensor reversed = patch_map();
    for (int64_t i = 0; i < reversed.size(); ++i) reversed[i] = -reversed[i];
    auto good = deletion_insertion(probe, ones(), patch_map(), 0, o);
    auto bad = deletion_insertion(probe, ones(), reversed, 0, o);
    ASSERT_TRUE(good && bad);
    EXPECT_GT(bad->deletion.auc, bad->deletion_random.auc);
    EXPECT_LT(bad->insertion.auc, bad->insertion_random.auc);
    // Same seed, same random curves; another seed, others.
    EXPECT_EQ(good->deletion_random.score, bad->deletion_random.score);
    o.seed = 2;
    auto other = deletion_insertion(probe, ones(), patch_map(), 0, o);
    ASSERT_TRUE(other);
    EXPECT_NE(other->deletion_random.score, good->deletion_random.score);
    o.random_orders = 4;
    auto avg = deletion_insertion(probe, ones(), patch_map(), 0, o);
    ASSERT_TRUE(avg);
    EXPECT_NEAR(avg->deletion_random.score.front(), sigmoid(4), 1e-5);
}

TEST(Faithfulness, InsertionStartsFromTheBlurredImage) {
    PatchProbe probe;
    Tensor img(Shape{1, kSide, kSide, 1}, 0.f);
    for (int64_t p = 0; p < img.size(); ++p)
        if (in_patch(p)) img[p] = 1.f;
    FaithfulnessOptions o;  // black deletion (RISE), blurred insertion
    o.deletion_baseline = FaithBaseline::kBlack;
    o.steps = 8;
    auto r = deletion_insertion(probe, img, patch_map(), 0, o);
    ASSERT_TRUE(r) << r.status().message();
    auto blurred = probe.run(gaussian_blur(img, o.blur_sigma), ProbeRequest{});
    ASSERT_TRUE(blurred);
    ASSERT_EQ(r->insertion.score.size(), 9u);
    EXPECT_FLOAT_EQ(r->insertion.score[0], blurred->probs[0]);
    EXPECT_LT(r->insertion.score[0], 0.5f);
    EXPECT_NEAR(r->insertion.score.back(), sigmoid(4), 1e-6);
    EXPECT_NEAR(r->deletion.score.back(), sigmoid(-4), 1e-6);
}

TEST(Faithfulness, RankingAucAndErrors) {
    Tensor m(Shape{2, 2});
    m[0] = 0.5f;
    m[1] = 2.f;
    m[2] = 0.5f;
    m[3] = NAN;
    EXPECT_EQ(rank_pixels(m), (std::vector<int>{1, 0, 2, 3}));
    EXPECT_DOUBLE_EQ(trapezoid_auc({0.f, 0.5f, 1.f}, {1.f, 1.f, 0.f}), 0.75);

    PatchProbe probe;
    auto shape = deletion_insertion(probe, ones(), Tensor(Shape{8, 8}, 0.f), 0);
    ASSERT_FALSE(shape);
    EXPECT_EQ(shape.status().message(),
              "faithfulness: the map is [8,8] but the image is 16x16 (resize the map to the input "
              "first)");
    auto cls = deletion_insertion(probe, ones(), patch_map(), 2);
    ASSERT_FALSE(cls);
    EXPECT_EQ(cls.status().message(),
              "faithfulness: class 2 is out of range (the model has 2 classes)");
    FaithfulnessOptions o;
    o.steps = 0;
    EXPECT_FALSE(deletion_insertion(probe, ones(), patch_map(), 0, o));
    auto cancel =
        deletion_insertion(probe, ones(), patch_map(), 0, {}, [](float f) { return f < 0.4f; });
    ASSERT_FALSE(cancel);
    EXPECT_EQ(cancel.status().message(), "faithfulness cancelled after 2 of 4 curves");
}

// On the bundled model, the saliency map of the astronaut's "happy" beats random order on both
// curves when removed pixels are blurred. (With black pixels, random order "wins" deletion:
// scattered black dots destroy a 64x64 face faster than any contiguous region does.)
TEST(Faithfulness, SaliencyBeatsRandomOnTheRealModel) {
    const ExplanationMethod* saliency = find_method("saliency");
    ASSERT_NE(saliency, nullptr) << "saliency is not registered";
    auto model = load_model(test::source_path("models/fer2013-mini-xception"));
    ASSERT_TRUE(model) << model.status().message();
    auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
    ASSERT_TRUE(img) << img.status().message();
    GraphProbe probe(*model, *select_kernel_set());
    const Tensor x = image_to_input(*img, model->spec.input);
    ExplainContext ctx(probe);
    Target t;
    t.cls = 3;
    auto e = saliency->explain(x, t, {}, ctx);
    ASSERT_TRUE(e) << e.status().message();
    FaithfulnessOptions o;
    o.deletion_baseline = FaithBaseline::kBlur;
    o.steps = 16;
    auto r = deletion_insertion(probe, x, e->map, 3, o);
    ASSERT_TRUE(r) << r.status().message();
    EXPECT_LT(r->deletion.auc, r->insertion.auc);
    EXPECT_LT(r->deletion.auc, r->deletion_random.auc - 0.1);
    EXPECT_GT(r->insertion.auc, r->insertion_random.auc + 0.05);
    EXPECT_NEAR(r->deletion.score.front(), r->insertion.score.back(), 1e-6);  // both are the image
    std::printf("  deletion AUC %.3f (random %.3f), insertion AUC %.3f (random %.3f)\n",
                r->deletion.auc, r->deletion_random.auc, r->insertion.auc, r->insertion_random.auc);
}

}  // namespace
}  // namespace cnnlens
