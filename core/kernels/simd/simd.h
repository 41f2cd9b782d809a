// The `simd` kernel set: our own SIMD kernels (wasm SIMD128 in the browser, AVX2 and AVX-512
// natively), written once over core/kernels/simd/vec.h. We write them ourselves because XNNPACK
// cannot be built for WebAssembly here, and the browser is where the engine runs.
//
// Internal header shared by the files of this folder; everything outside uses simd_kernels().
// What each file does:
//   gemm.cpp       packed-weight GEMM with row-pointer (indirect) A: the workhorse
//   conv.cpp       convolutions with groups == 1 and grouped ones that are not depthwise:
//                  forward as an indirect GEMM (no im2col), backward as GEMM + col2im
//                  (or straight into grad_in for 1x1 kernels)
//   depthwise.cpp  depthwise convolution (any kernel, stride, dilation, multiplier) in NHWC,
//                  vectorised across channels, forward and backward as gathers
//   pool.cpp       max and average pooling, vectorised across channels
//   dense.cpp      fully connected layers (GEMM)
//   simd.cpp       the KernelSet and the choice between conv.cpp and depthwise.cpp
#pragma once
#include <memory>
#include <vector>

#include "core/kernels/kernels.h"
#include "core/kernels/simd/roofline.h"
#include "core/kernels/simd/vec.h"

namespace cnnlens {

// The simd set of the widest target the CPU runs (see vec.h); simd_fallback_kernels() is the
// base target's set when simd_kernels() is another one (so tests and benchmarks reach both),
// else null: named "simd-avx2" beside the AVX-512 copy, "simd" beside the relaxed-SIMD copy
// ("simd-fma").
const KernelSet& simd_kernels();
const KernelSet* simd_fallback_kernels();
// The relaxed-SIMD copy (wasm, see vec.h) as the dispatch reaches it: its set and its roofline
// probe. Null unless the module links the copy: simd.cpp's base target defines this weakly as
// null, and the copy's own definition replaces that one at link time.
struct SimdCopy {
    const KernelSet& (*kernel_set)();
    Roofline (*roofline)(double ms);
};
const SimdCopy* simd_relaxed_copy();
// False when CNNLENS_WINOGRAD=0 (for side-by-side timing): no Winograd convolutions.
bool winograd_enabled();
// True when the simd set runs `d` with AVX-512 faster than XNNPACK does, forward and backward,
// so the xnnpack set hands the layer over: Winograd 3x3 layers (fewer multiply-adds at the same
// vector width) and 1x1 layers with whole 8x32 tiles (10-15 % faster on the default model's).
bool simd_avx512_beats_xnnpack(const ConvDesc& d);
// A forward-only GEMM convolution of simd_kernels()'s target: the xnnpack set's tape pass for
// layers whose dot products are long (see XnnConv::forward_tape).
std::unique_ptr<ConvKernel> simd_gemm_forward_conv(const ConvDesc& d, const float* weights,
                                                   const float* bias);

namespace simd::inline CNNLENS_SIMD_TARGET {

// This target's kernel set, named "simd" ("simd-fma" for the relaxed-SIMD copy).
const KernelSet& kernel_set();
// This target's roofline probe (roofline.cpp; measure_roofline() picks the target).
Roofline measure_target_roofline(double ms);

// with_backward false: a forward-only kernel (backward_input must not be called).
std::unique_ptr<ConvKernel> make_gemm_conv(const ConvDesc& d, const float* weights,
                                           const float* bias, bool with_backward = true);
std::unique_ptr<ConvKernel> make_depthwise_conv(const ConvDesc& d, const float* weights,
                                                const float* bias);
// 3x3 stride-1 dense convolutions with channels in whole vectors (at least 16 in) and a ReLU or
// no activation: per pass, Winograd F(2x2, 3x3) or F(4x4, 3x3), or the GEMM convolution
// (winograd.cpp). winograd_tile(d, batch) is the output tile a pass of `batch` images runs (2
// or 4 on a side), 0 for the GEMM.
bool winograd_applies(const ConvDesc& d);
int winograd_tile(const ConvDesc& d, int batch);
std::unique_ptr<ConvKernel> make_winograd_conv(const ConvDesc& d, const float* weights,
                                               const float* bias);
std::unique_ptr<PoolKernel> make_pool(const PoolDesc& d);
std::unique_ptr<DenseKernel> make_dense(const DenseDesc& d, const float* weights,
                                        const float* bias);

// The input gradient of a stride-1 convolution with one group is a stride-1 convolution of
// grad_pre with the kernel flipped in both axes, input and output channels swapped and padding
// (kernel - 1) * dilation - pad. Fills bd with that convolution (no bias, no activation) and bw
// with its weights (unless bw is null), and returns true, when it applies: stride 1, groups 1,
// pads within the dilated kernel, and shapes that invert (a forward whose floor dropped input
// rows does not).
bool flipped_transpose(const ConvDesc& d, const float* w, ConvDesc& bd, AlignedFloats* bw);

// Activations the kernels apply on vectors in their store; the others (Elu, Sigmoid, Tanh,
// LeakyRelu with a slope outside [0, 1]) go through apply_activation() after the store.
inline bool is_vector_activation(Activation a, float alpha) {
    return a == Activation::kNone || a == Activation::kRelu || a == Activation::kRelu6 ||
           (a == Activation::kLeakyRelu && alpha >= 0.f && alpha <= 1.f);
}
inline Vec::T activate(Activation a, float alpha, Vec::T x) {
    switch (a) {
        case Activation::kRelu:
            return Vec::max(x, Vec::zero());
        case Activation::kRelu6:
            return Vec::min(Vec::max(x, Vec::zero()), Vec::splat(6.f));
        case Activation::kLeakyRelu:
            return Vec::max(x, Vec::mul(x, Vec::splat(alpha)));
        default:
            return x;
    }
}

// For every output coordinate o (along one axis), the kernel taps k that land inside the input
// and the input coordinate i they read: the pairs (k, i) of row o are items[start[o]..start[o+1]).
// fwd:  i = o * stride - pad + k * dilation.  bwd (the transpose): for every input coordinate i,
// the pairs (k, o) with o * stride - pad + k * dilation == i.
// shifted[o] is true when row o has the same taps k as row o - 1, each reading step[o] further
// on (so pointers built for o - 1 move on by one addition instead of being rebuilt).
struct AxisTaps {
    std::vector<int> start;
    std::vector<int> k, at;
    std::vector<char> shifted;
    std::vector<int> step;
    static AxisTaps fwd(int out, int in, int kernel, int stride, int dilation, int pad);
    static AxisTaps bwd(int out, int in, int kernel, int stride, int dilation, int pad);
    int begin(int o) const { return start[o]; }
    int end(int o) const { return start[o + 1]; }

private:
    void find_shifts();
};

// Runs k's forward pass from `in` into `out` (n floats), or adds it to `out` through `sum`
// (scratch) when accumulating: the backward passes that are flipped convolutions use it. It
// runs forward_float_tape, so a backward pass rounds as a tape's pass does (GemmCall's 128-term
// K-blocks on every target).
void forward_into(ConvKernel& k, const float* in, float* out, int batch, int64_t n, bool accumulate,
                  AlignedFloats& sum);

// dst[i] = src[i] for a few floats: vector moves inline, where memcpy of a length known only at
// run time is a call (in wasm, into the module's own memcpy), one per kernel row of an RGB first
// layer's im2col.
inline void copy_short(float* dst, const float* src, int64_t n) {
    constexpr int L = Vec::kLanes;
    int64_t i = 0;
    for (; i + L <= n; i += L) Vec::store(dst + i, Vec::load(src + i));
    for (; i < n; ++i) dst[i] = src[i];
}

// dst[i] += src[i] for n floats.
inline void add_to(float* dst, const float* src, int64_t n) {
    constexpr int L = Vec::kLanes;
    int64_t i = 0;
    for (; i + L <= n; i += L)
        Vec::store(dst + i, Vec::add(Vec::load(dst + i), Vec::load(src + i)));
    for (; i < n; ++i) dst[i] += src[i];
}

}  // namespace simd::inline CNNLENS_SIMD_TARGET
}  // namespace cnnlens
