// Fully connected layers of the simd set: forward and input gradient are both GEMMs with weights
// packed when first needed (the backward one transposed), except that the tape's forward packs
// them into the shared tape_weights() on each pass.
#include "core/kernels/simd/gemm.h"
#include "core/kernels/simd/simd.h"

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {
namespace {

class Dense final : public DenseKernel {
public:
    Dense(const DenseDesc& d, const float* w, const float* bias) : d_(d), w_(w), bias_(bias) {}
    void forward(const float* in, float* out, int batch) override {
        if (fwd_.data.empty())
            pack_b(w_, d_.in_features, d_.out_features, d_.out_features, 1, bias_, fwd_);
        gemm_strided(fwd_, batch, in, d_.in_features, out, d_.out_features, false, d_.activation,
                     d_.alpha, tables_);
    }
    void forward_tape(const float* in, float* out, int batch) override {
        PackedB* packed = &fwd_;
        if (fwd_.data.empty()) {
            packed = &tape_weights(1)[0];
            pack_b(w_, d_.in_features, d_.out_features, d_.out_features, 1, bias_, *packed);
        }
        const PackedB& b = *packed;
        gemm_strided(b, batch, in, d_.in_features, out, d_.out_features, false, d_.activation,
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
    const float* w_;  // the caller's weights and bias, packed when first needed
    const float* bias_;
    PackedB fwd_, bwd_;
    std::vector<RowTables> tables_;  // one per pool thread
};

}  // namespace

std::unique_ptr<DenseKernel> make_dense(const DenseDesc& d, const float* weights,
                                        const float* bias) {
    return std::make_unique<Dense>(d, weights, bias);
}

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET
