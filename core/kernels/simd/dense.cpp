// Fully connected layers of the simd set: forward and input gradient are both GEMMs with weights
// packed once (the backward one transposed, when the first backward pass needs it).
#include "core/kernels/simd/gemm.h"
#include "core/kernels/simd/simd.h"

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {
namespace {

class Dense final : public DenseKernel {
public:
    Dense(const DenseDesc& d, const float* w, const float* bias) : d_(d), w_(w) {
        pack_b(w, d.in_features, d.out_features, d.out_features, 1, bias, fwd_);
    }
    void forward(const float* in, float* out, int batch) override {
        gemm_strided(fwd_, batch, in, d_.in_features, out, d_.out_features, false, d_.activation,
                     d_.alpha, tables_);
    }
    void forward_tape(const float* in, float* out, int batch) override {
        gemm_strided(fwd_, batch, in, d_.in_features, out, d_.out_features, false, d_.activation,
                     d_.alpha, tables_, true);
    }
    void backward_input(const float* gp, float* gin, int batch, bool accumulate) override {
        if (bwd_.data.empty())
            pack_b(w_, d_.out_features, d_.in_features, 1, d_.out_features, nullptr, bwd_);
        gemm_strided(bwd_, batch, gp, d_.out_features, gin, d_.in_features, accumulate,
                     Activation::kNone, 0.f, tables_);
    }

private:
    DenseDesc d_;
    const float* w_;  // the caller's weights, for the backward's packing
    PackedB fwd_, bwd_;
    RowTables tables_;
};

}  // namespace

std::unique_ptr<DenseKernel> make_dense(const DenseDesc& d, const float* weights,
                                        const float* bias) {
    return std::make_unique<Dense>(d, weights, bias);
}

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET
