// The roofline probe: the float32 multiply-add throughput one core reaches with the simd set's
// vector type (wasm SIMD128 mul + add in the browser, or relaxed-SIMD FMA in the builds that
// have it; AVX2 or AVX-512 FMA natively, whichever the simd set runs) in a GEMM microkernel's
// inner loop with its operands in L1. Kernel efficiency is reported as a fraction of this figure.
#pragma once

namespace cnnlens {

struct Roofline {
    double gflops = 0;  // 2 flops per lane per multiply-add
    int lanes = 0;      // floats per vector
    const char* isa =
        "";  // "wasm-simd128", "wasm-relaxed-fma", "avx512", "avx2-fma", "sse", "scalar"
};

// Runs the probe for about `ms` milliseconds (best of a few rounds).
Roofline measure_roofline(double ms = 200);

}  // namespace cnnlens
