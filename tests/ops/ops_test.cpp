// Every op's VJP against central finite differences, and every op x kernel set against the
// reference set. The case table is checked against op_list.inc so a new op without a test
// fails loudly. Inputs are kept away from ReLU kinks and max-pool ties.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "core/base/thread_pool.h"
#include "core/graph/executor.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

using test::random_tensor;

// A one-op graph: input x of shape in_shape, extra constant inputs, the op under test.
struct OpCase {
    std::string label;
    OpType op;
    OpAttrs attrs;
    Shape in_shape;             // batch included
    std::vector<Shape> consts;  // shapes of constant inputs after x
    bool x_twice = false;       // feed x as the second input too (binary ops)
    float lo = -1.f, hi = 1.f;  // input range
    bool spaced = false;        // distinct values >= 0.02 apart (max pool)
    bool avoid_zero = false;    // |x| >= 0.05 (ReLU kinks)
    float const_lo = -1.f, const_hi = 1.f;
};

ConvAttrs conv(int s, PaddingMode p, int groups, Activation a, int dil = 1) {
    ConvAttrs c;
    c.stride_h = c.stride_w = s;
    c.padding = p;
    c.groups = groups;
    c.activation = a;
    c.alpha = 0.1f;
    c.dilation_h = c.dilation_w = dil;
    return c;
}
PoolAttrs pool(int k, int s, PaddingMode p) {
    PoolAttrs a;
    a.kernel_h = a.kernel_w = k;
    a.stride_h = a.stride_w = s;
    a.padding = p;
    return a;
}

ConvTransposeAttrs convt(int s, int dil, int pad, int output_padding, int groups) {
    ConvTransposeAttrs c;
    c.stride_h = c.stride_w = s;
    c.dilation_h = c.dilation_w = dil;
    c.pad_top = c.pad_left = c.pad_bottom = pad;
    c.pad_right = pad + (pad > 0 ? 1 : 0);
    c.output_padding_h = c.output_padding_w = output_padding;
    c.groups = groups;
    return c;
}

std::vector<OpCase> cases() {
    std::vector<OpCase> v;
    v.push_back({"identity", OpType::kIdentity, NoAttrs{}, {2, 3, 4, 2}, {}});
    v.push_back({"conv_same_s1",
                 OpType::kConv2D,
                 conv(1, PaddingMode::kSame, 1, Activation::kNone),
                 {2, 7, 6, 3},
                 {{3, 3, 3, 4}, {4}}});
    v.push_back({"conv_valid_s2_tanh",
                 OpType::kConv2D,
                 conv(2, PaddingMode::kValid, 1, Activation::kTanh),
                 {2, 9, 8, 2},
                 {{3, 3, 2, 5}, {5}}});
    v.push_back({"conv_same_s2_elu",
                 OpType::kConv2D,
                 conv(2, PaddingMode::kSame, 1, Activation::kElu),
                 {1, 8, 7, 3},
                 {{3, 3, 3, 2}}});
    v.push_back({"conv_dilated_sigmoid",
                 OpType::kConv2D,
                 conv(1, PaddingMode::kSame, 1, Activation::kSigmoid, 2),
                 {1, 7, 7, 2},
                 {{3, 3, 2, 3}, {3}}});
    v.push_back({"depthwise_same",
                 OpType::kConv2D,
                 conv(1, PaddingMode::kSame, 4, Activation::kNone),
                 {2, 6, 5, 4},
                 {{3, 3, 1, 4}, {4}}});
    v.push_back({"depthwise_mult2_s2",
                 OpType::kConv2D,
                 conv(2, PaddingMode::kSame, 3, Activation::kElu),
                 {1, 7, 7, 3},
                 {{3, 3, 1, 6}}});
    v.push_back({"conv_relu6",
                 OpType::kConv2D,
                 conv(1, PaddingMode::kValid, 1, Activation::kRelu6),
                 {1, 5, 5, 2},
                 {{1, 1, 2, 3}, {3}},
                 false,
                 -1.f,
                 1.f});
    v.push_back({"maxpool_same",
                 OpType::kMaxPool,
                 pool(3, 2, PaddingMode::kSame),
                 {2, 7, 7, 3},
                 {},
                 false,
                 -1,
                 1,
                 true});
    v.push_back({"maxpool_valid",
                 OpType::kMaxPool,
                 pool(2, 2, PaddingMode::kValid),
                 {1, 6, 5, 2},
                 {},
                 false,
                 -1,
                 1,
                 true});
    PoolAttrs dilated = pool(3, 1, PaddingMode::kExplicit);
    dilated.dilation_h = 2;
    dilated.dilation_w = 3;
    dilated.pad_top = dilated.pad_left = 1;
    dilated.pad_bottom = 2;
    v.push_back(
        {"maxpool_dilated", OpType::kMaxPool, dilated, {2, 7, 8, 3}, {}, false, -1, 1, true});
    v.push_back(
        {"avgpool_same", OpType::kAvgPool, pool(3, 2, PaddingMode::kSame), {2, 7, 6, 3}, {}});
    v.push_back({"matmul", OpType::kMatMul, MatMulAttrs{}, {3, 5}, {{5, 4}, {4}}});
    v.push_back(
        {"matmul_tanh", OpType::kMatMul, MatMulAttrs{Activation::kTanh, 0.f}, {2, 6}, {{6, 3}}});
    v.push_back({"add_same", OpType::kAdd, NoAttrs{}, {2, 3, 3, 2}, {}, true});
    v.push_back({"add_bias", OpType::kAdd, NoAttrs{}, {2, 3, 3, 4}, {{4}}});
    v.push_back({"sub_bcast", OpType::kSub, NoAttrs{}, {2, 3, 4, 2}, {{3, 1, 2}}});
    v.push_back({"mul_bcast", OpType::kMul, NoAttrs{}, {2, 3, 3, 2}, {{1, 3, 2}}});
    v.push_back({"mul_self", OpType::kMul, NoAttrs{}, {2, 2, 3, 2}, {}, true});
    v.push_back({"div",
                 OpType::kDiv,
                 NoAttrs{},
                 {2, 3, 3, 2},
                 {{2}},
                 false,
                 -1,
                 1,
                 false,
                 false,
                 0.5f,
                 2.f});
    v.push_back({"relu", OpType::kRelu, NoAttrs{}, {2, 4, 4, 3}, {}, false, -1, 1, false, true});
    v.push_back({"relu6", OpType::kRelu6, NoAttrs{}, {2, 4, 4, 3}, {}, false, -2, 8, false, true});
    v.push_back({"elu", OpType::kElu, EluAttrs{1.f}, {2, 4, 4, 3}, {}, false, -2, 2, false, true});
    v.push_back({"leaky_relu",
                 OpType::kLeakyRelu,
                 LeakyReluAttrs{0.2f},
                 {2, 4, 4, 3},
                 {},
                 false,
                 -1,
                 1,
                 false,
                 true});
    v.push_back(
        {"prelu", OpType::kPrelu, NoAttrs{}, {2, 4, 4, 3}, {{3}}, false, -1, 1, false, true});
    v.push_back({"sigmoid", OpType::kSigmoid, NoAttrs{}, {2, 4, 3}, {}, false, -3, 3});
    v.push_back({"tanh", OpType::kTanh, NoAttrs{}, {2, 4, 3}, {}, false, -2, 2});
    v.push_back({"mean_hw", OpType::kMean, ReduceAttrs{{1, 2}, false}, {2, 5, 4, 3}, {}});
    v.push_back({"mean_keep", OpType::kMean, ReduceAttrs{{2}, true}, {2, 5, 4, 3}, {}});
    v.push_back({"reshape", OpType::kReshape, ReshapeAttrs{{-1, 12}}, {2, 2, 3, 2}, {}});
    v.push_back({"squeeze", OpType::kSqueeze, SqueezeAttrs{{1, 2}}, {2, 1, 1, 5}, {}});
    v.push_back({"expand_dims", OpType::kExpandDims, ExpandDimsAttrs{1}, {2, 5}, {}});
    // Concat of two inputs that have the batch is x with itself (x_twice); concat_const_batch1
    // below concatenates a constant whose first axis is 1, repeated over the batch (a class token).
    v.push_back({"concat_self", OpType::kConcat, ConcatAttrs{3}, {2, 3, 3, 2}, {}, true});
    v.push_back(
        {"pad", OpType::kPad, PadAttrs{{{0, 0}, {1, 2}, {0, 1}, {0, 0}}, 0.5f}, {2, 3, 3, 2}, {}});
    v.push_back({"softmax", OpType::kSoftmax, SoftmaxAttrs{-1}, {3, 7}, {}, false, -3, 3});
    v.push_back({"conv_transpose_s2",
                 OpType::kConvTranspose,
                 convt(2, 1, 0, 0, 1),
                 {2, 4, 3, 4},
                 {{2, 2, 3, 4}, {3}}});
    v.push_back({"conv_transpose_pad_outpad_groups",
                 OpType::kConvTranspose,
                 convt(2, 1, 1, 1, 2),
                 {1, 4, 3, 4},
                 {{3, 3, 3, 4}, {6}}});
    v.push_back({"conv_transpose_depthwise_dilated",
                 OpType::kConvTranspose,
                 convt(1, 2, 1, 0, 4),
                 {2, 4, 4, 4},
                 {{3, 3, 1, 4}}});
    v.push_back({"selu", OpType::kSelu, SeluAttrs{}, {2, 4, 4, 3}, {}, false, -2, 2, false, true});
    v.push_back({"clip", OpType::kClip, ClipAttrs{-0.55f, 0.65f}, {2, 4, 4, 3}, {}});
    v.push_back({"hard_sigmoid",
                 OpType::kHardSigmoid,
                 HardSigmoidAttrs{0.2f, 0.5f},
                 {2, 4, 4, 3},
                 {},
                 false,
                 -3,
                 3});
    v.push_back({"silu", OpType::kSilu, NoAttrs{}, {2, 4, 4, 3}, {}, false, -5, 5});
    v.push_back({"hard_swish",
                 OpType::kHardSwish,
                 HardSigmoidAttrs{1.f / 6, 0.5f},
                 {2, 4, 4, 3},
                 {},
                 false,
                 -4,
                 4});
    v.push_back({"log_softmax", OpType::kLogSoftmax, SoftmaxAttrs{-1}, {3, 7}, {}, false, -3, 3});
    v.push_back({"transpose_nhwc_nchw",
                 OpType::kTranspose,
                 TransposeAttrs{{0, 3, 1, 2}},
                 {2, 3, 4, 5},
                 {}});
    v.push_back({"transpose_rank3", OpType::kTranspose, TransposeAttrs{{0, 2, 1}}, {2, 3, 4}, {}});
    v.push_back({"batch_norm", OpType::kBatchNorm, NoAttrs{}, {2, 3, 3, 4}, {{4}, {4}}});
    v.push_back({"matmul_rank4_rows", OpType::kMatMul, MatMulAttrs{}, {2, 3, 4, 5}, {{5, 6}, {6}}});
    v.push_back({"matmul_rank3", OpType::kMatMul, MatMulAttrs{}, {2, 3, 5}, {{5, 2}}});
    v.push_back({"batch_matmul_self", OpType::kBatchMatMul, NoAttrs{}, {2, 3, 4, 4}, {}, true});
    v.push_back({"batch_matmul_broadcast_const",
                 OpType::kBatchMatMul,
                 NoAttrs{},
                 {2, 3, 4, 5},
                 {{3, 5, 2}}});
    v.push_back(
        {"batch_matmul_rank3_const_matrix", OpType::kBatchMatMul, NoAttrs{}, {2, 6, 5}, {{5, 3}}});
    v.push_back({"concat_const_batch1", OpType::kConcat, ConcatAttrs{1}, {2, 3, 4}, {{1, 2, 4}}});
    v.push_back({"erf", OpType::kErf, NoAttrs{}, {2, 4, 3}, {}, false, -2.5f, 2.5f});
    v.push_back({"sqrt", OpType::kSqrt, NoAttrs{}, {2, 4, 3}, {}, false, 0.2f, 3.f});
    v.push_back({"exp", OpType::kExp, NoAttrs{}, {2, 4, 3}, {}, false, -2.f, 2.f});
    v.push_back({"log", OpType::kLog, NoAttrs{}, {2, 4, 3}, {}, false, 0.2f, 3.f});
    v.push_back({"neg", OpType::kNeg, NoAttrs{}, {2, 4, 3}, {}});
    v.push_back({"pow_square", OpType::kPow, PowAttrs{2.f}, {2, 4, 3}, {}});
    v.push_back({"pow_fraction", OpType::kPow, PowAttrs{1.5f}, {2, 4, 3}, {}, false, 0.2f, 2.f});
    v.push_back({"layer_norm_last",
                 OpType::kLayerNorm,
                 LayerNormAttrs{1, 1e-5f},
                 {2, 3, 4, 6},
                 {{6}, {6}}});
    v.push_back({"layer_norm_two_axes",
                 OpType::kLayerNorm,
                 LayerNormAttrs{2, 1e-3f},
                 {2, 3, 4, 5},
                 {{4, 5}, {4, 5}}});
    v.push_back(
        {"slice_channel_half", OpType::kSlice, SliceAttrs{{3}, {4}, {8}, {1}}, {2, 3, 3, 8}, {}});
    v.push_back({"slice_strided_two_axes",
                 OpType::kSlice,
                 SliceAttrs{{1, 2}, {1, -1}, {6, -6}, {2, -2}},
                 {2, 7, 6, 3},
                 {}});
    v.push_back(
        {"slice_rank5", OpType::kSlice, SliceAttrs{{4}, {0}, {2}, {1}}, {2, 3, 2, 2, 4}, {}});
    v.push_back({"transpose_rank5_shuffle",
                 OpType::kTranspose,
                 TransposeAttrs{{0, 1, 2, 4, 3}},
                 {2, 3, 2, 2, 4},
                 {}});
    v.push_back({"pad_reflect",
                 OpType::kPad,
                 PadAttrs{{{0, 0}, {2, 1}, {1, 3}, {0, 0}}, 0.f, PadMode::kReflect},
                 {2, 4, 5, 2},
                 {}});
    v.push_back({"pad_edge",
                 OpType::kPad,
                 PadAttrs{{{0, 0}, {1, 2}, {3, 0}, {0, 0}}, 0.f, PadMode::kEdge},
                 {2, 3, 4, 2},
                 {}});
    auto resize = [](ResizeMode m, ResizeCoord c, int oh, int ow) {
        ResizeAttrs a;
        a.mode = m;
        a.coord = c;
        a.out_h = oh;
        a.out_w = ow;
        a.nearest = m == ResizeMode::kNearest && c == ResizeCoord::kAsymmetric
                        ? NearestRound::kFloor
                        : NearestRound::kRoundPreferFloor;
        return a;
    };
    v.push_back({"resize_nearest_x2",
                 OpType::kResize,
                 resize(ResizeMode::kNearest, ResizeCoord::kAsymmetric, 8, 6),
                 {2, 4, 3, 2},
                 {}});
    v.push_back({"resize_nearest_half_pixel_down",
                 OpType::kResize,
                 resize(ResizeMode::kNearest, ResizeCoord::kHalfPixel, 3, 2),
                 {2, 7, 5, 2},
                 {}});
    v.push_back({"resize_bilinear_half_pixel",
                 OpType::kResize,
                 resize(ResizeMode::kLinear, ResizeCoord::kHalfPixel, 7, 9),
                 {2, 4, 3, 2},
                 {}});
    v.push_back({"resize_bilinear_pytorch_down",
                 OpType::kResize,
                 resize(ResizeMode::kLinear, ResizeCoord::kPytorchHalfPixel, 3, 1),
                 {1, 7, 5, 3},
                 {}});
    v.push_back({"resize_bilinear_align_corners",
                 OpType::kResize,
                 resize(ResizeMode::kLinear, ResizeCoord::kAlignCorners, 7, 5),
                 {2, 4, 3, 2},
                 {}});
    v.push_back({"resize_bilinear_asymmetric",
                 OpType::kResize,
                 resize(ResizeMode::kLinear, ResizeCoord::kAsymmetric, 6, 7),
                 {1, 3, 4, 2},
                 {}});
    v.push_back({"resize_nearest_tf_half_pixel_for_nn",
                 OpType::kResize,
                 resize(ResizeMode::kNearest, ResizeCoord::kTfHalfPixelForNn, 3, 2),
                 {2, 5, 4, 2},
                 {}});
    v.push_back({"resize_cubic_half_pixel_up",
                 OpType::kResize,
                 resize(ResizeMode::kCubic, ResizeCoord::kHalfPixel, 9, 7),
                 {2, 4, 3, 2},
                 {}});
    v.push_back({"resize_cubic_align_corners_down",
                 OpType::kResize,
                 resize(ResizeMode::kCubic, ResizeCoord::kAlignCorners, 3, 4),
                 {1, 7, 6, 3},
                 {}});
    v.push_back({"resize_cubic_pytorch_half_pixel",
                 OpType::kResize,
                 resize(ResizeMode::kCubic, ResizeCoord::kPytorchHalfPixel, 5, 1),
                 {1, 3, 4, 2},
                 {}});
    ResizeAttrs excl = resize(ResizeMode::kCubic, ResizeCoord::kAsymmetric, 7, 3);
    excl.cubic_a = -0.5f;
    excl.exclude_outside = true;
    excl.scale_h = 1.75f;  // a given scale, not out / in
    v.push_back({"resize_cubic_exclude_outside_scaled", OpType::kResize, excl, {2, 4, 5, 2}, {}});
    // A box partly beyond the image: outputs sampled outside are the constant, with no gradient.
    for (ResizeMode mode : {ResizeMode::kLinear, ResizeMode::kNearest, ResizeMode::kCubic}) {
        ResizeAttrs crop = resize(mode, ResizeCoord::kTfCropAndResize, 5, 4);
        crop.roi_h0 = 0.1f, crop.roi_h1 = 1.3f, crop.roi_w0 = -0.2f, crop.roi_w1 = 0.7f;
        crop.extrapolation = 2.5f;
        const char* names[] = {"resize_crop_nearest", "resize_crop_linear", "resize_crop_cubic"};
        v.push_back({names[static_cast<int>(mode)], OpType::kResize, crop, {2, 6, 5, 2}, {}});
    }
    return v;
}

// Builds the graph for a case; constants are drawn from rng.
Graph build(const OpCase& c, Rng& rng) {
    Graph g;
    Shape in = c.in_shape;
    in[0] = -1;
    const int x = g.add_input("x", in);
    std::vector<int> ins{x};
    if (c.x_twice) ins.push_back(x);
    int k = 0;
    for (const Shape& s : c.consts)
        ins.push_back(
            g.add_const("c" + std::to_string(k++), random_tensor(s, rng, c.const_lo, c.const_hi)));
    const int y = g.add_node("op", c.op, c.attrs, ins);
    g.set_output(y);
    return g;
}

Tensor make_input(const OpCase& c, Rng& rng) {
    Tensor x = random_tensor(c.in_shape, rng, c.lo, c.hi);
    if (c.avoid_zero)
        for (int64_t i = 0; i < x.size(); ++i)
            if (std::fabs(x[i]) < 0.05f)
                x[i] = x[i] < 0 ? -0.05f - rng.uniform() * 0.5f : 0.05f + rng.uniform() * 0.5f;
    if (c.op == OpType::kRelu6)
        for (int64_t i = 0; i < x.size(); ++i)
            if (std::fabs(x[i] - 6.f) < 0.05f) x[i] = 5.5f;
    if (c.spaced) {  // a shuffled grid: all values distinct and 0.02 apart
        std::vector<int> perm(static_cast<size_t>(x.size()));
        for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int>(i);
        for (size_t i = perm.size(); i > 1; --i)
            std::swap(perm[i - 1], perm[rng.below(static_cast<uint32_t>(i))]);
        for (int64_t i = 0; i < x.size(); ++i)
            x[i] = -1.f + 0.02f * static_cast<float>(perm[static_cast<size_t>(i)]);
    }
    return x;
}

double weighted_sum(const Tensor& y, const Tensor& r) {
    double s = 0;
    for (int64_t i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * r[i];
    return s;
}

TEST(Ops, EveryOpHasACase) {
    std::map<OpType, int> seen;
    for (const OpCase& c : cases()) seen[c.op]++;
    for (int i = 0; i < kOpCount; ++i) {
        const OpType t = static_cast<OpType>(i);
        if (t == OpType::kInput || t == OpType::kConst) continue;
        EXPECT_GT(seen[t], 0) << "no test case for op " << op_name(t);
    }
}

// Every op states its LRP rule next to its forward and VJP, or is listed here as having none
// (a model whose relevance path crosses one is refused); a new op must take a side.
TEST(Ops, EveryOpHasAnLrpRuleOrIsListedWithout) {
    const std::set<OpType> none = {OpType::kInput,   OpType::kConst,      OpType::kBatchMatMul,
                                   OpType::kSoftmax, OpType::kLogSoftmax, OpType::kLayerNorm,
                                   OpType::kErf,     OpType::kSqrt,       OpType::kExp,
                                   OpType::kLog,     OpType::kPow};
    for (int i = 0; i < kOpCount; ++i) {
        const OpType t = static_cast<OpType>(i);
        if (none.count(t))
            EXPECT_EQ(op_def(t).lrp, nullptr)
                << op_name(t) << " is listed without an LRP rule but has one";
        else
            EXPECT_NE(op_def(t).lrp, nullptr)
                << op_name(t) << " has no LRP rule: give it one or list it here";
    }
}

TEST(Ops, VjpMatchesFiniteDifferences) {
    for (const OpCase& c : cases()) {
        SCOPED_TRACE(c.label);
        Rng rng(1234);
        Graph g = build(c, rng);
        ASSERT_TRUE(g.validate().is_ok()) << g.validate().message();
        Executor ex(g, reference_kernels());
        Tensor x = make_input(c, rng);
        ASSERT_TRUE(ex.forward(x).is_ok());
        Tensor r = random_tensor(ex.value(g.output()).shape(), rng);
        std::vector<Seed> seeds;
        seeds.push_back({g.output(), r.clone()});
        std::vector<Tensor> grads;
        const int in = g.input();
        ASSERT_TRUE(ex.backward(seeds, {&in, 1}, ReluRule::kStandard, grads).is_ok());
        // Central differences on every element (the cases are small).
        const float eps = c.spaced ? 2e-3f : 1e-3f;
        double num = 0, den = 0;
        for (int64_t i = 0; i < x.size(); ++i) {
            Tensor xp = x.clone(), xm = x.clone();
            xp[i] += eps;
            xm[i] -= eps;
            ASSERT_TRUE(ex.forward(xp).is_ok());
            const double fp = weighted_sum(ex.value(g.output()), r);
            ASSERT_TRUE(ex.forward(xm).is_ok());
            const double fm = weighted_sum(ex.value(g.output()), r);
            const double fd = (fp - fm) / (2.0 * eps);
            num += (fd - grads[0][i]) * (fd - grads[0][i]);
            den += fd * fd;
        }
        EXPECT_LT(std::sqrt(num / std::max(den, 1e-20)), 2e-3)
            << "relative L2 error of the input gradient";
    }
}

TEST(Ops, EveryKernelSetMatchesReference) {
    for (const KernelSet* ks : compiled_kernel_sets()) {
        for (const OpCase& c : cases()) {
            SCOPED_TRACE(std::string(ks->name) + " " + c.label);
            Rng rng(99);
            Graph g = build(c, rng);
            ASSERT_TRUE(g.validate().is_ok());
            Executor ref(g, reference_kernels()), got(g, *ks);
            Tensor x = make_input(c, rng);
            ASSERT_TRUE(ref.forward(x).is_ok());
            ASSERT_TRUE(got.forward(x).is_ok());
            const Tensor& yr = ref.value(g.output());
            EXPECT_LT(test::rel_l2(got.value(g.output()).data(), yr.data(), yr.size()), 1e-5);
            std::vector<Seed> seeds;
            seeds.push_back({g.output(), random_tensor(yr.shape(), rng)});
            std::vector<Tensor> gr, gg;
            const int in = g.input();
            ASSERT_TRUE(ref.backward(seeds, {&in, 1}, ReluRule::kStandard, gr).is_ok());
            ASSERT_TRUE(got.backward(seeds, {&in, 1}, ReluRule::kStandard, gg).is_ok());
            EXPECT_LT(test::rel_l2(gg[0].data(), gr[0].data(), gr[0].size()), 1e-5);
        }
    }
}

TEST(Ops, ShapeErrorsNameTheNodeAndValue) {
    Graph g;
    const int x = g.add_input("image", Shape{-1, 8, 8, 3});
    Rng rng(1);
    const int w = g.add_const("w", random_tensor({3, 3, 4, 8}, rng));
    g.set_output(g.add_node("conv_bad", OpType::kConv2D, ConvAttrs{}, {x, w}));
    const Status s = g.validate();
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("conv_bad"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("3 channels"), std::string::npos) << s.message();
}

// The element-wise ops' row and block loops (split across the pool at batch 1) against an
// independent element-by-element walk, on layers large enough to be split, at 1 and 2 threads:
// Mul with a squeeze-and-excitation scale [N,1,1,C] and with a scale broadcast on the innermost
// axis, Mean over H and W (global average pooling) and over W alone, and their gradients
// bit-identical across thread counts.
TEST(Ops, ElementwiseLoopsMatchAWalkAtAnyThreadCount) {
    struct Case {
        OpType op;
        OpAttrs attrs;
        Shape x, c;
    };
    const Case cs[] = {
        {OpType::kMul, NoAttrs{}, {2, 28, 28, 96}, {2, 1, 1, 96}},
        {OpType::kAdd, NoAttrs{}, {1, 40, 40, 24}, {1, 40, 40, 1}},
        {OpType::kDiv, NoAttrs{}, {1, 40, 40, 24}, {24}},
        {OpType::kMean, ReduceAttrs{{1, 2}, true}, {2, 56, 56, 40}, {}},
        {OpType::kMean, ReduceAttrs{{2}, false}, {1, 30, 20, 70}, {}},
    };
    for (const Case& k : cs) {
        SCOPED_TRACE(std::string(op_name(k.op)) + " " + k.x.str());
        Rng rng(7);
        Graph g;
        Shape in = k.x;
        in[0] = -1;
        std::vector<int> ins{g.add_input("x", in)};
        Tensor c = random_tensor(k.c.rank() ? k.c : Shape{1}, rng, 0.5f, 1.5f);
        if (k.c.rank()) ins.push_back(g.add_const("c", c.clone()));
        g.set_output(g.add_node("op", k.op, k.attrs, ins));
        ASSERT_TRUE(g.validate().is_ok());
        const Tensor x = random_tensor(k.x, rng);
        Tensor want[2], grad[2];
        for (int threads : {1, 2}) {
            set_pool_threads(threads);
            Executor ex(g, reference_kernels());
            ASSERT_TRUE(ex.forward(x).is_ok());
            const Tensor& y = ex.value(g.output());
            want[threads - 1] = y.clone();
            std::vector<Seed> seeds;
            Rng r2(3);
            seeds.push_back({g.output(), random_tensor(y.shape(), r2)});
            std::vector<Tensor> gr;
            const int input = g.input();
            ASSERT_TRUE(ex.backward(seeds, {&input, 1}, ReluRule::kStandard, gr).is_ok());
            grad[threads - 1] = gr[0].clone();
        }
        set_pool_threads(1);
        ASSERT_EQ(want[0].size(), want[1].size());
        EXPECT_EQ(0, std::memcmp(want[0].data(), want[1].data(), want[0].size() * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(grad[0].data(), grad[1].data(), grad[0].size() * sizeof(float)));
        // The walk: output index -> input indices by coordinates.
        const Shape& os = want[0].shape();
        std::vector<int64_t> idx(static_cast<size_t>(os.rank()));
        if (k.op == OpType::kMean) {
            const auto& a = std::get<ReduceAttrs>(k.attrs);
            std::vector<double> sum(static_cast<size_t>(want[0].size()), 0.0);
            std::vector<int64_t> xi(static_cast<size_t>(k.x.rank()));
            for (int64_t i = 0; i < x.size(); ++i) {
                int64_t rest = i, o = 0;
                for (int d = k.x.rank() - 1; d >= 0; --d) {
                    xi[d] = rest % k.x[d];
                    rest /= k.x[d];
                }
                for (int d = 0; d < k.x.rank(); ++d) {
                    const bool reduced = std::find(a.axes.begin(), a.axes.end(), d) != a.axes.end();
                    if (!reduced) o = o * k.x[d] + xi[d];
                }
                sum[static_cast<size_t>(o)] += x[i];
            }
            const double inv = static_cast<float>(want[0].size()) / static_cast<float>(x.size());
            for (int64_t o = 0; o < want[0].size(); ++o)
                ASSERT_EQ(want[0][o], static_cast<float>(sum[static_cast<size_t>(o)] * inv)) << o;
            continue;
        }
        for (int64_t i = 0; i < want[0].size(); ++i) {
            int64_t rest = i;
            for (int d = os.rank() - 1; d >= 0; --d) {
                idx[d] = rest % os[d];
                rest /= os[d];
            }
            int64_t ci = 0;  // c's element, its shape aligned to the right
            for (int d = 0; d < k.c.rank(); ++d) {
                const int od = os.rank() - k.c.rank() + d;
                ci = ci * k.c[d] + (k.c[d] == 1 ? 0 : idx[od]);
            }
            const float a = x[i], b = c[ci];
            const float v = k.op == OpType::kMul ? a * b : k.op == OpType::kAdd ? a + b : a / b;
            ASSERT_EQ(want[0][i], v) << i;
        }
    }
}

}  // namespace
}  // namespace cnnlens
