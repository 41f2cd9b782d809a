// Known properties of the CAM family on networks built by hand: a convolution, global average
// pooling and one linear layer (the architecture CAM was defined for), and a rank-1 layer.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "core/explain/explain.h"
#include "core/explain/probe.h"
#include "core/import/model.h"
#include "core/kernels/kernels.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

// x [N,6,5,2] -> Conv2D 3x3 same, 4 filters, ReLU -> mean over H,W -> MatMul [4,3] + bias.
// dead >= 0: that filter's bias is -100, so its channel is 0 everywhere.
Model gap_linear_model(uint64_t seed, int dead = -1) {
    Rng rng(seed);
    Model m;
    Graph& g = m.graph;
    const int x = g.add_input("x", Shape{-1, 6, 5, 2});
    ConvAttrs c;
    c.padding = PaddingMode::kSame;
    c.activation = Activation::kRelu;
    Tensor bias = test::random_tensor({4}, rng, 0.f, 0.5f);
    if (dead >= 0) bias[dead] = -100.f;
    const int conv = g.add_node("conv", OpType::kConv2D, c,
                                {x, g.add_const("w", test::random_tensor({3, 3, 2, 4}, rng)),
                                 g.add_const("b", std::move(bias))});
    const int gap = g.add_node("gap", OpType::kMean, ReduceAttrs{{1, 2}, false}, {conv});
    const int fc = g.add_node("fc", OpType::kMatMul, MatMulAttrs{},
                              {gap, g.add_const("fw", test::random_tensor({4, 3}, rng)),
                               g.add_const("fb", test::random_tensor({3}, rng))});
    g.set_output(fc);
    EXPECT_TRUE(g.validate().is_ok());
    m.logits = fc;
    m.spec.name = "gap_linear";
    m.spec.input = InputSpec{6, 5, 2, 0.f, 1.f, {}, {}};
    m.spec.classes = {"a", "b", "c"};
    return m;
}

// The network, one input, the CAM layer's activations A [6,5,4] and the linear weights [4,3].
struct GapLinearCase {
    explicit GapLinearCase(uint64_t seed, int dead = -1)
        : model(gap_linear_model(seed, dead)), probe(model, reference_kernels()), ctx(probe) {
        Rng rng(seed + 1);
        x = test::random_tensor({1, 6, 5, 2}, rng, 0.f, 1.f);
        layer = model.graph.find("conv");
        ProbeRequest r;
        r.layers = {layer};
        auto acts = probe.run(x, r);
        EXPECT_TRUE(acts);
        if (acts) A = std::move(acts->activations[0]);
        fw = &model.graph.node(model.graph.find("fw")).value;
    }
    Tensor cam(const char* method, int cls, const char* extra = "cam") {
        auto e = find_method(method)->explain(x, Target{cls}, Params().set("layer", layer), ctx);
        EXPECT_TRUE(e) << method << ": " << e.status().message();
        if (!e) return Tensor();
        return std::move(e->extras.at(extra));
    }
    // The logits of one image [1,6,5,2].
    Tensor logits(const Tensor& image) {
        auto r = probe.run(image, ProbeRequest{});
        EXPECT_TRUE(r) << r.status().message();
        return r ? std::move(r->logits) : Tensor();
    }
    Model model;
    GraphProbe probe;
    ExplainContext ctx;
    Tensor x, A;
    const Tensor* fw = nullptr;
    int layer = -1;
};

// Draelos & Carin (2020): with global average pooling and one linear layer after the CAM's
// layer, the gradient is the same at every position, so HiResCAM (gradient times activation
// per position) equals Grad-CAM (position-averaged gradient times activation), and both equal
// CAM (the linear layer's weights times the activations) divided by the positions.
TEST(CamFamily, HiResCamEqualsGradCamAndCamOnGapAndLinear) {
    GapLinearCase t(7);
    for (int cls = 0; cls < 3; ++cls) {
        const Tensor a = t.cam("gradcam", cls), b = t.cam("hirescam", cls);
        ASSERT_EQ(a.shape(), (Shape{6, 5}));
        ASSERT_EQ(b.shape(), a.shape());
        // CAM from the activations and the linear layer's weights.
        double peak = 0;
        for (int64_t i = 0; i < 30; ++i) {
            double s = 0;
            for (int k = 0; k < 4; ++k) s += double((*t.fw)[k * 3 + cls]) * t.A[i * 4 + k];
            const double cam = std::max(s, 0.0) / 30;
            peak = std::max(peak, cam);
            EXPECT_NEAR(a[i], cam, 1e-6) << "Grad-CAM, class " << cls << ", position " << i;
            EXPECT_NEAR(b[i], cam, 1e-6) << "HiResCAM, class " << cls << ", position " << i;
        }
        EXPECT_GT(peak, 0) << "class " << cls << ": an all-zero CAM proves nothing";
    }
}

// Layer-CAM keeps only positive gradients per position, XGrad-CAM weighs channels by
// activation-normalised gradients: on the same network, where every position's gradient is the
// linear layer's weight / positions, Layer-CAM is relu(sum_k relu(w_k) A_k) / positions and
// XGrad-CAM's weights are w_k / positions exactly (sum G A / sum A).
TEST(CamFamily, LayerCamAndXGradCamOnGapAndLinear) {
    GapLinearCase t(11);
    for (int cls = 0; cls < 3; ++cls) {
        const Tensor lc = t.cam("layercam", cls), xg = t.cam("xgradcam", cls);
        ASSERT_EQ(lc.shape(), (Shape{6, 5}));
        ASSERT_EQ(xg.shape(), lc.shape());
        for (int64_t i = 0; i < 30; ++i) {
            double pos = 0, all = 0;
            for (int k = 0; k < 4; ++k) {
                const double w = (*t.fw)[k * 3 + cls];
                pos += std::max(w, 0.0) * t.A[i * 4 + k];
                all += w * t.A[i * 4 + k];
            }
            EXPECT_NEAR(lc[i], std::max(pos, 0.0) / 30, 1e-6) << "Layer-CAM, class " << cls;
            // A channel that is zero everywhere has weight 0 (its sum of A is 0, the 1e-7 guards
            // it).
            EXPECT_NEAR(xg[i], std::max(all, 0.0) / 30, 1e-5) << "XGrad-CAM, class " << cls;
        }
    }
}

// The CAM layer has the input's size (3x3 "same"), so Score-CAM's upsampling is the identity
// and its mask for channel k is (A_k - min) / (max - min + 1e-8): the weights are the softmax
// over channels of the logit of x times that mask. A dead channel (0 everywhere) masks the whole
// image out: its score is the logit of a black image, and it adds nothing to the CAM.
TEST(CamFamily, ScoreCamWeightsAreTheSoftmaxOfMaskedScores) {
    GapLinearCase t(13, /*dead=*/2);
    for (int cls = 0; cls < 3; ++cls) {
        const Tensor cam = t.cam("scorecam", cls), w = t.cam("scorecam", cls, "weights");
        ASSERT_EQ(w.shape(), (Shape{4}));
        std::vector<double> score(4);
        for (int k = 0; k < 4; ++k) {
            double lo = 1e30, hi = -1e30;
            for (int64_t i = 0; i < 30; ++i)
                lo = std::min<double>(lo, t.A[i * 4 + k]),
                hi = std::max<double>(hi, t.A[i * 4 + k]);
            Tensor masked = t.x.clone();
            for (int64_t i = 0; i < 30; ++i)
                for (int c = 0; c < 2; ++c)
                    masked[i * 2 + c] = static_cast<float>(
                        t.x[i * 2 + c] * ((t.A[i * 4 + k] - lo) / (hi - lo + 1e-8)));
            score[k] = t.logits(masked)[cls];
        }
        const Tensor black = t.logits(Tensor(Shape{1, 6, 5, 2}, 0.f));
        EXPECT_NEAR(score[2], black[cls], 1e-6) << "the dead channel's mask is all zero";
        double z = 0;
        for (double s : score) z += std::exp(s);
        for (int k = 0; k < 4; ++k)
            EXPECT_NEAR(w[k], std::exp(score[k]) / z, 1e-6) << "class " << cls << ", channel " << k;
        for (int64_t i = 0; i < 30; ++i) {
            double s = 0;
            for (int k = 0; k < 4; ++k) s += std::exp(score[k]) / z * t.A[i * 4 + k];
            EXPECT_NEAR(cam[i], std::max(s, 0.0), 1e-6) << "class " << cls << ", position " << i;
            EXPECT_EQ(t.A[i * 4 + 2], 0.f);
        }
    }
}

// With global average pooling and one linear layer after the layer, zeroing channel k lowers
// logit c by fw[k,c] mean(A_k): Ablation-CAM's weights are fw[k,c] mean(A_k) / y.
TEST(CamFamily, AblationCamWeightsOnGapAndLinear) {
    GapLinearCase t(17);
    const Tensor logits = t.logits(t.x);
    for (int cls = 0; cls < 3; ++cls) {
        const Tensor cam = t.cam("ablationcam", cls), w = t.cam("ablationcam", cls, "weights");
        ASSERT_EQ(w.shape(), (Shape{4}));
        const double y = logits[cls];
        std::vector<double> want(4);
        for (int k = 0; k < 4; ++k) {
            double mean = 0;
            for (int64_t i = 0; i < 30; ++i) mean += t.A[i * 4 + k] / 30.0;
            want[k] = (*t.fw)[k * 3 + cls] * mean / y;
            EXPECT_NEAR(w[k], want[k], 1e-5 * std::max(1.0, std::fabs(want[k])))
                << "class " << cls << ", channel " << k;
        }
        for (int64_t i = 0; i < 30; ++i) {
            double s = 0;
            for (int k = 0; k < 4; ++k) s += want[k] * t.A[i * 4 + k];
            EXPECT_NEAR(cam[i], std::max(s, 0.0), 1e-5) << "class " << cls << ", position " << i;
        }
    }
}

// x [N,h,w,1] -> Conv2D 1x1 to k channels, no bias, no activation (A_ic = x_i w_c: rank 1)
// -> mean over H,W -> MatMul [k,2].
Model rank1_model(int h, int w, int k, uint64_t seed) {
    Rng rng(seed);
    Model m;
    Graph& g = m.graph;
    const int x = g.add_input("x", Shape{-1, h, w, 1});
    const int conv = g.add_node("conv", OpType::kConv2D, ConvAttrs{},
                                {x, g.add_const("w", test::random_tensor({1, 1, 1, k}, rng))});
    const int gap = g.add_node("gap", OpType::kMean, ReduceAttrs{{1, 2}, false}, {conv});
    const int fc = g.add_node("fc", OpType::kMatMul, MatMulAttrs{},
                              {gap, g.add_const("fw", test::random_tensor({k, 2}, rng))});
    g.set_output(fc);
    EXPECT_TRUE(g.validate().is_ok());
    m.logits = fc;
    m.spec.name = "rank1";
    m.spec.input = InputSpec{h, w, 1, 0.f, 1.f, {}, {}};
    m.spec.classes = {"a", "b"};
    return m;
}

// Eigen-CAM of rank-1 activations A_ic = x_i w_c is that component: centred, (x_i - mean x) w_c,
// projected on w / |w|, (x_i - mean x) |w|, signed to correlate with the total activation
// (x_i - mean x) sum_c w_c, then ReLU'd. Both shapes: more positions than channels (the k x k
// Gram matrix) and more channels than positions (the hw x hw one).
TEST(CamFamily, EigenCamOfRankOneActivationsIsTheComponent) {
    for (auto [h, w, k] : {std::tuple{6, 5, 4}, std::tuple{2, 2, 9}}) {
        SCOPED_TRACE("h " + std::to_string(h) + " w " + std::to_string(w) + " k " +
                     std::to_string(k));
        for (uint64_t seed : {3, 4, 5}) {
            Model model = rank1_model(h, w, k, seed);
            GraphProbe probe(model, reference_kernels());
            ExplainContext ctx(probe);
            Rng rng(seed + 10);
            const Tensor x = test::random_tensor({1, h, w, 1}, rng, 0.f, 1.f);
            const Tensor& wt = model.graph.node(model.graph.find("w")).value;
            double norm = 0, sum = 0, mean = 0;
            for (int c = 0; c < k; ++c) norm += double(wt[c]) * wt[c], sum += wt[c];
            norm = std::sqrt(norm);
            for (int64_t i = 0; i < h * w; ++i) mean += x[i];
            mean /= h * w;
            auto e =
                find_method("eigencam")
                    ->explain(x, Target{0}, Params().set("layer", model.graph.find("conv")), ctx);
            ASSERT_TRUE(e) << e.status().message();
            const Tensor& cam = e->extras.at("cam");
            ASSERT_EQ(cam.shape(), (Shape{h, w}));
            double peak = 0;
            for (int64_t i = 0; i < h * w; ++i) {
                const double want = std::max((x[i] - mean) * norm * (sum < 0 ? -1 : 1), 0.0);
                peak = std::max(peak, want);
                EXPECT_NEAR(cam[i], want, 1e-5 * norm) << "position " << i;
            }
            EXPECT_GT(peak, 0);
            EXPECT_NEAR(e->stats["explained_variance"], 1.0, 1e-6);
        }
    }
}

}  // namespace
}  // namespace cnnlens
