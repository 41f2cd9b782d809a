// Known properties of the gradient CAM family on a network built by hand: a convolution, global
// average pooling and one linear layer (the architecture CAM was defined for).
#include <gtest/gtest.h>

#include "core/explain/explain.h"
#include "core/explain/probe.h"
#include "core/import/model.h"
#include "core/kernels/kernels.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

// x [N,6,5,2] -> Conv2D 3x3 same, 4 filters, ReLU -> mean over H,W -> MatMul [4,3] + bias.
Model gap_linear_model(uint64_t seed) {
    Rng rng(seed);
    Model m;
    Graph& g = m.graph;
    const int x = g.add_input("x", Shape{-1, 6, 5, 2});
    ConvAttrs c;
    c.padding = PaddingMode::kSame;
    c.activation = Activation::kRelu;
    const int conv = g.add_node("conv", OpType::kConv2D, c,
                                {x, g.add_const("w", test::random_tensor({3, 3, 2, 4}, rng)), g.add_const("b", test::random_tensor({4}, rng, 0.f, 0.5f))});
    const int gap = g.add_node("gap", OpType::kMean, ReduceAttrs{{1, 2}, false}, {conv});
    const int fc = g.add_node("fc", OpType::kMatMul, MatMulAttrs{}, {gap, g.add_const("fw", test::random_tensor({4, 3}, rng)), g.add_const("fb", test::random_tensor({3}, rng))});
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
    explicit GapLinearCase(uint64_t seed) : model(gap_linear_model(seed)), probe(model, reference_kernels()), ctx(probe) {
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
    Tensor cam(const char* method, int cls) {
        auto e = find_method(method)->explain(x, Target{cls}, Params().set("layer", layer), ctx);
        EXPECT_TRUE(e) << method << ": " << e.status().message();
        if (!e) return Tensor();
        return std::move(e->extras.at("cam"));
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
            // A channel that is zero everywhere has weight 0 (its sum of A is 0, the 1e-7 guards it).
            EXPECT_NEAR(xg[i], std::max(all, 0.0) / 30, 1e-5) << "XGrad-CAM, class " << cls;
        }
    }
}

}  // namespace
}  // namespace cnnlens
