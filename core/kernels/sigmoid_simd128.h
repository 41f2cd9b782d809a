// cnnlens::sigmoid's element function (core/kernels/kernels.cpp) on four lanes of wasm SIMD128,
// with the multiply-adds as `madd(a, b, c)` = a * b + c: a multiply then an add gives the scalar
// loop's bits (the base build), relaxed_madd one rounding per step (the FMA build's simd-fma set).
#pragma once

#include <wasm_simd128.h>

#include <initializer_list>

namespace cnnlens {

template <typename Madd>
inline v128_t sigmoid4(v128_t vb, Madd madd) {
    const v128_t one = wasm_f32x4_splat(1.f), round = wasm_f32x4_splat(12582912.f);
    // pmin(a, b) = b < a ? b : a and pmax(a, b) = a < b ? b : a: one minps or maxps each, and a
    // NaN in a stays.
    const v128_t m =
        wasm_f32x4_pmin(wasm_v128_and(vb, wasm_i32x4_splat(0x7fffffff)), wasm_f32x4_splat(87.5f));
    const v128_t t = madd(m, wasm_f32x4_splat(1.44269504088896341f), round);
    const v128_t k = wasm_f32x4_sub(t, round);
    // (m - k ln2_hi) - k ln2_lo: adding k times the negated constant is the same subtraction.
    const v128_t r = madd(k, wasm_f32x4_splat(-1.42860682030941723e-6f),
                          madd(k, wasm_f32x4_splat(-0.693145751953125f), m));
    v128_t p = wasm_f32x4_splat(-1.f / 5040.f);
    for (const float c : {1.f / 720.f, -1.f / 120.f, 1.f / 24.f, -1.f / 6.f, 0.5f, -1.f, 1.f})
        p = madd(p, r, wasm_f32x4_splat(c));
    const v128_t scale = wasm_i32x4_shl(wasm_i32x4_sub(wasm_i32x4_splat(0x4B400000 + 127), t), 23);
    const v128_t e = wasm_f32x4_mul(p, scale);
    const v128_t s = wasm_f32x4_div(one, wasm_f32x4_add(one, e));
    const v128_t step = wasm_v128_andnot(one, wasm_i32x4_shr(vb, 31));  // 1 for x >= 0, else 0
    return wasm_f32x4_mul(wasm_f32x4_pmax(e, step), s);
}

}  // namespace cnnlens
