#include "core/kernels/simd/roofline.h"

#include <algorithm>
#include <chrono>

#include "core/kernels/simd/simd.h"
#include "core/kernels/simd/vec.h"

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {
namespace {

using V = Vec;

// The inner loop of a GEMM microkernel with everything in L1: per k, one splat load of A per
// row and two vector loads of B, then kRows x 2 multiply-adds into accumulators. This is the
// shape every GEMM-based kernel of the simd set runs, so it is the ceiling they can reach
// (a loop of register-only multiply-adds is higher natively, where FMA has no loads to wait
// for; in wasm V8 compiles this shape at about the register-only rate).
constexpr int kRows = V::kLanes == 16 ? 8 : V::kLanes == 8 ? 6 : 4;
constexpr int kDepth = 256;  // A: 4 KiB, B: 8-16 KiB

// Not inlined: V8 replaces a function by its optimised code between calls, so the timed loop
// must be a function of its own that is called many times.
__attribute__((noinline)) double run(long repeats, const float* a, const float* b) {
    V::T lo[kRows], hi[kRows];
    for (int r = 0; r < kRows; ++r) lo[r] = hi[r] = V::zero();
    for (long it = 0; it < repeats; ++it) {
        const float* pa = a;
        const float* pb = b;
        for (int k = 0; k < kDepth; ++k, pa += kRows, pb += 2 * V::kLanes) {
            const V::T b0 = V::load(pb), b1 = V::load(pb + V::kLanes);
#if defined(__clang__)
#pragma unroll
#elif defined(__GNUC__)
#pragma GCC unroll 8
#endif
            for (int r = 0; r < kRows; ++r) {
                const V::T x = V::load_splat(pa + r);
                lo[r] = V::fma(x, b0, lo[r]);
                hi[r] = V::fma(x, b1, hi[r]);
            }
        }
    }
    V::T sum = V::zero();
    for (int r = 0; r < kRows; ++r) sum = V::add(sum, V::add(lo[r], hi[r]));
    float out[V::kLanes];
    V::store(out, sum);
    double s = 0;
    for (float f : out) s += f;
    return s;
}

}  // namespace

Roofline measure_target_roofline(double ms) {
    Roofline r;
    r.lanes = V::kLanes;
#if defined(__wasm_relaxed_simd__)
    r.isa = "wasm-relaxed-fma";
#elif defined(__wasm_simd128__)
    r.isa = "wasm-simd128";
#elif defined(__AVX512F__) && !defined(CNNLENS_SIMD_FORCE_128) && !defined(CNNLENS_SIMD_SCALAR)
    r.isa = "avx512";
#elif defined(__AVX2__) && defined(__FMA__) && !defined(CNNLENS_SIMD_FORCE_128) && \
    !defined(CNNLENS_SIMD_SCALAR)
    r.isa = "avx2-fma";
#elif defined(__SSE2__) && !defined(CNNLENS_SIMD_SCALAR)
    r.isa = "sse";
#else
    r.isa = "scalar";
#endif
    using Clock = std::chrono::steady_clock;
    static float a[kDepth * kRows], b[kDepth * 2 * V::kLanes];
    for (int i = 0; i < kDepth * kRows; ++i) a[i] = 1e-3f * static_cast<float>(i % 7);
    for (int i = 0; i < kDepth * 2 * V::kLanes; ++i) b[i] = 1e-3f * static_cast<float>(i % 5);
    // Many short calls rather than one long one: V8 first runs wasm from its baseline compiler
    // and swaps in optimised code between calls, never inside a running one; a warm-up of tiny
    // calls gets the optimised code in place first.
    constexpr long kRepeats = 16;
    volatile double sink = 0;
    for (int i = 0; i < 20000; ++i) sink = sink + run(1, a, b);
    long calls = 16;
    double best = 0;
    const auto end = Clock::now() + std::chrono::duration<double, std::milli>(ms);
    while (Clock::now() < end) {
        const auto t0 = Clock::now();
        for (long c = 0; c < calls; ++c) sink = sink + run(kRepeats, a, b);
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        if (s < 2e-3) {
            calls *= 2;
            continue;
        }  // too short to time well
        const double flops =
            2.0 * kRows * 2 * V::kLanes * kDepth * static_cast<double>(kRepeats * calls);
        best = std::max(best, flops / s / 1e9);
    }
    r.gflops = best;
    return r;
}

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET

#ifdef CNNLENS_SIMD_BASE_TARGET
namespace cnnlens {

bool simd_uses_avx512();
#ifdef CNNLENS_HAVE_SIMD_AVX512
namespace simd::avx512 {
Roofline measure_target_roofline(double ms);
}
#endif

Roofline measure_roofline(double ms) {
    if (const SimdCopy* relaxed = simd_relaxed_copy()) return relaxed->roofline(ms);
#ifdef CNNLENS_HAVE_SIMD_AVX512
    if (simd_uses_avx512()) return simd::avx512::measure_target_roofline(ms);
#endif
    return simd::base::measure_target_roofline(ms);
}

}  // namespace cnnlens
#endif
