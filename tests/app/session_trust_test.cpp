// The Trust section's work (TrustRun in wasm/app/session_panels.h), natively: its numbers are
// compute_metrics' with the CLI's options, results of another face or map are dropped, Cancel
// stops it until asked again, and the export carries what it computed.
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>

#include "core/image/draw.h"
#include "core/image/image.h"
#include "tests/test_util.h"
#include "wasm/app/export.h"
#include "wasm/app/session_panels.h"

namespace cnnlens::app {
namespace {

using StateLock = std::unique_lock<std::mutex>;

class TrustRunTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(
            s.load_models(directory_source(test::source_path("models/fer2013-mini-xception")),
                          directory_source(test::source_path("models/blazeface"))));
        ASSERT_TRUE(s.open_photo(test::read_file(test::source_path("tests/data/astronaut.jpg")),
                                 "astronaut.jpg"));
    }
    void explain(const std::string& method) {
        ExplainRequest r;
        r.method = method;
        r.target.cls = s.selected_face()->top;
        r.target.score = find_method(method)->traits().default_score;
        s.request(r);
        ASSERT_TRUE(s.run_pending());
    }
    // Steps until nothing is left (at most `limit` steps).
    void run(int limit = 20) {
        for (int i = 0; i < limit && trust().busy(s); ++i) ASSERT_TRUE(trust().step(s));
        ASSERT_FALSE(trust().busy(s));
    }
    TrustRun& trust() { return s.panel_work().trust; }
    Session s;
};

// What `cnnlens evaluate` computes for the same map: compute_metrics with every metric and
// seeded_metric_options(seed).
std::vector<double> reference(Session& s, const std::vector<const MetricDef*>& metrics) {
    MetricInput in;
    in.probe = &s.probe();
    in.image = s.selected_face()->input.clone();
    in.target = s.explanation()->target;
    in.map = s.explanation()->map.clone();
    in.method = find_method(s.explained().method);
    in.params = s.explained().params;
    in.explain_seed = s.explained().seed;
    auto v = compute_metrics(in, metrics, seeded_metric_options(s.explained().seed));
    EXPECT_TRUE(v) << v.status().message();
    return v ? *v : std::vector<double>{};
}

TEST_F(TrustRunTest, NothingRunsUntilTheSectionIsOpen) {
    explain("saliency");
    EXPECT_FALSE(trust().busy(s));
    EXPECT_FALSE(panels_busy(s, s.panel_work()));
    ASSERT_TRUE(step_panels(s, s.panel_work()));
    EXPECT_TRUE(trust().scores.empty());
}

TEST_F(TrustRunTest, EveryScoreEqualsComputeMetricsWithTheCliOptions) {
    explain("gradcam");
    trust().want(s);
    // The free metrics at once, before any step.
    ASSERT_NE(trust().find("sparseness"), nullptr);
    ASSERT_NE(trust().find("complexity"), nullptr);
    EXPECT_EQ(trust().find("deletion_auc"), nullptr);
    EXPECT_EQ(trust().next(s), TrustRun::Stage::kCurves);
    run();
    EXPECT_TRUE(trust().complete());
    ASSERT_TRUE(trust().curves && trust().road);
    EXPECT_EQ(trust().find("faithfulness_correlation"), nullptr);  // slow: only when asked
    EXPECT_TRUE(trust().sanity.empty());
    // The random-order curves are there to beat (TrustRun::kRandomOrders of them).
    EXPECT_EQ(trust().curves->deletion_random.score.size(), trust().curves->deletion.score.size());
    EXPECT_GT(trust().curves->deletion_random.auc, 0.0);

    trust().want(s, true);
    run();
    EXPECT_TRUE(trust().complete());
    std::vector<const MetricDef*> all;
    for (const MetricDef& m : all_metrics()) all.push_back(&m);
    ASSERT_EQ(trust().scores.size(), all.size());
    const std::vector<double> ref = reference(s, all);
    ASSERT_EQ(ref.size(), all.size());
    for (size_t i = 0; i < all.size(); ++i) {
        const TrustRun::Score* sc = trust().find(all[i]->name);
        ASSERT_NE(sc, nullptr) << all[i]->name;
        EXPECT_EQ(sc->metric, all[i]);  // in the list's order
        EXPECT_EQ(trust().scores[i].metric, all[i]);
        if (std::isnan(ref[i]))
            EXPECT_TRUE(std::isnan(sc->value)) << all[i]->name;
        else
            EXPECT_EQ(sc->value, ref[i]) << all[i]->name;
    }
    // The randomization check: the original first, then one step per randomizable layer.
    const std::vector<int> layers = randomizable_layers(s.model().graph);
    ASSERT_EQ(trust().sanity.size(), layers.size() + 1);
    EXPECT_NEAR(trust().sanity[0].spearman_abs, 1.0, 1e-9);
    EXPECT_EQ(trust().sanity[1].node, layers[0]);
    EXPECT_FALSE(trust().sanity[1].layer.empty());
    EXPECT_LT(trust().sanity.back().spearman_abs, 0.9);  // Grad-CAM dissolves (Adebayo et al.)
}

TEST_F(TrustRunTest, ANewExplanationStartsOverAndAStaleResultIsDropped) {
    explain("saliency");
    trust().want(s);
    ASSERT_TRUE(trust().step(s));
    ASSERT_TRUE(trust().curves.has_value());
    const double saliency_sparseness = trust().find("sparseness")->value;
    explain("gradcam");
    trust().sync(s);
    EXPECT_FALSE(trust().curves.has_value());
    EXPECT_EQ(trust().request.method, "gradcam");
    EXPECT_NE(trust().find("sparseness")->value, saliency_sparseness);

    // A new map arrives while a step computes: what the step computed is for the old one.
    ASSERT_TRUE(trust().step(s, [&](float) {
        if (s.explanation()->method == "gradcam") {
            ExplainRequest r = s.explained();
            r.method = "saliency";
            r.target.score = find_method("saliency")->traits().default_score;
            s.request(r);
            EXPECT_TRUE(s.run_pending());
        }
        return true;
    }));
    EXPECT_FALSE(trust().curves.has_value());  // the gradcam curves were dropped
    trust().sync(s);
    EXPECT_EQ(trust().request.method, "saliency");
    run();
    EXPECT_EQ(trust().find("deletion_auc")->value, reference(s, {find_metric("deletion_auc")})[0]);
}

TEST_F(TrustRunTest, AFaceChangeDropsTheResult) {
    ASSERT_TRUE(s.open_photo(encode_png(test::group_photo()), "group.png"));
    ASSERT_GE(s.faces().size(), 2u);
    explain("saliency");
    trust().want(s);
    const FaceKey k0 = face_key(s);
    ASSERT_TRUE(trust().step(s, [&](float) {
        s.select(1);  // as a click on another face while the step computes
        return true;
    }));
    EXPECT_FALSE(trust().curves.has_value());
    EXPECT_TRUE(trust().scores.empty());  // the face has no explanation yet: nothing is shown
    EXPECT_FALSE(trust().busy(s));
    explain("saliency");
    run();
    EXPECT_NE(trust().key, k0);
    EXPECT_EQ(trust().key, face_key(s));
    EXPECT_EQ(trust().find("deletion_auc")->value, reference(s, {find_metric("deletion_auc")})[0]);
}

TEST_F(TrustRunTest, CancelStopsUntilAskedAgain) {
    explain("saliency");
    trust().want(s);
    int reports = 0;
    ASSERT_TRUE(trust().step(s, [&](float) {
        ++reports;
        const StateLock lock(s.state_mutex());
        trust().stop();  // the Cancel button
        return true;
    }));
    EXPECT_GE(reports, 1);
    EXPECT_FALSE(trust().curves.has_value());
    EXPECT_EQ(trust().running, TrustRun::Stage::kNone);
    EXPECT_FALSE(trust().busy(s));
    EXPECT_FALSE(panels_busy(s, s.panel_work()));
    ASSERT_TRUE(step_panels(s, s.panel_work()));
    EXPECT_FALSE(trust().curves.has_value());
    trust().want(s);
    run();
    EXPECT_TRUE(trust().complete());
}

TEST_F(TrustRunTest, AStepThePlatformInterruptsIsRedone) {
    explain("saliency");
    trust().want(s);
    ASSERT_TRUE(trust().step(s, [](float) { return false; }));  // an explanation is waiting
    EXPECT_FALSE(trust().curves.has_value());
    EXPECT_TRUE(trust().busy(s));
    run();
    EXPECT_TRUE(trust().curves.has_value());
}

TEST_F(TrustRunTest, TheExportCarriesTheScores) {
    explain("saliency");
    AppState state;
    EXPECT_NE(view_json(state, s).find("\"trust\": null"), std::string::npos);
    const Image plain = view_picture(state, s);
    trust().want(s, true);
    run(30);
    const std::string json = view_json(state, s);
    for (const MetricDef& m : all_metrics()) {
        EXPECT_NE(json.find("\"name\": \"" + std::string(m.name) + "\""), std::string::npos)
            << m.name;
        EXPECT_NE(json.find(std::string(m.title)), std::string::npos) << m.title;
    }
    EXPECT_NE(json.find("\"deletion_random\""), std::string::npos);
    EXPECT_NE(json.find("\"randomization\""), std::string::npos);
    EXPECT_NE(json.find("\"spearman_abs\""), std::string::npos);
    EXPECT_EQ(json.find("nan"), std::string::npos);
    // The saved view gains the AUC line under the map.
    const Image with = view_picture(state, s);
    EXPECT_EQ(with.width, plain.width);
    EXPECT_GT(with.height, plain.height);
    // A new map: the export no longer shows the old map's scores.
    explain("gradcam");
    EXPECT_NE(view_json(state, s).find("\"trust\": null"), std::string::npos);
}

}  // namespace
}  // namespace cnnlens::app
