// The simd set's GEMM: C = bias + A·B or C += A·B, B packed once into column panels, A given
// as row pointers so a convolution can point rows at input pixels instead of copying them
// (an indirect GEMM: no im2col buffer on the forward pass).
#pragma once
#include <cstdint>
#include <vector>

#include "core/kernels/kernels.h"
#include "core/kernels/simd/vec.h"

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {

// Register tile of the microkernel: kMR rows x kNR columns of accumulators (two vectors per
// row). AVX2: 6 x 16, 12 of the 16 ymm registers. 128-bit: 4 x 8; V8 allocates 15 xmm
// registers and needs a temporary per mul+add, and 4 x 8 measured a few per cent faster than
// 6 x 8 under node (CNNLENS_SIMD_MR overrides, for such experiments).
inline constexpr int kNR = 2 * Vec::kLanes;
#ifdef CNNLENS_SIMD_MR
inline constexpr int kMR = CNNLENS_SIMD_MR;
#else
inline constexpr int kMR = Vec::kLanes == 16 ? 8 : Vec::kLanes == 8 ? 6 : 4;
#endif

// B[k][n] packed into panels of `width` columns; panel j holds k rows of `width` floats,
// columns past n are zero. bias (if any) is padded to the same width. The width is kNR (two
// vectors), or one vector when n fits in one: a narrow layer (7 classes) then wastes half as
// many multiply-adds on padding.
struct PackedB {
    int k = 0, n = 0, width = kNR;
    AlignedFloats data;
    AlignedFloats bias;  // empty: no bias
    int panels() const { return (n + width - 1) / width; }
    const float* panel(int j) const { return data.data() + static_cast<int64_t>(j) * k * width; }
};

// Packs B[i][j] = src[i * row_stride + j * col_stride] (swap the strides to pack a transpose).
// bias may be null.
void pack_b(const float* src, int k, int n, int64_t row_stride, int64_t col_stride,
            const float* bias, PackedB& out);

// Packed weights for a tape pass's exact GEMM, of the calling thread, shared by every layer (at
// least `groups` of them): a layer packs into them on each tape pass instead of keeping a packed
// copy, so a gradient holds one layer's packed forward weights instead of all of them.
std::vector<PackedB>& tape_weights(int groups);

// One GEMM over `rows` rows (C has b->n columns). Row r's K = taps * kc values are `taps`
// segments of kc floats; segment t of row r starts at
//     a[(r / mr) * taps * kMR + t * kMR + r % mr] + a_off
// (pointers grouped per block of mr <= kMR rows, so the microkernel reads its own
// contiguously; see RowTables). The output row r is c[r] + c_off.
struct GemmCall {
    const PackedB* b = nullptr;
    int rows = 0, taps = 1, kc = 0;
    int mr = kMR;  // rows per microkernel block (block_rows(rows))
    const float* const* a = nullptr;
    int a_off = 0;
    float* const* c = nullptr;
    int c_off = 0;
    bool load_c = false;  // C += A·B (bias ignored) instead of C = bias + A·B
    Activation act = Activation::kNone;
    float alpha = 0.f;
    // Sum each dot product (bias included) in double and round it once, as the reference set
    // does: the tape pass, where a ReLU or max-pool decision taken on rounding noise moves the
    // gradient. About half the float path's speed.
    bool exact = false;
    // Float path: K-blocks as long as a panel's L1 budget allows (512 rows of the 4-lane panels
    // of wasm's relaxed-SIMD copy) instead of 128 terms, for fewer passes over C. A prediction's
    // forward pass takes them; tape passes keep 128-term blocks, so a gradient rounds alike on
    // every target. Elsewhere the two are the same.
    bool long_blocks = false;
    // The B panels (of b->width columns) this call computes: [panel_begin, panel_end), all of
    // them when panel_end < 0. Threads may split a layer by panels (PanelSplit): each output is
    // computed the same way whichever call computes it.
    int panel_begin = 0, panel_end = -1;
};
void gemm(const GemmCall& call);

// How a GEMM of `rows` rows splits over the pool: by row chunks of `step` rows when there are
// enough of them for every thread, else (a layer of few pixels and many output channels, as at
// the end of a classifier, or a batch-1 fully connected layer) by groups of B panels within
// each chunk, so that threads share the weights' memory traffic instead of each reading all of
// it. pieces() items for parallel_for; piece i is row chunk chunk(i), panels [begin(i), end(i)).
struct PanelSplit {
    int64_t rows = 0;
    int step = 0, chunks = 0, groups = 1, panels = 0;
    PanelSplit(int64_t rows, int step_for_l2, int panels);
    int64_t pieces() const { return static_cast<int64_t>(chunks) * groups; }
    int64_t chunk(int64_t i) const { return i / groups; }
    int begin(int64_t i) const { return static_cast<int>(i % groups * panels / groups); }
    int end(int64_t i) const { return static_cast<int>((i % groups + 1) * panels / groups); }
};

// Rows per microkernel block for a call of `rows` rows: as few blocks as kMR-row ones, of
// nearly equal sizes. A last block of one or two rows runs at the latency of its few
// multiply-add chains, not at their throughput: resnet's 7x7 images (49 rows) run 7 blocks of
// 7 instead of 6 of 8 and one of 1. Each row's sums are the same whatever the block.
inline int block_rows(int rows) {
    const int blocks = std::max(1, (rows + kMR - 1) / kMR);
    return std::max(1, (rows + blocks - 1) / blocks);
}

// Row-pointer tables for GemmCall, kept in kernel objects so calls do not allocate.
struct RowTables {
    std::vector<const float*> a;
    std::vector<float*> c;
    void reserve(int rows, int taps) {  // blocks of block_rows(n) rows, for any n <= rows
        const size_t blocks = static_cast<size_t>((rows + kMR - 1) / kMR);
        if (a.size() < blocks * taps * kMR) a.resize(blocks * taps * kMR);
        if (c.size() < static_cast<size_t>(rows)) c.resize(rows);
    }
    const float*& a_at(int r, int t, int taps, int mr) {
        return a[static_cast<size_t>(r / mr) * taps * kMR + t * kMR + r % mr];
    }
};

// Rows per GEMM call of k x n weights. A call reads the whole of B once, so calls are as long
// as the cache allows: the float path walks K in blocks, so a call's rows need only their
// K-block slice of A in L2, and their C rows when there are several K-blocks (a layer of few
// pixels and large weights, resnet's 7x7 x 512, then reads its weights once instead of once per
// few rows). The exact path sums whole rows of K, so its A rows (rows x k floats) stay in L2.
int gemm_rows_per_call(int64_t k, int64_t n, bool exact, bool long_blocks = false);
// `step` (rows per call, a multiple of kMR), made small enough that `rows` split into a
// multiple of the pool's threads of calls, of nearly equal sizes.
int rows_per_chunk(int64_t rows, int step);

// C[r] = bias + A[r]·B (or C[r] += A[r]·B) for rows of a plain strided matrix, split over the
// pool (PanelSplit); tables holds one RowTables per pool thread (resized as needed).
void gemm_strided(const PackedB& b, int rows, const float* a, int64_t lda, float* c, int64_t ldc,
                  bool load_c, Activation act, float alpha, std::vector<RowTables>& tables,
                  bool exact = false);

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET
