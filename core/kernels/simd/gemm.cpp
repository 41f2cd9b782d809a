// The simd set's GEMM: weight packing, the kMR x kNR register-tile microkernels (kMR x one
// vector for narrow B) and the driver that blocks K for L1 and walks panels and row blocks.
#include "core/kernels/simd/gemm.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "core/base/assert.h"
#include "core/base/thread_pool.h"
#include "core/kernels/simd/simd.h"

#if defined(__clang__)
#define CNNLENS_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define CNNLENS_UNROLL _Pragma("GCC unroll 16")
#else
#define CNNLENS_UNROLL
#endif

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {
namespace {

// A K-block's B panel (rows x kNR floats) should stay in L1 while the row blocks stream past.
constexpr int kPanelBytes = 16 * 1024;
// Also the length of the sums the microkernel runs before adding them to C: at most 128 terms,
// so the rounding error of a long dot product (ResNet-50's K of 2048 to 4608) stays near that
// of a 128-term sum plus K/128 block additions on every target (wasm's 4-lane panels would
// otherwise hold 512 rows, and its mul+add rounds twice).
constexpr int kPanelRows = std::min(128, kPanelBytes / (kNR * static_cast<int>(sizeof(float))));
// GemmCall::long_blocks: the whole L1 budget in wasm's relaxed-SIMD copy (512 rows of its 4-lane
// panels), whose multiply-adds round once per term; SIMD128's mul+add rounds twice, and its
// 512-term sums reached the kernel tests' bound for a forward pass (40 roundings of a typical
// output). Under node the FMA build ran mobilenet_v2 0.96x, efficientnet_b0 0.96x and resnet18
// 0.95x as long as with 128-term blocks.
#if defined(__wasm_relaxed_simd__)
constexpr int kLongPanelRows = kPanelBytes / (kNR * static_cast<int>(sizeof(float)));
#else
constexpr int kLongPanelRows = kPanelRows;
#endif
constexpr int64_t kRowBlockBytes = 128 * 1024;
// A float call's K-block slices of A and its C rows: in L2, with room for the B panel in L1.
constexpr int64_t kCallBytes = 256 * 1024;

struct Micro {
    int taps, kc;
    const float* const* a;  // taps x kMR row pointers
    int a_off;
    const float* b;  // taps * kc rows of one panel's width
    float* const* c;
    int c_off, nr;
    const float* bias;    // one panel's width of values, or null
    bool load_c, finish;  // finish: last K-block, apply the activation
    Activation act;
    float alpha;
    // Row blocks of MR rows one call of micro runs (micro_exact runs one), block i's row
    // pointers at a + i * a_step and c + i * MR: a call per block cost as much as the block's
    // multiply-adds where K is short (a 1x1 convolution from 16 or 24 channels), most of all
    // through wasm's indirect calls.
    int blocks = 1;
    int a_step = 0;
};

// One row block of micro: rows pa (taps x kMR row pointers) into pc.
template <int MR, int NV>
inline void micro_block(const Micro& p, const float* const* pa, float* const* pc) {
    using V = Vec;
    using T = V::T;
    constexpr int L = V::kLanes;
    constexpr int W = NV * L;
    // Each call sums its K-block from zero (or the bias) and adds C afterwards: blocked
    // summation, whose rounding error grows with the block length instead of the whole K.
    T acc[MR][NV];
    {
        T b[NV];
        CNNLENS_UNROLL
        for (int v = 0; v < NV; ++v) b[v] = p.bias ? V::load(p.bias + v * L) : V::zero();
        CNNLENS_UNROLL
        for (int r = 0; r < MR; ++r) CNNLENS_UNROLL
        for (int v = 0; v < NV; ++v) acc[r][v] = b[v];
    }

    const float* b = p.b;
    for (int t = 0; t < p.taps; ++t) {
        const float* a[MR];
        CNNLENS_UNROLL
        for (int r = 0; r < MR; ++r) a[r] = pa[t * kMR + r] + p.a_off;
        for (int k = 0; k < p.kc; ++k) {
            T bv[NV];
            CNNLENS_UNROLL
            for (int v = 0; v < NV; ++v) bv[v] = V::load(b + v * L);
            b += W;
            CNNLENS_UNROLL
            for (int r = 0; r < MR; ++r) {
                const T x = V::load_splat(a[r] + k);
                CNNLENS_UNROLL
                for (int v = 0; v < NV; ++v) acc[r][v] = V::fma(x, bv[v], acc[r][v]);
            }
        }
    }

    if (p.load_c) {
        CNNLENS_UNROLL
        for (int r = 0; r < MR; ++r) {
            const float* c = pc[r] + p.c_off;
            if (p.nr == W) {
                CNNLENS_UNROLL
                for (int v = 0; v < NV; ++v) acc[r][v] = V::add(acc[r][v], V::load(c + v * L));
            } else {
                float tmp[W] = {};
                std::memcpy(tmp, c, sizeof(float) * p.nr);
                CNNLENS_UNROLL
                for (int v = 0; v < NV; ++v) acc[r][v] = V::add(acc[r][v], V::load(tmp + v * L));
            }
        }
    }

    const bool vec_act = is_vector_activation(p.act, p.alpha);
    if (p.finish && vec_act && p.act != Activation::kNone) {
        CNNLENS_UNROLL
        for (int r = 0; r < MR; ++r) CNNLENS_UNROLL
        for (int v = 0; v < NV; ++v) acc[r][v] = activate(p.act, p.alpha, acc[r][v]);
    }
    CNNLENS_UNROLL
    for (int r = 0; r < MR; ++r) {
        float* c = pc[r] + p.c_off;
        if (p.nr == W) {
            CNNLENS_UNROLL
            for (int v = 0; v < NV; ++v) V::store(c + v * L, acc[r][v]);
        } else {
            float tmp[W];
            CNNLENS_UNROLL
            for (int v = 0; v < NV; ++v) V::store(tmp + v * L, acc[r][v]);
            std::memcpy(c, tmp, sizeof(float) * p.nr);
        }
        if (p.finish && !vec_act) apply_activation(p.act, p.alpha, c, p.nr);
    }
}

// MR rows x NV vectors of C, for each of p.blocks row blocks.
template <int MR, int NV>
void micro(const Micro& p) {
    for (int blk = 0; blk < p.blocks; ++blk) {
        const float* const* pa = p.a + static_cast<int64_t>(blk) * p.a_step;
        float* const* pc = p.c + static_cast<int64_t>(blk) * MR;
        micro_block<MR, NV>(p, pa, pc);
    }
}

// Rows per exact microkernel call: a row's accumulators are 2 * NV double vectors, so 4 rows
// take 16 of AVX-512's 32 registers and 2 rows 8 of AVX2's 16.
constexpr int kExactMR = std::min(kMR, Vec::kLanes == 16 ? 4 : 2);
// Doubles per register, and the vector types of the exact path (GCC/clang vector extensions:
// the same code gives zmm, ymm or f64x2 on each target).
constexpr int kDL = Vec::kLanes / 2;
typedef double VecD __attribute__((vector_size(kDL * sizeof(double))));
typedef float VecH __attribute__((vector_size(kDL * sizeof(float))));

inline VecD load_widened(const float* p) {
    VecH h;
    std::memcpy(&h, p, sizeof h);
    return __builtin_convertvector(h, VecD);
}

// The exact microkernel: MR rows x W = NV * kLanes columns summed in double over the whole K
// (no K-blocks: one rounding per output), bias first; load_c adds C in double too. A product
// of two floats is exact in double, so with or without FMA each term is added exactly once.
template <int MR, int NV>
void micro_exact(const Micro& p) {
    constexpr int W = NV * Vec::kLanes;
    constexpr int RD = W / kDL;  // double vectors per row
    VecD acc[MR][RD];
    for (int q = 0; q < RD; ++q) {
        const VecD b0 = p.bias ? load_widened(p.bias + q * kDL) : VecD{};
        for (int r = 0; r < MR; ++r) acc[r][q] = b0;
    }
    const float* b = p.b;
    for (int t = 0; t < p.taps; ++t) {
        const float* a[MR];
        CNNLENS_UNROLL
        for (int r = 0; r < MR; ++r) a[r] = p.a[t * kMR + r] + p.a_off;
        for (int k = 0; k < p.kc; ++k) {
            VecD bd[RD];
            CNNLENS_UNROLL
            for (int q = 0; q < RD; ++q) bd[q] = load_widened(b + q * kDL);
            b += W;
            CNNLENS_UNROLL
            for (int r = 0; r < MR; ++r) {
                const VecD x = VecD{} + static_cast<double>(a[r][k]);
                CNNLENS_UNROLL
                for (int q = 0; q < RD; ++q) acc[r][q] += x * bd[q];
            }
        }
    }
    for (int r = 0; r < MR; ++r) {
        float* c = p.c[r] + p.c_off;
        float tmp[W] = {};
        if (p.load_c) {
            std::memcpy(tmp, c, sizeof(float) * p.nr);
            for (int q = 0; q < RD; ++q) acc[r][q] += load_widened(tmp + q * kDL);
        }
        for (int q = 0; q < RD; ++q) {
            const VecH h = __builtin_convertvector(acc[r][q], VecH);
            std::memcpy(tmp + q * kDL, &h, sizeof h);
        }
        std::memcpy(c, tmp, sizeof(float) * p.nr);
        apply_activation(p.act, p.alpha, c, p.nr);
    }
}

using MicroFn = void (*)(const Micro&);

// kMicro[nv - 1][mr - 1]: the microkernel for mr rows and nv vectors.
template <int NV, int... I>
constexpr auto micro_row(std::integer_sequence<int, I...>) {
    return std::array<MicroFn, sizeof...(I)>{&micro<I + 1, NV>...};
}
constexpr std::array<std::array<MicroFn, kMR>, 2> kMicro = {
    micro_row<1>(std::make_integer_sequence<int, kMR>{}),
    micro_row<2>(std::make_integer_sequence<int, kMR>{})};
template <int NV, int... I>
constexpr auto micro_exact_row(std::integer_sequence<int, I...>) {
    return std::array<MicroFn, sizeof...(I)>{&micro_exact<I + 1, NV>...};
}
constexpr std::array<std::array<MicroFn, kMR>, 2> kMicroExact = {
    micro_exact_row<1>(std::make_integer_sequence<int, kMR>{}),
    micro_exact_row<2>(std::make_integer_sequence<int, kMR>{})};
static_assert(kNR == 2 * Vec::kLanes);

// K is cut into blocks whose B rows fit the panel budget: whole taps when a tap fits, else
// channel chunks of one tap. Block i covers taps [t0, t0 + nt), channels [c0, c0 + kc).
struct KBlock {
    int t0, nt, c0, kc;
};

struct KPlan {
    int taps, kc, taps_per, chunk, chunks, count;
    KPlan(int taps_, int kc_, int rows) : taps(taps_), kc(kc_) {
        if (static_cast<int64_t>(taps) * kc <= rows || kc == 0) {
            taps_per = std::max(taps, 1), chunk = kc, chunks = 1;
        } else if (kc <= rows) {
            const int blocks = (taps + rows / kc - 1) / (rows / kc);
            taps_per = (taps + blocks - 1) / blocks, chunk = kc, chunks = 1;
        } else {
            const int n = (kc + rows - 1) / rows;
            taps_per = 1, chunk = (kc + n - 1) / n, chunks = (kc + chunk - 1) / chunk;
        }
        count = (taps + taps_per - 1) / taps_per * chunks;
    }
    KBlock at(int i) const {
        const int t0 = i / chunks * taps_per, c0 = i % chunks * chunk;
        return {t0, std::min(taps_per, taps - t0), c0, std::min(chunk, kc - c0)};
    }
};

}  // namespace

void pack_b(const float* src, int k, int n, int64_t row_stride, int64_t col_stride,
            const float* bias, PackedB& out) {
    out.k = k;
    out.n = n;
    out.width = n <= Vec::kLanes ? Vec::kLanes : kNR;
    const int panels = out.panels(), w = out.width;
    out.data.assign(static_cast<size_t>(panels) * k * w, 0.f);
    for (int j = 0; j < panels; ++j) {
        float* dst = out.data.data() + static_cast<int64_t>(j) * k * w;
        const int cols = std::min(w, n - j * w);
        if (col_stride == 1) {  // rows of B are contiguous: copy a panel's row at once
            for (int i = 0; i < k; ++i)
                std::memcpy(dst + static_cast<int64_t>(i) * w, src + i * row_stride + j * w,
                            sizeof(float) * cols);
            continue;
        }
        for (int i = 0; i < k; ++i)
            for (int q = 0; q < cols; ++q)
                dst[static_cast<int64_t>(i) * w + q] =
                    src[i * row_stride + (j * w + q) * col_stride];
    }
    out.bias.clear();
    if (bias) {
        out.bias.assign(static_cast<size_t>(panels) * w, 0.f);
        std::copy(bias, bias + n, out.bias.begin());
    }
}

std::vector<PackedB>& tape_weights(int groups) {
    thread_local std::vector<PackedB> packed;
    if (static_cast<int>(packed.size()) < groups) packed.resize(static_cast<size_t>(groups));
    return packed;
}

void gemm(const GemmCall& g) {
    const PackedB& b = *g.b;
    CNNLENS_ASSERT(static_cast<int64_t>(g.taps) * g.kc == b.k);
    CNNLENS_ASSERT(g.mr >= 1 && g.mr <= kMR);
    if (g.rows <= 0 || b.n <= 0) return;
    const int last_panel = g.panel_end < 0 ? b.panels() : std::min(g.panel_end, b.panels());
    if (g.exact) {
        const auto& exact_fn = kMicroExact[b.width / Vec::kLanes - 1];
        Micro p;
        p.taps = g.taps;
        p.kc = g.kc;
        p.a_off = g.a_off;
        p.load_c = g.load_c;
        p.finish = true;
        p.act = g.act;
        p.alpha = g.alpha;
        for (int j = g.panel_begin; j < last_panel; ++j) {
            p.b = b.panel(j);
            p.c_off = g.c_off + j * b.width;
            p.nr = std::min(b.width, b.n - j * b.width);
            p.bias = !g.load_c && !b.bias.empty() ? b.bias.data() + j * b.width : nullptr;
            // Sub-blocks of kExactMR rows of an mr-row block (whose row pointers stay grouped as
            // gemm expects): a row's W doubles take 2 * NV registers.
            for (int r0 = 0; r0 < g.rows;) {
                const int n = std::min({kExactMR, g.rows - r0, g.mr - r0 % g.mr});
                p.a = g.a + static_cast<int64_t>(r0 / g.mr) * g.taps * kMR + r0 % g.mr;
                p.c = g.c + r0;
                exact_fn[n - 1](p);
                r0 += n;
            }
        }
        return;
    }
    const KPlan plan(g.taps, g.kc, g.long_blocks ? kLongPanelRows : kPanelRows);
    const auto& micro_fn = kMicro[b.width / Vec::kLanes - 1];
    // K-block kb of panel j for every row block. Each output's sum runs the K-blocks in order
    // whichever loop is outside, so both orders give the same bits.
    const auto run = [&](int kb, int j) {
        const KBlock blk = plan.at(kb);
        const bool first = kb == 0;
        Micro p;
        p.taps = blk.nt;
        p.kc = blk.kc;
        p.a_off = g.a_off + blk.c0;
        p.load_c = g.load_c || !first;
        p.finish = kb == plan.count - 1;
        p.act = g.act;
        p.alpha = g.alpha;
        p.b = b.panel(j) + (static_cast<int64_t>(blk.t0) * g.kc + blk.c0) * b.width;
        p.c_off = g.c_off + j * b.width;
        p.nr = std::min(b.width, b.n - j * b.width);
        p.bias = first && !g.load_c && !b.bias.empty() ? b.bias.data() + j * b.width : nullptr;
        // The full row blocks in one call, then the last, shorter one.
        const int full = g.rows / g.mr, tail = g.rows - full * g.mr;
        p.a = g.a + blk.t0 * kMR;
        p.a_step = g.taps * kMR;
        p.c = g.c;
        if (full > 0) {
            p.blocks = full;
            micro_fn[g.mr - 1](p);
        }
        if (tail > 0) {
            p.a += static_cast<int64_t>(full) * p.a_step;
            p.c += full * g.mr;
            p.blocks = 1;
            micro_fn[tail - 1](p);
        }
    };
    if (g.rows <= g.mr || int64_t{last_panel - g.panel_begin} * b.width > 4 * int64_t{g.rows}) {
        // A few rows against many columns (a batch-1 fully connected layer, resnet's 7x7 x 512
        // layers at batch 1): B outweighs A several times, so each panel streams through all
        // its K-blocks at once (the prefetchers follow one stream) instead of jumping from panel
        // to panel, and A's rows come back from cache for each panel.
        for (int j = g.panel_begin; j < last_panel; ++j)
            for (int kb = 0; kb < plan.count; ++kb) run(kb, j);
        return;
    }
    // The panel's K-block (in L1) stays while the row blocks of this call (in L2) stream past.
    for (int kb = 0; kb < plan.count; ++kb)
        for (int j = g.panel_begin; j < last_panel; ++j) run(kb, j);
}

int gemm_rows_per_call(int64_t k, int64_t n, bool exact, bool long_blocks) {
    const int64_t block = long_blocks ? kLongPanelRows : kPanelRows;
    const int64_t row_bytes =
        (exact ? std::max<int64_t>(k, 1)
               : std::max<int64_t>(std::min<int64_t>(k, block), 1) + (k > block ? n : 0)) *
        static_cast<int64_t>(sizeof(float));
    const int64_t rows = (exact ? kRowBlockBytes : kCallBytes) / row_bytes;
    return static_cast<int>(std::clamp<int64_t>(rows / kMR * kMR, kMR, 1024 / kMR * kMR));
}

int rows_per_chunk(int64_t rows, int step) {
    const int threads = pool_threads();
    if (threads <= 1) return step;
    // A multiple of the threads' count of chunks, of nearly equal sizes: the pool hands each
    // thread a run of consecutive chunks (784 rows in chunks of 256 had gone 512 to 272).
    int64_t chunks = (rows + step - 1) / step;
    chunks = (chunks + threads - 1) / threads * threads;
    const int64_t share = (rows + chunks - 1) / chunks;
    return static_cast<int>(std::clamp<int64_t>((share + kMR - 1) / kMR * kMR, kMR, step));
}

PanelSplit::PanelSplit(int64_t r, int step_for_l2, int p) : rows(r), panels(p) {
    const int threads = in_parallel_region() ? 1 : pool_threads();  // nested loops run inline
    step = step_for_l2;
    chunks = static_cast<int>((rows + step - 1) / step);
    if (threads <= 1) return;
    if (chunks >= 2 * threads || panels < 2) {
        step = rows_per_chunk(rows, step_for_l2);
        chunks = static_cast<int>((rows + step - 1) / step);
        return;
    }
    // Two pieces per thread, so that a piece of heavier rows (a panel of padding columns) evens
    // out; row chunks of nearly equal sizes, since each thread takes whole chunks when there
    // are as many as threads (resnet's 14x14 stride-2 layer: 196 rows had gone as 128 and 68).
    groups = std::min(panels, (2 * threads + chunks - 1) / chunks);
    const int64_t even = (rows + chunks - 1) / chunks;
    step = static_cast<int>(std::min<int64_t>(step, (even + kMR - 1) / kMR * kMR));
    chunks = static_cast<int>((rows + step - 1) / step);
}

void gemm_strided(const PackedB& b, int rows, const float* a, int64_t lda, float* c, int64_t ldc,
                  bool load_c, Activation act, float alpha, std::vector<RowTables>& tables,
                  bool exact) {
    const PanelSplit split(rows, gemm_rows_per_call(b.k, b.n, exact), b.panels());
    if (tables.size() < static_cast<size_t>(pool_threads()))
        tables.resize(static_cast<size_t>(pool_threads()));
    for (RowTables& t : tables) t.reserve(static_cast<int>(std::min<int64_t>(split.step, rows)), 1);
    parallel_for(split.pieces(), 1, [&](int64_t i0, int64_t i1, int thread) {
        RowTables& t = tables[static_cast<size_t>(thread)];
        for (int64_t i = i0; i < i1; ++i) {
            const int r0 = static_cast<int>(split.chunk(i) * split.step);
            const int n = std::min(split.step, rows - r0);
            const int mr = block_rows(n);
            for (int r = 0; r < n; ++r) {
                t.a_at(r, 0, 1, mr) = a + (r0 + r) * lda;
                t.c[r] = c + (r0 + r) * ldc;
            }
            GemmCall call;
            call.b = &b;
            call.rows = n;
            call.mr = mr;
            call.kc = b.k;
            call.a = t.a.data();
            call.c = t.c.data();
            call.load_c = load_c;
            call.act = act;
            call.alpha = alpha;
            call.exact = exact;
            call.panel_begin = split.begin(i);
            call.panel_end = split.end(i);
            gemm(call);
        }
    });
}

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET
