// The trust metrics against tests/oracle/trust_metrics.py (float64 numpy, written from the papers
// and Quantus) on its fixture: a linear model, an image, a signed map, the random subsets and
// noise samples it drew; every value to 1e-5 relative.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "core/eval/complexity.h"
#include "core/eval/faithfulness.h"
#include "core/eval/infidelity.h"
#include "core/eval/random_logit.h"
#include "core/eval/road.h"
#include "core/eval/robustness.h"
#include "tests/eval/linear_fixture_probe.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

struct TrustOracleFixture {
    std::map<std::string, std::vector<double>> rows;
    int h = 0, w = 0, c = 0, classes = 0, cls = 0, steps = 0, runs = 0, subset = 0, samples = 0;
    const std::vector<double>& at(const std::string& k) const { return rows.at(k); }
    double expected(const std::string& k) const { return rows.at("expected_" + k).at(0); }
    Tensor tensor(const std::string& k, Shape s) const {
        Tensor t(s);
        const std::vector<double>& v = at(k);
        EXPECT_EQ(static_cast<int64_t>(v.size()), t.size()) << k;
        for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(v[static_cast<size_t>(i)]);
        return t;
    }
};

TrustOracleFixture read_fixture() {
    TrustOracleFixture f;
    std::ifstream in(test::source_path("tests/data/eval/trust_fixture.txt"));
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream s(line);
        std::string name;
        size_t n = 0;
        s >> name >> n;
        std::vector<double> v(n);
        for (double& x : v) s >> x;
        f.rows[name] = v;
    }
    const std::vector<double>& d = f.rows.at("dims");
    f.h = int(d[0]), f.w = int(d[1]), f.c = int(d[2]), f.classes = int(d[3]), f.cls = int(d[4]);
    f.steps = int(d[5]), f.runs = int(d[6]), f.subset = int(d[7]), f.samples = int(d[8]);
    return f;
}

void expect_rel(double got, double want, const char* what) {
    EXPECT_LE(std::fabs(got - want), 1e-5 * std::fabs(want)) << what;
}

class TrustOracle : public ::testing::Test {
protected:
    void SetUp() override {
        f = read_fixture();
        probe = std::make_unique<test::LinearFixtureProbe>(f.h, f.w, f.c, f.at("weights"),
                                                           f.at("bias"));
        image = f.tensor("image", Shape{1, f.h, f.w, f.c});
        map = f.tensor("map", Shape{f.h, f.w});
    }
    TrustOracleFixture f;
    std::unique_ptr<test::LinearFixtureProbe> probe;
    Tensor image, map;
};

TEST_F(TrustOracle, Complexity) {
    expect_rel(*sparseness(map), f.expected("sparseness"), "sparseness");
    expect_rel(*complexity(map), f.expected("complexity"), "complexity");
}

TEST_F(TrustOracle, DeletionInsertionBlackAndMean) {
    for (FaithBaseline b : {FaithBaseline::kBlack, FaithBaseline::kMean}) {
        FaithfulnessOptions o;
        o.steps = f.steps;
        o.deletion_baseline = o.insertion_baseline = b;
        o.random_orders = 0;
        auto r = deletion_insertion(*probe, image, map, f.cls, o);
        ASSERT_TRUE(r) << r.status().message();
        const std::string name = faith_baseline_name(b);
        expect_rel(r->deletion.auc, f.expected("deletion_auc_" + name), name.c_str());
        expect_rel(r->insertion.auc, f.expected("insertion_auc_" + name), name.c_str());
    }
}

TEST_F(TrustOracle, FaithfulnessCorrelation) {
    std::vector<std::vector<int>> subsets(static_cast<size_t>(f.runs));
    const std::vector<double>& flat = f.at("subsets");
    for (int r = 0; r < f.runs; ++r)
        for (int k = 0; k < f.subset; ++k)
            subsets[static_cast<size_t>(r)].push_back(
                int(flat[static_cast<size_t>(r * f.subset + k)]));
    for (FaithBaseline b : {FaithBaseline::kBlack, FaithBaseline::kMean}) {
        FaithCorrelationOptions o;
        o.baseline = b;
        o.batch = 7;  // several probe calls, the last one short
        auto r = faithfulness_correlation(*probe, image, map, f.cls, subsets, o);
        ASSERT_TRUE(r) << r.status().message();
        const std::string name = faith_baseline_name(b);
        expect_rel(r->correlation, f.expected("faithfulness_correlation_" + name), name.c_str());
    }
}

TEST_F(TrustOracle, RoadWithoutNoise) {
    RoadOptions o;
    o.noise = 0;
    auto r = road(*probe, image, map, f.cls, o);
    ASSERT_TRUE(r) << r.status().message();
    expect_rel(r->morf_mean, f.expected("road_morf"), "morf");
    expect_rel(r->lerf_mean, f.expected("road_lerf"), "lerf");
}

TEST_F(TrustOracle, Infidelity) {
    std::vector<Tensor> perturbations;
    const std::vector<double>& flat = f.at("perturbations");
    const int64_t per = f.h * f.w;
    for (size_t k = 0; k * static_cast<size_t>(per) < flat.size(); ++k) {
        Tensor e(Shape{f.h, f.w});
        for (int64_t i = 0; i < per; ++i)
            e[i] = static_cast<float>(flat[k * static_cast<size_t>(per) + static_cast<size_t>(i)]);
        perturbations.push_back(std::move(e));
    }
    InfidelityOptions o;
    o.batch = 4;
    auto r = infidelity(*probe, image, map, f.cls, perturbations, o);
    ASSERT_TRUE(r) << r.status().message();
    expect_rel(r->infidelity, f.expected("infidelity"), "infidelity");
}

TEST_F(TrustOracle, RandomLogit) {
    const std::vector<double>& d = f.at("rl_dims");
    const int side = int(d[0]), cls = int(d[1]), other = int(d[2]);
    test::LinearFixtureProbe rl(side, side, 1, f.at("rl_weights"), f.at("rl_bias"));
    const Tensor x = f.tensor("rl_image", Shape{1, side, side, 1});
    const ExplanationMethod* gxi = find_method("gradient_x_input");
    Target t;
    t.cls = cls;
    ExplainContext ctx(rl);
    auto e = gxi->explain(x, t, {}, ctx);
    ASSERT_TRUE(e);
    auto r = random_logit_against(*gxi, {}, rl, x, t, e->map, other);
    ASSERT_TRUE(r) << r.status().message();
    expect_rel(r->ssim, f.expected("random_logit"), "random_logit");
}

TEST_F(TrustOracle, Sensitivity) {
    const ExplanationMethod* gxi = find_method("gradient_x_input");
    ASSERT_NE(gxi, nullptr);
    Target t;
    t.cls = f.cls;
    ExplainContext ctx(*probe);
    auto e = gxi->explain(image, t, {}, ctx);
    ASSERT_TRUE(e) << e.status().message();
    std::vector<Tensor> noise;
    const int64_t per = image.size();
    const std::vector<double>& flat = f.at("noise");
    for (int k = 0; k < f.samples; ++k) {
        Tensor n(image.shape());
        for (int64_t i = 0; i < per; ++i)
            n[i] = static_cast<float>(flat[static_cast<size_t>(k * per + i)]);
        noise.push_back(std::move(n));
    }
    for (auto [den, name] : {std::pair{SensitivityDenominator::kMap, "map"},
                             std::pair{SensitivityDenominator::kInput, "input"}}) {
        SensitivityOptions o;
        o.denominator = den;
        auto r = sensitivity(*gxi, {}, *probe, image, t, e->map, noise, o);
        ASSERT_TRUE(r) << r.status().message();
        expect_rel(r->max, f.expected(std::string("max_sensitivity_") + name), name);
        expect_rel(r->mean, f.expected(std::string("avg_sensitivity_") + name), name);
    }
}

}  // namespace
}  // namespace cnnlens
