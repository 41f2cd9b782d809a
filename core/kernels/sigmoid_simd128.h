// cnnlens::sigmoid's element function (core/kernels/kernels.cpp) on four lanes of wasm SIMD128,
// with the multiply-adds as `madd(a, b, c)` = a * b + c: a multiply then an add gives the scalar
// loop's bits (the base build), relaxed_madd one rounding per step (the FMA build's simd-fma set).
#pragma once

#include <wasm_simd128.h>

#include <cstdint>
#include <initializer_list>

namespace cnnlens {

template <typename Madd>
inline v128_t sigmoid4(v128_t x, Madd madd) {
    const v128_t one = wasm_f32x4_splat(1.f), round = wasm_f32x4_splat(12582912.f);
    // pmax(a, b) = a < b ? b : a and pmin(a, b) = b < a ? b : a: one maxps or minps each, and a
    // NaN in a stays.
    const v128_t xc =
        wasm_f32x4_pmin(wasm_f32x4_pmax(x, wasm_f32x4_splat(-87.5f)), wasm_f32x4_splat(87.5f));
    const v128_t t = madd(xc, wasm_f32x4_splat(-1.44269504088896341f), round);
    const v128_t k = wasm_f32x4_sub(t, round);
    const v128_t r = madd(k, wasm_f32x4_splat(1.42860682030941723e-6f),
                          madd(k, wasm_f32x4_splat(0.693145751953125f), xc));
    v128_t p = wasm_f32x4_splat(-1.f / 5040.f);
    for (const float c : {1.f / 720.f, -1.f / 120.f, 1.f / 24.f, -1.f / 6.f, 0.5f, -1.f, 1.f})
        p = madd(p, r, wasm_f32x4_splat(c));
    const v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(t, wasm_i32x4_splat(127 - 0x4B400000)), 23);
    return wasm_f32x4_div(one, wasm_f32x4_add(one, wasm_f32x4_mul(p, scale)));
}

// sigmoid4 over x[0, n) four vectors an iteration, up to the last whole 16 elements; returns
// where it stopped. V8 compiles a vectorised loop as it comes, one vector at a time, and the
// polynomial's chain of dependent multiply-adds leaves the core idle; two vectors an iteration
// still did in Chromium, whose V8 overlaps iterations less than node 20's (its relaxed_madd
// chains ran 1.9x node's time). Each element takes the same steps as alone.
template <typename Madd>
inline int64_t sigmoid4_by_16(const float* x, float* y, int64_t n, Madd madd) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const v128_t a = sigmoid4(wasm_v128_load(x + i), madd),
                     b = sigmoid4(wasm_v128_load(x + i + 4), madd),
                     c = sigmoid4(wasm_v128_load(x + i + 8), madd),
                     d = sigmoid4(wasm_v128_load(x + i + 12), madd);
        wasm_v128_store(y + i, a);
        wasm_v128_store(y + i + 4, b);
        wasm_v128_store(y + i + 8, c);
        wasm_v128_store(y + i + 12, d);
    }
    return i;
}

}  // namespace cnnlens
