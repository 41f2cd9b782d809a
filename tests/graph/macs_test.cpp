// Multiply-add counts against a hand count on a small graph (conv, max-pool, global mean,
// matmul) and on a torchvision-like block (batch norm, transposed conv).
#include "core/graph/macs.h"

#include <gtest/gtest.h>

namespace cnnlens {
namespace {

TEST(Macs, SmallClassifierMatchesHandCount) {
    Graph g;
    const int x = g.add_input("x", Shape{-1, 8, 8, 3});
    const int w = g.add_const("w", Tensor(Shape{3, 3, 3, 4}, 0.1f));
    ConvAttrs ca;
    ca.padding = PaddingMode::kSame;
    const int conv = g.add_node("conv", OpType::kConv2D, ca, {x, w});
    PoolAttrs pa;
    pa.kernel_h = pa.kernel_w = pa.stride_h = pa.stride_w = 2;
    const int pool = g.add_node("pool", OpType::kMaxPool, pa, {conv});
    const int mean = g.add_node("gap", OpType::kMean, ReduceAttrs{{1, 2}, false}, {pool});
    const int b = g.add_const("b", Tensor(Shape{4, 5}, 0.1f));
    const int fc = g.add_node("fc", OpType::kMatMul, MatMulAttrs{}, {mean, b});
    g.set_output(fc);
    ASSERT_TRUE(g.validate().is_ok());
    // conv: 8x8 outputs x (3x3 taps x 3 in x 4 out); pool: 4x4x4 outputs x 2x2 window;
    // mean: 4x4x4 inputs; matmul: 4 x 5.
    EXPECT_EQ(node_macs(g, conv), 8 * 8 * 3 * 3 * 3 * 4);
    EXPECT_EQ(node_macs(g, pool), 4 * 4 * 4 * 4);
    EXPECT_EQ(node_macs(g, mean), 4 * 4 * 4);
    EXPECT_EQ(node_macs(g, fc), 4 * 5);
    EXPECT_EQ(node_macs(g, x), 0);
    const MacTotals t = graph_macs(g);
    EXPECT_EQ(t.conv_matmul, 6912 + 20);
    EXPECT_EQ(t.total, 6912 + 256 + 64 + 20);
}

TEST(Macs, BatchNormStridedAndGroupedConv) {
    Graph g;
    const int x = g.add_input("x", Shape{-1, 10, 10, 4});
    ConvAttrs ca;
    ca.stride_h = ca.stride_w = 2;  // valid 3x3, stride 2: 4x4 outputs
    ca.groups = 4;                  // depthwise: weights [3,3,1,4]
    const int dw = g.add_node("dw", OpType::kConv2D, ca,
                              {x, g.add_const("w", Tensor(Shape{3, 3, 1, 4}, 0.1f))});
    const int bn = g.add_node(
        "bn", OpType::kBatchNorm, NoAttrs{},
        {dw, g.add_const("s", Tensor(Shape{4}, 1.f)), g.add_const("t", Tensor(Shape{4}, 0.f))});
    const int relu = g.add_node("relu", OpType::kRelu, NoAttrs{}, {bn});
    g.set_output(relu);
    ASSERT_TRUE(g.validate().is_ok());
    EXPECT_EQ(node_macs(g, dw), 4 * 4 * 3 * 3 * 4);
    EXPECT_EQ(node_macs(g, bn), 4 * 4 * 4);
    EXPECT_EQ(node_macs(g, relu), 0);
}

}  // namespace
}  // namespace cnnlens
