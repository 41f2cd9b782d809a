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

// Draelos & Carin (2020): with global average pooling and one linear layer after the CAM's
// layer, the gradient is the same at every position, so HiResCAM (gradient times activation
// per position) equals Grad-CAM (position-averaged gradient times activation), and both equal
// CAM (the linear layer's weights times the activations) divided by the positions.
TEST(CamFamily, HiResCamEqualsGradCamAndCamOnGapAndLinear) {
    const Model m = gap_linear_model(7);
    GraphProbe probe(m, reference_kernels());
    ExplainContext ctx(probe);
    Rng rng(8);
    const Tensor x = test::random_tensor({1, 6, 5, 2}, rng, 0.f, 1.f);
    const int layer = m.graph.find("conv");
    for (int cls = 0; cls < 3; ++cls) {
        auto gc = find_method("gradcam")->explain(x, Target{cls}, Params().set("layer", layer), ctx);
        auto hr = find_method("hirescam")->explain(x, Target{cls}, Params().set("layer", layer), ctx);
        ASSERT_TRUE(gc && hr);
        const Tensor &a = gc->extras.at("cam"), &b = hr->extras.at("cam");
        ASSERT_EQ(a.shape(), (Shape{6, 5}));
        ASSERT_EQ(b.shape(), a.shape());
        // CAM from the activations and the linear layer's weights.
        ProbeRequest r;
        r.layers = {layer};
        auto acts = probe.run(x, r);
        ASSERT_TRUE(acts);
        const Tensor& A = acts->activations[0];
        const Tensor& fw = m.graph.node(m.graph.find("fw")).value;
        double peak = 0;
        for (int64_t i = 0; i < 30; ++i) {
            double s = 0;
            for (int k = 0; k < 4; ++k) s += double(fw[k * 3 + cls]) * A[i * 4 + k];
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
    const Model m = gap_linear_model(11);
    GraphProbe probe(m, reference_kernels());
    ExplainContext ctx(probe);
    Rng rng(12);
    const Tensor x = test::random_tensor({1, 6, 5, 2}, rng, 0.f, 1.f);
    const int layer = m.graph.find("conv");
    ProbeRequest r;
    r.layers = {layer};
    auto acts = probe.run(x, r);
    ASSERT_TRUE(acts);
    const Tensor& A = acts->activations[0];
    const Tensor& fw = m.graph.node(m.graph.find("fw")).value;
    for (int cls = 0; cls < 3; ++cls) {
        auto lc = find_method("layercam")->explain(x, Target{cls}, Params().set("layer", layer), ctx);
        auto xg = find_method("xgradcam")->explain(x, Target{cls}, Params().set("layer", layer), ctx);
        ASSERT_TRUE(lc && xg);
        for (int64_t i = 0; i < 30; ++i) {
            double pos = 0, all = 0;
            for (int k = 0; k < 4; ++k) {
                pos += std::max(double(fw[k * 3 + cls]), 0.0) * A[i * 4 + k];
                all += double(fw[k * 3 + cls]) * A[i * 4 + k];
            }
            EXPECT_NEAR(lc->extras.at("cam")[i], std::max(pos, 0.0) / 30, 1e-6) << "Layer-CAM, class " << cls;
            // A channel that is zero everywhere has weight 0 (its sum of A is 0, the 1e-7 guards it).
            EXPECT_NEAR(xg->extras.at("cam")[i], std::max(all, 0.0) / 30, 1e-5) << "XGrad-CAM, class " << cls;
        }
    }
}

}  // namespace
}  // namespace cnnlens
