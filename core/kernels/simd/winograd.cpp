// 3x3 stride-1 convolutions by Winograd's minimal filtering (Lavin & Gray 2016), F(2x2, 3x3)
// and F(4x4, 3x3): each m x m output tile comes from an (m+2) x (m+2) input tile through
// (m+2)^2 element-wise products in a transformed space, so the multiply-adds are 16/36
// (m = 2) or 36/144 (m = 4) of the direct convolution's. Written here because the wasm build has
// no XNNPACK; the products are (m+2)^2 GEMMs (one per transformed position, tiles x in_c times
// in_c x out_c) on the simd set's own GEMM, between vectorised input and output transforms.
// Tiles go in blocks small enough that a block's transformed input and products stay in L2,
// unless the transformed weights, read once per block, would then cost more.
// F(4x4) rounds about four times as coarsely as F(2x2) (its transforms hold 4, 5 and 8), still
// within 1e-5 of the reference's relative L2 error. Which algorithm a pass runs depends on its
// batch (winograd_tile): F(4x4) where its larger tiles do not waste the multiply-adds they save,
// the plain GEMM convolution where a few tiles would read large transformed weights for little
// gain (resnet's 7x7 x 512 layers at batch 1). The backward pass is a stride-1 3x3 convolution
// too (the kernel flipped, input and output channels swapped, padding 2 - pad), so it runs
// F(2x2) when its shape qualifies, else it is the GEMM convolution's: a gradient keeps the finer
// rounding, as does a float32 tape's forward (forward_float_tape).
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

// F(M x M, 3x3): M x M output tiles from kAlpha x kAlpha input tiles.
template <int M>
class WinogradConv final : public ConvKernel {
    static constexpr int kAlpha = M + 2;
    static constexpr int kPositions = kAlpha * kAlpha;

public:
    // durable: `w` and `bias` outlive the kernel and are transformed on the first pass; else
    // (the flipped weights of a backward pass, a temporary) at once.
    WinogradConv(const ConvDesc& d, const float* w, const float* bias, bool durable) : d_(d) {
        static_assert(M == 2 || M == 4);
        const int co_n = d.out_c;
        bias_.assign(static_cast<size_t>(co_n), 0.f);
        if (bias) std::copy(bias, bias + co_n, bias_.begin());
        tiles_h_ = (d.out_h + M - 1) / M;
        tiles_w_ = (d.out_w + M - 1) / M;
        // Tiles per block: the block's transformed input (kPositions x tiles x in_c) and
        // products (kPositions x tiles x out_c) within about 256 KB, a whole number of GEMM row
        // blocks; more where the transformed weights, read once per block, would otherwise cost
        // more than four times what the block's own data does (up to 4 MB of scratch).
        const int64_t per_tile = int64_t{kPositions} * (d.in_c + co_n);
        const int64_t weights = int64_t{kPositions} * d.in_c * co_n;
        const int64_t tiles = std::max<int64_t>(64 * 1024 / per_tile, weights / (4 * per_tile));
        block_ = static_cast<int>(
            std::clamp<int64_t>(std::min<int64_t>(tiles, (1 << 20) / per_tile), kMR, 256) / kMR *
            kMR);
        if (durable)
            w_ = w;
        else
            transform(w);
    }

    // U = G g G^T per (ci, co), packed per transformed position; G is kAlpha x 3:
    //   F(2x2): [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
    //   F(4x4): [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
    // (in double, rounded once).
    void transform(const float* w) {
        static constexpr double kG2[4][3] = {
            {1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
        static constexpr double kG4[6][3] = {{0.25, 0, 0},
                                             {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                             {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                             {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                             {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                             {0, 0, 1}};
        const auto& g_mat = [](int i, int k) { return M == 2 ? kG2[i][k] : kG4[i][k]; };
        const ConvDesc& d = d_;
        const int ci_n = d.in_c, co_n = d.out_c;
        AlignedFloats u(static_cast<size_t>(kPositions) * ci_n * co_n);
        for (int ci = 0; ci < ci_n; ++ci)
            for (int co = 0; co < co_n; ++co) {
                double g[3][3], gg[kAlpha][3];
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx)
                        g[ky][kx] =
                            w[((static_cast<int64_t>(ky) * 3 + kx) * ci_n + ci) * co_n + co];
                for (int i = 0; i < kAlpha; ++i)
                    for (int kx = 0; kx < 3; ++kx)
                        gg[i][kx] = g_mat(i, 0) * g[0][kx] + g_mat(i, 1) * g[1][kx] +
                                    g_mat(i, 2) * g[2][kx];
                for (int i = 0; i < kAlpha; ++i)
                    for (int j = 0; j < kAlpha; ++j)
                        u[((static_cast<size_t>(i) * kAlpha + j) * ci_n + ci) * co_n + co] =
                            static_cast<float>(g_mat(j, 0) * gg[i][0] + g_mat(j, 1) * gg[i][1] +
                                               g_mat(j, 2) * gg[i][2]);
            }
        u_.resize(kPositions);
        for (int p = 0; p < kPositions; ++p)
            pack_b(u.data() + static_cast<size_t>(p) * ci_n * co_n, ci_n, co_n, co_n, 1, nullptr,
                   u_[static_cast<size_t>(p)]);
    }

    void forward(const float* in, float* out, int batch) override {
        if (u_.empty()) transform(w_);
        const int64_t tiles = int64_t{batch} * tiles_h_ * tiles_w_;
        const int pool = in_parallel_region() ? 1 : pool_threads();
        // A layer whose transformed weights outweigh its tiles' data (resnet's 14x14 x 256 and
        // 28x28 x 128 at batch 1, its 7x7 x 512 at a few images) and that would run as several
        // blocks runs whole instead: every tile's transform, then each position's GEMM over all
        // tiles, split by positions, then every output transform. The weights are read once,
        // each thread reading its positions' share, where blocks had each read them all.
        const int64_t data = int64_t{kPositions} * tiles * (d_.in_c + d_.out_c) * 4;
        const int64_t weights = int64_t{kPositions} * d_.in_c * d_.out_c * 4;
        if ((tiles > block_ || pool > 1) && weights > data && data <= kWholeBytes)
            return forward_whole(in, out, tiles);
        // Blocks of at most block_ tiles, as many as a multiple of the threads so they share the
        // work evenly (one image's 256 tiles in 7 blocks had gone 4 to 3 on two threads), of
        // nearly equal sizes: a last block of one tile would run its GEMMs one row at a time, at
        // the latency of one multiply-add chain (49 tiles in blocks of 8 had left one).
        int64_t blocks = (tiles + block_ - 1) / block_;
        blocks = std::min(tiles, (blocks + pool - 1) / pool * pool);
        const int block = static_cast<int>((tiles + blocks - 1) / blocks);
        parallel_for(blocks, 1, [&](int64_t b0, int64_t b1, int) {
            // One scratch per thread that every Winograd convolution shares (grown to the
            // largest), instead of one per layer and thread: with four threads those had held
            // 13 MiB for resnet50's backward.
            thread_local Scratch s;
            const size_t nv = static_cast<size_t>(kPositions) * block * d_.in_c,
                         nm = static_cast<size_t>(kPositions) * block * d_.out_c;
            if (s.v.size() < nv) s.v.resize(nv);
            if (s.m.size() < nm) s.m.resize(nm);
            for (int64_t b = b0; b < b1; ++b) {
                const int64_t first = b * tiles / blocks;
                const int count = static_cast<int>((b + 1) * tiles / blocks - first);
                for (int t = 0; t < count; ++t) input_tile(in, first + t, s.v.data(), t, block);
                for (int p = 0; p < kPositions; ++p)
                    gemm_strided(u_[static_cast<size_t>(p)], count,
                                 s.v.data() + static_cast<int64_t>(p) * block * d_.in_c, d_.in_c,
                                 s.m.data() + static_cast<int64_t>(p) * block * d_.out_c, d_.out_c,
                                 false, Activation::kNone, 0.f, s.tables);
                for (int t = 0; t < count; ++t) output_tile(s.m.data(), t, first + t, out, block);
            }
        });
    }

    void backward_input(const float*, float*, int, bool) override {
        CNNLENS_ASSERT(false && "a Winograd convolution is a forward pass; see Conv3x3");
    }

private:
    static constexpr int64_t kWholeBytes = 4 << 20;  // forward_whole's transformed data

    // The three phases over all tiles, each split across the pool. Each output's sums are the
    // blocked path's: the same transforms, and GEMM rows that sum alike in any grouping.
    void forward_whole(const float* in, float* out, int64_t tiles) {
        thread_local AlignedFloats whole_v, whole_m;  // the calling thread's
        const int t = static_cast<int>(tiles);
        const size_t nv = static_cast<size_t>(kPositions) * t * d_.in_c,
                     nm = static_cast<size_t>(kPositions) * t * d_.out_c;
        if (whole_v.size() < nv) whole_v.resize(nv);
        if (whole_m.size() < nm) whole_m.resize(nm);
        float* v = whole_v.data();
        float* m = whole_m.data();
        parallel_for(tiles, 4, [&](int64_t t0, int64_t t1, int) {
            for (int64_t i = t0; i < t1; ++i) input_tile(in, i, v, static_cast<int>(i), t);
        });
        parallel_for(kPositions, 1, [&](int64_t p0, int64_t p1, int) {
            thread_local std::vector<RowTables> tables;
            for (int64_t p = p0; p < p1; ++p)
                gemm_strided(u_[static_cast<size_t>(p)], t, v + p * t * d_.in_c, d_.in_c,
                             m + p * t * d_.out_c, d_.out_c, false, Activation::kNone, 0.f, tables);
        });
        parallel_for(tiles, 4, [&](int64_t t0, int64_t t1, int) {
            for (int64_t i = t0; i < t1; ++i) output_tile(m, static_cast<int>(i), i, out, t);
        });
    }

    struct Scratch {
        AlignedFloats v, m;
        std::vector<RowTables> tables;  // gemm_strided's, one per pool thread (nested: the first)
    };

    using T = Vec::T;

    // r = B^T x over one line of a tile, with
    //   F(2x2): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
    //   F(4x4): B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
    //                  0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
    static void input_line(const T* x, T* r) {
        using V = Vec;
        if constexpr (M == 2) {
            r[0] = V::sub(x[0], x[2]);
            r[1] = V::add(x[1], x[2]);
            r[2] = V::sub(x[2], x[1]);
            r[3] = V::sub(x[1], x[3]);
        } else {
            const T four = V::splat(4.f), minus_five = V::splat(-5.f), two = V::splat(2.f);
            const T x12 = V::add(x[1], x[2]), x34 = V::add(x[3], x[4]);
            const T d12 = V::sub(x[1], x[2]), d43 = V::sub(x[4], x[3]);
            const T d13 = V::sub(x[1], x[3]), d42 = V::sub(x[4], x[2]);
            r[0] = V::fma(four, x[0], V::fma(minus_five, x[2], x[4]));
            r[1] = V::sub(x34, V::mul(four, x12));
            r[2] = V::fma(four, d12, d43);
            r[3] = V::sub(d42, V::mul(two, d13));
            r[4] = V::fma(two, d13, d42);
            r[5] = V::fma(four, x[1], V::fma(minus_five, x[3], x[5]));
        }
    }

    // y = A^T m over one line of a tile's products, with
    //   F(2x2): A^T = [1 1 1 0; 0 1 -1 -1]
    //   F(4x4): A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
    static void output_line(const T* m, T* y) {
        using V = Vec;
        if constexpr (M == 2) {
            y[0] = V::add(V::add(m[0], m[1]), m[2]);
            y[1] = V::sub(V::sub(m[1], m[2]), m[3]);
        } else {
            const T s12 = V::add(m[1], m[2]), d12 = V::sub(m[1], m[2]);
            const T s34 = V::add(m[3], m[4]), d34 = V::sub(m[3], m[4]);
            y[0] = V::add(V::add(m[0], s12), s34);
            y[1] = V::fma(V::splat(2.f), d34, d12);
            y[2] = V::fma(V::splat(4.f), s34, s12);
            y[3] = V::add(V::fma(V::splat(8.f), d34, d12), m[5]);
        }
    }

    // V = B^T d B for tile `tile` (d: its kAlpha x kAlpha input pixels, zero outside the
    // image); position p goes to row t of matrix p.
    void input_tile(const float* in, int64_t tile, float* v, int t, int block) const {
        using V = Vec;
        constexpr int L = V::kLanes;
        const int per_image = tiles_h_ * tiles_w_;
        const int n = static_cast<int>(tile / per_image), r = static_cast<int>(tile % per_image);
        const int y0 = (r / tiles_w_) * M - d_.pad_top, x0 = (r % tiles_w_) * M - d_.pad_left;
        const float* image = in + static_cast<int64_t>(n) * d_.in_h * d_.in_w * d_.in_c;
        const float* px[kAlpha][kAlpha];
        for (int i = 0; i < kAlpha; ++i)
            for (int j = 0; j < kAlpha; ++j) {
                const int y = y0 + i, x = x0 + j;
                px[i][j] = y >= 0 && y < d_.in_h && x >= 0 && x < d_.in_w
                               ? image + (static_cast<int64_t>(y) * d_.in_w + x) * d_.in_c
                               : nullptr;
            }
        const int64_t stride = static_cast<int64_t>(block) * d_.in_c;
        float* dst = v + static_cast<int64_t>(t) * d_.in_c;
        for (int c = 0; c < d_.in_c; c += L) {
            // Columns first (tr[.][j] = B^T x[.][j], kept transposed), then each row.
            T tr[kAlpha][kAlpha];
            for (int j = 0; j < kAlpha; ++j) {
                T col[kAlpha];
                for (int i = 0; i < kAlpha; ++i)
                    col[i] = px[i][j] ? V::load(px[i][j] + c) : V::zero();
                input_line(col, tr[j]);
            }
            for (int i = 0; i < kAlpha; ++i) {
                T row[kAlpha], out[kAlpha];
                for (int j = 0; j < kAlpha; ++j) row[j] = tr[j][i];
                input_line(row, out);
                float* dst_row = dst + static_cast<int64_t>(i) * kAlpha * stride + c;
                for (int j = 0; j < kAlpha; ++j) V::store(dst_row + j * stride, out[j]);
            }
        }
    }

    // Y = A^T M A + bias, then the activation; rows and columns past the output's edge are
    // dropped.
    void output_tile(const float* m, int t, int64_t tile, float* out, int block) const {
        using V = Vec;
        constexpr int L = V::kLanes;
        const int per_image = tiles_h_ * tiles_w_;
        const int n = static_cast<int>(tile / per_image), r = static_cast<int>(tile % per_image);
        const int oy = (r / tiles_w_) * M, ox = (r % tiles_w_) * M;
        const int64_t stride = static_cast<int64_t>(block) * d_.out_c;
        const float* src = m + static_cast<int64_t>(t) * d_.out_c;
        float* image = out + static_cast<int64_t>(n) * d_.out_h * d_.out_w * d_.out_c;
        const int rows = std::min(M, d_.out_h - oy), cols = std::min(M, d_.out_w - ox);
        const bool relu = d_.activation == Activation::kRelu || d_.activation == Activation::kRelu6;
        const T zero = V::zero(), six = V::splat(6.f);
        for (int c = 0; c < d_.out_c; c += L) {
            // Rows first (s[i] = the row of products times A, kept transposed), then columns.
            T s[M][kAlpha];
            for (int i = 0; i < kAlpha; ++i) {
                const float* row = src + static_cast<int64_t>(i) * kAlpha * stride + c;
                T line[kAlpha], y[M];
                for (int j = 0; j < kAlpha; ++j) line[j] = V::load(row + j * stride);
                output_line(line, y);
                for (int j = 0; j < M; ++j) s[j][i] = y[j];
            }
            const T b = V::load(bias_.data() + c);
            for (int j = 0; j < cols; ++j) {
                T y[M];
                output_line(s[j], y);
                for (int i = 0; i < rows; ++i) {
                    T v = V::add(y[i], b);
                    if (relu) v = V::max(v, zero);
                    if (d_.activation == Activation::kRelu6) v = V::min(v, six);
                    V::store(
                        image + ((static_cast<int64_t>(oy) + i) * d_.out_w + ox + j) * d_.out_c + c,
                        v);
                }
            }
        }
    }

    ConvDesc d_;
    const float* w_ = nullptr;  // the caller's weights until transformed (durable)
    std::vector<PackedB> u_;    // per position: transformed weights [in_c][out_c]
    AlignedFloats bias_;
    int tiles_h_ = 0, tiles_w_ = 0, block_ = 0;
};

// A 3x3 stride-1 convolution that winograd_applies to: each pass runs what its batch pays for
// (winograd_tile). Every path is made when first used, from the caller's weights: a
// forward-only user never holds the tape's GEMM weights or the backward's, a gradient's user
// never the F(4x4) forward's.
class Conv3x3 final : public ConvKernel {
public:
    Conv3x3(const ConvDesc& d, const float* w, const float* bias) : d_(d), w_(w), bias_(bias) {
        flippable_ = flipped_transpose(d, nullptr, bd_, nullptr) && winograd_applies(bd_);
    }

    void forward(const float* in, float* out, int batch) override {
        switch (winograd_tile(d_, batch)) {
            case 4:
                return f4().forward(in, out, batch);
            case 2:
                return f2().forward(in, out, batch);
            default:
                return gemm().forward(in, out, batch);
        }
    }
    // The tape's passes as a GEMM: Winograd's rounding depends on the output's place in its tile.
    void forward_tape(const float* in, float* out, int batch) override {
        gemm().forward_tape(in, out, batch);
    }
    void forward_uniform(const float* in, float* out, int batch) override {
        gemm().forward_uniform(in, out, batch);
    }
    // F(4x4) rounds several times as coarsely as float32 sums: a gradient's pass runs F(2x2).
    void forward_float_tape(const float* in, float* out, int batch) override {
        if (winograd_tile(d_, batch) == 0) return gemm().forward_float_tape(in, out, batch);
        f2().forward(in, out, batch);
    }

    // F(2x2) at most, never F(4x4), though masks and max-pool choices come from the tape: some
    // methods decide on the gradient's values (Guided IG moves the features of least |gradient|
    // first), and F(4x4)'s rounding there moved Guided IG 0.19 off PyTorch's.
    void backward_input(const float* grad_pre, float* grad_in, int batch,
                        bool accumulate) override {
        if (!flippable_ || winograd_tile(bd_, batch) == 0)
            return gemm().backward_input(grad_pre, grad_in, batch, accumulate);
        if (!backward_) {
            ConvDesc bd;
            AlignedFloats bw;
            flipped_transpose(d_, w_, bd, &bw);
            backward_ = std::make_unique<WinogradConv<2>>(bd, bw.data(), nullptr, false);
        }
        forward_into(*backward_, grad_pre, grad_in, batch,
                     int64_t{batch} * d_.in_h * d_.in_w * d_.in_c, accumulate, sum_);
    }

private:
    ConvKernel& gemm() {
        if (!gemm_) gemm_ = make_gemm_conv(d_, w_, bias_, true);
        return *gemm_;
    }
    WinogradConv<2>& f2() {
        if (!f2_) f2_ = std::make_unique<WinogradConv<2>>(d_, w_, bias_, true);
        return *f2_;
    }
    WinogradConv<4>& f4() {
        if (!f4_) f4_ = std::make_unique<WinogradConv<4>>(d_, w_, bias_, true);
        return *f4_;
    }

    ConvDesc d_, bd_;
    const float* w_;  // the caller's weights and bias
    const float* bias_;
    bool flippable_ = false;  // the backward pass is a convolution Winograd applies to (bd_)
    std::unique_ptr<ConvKernel> gemm_;
    std::unique_ptr<WinogradConv<2>> f2_, backward_;
    std::unique_ptr<WinogradConv<4>> f4_;
    AlignedFloats sum_;  // backward with accumulate
};

}  // namespace

bool winograd_applies(const ConvDesc& d) {
    constexpr int L = Vec::kLanes;
    const bool act = d.activation == Activation::kNone || d.activation == Activation::kRelu ||
                     d.activation == Activation::kRelu6;
    return d.kernel_h == 3 && d.kernel_w == 3 && d.stride_h == 1 && d.stride_w == 1 &&
           d.dilation_h == 1 && d.dilation_w == 1 && d.groups == 1 && d.in_c >= 16 &&
           d.in_c % L == 0 && d.out_c % L == 0 && act;
}

int winograd_tile(const ConvDesc& d, int batch) {
    const int64_t tiles2 = int64_t{batch} * ((d.out_h + 1) / 2) * ((d.out_w + 1) / 2);
    const int64_t tiles4 = int64_t{batch} * ((d.out_h + 3) / 4) * ((d.out_w + 3) / 4);
    // A few tiles with many channels (resnet's 7x7 x 512 layers at batch 1) are bound by
    // reading the transformed weights, 16/9 (F(2x2)) or 36/9 (F(4x4)) of the GEMM's, not by
    // multiply-adds: the GEMM reads its own once and splits them over threads.
    const auto weight_bound = [&](int64_t tiles, int positions) {
        return tiles < 32 && int64_t{positions} * d.in_c * d.out_c * 4 > (1 << 20);
    };
    // F(4x4) when its products (36 per 4x4 tile, tiles past the edge included) are at most 3/4
    // of F(2x2)'s (16 per 2x2 tile): a 56x56 or 28x28 image, or 14x14 from batch 2 on.
    if (!weight_bound(tiles4, 36) && tiles4 * 36 * 4 <= tiles2 * 16 * 3) return 4;
    return weight_bound(tiles2, 16) ? 0 : 2;
}

std::unique_ptr<ConvKernel> make_winograd_conv(const ConvDesc& d, const float* weights,
                                               const float* bias) {
    CNNLENS_ASSERT(winograd_applies(d));
    return std::make_unique<Conv3x3>(d, weights, bias);
}

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET
