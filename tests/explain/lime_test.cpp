// LIME on closed-form probes (a model linear in the segments is recovered exactly, seeds,
// cancellation, progressive fits, hide colours) and on the real model (happy face).
#include <gtest/gtest.h>

#include <cmath>

#include "core/explain/explain.h"
#include "core/image/superpixels.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

// Score of class 0 = bias + sum over segments of weight[s] * [segment s is visible], where a
// segment is visible when its first pixel is not 0 (LIME hides with 0; the test image has no
// zeros). With `q`, a quadratic term q * linear^2 makes the model non-linear. Other classes 0.
class SegmentProbe final : public ModelProbe {
public:
    SegmentProbe(const Segmentation& s, std::vector<double> weights, double bias, double q = 0)
        : spec_{s.height, s.width, 1, 0.f, 1.f, {}, {}},
          labels_(s.labels),
          weights_(std::move(weights)),
          bias_(bias),
          q_(q) {
        first_.assign(weights_.size(), -1);
        for (size_t i = 0; i < labels_.size(); ++i)
            if (first_[static_cast<size_t>(labels_[i])] < 0)
                first_[static_cast<size_t>(labels_[i])] = static_cast<int>(i);
    }
    Expected<ProbeResult> run(const Tensor& x, const ProbeRequest&) override {
        const int64_t n = x.shape()[0], hw = static_cast<int64_t>(labels_.size());
        ProbeResult r;
        r.logits = Tensor(Shape{n, 3}, 0.f);
        for (int64_t i = 0; i < n; ++i) {
            double lin = 0;
            for (size_t s = 0; s < weights_.size(); ++s)
                if (x[i * hw + first_[s]] != 0.f) lin += weights_[s];
            r.logits[i * 3] = static_cast<float>(bias_ + lin + q_ * lin * lin);
        }
        r.probs = r.logits.clone();
        ++calls;
        return r;
    }
    const InputSpec& input_spec() const override { return spec_; }
    int num_classes() const override { return 3; }
    const std::vector<std::string>& class_names() const override { return names_; }
    int calls = 0;

private:
    InputSpec spec_;
    std::vector<int> labels_;
    std::vector<double> weights_;
    double bias_, q_;
    std::vector<int> first_;
    std::vector<std::string> names_ = {"a", "b", "c"};
};

// Score of class 0 = sum of all pixel values: linear in the pixels, so with hide 0 each
// segment's LIME weight is the sum of its pixels, and with hide "segment mean" every sample
// scores the same.
class SumProbe final : public ModelProbe {
public:
    SumProbe(int h, int w) : spec_{h, w, 1, 0.f, 1.f, {}, {}} {}
    Expected<ProbeResult> run(const Tensor& x, const ProbeRequest&) override {
        const int64_t n = x.shape()[0], per = x.size() / n;
        ProbeResult r;
        r.logits = Tensor(Shape{n, 2}, 0.f);
        for (int64_t i = 0; i < n; ++i) {
            double s = 0;
            for (int64_t j = 0; j < per; ++j) s += x[i * per + j];
            r.logits[i * 2] = static_cast<float>(s);
        }
        r.probs = r.logits.clone();
        return r;
    }
    const InputSpec& input_spec() const override { return spec_; }
    int num_classes() const override { return 2; }
    const std::vector<std::string>& class_names() const override { return names_; }

private:
    InputSpec spec_;
    std::vector<std::string> names_ = {"sum", "zero"};
};

// The test face lifted to [0.1, 1] so that no pixel is 0.
Tensor face() {
    auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
    EXPECT_TRUE(img) << img.status().message();
    Tensor x = image_to_input(*img, InputSpec{64, 64, 1, 0.f, 1.f, {}, {}});
    for (int64_t i = 0; i < x.size(); ++i) x[i] = 0.1f + 0.9f * x[i];
    return x;
}

struct Linear {
    Tensor x = face();
    Segmentation seg;
    std::vector<double> w;
    Linear() {
        seg = *slic(x);
        Rng rng(11);
        for (int s = 0; s < seg.count; ++s) w.push_back(rng.uniform(-1.f, 1.f));
    }
};

const Target kClass0{0, -1, Target::Score::kProbability};

TEST(Lime, RecoversAModelLinearInTheSegments) {
    Linear L;
    SegmentProbe probe(L.seg, L.w, 0.5);
    ExplainContext ctx(probe);
    const ExplanationMethod* lime = find_method("lime");
    ASSERT_NE(lime, nullptr);

    // alpha ~ 0: weighted least squares on an exactly linear model is exact.
    auto e = lime->explain(L.x, kClass0, Params().set("ridge_alpha", 1e-9), ctx);
    ASSERT_TRUE(e) << e.status().message();
    ASSERT_EQ(e->segments, L.seg.labels);
    ASSERT_EQ(e->segment_weights.size(), L.w.size());
    for (size_t s = 0; s < L.w.size(); ++s)
        EXPECT_NEAR(e->segment_weights[s], L.w[s], 1e-4) << "segment " << s;
    EXPECT_GT(e->stats["r2"], 0.999999);
    EXPECT_NEAR(e->stats["intercept"], 0.5, 1e-4);
    double total = 0.5;
    for (double v : L.w) total += v;
    EXPECT_NEAR(e->stats["local_pred"], total, 1e-4);
    EXPECT_NEAR(e->stats["score"], total, 1e-4);
    EXPECT_EQ(e->stats["segments"], L.seg.count);
    EXPECT_EQ(e->stats["samples"], 1000);
    EXPECT_EQ(probe.calls, 10) << "1000 samples in batches of 100";
    EXPECT_TRUE(e->signed_map());
    for (int64_t i = 0; i < 64 * 64; ++i)
        ASSERT_EQ(e->map[i],
                  e->segment_weights[static_cast<size_t>(L.seg.labels[static_cast<size_t>(i)])]);

    // The masks hold the 5 largest positive and the 5 most negative segments.
    std::vector<size_t> order(L.w.size());
    for (size_t s = 0; s < order.size(); ++s) order[s] = s;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return std::fabs(L.w[a]) > std::fabs(L.w[b]); });
    std::vector<float> pos(L.w.size(), 0.f), neg(L.w.size(), 0.f);
    int np = 0, nn = 0;
    for (size_t s : order) {
        if (L.w[s] > 0.01 && np < 5) {
            pos[s] = 1;
            ++np;
        }
        if (L.w[s] < -0.01 && nn < 5) {
            neg[s] = 1;
            ++nn;
        }
    }
    for (int64_t i = 0; i < 64 * 64; ++i) {
        const size_t s = static_cast<size_t>(L.seg.labels[static_cast<size_t>(i)]);
        ASSERT_EQ(e->extras["positive_mask"][i], pos[s]);
        ASSERT_EQ(e->extras["negative_mask"][i], neg[s]);
    }
    const std::vector<uint8_t> edges = segment_boundaries(L.seg.labels, 64, 64);
    for (int64_t i = 0; i < 64 * 64; ++i)
        ASSERT_EQ(e->extras["boundaries"][i], edges[static_cast<size_t>(i)]);

    // LIME's default alpha = 1 shrinks slightly (the weighted Gram diagonal is ~125 here).
    auto d = lime->explain(L.x, kClass0, Params(), ctx);
    ASSERT_TRUE(d);
    for (size_t s = 0; s < L.w.size(); ++s)
        EXPECT_NEAR(d->segment_weights[s], L.w[s], 0.03) << "segment " << s;
    EXPECT_GT(d->stats["r2"], 0.999);
    EXPECT_EQ(d->params["ridge_alpha"], 1);
}

TEST(Lime, PixelSumModelAndHideColours) {
    const Tensor x = face();
    SumProbe probe(64, 64);
    ExplainContext ctx(probe);
    const ExplanationMethod* lime = find_method("lime");
    for (int segmentation : {0, 1}) {
        SCOPED_TRACE(segmentation ? "quickshift" : "slic");
        Params p;
        p.set("segmentation", segmentation)
            .set("kernel_size", 1)
            .set("ridge_alpha", 1e-9)
            .set("samples", 400);
        auto e = lime->explain(x, kClass0, p, ctx);
        ASSERT_TRUE(e) << e.status().message();
        std::vector<double> sum(e->segment_weights.size(), 0.0);
        for (int64_t i = 0; i < x.size(); ++i)
            sum[static_cast<size_t>(e->segments[static_cast<size_t>(i)])] += x[i];
        for (size_t s = 0; s < sum.size(); ++s)
            EXPECT_NEAR(e->segment_weights[s], sum[s], 1e-3 * (1 + sum[s]));
        // Hiding a segment with its own mean keeps the pixel sum: nothing to explain.
        auto m = lime->explain(x, kClass0, p.set("hide", 1), ctx);
        ASSERT_TRUE(m);
        for (float v : m->segment_weights) EXPECT_NEAR(v, 0.f, 1e-3);
    }
}

TEST(Lime, SameSeedSameResultOtherSeedOtherResult) {
    Linear L;
    SegmentProbe probe(L.seg, L.w, 0.2, 0.3);
    const ExplanationMethod* lime = find_method("lime");
    auto run = [&](uint64_t seed) {
        ExplainContext ctx(probe);
        ctx.seed = seed;
        auto e = lime->explain(L.x, kClass0, Params().set("samples", 300), ctx);
        EXPECT_TRUE(e) << e.status().message();
        return e->segment_weights;
    };
    const std::vector<float> a = run(5), b = run(5), c = run(6);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
}

TEST(Lime, CancelsAfterTheThirdBatch) {
    Linear L;
    SegmentProbe probe(L.seg, L.w, 0.5);
    ExplainContext ctx(probe);
    int calls = 0;
    std::vector<float> seen;
    ctx.progress = [&](float f) {
        seen.push_back(f);
        return ++calls < 3;
    };
    auto e = find_method("lime")->explain(L.x, kClass0, Params(), ctx);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.status().code(), ErrorCode::kCancelled);
    EXPECT_NE(e.status().message().find("300 of 1000 samples"), std::string::npos)
        << e.status().message();
    EXPECT_EQ(probe.calls, 3);
    EXPECT_EQ(seen, (std::vector<float>{0.1f, 0.2f, 0.3f}));
}

TEST(Lime, ReportsProgressiveFits) {
    Linear L;
    SegmentProbe probe(L.seg, L.w, 0.5, 0.2);
    ExplainContext ctx(probe);
    std::vector<double> samples;
    std::vector<std::vector<float>> weights;
    ctx.partial = [&](const Explanation& e) {
        samples.push_back(e.stats.at("samples"));
        weights.push_back(e.segment_weights);
        EXPECT_EQ(e.method, "lime");
        EXPECT_EQ(e.map.shape(), (Shape{64, 64}));
        EXPECT_EQ(e.params.at("samples"), 1000);
    };
    auto e = find_method("lime")->explain(L.x, kClass0, Params(), ctx);
    ASSERT_TRUE(e);
    // The first batch is cut to max(segments + 1, 50, 1000 / 20) samples and gives the first fit
    // (at most a tenth of the way); then one fit per batch of 100; the last one is the result.
    const int first = std::max({L.seg.count + 1, 50});
    ASSERT_LE(first, 100);
    std::vector<double> expected;
    for (int n = first; n < 1000; n += 100) expected.push_back(n);
    EXPECT_EQ(samples, expected);
    EXPECT_LE(samples.front(), 100);
    // Partial fits do not disturb the result.
    ExplainContext quiet(probe);
    auto q = find_method("lime")->explain(L.x, kClass0, Params(), quiet);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->segment_weights, e->segment_weights);
}

TEST(Lime, BadTargetIsNamed) {
    Linear L;
    SegmentProbe probe(L.seg, L.w, 0.5);
    ExplainContext ctx(probe);
    auto e = find_method("lime")->explain(L.x, Target{7}, Params(), ctx);
    ASSERT_FALSE(e);
    EXPECT_NE(e.status().message().find("class 7"), std::string::npos) << e.status().message();
}

// --- On the real model ------------------------------------------------------------------------

TEST(LimeOnModel, HappyFaceIsExplainedByTheSmile) {
    auto m = load_model(test::source_path("models/fer2013-mini-xception"));
    ASSERT_TRUE(m) << m.status().message();
    GraphProbe probe(*m, *select_kernel_set());
    auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
    ASSERT_TRUE(img);
    const Tensor x = image_to_input(*img, m->spec.input);
    ExplainContext ctx(probe);
    const Target happy{3, -1, Target::Score::kProbability};
    auto e = find_method("lime")->explain(x, happy, Params().set("samples", 300), ctx);
    ASSERT_TRUE(e) << e.status().message();
    // Seeds 1-5 give R^2 0.52-0.66 and the same two top segments: the left cheek down to the
    // mouth corner (half of it below row 32) and the nose and upper lip (63 % below row 32).
    EXPECT_GT(e->stats["r2"], 0.3);
    size_t top = 0;
    for (size_t s = 1; s < e->segment_weights.size(); ++s)
        if (e->segment_weights[s] > e->segment_weights[top]) top = s;
    EXPECT_GT(e->segment_weights[top], 0.05f);
    int lower = 0, all = 0;
    for (size_t i = 0; i < e->segments.size(); ++i)
        if (e->segments[i] == static_cast<int>(top)) {
            ++all;
            lower += i >= 32 * 64;
        }
    EXPECT_GE(4 * lower, all) << "top segment has " << lower << " of " << all
                              << " pixels in the lower half";
    // The top-5 positive segments cover much of the mouth (rows 36-47, columns 16-43 of this
    // crop; the teeth are at row 42): 44-62 % over seeds 1-5.
    int box = 0, covered = 0;
    for (int y = 36; y < 48; ++y)
        for (int c = 16; c < 44; ++c) {
            ++box;
            covered += e->extras["positive_mask"][y * 64 + c] > 0;
        }
    EXPECT_GE(4 * covered, box) << covered << " of " << box << " mouth pixels in the positive mask";
}

}  // namespace
}  // namespace cnnlens
