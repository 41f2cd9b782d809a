// LRP's known properties on small bias-free ReLU networks (every op's OpDef::lrp through
// Executor::relevance): every rule conserves relevance, LRP-0 equals Gradient x Input, and a
// model with an op that has no rule is refused by name. The torch oracle test compares the
// composites on the real model.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/base/rng.h"
#include "core/explain/explain.h"
#include "core/graph/executor.h"
#include "core/kernels/kernels.h"

namespace cnnlens {
namespace {

Tensor random_tensor(const Shape& s, Rng& rng, float lo = -1.f, float hi = 1.f) {
    Tensor t(s);
    for (int64_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(lo, hi);
    return t;
}

// x [N,8,8,2] -> conv 3x3 (ReLU fused) -> depthwise 3x3 -> Relu -> Add (residual) -> MaxPool 2x2
// -> Transpose there and back -> Mean over H, W -> MatMul -> logits [N,3]. No biases. `gate`
// multiplies the residual sum by a sigmoid of itself (a product of two activations), and
// `softmax` puts a Softmax before the MatMul: ops without an LRP rule.
struct Net {
    Graph g;
    int logits = -1;
};

Net make_net(Rng& rng, bool gate = false, bool softmax = false) {
    Net n;
    Graph& g = n.g;
    const int x = g.add_input("x", Shape{-1, 8, 8, 2});
    ConvAttrs ca;
    ca.padding = PaddingMode::kSame;
    ca.activation = Activation::kRelu;
    const int c1 = g.add_node("conv1", OpType::kConv2D, ca,
                              {x, g.add_const("w1", random_tensor(Shape{3, 3, 2, 4}, rng))});
    ConvAttrs dw;
    dw.padding = PaddingMode::kSame;
    dw.groups = 4;
    const int c2 = g.add_node("dw", OpType::kConv2D, dw,
                              {c1, g.add_const("w2", random_tensor(Shape{3, 3, 1, 4}, rng))});
    const int r2 = g.add_node("relu", OpType::kRelu, NoAttrs{}, {c2});
    int h = g.add_node("add", OpType::kAdd, NoAttrs{}, {c1, r2});
    if (gate) {
        const int s = g.add_node("sig", OpType::kSigmoid, NoAttrs{}, {h});
        h = g.add_node("gate", OpType::kMul, NoAttrs{}, {h, s});
    }
    PoolAttrs pa;
    pa.kernel_h = pa.kernel_w = pa.stride_h = pa.stride_w = 2;
    const int p = g.add_node("pool", OpType::kMaxPool, pa, {h});
    const int t1 = g.add_node("t1", OpType::kTranspose, TransposeAttrs{{0, 3, 1, 2}}, {p});
    const int t2 = g.add_node("t2", OpType::kTranspose, TransposeAttrs{{0, 2, 3, 1}}, {t1});
    int m = g.add_node("gap", OpType::kMean, ReduceAttrs{{1, 2}, false}, {t2});
    if (softmax) m = g.add_node("sm", OpType::kSoftmax, SoftmaxAttrs{}, {m});
    n.logits = g.add_node("fc", OpType::kMatMul, MatMulAttrs{},
                          {m, g.add_const("wfc", random_tensor(Shape{4, 3}, rng))});
    g.set_output(n.logits);
    return n;
}

// Every weighted node gets `rule`; the rest ignore theirs.
std::vector<LrpRule> rules_for(const Graph& g, const LrpRule& rule) {
    return std::vector<LrpRule>(static_cast<size_t>(g.size()), rule);
}

// Relevance of the input when relevance starts as logit `cls` one-hot, and that logit per image.
Status relevance(Executor& ex, const Net& n, const Tensor& x, int cls,
                 std::span<const LrpRule> rules, Tensor& out, std::vector<float>& score) {
    CNNLENS_RETURN_IF_ERROR(ex.forward(x));
    const Tensor& lg = ex.value(n.logits);
    Tensor seed(lg.shape(), 0.f);
    score.clear();
    for (int64_t i = 0; i < lg.shape()[0]; ++i) {
        seed[i * 3 + cls] = lg[i * 3 + cls];
        score.push_back(lg[i * 3 + cls]);
    }
    std::vector<Seed> seeds;
    seeds.push_back({n.logits, std::move(seed)});
    const int in = n.g.input();
    std::vector<Tensor> got;
    CNNLENS_RETURN_IF_ERROR(ex.relevance(seeds, {&in, 1}, rules, got));
    out = std::move(got[0]);
    return Status::ok();
}

// αβ with β > 0 is left out: it conserves only where both its shares have inputs (a window whose
// positive inputs all meet positive weights passes α R, not R).
TEST(Lrp, EveryRuleConservesRelevanceWithoutBiases) {
    using K = LrpRule::Kind;
    struct Case {
        const char* name;
        LrpRule rule;
    };
    std::vector<Case> cases = {
        {"epsilon 0", {.kind = K::kEpsilon, .epsilon = 0.f}},
        {"epsilon 1e-6", {.kind = K::kEpsilon}},
        {"gamma 0.25", {.kind = K::kGamma}},
        {"z+ (alpha 1 beta 0)", {.kind = K::kAlphaBeta, .alpha = 1.f, .beta = 0.f}},
        {"flat", {.kind = K::kFlat}},
        {"w^2", {.kind = K::kWSquare}},
        {"z^B", {.kind = K::kZBox, .low = {-1.f, -1.f}, .high = {1.f, 1.f}}}};
    for (const KernelSet* ks : compiled_kernel_sets()) {
        Rng rng(7);
        Net n = make_net(rng);
        ASSERT_TRUE(n.g.validate().is_ok()) << n.g.validate().message();
        Executor ex(n.g, *ks);
        const Tensor x = random_tensor(Shape{2, 8, 8, 2}, rng);
        for (const Case& c : cases) {
            SCOPED_TRACE(std::string(ks->name) + " " + c.name);
            Tensor r;
            std::vector<float> score;
            ASSERT_TRUE(relevance(ex, n, x, 1, rules_for(n.g, c.rule), r, score).is_ok());
            for (int64_t i = 0; i < 2; ++i) {
                double sum = 0;
                for (int64_t k = 0; k < 128; ++k) sum += r[i * 128 + k];
                EXPECT_NEAR(sum, score[static_cast<size_t>(i)],
                            1e-4 * std::max(1.f, std::abs(score[static_cast<size_t>(i)])))
                    << "image " << i;
            }
        }
    }
}

TEST(Lrp, EpsilonZeroIsGradientTimesInputOnAReluNet) {
    Rng rng(11);
    Net n = make_net(rng);
    ASSERT_TRUE(n.g.validate().is_ok());
    Executor ex(n.g, reference_kernels());
    const Tensor x = random_tensor(Shape{1, 8, 8, 2}, rng);
    Tensor r;
    std::vector<float> score;
    ASSERT_TRUE(relevance(ex, n, x, 2,
                          rules_for(n.g, {.kind = LrpRule::Kind::kEpsilon, .epsilon = 0.f}), r,
                          score)
                    .is_ok());
    ASSERT_TRUE(ex.forward(x).is_ok());
    std::vector<Seed> seeds;
    seeds.push_back({n.logits, seed_class(ex.value(n.logits).shape(), 2)});
    const int in = n.g.input();
    std::vector<Tensor> grads;
    ASSERT_TRUE(ex.backward(seeds, {&in, 1}, ReluRule::kStandard, grads).is_ok());
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < x.size(); ++i) {
        const double gxi = double(grads[0][i]) * x[i];
        worst = std::max(worst, std::abs(gxi - r[i]));
        scale = std::max(scale, std::abs(gxi));
    }
    EXPECT_GT(scale, 1e-3);
    EXPECT_LT(worst, 1e-4 * scale);
}

TEST(Lrp, RefusesAModelWithAnOpWithoutARule) {
    for (const bool gate : {true, false}) {
        Rng rng(3);
        Net n = make_net(rng, gate, !gate);
        ASSERT_TRUE(n.g.validate().is_ok()) << n.g.validate().message();
        Executor ex(n.g, reference_kernels());
        Tensor r;
        std::vector<float> score;
        const Status s = relevance(ex, n, random_tensor(Shape{1, 8, 8, 2}, rng), 0,
                                   rules_for(n.g, {}), r, score);
        ASSERT_FALSE(s.is_ok());
        EXPECT_NE(s.message().find(gate ? "LRP has no rule for Mul (node 'gate')"
                                        : "LRP has no rule for Softmax (node 'sm')"),
                  std::string::npos)
            << s.message();
    }
}

// What the method is: live, signed, and Zennit's defaults (the generic method tests and the torch
// oracle test run it on the bundled model).
TEST(Lrp, MethodTraitsAndDefaults) {
    const ExplanationMethod* m = find_method("lrp");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(m->live());
    EXPECT_TRUE(map_norm_is_signed(m->traits().norm));
    EXPECT_EQ(m->param(Params(), "composite"), 2);  // epsilon_plus_flat
    EXPECT_EQ(m->param(Params(), "epsilon"), 1e-6);
    EXPECT_EQ(m->param(Params(), "gamma"), 0.25);
}

}  // namespace
}  // namespace cnnlens
