// Executor: backward from seeds on any node to the input and to intermediate activations,
// fan-out accumulation, ReLU rules, batch independence, and errors.
#include "core/graph/executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/thread_pool.h"
#include "core/import/model.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

// y = relu(x) + x * c: x fans out to two consumers.
struct FanOut {
    Graph g;
    int x, relu, mul, add;
    FanOut() {
        x = g.add_input("x", Shape{-1, 4});
        Tensor c(Shape{4});
        for (int i = 0; i < 4; ++i) c[i] = 0.5f * (i + 1);
        const int ci = g.add_const("c", std::move(c));
        relu = g.add_node("relu", OpType::kRelu, NoAttrs{}, {x});
        mul = g.add_node("mul", OpType::kMul, NoAttrs{}, {x, ci});
        add = g.add_node("add", OpType::kAdd, NoAttrs{}, {relu, mul});
        g.set_output(add);
        EXPECT_TRUE(g.validate().is_ok());
    }
};

TEST(Executor, FanOutAccumulates) {
    FanOut f;
    Executor ex(f.g, reference_kernels());
    Tensor x(Shape{1, 4});
    x[0] = -1;
    x[1] = 2;
    x[2] = -3;
    x[3] = 4;
    ASSERT_TRUE(ex.forward(x).is_ok());
    std::vector<Seed> seeds;
    seeds.push_back({f.add, Tensor(Shape{1, 4}, 1.f)});
    std::vector<Tensor> g;
    const int want[] = {f.x, f.relu};
    ASSERT_TRUE(ex.backward(seeds, want, ReluRule::kStandard, g).is_ok());
    const float expect_x[] = {0.5f, 2.f, 1.5f, 3.f};  // [x>0] + c
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(g[0][i], expect_x[i]);
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(g[1][i], 1.f);  // d add / d relu
}

TEST(Executor, ReluRules) {
    Graph g;
    const int x = g.add_input("x", Shape{-1, 4});
    const int r = g.add_node("relu", OpType::kRelu, NoAttrs{}, {x});
    g.set_output(r);
    ASSERT_TRUE(g.validate().is_ok());
    Executor ex(g, reference_kernels());
    Tensor in(Shape{1, 4});
    in[0] = 1;
    in[1] = 1;
    in[2] = -1;
    in[3] = -1;
    ASSERT_TRUE(ex.forward(in).is_ok());
    Tensor seed(Shape{1, 4});
    seed[0] = 2;
    seed[1] = -2;
    seed[2] = 2;
    seed[3] = -2;
    std::vector<Seed> seeds;
    seeds.push_back({r, std::move(seed)});
    std::vector<Tensor> out;
    auto grad = [&](ReluRule rule) {
        EXPECT_TRUE(ex.backward(seeds, {&x, 1}, rule, out).is_ok());
        return std::vector<float>(out[0].data(), out[0].data() + 4);
    };
    EXPECT_EQ(grad(ReluRule::kStandard), (std::vector<float>{2, -2, 0, 0}));
    EXPECT_EQ(grad(ReluRule::kGuided), (std::vector<float>{2, 0, 0, 0}));
    EXPECT_EQ(grad(ReluRule::kDeconvnet), (std::vector<float>{2, 0, 2, 0}));
}

TEST(Executor, SeedsOnActivationsAndChannelMean) {
    auto m = load_model(test::source_path("models/fer2013-mini-xception"));
    ASSERT_TRUE(m) << m.status().message();
    Executor ex(m->graph, reference_kernels());
    Rng rng(3);
    Tensor x = test::random_tensor({2, 64, 64, 1}, rng, 0.f, 1.f);
    ASSERT_TRUE(ex.forward(x).is_ok());
    // Gradient of the mean activation of channel 5 of a mid layer, w.r.t. the input and the
    // layer's own input activation, checked against a finite difference along a direction.
    const int layer = m->graph.find("StatefulPartitionedCall/model_1/block2_sepconv2_act/Relu");
    ASSERT_GE(layer, 0);
    std::vector<Seed> seeds;
    seeds.push_back({layer, seed_channel_mean(ex.value(layer).shape(), 5)});
    std::vector<Tensor> g;
    const int input = m->graph.input();
    const int want[] = {input, layer};
    ASSERT_TRUE(ex.backward(seeds, want, ReluRule::kStandard, g).is_ok());
    EXPECT_EQ(g[1].shape(), ex.value(layer).shape());
    Tensor v = test::random_tensor(x.shape(), rng);
    auto objective = [&](const Tensor& in) {
        EXPECT_TRUE(ex.forward(in).is_ok());
        const Tensor& a = ex.value(layer);
        double s = 0;
        for (int64_t i = 5; i < a.size(); i += a.shape()[3]) s += a[i];
        return s / (a.shape()[1] * a.shape()[2]);
    };
    const float eps = 1e-4f;  // small: fewer ReLU kinks and max-pool switches crossed
    Tensor xp = x.clone(), xm = x.clone();
    for (int64_t i = 0; i < x.size(); ++i) {
        xp[i] += eps * v[i];
        xm[i] -= eps * v[i];
    }
    const double fd = (objective(xp) - objective(xm)) / (2 * eps);
    double dot = 0;
    for (int64_t i = 0; i < x.size(); ++i) dot += double(g[0][i]) * v[i];
    EXPECT_NEAR(dot, fd, 1e-2 * std::fabs(fd) + 1e-5);
}

TEST(Executor, BatchImagesAreIndependent) {
    auto m = load_model(test::source_path("models/fer2013-mini-xception"));
    ASSERT_TRUE(m);
    Executor ex(m->graph, reference_kernels());
    Rng rng(9);
    Tensor x = test::random_tensor({3, 64, 64, 1}, rng, 0.f, 1.f);
    ASSERT_TRUE(ex.forward(x).is_ok());
    std::vector<Seed> seeds;
    seeds.push_back({m->logits, seed_contrast(ex.value(m->logits).shape(), 3, 0)});
    std::vector<Tensor> gb;
    const int input = m->graph.input();
    ASSERT_TRUE(ex.backward(seeds, {&input, 1}, ReluRule::kStandard, gb).is_ok());
    for (int k = 0; k < 3; ++k) {
        Tensor one(Shape{1, 64, 64, 1});
        std::copy(x.data() + k * 4096, x.data() + (k + 1) * 4096, one.data());
        ASSERT_TRUE(ex.forward(one).is_ok());
        std::vector<Seed> s1;
        s1.push_back({m->logits, seed_contrast(ex.value(m->logits).shape(), 3, 0)});
        std::vector<Tensor> g1;
        ASSERT_TRUE(ex.backward(s1, {&input, 1}, ReluRule::kStandard, g1).is_ok());
        EXPECT_LT(test::rel_l2(gb[0].data() + k * 4096, g1[0].data(), 4096), 1e-6);
    }
}

// The forward memory plan: a pass that keeps only some values gives exactly the values of a
// pass that keeps them all, recycles the rest (value() empty), and backward() refuses until a
// full pass. (A full pass is a tape pass, whose convolutions may round differently: see
// ConvKernel::forward_tape.)
TEST(Executor, PlannedForwardKeepsOnlyWhatIsAsked) {
    const Model& m = test::default_model();
    for (const KernelSet* ks : compiled_kernel_sets()) {
        SCOPED_TRACE(std::string(ks->name));
        Executor full(m.graph, *ks), planned(m.graph, *ks);
        std::vector<int> every;
        for (int i = 0; i < m.graph.size(); ++i) every.push_back(i);
        Rng rng(4);
        Tensor x = test::random_tensor({2, 64, 64, 1}, rng, 0.f, 1.f);
        int mid = -1;  // a convolution in the middle of the net
        for (int i = 0; i < m.graph.size(); ++i)
            if (m.graph.node(i).op == OpType::kConv2D && i > m.graph.size() / 2 && mid < 0) mid = i;
        ASSERT_GE(mid, 0);
        ASSERT_TRUE(full.forward(x, every).is_ok());
        const int keep[] = {m.logits, mid};
        for (int round = 0; round < 2; ++round) {  // the second pass runs on recycled buffers
            ASSERT_TRUE(planned.forward(x, keep).is_ok());
            for (int k : keep) {
                ASSERT_EQ(planned.value(k).shape(), full.value(k).shape());
                EXPECT_EQ(test::max_abs_diff(planned.value(k).data(), full.value(k).data(),
                                             planned.value(k).size()),
                          0.0);
            }
        }
        int recycled = 0;
        for (int i = 0; i < m.graph.size(); ++i)
            recycled += m.graph.node(i).op != OpType::kConst && planned.value(i).empty();
        EXPECT_GT(recycled, m.graph.size() / 4);
        std::vector<Seed> seeds;
        seeds.push_back({m.logits, seed_class(planned.value(m.logits).shape(), 3)});
        const int input = m.graph.input();
        std::vector<Tensor> g;
        const Status s = planned.backward(seeds, {&input, 1}, ReluRule::kStandard, g);
        EXPECT_FALSE(s.is_ok());
        EXPECT_NE(s.message().find("full forward"), std::string::npos) << s.message();
        ASSERT_TRUE(planned.forward(x).is_ok());  // a full pass after a planned one
        EXPECT_TRUE(planned.backward(seeds, {&input, 1}, ReluRule::kStandard, g).is_ok());
        Executor tape(m.graph, *ks);
        ASSERT_TRUE(tape.forward(x).is_ok());
        EXPECT_EQ(test::max_abs_diff(planned.value(mid).data(), tape.value(mid).data(),
                                     planned.value(mid).size()),
                  0.0);
    }
}

// A planned forward fuses a ReLU or ReLU6 into the convolution or fully connected layer before
// it when nothing else reads that layer: the output is the unfused pass's to the bit, in every
// kernel set (the sets' clamps agree), and a layer read twice or kept keeps its own value.
// Convolutions and a fully connected layer, each read by a ReLU or ReLU6 (c1, c2, cw, fc: the
// layers a pass may fuse it into; cw is the simd sets' Winograd convolution, c2 large enough for
// ReLU6 to clamp at 6), and c3, read by its ReLU and by an Add too, which stays unfused.
struct ReluChain {
    Graph g;
    int x, c1, r1, c2, r2, cw, rw, c3, r3, fc, r4;
    explicit ReluChain(Rng& rng) {
        x = g.add_input("x", Shape{-1, 12, 12, 3});
        auto conv = [&](const std::string& name, int in, int ci, int co, int k, float scale) {
            ConvAttrs a;
            a.padding = PaddingMode::kSame;
            const int w =
                g.add_const(name + "_w", test::random_tensor({k, k, ci, co}, rng, -scale, scale));
            const int b = g.add_const(name + "_b", test::random_tensor({co}, rng, -0.5f, 0.5f));
            return g.add_node(name, OpType::kConv2D, a, {in, w, b});
        };
        c1 = conv("c1", x, 3, 16, 3, 0.5f);
        r1 = g.add_node("r1", OpType::kRelu, NoAttrs{}, {c1});
        c2 = conv("c2", r1, 16, 48, 1, 3.f);
        r2 = g.add_node("r2", OpType::kRelu6, NoAttrs{}, {c2});
        cw = conv("cw", r2, 48, 32, 3, 0.2f);
        rw = g.add_node("rw", OpType::kRelu, NoAttrs{}, {cw});
        c3 = conv("c3", rw, 32, 40, 3, 0.5f);
        r3 = g.add_node("r3", OpType::kRelu, NoAttrs{}, {c3});
        const int sum = g.add_node("sum", OpType::kAdd, NoAttrs{}, {r3, c3});
        const int mean = g.add_node("mean", OpType::kMean, ReduceAttrs{{1, 2}, false}, {sum});
        const int w = g.add_const("fc_w", test::random_tensor({40, 300}, rng, -0.5f, 0.5f));
        fc = g.add_node("fc", OpType::kMatMul, MatMulAttrs{}, {mean, w});
        r4 = g.add_node("r4", OpType::kRelu, NoAttrs{}, {fc});
        g.set_output(r4);
        EXPECT_TRUE(g.validate().is_ok());
    }
};

TEST(Executor, PlannedForwardFusesReluIntoTheLayerBefore) {
    Rng rng(12);
    ReluChain net(rng);
    Graph& g = net.g;
    const int c1 = net.c1, r1 = net.r1, c2 = net.c2, r2 = net.r2, cw = net.cw, rw = net.rw,
              c3 = net.c3, fc = net.fc, r4 = net.r4;
    const std::vector<int> fuse = fusable_activations(g);
    EXPECT_EQ(fuse[static_cast<size_t>(c1)], r1);
    EXPECT_EQ(fuse[static_cast<size_t>(c2)], r2);
    EXPECT_EQ(fuse[static_cast<size_t>(cw)], rw);
    EXPECT_EQ(fuse[static_cast<size_t>(c3)], -1);
    EXPECT_EQ(fuse[static_cast<size_t>(fc)], r4);
    EXPECT_EQ(std::count_if(fuse.begin(), fuse.end(), [](int f) { return f >= 0; }), 4);
    std::vector<int> every;
    for (int i = 0; i < g.size(); ++i) every.push_back(i);
    for (const KernelSet* ks : compiled_kernel_sets()) {
        SCOPED_TRACE(std::string(ks->name));
        for (int threads : {1, 2}) {
            set_pool_threads(threads);
            const Tensor in = test::random_tensor({2, 12, 12, 3}, rng, -1.f, 1.f);
            Executor all(g, *ks), lean(g, *ks);
            ASSERT_TRUE(all.forward(in, every).is_ok());
            const Tensor& six = all.value(r2);
            EXPECT_GT(std::count(six.data(), six.data() + six.size(), 6.f), 0);
            for (int round = 0; round < 2; ++round) {  // the second on recycled buffers
                const int keep[] = {r4, c2};  // c2 kept: computed unfused, then r2 as a node
                ASSERT_TRUE(lean.forward(in, round == 0 ? std::span<const int>(keep, 1)
                                                        : std::span<const int>(keep, 2))
                                .is_ok());
                EXPECT_EQ(std::memcmp(all.value(r4).data(), lean.value(r4).data(),
                                      sizeof(float) * all.value(r4).size()),
                          0);
                if (round == 1) {
                    EXPECT_EQ(std::memcmp(all.value(c2).data(), lean.value(c2).data(),
                                          sizeof(float) * all.value(c2).size()),
                              0);
                }
            }
            // New weights, then invalidate(): the fused layers' kernels are prepared anew too.
            Tensor& w1 = g.node(g.node(c1).inputs[1]).value;
            const Tensor saved = w1.clone();
            for (int64_t k = 0; k < w1.size(); ++k) w1[k] = -w1[k];
            lean.invalidate();
            Executor fresh(g, *ks);
            ASSERT_TRUE(lean.forward(in, {&r4, 1}).is_ok());
            ASSERT_TRUE(fresh.forward(in, every).is_ok());
            EXPECT_EQ(std::memcmp(fresh.value(r4).data(), lean.value(r4).data(),
                                  sizeof(float) * fresh.value(r4).size()),
                      0);
            std::copy(saved.data(), saved.data() + saved.size(), w1.data());
        }
        set_pool_threads(1);
    }
}

// The backward memory plan recycles spent gradient buffers and applies fused activations'
// derivatives in place; neither may touch a gradient that was asked for. The gradient with
// respect to a fused Conv+ReLU output is the one BEFORE the ReLU's derivative, so it is
// non-zero at some pixels where the output is 0.
// The float32 tape (TapePrecision::kFloat): a layer that a later max pool reads rounds alike at
// every position, so windows that are identical in exact arithmetic tie and the max pool's
// gradient goes where the exact tape sends it; a layer no max pool reads runs its forward pass
// (the simd sets' Winograd F(2x2) at this size; F(4x4) runs F(2x2) here, KernelSetTest's
// FloatTapeRoundsAsFloatSumsDo) to the bit; the gradient stays within float rounding of the
// exact tape's, and the same to the bit on one and two threads.
TEST(Executor, FloatTapeKeepsMaxPoolTiesAndRunsTheForwardElsewhere) {
    Graph g;
    Rng rng(21);
    const int H = 10, W = 10, C = 16;
    const int x = g.add_input("x", Shape{-1, H, W, C});
    auto conv = [&](const std::string& name, int in) {
        ConvAttrs a;
        a.padding = PaddingMode::kSame;
        const int w = g.add_const(name + "_w", test::random_tensor({3, 3, C, 32}, rng, -.3f, .3f));
        const int b = g.add_const(name + "_b", test::random_tensor({32}, rng, -0.5f, 0.5f));
        return g.add_node(name, OpType::kConv2D, a, {in, w, b});
    };
    const int cp = conv("cp", x);  // read by the max pool
    PoolAttrs pa;
    pa.kernel_h = pa.kernel_w = pa.stride_h = pa.stride_w = 2;
    const int pool = g.add_node("pool", OpType::kMaxPool, pa, {cp});
    const int mp = g.add_node("mp", OpType::kMean, ReduceAttrs{{1, 2}, false}, {pool});
    const int cf = conv("cf", x);  // no max pool below: the forward pass's own kernel
    const int rf = g.add_node("rf", OpType::kRelu, NoAttrs{}, {cf});
    const int mf = g.add_node("mf", OpType::kMean, ReduceAttrs{{1, 2}, false}, {rf});
    const int sum = g.add_node("sum", OpType::kAdd, NoAttrs{}, {mp, mf});
    const int w = g.add_const("fc_w", test::random_tensor({32, 10}, rng, -0.5f, 0.5f));
    const int fc = g.add_node("fc", OpType::kMatMul, MatMulAttrs{}, {sum, w});
    g.set_output(fc);
    ASSERT_TRUE(g.validate().is_ok());
    // Constant along diagonals (pixel (y, x) = r[x - y]): the windows at (y, x) and (y + 1, x + 1)
    // are identical away from the edges, and a 2x2 max pool window holds such a pair. (Inputs
    // constant along a row or column would not tell: Winograd F(2x2, 3x3) keeps their ties.)
    Tensor in(Shape{1, H, W, C});
    const Tensor diagonals = test::random_tensor({H + W, C}, rng, -1.f, 1.f);
    for (int y = 0; y < H; ++y)
        for (int xx = 0; xx < W; ++xx)
            for (int c = 0; c < C; ++c) in[(y * W + xx) * C + c] = diagonals[(xx - y + H) * C + c];
    const int input = g.input();
    for (const KernelSet* ks : compiled_kernel_sets()) {
        SCOPED_TRACE(std::string(ks->name));
        std::vector<Tensor> grads[2];
        Tensor exact_grad;
        for (int threads : {1, 2}) {
            set_pool_threads(threads);
            for (TapePrecision p : {TapePrecision::kExact, TapePrecision::kFloat}) {
                Executor ex(g, *ks);
                ex.set_tape_precision(p);
                ASSERT_TRUE(ex.forward(in).is_ok());
                std::vector<Seed> seeds;
                seeds.push_back({fc, seed_class(ex.value(fc).shape(), 3)});
                std::vector<Tensor> gr;
                ASSERT_TRUE(ex.backward(seeds, {&input, 1}, ReluRule::kStandard, gr).is_ok());
                if (p == TapePrecision::kExact) {
                    exact_grad = gr[0].clone();
                    continue;
                }
                const Tensor& v = ex.value(cp);
                int64_t untied = 0;
                for (int y = 2; y + 3 < H; y += 2)
                    for (int xx = 2; xx + 3 < W; xx += 2)
                        for (int c = 0; c < 32; ++c)
                            untied +=
                                v[(y * W + xx) * 32 + c] != v[((y + 1) * W + xx + 1) * 32 + c];
                EXPECT_EQ(untied, 0) << "identical windows before a max pool rounded apart";
                Executor planned(g, *ks);
                ASSERT_TRUE(planned.forward(in, {&cf, 1}).is_ok());
                EXPECT_EQ(std::memcmp(planned.value(cf).data(), ex.value(cf).data(),
                                      sizeof(float) * ex.value(cf).size()),
                          0)
                    << "a layer no max pool reads runs its forward pass";
                double scale = 0;
                for (int64_t i = 0; i < exact_grad.size(); ++i)
                    scale = std::max(scale, double(std::fabs(exact_grad[i])));
                EXPECT_LE(test::max_abs_diff(gr[0].data(), exact_grad.data(), gr[0].size()),
                          1e-5 * scale);
                grads[threads - 1] = std::move(gr);
            }
        }
        set_pool_threads(1);
        EXPECT_EQ(
            std::memcmp(grads[0][0].data(), grads[1][0].data(), sizeof(float) * grads[0][0].size()),
            0);
    }
}

// forward_for_backward() runs a layer with its ReLU fused when the caller did not keep the
// layer, keeps the ReLU's output instead of the layer's, and backward() applies the derivative
// in the layer's VJP: every gradient (the input's, a fused ReLU's, a fused layer's) equals the
// full tape's to the bit, in every kernel set, on 1 and 2 threads, under every ReLU rule.
TEST(Executor, ForBackwardPassFusesReluWithTheSameGradients) {
    Rng rng(31);
    ReluChain net(rng);
    const Graph& g = net.g;
    const int c1 = net.c1, r1 = net.r1, c2 = net.c2, r2 = net.r2, cw = net.cw, c3 = net.c3,
              fc = net.fc, r4 = net.r4;
    const int input = g.input();
    const int wanted[] = {input, r1, c2};
    for (const KernelSet* ks : compiled_kernel_sets()) {
        SCOPED_TRACE(std::string(ks->name));
        for (int threads : {1, 2}) {
            set_pool_threads(threads);
            const Tensor in = test::random_tensor({2, 12, 12, 3}, rng, -1.f, 1.f);
            Executor full(g, *ks), lean(g, *ks);
            ASSERT_TRUE(full.forward(in).is_ok());
            EXPECT_GT(std::count(full.value(r2).data(),
                                 full.value(r2).data() + full.value(r2).size(), 6.f),
                      0);
            std::vector<Seed> seeds;
            seeds.push_back({r4, test::random_tensor({2, 300}, rng, -1.f, 1.f)});
            for (ReluRule rule : {ReluRule::kStandard, ReluRule::kGuided, ReluRule::kDeconvnet}) {
                SCOPED_TRACE(static_cast<int>(rule));
                const int keep[] = {r4};
                ASSERT_TRUE(lean.forward_for_backward(in, keep).is_ok());
                EXPECT_EQ(lean.value(c1).size(), 0) << "c1 ran with r1 fused";
                EXPECT_EQ(lean.value(c2).size(), 0) << "c2 ran with r2 fused";
                EXPECT_EQ(lean.value(cw).size(), 0) << "cw ran with rw fused";
                EXPECT_EQ(lean.value(fc).size(), 0) << "fc ran with r4 fused";
                EXPECT_EQ(lean.value(c3).size(), full.value(c3).size()) << "c3 is read twice";
                std::vector<Tensor> a, b;
                ASSERT_TRUE(full.backward(seeds, wanted, rule, a).is_ok());
                ASSERT_TRUE(lean.backward(seeds, wanted, rule, b).is_ok());
                ASSERT_EQ(a.size(), b.size());
                for (size_t k = 0; k < a.size(); ++k) {
                    ASSERT_EQ(a[k].shape(), b[k].shape()) << k;
                    EXPECT_EQ(std::memcmp(a[k].data(), b[k].data(), sizeof(float) * a[k].size()), 0)
                        << "gradient " << k;
                }
            }
        }
    }
    set_pool_threads(1);
}

TEST(Executor, RequestedGradientsSurviveTheMemoryPlan) {
    const Model& m = test::default_model();
    int fused = -1;
    for (int i = 0; i < m.graph.size() && fused < 0; ++i)
        if (const auto* c = std::get_if<ConvAttrs>(&m.graph.node(i).attrs);
            c && c->activation == Activation::kRelu && c->groups == 1)
            fused = i;
    ASSERT_GE(fused, 0);
    for (const KernelSet* ks : compiled_kernel_sets()) {
        SCOPED_TRACE(std::string(ks->name));
        Executor ex(m.graph, *ks);
        Rng rng(5);
        Tensor x = test::random_tensor({1, 64, 64, 1}, rng, 0.f, 1.f);
        ASSERT_TRUE(ex.forward(x).is_ok());
        std::vector<Seed> seeds;
        seeds.push_back({m.logits, seed_class(ex.value(m.logits).shape(), 3)});
        const int input = m.graph.input();
        const int both[] = {input, fused};
        std::vector<Tensor> g1, g2, g3;
        ASSERT_TRUE(ex.backward(seeds, both, ReluRule::kStandard, g1).is_ok());
        ASSERT_TRUE(ex.backward(seeds, {&input, 1}, ReluRule::kStandard, g2).is_ok());
        ASSERT_TRUE(ex.backward(seeds, both, ReluRule::kStandard, g3).is_ok());
        EXPECT_EQ(test::max_abs_diff(g1[0].data(), g2[0].data(), g1[0].size()),
                  0.0);  // same input gradient either way
        EXPECT_EQ(test::max_abs_diff(g1[1].data(), g3[1].data(), g1[1].size()),
                  0.0);  // and after buffers were recycled
        const Tensor& y = ex.value(fused);
        int dead_with_gradient = 0;
        for (int64_t i = 0; i < y.size(); ++i) dead_with_gradient += y[i] == 0.f && g1[1][i] != 0.f;
        EXPECT_GT(dead_with_gradient, 0);
    }
}

TEST(Executor, ErrorsAreValues) {
    FanOut f;
    Executor ex(f.g, reference_kernels());
    std::vector<Tensor> g;
    std::vector<Seed> seeds;
    seeds.push_back({f.add, Tensor(Shape{1, 4}, 1.f)});
    EXPECT_FALSE(ex.backward(seeds, {&f.x, 1}, ReluRule::kStandard, g).is_ok());  // before forward
    EXPECT_NE(ex.forward(Tensor(Shape{1, 5})).message().find("[1,5]"), std::string::npos);
    ASSERT_TRUE(ex.forward(Tensor(Shape{2, 4}, 1.f)).is_ok());
    const Status s = ex.backward(seeds, {&f.x, 1}, ReluRule::kStandard, g);  // seed for batch 1
    EXPECT_NE(s.message().find("'add'"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace cnnlens
