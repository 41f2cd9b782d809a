// Every compiled kernel set against `reference` on random shapes: odd sizes, strides 1 and 2,
// SAME- and VALID-style padding, dilation, grouped/depthwise, batch > 1, every activation.
#include "core/kernels/kernels.h"

#include <gtest/gtest.h>

#include <cstring>

#include <cmath>
#include <vector>
#include <limits>
#include <string>
#include <utility>

#include "tests/test_util.h"

namespace cnnlens {
namespace {

using test::max_abs_diff;
using test::random_tensor;
using test::rel_l2;

std::vector<ConvDesc> conv_cases() {
    std::vector<ConvDesc> v;
    struct C {
        int h, w, ci, co, k, s, dil, groups, pad;
        Activation a;
    };
    const C cs[] = {
        {9, 7, 3, 5, 3, 1, 1, 1, 1, Activation::kNone},
        {11, 13, 4, 8, 3, 2, 1, 1, 0, Activation::kRelu},
        {8, 8, 16, 16, 3, 1, 1, 16, 1, Activation::kNone},        // depthwise
        {9, 9, 8, 16, 3, 2, 1, 8, 1, Activation::kRelu6},         // depthwise multiplier 2
        {7, 5, 6, 9, 1, 1, 1, 1, 0, Activation::kElu},            // 1x1
        {10, 10, 32, 17, 1, 2, 1, 1, 0, Activation::kLeakyRelu},  // strided 1x1
        {12, 9, 6, 4, 5, 1, 2, 2, 2, Activation::kSigmoid},       // dilated, grouped
        {6, 6, 1, 32, 3, 2, 1, 1, 1, Activation::kTanh},          // one input channel
        {16, 16, 64, 64, 3, 1, 1, 1, 1, Activation::kRelu},       // larger, exercises blocking
        {15, 15, 128, 128, 3, 1, 1, 128, 1, Activation::kNone},   // large depthwise
        {13, 13, 128, 256, 1, 1, 1, 1, 0, Activation::kRelu},     // large 1x1
    };
    for (const C& c : cs) {
        ConvDesc d;
        d.in_h = c.h;
        d.in_w = c.w;
        d.in_c = c.ci;
        d.out_c = c.co;
        d.kernel_h = d.kernel_w = c.k;
        d.stride_h = d.stride_w = c.s;
        d.dilation_h = d.dilation_w = c.dil;
        d.groups = c.groups;
        d.pad_top = d.pad_left = c.pad;
        d.pad_bottom = d.pad_right = c.pad + (c.s == 2 ? 1 : 0);
        d.out_h = test::conv_out_size(c.h, c.k, c.s, c.dil, d.pad_top + d.pad_bottom);
        d.out_w = test::conv_out_size(c.w, c.k, c.s, c.dil, d.pad_left + d.pad_right);
        d.activation = c.a;
        d.alpha = 0.2f;
        v.push_back(d);
    }
    // The FER net's own shapes and cases that reach the simd set's K-blocking, channel tails,
    // padded 1x1 kernels and asymmetric pads. Fields: in h, w, c; out c; kernel h, w; stride h, w;
    // dilation h, w; pads top, left, bottom, right; groups.
    struct E {
        int h, w, ci, co, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
        Activation a;
    };
    const E es[] = {
        {64, 64, 1, 32, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, Activation::kRelu},    // first conv, VALID
        {15, 15, 64, 128, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, Activation::kNone},  // 1x1 s2 shortcut
        {8, 8, 256, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, Activation::kNone},  // final conv, long K
        {3, 4, 600, 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
         Activation::kRelu},                                                // K split inside a tap
        {5, 6, 8, 12, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, Activation::kRelu},  // padded 1x1
        {9, 11, 5, 6, 3, 2, 2, 1, 1, 1, 0, 2, 1, 0, 1, Activation::kLeakyRelu},  // asymmetric
        {10, 9, 5, 15, 5, 3, 2, 1, 2, 1, 3, 1, 2, 1, 5,
         Activation::kRelu},  // depthwise m=3, dilated
        {7, 7, 37, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 37,
         Activation::kRelu6},  // depthwise channel tail
        {11, 9, 83, 83, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 83,
         Activation::kElu},  // depthwise pixel pairs, 4L+L+3 channels (16 lanes), odd width
        {12, 13, 70, 70, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, 70,
         Activation::kLeakyRelu},  // depthwise pixel pairs at stride 2
        // Depthwise four outputs at a time (whole vectors of channels), with widths that leave
        // pixels for the gather: 3x3 and 5x5, stride 1 and 2, a vector and a scalar activation.
        {9, 13, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32, Activation::kElu},
        {14, 14, 32, 32, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 32, Activation::kRelu},
        {15, 17, 48, 48, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 48, Activation::kNone},
        {17, 19, 64, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 64, Activation::kRelu6},
        {6, 6, 12, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4,
         Activation::kNone},  // grouped, 3 ch per group
        // RegNetX's grouped 3x3 (24 channels per group), at stride 1 and 2.
        {8, 8, 72, 72, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, Activation::kNone},
        {8, 8, 72, 72, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3, Activation::kNone},
        {4, 4, 168, 168, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 7, Activation::kNone},
        {4, 4, 408, 408, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 17, Activation::kNone},
        {3, 3, 912, 912, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 38, Activation::kNone},
        // Winograd in the simd set. F(4x4, 3x3): the FER net's block1_conv2 (VALID, 29x29
        // output: partial tiles at the edges), asymmetric pads with ReLU6 over several tile
        // blocks, and a 14x14 output (two columns of its last tiles past the edge).
        // F(2x2, 3x3), where 4x4 tiles would waste what they save: a 5x5 output.
        // By batch (winograd_tile), in the shapes of resnet's late layers with fewer channels:
        // 14x14 x 96 runs F(2x2) at batch 1 (16 tiles of 4x4 would read 1.3 MB of transformed
        // weights) and F(4x4) at batch 3; 7x7 x 192 the GEMM at batch 1, F(2x2) at batch 3
        // (forward and backward alike).
        {31, 31, 32, 64, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, Activation::kRelu},
        {33, 30, 16, 24, 3, 3, 1, 1, 1, 1, 0, 1, 2, 1, 1, Activation::kRelu6},
        {14, 14, 32, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, Activation::kNone},
        {5, 5, 32, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, Activation::kRelu},
        {14, 14, 96, 96, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, Activation::kRelu},
        {7, 7, 192, 192, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, Activation::kNone},
    };
    for (const E& e : es) {
        ConvDesc d;
        d.in_h = e.h;
        d.in_w = e.w;
        d.in_c = e.ci;
        d.out_c = e.co;
        d.kernel_h = e.kh;
        d.kernel_w = e.kw;
        d.stride_h = e.sh;
        d.stride_w = e.sw;
        d.dilation_h = e.dh;
        d.dilation_w = e.dw;
        d.pad_top = e.pt;
        d.pad_left = e.pl;
        d.pad_bottom = e.pb;
        d.pad_right = e.pr;
        d.groups = e.groups;
        d.out_h = test::conv_out_size(e.h, e.kh, e.sh, e.dh, e.pt + e.pb);
        d.out_w = test::conv_out_size(e.w, e.kw, e.sw, e.dw, e.pl + e.pr);
        d.activation = e.a;
        d.alpha = 0.2f;
        v.push_back(d);
    }
    return v;
}

std::string conv_label(const ConvDesc& d) {
    return "conv " + std::to_string(d.in_h) + "x" + std::to_string(d.in_w) + "x" +
           std::to_string(d.in_c) + " -> " + std::to_string(d.out_c) + " k" +
           std::to_string(d.kernel_h) + " s" + std::to_string(d.stride_h) + " g" +
           std::to_string(d.groups);
}

// Random weights [kh][kw][in_c / groups][out_c] and bias for a case.
std::pair<Tensor, Tensor> conv_weights(const ConvDesc& d, Rng& rng) {
    Tensor w = random_tensor({d.kernel_h, d.kernel_w, d.in_c / d.groups, d.out_c}, rng);
    Tensor b = random_tensor({d.out_c}, rng);
    return {std::move(w), std::move(b)};
}

class KernelSetTest : public ::testing::TestWithParam<const KernelSet*> {};

TEST_P(KernelSetTest, ConvMatchesReference) {
    const KernelSet& ks = *GetParam();
    Rng rng(7);
    for (const ConvDesc& d : conv_cases()) {
        SCOPED_TRACE(conv_label(d));
        for (int batch : {1, 3}) {
            Tensor w = random_tensor({d.kernel_h, d.kernel_w, d.in_c / d.groups, d.out_c}, rng);
            Tensor b = random_tensor({d.out_c}, rng);
            Tensor x = random_tensor({batch, d.in_h, d.in_w, d.in_c}, rng);
            auto ref = reference_kernels().make_conv(d, w.data(), b.data());
            auto got = ks.make_conv(d, w.data(), b.data());
            Tensor yr({batch, d.out_h, d.out_w, d.out_c}), yg({batch, d.out_h, d.out_w, d.out_c});
            ref->forward(x.data(), yr.data(), batch);
            got->forward(x.data(), yg.data(), batch);
            EXPECT_LT(rel_l2(yg.data(), yr.data(), yr.size()), 1e-5);

            Tensor g = random_tensor(yr.shape(), rng);
            Tensor gr(x.shape()), gg(x.shape(), 0.5f), gacc(x.shape(), 0.5f);
            ref->backward_input(g.data(), gr.data(), batch, false);
            got->backward_input(g.data(), gg.data(), batch, false);
            EXPECT_LT(rel_l2(gg.data(), gr.data(), gr.size()), 1e-5);
            got->backward_input(g.data(), gacc.data(), batch, true);
            for (int64_t i = 0; i < gr.size(); ++i) gr[i] += 0.5f;
            EXPECT_LT(rel_l2(gacc.data(), gr.data(), gr.size()), 1e-5);
        }
    }
}

TEST_P(KernelSetTest, PoolMatchesReference) {
    const KernelSet& ks = *GetParam();
    Rng rng(11);
    struct P {
        PoolKind kind;
        int h, w, c, k, s, pad, dil = 1;
    };
    const P ps[] = {{PoolKind::kMax, 31, 31, 128, 3, 2, 1}, {PoolKind::kMax, 9, 7, 5, 2, 2, 0},
                    {PoolKind::kAvg, 9, 7, 5, 3, 1, 1},     {PoolKind::kAvg, 8, 8, 16, 2, 2, 0},
                    {PoolKind::kMax, 16, 16, 3, 3, 1, 1},   {PoolKind::kMax, 11, 9, 6, 3, 1, 2, 2},
                    {PoolKind::kAvg, 10, 10, 4, 2, 2, 1, 3}};
    for (const P& p : ps) {
        PoolDesc d;
        d.kind = p.kind;
        d.in_h = p.h;
        d.in_w = p.w;
        d.channels = p.c;
        d.kernel_h = d.kernel_w = p.k;
        d.stride_h = d.stride_w = p.s;
        d.pad_top = d.pad_left = p.pad;
        d.pad_bottom = d.pad_right = p.pad;
        d.dilation_h = d.dilation_w = p.dil;
        d.out_h = test::conv_out_size(p.h, p.k, p.s, p.dil, 2 * p.pad);
        d.out_w = test::conv_out_size(p.w, p.k, p.s, p.dil, 2 * p.pad);
        SCOPED_TRACE(testing::Message() << (p.kind == PoolKind::kMax ? "max" : "avg") << " " << p.h
                                        << "x" << p.w << "x" << p.c);
        for (int batch : {1, 2}) {
            Tensor x =
                random_tensor({batch, d.in_h, d.in_w, d.channels}, rng);  // continuous: no ties
            auto ref = reference_kernels().make_pool(d);
            auto got = ks.make_pool(d);
            Tensor yr({batch, d.out_h, d.out_w, d.channels}), yg(yr.shape());
            ref->forward(x.data(), yr.data(), batch);
            got->forward(x.data(), yg.data(), batch);
            EXPECT_LT(rel_l2(yg.data(), yr.data(), yr.size()), 1e-6);
            Tensor g = random_tensor(yr.shape(), rng);
            Tensor gr(x.shape()), gg(x.shape(), 3.f);
            ref->backward_input(x.data(), g.data(), gr.data(), batch, false);
            got->backward_input(x.data(), g.data(), gg.data(), batch, false);
            EXPECT_LT(rel_l2(gg.data(), gr.data(), gr.size()), 1e-6);
            got->backward_input(x.data(), g.data(), gg.data(), batch, true);
            for (int64_t i = 0; i < gr.size(); ++i) gr[i] *= 2.f;
            EXPECT_LT(rel_l2(gg.data(), gr.data(), gr.size()), 1e-6);
        }
    }
}

// Inputs drawn from a few values so windows hold ties: the gradient must go to the first
// maximal element in row-major order, exactly as `reference` routes it.
TEST_P(KernelSetTest, MaxPoolBreaksTiesLikeReference) {
    const KernelSet& ks = *GetParam();
    Rng rng(17);
    for (int channels : {3, 20}) {
        PoolDesc d;
        d.kind = PoolKind::kMax;
        d.in_h = 9;
        d.in_w = 8;
        d.channels = channels;
        d.kernel_h = d.kernel_w = 3;
        d.stride_h = d.stride_w = 2;
        d.pad_top = d.pad_left = 0;
        d.pad_bottom = d.pad_right = 1;
        d.out_h = test::conv_out_size(9, 3, 2, 1, 1);
        d.out_w = test::conv_out_size(8, 3, 2, 1, 1);
        const int batch = 2;
        Tensor x = random_tensor({batch, d.in_h, d.in_w, d.channels}, rng);
        for (int64_t i = 0; i < x.size(); ++i) x[i] = std::floor(x[i] * 1.5f);
        auto ref = reference_kernels().make_pool(d);
        auto got = ks.make_pool(d);
        Tensor g = random_tensor({batch, d.out_h, d.out_w, d.channels}, rng);
        Tensor gr(x.shape()), gg(x.shape(), 1.f), gacc(x.shape(), 1.f);
        ref->backward_input(x.data(), g.data(), gr.data(), batch, false);
        got->backward_input(x.data(), g.data(), gg.data(), batch, false);
        EXPECT_EQ(max_abs_diff(gg.data(), gr.data(), gr.size()), 0.0);
        got->backward_input(x.data(), g.data(), gacc.data(), batch, true);
        for (int64_t i = 0; i < gr.size(); ++i) gr[i] += 1.f;
        EXPECT_LT(max_abs_diff(gacc.data(), gr.data(), gr.size()), 1e-6);
    }
}

// forward_argmax gives exactly forward()'s output, and backward_argmax exactly what
// backward_input routes, on ties (few distinct values), NaN, a fully padded window, a channel
// tail and the default model's 3x3/2 shape.
TEST_P(KernelSetTest, MaxPoolArgmaxMatchesTheSearch) {
    const KernelSet& ks = *GetParam();
    Rng rng(23);
    struct P {
        int h, w, c, k, s, pt, pb, dil = 1;
    };
    const P ps[] = {{29, 29, 128, 3, 2, 1, 1},
                    {9, 8, 20, 3, 2, 0, 1},
                    {5, 5, 3, 2, 2, 0, 0},
                    {4, 4, 11, 3, 3, 0, 4},
                    {9, 9, 5, 3, 1, 2, 1, 2}};
    for (const P& p : ps) {
        PoolDesc d;
        d.kind = PoolKind::kMax;
        d.in_h = p.h;
        d.in_w = p.w;
        d.channels = p.c;
        d.kernel_h = d.kernel_w = p.k;
        d.stride_h = d.stride_w = p.s;
        d.pad_top = d.pad_left = p.pt;
        d.pad_bottom = d.pad_right = p.pb;
        d.dilation_h = d.dilation_w = p.dil;
        d.out_h = test::conv_out_size(p.h, p.k, p.s, p.dil, p.pt + p.pb);
        d.out_w = test::conv_out_size(p.w, p.k, p.s, p.dil, p.pt + p.pb);
        SCOPED_TRACE(testing::Message()
                     << p.h << "x" << p.w << "x" << p.c << " k" << p.k << " s" << p.s);
        const int batch = 2;
        Tensor x = random_tensor({batch, d.in_h, d.in_w, d.channels}, rng);
        for (int64_t i = 0; i < x.size(); ++i) x[i] = std::floor(x[i] * 1.5f);
        auto k = ks.make_pool(d);
        Tensor y(Shape{batch, d.out_h, d.out_w, d.channels}), ya(y.shape());
        std::vector<int32_t> arg(static_cast<size_t>(y.size()), -7);
        k->forward(x.data(), y.data(), batch);
        k->forward_argmax(x.data(), ya.data(), arg.data(), batch);
        EXPECT_EQ(std::memcmp(y.data(), ya.data(), sizeof(float) * y.size()), 0);
        // With NaN the outputs may differ (XNNPACK's max pooling, the xnnpack set's forward, lets
        // a NaN through where the fused loop, like `reference`, skips it); the routing may not.
        x[5] = std::nanf("");
        x[x.size() / 2] = std::nanf("");
        k->forward_argmax(x.data(), ya.data(), arg.data(), batch);
        Tensor g = random_tensor(y.shape(), rng);
        Tensor gs(x.shape(), 1.f), ga(x.shape(), 2.f), gacc(x.shape(), 0.5f);
        k->backward_input(x.data(), g.data(), gs.data(), batch, false);
        k->backward_argmax(arg.data(), g.data(), ga.data(), batch, false);
        EXPECT_EQ(max_abs_diff(ga.data(), gs.data(), gs.size()), 0.0);
        // ... and the same bits as the plain scatter (the default, which `reference` keeps).
        Tensor gref(x.shape(), 3.f);
        reference_kernels().make_pool(d)->backward_argmax(arg.data(), g.data(), gref.data(), batch,
                                                          false);
        EXPECT_EQ(std::memcmp(ga.data(), gref.data(), sizeof(float) * ga.size()), 0);
        k->backward_argmax(arg.data(), g.data(), gacc.data(), batch, true);
        for (int64_t i = 0; i < gs.size(); ++i) gs[i] += 0.5f;
        EXPECT_LT(max_abs_diff(gacc.data(), gs.data(), gs.size()), 1e-6);
    }
}

TEST_P(KernelSetTest, DenseMatchesReference) {
    const KernelSet& ks = *GetParam();
    Rng rng(13);
    for (auto [K, M, act] :
         {std::tuple{7, 3, Activation::kNone}, std::tuple{256, 7, Activation::kRelu},
          std::tuple{1000, 33, Activation::kTanh}}) {
        DenseDesc d{K, M, act, 0.1f};
        for (int batch : {1, 5}) {
            Tensor w = random_tensor({K, M}, rng), b = random_tensor({M}, rng),
                   x = random_tensor({batch, K}, rng);
            auto ref = reference_kernels().make_dense(d, w.data(), b.data());
            auto got = ks.make_dense(d, w.data(), b.data());
            Tensor yr({batch, M}), yg({batch, M});
            ref->forward(x.data(), yr.data(), batch);
            got->forward(x.data(), yg.data(), batch);
            EXPECT_LT(rel_l2(yg.data(), yr.data(), yr.size()), 1e-5);
            Tensor g = random_tensor(yr.shape(), rng), gr(x.shape()), gg(x.shape());
            ref->backward_input(g.data(), gr.data(), batch, false);
            got->backward_input(g.data(), gg.data(), batch, false);
            EXPECT_LT(rel_l2(gg.data(), gr.data(), gr.size()), 1e-5);
            got->backward_input(g.data(), gg.data(), batch, true);
            for (int64_t i = 0; i < gr.size(); ++i) gr[i] *= 2.f;
            EXPECT_LT(rel_l2(gg.data(), gr.data(), gr.size()), 1e-5);
        }
    }
}

// A pass a backward may follow rounds alike at every output position: on an input that
// repeats every 3 pixels, outputs whose windows hold the same values are bit-identical, so
// the ties a max pool sees in exact arithmetic stay ties. (Winograd's 2x2 tiles round by
// position, and 3 is odd: equal windows fall on different places in their tiles.)
TEST_P(KernelSetTest, TapeForwardRoundsAlikeEverywhere) {
    const KernelSet& ks = *GetParam();
    Rng rng(31);
    for (const ConvDesc& d : conv_cases()) {
        SCOPED_TRACE(conv_label(d));
        const auto [w, b] = conv_weights(d, rng);
        Tensor tile = random_tensor({3, 3, d.in_c}, rng);
        Tensor x({1, d.in_h, d.in_w, d.in_c});
        for (int y = 0; y < d.in_h; ++y)
            for (int xx = 0; xx < d.in_w; ++xx)
                for (int c = 0; c < d.in_c; ++c)
                    x[(static_cast<int64_t>(y) * d.in_w + xx) * d.in_c + c] =
                        tile[((y % 3) * 3 + xx % 3) * d.in_c + c];
        auto k = ks.make_conv(d, w.data(), b.data());
        Tensor y({1, d.out_h, d.out_w, d.out_c});
        k->forward_tape(x.data(), y.data(), 1);
        const auto inside = [](int o, int s, int pad, int kernel, int dil, int in) {
            return o * s - pad >= 0 && o * s - pad + (kernel - 1) * dil < in;
        };
        const float* first[3][3] = {};
        int compared = 0, mismatches = 0;
        for (int oy = 0; oy < d.out_h; ++oy)
            for (int ox = 0; ox < d.out_w; ++ox) {
                if (!inside(oy, d.stride_h, d.pad_top, d.kernel_h, d.dilation_h, d.in_h) ||
                    !inside(ox, d.stride_w, d.pad_left, d.kernel_w, d.dilation_w, d.in_w))
                    continue;
                const float* o = y.data() + (static_cast<int64_t>(oy) * d.out_w + ox) * d.out_c;
                // Windows starting at input rows that agree mod 3 hold the same values.
                const float*& f =
                    first[(oy * d.stride_h - d.pad_top) % 3][(ox * d.stride_w - d.pad_left) % 3];
                if (!f) {
                    f = o;
                    continue;
                }
                ++compared;
                mismatches += std::memcmp(o, f, sizeof(float) * d.out_c) != 0;
            }
        EXPECT_EQ(mismatches, 0) << "of " << compared;
    }
}

// A float32 tape's pass (forward_float_tape) rounds no more coarsely than float sums: within
// 1e-6 of the reference's exact sums (relative L2) on every layer, where Winograd F(4x4)'s own
// forward is 1.2e-6 to 1.7e-6 off here (its transforms hold 4, 5 and 8), enough to flip ReLU
// decisions near 0 that PyTorch's float32 keeps (resnet50's input gradient moved by 2 %).
TEST_P(KernelSetTest, FloatTapeRoundsAsFloatSumsDo) {
    const KernelSet& ks = *GetParam();
    Rng rng(41);
    for (const ConvDesc& d : conv_cases()) {
        SCOPED_TRACE(conv_label(d));
        const auto [w, b] = conv_weights(d, rng);
        Tensor x = random_tensor({2, d.in_h, d.in_w, d.in_c}, rng);
        auto ref = reference_kernels().make_conv(d, w.data(), b.data());
        auto got = ks.make_conv(d, w.data(), b.data());
        Tensor yr({2, d.out_h, d.out_w, d.out_c}), yf(yr.shape()), yt(yr.shape());
        ref->forward(x.data(), yr.data(), 2);
        got->forward(x.data(), yf.data(), 2);
        got->forward_float_tape(x.data(), yt.data(), 2);
        EXPECT_LT(rel_l2(yt.data(), yr.data(), yr.size()), 1e-6)
            << "forward " << rel_l2(yf.data(), yr.data(), yr.size());
    }
}

// Dot products on the tape (ResNet-50's 1x1 layers over 1024-2048 channels, its 3x3 layers over
// 512, ResNeXt's and RegNet's grouped 3x3, fully connected layers) round once, as the reference
// set's double sums do: every set's forward_tape is within one float rounding of the exact sum
// (the reference's), element by element. A float sum, even blocked, is tens of roundings off
// after cancellation, and deep in a 50-layer net that flips ReLU decisions and moves the
// saliency map (regnet_x_1_6gf: 3.6e-3 where PyTorch's float32 is 1.2e-6). The forward pass
// off the tape keeps its float sums, within a few roundings of a K-block's length.
TEST_P(KernelSetTest, TapeDotProductsRoundOnce) {
    const KernelSet& ks = *GetParam();
    struct C {
        int hw, ci, co, k, s, groups;
    };
    // The last two are layers the xnnpack set keeps for XNNPACK (no whole 8x32 tiles; 3x3 s2).
    const C cs[] = {{7, 2048, 512, 1, 1, 1},  {14, 1024, 2048, 1, 2, 1}, {7, 512, 512, 3, 1, 1},
                    {14, 512, 512, 3, 2, 32}, {7, 4096, 64, 1, 1, 1},    {7, 2048, 40, 1, 1, 1},
                    {14, 512, 256, 3, 2, 1}};
    Rng rng(37);
    for (const C& c : cs) {
        ConvDesc d;
        d.in_h = d.in_w = c.hw;
        d.in_c = c.ci;
        d.out_c = c.co;
        d.kernel_h = d.kernel_w = c.k;
        d.stride_h = d.stride_w = c.s;
        d.groups = c.groups;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = c.k / 2;
        d.out_h = d.out_w = test::conv_out_size(c.hw, c.k, c.s, 1, 2 * (c.k / 2));
        SCOPED_TRACE(testing::Message() << "conv " << c.hw << "x" << c.hw << "x" << c.ci << " -> "
                                        << c.co << " k" << c.k << " s" << c.s << " g" << c.groups);
        Tensor w = random_tensor({d.kernel_h, d.kernel_w, d.in_c / d.groups, d.out_c}, rng);
        Tensor x =
            random_tensor({1, d.in_h, d.in_w, d.in_c}, rng, 0.f, 1.f);  // post-ReLU activations
        auto ref = reference_kernels().make_conv(d, w.data(), nullptr);
        auto got = ks.make_conv(d, w.data(), nullptr);
        Tensor yr({1, d.out_h, d.out_w, d.out_c}), yg(yr.shape());
        ref->forward(x.data(), yr.data(), 1);
        got->forward_tape(x.data(), yg.data(), 1);
        int64_t off = 0;
        for (int64_t i = 0; i < yr.size(); ++i)
            off += std::fabs(yg[i] - yr[i]) > 0x1p-23 * std::fabs(yr[i]);
        EXPECT_EQ(off, 0) << "of " << yr.size()
                          << " outputs more than one rounding from the exact sum";
        // Off the tape: float sums in K-blocks, a few roundings of a typical output (|y| ~
        // sqrt(K) / 2 here) at most (XNNPACK's forward sums along the whole K: not ours to bound).
        if (ks.name == std::string("xnnpack")) continue;
        got->forward(x.data(), yg.data(), 1);
        const double k = static_cast<double>(c.k) * c.k * c.ci / c.groups;
        const double unit = std::sqrt(k) * 0.5 * 0x1p-24;
        EXPECT_LT(max_abs_diff(yg.data(), yr.data(), yr.size()) / unit, 40.0);
    }
    for (int in : {4096, 912, 25}) {
        SCOPED_TRACE(testing::Message() << "dense " << in << " -> 1000");
        DenseDesc d{in, 1000, Activation::kNone, 0.f};
        Tensor w = random_tensor({in, 1000}, rng), b = random_tensor({1000}, rng);
        Tensor x = random_tensor({3, in}, rng, 0.f, 1.f);
        Tensor yr({3, 1000}), yg(yr.shape());
        reference_kernels().make_dense(d, w.data(), b.data())->forward(x.data(), yr.data(), 3);
        auto got = ks.make_dense(d, w.data(), b.data());
        got->forward_tape(x.data(), yg.data(), 3);
        // The xnnpack set keeps XNNPACK's float sums for fully connected layers on the tape.
        const double tol = ks.name == std::string("xnnpack") ? 64 * 0x1p-24 * std::sqrt(in) : 0.0;
        int64_t off = 0;
        for (int64_t i = 0; i < yr.size(); ++i)
            off += std::fabs(yg[i] - yr[i]) > 0x1p-23 * std::fabs(yr[i]) + tol;
        EXPECT_EQ(off, 0) << "of " << yr.size()
                          << " outputs more than one rounding from the exact sum";
    }
}

// Kernels split their loops across the pool's threads; every element must come out the same,
// bit for bit, whatever the thread count (ranges are disjoint and summation order is fixed).
TEST_P(KernelSetTest, ResultsDoNotDependOnThreads) {
    const KernelSet& ks = *GetParam();
    struct Out {
        std::vector<float> y, g;
    };
    auto run_all = [&](int threads) {
        set_kernel_threads(threads);
        Rng rng(29);
        std::vector<Out> outs;
        for (const ConvDesc& d : conv_cases())
            for (int batch : {1, 4}) {
                Tensor w = random_tensor({d.kernel_h, d.kernel_w, d.in_c / d.groups, d.out_c}, rng);
                Tensor b = random_tensor({d.out_c}, rng);
                Tensor x = random_tensor({batch, d.in_h, d.in_w, d.in_c}, rng);
                auto k = ks.make_conv(d, w.data(), b.data());
                Tensor y({batch, d.out_h, d.out_w, d.out_c});
                k->forward(x.data(), y.data(), batch);
                Tensor g = random_tensor(y.shape(), rng), gx(x.shape());
                k->backward_input(g.data(), gx.data(), batch, false);
                outs.push_back(
                    {{y.data(), y.data() + y.size()}, {gx.data(), gx.data() + gx.size()}});
                k->forward_tape(x.data(), y.data(), batch);
                outs.push_back({{y.data(), y.data() + y.size()}, {}});
            }
        // A classifier's last layer: one row at batch 1 and 32 panels of outputs, which threads
        // split by panels.
        for (int batch : {1, 5}) {
            const DenseDesc d{300, 1000, Activation::kNone, 0.f};
            Tensor w = random_tensor({300, 1000}, rng), b = random_tensor({1000}, rng),
                   x = random_tensor({batch, 300}, rng), y({batch, 1000}), y2({batch, 1000});
            auto k = ks.make_dense(d, w.data(), b.data());
            k->forward(x.data(), y.data(), batch);
            k->forward_tape(x.data(), y2.data(), batch);
            Tensor g = random_tensor(y.shape(), rng), gx(x.shape());
            k->backward_input(g.data(), gx.data(), batch, false);
            outs.push_back({{y.data(), y.data() + y.size()}, {gx.data(), gx.data() + gx.size()}});
            outs.push_back({{y2.data(), y2.data() + y2.size()}, {}});
        }
        PoolDesc p;
        p.kind = PoolKind::kMax;
        p.in_h = p.in_w = 29;
        p.channels = 24;
        p.kernel_h = p.kernel_w = 3;
        p.stride_h = p.stride_w = 2;
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
        p.out_h = p.out_w = 15;
        for (int batch : {1, 3}) {
            Tensor x = random_tensor({batch, 29, 29, 24}, rng), y({batch, 15, 15, 24}),
                   gx(x.shape());
            auto k = ks.make_pool(p);
            k->forward(x.data(), y.data(), batch);
            Tensor g = random_tensor(y.shape(), rng);
            k->backward_input(x.data(), g.data(), gx.data(), batch, false);
            outs.push_back({{y.data(), y.data() + y.size()}, {gx.data(), gx.data() + gx.size()}});
        }
        set_kernel_threads(1);
        return outs;
    };
    const std::vector<Out> one = run_all(1);
    for (int threads : {2, 3}) {
        const std::vector<Out> many = run_all(threads);
        ASSERT_EQ(many.size(), one.size());
        for (size_t i = 0; i < one.size(); ++i) {
            EXPECT_EQ(many[i].y, one[i].y)
                << "case " << i << ", " << threads << " threads (forward)";
            EXPECT_EQ(many[i].g, one[i].g)
                << "case " << i << ", " << threads << " threads (backward)";
        }
    }
}

TEST(KernelSets, ReferenceIsAlwaysCompiledAndSelectable) {
    EXPECT_NE(find_kernel_set("reference"), nullptr);
    EXPECT_EQ(select_kernel_set("reference"), &reference_kernels());
    EXPECT_EQ(select_kernel_set("no-such-set"), nullptr);
    EXPECT_EQ(compiled_kernel_sets().back(), &reference_kernels());
}

// On a CPU with AVX-512 the simd set runs its AVX-512 copy, listed first (the best), and the AVX2
// copy stays reachable as "simd-avx2"; elsewhere neither changes the order. A wasm module linked
// with the relaxed-SIMD copy (cnnlens_tests_fma) lists it first as "simd-fma", then "simd".
TEST(KernelSets, SimdCopiesAreListedByWhatTheCpuRuns) {
#ifdef CNNLENS_HAVE_SIMD
    const KernelSet* simd = find_kernel_set("simd");
    ASSERT_NE(simd, nullptr);
    if (const KernelSet* fma = find_kernel_set("simd-fma")) {
        EXPECT_EQ(compiled_kernel_sets().front(), fma);
        EXPECT_EQ(compiled_kernel_sets()[1], simd);
        EXPECT_NE(fma->make_conv, simd->make_conv);
        EXPECT_EQ(select_kernel_set(), fma);
    } else if (const KernelSet* avx2 = find_kernel_set("simd-avx2")) {
        EXPECT_EQ(compiled_kernel_sets().front(), simd);
        EXPECT_NE(avx2->make_conv, simd->make_conv);
    } else {
#ifdef CNNLENS_HAVE_XNNPACK
        EXPECT_EQ(compiled_kernel_sets().front()->name, "xnnpack");
#else
        EXPECT_EQ(compiled_kernel_sets().front(), simd);
#endif
    }
#else
    EXPECT_EQ(find_kernel_set("simd-avx2"), nullptr);
#endif
}

// y = sigmoid(x) within 2 ulp of the exact value rounded to float where that is a normal float
// (the formula's bound over every float, checked exhaustively when it was written), under 2e-38
// (and not negative) below, NaN for NaN.
void expect_sigmoid_within_two_ulp(const std::vector<float>& x, const std::vector<float>& y) {
    for (size_t i = 0; i < x.size(); ++i) {
        SCOPED_TRACE(x[i]);
        if (std::isnan(x[i])) {
            EXPECT_TRUE(std::isnan(y[i]));
            continue;
        }
        const double exact = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
        if (exact < std::numeric_limits<float>::min()) {
            EXPECT_LT(y[i], 2e-38f);
            EXPECT_GE(y[i], 0.f);
            continue;
        }
        const float rounded = static_cast<float>(exact);
        int32_t got, want;  // positive floats order as their bits do
        std::memcpy(&got, &y[i], 4);
        std::memcpy(&want, &rounded, 4);
        EXPECT_LE(std::abs(got - want), 2) << y[i] << " against " << exact;
    }
}

// Each set's sigmoid (the Sigmoid and Silu ops'): within 2 ulp of the exact value where that is a
// normal float, 1/2 at 0, NaN for NaN, monotone, and an element's bits do not depend on where it
// sits (odd offsets and lengths, tails shorter than a vector), as loops split by thread count.
TEST_P(KernelSetTest, SigmoidIsWithinTwoUlpWhereverItSits) {
    const KernelSet& ks = *GetParam();
    std::vector<float> x;
    for (float v = -100.f; v <= 100.f; v += 0.00731f) x.push_back(v);
    for (float v : {0.f, -0.f, 1e-30f, -1e-30f, 86.9f, -86.9f, 88.f, -88.f, 1e30f, -1e30f,
                    std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()})
        x.push_back(v);
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<float> y(x.size());
    ks.sigmoid(x.data(), y.data(), n);
    expect_sigmoid_within_two_ulp(x, y);
    for (size_t i = 0; i < x.size(); ++i) {
        if (x[i] == 0.f) {
            EXPECT_EQ(y[i], 0.5f);
        }
    }
    for (size_t i = 1; i < 27000; ++i) ASSERT_LE(y[i - 1], y[i]) << x[i];
    for (const int64_t at : {int64_t{0}, int64_t{1}, int64_t{3}, int64_t{5}, n - 7, n - 3})
        for (const int64_t len : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{7}, int64_t{13}}) {
            if (at + len > n) continue;
            std::vector<float> part(static_cast<size_t>(len));
            ks.sigmoid(x.data() + at, part.data(), len);
            for (int64_t i = 0; i < len; ++i) {
                // A NaN's bits are the engine's to choose (wasm leaves them open); NaN it is.
                const float got = part[static_cast<size_t>(i)],
                            whole = y[static_cast<size_t>(at + i)];
                if (std::isnan(whole)) {
                    ASSERT_TRUE(std::isnan(got)) << "run at " << at + i;
                    continue;
                }
                ASSERT_EQ(std::memcmp(&got, &whole, sizeof(float)), 0)
                    << "x = " << x[static_cast<size_t>(at + i)] << " at " << at + i << ", run of "
                    << len;
            }
        }
}

INSTANTIATE_TEST_SUITE_P(AllSets, KernelSetTest,
                         ::testing::ValuesIn(compiled_kernel_sets().begin(),
                                             compiled_kernel_sets().end()),
                         [](const testing::TestParamInfo<const KernelSet*>& i) {
                             return test::kernel_test_name(*i.param);
                         });

// The vectorized sigmoid against the exact value in double: within 2 ulp wherever the result
// is a normal float, exactly 1/2 at 0, 0 far below, 1 far above, monotone, in place as out of
// place, and the Sigmoid activation is the same function.
TEST(Activations, SigmoidIsWithinTwoUlp) {
    std::vector<float> x;
    for (float v = -100.f; v <= 100.f; v += 0.00731f) x.push_back(v);
    for (float v :
         {0.f, -0.f, 1e-30f, -1e-30f, 86.9f, -86.9f, 87.f, -87.f, 88.f, -88.f, 1e30f, -1e30f,
          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()})
        x.push_back(v);
    std::vector<float> y(x.size()), z = x;
    sigmoid(x.data(), y.data(), static_cast<int64_t>(x.size()));
    apply_activation(Activation::kSigmoid, 0.f, z.data(), static_cast<int64_t>(z.size()));
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], z[i]) << x[i];
    expect_sigmoid_within_two_ulp(x, y);
    EXPECT_EQ(y[x.size() - 14], 0.5f);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    float out = 0;
    sigmoid(&nan, &out, 1);
    EXPECT_TRUE(std::isnan(out));
    std::vector<float> grid;
    for (float v = -20.f; v <= 20.f; v += 0.001f) grid.push_back(v);
    std::vector<float> s(grid.size());
    sigmoid(grid.data(), s.data(), static_cast<int64_t>(grid.size()));
    for (size_t i = 1; i < s.size(); ++i) ASSERT_LE(s[i - 1], s[i]) << grid[i];
}

}  // namespace
}  // namespace cnnlens
