// Occlusion's progressive maps on a closed-form linear probe: one after every batch but the last,
// each the mean drop of the windows so far (recomputed here from the probe's own scores), and a
// final map and a cancel that do not depend on whether partial results are asked for.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/explain/explain.h"
#include "tests/explain/analytic_probe.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

using test::random_image;

const ExplanationMethod& occlusion() {
    const ExplanationMethod* m = find_method("occlusion");
    EXPECT_NE(m, nullptr);
    return *m;
}

// A 6x7 image, window 3, stride 1: 4 x 5 = 20 windows; batches of 6 end after 6, 12, 18 and 20.
constexpr int kH = 6, kW = 7, kWin = 3, kAcross = kW - kWin + 1, kWindows = 20, kBatch = 6;

Params settings() {
    return Params().set("window", kWin).set("stride", 1).set("batch", kBatch).set("fill", 0);
}

// The map of the first `done` windows in row-major order: each window's drop is the target
// logit of the image minus that of a copy with the window set to 0 (fill 0 in the probe's [0, 1]
// range), each pixel the mean drop of those windows covering it, 0 where none does.
std::vector<double> map_of_first_windows(ModelProbe& probe, const Tensor& x, int cls, int done) {
    const double s0 = (*probe.run(x, ProbeRequest{})).logits[cls];
    std::vector<double> sum(kH * kW, 0.0), count(kH * kW, 0.0);
    for (int k = 0; k < done; ++k) {
        const int wy = k / kAcross, wx = k % kAcross;
        Tensor o = x.clone();
        for (int y = wy; y < wy + kWin; ++y)
            for (int xx = wx; xx < wx + kWin; ++xx) o[y * kW + xx] = 0.f;
        auto r = probe.run(o, ProbeRequest{});
        EXPECT_TRUE(r);
        const double drop = s0 - r->logits[cls];
        for (int y = wy; y < wy + kWin; ++y)
            for (int xx = wx; xx < wx + kWin; ++xx) {
                sum[y * kW + xx] += drop;
                count[y * kW + xx] += 1;
            }
    }
    std::vector<double> map(kH * kW, 0.0);
    for (int i = 0; i < kH * kW; ++i) map[i] = count[i] > 0 ? sum[i] / count[i] : 0.0;
    return map;
}

struct Kept {
    Tensor map;
    std::map<std::string, double> stats, params;
    std::string method;
};

std::function<void(const Explanation&)> keep_into(std::vector<Kept>& partials) {
    return [&partials](const Explanation& e) {
        partials.push_back({e.map.clone(), e.stats, e.params, e.method});
    };
}

TEST(Occlusion, PartialMapsArriveAsBatchesDo) {
    test::AnalyticProbe probe(kH, kW, 3, 21);
    const Tensor x = random_image(kH, kW, 22);
    const Target t{1};
    ExplainContext ctx(probe);
    std::vector<Kept> partials;
    ctx.partial = keep_into(partials);
    auto e = occlusion().explain(x, t, settings(), ctx);
    ASSERT_TRUE(e) << e.status().message();
    ASSERT_EQ(partials.size(), 3u) << "one after every batch but the last";
    for (size_t i = 0; i < partials.size(); ++i) {
        SCOPED_TRACE("partial " + std::to_string(i));
        const int done = kBatch * static_cast<int>(i + 1);
        const Kept& k = partials[i];
        EXPECT_EQ(k.method, "occlusion");
        EXPECT_EQ(k.params.at("batch"), kBatch);
        EXPECT_EQ(k.stats.at("windows"), done);
        EXPECT_EQ(k.stats.at("score"), e->stats.at("score"));
        EXPECT_EQ(k.stats.size(), e->stats.size());
        ASSERT_EQ(k.map.shape(), (Shape{kH, kW}));
        const std::vector<double> want = map_of_first_windows(probe, x, t.cls, done);
        for (int j = 0; j < kH * kW; ++j) ASSERT_NEAR(k.map[j], want[j], 1e-5) << "pixel " << j;
    }
    EXPECT_EQ(e->stats.at("windows"), kWindows);
    // After the first batch (windows at rows 0 and 1) the bottom rows are not covered yet, and
    // pixel (1, 1) has 3 of its final 4 windows: a map divided by the final counts differs there.
    EXPECT_EQ(partials[0].map[5 * kW], 0.f);
    EXPECT_GT(std::fabs(partials[0].map[1 * kW + 1]), 1e-3f);
    EXPECT_NE(partials[0].map[1 * kW + 1], e->map[1 * kW + 1]);

    ExplainContext plain(probe);
    auto without = occlusion().explain(x, t, settings(), plain);
    ASSERT_TRUE(without);
    for (int j = 0; j < kH * kW; ++j) ASSERT_EQ(e->map[j], without->map[j]) << "pixel " << j;
    EXPECT_EQ(e->stats, without->stats);
    const std::vector<double> all = map_of_first_windows(probe, x, t.cls, kWindows);
    for (int j = 0; j < kH * kW; ++j) ASSERT_NEAR(e->map[j], all[j], 1e-5) << "pixel " << j;
}

TEST(Occlusion, OneBatchGivesNoPartial) {
    test::AnalyticProbe probe(kH, kW, 3, 21);
    ExplainContext ctx(probe);
    std::vector<Kept> partials;
    ctx.partial = keep_into(partials);
    auto e = occlusion().explain(random_image(kH, kW, 22), Target{1},
                                 settings().set("batch", kWindows), ctx);
    ASSERT_TRUE(e);
    EXPECT_TRUE(partials.empty());
}

// A cancel at the second batch's report stops the same way with or without partial results; the
// only partial shown is the first batch's.
TEST(Occlusion, CancelStopsBeforeTheNextPartial) {
    test::AnalyticProbe probe(kH, kW, 3, 21);
    const Tensor x = random_image(kH, kW, 22);
    for (bool with_partial : {false, true}) {
        SCOPED_TRACE(with_partial ? "with partial" : "without partial");
        ExplainContext ctx(probe);
        int reports = 0;
        ctx.progress = [&](float) { return ++reports < 2; };
        std::vector<Kept> partials;
        if (with_partial) ctx.partial = keep_into(partials);
        auto e = occlusion().explain(x, Target{1}, settings(), ctx);
        ASSERT_FALSE(e);
        EXPECT_EQ(e.status().code(), ErrorCode::kCancelled);
        EXPECT_EQ(e.status().message(), "occlusion cancelled after 12 of 20 windows");
        EXPECT_EQ(reports, 2);
        ASSERT_EQ(partials.size(), with_partial ? 1u : 0u);
        if (with_partial) {
            EXPECT_EQ(partials[0].stats.at("windows"), kBatch);
        }
    }
}

}  // namespace
}  // namespace cnnlens
