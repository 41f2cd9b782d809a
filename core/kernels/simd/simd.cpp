// The `simd` kernel set: picks the depthwise or the GEMM convolution once per node, and the
// helpers the kernel files share.
#include "core/kernels/simd/simd.h"

#include <cstdlib>
#include <string_view>

namespace cnnlens {
namespace simd {

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
    return a;
}

AxisTaps AxisTaps::bwd(int out, int in, int kernel, int stride, int dilation, int pad) {
    AxisTaps a;
    a.start.push_back(0);
    for (int i = 0; i < in; ++i) {
        for (int k = 0; k < kernel; ++k) {
            const int t = i + pad - k * dilation;
            if (t >= 0 && t % stride == 0 && t / stride < out) a.k.push_back(k), a.at.push_back(t / stride);
        }
        a.start.push_back(static_cast<int>(a.k.size()));
    }
    return a;
}

namespace {

std::unique_ptr<ConvKernel> make_conv(const ConvDesc& d, const float* weights, const float* bias) {
    if (d.is_depthwise()) return make_depthwise_conv(d, weights, bias);
    // CNNLENS_WINOGRAD=0 turns Winograd off (for side-by-side timing).
    static const bool winograd = [] {
        const char* e = std::getenv("CNNLENS_WINOGRAD");
        return !(e && std::string_view(e) == "0");
    }();
    if (winograd && winograd_applies(d)) return make_winograd_conv(d, weights, bias);
    return make_gemm_conv(d, weights, bias);
}

}  // namespace
}  // namespace simd

const KernelSet& simd_kernels() {
    static const KernelSet set{"simd", simd::make_conv, simd::make_pool, simd::make_dense};
    return set;
}

}  // namespace cnnlens
