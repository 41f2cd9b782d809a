// Convolutions that are GEMMs (groups == 1, or grouped but not depthwise). Forward: indirect GEMM
// over pointers to input pixels per tap (padding points at zeros), no im2col. Backward: GEMM with
// the transposed weights, then col2im; 1x1 kernels write grad_in in place.
#include <algorithm>
#include <cstring>

#include "core/base/assert.h"
#include "core/kernels/simd/gemm.h"
#include "core/kernels/simd/simd.h"

namespace cnnlens::simd {
namespace {

class GemmConv final : public ConvKernel {
public:
    GemmConv(const ConvDesc& d, const float* w, const float* bias)
        : d_(d), taps_(d.kernel_h * d.kernel_w), cpg_(d.in_c / d.groups), opg_(d.out_c / d.groups),
          pixels_(d.out_h * d.out_w) {
        // Weights [tap][ic][out_c]: group g is the K x opg block at column g * opg.
        const int k = taps_ * cpg_;
        fwd_.resize(d.groups);
        bwd_.resize(d.groups);
        for (int g = 0; g < d.groups; ++g) {
            const float* wg = w + g * opg_;
            pack_b(wg, k, opg_, d.out_c, 1, bias ? bias + g * opg_ : nullptr, fwd_[g]);
            pack_b(wg, opg_, k, 1, d.out_c, nullptr, bwd_[g]);
        }
        offsets_.resize(static_cast<size_t>(pixels_) * taps_);
        for (int oy = 0; oy < d.out_h; ++oy)
            for (int ox = 0; ox < d.out_w; ++ox)
                for (int ky = 0; ky < d.kernel_h; ++ky)
                    for (int kx = 0; kx < d.kernel_w; ++kx) {
                        const int iy = oy * d.stride_h - d.pad_top + ky * d.dilation_h;
                        const int ix = ox * d.stride_w - d.pad_left + kx * d.dilation_w;
                        const bool inside = iy >= 0 && iy < d.in_h && ix >= 0 && ix < d.in_w;
                        offsets_[(static_cast<size_t>(oy) * d.out_w + ox) * taps_ + ky * d.kernel_w + kx] =
                            inside ? (static_cast<int64_t>(iy) * d.in_w + ix) * d.in_c : -1;
                    }
        zeros_.assign(d.in_c, 0.f);
        junk_.assign(d.in_c, 0.f);
        in_image_ = static_cast<int64_t>(d.in_h) * d.in_w * d.in_c;
        identity_1x1_ = taps_ == 1 && d.out_h == d.in_h && d.out_w == d.in_w && d.stride_h == 1 &&
                        d.stride_w == 1 && d.pad_top == 0 && d.pad_left == 0;
    }

    void forward(const float* in, float* out, int batch) override {
        const int64_t rows = static_cast<int64_t>(batch) * pixels_;
        const int step = gemm_rows_per_call(static_cast<int64_t>(taps_) * cpg_);
        tables_.reserve(static_cast<int>(std::min<int64_t>(step, rows)), taps_);
        for (int64_t r0 = 0; r0 < rows; r0 += step) {
            const int n = static_cast<int>(std::min<int64_t>(step, rows - r0));
            for (int r = 0; r < n; ++r) {
                const int64_t row = r0 + r;
                const float* image = in + row / pixels_ * in_image_;
                const int64_t* off = offsets_.data() + row % pixels_ * taps_;
                for (int t = 0; t < taps_; ++t) tables_.a_at(r, t, taps_) = off[t] >= 0 ? image + off[t] : zeros_.data();
                tables_.c[r] = out + row * d_.out_c;
            }
            for (int g = 0; g < d_.groups; ++g) {
                GemmCall call;
                call.b = &fwd_[g];
                call.rows = n;
                call.taps = taps_;
                call.kc = cpg_;
                call.a = tables_.a.data();
                call.a_off = g * cpg_;
                call.c = tables_.c.data();
                call.c_off = g * opg_;
                call.act = d_.activation;
                call.alpha = d_.alpha;
                gemm(call);
            }
        }
    }

    void backward_input(const float* gp, float* gin, int batch, bool accumulate) override {
        const int64_t rows = static_cast<int64_t>(batch) * pixels_;
        // A 1x1 kernel's output rows map to distinct input pixels, so the GEMM writes grad_in
        // itself; when that map is onto (identity_1x1_) it may even overwrite without zeroing.
        const bool in_place = taps_ == 1;
        if (!accumulate && !identity_1x1_) std::memset(gin, 0, sizeof(float) * batch * in_image_);
        const int64_t col_width = static_cast<int64_t>(taps_) * cpg_;
        const int step = in_place ? gemm_rows_per_call(opg_)
                                  : std::max(kMR, static_cast<int>(std::min<int64_t>(
                                                      1024, kColBytes / (col_width * sizeof(float)))));
        tables_.reserve(static_cast<int>(std::min<int64_t>(step, rows)), 1);
        if (!in_place && cols_.size() < static_cast<size_t>(step * col_width)) cols_.resize(step * col_width);
        for (int64_t r0 = 0; r0 < rows; r0 += step) {
            const int n = static_cast<int>(std::min<int64_t>(step, rows - r0));
            for (int r = 0; r < n; ++r) {
                const int64_t row = r0 + r;
                tables_.a_at(r, 0, 1) = gp + row * d_.out_c;
                if (in_place) {
                    const int64_t off = offsets_[row % pixels_];
                    tables_.c[r] = off >= 0 ? gin + row / pixels_ * in_image_ + off : junk_.data();
                } else {
                    tables_.c[r] = cols_.data() + r * col_width;
                }
            }
            for (int g = 0; g < d_.groups; ++g) {
                GemmCall call;
                call.b = &bwd_[g];
                call.rows = n;
                call.kc = opg_;
                call.a = tables_.a.data();
                call.a_off = g * opg_;
                call.c = tables_.c.data();
                call.c_off = in_place ? g * cpg_ : 0;
                call.load_c = in_place && (accumulate || !identity_1x1_);
                gemm(call);
                if (!in_place) col2im(gin, r0, n, g);
            }
        }
    }

private:
    static constexpr int64_t kColBytes = 128 * 1024;

    void col2im(float* gin, int64_t r0, int n, int g) const {
        for (int r = 0; r < n; ++r) {
            const int64_t row = r0 + r;
            float* image = gin + row / pixels_ * in_image_ + g * cpg_;
            const int64_t* off = offsets_.data() + row % pixels_ * taps_;
            const float* col = cols_.data() + static_cast<int64_t>(r) * taps_ * cpg_;
            for (int t = 0; t < taps_; ++t)
                if (off[t] >= 0) add_to(image + off[t], col + t * cpg_, cpg_);
        }
    }

    ConvDesc d_;
    int taps_, cpg_, opg_, pixels_;
    int64_t in_image_ = 0;
    bool identity_1x1_ = false;
    std::vector<PackedB> fwd_, bwd_;  // per group: [taps*cpg][opg] and its transpose
    std::vector<int64_t> offsets_;    // [out pixel][tap]: float offset of the input pixel, -1 = padding
    std::vector<float> zeros_, junk_, cols_;
    RowTables tables_;
};

}  // namespace

std::unique_ptr<ConvKernel> make_gemm_conv(const ConvDesc& d, const float* weights, const float* bias) {
    CNNLENS_ASSERT(d.groups >= 1 && d.in_c % d.groups == 0 && d.out_c % d.groups == 0);
    return std::make_unique<GemmConv>(d, weights, bias);
}

}  // namespace cnnlens::simd
