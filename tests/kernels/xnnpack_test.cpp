// Cases specific to the xnnpack set, beyond the generic every-set suite in kernels_test.cpp:
// each depthwise backward route, operator reuse across batches, buffers and thread pools,
// TF-SAME asymmetric pooling pads, 1x1 pooling (rejected by XNNPACK) and max-pool ties.
#ifdef CNNLENS_HAVE_XNNPACK
#include "core/kernels/xnnpack/xnnpack.h"

#include <gtest/gtest.h>

#include "core/kernels/kernels.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

using test::random_tensor;
using test::rel_l2;

const KernelSet& xnn() {
    const KernelSet* k = find_kernel_set("xnnpack");
    CNNLENS_ASSERT(k != nullptr);
    return *k;
}

ConvDesc conv(int h, int c, int out_c, int k, int s, int dil, int groups, int pad_lo, int pad_hi) {
    ConvDesc d;
    d.in_h = d.in_w = h;
    d.in_c = c;
    d.out_c = out_c;
    d.groups = groups;
    d.kernel_h = d.kernel_w = k;
    d.stride_h = d.stride_w = s;
    d.dilation_h = d.dilation_w = dil;
    d.pad_top = d.pad_left = pad_lo;
    d.pad_bottom = d.pad_right = pad_hi;
    d.out_h = d.out_w = test::conv_out_size(h, k, s, dil, pad_lo + pad_hi);
    return d;
}

// Forward, backward and accumulating backward of one kernel against reference.
void expect_conv_matches(const ConvDesc& d, int batch, Rng& rng) {
    Tensor w = random_tensor({d.kernel_h, d.kernel_w, d.in_c / d.groups, d.out_c}, rng);
    Tensor b = random_tensor({d.out_c}, rng),
           x = random_tensor({batch, d.in_h, d.in_w, d.in_c}, rng);
    auto ref = reference_kernels().make_conv(d, w.data(), b.data());
    auto got = xnn().make_conv(d, w.data(), b.data());
    Tensor yr({batch, d.out_h, d.out_w, d.out_c}), yg(yr.shape());
    ref->forward(x.data(), yr.data(), batch);
    got->forward(x.data(), yg.data(), batch);
    EXPECT_LT(rel_l2(yg.data(), yr.data(), yr.size()), 1e-5);
    Tensor g = random_tensor(yr.shape(), rng), gr(x.shape()), gg(x.shape(), 0.5f),
           gacc(x.shape(), 0.5f);
    ref->backward_input(g.data(), gr.data(), batch, false);
    got->backward_input(g.data(), gg.data(), batch, false);
    EXPECT_LT(rel_l2(gg.data(), gr.data(), gr.size()), 1e-5);
    got->backward_input(g.data(), gacc.data(), batch, true);
    for (int64_t i = 0; i < gr.size(); ++i) gr[i] += 0.5f;
    EXPECT_LT(rel_l2(gacc.data(), gr.data(), gr.size()), 1e-5);
}

TEST(Xnnpack, DepthwiseBackwardRoutes) {
    Rng rng(21);
    // Flipped-kernel depthwise conv: stride 1, multiplier 1, padding within (k-1)*dilation.
    expect_conv_matches(conv(9, 24, 24, 3, 1, 2, 24, 2, 2), 2, rng);
    expect_conv_matches(conv(7, 5, 5, 5, 1, 1, 5, 1, 3), 2, rng);
    // Own loop: stride 2 with 40 channels (16-wide blocks plus a remainder), TF-SAME pads,
    // padding wider than the kernel reaches, multiplier 3.
    expect_conv_matches(conv(11, 40, 40, 3, 2, 1, 40, 0, 1), 2, rng);
    expect_conv_matches(conv(6, 17, 17, 3, 1, 1, 17, 3, 3), 2, rng);
    expect_conv_matches(conv(8, 6, 18, 3, 1, 1, 6, 1, 1), 2, rng);
}

TEST(Xnnpack, RegularConvEdgeCases) {
    Rng rng(22);
    expect_conv_matches(conv(10, 8, 12, 1, 3, 1, 1, 0, 0), 2, rng);  // stride beyond the kernel
    expect_conv_matches(conv(12, 6, 10, 4, 3, 1, 1, 1, 2), 2, rng);  // even kernel, adjustment 2
    expect_conv_matches(conv(9, 12, 6, 3, 2, 2, 3, 2, 2), 2, rng);   // grouped, dilated, strided
}

// Operators are set up per (batch, buffers, thread pool): each change must redo the setup, and
// new contents in the same buffers must not be served stale results.
TEST(Xnnpack, ReuseAcrossBatchesBuffersAndThreads) {
    Rng rng(23);
    const ConvDesc cd = conv(9, 8, 16, 3, 2, 1, 1, 1, 1), dd = conv(9, 8, 8, 3, 1, 1, 8, 1, 1);
    const DenseDesc fd{648, 7, Activation::kTanh, 0.f};  // reads a whole 9x9x8 image as features
    Tensor cw = random_tensor({3, 3, 8, 16}, rng), dw = random_tensor({3, 3, 1, 8}, rng),
           fw = random_tensor({648, 7}, rng);
    std::unique_ptr<ConvKernel> convs[2][2] = {
        {reference_kernels().make_conv(cd, cw.data(), nullptr),
         xnn().make_conv(cd, cw.data(), nullptr)},
        {reference_kernels().make_conv(dd, dw.data(), nullptr),
         xnn().make_conv(dd, dw.data(), nullptr)}};
    auto fc_r = reference_kernels().make_dense(fd, fw.data(), nullptr),
         fc_x = xnn().make_dense(fd, fw.data(), nullptr);
    Tensor ins[2] = {Tensor({3, 9, 9, 8}), Tensor({1, 9, 9, 8})};
    Tensor outs[2] = {Tensor({3, 9, 9, 16}), Tensor({1, 9, 9, 16})};
    Tensor grads[2] = {Tensor({3, 9, 9, 8}), Tensor({1, 9, 9, 8})};
    for (int step = 0; step < 6; ++step) {
        if (step == 3) set_xnnpack_threads(2);
        if (step == 5) set_xnnpack_threads(1);
        const int batch = step % 2 ? 1 : 3;
        Tensor &in = ins[step % 2], &out = outs[step % 2], &grad = grads[step % 2];
        SCOPED_TRACE(testing::Message() << "step " << step << " batch " << batch);
        for (int64_t i = 0; i < in.size(); ++i) in[i] = rng.uniform(-1.f, 1.f);
        std::vector<float> want(static_cast<size_t>(out.size()));
        for (int j = 0; j < 2; ++j) {
            const ConvDesc& d = j ? dd : cd;
            auto& c = convs[j];
            c[0]->forward(in.data(), want.data(), batch);
            c[1]->forward(in.data(), out.data(), batch);
            EXPECT_LT(rel_l2(out.data(), want.data(), int64_t{batch} * d.out_h * d.out_w * d.out_c),
                      1e-5);
            c[0]->backward_input(out.data(), want.data(), batch, false);
            c[1]->backward_input(out.data(), grad.data(), batch, false);
            EXPECT_LT(rel_l2(grad.data(), want.data(), in.size()), 1e-5);
            c[1]->backward_input(out.data(), grad.data(), batch, true);  // grad = 2 * want
            for (int64_t i = 0; i < in.size(); ++i) want[i] *= 2.f;
            EXPECT_LT(rel_l2(grad.data(), want.data(), in.size()), 1e-5);
        }
        fc_r->forward(in.data(), want.data(), batch);
        fc_x->forward(in.data(), out.data(), batch);
        EXPECT_LT(rel_l2(out.data(), want.data(), int64_t{batch} * 7), 1e-5);
        fc_r->backward_input(out.data(), want.data(), batch, false);
        fc_x->backward_input(out.data(), grad.data(), batch, false);
        EXPECT_LT(rel_l2(grad.data(), want.data(), in.size()), 1e-5);
    }
}

PoolDesc pool(PoolKind kind, int h, int c, int k, int s, int pad_lo, int pad_hi) {
    PoolDesc d;
    d.kind = kind;
    d.in_h = d.in_w = h;
    d.channels = c;
    d.kernel_h = d.kernel_w = k;
    d.stride_h = d.stride_w = s;
    d.pad_top = d.pad_left = pad_lo;
    d.pad_bottom = d.pad_right = pad_hi;
    d.out_h = d.out_w = test::conv_out_size(h, k, s, 1, pad_lo + pad_hi);
    return d;
}

void expect_pool_matches(const PoolDesc& d, const Tensor& x) {
    const int batch = x.shape()[0];
    auto ref = reference_kernels().make_pool(d);
    auto got = xnn().make_pool(d);
    Tensor yr({batch, d.out_h, d.out_w, d.channels}), yg(yr.shape());
    ref->forward(x.data(), yr.data(), batch);
    got->forward(x.data(), yg.data(), batch);
    EXPECT_LT(rel_l2(yg.data(), yr.data(), yr.size()), 1e-6);
    Rng rng(5);
    Tensor g = random_tensor(yr.shape(), rng), gr(x.shape(), 0.25f), gg(x.shape(), 0.25f);
    ref->backward_input(x.data(), g.data(), gr.data(), batch, true);
    got->backward_input(x.data(), g.data(), gg.data(), batch, true);
    EXPECT_LT(rel_l2(gg.data(), gr.data(), gr.size()), 1e-6);
}

TEST(Xnnpack, PoolingPadsWindowsAndTies) {
    Rng rng(24);
    for (PoolKind kind : {PoolKind::kMax, PoolKind::kAvg}) {
        SCOPED_TRACE(kind == PoolKind::kMax ? "max" : "avg");
        Tensor x = random_tensor({2, 8, 8, 19}, rng);
        expect_pool_matches(pool(kind, 8, 19, 3, 2, 0, 1), x);  // TF SAME: the pad falls at the end
        Tensor x7 = random_tensor({2, 7, 7, 19}, rng);
        expect_pool_matches(pool(kind, 7, 19, 2, 2, 0, 1), x7);
        expect_pool_matches(pool(kind, 7, 19, 1, 2, 0, 0), x7);  // 1x1: XNNPACK rejects it
        expect_pool_matches(pool(kind, 7, 19, 3, 1, 2, 2), x7);  // corner windows 1 element wide
    }
    // Ties everywhere: the gradient goes to the first maximum in row-major order.
    Tensor t({1, 9, 9, 20});
    for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(rng.below(3));
    expect_pool_matches(pool(PoolKind::kMax, 9, 20, 3, 2, 1, 1), t);
    expect_pool_matches(pool(PoolKind::kMax, 9, 20, 3, 1, 1, 1), t);
}

}  // namespace
}  // namespace cnnlens
#endif  // CNNLENS_HAVE_XNNPACK
