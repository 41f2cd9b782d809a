// The `xnnpack` kernel set on Debian's libXNNPACK (2022 snapshot): operators are created once
// per kernel from repacked weights and set up again only when the batch size, the buffers or
// the thread pool change. Pooling gradients come from the simd set (XNNPACK has no backward
// ops), and so do the layers the simd set's AVX-512 copy runs faster (HandedOverConv).
#include "core/kernels/xnnpack/xnnpack.h"

#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/base/assert.h"
#include "core/base/memory.h"
#include "core/base/log.h"
#include "core/base/thread_pool.h"
#include "core/kernels/kernels.h"
#ifdef CNNLENS_HAVE_SIMD
#include "core/kernels/simd/simd_set.h"
#endif

namespace cnnlens {
namespace {

struct Runtime {
    bool ok = false;
    pthreadpool_t pool = nullptr;
    // Bumped whenever `pool` is replaced: setups made with the old pool are stale.
    uint64_t generation = 1;
};

// XNNPACK's packed weights and workspaces, counted as the engine's memory (core/base/memory.h):
// each block starts with a 64-byte header holding its size, since deallocate gets no size.
constexpr size_t kHeader = 64;
void* counted_allocate(void*, size_t size) {
    char* p = static_cast<char*>(memory::allocate(size + kHeader));
    if (!p) return nullptr;
    *reinterpret_cast<size_t*>(p) = size;
    return p + kHeader;
}
void counted_deallocate(void*, void* pointer) {
    if (!pointer) return;
    char* p = static_cast<char*>(pointer) - kHeader;
    memory::release(p, *reinterpret_cast<size_t*>(p) + kHeader);
}
void* counted_reallocate(void* c, void* pointer, size_t size) {
    void* q = counted_allocate(c, size);
    if (!q || !pointer) return q;
    const size_t old = *reinterpret_cast<size_t*>(static_cast<char*>(pointer) - kHeader);
    std::memcpy(q, pointer, std::min(old, size));
    counted_deallocate(c, pointer);
    return q;
}
void* counted_aligned_allocate(void* c, size_t alignment, size_t size) {
    CNNLENS_ASSERT(alignment <= kHeader);
    return counted_allocate(c, size);
}

Runtime& runtime() {
    static Runtime r = [] {
        Runtime rt;
        static const xnn_allocator allocator{nullptr,
                                             counted_allocate,
                                             counted_reallocate,
                                             counted_deallocate,
                                             counted_aligned_allocate,
                                             counted_deallocate};
        const xnn_status s = xnn_initialize(&allocator);
        if (s != xnn_status_success) {
            log(LogLevel::kWarn, "xnnpack: xnn_initialize failed (status " + std::to_string(s) +
                                     "); the xnnpack set falls back to reference");
            return rt;
        }
        rt.pool = pthreadpool_create(1);
        rt.ok = rt.pool != nullptr;
        return rt;
    }();
    return r;
}

// Set once XNNPACK's workers are parked (see park_workers_before_our_kernel), cleared whenever
// an operator may wake them again.
std::atomic<bool> g_workers_parked{false};

// Inside a loop of our own pool (one thread per batch piece) operators run on the calling
// thread alone.
pthreadpool_t pool() {
    if (in_parallel_region()) return nullptr;
    g_workers_parked.store(false, std::memory_order_relaxed);
    return runtime().pool;
}

// Called before a kernel of ours (simd or reference set, on our thread pool) runs for this set.
// XNNPACK's workers spin for a while after each operator and would hold the cores our pool's
// workers need, so they are parked, once per run of our kernels.
void park_workers_before_our_kernel() {
    if (pool_threads() > 1 && !in_parallel_region() &&
        !g_workers_parked.exchange(true, std::memory_order_relaxed))
        park_xnnpack_threads();
}

void check(xnn_status s, const char* what) {
    if (s == xnn_status_success) return;
    std::fprintf(stderr, "cnnlens: xnnpack: %s failed (status %d)\n", what, static_cast<int>(s));
    std::abort();
}

struct OpDeleter {
    void operator()(xnn_operator_t op) const { xnn_delete_operator(op); }
};
using Op = std::unique_ptr<xnn_operator, OpDeleter>;

// The arguments of an operator's last xnn_setup_* call, so repeated calls skip the setup.
class SetupCache {
public:
    bool needs_setup(int batch, const void* in, const void* out) {
        const uint64_t gen = runtime().generation;
        if (batch == batch_ && in == in_ && out == out_ && gen == gen_) return false;
        batch_ = batch;
        in_ = in;
        out_ = out;
        gen_ = gen;
        return true;
    }

private:
    int batch_ = -1;
    const void* in_ = nullptr;
    const void* out_ = nullptr;
    uint64_t gen_ = 0;
};

// XNNPACK fuses clamping only; other activations run after the operator.
struct Clamp {
    float lo = -std::numeric_limits<float>::infinity();
    float hi = std::numeric_limits<float>::infinity();
    bool post = false;
};
Clamp fused_clamp(Activation a) {
    Clamp c;
    if (a == Activation::kRelu || a == Activation::kRelu6) c.lo = 0.f;
    if (a == Activation::kRelu6) c.hi = 6.f;
    c.post = a != Activation::kNone && a != Activation::kRelu && a != Activation::kRelu6;
    return c;
}

void warn_fallback(const std::string& what, xnn_status s) {
    log(LogLevel::kWarn,
        "xnnpack: " + what + " returned status " + std::to_string(s) + "; using reference");
}

std::string conv_name(const ConvDesc& d) {
    return "Conv " + std::to_string(d.kernel_h) + "x" + std::to_string(d.kernel_w) + " " +
           std::to_string(d.in_c) + "->" + std::to_string(d.out_c) + " stride " +
           std::to_string(d.stride_h) + "x" + std::to_string(d.stride_w) + " groups " +
           std::to_string(d.groups);
}

// Adds the scratch result into `dst` (backward with accumulate == true).
void add_into(float* dst, const float* src, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// Scratch for accumulating backward passes; XNN_EXTRA_BYTES of slack as XNNPACK may over-read.
float* scratch(memory::CountedVector<float>& v, int64_t n) {
    const size_t need = static_cast<size_t>(n) + XNN_EXTRA_BYTES / sizeof(float);
    if (v.size() < need) v.resize(need);
    return v.data();
}

// 128-bit vectors through the GCC/Clang vector extension (SSE2 or NEON, whatever the target).
using f32x4 = float __attribute__((vector_size(16)));
f32x4 load4(const float* p) {
    f32x4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
void store4(float* p, f32x4 v) { std::memcpy(p, &v, sizeof v); }

// Depthwise input gradient, gathered per input pixel: the taps that reach it are listed once,
// then 16 channels at a time stay in registers across all taps. XNNPACK's grouped deconvolution
// gets this right but runs one tiny GEMM per channel (~2 GFLOP/s).
void depthwise_backward(const ConvDesc& d, const float* w, const float* gp, float* gin, int batch,
                        bool accumulate, memory::CountedVector<int64_t>& taps) {
    const int C = d.in_c, m = d.out_c / d.in_c;
    taps.resize(2 * static_cast<size_t>(d.kernel_h) * d.kernel_w);
    for (int n = 0; n < batch; ++n)
        for (int iy = 0; iy < d.in_h; ++iy)
            for (int ix = 0; ix < d.in_w; ++ix) {
                // taps[2t]: offset into grad_pre, taps[2t+1]: offset into the weights.
                size_t nt = 0;
                for (int ky = 0; ky < d.kernel_h; ++ky) {
                    const int ty = iy + d.pad_top - ky * d.dilation_h;
                    if (ty < 0 || ty % d.stride_h || ty / d.stride_h >= d.out_h) continue;
                    for (int kx = 0; kx < d.kernel_w; ++kx) {
                        const int tx = ix + d.pad_left - kx * d.dilation_w;
                        if (tx < 0 || tx % d.stride_w || tx / d.stride_w >= d.out_w) continue;
                        taps[nt++] =
                            ((int64_t{n} * d.out_h + ty / d.stride_h) * d.out_w + tx / d.stride_w) *
                            d.out_c;
                        taps[nt++] = (int64_t{ky} * d.kernel_w + kx) * d.out_c;
                    }
                }
                float* dst = gin + ((int64_t{n} * d.in_h + iy) * d.in_w + ix) * C;
                int c = 0;
                if (m == 1) {
                    for (; c + 16 <= C; c += 16) {
                        f32x4 a0 = {}, a1 = {}, a2 = {}, a3 = {};
                        if (accumulate) {
                            a0 = load4(dst + c);
                            a1 = load4(dst + c + 4);
                            a2 = load4(dst + c + 8);
                            a3 = load4(dst + c + 12);
                        }
                        for (size_t t = 0; t < nt; t += 2) {
                            const float* g = gp + taps[t] + c;
                            const float* k = w + taps[t + 1] + c;
                            a0 += load4(g) * load4(k);
                            a1 += load4(g + 4) * load4(k + 4);
                            a2 += load4(g + 8) * load4(k + 8);
                            a3 += load4(g + 12) * load4(k + 12);
                        }
                        store4(dst + c, a0);
                        store4(dst + c + 4, a1);
                        store4(dst + c + 8, a2);
                        store4(dst + c + 12, a3);
                    }
                }
                for (; c < C; ++c) {
                    float acc = accumulate ? dst[c] : 0.f;
                    for (size_t t = 0; t < nt; t += 2)
                        for (int j = 0; j < m; ++j)
                            acc += gp[taps[t] + c * m + j] * w[taps[t + 1] + c * m + j];
                    dst[c] = acc;
                }
            }
}

// How a convolution's input gradient is computed.
enum class ConvBackward {
    kDeconvolution,  // XNNPACK's transposed convolution (regular and grouped convolutions)
    kFlipped,        // stride 1: XNNPACK convolution (depthwise too, multiplier 1) with the
                     // kernel flipped and input and output channels swapped
    kDepthwiseLoop,  // other depthwise: depthwise_backward()
    kStrided1x1,     // strided 1x1 kernels: an XNNPACK 1x1 convolution (the weights
                     // transposed) into a compact buffer, then scattered to the strided
                     // pixels; XNNPACK's own deconvolution is much slower there
    kSimd,           // strided layers with 1-3 input channels: the simd set's GEMM + col2im,
                     // faster than XNNPACK's deconvolution on so few channels
    kReference,      // shapes XNNPACK rejects
};

class XnnConv final : public ConvKernel {
public:
    static std::unique_ptr<ConvKernel> make(const ConvDesc& d, const float* w, const float* b);

    void forward(const float* in, float* out, int batch) override {
        if (batch <= 0) return;
        if (fwd_setup_.needs_setup(batch, in, out))
            check(xnn_setup_convolution2d_nhwc_f32(fwd_.get(), batch, d_.in_h, d_.in_w, in, out,
                                                   pool()),
                  "xnn_setup_convolution2d_nhwc_f32");
        check(xnn_run_operator(fwd_.get(), pool()), "xnn_run_operator (convolution)");
        if (post_)
            apply_activation(d_.activation, d_.alpha, out,
                             int64_t{batch} * d_.out_h * d_.out_w * d_.out_c);
    }

    // XNNPACK sums a dot product in one float chain; on the tape its rounding would flip ReLU
    // decisions deep in a ResNet and move its saliency map, so the tape runs the simd set's
    // exact GEMM (double sums, see ConvKernel::forward_tape).
    void forward_tape(const float* in, float* out, int batch) override {
        if (!tape_) return forward(in, out, batch);
        park_workers_before_our_kernel();
        tape_->forward_tape(in, out, batch);
    }

    void backward_input(const float* gp, float* gin, int batch, bool accumulate) override {
        if (batch <= 0) return;
        if (route_ == ConvBackward::kReference || route_ == ConvBackward::kSimd) {
            park_workers_before_our_kernel();
            return ref_->backward_input(gp, gin, batch, accumulate);
        }
        if (route_ == ConvBackward::kStrided1x1)
            return strided_1x1_backward(gp, gin, batch, accumulate);
        if (route_ == ConvBackward::kDepthwiseLoop) {
            park_workers_before_our_kernel();
            return depthwise_backward(d_, dw_weights_.data(), gp, gin, batch, accumulate, taps_);
        }
        const int64_t n = int64_t{batch} * d_.in_h * d_.in_w * d_.in_c;
        float* dst = accumulate ? scratch(scratch_, n) : gin;
        if (bwd_setup_.needs_setup(batch, gp, dst)) {
            const xnn_status s = route_ == ConvBackward::kDeconvolution
                                     ? xnn_setup_deconvolution2d_nhwc_f32(
                                           bwd_.get(), batch, d_.out_h, d_.out_w, adjustment_h(d_),
                                           adjustment_w(d_), gp, dst, pool())
                                     : xnn_setup_convolution2d_nhwc_f32(bwd_.get(), batch, d_.out_h,
                                                                        d_.out_w, gp, dst, pool());
            check(s, "xnn_setup_(de)convolution2d_nhwc_f32 (backward)");
        }
        check(xnn_run_operator(bwd_.get(), pool()), "xnn_run_operator (conv backward)");
        if (accumulate) add_into(gin, dst, n);
    }

private:
    // grad_in is zero except at the pixels the kernel read, (y * stride - pad_top, ...), which
    // get the 1x1 product grad_pre x weights^T computed densely over the output grid.
    void strided_1x1_backward(const float* gp, float* gin, int batch, bool accumulate) {
        const int64_t pixels = int64_t{batch} * d_.out_h * d_.out_w;
        float* dense = scratch(compact_, pixels * d_.in_c);
        if (bwd_setup_.needs_setup(batch, gp, dense))
            check(xnn_setup_convolution2d_nhwc_f32(bwd_.get(), batch, d_.out_h, d_.out_w, gp, dense,
                                                   pool()),
                  "xnn_setup_convolution2d_nhwc_f32 (strided 1x1 backward)");
        check(xnn_run_operator(bwd_.get(), pool()), "xnn_run_operator (strided 1x1 backward)");
        if (!accumulate)
            std::memset(gin, 0,
                        sizeof(float) * static_cast<size_t>(batch) * d_.in_h * d_.in_w * d_.in_c);
        const int C = d_.in_c;
        for (int n = 0; n < batch; ++n)
            for (int oy = 0; oy < d_.out_h; ++oy) {
                const int iy = oy * d_.stride_h - d_.pad_top;
                if (iy < 0 || iy >= d_.in_h) continue;
                for (int ox = 0; ox < d_.out_w; ++ox) {
                    const int ix = ox * d_.stride_w - d_.pad_left;
                    if (ix < 0 || ix >= d_.in_w) continue;
                    const float* src = dense + ((int64_t{n} * d_.out_h + oy) * d_.out_w + ox) * C;
                    float* dst = gin + ((int64_t{n} * d_.in_h + iy) * d_.in_w + ix) * C;
                    for (int c = 0; c < C; ++c) dst[c] += src[c];
                }
            }
    }

    XnnConv(const ConvDesc& d, Op fwd)
        : d_(d), fwd_(std::move(fwd)), post_(fused_clamp(d.activation).post) {}

    // A transposed convolution of out_h rows spans (out_h-1)*stride + the dilated kernel, minus
    // the padding; the adjustment adds back the rows the forward convolution's floor dropped.
    static int adjustment_h(const ConvDesc& d) {
        return d.in_h + d.pad_top + d.pad_bottom -
               ((d.out_h - 1) * d.stride_h + (d.kernel_h - 1) * d.dilation_h + 1);
    }
    static int adjustment_w(const ConvDesc& d) {
        return d.in_w + d.pad_left + d.pad_right -
               ((d.out_w - 1) * d.stride_w + (d.kernel_w - 1) * d.dilation_w + 1);
    }

    ConvDesc d_;
    Op fwd_, bwd_;
    bool post_;
    ConvBackward route_ = ConvBackward::kReference;
    memory::CountedVector<float> dw_weights_;  // kDepthwiseLoop: our layout
    memory::CountedVector<int64_t> taps_;
    std::unique_ptr<ConvKernel> ref_;   // kReference, kSimd
    std::unique_ptr<ConvKernel> tape_;  // forward_tape's kernel for long dot products, or null
    SetupCache fwd_setup_, bwd_setup_;
    memory::CountedVector<float> scratch_;  // backward with accumulate
    memory::CountedVector<float> compact_;  // kStrided1x1: the product on the output grid
};

std::unique_ptr<ConvKernel> XnnConv::make(const ConvDesc& d, const float* w, const float* b) {
    const int cpg = d.in_c / d.groups, opg = d.out_c / d.groups, kk = d.kernel_h * d.kernel_w;
    const bool dw = d.is_depthwise();
    const Clamp clamp = fused_clamp(d.activation);
    const float inf = std::numeric_limits<float>::infinity();

    // Ours: [k][ci][g*opg+co]. Regular conv wants [g][co][k][ci]; depthwise with
    // XNN_FLAG_DEPTHWISE_CONVOLUTION wants [k][C*m], which is ours unchanged.
    std::vector<float> packed;
    if (!dw) {
        packed.resize(static_cast<size_t>(kk) * cpg * d.out_c);
        for (int g = 0; g < d.groups; ++g)
            for (int co = 0; co < opg; ++co)
                for (int k = 0; k < kk; ++k)
                    for (int ci = 0; ci < cpg; ++ci)
                        packed[((static_cast<size_t>(g) * opg + co) * kk + k) * cpg + ci] =
                            w[(static_cast<size_t>(k) * cpg + ci) * d.out_c + g * opg + co];
    }
    xnn_operator_t fwd = nullptr;
    xnn_status s = xnn_create_convolution2d_nhwc_f32(
        d.pad_top, d.pad_right, d.pad_bottom, d.pad_left, d.kernel_h, d.kernel_w, d.stride_h,
        d.stride_w, d.dilation_h, d.dilation_w, d.groups, cpg, opg, d.in_c, d.out_c,
        dw ? w : packed.data(), b, clamp.lo, clamp.hi, dw ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0,
        &fwd);
    if (s != xnn_status_success) {
        warn_fallback(conv_name(d) + ": xnn_create_convolution2d_nhwc_f32", s);
        return reference_kernels().make_conv(d, w, b);
    }
    std::unique_ptr<XnnConv> k(new XnnConv(d, Op(fwd)));
#ifdef CNNLENS_HAVE_SIMD
    if (!dw) k->tape_ = simd_gemm_forward_conv(d, w, b);
#endif
    xnn_operator_t bwd = nullptr;
    // The backward operators' weights, [g][ci][k][co]: our outputs become their inputs; `flip`
    // reverses the kernel in both axes (k -> kk - 1 - k).
    auto pack_backward = [&](bool flip) {
        packed.resize(static_cast<size_t>(kk) * cpg * d.out_c);
        for (int g = 0; g < d.groups; ++g)
            for (int ci = 0; ci < cpg; ++ci)
                for (int t = 0; t < kk; ++t)
                    for (int co = 0; co < opg; ++co)
                        packed[((static_cast<size_t>(g) * cpg + ci) * kk + t) * opg + co] =
                            w[(static_cast<size_t>(flip ? kk - 1 - t : t) * cpg + ci) * d.out_c +
                              g * opg + co];
    };

    // Stride-1 depthwise backward is a depthwise convolution of grad_pre with the kernel
    // flipped in both axes and padding (kernel-1)*dilation - pad on each side.
    const int ph = (d.kernel_h - 1) * d.dilation_h, pw = (d.kernel_w - 1) * d.dilation_w;
    if (dw && d.out_c == d.in_c && d.stride_h == 1 && d.stride_w == 1 && d.pad_top <= ph &&
        d.pad_bottom <= ph && d.pad_left <= pw && d.pad_right <= pw) {
        packed.resize(static_cast<size_t>(kk) * d.out_c);
        for (int k = 0; k < kk; ++k)
            std::memcpy(&packed[static_cast<size_t>(k) * d.out_c],
                        w + static_cast<size_t>(kk - 1 - k) * d.out_c, sizeof(float) * d.out_c);
        s = xnn_create_convolution2d_nhwc_f32(
            ph - d.pad_top, pw - d.pad_right, ph - d.pad_bottom, pw - d.pad_left, d.kernel_h,
            d.kernel_w, 1, 1, d.dilation_h, d.dilation_w, d.groups, 1, 1, d.in_c, d.in_c,
            packed.data(), nullptr, -inf, inf, XNN_FLAG_DEPTHWISE_CONVOLUTION, &bwd);
        if (s == xnn_status_success) {
            k->bwd_.reset(bwd);
            k->route_ = ConvBackward::kFlipped;
            return k;
        }
    }
    if (dw) {
        k->dw_weights_.assign(w, w + static_cast<size_t>(kk) * d.out_c);
        k->route_ = ConvBackward::kDepthwiseLoop;
        return k;
    }

    // Stride 1 in general: the same flip makes the backward a forward convolution (channels
    // swapped), which XNNPACK runs as fast as the forward pass, faster than its deconvolution.
    if (d.stride_h == 1 && d.stride_w == 1 && d.pad_top <= ph && d.pad_bottom <= ph &&
        d.pad_left <= pw && d.pad_right <= pw) {
        pack_backward(true);
        s = xnn_create_convolution2d_nhwc_f32(
            ph - d.pad_top, pw - d.pad_right, ph - d.pad_bottom, pw - d.pad_left, d.kernel_h,
            d.kernel_w, 1, 1, d.dilation_h, d.dilation_w, d.groups, opg, cpg, d.out_c, d.in_c,
            packed.data(), nullptr, -inf, inf, 0, &bwd);
        if (s == xnn_status_success) {
            k->bwd_.reset(bwd);
            k->route_ = ConvBackward::kFlipped;
            return k;
        }
    }
    if (kk == 1 && d.groups == 1 && (d.stride_h > 1 || d.stride_w > 1) && d.dilation_h == 1 &&
        d.dilation_w == 1) {
        // Ours are [ci][co]; as a 1x1 convolution from co to ci channels XNNPACK wants
        // [ci][co] too (output channels major), i.e. our weights unchanged.
        s = xnn_create_convolution2d_nhwc_f32(0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, d.out_c, d.in_c,
                                              d.out_c, d.in_c, w, nullptr, -inf, inf, 0, &bwd);
        if (s == xnn_status_success) {
            k->bwd_.reset(bwd);
            k->route_ = ConvBackward::kStrided1x1;
            return k;
        }
    }
#ifdef CNNLENS_HAVE_SIMD
    if (d.groups == 1 && kk > 1 && cpg < 4) {
        k->ref_ = simd_kernels().make_conv(d, w, b);
        k->route_ = ConvBackward::kSimd;
        return k;
    }
#endif
    // Otherwise the transposed convolution with the same kernel, stride, dilation and padding,
    // whose input channels are our outputs: [g][ci][k][co], no spatial flip.
    const int adj_h = adjustment_h(d), adj_w = adjustment_w(d);
    s = xnn_status_unsupported_parameter;
    if (adj_h >= 0 && adj_h < d.stride_h && adj_w >= 0 && adj_w < d.stride_w) {
        pack_backward(false);
        s = xnn_create_deconvolution2d_nhwc_f32(
            d.pad_top, d.pad_right, d.pad_bottom, d.pad_left, d.kernel_h, d.kernel_w, d.stride_h,
            d.stride_w, d.dilation_h, d.dilation_w, d.groups, opg, cpg, d.out_c, d.in_c,
            packed.data(), nullptr, -inf, inf, 0, &bwd);
    }
    if (s == xnn_status_success) {
        k->bwd_.reset(bwd);
        k->route_ = ConvBackward::kDeconvolution;
    } else {
        warn_fallback(conv_name(d) + ": xnn_create_deconvolution2d_nhwc_f32 (backward)", s);
        k->ref_ = reference_kernels().make_conv(d, w, b);
        k->route_ = ConvBackward::kReference;
    }
    return k;
}

// A layer this set hands to a kernel of ours.
class HandedOverConv final : public ConvKernel {
public:
    explicit HandedOverConv(std::unique_ptr<ConvKernel> k) : k_(std::move(k)) {}
    void forward(const float* in, float* out, int batch) override {
        park_workers_before_our_kernel();
        k_->forward(in, out, batch);
    }
    void forward_tape(const float* in, float* out, int batch) override {
        park_workers_before_our_kernel();
        k_->forward_tape(in, out, batch);
    }
    void forward_uniform(const float* in, float* out, int batch) override {
        park_workers_before_our_kernel();
        k_->forward_uniform(in, out, batch);
    }
    void forward_float_tape(const float* in, float* out, int batch) override {
        park_workers_before_our_kernel();
        k_->forward_float_tape(in, out, batch);
    }
    void backward_input(const float* gp, float* gin, int batch, bool accumulate) override {
        park_workers_before_our_kernel();
        k_->backward_input(gp, gin, batch, accumulate);
    }

private:
    std::unique_ptr<ConvKernel> k_;
};

std::unique_ptr<ConvKernel> make_conv(const ConvDesc& d, const float* w, const float* b) {
    CNNLENS_ASSERT(d.groups >= 1 && d.in_c % d.groups == 0 && d.out_c % d.groups == 0);
#ifdef CNNLENS_HAVE_SIMD
    // Layers where our AVX-512 kernels beat XNNPACK's, forward and VJP, measured side by side on
    // the default model (docs/performance.md, "The AVX-512 hand-over"): 3x3 layers as Winograd
    // and 1x1 layers. XNNPACK keeps the depthwise layers and narrow outputs.
    if (simd_avx512_beats_xnnpack(d))
        return std::make_unique<HandedOverConv>(simd_kernels().make_conv(d, w, b));
#endif
    if (!runtime().ok) return reference_kernels().make_conv(d, w, b);
    return XnnConv::make(d, w, b);
}

class XnnPool final : public PoolKernel {
public:
    XnnPool(const PoolDesc& d, Op fwd, std::unique_ptr<PoolKernel> fwd_fallback)
        : PoolKernel(d), d_(d), fwd_(std::move(fwd)), fwd_fallback_(std::move(fwd_fallback)) {}

    void forward(const float* in, float* out, int batch) override {
        if (batch <= 0) return;
        if (!fwd_) return fwd_fallback_->forward(in, out, batch);
        if (setup_.needs_setup(batch, in, out)) {
            const xnn_status s = d_.kind == PoolKind::kMax
                                     ? xnn_setup_max_pooling2d_nhwc_f32(fwd_.get(), batch, d_.in_h,
                                                                        d_.in_w, in, out, pool())
                                     : xnn_setup_average_pooling2d_nhwc_f32(
                                           fwd_.get(), batch, d_.in_h, d_.in_w, in, out, pool());
            check(s, "xnn_setup_*_pooling2d_nhwc_f32");
        }
        check(xnn_run_operator(fwd_.get(), pool()), "xnn_run_operator (pooling)");
    }

    // XNNPACK's argmax pooling has no stride (windows tile the input), so the gradient comes
    // from the simd set's pooling (vectorised over channels, same tie rule), or from
    // `reference` in builds without it.
    void backward_input(const float* in, const float* gout, float* gin, int batch,
                        bool accumulate) override {
        park_workers_before_our_kernel();
        bwd_->backward_input(in, gout, gin, batch, accumulate);
    }
    // XNNPACK's pooling has no argmax output (its argmax pooling needs windows that tile the
    // input): the simd set's fused loop, about as fast as XNNPACK's max pooling alone.
    void forward_argmax(const float* in, float* out, int32_t* argmax, int batch) override {
        park_workers_before_our_kernel();
        bwd_->forward_argmax(in, out, argmax, batch);
    }
    void backward_argmax(const int32_t* argmax, const float* gout, float* gin, int batch,
                         bool accumulate) override {
        park_workers_before_our_kernel();
        bwd_->backward_argmax(argmax, gout, gin, batch, accumulate);
    }

private:
    PoolDesc d_;
    Op fwd_;
    std::unique_ptr<PoolKernel> fwd_fallback_;
    SetupCache setup_;
    std::unique_ptr<PoolKernel> bwd_ = backward_pool(d_);

    static std::unique_ptr<PoolKernel> backward_pool(const PoolDesc& d) {
#ifdef CNNLENS_HAVE_SIMD
        return simd_kernels().make_pool(d);
#else
        return reference_kernels().make_pool(d);
#endif
    }
};

std::unique_ptr<PoolKernel> make_pool(const PoolDesc& d) {
    if (!runtime().ok) return reference_kernels().make_pool(d);
    const float inf = std::numeric_limits<float>::infinity();
    xnn_operator_t op = nullptr;
    // XNNPACK rejects 1x1 windows (they are a strided copy); the reference forward serves them.
    xnn_status s = xnn_status_unsupported_parameter;
    if (d.kind == PoolKind::kAvg && d.is_dilated()) return reference_kernels().make_pool(d);
    if (d.kernel_h * d.kernel_w > 1) {
        s = d.kind == PoolKind::kMax
                ? xnn_create_max_pooling2d_nhwc_f32(
                      d.pad_top, d.pad_right, d.pad_bottom, d.pad_left, d.kernel_h, d.kernel_w,
                      d.stride_h, d.stride_w, d.dilation_h, d.dilation_w, d.channels, d.channels,
                      d.channels, -inf, inf, 0, &op)
                : xnn_create_average_pooling2d_nhwc_f32(d.pad_top, d.pad_right, d.pad_bottom,
                                                        d.pad_left, d.kernel_h, d.kernel_w,
                                                        d.stride_h, d.stride_w, d.channels,
                                                        d.channels, d.channels, -inf, inf, 0, &op);
        if (s != xnn_status_success) {
            warn_fallback(std::string(d.kind == PoolKind::kMax ? "MaxPool " : "AvgPool ") +
                              std::to_string(d.kernel_h) + "x" + std::to_string(d.kernel_w) +
                              " forward",
                          s);
            op = nullptr;
        }
    }
    return std::make_unique<XnnPool>(d, Op(op), op ? nullptr : reference_kernels().make_pool(d));
}

class XnnDense final : public DenseKernel {
public:
    XnnDense(const DenseDesc& d, Op fwd, Op bwd)
        : d_(d), fwd_(std::move(fwd)), bwd_(std::move(bwd)) {}

    void forward(const float* in, float* out, int batch) override {
        if (batch <= 0) return;
        if (fwd_setup_.needs_setup(batch, in, out))
            check(xnn_setup_fully_connected_nc_f32(fwd_.get(), batch, in, out, pool()),
                  "xnn_setup_fully_connected_nc_f32");
        check(xnn_run_operator(fwd_.get(), pool()), "xnn_run_operator (fully connected)");
        if (fused_clamp(d_.activation).post)
            apply_activation(d_.activation, d_.alpha, out, int64_t{batch} * d_.out_features);
    }

    void backward_input(const float* gp, float* gin, int batch, bool accumulate) override {
        if (batch <= 0) return;
        const int64_t n = int64_t{batch} * d_.in_features;
        float* dst = accumulate ? scratch(scratch_, n) : gin;
        if (bwd_setup_.needs_setup(batch, gp, dst))
            check(xnn_setup_fully_connected_nc_f32(bwd_.get(), batch, gp, dst, pool()),
                  "xnn_setup_fully_connected_nc_f32");
        check(xnn_run_operator(bwd_.get(), pool()), "xnn_run_operator (fully connected)");
        if (accumulate) add_into(gin, dst, n);
    }

private:
    DenseDesc d_;
    Op fwd_, bwd_;
    SetupCache fwd_setup_, bwd_setup_;
    memory::CountedVector<float> scratch_;
};

std::unique_ptr<DenseKernel> make_dense(const DenseDesc& d, const float* w, const float* b) {
    if (!runtime().ok) return reference_kernels().make_dense(d, w, b);
    const Clamp clamp = fused_clamp(d.activation);
    const float inf = std::numeric_limits<float>::infinity();
    // Ours are [in][out]: the forward reads them transposed, and as [out'][in'] with in' = out
    // they are exactly the weights of the backward product grad_pre x weights^T.
    xnn_operator_t fwd = nullptr, bwd = nullptr;
    xnn_status s = xnn_create_fully_connected_nc_f32(d.in_features, d.out_features, d.in_features,
                                                     d.out_features, w, b, clamp.lo, clamp.hi,
                                                     XNN_FLAG_TRANSPOSE_WEIGHTS, &fwd);
    if (s == xnn_status_success) {
        s = xnn_create_fully_connected_nc_f32(d.out_features, d.in_features, d.out_features,
                                              d.in_features, w, nullptr, -inf, inf, 0, &bwd);
        if (s != xnn_status_success) xnn_delete_operator(fwd);
    }
    if (s != xnn_status_success) {
        warn_fallback("Dense " + std::to_string(d.in_features) + "->" +
                          std::to_string(d.out_features) + ": xnn_create_fully_connected_nc_f32",
                      s);
        return reference_kernels().make_dense(d, w, b);
    }
    return std::make_unique<XnnDense>(d, Op(fwd), Op(bwd));
}

}  // namespace

const KernelSet& xnnpack_kernels() {
    static const KernelSet set{"xnnpack", make_conv, make_pool, make_dense, sigmoid};
    return set;
}

void set_xnnpack_threads(int threads) {
    CNNLENS_ASSERT(threads >= 1);
    Runtime& rt = runtime();
    if (!rt.ok) return;
    pthreadpool_destroy(rt.pool);
    rt.pool = pthreadpool_create(static_cast<size_t>(threads));
    CNNLENS_ASSERT(rt.pool != nullptr);
    ++rt.generation;
}

void park_xnnpack_threads() {
    const Runtime& rt = runtime();
    if (!rt.ok || in_parallel_region()) return;
    const size_t n = pthreadpool_get_threads_count(rt.pool);
    if (n < 2) return;
    // pthreadpool runs ranges below 2 inline, so the empty task spans every thread; the flag
    // makes the workers wait in the kernel once it is done.
    pthreadpool_parallelize_1d(
        rt.pool, [](void*, size_t) {}, nullptr, n, PTHREADPOOL_FLAG_YIELD_WORKERS);
}

int xnnpack_threads() {
    const Runtime& rt = runtime();
    return rt.ok ? static_cast<int>(pthreadpool_get_threads_count(rt.pool)) : 1;
}

}  // namespace cnnlens
