// Activation helpers shared by every kernel set, and the registry of compiled sets.
#include "core/kernels/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#if defined(__wasm_simd128__)
#include "core/kernels/sigmoid_simd128.h"
#endif
#include <vector>

#include "core/base/assert.h"
#include "core/base/thread_pool.h"
#ifdef CNNLENS_HAVE_XNNPACK
#include "core/kernels/xnnpack/xnnpack.h"
#endif

namespace cnnlens {

#ifdef CNNLENS_HAVE_XNNPACK
const KernelSet& xnnpack_kernels();
#endif
#ifdef CNNLENS_HAVE_SIMD
const KernelSet& simd_kernels();
const KernelSet* simd_fallback_kernels();
#endif

std::string_view activation_name(Activation a) {
    switch (a) {
        case Activation::kNone:
            return "none";
        case Activation::kRelu:
            return "Relu";
        case Activation::kRelu6:
            return "Relu6";
        case Activation::kElu:
            return "Elu";
        case Activation::kLeakyRelu:
            return "LeakyRelu";
        case Activation::kSigmoid:
            return "Sigmoid";
        case Activation::kTanh:
            return "Tanh";
    }
    return "?";
}

// sigmoid(x) = 1 / (1 + e^-x) with x clamped to [-87.5, 87.5] (e^87.5 is below the largest
// float, and sigmoid(-87.5) below the smallest normal one): -x = k ln 2 + r with |r| <= ln 2 / 2
// (ln 2 in two parts, so k ln 2 is exact), e^r by its Taylor series to r^7 (truncation below
// 6e-9 relative, under half an ulp; written in powers of -r, whose signs alternate), 2^k from
// the exponent bits. Within 2 ulp where the result is a normal float, and the clamp keeps a NaN
// (as f32x4.pmin and pmax do). One formula for either sign: no |x|, no select between e / (1 + e)
// and 1 / (1 + e). Written without branches or calls so that the loops below vectorize (SSE2
// natively, SIMD128 in wasm): std::exp, a call per element, was the whole cost of a Sigmoid
// layer. GCC if-converts the selects only when it may assume no code reads floating-point
// exception flags (none here does); clang vectorizes them as they are. Natively (GCC, x86-64)
// the loops are also compiled for AVX2 and AVX-512 and picked at load time (target_clones): this
// file is built for baseline x86-64, whose 4-wide SSE2 loop made a Sigmoid layer 40 % of
// efficientnet_b0's forward pass. No clone contracts a multiply and an add into an FMA, so every
// clone gives the SSE2 loop's bits.
#if defined(__GNUC__) && !defined(__clang__)
#define CNNLENS_VECTORIZE_SELECTS [[gnu::optimize("no-trapping-math", "fp-contract=off")]]
#else
#define CNNLENS_VECTORIZE_SELECTS
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CNNLENS_WIDE_CLONES [[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")]]
#else
#define CNNLENS_WIDE_CLONES
#endif
CNNLENS_VECTORIZE_SELECTS static inline float sigmoid_one(float x) {
    constexpr float kClamp = 87.5f, kLog2e = 1.44269504088896341f, kLn2Hi = 0.693145751953125f,
                    kLn2Lo = 1.42860682030941723e-6f, kRound = 12582912.f;  // 1.5 * 2^23
    float xc = x < -kClamp ? -kClamp : x;
    xc = kClamp < xc ? kClamp : xc;
    const float t = xc * -kLog2e + kRound;  // round to nearest: k sits in t's low mantissa bits
    const float k = t - kRound;
    int32_t ti;
    std::memcpy(&ti, &t, 4);
    const float r = (xc + k * kLn2Hi) + k * kLn2Lo;  // -r, in fact: x + k ln 2
    float p = -1.f / 5040.f;
    p = p * r + 1.f / 720.f;
    p = p * r + -1.f / 120.f;
    p = p * r + 1.f / 24.f;
    p = p * r + -1.f / 6.f;
    p = p * r + 0.5f;
    p = p * r + -1.f;
    p = p * r + 1.f;
    const int32_t bits = (ti - 0x4B400000 + 127) << 23;  // 2^k, k in [-126, 126]
    float scale;
    std::memcpy(&scale, &bits, 4);
    return 1.f / (1.f + p * scale);
}

#if defined(__wasm_simd128__)
// The loop below by hand in SIMD128 (sigmoid4_by_16). The same operations in the same order, so
// the same bits (KernelSetTest.SigmoidIsWithinTwoUlpWhereverItSits compares runs that end in the
// scalar tail with the vector loop's).
namespace {
constexpr auto mul_add = [](v128_t a, v128_t b, v128_t c) {
    return wasm_f32x4_add(wasm_f32x4_mul(a, b), c);
};
}  // namespace
#endif

CNNLENS_WIDE_CLONES CNNLENS_VECTORIZE_SELECTS void sigmoid(const float* x, float* y, int64_t n) {
    int64_t i = 0;
#if defined(__wasm_simd128__)
    i = sigmoid4_by_16(x, y, n, mul_add);
#endif
    for (; i < n; ++i) y[i] = sigmoid_one(x[i]);
}

static void activation_range(Activation a, float alpha, const float* s, float* d, int64_t n) {
    switch (a) {
        case Activation::kNone:
            if (s != d) std::copy(s, s + n, d);
            return;
        case Activation::kRelu:
            for (int64_t i = 0; i < n; ++i) d[i] = s[i] > 0.f ? s[i] : 0.f;
            return;
        case Activation::kRelu6:
            for (int64_t i = 0; i < n; ++i) d[i] = std::min(std::max(s[i], 0.f), 6.f);
            return;
        case Activation::kElu:
            for (int64_t i = 0; i < n; ++i) d[i] = s[i] > 0.f ? s[i] : std::expm1(s[i]);
            return;
        case Activation::kLeakyRelu:
            for (int64_t i = 0; i < n; ++i) d[i] = s[i] > 0.f ? s[i] : alpha * s[i];
            return;
        case Activation::kSigmoid:
            sigmoid(s, d, n);
            return;
        case Activation::kTanh:
            for (int64_t i = 0; i < n; ++i) d[i] = std::tanh(s[i]);
            return;
    }
}

void apply_activation(Activation a, float alpha, const float* src, float* dst, int64_t n) {
    // Element-wise: split across the pool at batch 1 (one range, inline, inside a kernel's loop).
    parallel_for(n, int64_t{1} << 14, [&](int64_t b, int64_t e, int) {
        activation_range(a, alpha, src + b, dst + b, e - b);
    });
}

void apply_activation(Activation a, float alpha, float* d, int64_t n) {
    if (a != Activation::kNone) apply_activation(a, alpha, d, d, n);
}

namespace {
std::vector<const KernelSet*> build_list() {
    std::vector<const KernelSet*> v;
#ifdef CNNLENS_HAVE_SIMD
    // With AVX-512 the simd set is the best: as fast as the xnnpack set on one thread (which
    // hands it its 3x3 and 1x1 layers anyway) and faster on two, where the xnnpack set's layers
    // alternate between XNNPACK's thread pool and ours. So is the relaxed-SIMD copy in wasm.
    const KernelSet* fallback = simd_fallback_kernels();
    if (fallback) v.push_back(&simd_kernels());
#endif
#ifdef CNNLENS_HAVE_XNNPACK
    v.push_back(&xnnpack_kernels());
#endif
#ifdef CNNLENS_HAVE_SIMD
    if (fallback)
        v.push_back(fallback);
    else
        v.push_back(&simd_kernels());
#endif
    v.push_back(&reference_kernels());
    return v;
}
}  // namespace

std::span<const KernelSet* const> compiled_kernel_sets() {
    static const std::vector<const KernelSet*> list = build_list();
    return list;
}

const KernelSet* find_kernel_set(std::string_view name) {
    for (const KernelSet* k : compiled_kernel_sets())
        if (k->name == name) return k;
    return nullptr;
}

const KernelSet* select_kernel_set(std::string_view requested) {
    if (requested.empty()) {
        const char* env = std::getenv("CNNLENS_KERNELS");
        if (env && *env) requested = env;
    }
    if (requested.empty()) return compiled_kernel_sets().front();
    return find_kernel_set(requested);
}

std::string kernel_set_names() {
    std::string s;
    for (const KernelSet* k : compiled_kernel_sets()) {
        if (!s.empty()) s += ", ";
        s += k->name;
    }
    return s;
}

void PoolKernel::forward_argmax(const float* in, float* out, int32_t* argmax, int batch) {
    const PoolDesc& d = desc_;
    CNNLENS_ASSERT(d.kind == PoolKind::kMax);
    forward(in, out, batch);
    // The backward rule: the first input of the window in row-major order that no later one
    // exceeds (the first in-bounds one when the maximum is NaN).
    const int64_t in_image = int64_t{d.in_h} * d.in_w * d.channels;
    for (int n = 0; n < batch; ++n)
        for (int oy = 0; oy < d.out_h; ++oy)
            for (int ox = 0; ox < d.out_w; ++ox) {
                int32_t* arg = argmax + ((int64_t{n} * d.out_h + oy) * d.out_w + ox) * d.channels;
                const float* image = in + n * in_image;
                for (int c = 0; c < d.channels; ++c) {
                    int32_t at = -1;
                    float best = 0.f;
                    for (int ky = 0; ky < d.kernel_h; ++ky)
                        for (int kx = 0; kx < d.kernel_w; ++kx) {
                            const int iy = oy * d.stride_h - d.pad_top + ky * d.dilation_h,
                                      ix = ox * d.stride_w - d.pad_left + kx * d.dilation_w;
                            if (iy < 0 || iy >= d.in_h || ix < 0 || ix >= d.in_w) continue;
                            const float v = image[(int64_t{iy} * d.in_w + ix) * d.channels + c];
                            if (at < 0 || v > best) best = v, at = ky * d.kernel_w + kx;
                        }
                    arg[c] = at;
                }
            }
}

void PoolKernel::backward_argmax(const int32_t* argmax, const float* gout, float* gin, int batch,
                                 bool accumulate) {
    const PoolDesc& d = desc_;
    const int C = d.channels, kk = d.kernel_h * d.kernel_w;
    const int64_t in_image = int64_t{d.in_h} * d.in_w * C;
    if (!accumulate) std::memset(gin, 0, sizeof(float) * static_cast<size_t>(batch * in_image));
    std::vector<int64_t> offset(
        static_cast<size_t>(kk));  // per window position: input pixel, or -1
    for (int n = 0; n < batch; ++n)
        for (int oy = 0; oy < d.out_h; ++oy)
            for (int ox = 0; ox < d.out_w; ++ox) {
                for (int k = 0; k < kk; ++k) {
                    const int iy = oy * d.stride_h - d.pad_top + k / d.kernel_w * d.dilation_h,
                              ix = ox * d.stride_w - d.pad_left + k % d.kernel_w * d.dilation_w;
                    const bool inside = iy >= 0 && iy < d.in_h && ix >= 0 && ix < d.in_w;
                    offset[static_cast<size_t>(k)] =
                        inside ? n * in_image + (int64_t{iy} * d.in_w + ix) * C : -1;
                }
                const int64_t o = ((int64_t{n} * d.out_h + oy) * d.out_w + ox) * C;
                for (int c = 0; c < C; ++c) {
                    const int32_t k = argmax[o + c];
                    if (k >= 0 && k < kk && offset[static_cast<size_t>(k)] >= 0)
                        gin[offset[static_cast<size_t>(k)] + c] += gout[o + c];
                }
            }
}

void set_kernel_threads(int n) {
    set_pool_threads(n);
#ifdef CNNLENS_HAVE_XNNPACK
    if (pool_threads() != xnnpack_threads()) set_xnnpack_threads(pool_threads());
#endif
}

int kernel_threads() { return pool_threads(); }

void park_kernel_threads() {
#ifdef CNNLENS_HAVE_XNNPACK
    park_xnnpack_threads();
#endif
}

}  // namespace cnnlens
