// The tiny vector abstraction the simd kernels are written over: one struct per instruction set
// (wasm SIMD128, SSE, AVX2+FMA, portable scalar) with the same static functions, and `Vec`, the
// widest one this build can use. Kernels are written once against `Vec`.
//
// Lanes are float32. Loads and stores are unaligned. Semantics every backend keeps exactly:
//   fma(a, b, c) = a * b + c   (fused natively with FMA; in wasm's relaxed-SIMD copy, below,
//                               fused where the CPU has FMA, which relaxed_madd leaves to the
//                               engine; mul then add in plain wasm SIMD128 and in plain SSE)
//   max(a, b)    = a < b ? b : a   (std::max's rule, so max-pooling agrees with `reference`
//   min(a, b)    = b < a ? b : a    bit for bit; wasm's pmax/pmin, x86's maxps/minps)
//   gt(a, b)     = all-ones lanes where a > b;  eq(a, b) where a == b (false for NaN);
//   select(m, a, b) = m ? a : b per lane; store_i32(p, v) stores v truncated to int32;
//   load_i32(p) loads int32 lanes converted to float.
//
// 128-bit is the portable baseline: wasm always uses F32x4. Native x86 builds (CMake adds
// -mavx2 -mfma to this folder) use F32x8; define CNNLENS_SIMD_FORCE_128 to test the 128-bit
// kernels natively, CNNLENS_SIMD_SCALAR to test the portable scalar fallback.
//
// Targets: on x86-64 CMake compiles this folder a second time with AVX-512 flags and
// CNNLENS_SIMD_TARGET=avx512 (F32x16), and the simd set picks that copy at run time when the CPU
// has AVX-512 (simd.cpp). Everything of the folder lives in the inline namespace
// cnnlens::simd::CNNLENS_SIMD_TARGET so the two copies never share a symbol; the first build's
// target is `base`. CMake also makes every symbol of the second copy local except its entry
// points, so no inline function compiled with AVX-512 can stand in for the base copy's.
// In wasm CMake compiles the folder a second time with -mrelaxed-simd and
// CNNLENS_SIMD_TARGET=relaxed: the same kernels with fma as f32x4.relaxed_madd. A module holding
// that instruction fails validation as a whole where relaxed SIMD is missing, so this copy is
// linked only into separate modules (app-mt-fma.js, app-fma.js, cnnlens-fma.js, the FMA test
// suite) that the loader picks when the engine validates the instruction; the base copy stays
// in them as "simd".
#pragma once

#include <cstddef>
#include <new>
#include <vector>

#include "core/base/memory.h"

#ifndef CNNLENS_SIMD_TARGET
#define CNNLENS_SIMD_TARGET base
#define CNNLENS_SIMD_BASE_TARGET 1
#endif

#include <cstdint>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#elif defined(__SSE2__) && !defined(CNNLENS_SIMD_SCALAR)
#include <immintrin.h>
#endif

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {

// Buffers the kernels stream vectors through (packed weights, scratch): 64-byte aligned, so a
// 16-lane load or store stays within one cache line (malloc aligns to 16 bytes; with packed
// weights so placed every multiply-add step of the AVX-512 GEMM loaded across two lines), and
// counted as the engine's memory.
using AlignedFloats = memory::CountedVector<float>;

#if defined(__wasm_simd128__)

struct F32x4 {
    using T = v128_t;
    static constexpr int kLanes = 4;
    static T load(const float* p) { return wasm_v128_load(p); }
    static void store(float* p, T v) { wasm_v128_store(p, v); }
    static T splat(float x) { return wasm_f32x4_splat(x); }
    static T load_splat(const float* p) { return wasm_v128_load32_splat(p); }
    static T zero() { return wasm_f32x4_const_splat(0.f); }
    static T add(T a, T b) { return wasm_f32x4_add(a, b); }
    static T sub(T a, T b) { return wasm_f32x4_sub(a, b); }
    static T mul(T a, T b) { return wasm_f32x4_mul(a, b); }
#if defined(__wasm_relaxed_simd__)
    // Emscripten 3.1.6's clang emits this builtin in the relaxed-SIMD proposal's first encoding
    // (0xfd 0xaf 0x01, computing a * b + c); wasm/relaxed_madd.py rewrites each one to the
    // standard f32x4.relaxed_madd (0xfd 0x85 0x02, same operands) after the link.
    static T fma(T a, T b, T c) { return __builtin_wasm_fma_f32x4(a, b, c); }
#else
    static T fma(T a, T b, T c) { return wasm_f32x4_add(wasm_f32x4_mul(a, b), c); }
#endif
    static T max(T a, T b) { return wasm_f32x4_pmax(a, b); }
    static T min(T a, T b) { return wasm_f32x4_pmin(a, b); }
    static T gt(T a, T b) { return wasm_f32x4_gt(a, b); }
    static T eq(T a, T b) { return wasm_f32x4_eq(a, b); }
    static T select(T m, T a, T b) { return wasm_v128_bitselect(a, b, m); }
    static void store_i32(int32_t* p, T v) { wasm_v128_store(p, wasm_i32x4_trunc_sat_f32x4(v)); }
    static T load_i32(const int32_t* p) { return wasm_f32x4_convert_i32x4(wasm_v128_load(p)); }
};

#elif defined(__SSE2__) && !defined(CNNLENS_SIMD_SCALAR)

struct F32x4 {
    using T = __m128;
    static constexpr int kLanes = 4;
    static T load(const float* p) { return _mm_loadu_ps(p); }
    static void store(float* p, T v) { _mm_storeu_ps(p, v); }
    static T splat(float x) { return _mm_set1_ps(x); }
    static T load_splat(const float* p) { return _mm_set1_ps(*p); }
    static T zero() { return _mm_setzero_ps(); }
    static T add(T a, T b) { return _mm_add_ps(a, b); }
    static T sub(T a, T b) { return _mm_sub_ps(a, b); }
    static T mul(T a, T b) { return _mm_mul_ps(a, b); }
#if defined(__FMA__)
    static T fma(T a, T b, T c) { return _mm_fmadd_ps(a, b, c); }
#else
    static T fma(T a, T b, T c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
#endif
    // maxps(x, y) = x > y ? x : y, so the operands are swapped to get a < b ? b : a.
    static T max(T a, T b) { return _mm_max_ps(b, a); }
    static T min(T a, T b) { return _mm_min_ps(b, a); }
    static T gt(T a, T b) { return _mm_cmpgt_ps(a, b); }
    static T eq(T a, T b) { return _mm_cmpeq_ps(a, b); }
    static T select(T m, T a, T b) { return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)); }
    static void store_i32(int32_t* p, T v) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_cvttps_epi32(v));
    }
    static T load_i32(const int32_t* p) {
        return _mm_cvtepi32_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
};

#else

struct F32x4 {
    struct T {
        float v[4];
    };
    static constexpr int kLanes = 4;
    static T load(const float* p) { return {{p[0], p[1], p[2], p[3]}}; }
    static void store(float* p, T a) {
        for (int i = 0; i < 4; ++i) p[i] = a.v[i];
    }
    static T splat(float x) { return {{x, x, x, x}}; }
    static T load_splat(const float* p) { return splat(*p); }
    static T zero() { return splat(0.f); }
    static T add(T a, T b) {
        for (int i = 0; i < 4; ++i) a.v[i] += b.v[i];
        return a;
    }
    static T sub(T a, T b) {
        for (int i = 0; i < 4; ++i) a.v[i] -= b.v[i];
        return a;
    }
    static T mul(T a, T b) {
        for (int i = 0; i < 4; ++i) a.v[i] *= b.v[i];
        return a;
    }
    static T fma(T a, T b, T c) { return add(mul(a, b), c); }
    static T max(T a, T b) {
        for (int i = 0; i < 4; ++i) a.v[i] = a.v[i] < b.v[i] ? b.v[i] : a.v[i];
        return a;
    }
    static T min(T a, T b) {
        for (int i = 0; i < 4; ++i) a.v[i] = b.v[i] < a.v[i] ? b.v[i] : a.v[i];
        return a;
    }
    static T gt(T a, T b) {
        T m;
        for (int i = 0; i < 4; ++i) m.v[i] = a.v[i] > b.v[i] ? 1.f : 0.f;
        return m;
    }
    static T eq(T a, T b) {
        T m;
        for (int i = 0; i < 4; ++i) m.v[i] = a.v[i] == b.v[i] ? 1.f : 0.f;
        return m;
    }
    static T select(T m, T a, T b) {
        for (int i = 0; i < 4; ++i) a.v[i] = m.v[i] != 0.f ? a.v[i] : b.v[i];
        return a;
    }
    static void store_i32(int32_t* p, T v) {
        for (int i = 0; i < 4; ++i) p[i] = static_cast<int32_t>(v.v[i]);
    }
    static T load_i32(const int32_t* p) {
        return {{static_cast<float>(p[0]), static_cast<float>(p[1]), static_cast<float>(p[2]),
                 static_cast<float>(p[3])}};
    }
};

#endif

#if defined(__AVX2__) && defined(__FMA__) && !defined(CNNLENS_SIMD_SCALAR)

struct F32x8 {
    using T = __m256;
    static constexpr int kLanes = 8;
    static T load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
    static T splat(float x) { return _mm256_set1_ps(x); }
    static T load_splat(const float* p) { return _mm256_broadcast_ss(p); }
    static T zero() { return _mm256_setzero_ps(); }
    static T add(T a, T b) { return _mm256_add_ps(a, b); }
    static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
    static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
    static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
    static T max(T a, T b) { return _mm256_max_ps(b, a); }
    static T min(T a, T b) { return _mm256_min_ps(b, a); }
    static T gt(T a, T b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
    static T eq(T a, T b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
    static T select(T m, T a, T b) { return _mm256_blendv_ps(b, a, m); }
    static void store_i32(int32_t* p, T v) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_cvttps_epi32(v));
    }
    static T load_i32(const int32_t* p) {
        return _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
};

#endif

#if defined(__AVX512F__) && defined(__AVX512DQ__) && !defined(CNNLENS_SIMD_SCALAR)

// AVX-512: comparisons give a lane mask (k register); gt/eq turn it into all-ones lanes so
// masks stay vectors like everywhere else, and select turns it back (both are one instruction).
struct F32x16 {
    using T = __m512;
    static constexpr int kLanes = 16;
    static T load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
    static T splat(float x) { return _mm512_set1_ps(x); }
    static T load_splat(const float* p) { return _mm512_set1_ps(*p); }
    static T zero() { return _mm512_setzero_ps(); }
    static T add(T a, T b) { return _mm512_add_ps(a, b); }
    static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
    static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
    static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
    static T max(T a, T b) { return _mm512_max_ps(b, a); }
    static T min(T a, T b) { return _mm512_min_ps(b, a); }
    static T gt(T a, T b) {
        return _mm512_castsi512_ps(_mm512_movm_epi32(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)));
    }
    static T eq(T a, T b) {
        return _mm512_castsi512_ps(_mm512_movm_epi32(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ)));
    }
    static T select(T m, T a, T b) {
        return _mm512_mask_blend_ps(_mm512_movepi32_mask(_mm512_castps_si512(m)), b, a);
    }
    static void store_i32(int32_t* p, T v) { _mm512_storeu_si512(p, _mm512_cvttps_epi32(v)); }
    static T load_i32(const int32_t* p) { return _mm512_cvtepi32_ps(_mm512_loadu_si512(p)); }
};

#endif

#if defined(__AVX512F__) && defined(__AVX512DQ__) && !defined(CNNLENS_SIMD_SCALAR) && \
    !defined(CNNLENS_SIMD_FORCE_128)
using Vec = F32x16;
#elif defined(__AVX2__) && defined(__FMA__) && !defined(CNNLENS_SIMD_SCALAR) && \
    !defined(CNNLENS_SIMD_FORCE_128)
using Vec = F32x8;
#else
using Vec = F32x4;
#endif

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET
