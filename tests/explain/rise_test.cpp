// RISE on a closed-form probe whose score is the mean of a known pixel region (the map peaks
// there), its masks (mean p, batch size changing nothing, seeds), and its progressive maps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/explain/explain.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

// Logit 0 = mean of the pixels in rows [y0, y1) and columns [x0, x1); logit 1 = 0.
class RegionProbe final : public ModelProbe {
public:
    RegionProbe(int h, int w, int y0, int y1, int x0, int x1)
        : spec_{h, w, 1, 0.f, 1.f, {}, {}}, y0_(y0), y1_(y1), x0_(x0), x1_(x1) {}
    Expected<ProbeResult> run(const Tensor& x, const ProbeRequest&) override {
        const int64_t n = x.shape()[0], h = x.shape()[1], w = x.shape()[2];
        ProbeResult r;
        r.logits = Tensor(Shape{n, 2}, 0.f);
        for (int64_t i = 0; i < n; ++i) {
            double s = 0;
            for (int y = y0_; y < y1_; ++y)
                for (int xx = x0_; xx < x1_; ++xx) s += x[(i * h + y) * w + xx];
            r.logits[i * 2] = static_cast<float>(s / ((y1_ - y0_) * (x1_ - x0_)));
        }
        r.probs = softmax_rows(r.logits);
        images += n;
        return r;
    }
    const InputSpec& input_spec() const override { return spec_; }
    int num_classes() const override { return 2; }
    const std::vector<std::string>& class_names() const override { return names_; }
    int64_t images = 0;

private:
    InputSpec spec_;
    int y0_, y1_, x0_, x1_;
    std::vector<std::string> names_ = {"region", "zero"};
};

const ExplanationMethod& rise() {
    const ExplanationMethod* m = find_method("rise");
    EXPECT_NE(m, nullptr);
    return *m;
}

Tensor constant_image(int h, int w, float v) { return Tensor(Shape{1, h, w, 1}, v); }

TEST(Rise, ExplainsProbabilitiesWithAnUnsignedMap) {
    EXPECT_EQ(rise().traits().default_score, Target::Score::kProbability);
    EXPECT_FALSE(map_norm_is_signed(rise().traits().norm));
    EXPECT_FALSE(rise().live());
}

// The score sees only the region, so a pixel's saliency is highest where keeping it most often
// keeps the region: inside it. Far from it (more than a cell and a bilinear ramp away) a mask's
// value is independent of the region's, so the map there is the mean score over all masks,
// E[score] = p * (mean image value) up to sampling noise.
TEST(Rise, MapPeaksOnTheRegionTheScoreReads) {
    const int H = 32, W = 32;
    RegionProbe probe(H, W, 4, 10, 20, 28);
    ExplainContext ctx(probe);
    ctx.seed = 3;
    Target t{0};
    t.score = Target::Score::kLogit;
    auto e = rise().explain(constant_image(H, W, 1.f), t,
                            Params().set("samples", 2000).set("cells", 8), ctx);
    ASSERT_TRUE(e) << e.status().message();
    EXPECT_EQ(probe.images, 2001);
    double in = 0, far = 0;
    int n_in = 0, n_far = 0;
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            const double v = e->map[y * W + x];
            if (y >= 4 && y < 10 && x >= 20 && x < 28) {
                in += v;
                ++n_in;
            }
            if (y >= 20 && x < 10) {
                far += v;
                ++n_far;
            }
        }
    in /= n_in;
    far /= n_far;
    const int64_t peak =
        std::max_element(e->map.data(), e->map.data() + e->map.size()) - e->map.data();
    EXPECT_GE(peak / W, 4);
    EXPECT_LT(peak / W, 10);
    EXPECT_GE(peak % W, 20);
    EXPECT_LT(peak % W, 28);
    EXPECT_NEAR(far, 0.5, 0.05) << "the map far from the region is E[score] = p";
    EXPECT_GT(in, far + 0.06) << "inside " << in << ", far " << far;
    EXPECT_NEAR(e->stats["mask_mean"], 0.5, 0.02);
    EXPECT_EQ(e->stats["score"], 1.0);
}

TEST(Rise, KeepProbabilityAndFillChangeTheMasks) {
    RegionProbe probe(16, 16, 0, 16, 0, 16);
    ExplainContext ctx(probe);
    Target t{0};
    t.score = Target::Score::kLogit;
    // The score is the image's mean, so it is the mask's mean (fill 0) and 1 - that (fill 1, black
    // image).
    auto a = rise().explain(constant_image(16, 16, 1.f), t,
                            Params().set("samples", 400).set("p", 0.2), ctx);
    ASSERT_TRUE(a);
    EXPECT_NEAR(a->stats["mask_mean"], 0.2, 0.02);
    auto b = rise().explain(constant_image(16, 16, 0.f), t,
                            Params().set("samples", 400).set("p", 0.2).set("fill", 1), ctx);
    ASSERT_TRUE(b);
    EXPECT_NEAR(b->stats["mask_mean"], 0.2, 0.02);
    // Same seed, same masks M_i. Fill 1 on a black image shows 1 - M_i, scored 1 - mean(M_i), so
    // a_j + b_j = sum_i M_ij / (N p), whose mean over pixels is mask_mean / p.
    double sum = 0;
    for (int64_t i = 0; i < a->map.size(); ++i) sum += a->map[i] + b->map[i];
    EXPECT_NEAR(sum / a->map.size(), a->stats["mask_mean"] / 0.2, 1e-5);
    EXPECT_GT(b->map[0], a->map[0] + 0.2) << "fill 1 is not fill 0";
}

TEST(Rise, BatchSizeChangesNothingAndSeedsDo) {
    RegionProbe probe(20, 12, 2, 8, 3, 9);
    ExplainContext ctx(probe);
    ctx.seed = 11;
    const Tensor x = constant_image(20, 12, 0.8f);
    auto a = rise().explain(x, Target{0}, Params().set("samples", 300).set("batch", 7), ctx);
    auto b = rise().explain(x, Target{0}, Params().set("samples", 300).set("batch", 300), ctx);
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    for (int64_t i = 0; i < a->map.size(); ++i) ASSERT_EQ(a->map[i], b->map[i]) << i;
    ctx.seed = 12;
    auto c = rise().explain(x, Target{0}, Params().set("samples", 300), ctx);
    ASSERT_TRUE(c);
    EXPECT_GT(test::max_abs_diff(a->map.data(), c->map.data(), a->map.size()), 0.0);
    EXPECT_EQ(a->params["seed"], 11);
}

// A partial map after every batch but the last, each the map of the masks so far: the first
// partial equals a whole run with that many masks (same seed, same first masks).
TEST(Rise, PartialMapsArriveAsBatchesDo) {
    RegionProbe probe(16, 16, 2, 8, 3, 9);
    ExplainContext ctx(probe);
    ctx.seed = 5;
    const Tensor x = constant_image(16, 16, 1.f);
    std::vector<Explanation> partials;
    ctx.partial = [&](const Explanation& e) {
        Explanation k;
        k.map = e.map.clone();
        k.stats = e.stats;
        k.method = e.method;
        partials.push_back(std::move(k));
    };
    auto e = rise().explain(x, Target{0}, Params().set("samples", 250).set("batch", 100), ctx);
    ASSERT_TRUE(e);
    ASSERT_EQ(partials.size(), 2u);
    EXPECT_EQ(partials[0].stats["samples"], 100);
    EXPECT_EQ(partials[1].stats["samples"], 200);
    EXPECT_EQ(partials[0].method, "rise");
    ExplainContext plain(probe);
    plain.seed = 5;
    auto first = rise().explain(x, Target{0}, Params().set("samples", 100), plain);
    ASSERT_TRUE(first);
    for (int64_t i = 0; i < first->map.size(); ++i)
        ASSERT_NEAR(partials[0].map[i], first->map[i], 1e-6f) << i;
}

TEST(Rise, TargetOutsideTheClassesIsNamed) {
    RegionProbe probe(8, 8, 0, 4, 0, 4);
    ExplainContext ctx(probe);
    auto e = rise().explain(constant_image(8, 8, 1.f), Target{5}, Params(), ctx);
    ASSERT_FALSE(e);
    EXPECT_NE(e.status().message().find("class 5"), std::string::npos) << e.status().message();
}

}  // namespace
}  // namespace cnnlens
