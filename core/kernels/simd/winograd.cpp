// 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2016):
// each 2x2 output tile comes from a 4x4 input tile through 16 element-wise products in a
// transformed space, so the multiply-adds are 16/36 of the direct convolution's. Written here
// because the wasm build has no XNNPACK; the products are 16 GEMMs (one per transformed
// position, tiles x in_c times in_c x out_c) on the simd set's own GEMM, between vectorised
// input and output transforms. Tiles go in blocks small enough that a block's transformed
// input and products stay in L2. The backward pass is a stride-1 3x3 convolution too (the
// kernel flipped, input and output channels swapped, padding 2 - pad), so it runs the same way
// when its shape qualifies, else it is the GEMM convolution's.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/base/assert.h"
#include "core/base/thread_pool.h"
#include "core/kernels/simd/gemm.h"
#include "core/kernels/simd/simd.h"

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {
namespace {

constexpr int kPositions = 16;  // 4x4 transformed positions

class WinogradConv final : public ConvKernel {
public:
    // with_backward false: the inner backward convolution, whose weights (a temporary) are
    // transformed at once. Otherwise each path packs its weights when first used, from the
    // caller's `w` and `bias`: a forward-only user never holds the tape's GEMM weights or the
    // backward's, a gradient's user never the Winograd forward's.
    WinogradConv(const ConvDesc& d, const float* w, const float* bias, bool with_backward = true)
        : d_(d) {
        const int co_n = d.out_c;
        bias_.assign(static_cast<size_t>(co_n), 0.f);
        if (bias) std::copy(bias, bias + co_n, bias_.begin());
        tiles_h_ = (d.out_h + 1) / 2;
        tiles_w_ = (d.out_w + 1) / 2;
        // Tiles per block: the block's transformed input (16 x tiles x in_c) and products
        // (16 x tiles x out_c) within about 256 KB, a whole number of GEMM row blocks.
        const int64_t per_tile = int64_t{kPositions} * (d.in_c + co_n);
        block_ =
            static_cast<int>(std::clamp<int64_t>((64 * 1024) / per_tile, kMR, 256) / kMR * kMR);
        if (!with_backward) {
            transform(w);
            return;
        }
        w_ = w;
        bias_src_ = bias;
        ConvDesc bd;
        backward_winograd_ = flipped_transpose(d, nullptr, bd, nullptr) && winograd_applies(bd);
    }

    // U = G g G^T per (ci, co), with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], packed per
    // transformed position.
    void transform(const float* w) {
        const ConvDesc& d = d_;
        const int ci_n = d.in_c, co_n = d.out_c;
        AlignedFloats u(static_cast<size_t>(kPositions) * ci_n * co_n);
        for (int ci = 0; ci < ci_n; ++ci)
            for (int co = 0; co < co_n; ++co) {
                double g[3][3], gg[4][3];
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx)
                        g[ky][kx] =
                            w[((static_cast<int64_t>(ky) * 3 + kx) * ci_n + ci) * co_n + co];
                for (int kx = 0; kx < 3; ++kx) {
                    gg[0][kx] = g[0][kx];
                    gg[1][kx] = 0.5 * (g[0][kx] + g[1][kx] + g[2][kx]);
                    gg[2][kx] = 0.5 * (g[0][kx] - g[1][kx] + g[2][kx]);
                    gg[3][kx] = g[2][kx];
                }
                for (int i = 0; i < 4; ++i) {
                    const double a = gg[i][0], b = gg[i][1], c = gg[i][2];
                    const double row[4] = {a, 0.5 * (a + b + c), 0.5 * (a - b + c), c};
                    for (int j = 0; j < 4; ++j)
                        u[((static_cast<size_t>(i) * 4 + j) * ci_n + ci) * co_n + co] =
                            static_cast<float>(row[j]);
                }
            }
        u_.resize(kPositions);
        for (int p = 0; p < kPositions; ++p)
            pack_b(u.data() + static_cast<size_t>(p) * ci_n * co_n, ci_n, co_n, co_n, 1, nullptr,
                   u_[static_cast<size_t>(p)]);
    }

    // The tape's forward (and the backward when it is no Winograd convolution) as a GEMM:
    // Winograd's rounding depends on the output's place in its 2x2 tile.
    ConvKernel& gemm_conv() {
        if (!gemm_conv_) gemm_conv_ = make_gemm_conv(d_, w_, bias_src_, !backward_winograd_);
        return *gemm_conv_;
    }

    void forward(const float* in, float* out, int batch) override {
        if (u_.empty()) transform(w_);
        const int64_t tiles = int64_t{batch} * tiles_h_ * tiles_w_;
        // Blocks of at most block_ tiles, as many as a multiple of the threads so they share the
        // work evenly (one image's 256 tiles in 7 blocks had gone 4 to 3 on two threads).
        int64_t blocks = (tiles + block_ - 1) / block_;
        const int pool = in_parallel_region() ? 1 : pool_threads();
        blocks = (blocks + pool - 1) / pool * pool;
        const int block = static_cast<int>(std::clamp<int64_t>(
            ((tiles + blocks - 1) / blocks + kMR - 1) / kMR * kMR, kMR, block_));
        blocks = (tiles + block - 1) / block;
        parallel_for(blocks, 1, [&](int64_t b0, int64_t b1, int) {
            // One scratch per thread that every Winograd convolution shares (grown to the
            // largest), instead of one per layer and thread: with four threads those had held
            // 13 MiB for resnet50's backward.
            thread_local Scratch s;
            const size_t nv = static_cast<size_t>(kPositions) * block_ * d_.in_c,
                         nm = static_cast<size_t>(kPositions) * block_ * d_.out_c;
            if (s.v.size() < nv) s.v.resize(nv);
            if (s.m.size() < nm) s.m.resize(nm);
            for (int64_t b = b0; b < b1; ++b) {
                const int64_t first = b * block;
                const int count = static_cast<int>(std::min<int64_t>(block, tiles - first));
                for (int t = 0; t < count; ++t) input_tile(in, first + t, s.v.data(), t);
                for (int p = 0; p < kPositions; ++p)
                    gemm_strided(u_[static_cast<size_t>(p)], count,
                                 s.v.data() + static_cast<int64_t>(p) * block_ * d_.in_c, d_.in_c,
                                 s.m.data() + static_cast<int64_t>(p) * block_ * d_.out_c, d_.out_c,
                                 false, Activation::kNone, 0.f, s.tables);
                for (int t = 0; t < count; ++t) output_tile(s.m.data(), t, first + t, out);
            }
        });
    }

    void forward_tape(const float* in, float* out, int batch) override {
        if (!w_) return forward(in, out, batch);  // the inner backward convolution
        gemm_conv().forward_tape(in, out, batch);
    }
    void forward_uniform(const float* in, float* out, int batch) override {
        if (!w_) return forward(in, out, batch);
        gemm_conv().forward(in, out, batch);
    }

    void backward_input(const float* grad_pre, float* grad_in, int batch,
                        bool accumulate) override {
        CNNLENS_ASSERT(w_);  // the inner backward convolution has no backward
        if (!backward_winograd_)
            return gemm_conv().backward_input(grad_pre, grad_in, batch, accumulate);
        if (!backward_) {
            ConvDesc bd;
            AlignedFloats bw;
            flipped_transpose(d_, w_, bd, &bw);
            backward_ = std::make_unique<WinogradConv>(bd, bw.data(), nullptr, false);
        }
        forward_into(*backward_, grad_pre, grad_in, batch,
                     int64_t{batch} * d_.in_h * d_.in_w * d_.in_c, accumulate, sum_);
    }

private:
    struct Scratch {
        AlignedFloats v, m;
        std::vector<RowTables> tables;  // gemm_strided's, one per pool thread (nested: the first)
    };

    // V = B^T d B for tile `tile` (d: its 4x4 input pixels, zero outside the image), with
    // B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; position p goes to row t of matrix p.
    void input_tile(const float* in, int64_t tile, float* v, int t) const {
        using V = Vec;
        constexpr int L = V::kLanes;
        const int per_image = tiles_h_ * tiles_w_;
        const int n = static_cast<int>(tile / per_image), r = static_cast<int>(tile % per_image);
        const int y0 = (r / tiles_w_) * 2 - d_.pad_top, x0 = (r % tiles_w_) * 2 - d_.pad_left;
        const float* image = in + static_cast<int64_t>(n) * d_.in_h * d_.in_w * d_.in_c;
        const float* px[4][4];
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
                const int y = y0 + i, x = x0 + j;
                px[i][j] = y >= 0 && y < d_.in_h && x >= 0 && x < d_.in_w
                               ? image + (static_cast<int64_t>(y) * d_.in_w + x) * d_.in_c
                               : nullptr;
            }
        const int64_t stride = static_cast<int64_t>(block_) * d_.in_c;
        float* dst = v + static_cast<int64_t>(t) * d_.in_c;
        for (int c = 0; c < d_.in_c; c += L) {
            V::T x[4][4], tr[4][4];
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) x[i][j] = px[i][j] ? V::load(px[i][j] + c) : V::zero();
            for (int j = 0; j < 4; ++j) {
                tr[0][j] = V::sub(x[0][j], x[2][j]);
                tr[1][j] = V::add(x[1][j], x[2][j]);
                tr[2][j] = V::sub(x[2][j], x[1][j]);
                tr[3][j] = V::sub(x[1][j], x[3][j]);
            }
            for (int i = 0; i < 4; ++i) {
                float* row = dst + static_cast<int64_t>(i) * 4 * stride + c;
                V::store(row, V::sub(tr[i][0], tr[i][2]));
                V::store(row + stride, V::add(tr[i][1], tr[i][2]));
                V::store(row + 2 * stride, V::sub(tr[i][2], tr[i][1]));
                V::store(row + 3 * stride, V::sub(tr[i][1], tr[i][3]));
            }
        }
    }

    // Y = A^T M A + bias, A^T = [1 1 1 0; 0 1 -1 -1], then the activation; rows and columns past
    // the output's edge are dropped.
    void output_tile(const float* m, int t, int64_t tile, float* out) const {
        using V = Vec;
        constexpr int L = V::kLanes;
        const int per_image = tiles_h_ * tiles_w_;
        const int n = static_cast<int>(tile / per_image), r = static_cast<int>(tile % per_image);
        const int oy = (r / tiles_w_) * 2, ox = (r % tiles_w_) * 2;
        const int64_t stride = static_cast<int64_t>(block_) * d_.out_c;
        const float* src = m + static_cast<int64_t>(t) * d_.out_c;
        float* image = out + static_cast<int64_t>(n) * d_.out_h * d_.out_w * d_.out_c;
        const bool y1 = oy + 1 < d_.out_h, x1 = ox + 1 < d_.out_w;
        const bool relu = d_.activation == Activation::kRelu || d_.activation == Activation::kRelu6;
        const V::T zero = V::zero(), six = V::splat(6.f);
        for (int c = 0; c < d_.out_c; c += L) {
            V::T s[4][2];
            for (int i = 0; i < 4; ++i) {
                const float* row = src + static_cast<int64_t>(i) * 4 * stride + c;
                const V::T m0 = V::load(row), m1 = V::load(row + stride),
                           m2 = V::load(row + 2 * stride), m3 = V::load(row + 3 * stride);
                s[i][0] = V::add(V::add(m0, m1), m2);
                s[i][1] = V::sub(V::sub(m1, m2), m3);
            }
            const V::T b = V::load(bias_.data() + c);
            V::T y[2][2];
            for (int j = 0; j < 2; ++j) {
                y[0][j] = V::add(V::add(V::add(s[0][j], s[1][j]), s[2][j]), b);
                y[1][j] = V::add(V::sub(V::sub(s[1][j], s[2][j]), s[3][j]), b);
            }
            for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 2; ++j) {
                    if ((i && !y1) || (j && !x1)) continue;
                    V::T v = y[i][j];
                    if (relu) v = V::max(v, zero);
                    if (d_.activation == Activation::kRelu6) v = V::min(v, six);
                    V::store(
                        image + ((static_cast<int64_t>(oy) + i) * d_.out_w + ox + j) * d_.out_c + c,
                        v);
                }
        }
    }

    ConvDesc d_;
    const float* w_ = nullptr;  // the caller's weights and bias (null: the inner convolution)
    const float* bias_src_ = nullptr;
    bool backward_winograd_ = false;  // the backward pass is a Winograd convolution (backward_)
    std::unique_ptr<ConvKernel>
        gemm_conv_;  // forward_tape, and the backward pass when backward_ does not apply
    std::unique_ptr<WinogradConv> backward_;  // the backward pass as a Winograd convolution
    AlignedFloats sum_;                       // backward with accumulate
    std::vector<PackedB> u_;                  // per position: transformed weights [in_c][out_c]
    AlignedFloats bias_;
    int tiles_h_ = 0, tiles_w_ = 0, block_ = 0;
};

}  // namespace

bool winograd_applies(const ConvDesc& d) {
    constexpr int L = Vec::kLanes;
    const bool act = d.activation == Activation::kNone || d.activation == Activation::kRelu ||
                     d.activation == Activation::kRelu6;
    // A small image with many channels (resnet's 7x7 x 512 layers) is bound by reading the
    // weights, not by multiply-adds: the transformed weights are 16/9 of the GEMM's, read once
    // per block of tiles, while the GEMM reads its own once and splits them over threads.
    const int64_t tiles = int64_t{(d.out_h + 1) / 2} * ((d.out_w + 1) / 2);
    const int64_t transformed_bytes = int64_t{16} * d.in_c * d.out_c * 4;
    const bool weight_bound = tiles < 32 && transformed_bytes > (1 << 20);
    return d.kernel_h == 3 && d.kernel_w == 3 && d.stride_h == 1 && d.stride_w == 1 &&
           d.dilation_h == 1 && d.dilation_w == 1 && d.groups == 1 && d.in_c >= 16 &&
           d.in_c % L == 0 && d.out_c % L == 0 && act && !weight_bound;
}

std::unique_ptr<ConvKernel> make_winograd_conv(const ConvDesc& d, const float* weights,
                                               const float* bias) {
    CNNLENS_ASSERT(winograd_applies(d));
    return std::make_unique<WinogradConv>(d, weights, bias);
}

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET
