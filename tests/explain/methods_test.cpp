// The registry and what each method says of itself (MethodTraits), axioms of the gradient
// methods on closed-form probes, and behaviour every method of the registry shares on the real
// model: determinism for a seed, cancellation with partial progress, bad parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/explain/explain.h"
#include "tests/explain/analytic_probe.h"
#include "tests/test_util.h"

namespace cnnlens {

// The methods of method_list.inc, as explain.cpp declares them.
#define X(var) const ExplanationMethod& method_##var();
#include "core/explain/method_list.inc"
#undef X

namespace {

using test::random_image;

// Every line of method_list.inc is registered: its method is found by its own name and listed
// where a user looks (method_names() is the CLI's list in its errors).
TEST(Methods, RegistryHoldsEveryListedMethod) {
    const std::vector<const ExplanationMethod*> listed = {
#define X(var) &method_##var(),
#include "core/explain/method_list.inc"
#undef X
    };
    const auto all = all_methods();
    EXPECT_EQ(all.size(), listed.size());
    const std::string names = ", " + method_names() + ",";
    for (const ExplanationMethod* m : listed) {
        SCOPED_TRACE(std::string(m->name()));
        EXPECT_NE(std::find(all.begin(), all.end(), m), all.end()) << "listed but not registered";
        EXPECT_EQ(find_method(m->name()), m);
        EXPECT_NE(names.find(", " + std::string(m->name()) + ","), std::string::npos)
            << "not in '" << method_names() << "'";
    }
}

// The methods the issues asked for, under the names the CLI and the app accept, each registered
// with the traits that make it behave as asked: recomputed live or run as a job with progress
// and cancel, the score it explains by default (LIME's package explains probabilities), a
// signed map where attributions have a sign, and batched attribution for the gradient family
// (SmoothGrad batches its noisy copies through it).
struct Promised {
    std::string_view name;
    MethodCost cost;
    Target::Score score;
    bool signed_map;
    bool batches;
};
constexpr Target::Score kLogit = Target::Score::kLogit;
constexpr MethodCost kLive = MethodCost::kLive, kJob = MethodCost::kJob;
constexpr Promised kIssueMethods[] = {
    {"saliency", kLive, kLogit, false, true},
    {"gradient_x_input", kLive, kLogit, true, true},
    {"smoothgrad", kJob, kLogit, false, false},
    {"ig", kJob, kLogit, true, false},
    {"guided", kLive, kLogit, true, true},
    {"gradcam", kLive, kLogit, false, false},
    {"gradcampp", kLive, kLogit, false, false},
    {"guided_gradcam", kLive, kLogit, true, false},
    {"hirescam", kLive, kLogit, false, false},
    {"xgradcam", kLive, kLogit, false, false},
    {"layercam", kLive, kLogit, false, false},
    {"occlusion", kJob, kLogit, true, false},
    {"lime", kJob, Target::Score::kProbability, true, false},
    {"kernel_shap", kJob, Target::Score::kProbability, true, false},
    {"partition_shap", kJob, Target::Score::kProbability, true, false},
    {"xrai", kJob, kLogit, true, false},
};

bool signed_norm(MapNorm n) { return n == MapNorm::kSignedPercentile99; }

TEST(Methods, RegistryHasTheIssueMethods) {
    for (const Promised& want : kIssueMethods) {
        SCOPED_TRACE(std::string(want.name));
        const ExplanationMethod* m = find_method(want.name);
        ASSERT_NE(m, nullptr) << "not registered";
        EXPECT_EQ(m->name(), want.name);
        EXPECT_FALSE(m->title().empty());
        EXPECT_EQ(m->traits().cost, want.cost);
        EXPECT_EQ(m->live(), want.cost == kLive);
        EXPECT_EQ(m->traits().default_score, want.score);
        EXPECT_EQ(signed_norm(m->traits().norm), want.signed_map);
        EXPECT_EQ(m->batches(), want.batches);
    }
    // The CAM family's maps are ReLU'd sums, zero or above: shown over their full range.
    for (std::string_view cam : {"gradcam", "gradcampp", "hirescam", "xgradcam", "layercam"})
        EXPECT_EQ(find_method(cam)->traits().norm, MapNorm::kMinMax) << cam;
}

// Every entry of method_list.inc: a unique name, a title, parameters whose defaults lie in
// their ranges, choice parameters numbered 0..choices-1, and each parameter found by its name.
TEST(Methods, EveryMethodIsWellFormed) {
    std::set<std::string_view> names;
    for (const ExplanationMethod* m : all_methods()) {
        SCOPED_TRACE(std::string(m->name()));
        EXPECT_TRUE(names.insert(m->name()).second) << "duplicate name";
        EXPECT_EQ(find_method(m->name()), m);
        EXPECT_FALSE(m->title().empty());
        std::set<std::string_view> params;
        for (const ParamDef& d : m->params()) {
            SCOPED_TRACE(std::string(d.name));
            EXPECT_TRUE(params.insert(d.name).second) << "duplicate parameter";
            EXPECT_EQ(m->find_param(d.name), &d);
            EXPECT_EQ(m->param(Params(), d.name), d.def);
            EXPECT_EQ(m->param(Params().set(d.name, d.max), d.name), d.max);
            EXPECT_LE(d.min, d.def);
            EXPECT_LE(d.def, d.max);
            EXPECT_FALSE(d.help.empty());
            if (d.integer) {
                EXPECT_EQ(d.def, std::floor(d.def));
            }
            if (!d.choices.empty()) {
                EXPECT_TRUE(d.integer);
                EXPECT_EQ(d.min, 0);
                EXPECT_EQ(d.max, static_cast<double>(d.choices.size() - 1));
            }
        }
        EXPECT_EQ(m->find_param("no_such_parameter"), nullptr);
    }
}

#if GTEST_HAS_DEATH_TEST
// A misspelled parameter inside core is a programming error: it stops instead of reading 0.
TEST(MethodsDeathTest, ReadingAnUndeclaredParameterAborts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    const ExplanationMethod* m = find_method("smoothgrad");
    ASSERT_NE(m, nullptr);
    EXPECT_DEATH(m->param(Params(), "sampels"), "assertion failed");
}
#endif

TEST(Methods, SaliencyIsTheGradient) {
    test::AnalyticProbe probe(6, 5, 3, 1);
    ExplainContext ctx(probe);
    Tensor x = random_image(6, 5, 2);
    auto e = find_method("saliency")->explain(x, Target{1}, Params(), ctx);
    ASSERT_TRUE(e) << e.status().message();
    for (int j = 0; j < 30; ++j) {
        EXPECT_FLOAT_EQ(e->attribution[j], probe.weights()[30 + j]);
        EXPECT_FLOAT_EQ(e->map[j], std::fabs(probe.weights()[30 + j]));
    }
    // Contrastive target: gradient of logit 1 minus logit 2.
    auto c = find_method("saliency")->explain(x, Target{1, 2}, Params(), ctx);
    ASSERT_TRUE(c);
    for (int j = 0; j < 30; ++j)
        EXPECT_NEAR(c->attribution[j], probe.weights()[30 + j] - probe.weights()[60 + j], 1e-6);
}

TEST(Methods, SmoothGradOfALinearModelIsItsGradient) {
    test::AnalyticProbe probe(8, 8, 4, 3);
    ExplainContext ctx(probe);
    Tensor x = random_image(8, 8, 4);
    auto e = find_method("smoothgrad")->explain(x, Target{2}, Params().set("samples", 20), ctx);
    ASSERT_TRUE(e) << e.status().message();
    for (int j = 0; j < 64; ++j) EXPECT_NEAR(e->attribution[j], probe.weights()[2 * 64 + j], 1e-5);
    // Variance of a constant gradient is zero; mean of squares is its square.
    for (int j = 0; j < 64; ++j) {
        EXPECT_NEAR(e->extras["variance"][j], 0.f, 1e-6);
        EXPECT_NEAR(e->extras["mean_of_squares"][j],
                    probe.weights()[2 * 64 + j] * probe.weights()[2 * 64 + j], 1e-5);
    }
    EXPECT_EQ(probe.calls, 1) << "20 noisy copies fit one batch";
}

TEST(Methods, IntegratedGradientsCompleteness) {
    // Linear: exact for any step count. Quadratic: the midpoint rule is exact for linear
    // gradients along the path as well, so completeness holds to rounding for both.
    for (float q : {0.f, 0.7f}) {
        test::AnalyticProbe probe(7, 7, 3, 5, q);
        ExplainContext ctx(probe);
        Tensor x = random_image(7, 7, 6);
        for (int baseline : {0, 1, 2}) {
            auto e = find_method("ig")->explain(
                x, Target{0}, Params().set("steps", 16).set("baseline", baseline), ctx);
            ASSERT_TRUE(e) << e.status().message();
            EXPECT_LT(e->stats["completeness_relative_error"], 1e-4)
                << "q=" << q << " baseline=" << baseline;
        }
    }
}

TEST(Methods, OcclusionOfALinearModel) {
    // For a linear model the drop of an occluded window (fill 0) is sum_w W_j x_j: each pixel's
    // mean over the windows covering it is known in closed form for window 1.
    test::AnalyticProbe probe(5, 6, 2, 7);
    ExplainContext ctx(probe);
    Tensor x = random_image(5, 6, 8);
    auto e = find_method("occlusion")
                 ->explain(x, Target{1}, Params().set("window", 1).set("stride", 1), ctx);
    ASSERT_TRUE(e) << e.status().message();
    for (int j = 0; j < 30; ++j) EXPECT_NEAR(e->map[j], probe.weights()[30 + j] * x[j], 1e-5);
}

TEST(Methods, BadParametersAreNamed) {
    test::AnalyticProbe probe(4, 4, 2, 1);
    ExplainContext ctx(probe);
    auto e = find_method("smoothgrad")
                 ->explain(random_image(4, 4, 1), Target{0}, Params().set("samples", 0), ctx);
    ASSERT_FALSE(e);
    EXPECT_NE(e.status().message().find("samples"), std::string::npos);
    auto o = find_method("occlusion")
                 ->explain(random_image(4, 4, 1), Target{0}, Params().set("window", 9), ctx);
    ASSERT_FALSE(o);
    EXPECT_NE(o.status().message().find("window"), std::string::npos);
}

// --- On the real model ------------------------------------------------------------------------

struct RealModel {
    Model model;
    std::unique_ptr<GraphProbe> probe;
    Tensor face;
    RealModel() {
        auto m = load_model(test::source_path("models/fer2013-mini-xception"));
        EXPECT_TRUE(m) << m.status().message();
        model = std::move(*m);
        probe = std::make_unique<GraphProbe>(model, *select_kernel_set());
        auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
        face = image_to_input(*img, model.spec.input);
    }
};

RealModel& real() {
    static RealModel r;
    return r;
}

// Smaller settings for the parameters that set how much work a method does, kept in range.
Params quick(const ExplanationMethod& m) {
    Params p;
    for (auto [name, value] : {std::pair{"samples", 150.0}, {"steps", 8.0}, {"stride", 8.0}})
        if (const ParamDef* d = m.find_param(name)) p.set(name, std::clamp(value, d->min, d->max));
    if (m.find_param("base")) p.set("samples", 8);  // SmoothGrad: one gradient per sample
    return p;
}

// Counts the images a method runs through the model (a batch of N counts N).
class CountingProbe final : public ModelProbe {
public:
    explicit CountingProbe(ModelProbe& inner) : inner_(inner) {}
    Expected<ProbeResult> run(const Tensor& batch, const ProbeRequest& request) override {
        // A replaced layer runs one image per row of its values from that layer on.
        images += request.replace ? request.replace->values->shape()[0] : batch.shape()[0];
        if (request.reference)
            images += batch.shape()[0];  // DeepLIFT runs each image's reference too
        return inner_.run(batch, request);
    }
    const InputSpec& input_spec() const override { return inner_.input_spec(); }
    int num_classes() const override { return inner_.num_classes(); }
    const std::vector<std::string>& class_names() const override { return inner_.class_names(); }
    std::vector<LayerInfo> layers() const override { return inner_.layers(); }
    int max_batch() const override { return inner_.max_batch(); }
    int64_t images = 0;

private:
    ModelProbe& inner_;
};

// Every method runs on the real face, alike twice for one seed, and every statistic it writes has
// its words in stat_list.inc.
TEST(MethodsOnModel, EveryMethodRunsAndIsDeterministic) {
    for (const ExplanationMethod* m : all_methods()) {
        SCOPED_TRACE(std::string(m->name()));
        const Params p = quick(*m);
        ExplainContext ctx(*real().probe);
        ctx.seed = 7;
        auto a = m->explain(real().face, Target{3}, p, ctx);
        ASSERT_TRUE(a) << a.status().message();
        auto b = m->explain(real().face, Target{3}, p, ctx);
        ASSERT_TRUE(b);
        ASSERT_EQ(a->map.shape(), (Shape{64, 64}));
        for (int64_t i = 0; i < a->map.size(); ++i) ASSERT_EQ(a->map[i], b->map[i]);
        float mx = 0;
        for (int64_t i = 0; i < a->map.size(); ++i) mx = std::max(mx, std::fabs(a->map[i]));
        EXPECT_GT(mx, 0.f) << "all-zero map";
        EXPECT_EQ(a->params["seed"], 7);
        // Every statistic has words for people (describe_test.cpp checks the entries' text).
        for (const auto& [key, value] : a->stats)
            EXPECT_NE(find_stat(key), nullptr)
                << "method '" << m->name() << "' writes statistic '" << key
                << "', which core/explain/stat_list.inc lacks: add S(" << key
                << ", \"Label\", \"What it measures and how to read it.\")";
    }
}

// What each method says of itself holds on a real face: a live method runs at most two images
// through the model and a job more (with its default parameters); an unsigned map (p99, min-max) is
// never negative and a signed one has both signs; a method that batches gives, for each row of a
// batch, the attribution its explain() gives for that row alone.
// The parameters TraitsHold runs a method with: its defaults, except that the sampling and path
// methods take a tenth of their samples or steps (RISE's 4000 masks alone take a minute under
// ASan and in wasm); what the test checks (passes per cost class, map scaling, sign, batching)
// does not depend on the count.
Params traits_params(const ExplanationMethod& m) {
    Params p;
    for (const ParamDef& d : m.params())
        if (d.integer && (d.name == "samples" || d.name == "steps" || d.name == "max_evals"))
            p.set(d.name, d.def == 0 ? std::max(d.min, 64.0)  // 0: the method's automatic count
                                     : std::max(d.min, std::ceil(d.def / 10)));
    return p;
}

TEST(MethodsOnModel, TraitsHold) {
    for (const ExplanationMethod* m : all_methods()) {
        SCOPED_TRACE(std::string(m->name()));
        CountingProbe probe(*real().probe);
        ExplainContext ctx(probe);
        const Params params = traits_params(*m);
        auto e = m->explain(real().face, Target{3}, params, ctx);
        ASSERT_TRUE(e) << e.status().message();
        if (m->live())
            EXPECT_LE(probe.images, 2);
        else
            EXPECT_GT(probe.images, 2);
        // The count the app's time estimate is made of, where the method states one.
        if (m->traits().forward_images)
            EXPECT_EQ(probe.images, m->traits().forward_images(*m, params, 64, 64));
        EXPECT_EQ(e->norm, m->traits().norm);
        const float lo = *std::min_element(e->map.data(), e->map.data() + e->map.size());
        const float hi = *std::max_element(e->map.data(), e->map.data() + e->map.size());
        if (e->signed_map()) {
            EXPECT_LT(lo, 0.f);
            EXPECT_GT(hi, 0.f);
        } else {
            EXPECT_GE(lo, 0.f);
        }

        // The face and its negative as one batch of two.
        const Tensor& face = real().face;
        Shape two = face.shape();
        two[0] = 2;
        Tensor batch(two);
        for (int64_t i = 0; i < face.size(); ++i) {
            batch[i] = face[i];
            batch[face.size() + i] = -face[i];
        }
        auto b = m->attribute_batch(batch, Target{3}, params, ctx);
        if (!m->batches()) {
            ASSERT_FALSE(b);
            EXPECT_EQ(b.status().code(), ErrorCode::kUnsupported);
            continue;
        }
        ASSERT_TRUE(b) << b.status().message();
        ASSERT_EQ(b->shape(), batch.shape());
        for (int64_t row = 0; row < 2; ++row) {
            Tensor one(real().face.shape());
            std::copy(batch.data() + row * one.size(), batch.data() + (row + 1) * one.size(),
                      one.data());
            auto single = m->explain(one, Target{3}, params, ctx);
            ASSERT_TRUE(single);
            ASSERT_EQ(single->attribution.size(), one.size());
            float scale = 0;
            for (int64_t i = 0; i < one.size(); ++i)
                scale = std::max(scale, std::fabs(single->attribution[i]));
            for (int64_t i = 0; i < one.size(); ++i)
                ASSERT_NEAR((*b)[row * one.size() + i], single->attribution[i], 1e-4f * scale)
                    << "row " << row << " value " << i;
        }
    }
}

// Occlusion's count where the stride does not divide the span (the last window flush with the
// edge) and where the window is the whole image.
TEST(MethodsOnModel, OcclusionStatesItsImageCount) {
    const ExplanationMethod& m = *find_method("occlusion");
    for (auto [window, stride] : {std::pair{10, 7}, {64, 3}, {5, 64}}) {
        SCOPED_TRACE(std::to_string(window) + " " + std::to_string(stride));
        Params p;
        p.set("window", window);
        p.set("stride", stride);
        CountingProbe probe(*real().probe);
        ExplainContext ctx(probe);
        ASSERT_TRUE(m.explain(real().face, Target{3}, p, ctx));
        EXPECT_EQ(probe.images, m.traits().forward_images(m, p, 64, 64));
    }
}

TEST(MethodsOnModel, JobMethodsCancelWithPartialProgress) {
    std::set<std::string_view> jobs;
    for (const ExplanationMethod* m : all_methods()) {
        if (m->live()) continue;
        jobs.insert(m->name());
        SCOPED_TRACE(std::string(m->name()));
        ExplainContext ctx(*real().probe);
        int calls = 0;
        float last = 0;
        ctx.progress = [&](float f) {
            last = f;
            return ++calls < 2;
        };
        // Two images per engine call leave several calls even for a CAM over few channels
        // (Score-CAM at the default model's 7-channel layer).
        Params p;
        p.set("batch", 2);
        auto e = m->explain(real().face, Target{3}, p, ctx);
        ASSERT_FALSE(e);
        EXPECT_EQ(e.status().code(), ErrorCode::kCancelled) << e.status().message();
        EXPECT_GT(last, 0.f);
        EXPECT_LT(last, 1.f);
        EXPECT_NE(e.status().message().find(" of "), std::string::npos) << e.status().message();
    }
    // A job method the issues asked for that is missing, or no longer a job, fails here.
    for (std::string_view name : {"smoothgrad", "ig", "occlusion", "lime"})
        EXPECT_TRUE(jobs.count(name)) << name << " was not cancelled: not registered, or not a job";
}

TEST(MethodsOnModel, IntegratedGradientsCompletenessOnTheModel) {
    ExplainContext ctx(*real().probe);
    auto e = find_method("ig")->explain(real().face, Target{3}, Params().set("steps", 200), ctx);
    ASSERT_TRUE(e);
    // Piecewise-linear network: the Riemann sum converges; 200 steps are within a few percent.
    EXPECT_LT(e->stats["completeness_relative_error"], 0.05)
        << e->stats["sum_attributions"] << " vs " << e->stats["score_delta"];
}

TEST(MethodsOnModel, GradCamWeightsAreSpatialMeansOfLayerGradients) {
    GraphProbe& probe = *real().probe;
    ExplainContext ctx(probe);
    const int layer = probe.model().graph.find(
        "StatefulPartitionedCall/model_1/block3_sepconv2_bn/FusedBatchNormV3");
    ASSERT_GE(layer, 0);
    auto e =
        find_method("gradcam")->explain(real().face, Target{3}, Params().set("layer", layer), ctx);
    ASSERT_TRUE(e) << e.status().message();
    ProbeRequest r;
    r.target = Target{3};
    r.layers = {layer};
    auto res = probe.run(real().face, r);
    ASSERT_TRUE(res);
    const Tensor& A = res->activations[0];
    const Tensor& G = res->activation_grads[0];
    const int64_t hw = A.shape()[1] * A.shape()[2], k = A.shape()[3];
    const Tensor& cam = e->extras["cam"];
    ASSERT_EQ(cam.size(), hw);
    for (int64_t i = 0; i < hw; ++i) {
        double s = 0;
        for (int64_t c = 0; c < k; ++c) {
            double w = 0;
            for (int64_t j = 0; j < hw; ++j) w += G[j * k + c];
            s += w / hw * A[i * k + c];
        }
        EXPECT_NEAR(cam[i], std::max(s, 0.0), 1e-4 * (1 + std::fabs(s)));
    }
    EXPECT_EQ(e->layer, "block3_sepconv2_bn/FusedBatchNormV3");
}

TEST(MethodsOnModel, GradCamDefaultLayerIsTheLastConvLargerThan1x1) {
    ExplainContext ctx(*real().probe);
    auto e = find_method("gradcam")->explain(real().face, Target{3}, Params(), ctx);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->layer, "conv2d_5/BiasAdd");
    EXPECT_EQ(e->extras["cam"].shape(), (Shape{8, 8}));
}

}  // namespace
}  // namespace cnnlens
