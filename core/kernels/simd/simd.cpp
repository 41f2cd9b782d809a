// The `simd` kernel set: picks the depthwise, Winograd or GEMM convolution once per node, and
// the helpers the kernel files share; compiled once per target (see vec.h). The base target's
// copy also holds the dispatch: which target the CPU runs, and what the xnnpack set hands over.
#include "core/kernels/simd/simd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>
#if defined(__wasm_relaxed_simd__)
#include "core/kernels/sigmoid_simd128.h"
#endif

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {

AxisTaps AxisTaps::fwd(int out, int in, int kernel, int stride, int dilation, int pad) {
    AxisTaps a;
    a.start.push_back(0);
    for (int o = 0; o < out; ++o) {
        for (int k = 0; k < kernel; ++k) {
            const int i = o * stride - pad + k * dilation;
            if (i >= 0 && i < in) a.k.push_back(k), a.at.push_back(i);
        }
        a.start.push_back(static_cast<int>(a.k.size()));
    }
    a.find_shifts();
    return a;
}

bool flipped_transpose(const ConvDesc& d, const float* w, ConvDesc& bd, AlignedFloats* bw) {
    const int ph = (d.kernel_h - 1) * d.dilation_h, pw = (d.kernel_w - 1) * d.dilation_w;
    if (d.stride_h != 1 || d.stride_w != 1 || d.groups != 1 || d.pad_top > ph ||
        d.pad_bottom > ph || d.pad_left > pw || d.pad_right > pw)
        return false;
    bd = ConvDesc();
    bd.in_h = d.out_h;
    bd.in_w = d.out_w;
    bd.in_c = d.out_c;
    bd.out_h = d.in_h;
    bd.out_w = d.in_w;
    bd.out_c = d.in_c;
    bd.kernel_h = d.kernel_h;
    bd.kernel_w = d.kernel_w;
    bd.dilation_h = d.dilation_h;
    bd.dilation_w = d.dilation_w;
    bd.pad_top = ph - d.pad_top;
    bd.pad_bottom = ph - d.pad_bottom;
    bd.pad_left = pw - d.pad_left;
    bd.pad_right = pw - d.pad_right;
    if (bd.in_h + bd.pad_top + bd.pad_bottom - ph != bd.out_h ||
        bd.in_w + bd.pad_left + bd.pad_right - pw != bd.out_w)
        return false;
    if (!bw) return true;
    const int taps = d.kernel_h * d.kernel_w;
    bw->resize(static_cast<size_t>(taps) * d.in_c * d.out_c);
    for (int k = 0; k < taps; ++k)
        for (int ci = 0; ci < d.in_c; ++ci)
            for (int co = 0; co < d.out_c; ++co)
                (*bw)[(static_cast<size_t>(k) * d.out_c + co) * d.in_c + ci] =
                    w[(static_cast<size_t>(taps - 1 - k) * d.in_c + ci) * d.out_c + co];
    return true;
}

void forward_into(ConvKernel& k, const float* in, float* out, int batch, int64_t n, bool accumulate,
                  AlignedFloats& sum) {
    if (!accumulate) return k.forward_float_tape(in, out, batch);
    if (static_cast<int64_t>(sum.size()) < n) sum.resize(static_cast<size_t>(n));
    k.forward_float_tape(in, sum.data(), batch);
    add_to(out, sum.data(), n);
}

void AxisTaps::find_shifts() {
    const int rows = static_cast<int>(start.size()) - 1;
    shifted.assign(static_cast<size_t>(std::max(rows, 0)), 0);
    step.assign(static_cast<size_t>(std::max(rows, 0)), 0);
    for (int o = 1; o < rows; ++o) {
        const int n = end(o) - begin(o);
        if (n == 0 || n != end(o - 1) - begin(o - 1)) continue;
        const int d = at[begin(o)] - at[begin(o - 1)];
        bool same = true;
        for (int i = 0; i < n && same; ++i)
            same = k[begin(o) + i] == k[begin(o - 1) + i] &&
                   at[begin(o) + i] - at[begin(o - 1) + i] == d;
        shifted[o] = same;
        step[o] = d;
    }
}

AxisTaps AxisTaps::bwd(int out, int in, int kernel, int stride, int dilation, int pad) {
    AxisTaps a;
    a.start.push_back(0);
    for (int i = 0; i < in; ++i) {
        for (int k = 0; k < kernel; ++k) {
            const int t = i + pad - k * dilation;
            if (t >= 0 && t % stride == 0 && t / stride < out)
                a.k.push_back(k), a.at.push_back(t / stride);
        }
        a.start.push_back(static_cast<int>(a.k.size()));
    }
    a.find_shifts();
    return a;
}

namespace {

#if defined(__wasm_relaxed_simd__)
// cnnlens::sigmoid (core/kernels/kernels.cpp) with its multiply-adds as relaxed_madd: the range
// reduction and the polynomial's seven steps take one instruction each instead of two, where
// efficientnet_b0's Silu layers were 30 % of its wasm forward pass. A tail shorter than a vector
// goes through the same vector code (padded), so an element's result never depends on where it
// sits, whatever the engine makes of relaxed_madd (fused or not).
constexpr auto relaxed_madd = [](v128_t a, v128_t b, v128_t c) { return Vec::fma(a, b, c); };

void sigmoid_fma(const float* x, float* y, int64_t n) {
    int64_t i = sigmoid4_by_16(x, y, n, relaxed_madd);
    for (; i < n; i += 4) {
        const size_t m = static_cast<size_t>(std::min<int64_t>(4, n - i));
        float in[4] = {}, out[4];
        std::memcpy(in, x + i, m * sizeof(float));
        wasm_v128_store(out, sigmoid4(wasm_v128_load(in), relaxed_madd));
        std::memcpy(y + i, out, m * sizeof(float));
    }
}
#endif

#if defined(__x86_64__) && defined(__FMA__)
// cnnlens::sigmoid (core/kernels/kernels.cpp) compiled with FMA contraction, vectorised at this
// copy's width (AVX2 or AVX-512): the range reduction and the polynomial's seven steps take one
// instruction each instead of two. The vector loop and its scalar tail contract alike (each step
// is one fused multiply-add either way), so an element's bits do not depend on its place; the
// test of every set's sigmoid checks that. The other sets keep the uncontracted bits. A copy of
// the loop, not a shared inline function: GCC sets contraction per function (optimize
// attribute) and does not inline a function into one whose options differ, which would leave
// the loop unvectorised.
#if defined(__GNUC__) && !defined(__clang__)
#define CNNLENS_CONTRACTED [[gnu::optimize("no-trapping-math", "fp-contract=fast")]]
#else
#define CNNLENS_CONTRACTED
#endif
CNNLENS_CONTRACTED void sigmoid_fma(const float* x, float* y, int64_t n) {
    constexpr float kClamp = 87.5f, kLog2e = 1.44269504088896341f, kLn2Hi = 0.693145751953125f,
                    kLn2Lo = 1.42860682030941723e-6f, kRound = 12582912.f;
    for (int64_t i = 0; i < n; ++i) {
        float xc = x[i] < -kClamp ? -kClamp : x[i];
        xc = kClamp < xc ? kClamp : xc;
        const float t = xc * -kLog2e + kRound;
        const float k = t - kRound;
        int32_t ti;
        std::memcpy(&ti, &t, 4);
        const float r = (xc + k * kLn2Hi) + k * kLn2Lo;
        float p = -1.f / 5040.f;
        p = p * r + 1.f / 720.f;
        p = p * r + -1.f / 120.f;
        p = p * r + 1.f / 24.f;
        p = p * r + -1.f / 6.f;
        p = p * r + 0.5f;
        p = p * r + -1.f;
        p = p * r + 1.f;
        const int32_t bits = (ti - 0x4B400000 + 127) << 23;
        float scale;
        std::memcpy(&scale, &bits, 4);
        y[i] = 1.f / (1.f + p * scale);
    }
}
#define CNNLENS_SET_SIGMOID sigmoid_fma
#elif !defined(__wasm_relaxed_simd__)
#define CNNLENS_SET_SIGMOID cnnlens::sigmoid
#endif

std::unique_ptr<ConvKernel> make_conv(const ConvDesc& d, const float* weights, const float* bias) {
    if (d.is_depthwise()) return make_depthwise_conv(d, weights, bias);
    if (winograd_enabled() && winograd_applies(d)) return make_winograd_conv(d, weights, bias);
    return make_gemm_conv(d, weights, bias);
}

}  // namespace

const KernelSet& kernel_set() {
#if defined(__wasm_relaxed_simd__)
    static const KernelSet set{"simd-fma", make_conv, make_pool, make_dense, sigmoid_fma};
#else
    static const KernelSet set{"simd", make_conv, make_pool, make_dense, CNNLENS_SET_SIGMOID};
#endif
    return set;
}

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET

#if defined(__wasm_relaxed_simd__) && !defined(CNNLENS_SIMD_BASE_TARGET)
// The relaxed-SIMD copy announces itself to the base target's dispatch (see simd.h).
namespace cnnlens {
const SimdCopy* simd_relaxed_copy() {
    static const SimdCopy copy{simd::CNNLENS_SIMD_TARGET::kernel_set,
                               simd::CNNLENS_SIMD_TARGET::measure_target_roofline};
    return &copy;
}
}  // namespace cnnlens
#endif

#ifdef CNNLENS_SIMD_BASE_TARGET
// The dispatch between targets, compiled once (with the base target).
namespace cnnlens {

bool winograd_enabled() {
    static const bool on = [] {
        const char* e = std::getenv("CNNLENS_WINOGRAD");
        return !(e && std::string_view(e) == "0");
    }();
    return on;
}

#ifdef CNNLENS_HAVE_SIMD_AVX512
namespace simd::avx512 {
const KernelSet& kernel_set();
bool winograd_applies(const ConvDesc& d);
std::unique_ptr<ConvKernel> make_gemm_conv(const ConvDesc& d, const float* weights,
                                           const float* bias, bool with_backward);
}

// True when the CPU runs the avx512 copy and CNNLENS_SIMD does not ask for the base one
// (CNNLENS_SIMD=avx2, for side-by-side timing).
bool simd_uses_avx512() {
    static const bool use = [] {
        const char* e = std::getenv("CNNLENS_SIMD");
        if (e && std::string_view(e) == "avx2") return false;
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
    }();
    return use;
}
#else
bool simd_uses_avx512() { return false; }
#endif

__attribute__((weak)) const SimdCopy* simd_relaxed_copy() { return nullptr; }

const KernelSet& simd_kernels() {
    if (const SimdCopy* relaxed = simd_relaxed_copy()) return relaxed->kernel_set();
#ifdef CNNLENS_HAVE_SIMD_AVX512
    if (simd_uses_avx512()) return simd::avx512::kernel_set();
#endif
    return simd::base::kernel_set();
}

bool simd_avx512_beats_xnnpack(const ConvDesc& d) {
#ifdef CNNLENS_HAVE_SIMD_AVX512
    if (!simd_uses_avx512()) return false;
    if (winograd_enabled() && simd::avx512::winograd_applies(d)) return true;
    // 1x1 kernels with whole 8x32 tiles: a plain GEMM (strided ones gather their rows).
    return d.groups == 1 && d.kernel_h == 1 && d.kernel_w == 1 && d.in_c >= 16 && d.out_c % 32 == 0;
#else
    (void)d;
    return false;
#endif
}

std::unique_ptr<ConvKernel> simd_gemm_forward_conv(const ConvDesc& d, const float* weights,
                                                   const float* bias) {
#ifdef CNNLENS_HAVE_SIMD_AVX512
    if (simd_uses_avx512()) return simd::avx512::make_gemm_conv(d, weights, bias, false);
#endif
    return simd::base::make_gemm_conv(d, weights, bias, false);
}

const KernelSet* simd_fallback_kernels() {
    if (simd_relaxed_copy()) return &simd::base::kernel_set();
    if (!simd_uses_avx512()) return nullptr;
    static const KernelSet set = [] {
        KernelSet s = simd::base::kernel_set();
        s.name = "simd-avx2";
        return s;
    }();
    return &set;
}

}  // namespace cnnlens
#endif
