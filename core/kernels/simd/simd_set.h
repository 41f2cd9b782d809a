// The simd set as other kernel sets reach it: the xnnpack set hands it the layers it runs
// faster, borrows its pooling gradients and its forward-only GEMM convolutions. Plain C++ with
// no SIMD intrinsics (unlike simd.h, which includes vec.h), so files built without the simd
// targets' flags can include it. Defined in simd.cpp.
#pragma once
#include <memory>

#include "core/kernels/kernels.h"

namespace cnnlens {

// The simd set of the widest target the CPU runs.
const KernelSet& simd_kernels();
// True when the simd set runs `d` with AVX-512 faster than XNNPACK does, forward and backward,
// so the xnnpack set hands the layer over.
bool simd_avx512_beats_xnnpack(const ConvDesc& d);
// A forward-only GEMM convolution of simd_kernels()'s target, for the xnnpack set's tape pass
// of layers whose dot products are long.
std::unique_ptr<ConvKernel> simd_gemm_forward_conv(const ConvDesc& d, const float* weights,
                                                   const float* bias);

}  // namespace cnnlens
