// Convolutions that are GEMMs (groups == 1, or grouped but not depthwise). Forward: indirect GEMM
// over pointers to input pixels per tap (padding points at zeros), no im2col. Backward: for
// stride-1 kernels larger than 1x1 the flipped convolution (flipped_transpose), run forward;
// else GEMM with the transposed weights, then col2im; 1x1 kernels write grad_in in place.
#include <algorithm>
#include <cstring>
#include <memory>

#include "core/base/assert.h"
#include "core/base/thread_pool.h"
#include "core/kernels/simd/gemm.h"
#include "core/kernels/simd/simd.h"

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {
namespace {

class GemmConv final : public ConvKernel {
public:
    // with_backward false: forward only (no transposed or flipped weights are packed).
    // durable false: `w` is a temporary (the flipped convolution's), packed at once; otherwise
    // it outlives the kernel and each path packs (or borrows) it when first used.
    GemmConv(const ConvDesc& d, const float* w, const float* bias, bool with_flipped = true,
             bool with_backward = true, bool durable = true)
        : d_(d),
          taps_(d.kernel_h * d.kernel_w),
          cpg_(d.in_c / d.groups),
          opg_(d.out_c / d.groups),
          pixels_(d.out_h * d.out_w),
          has_backward_(with_backward) {
        // Stride-1 kernels larger than 1x1: the backward pass as the flipped convolution (an
        // indirect GEMM with K = taps * out_c) instead of a GEMM with K = out_c and col2im. With
        // few outputs (the 7-class 3x3 head of the default model) that K is tiny and the GEMM
        // would spend its time loading and storing C.
        // Both backward paths pack their weights when first used: forward-only users never hold
        // them.
        ConvDesc bd;
        use_flipped_ = with_backward && with_flipped && taps_ > 1 &&
                       flipped_transpose(d, nullptr, bd, nullptr);
        if (durable) {
            w_ = w;
            bias_ = bias;
        } else {
            pack_forward(w, bias);
        }

        offsets_.resize(static_cast<size_t>(pixels_) * taps_);
        for (int oy = 0; oy < d.out_h; ++oy)
            for (int ox = 0; ox < d.out_w; ++ox)
                for (int ky = 0; ky < d.kernel_h; ++ky)
                    for (int kx = 0; kx < d.kernel_w; ++kx) {
                        const int iy = oy * d.stride_h - d.pad_top + ky * d.dilation_h;
                        const int ix = ox * d.stride_w - d.pad_left + kx * d.dilation_w;
                        const bool inside = iy >= 0 && iy < d.in_h && ix >= 0 && ix < d.in_w;
                        offsets_[(static_cast<size_t>(oy) * d.out_w + ox) * taps_ +
                                 ky * d.kernel_w + kx] =
                            inside ? static_cast<int32_t>((int64_t{iy} * d.in_w + ix) * d.in_c)
                                   : -1;
                    }
        zeros_.assign(d.in_c, 0.f);
        in_image_ = static_cast<int64_t>(d.in_h) * d.in_w * d.in_c;
        identity_1x1_ = taps_ == 1 && d.out_h == d.in_h && d.out_w == d.in_w && d.stride_h == 1 &&
                        d.stride_w == 1 && d.pad_top == 0 && d.pad_left == 0;
        // With a few input channels (a grey or RGB first layer) a tap is one to three multiply-adds
        // per row, and the microkernel's per-tap pointer setup dominates: copy the taps of a row
        // block into one contiguous row each (im2col) and run a plain GEMM with K = taps * in_c.
        im2col_ = d.groups == 1 && taps_ > 1 && cpg_ < 4;
    }

    // A prediction's pass takes long K-blocks (GemmCall::long_blocks); the float32 tape's and
    // the uniform passes keep the tape's 128-term blocks.
    void forward(const float* in, float* out, int batch) override {
        run_forward(in, out, batch, false, true);
    }
    void forward_tape(const float* in, float* out, int batch) override {
        run_forward(in, out, batch, true, false);
    }
    void forward_uniform(const float* in, float* out, int batch) override {
        run_forward(in, out, batch, false, false);
    }
    void forward_float_tape(const float* in, float* out, int batch) override {
        run_forward(in, out, batch, false, false);
    }

    // Weights [tap][ic][out_c]: group g is the K x opg block at column g * opg.
    void pack_forward(const float* w, const float* bias) {
        const int k = taps_ * cpg_;
        fwd_.resize(d_.groups);
        for (int g = 0; g < d_.groups; ++g)
            pack_b(w + g * opg_, k, opg_, d_.out_c, 1, bias ? bias + g * opg_ : nullptr, fwd_[g]);
    }

    // B per group for a pass. The fast forward packs the weights on first use and keeps them;
    // the tape's exact GEMM (a gradient's forward) reads that copy when there is one, else packs
    // them on every pass into tape_weights(), for one more pass over the weights.
    const std::vector<PackedB>& forward_weights(bool exact) {
        if (exact && w_ && fwd_.empty()) {
            std::vector<PackedB>& tape = tape_weights(d_.groups);
            const int k = taps_ * cpg_;
            for (int g = 0; g < d_.groups; ++g)
                pack_b(w_ + g * opg_, k, opg_, d_.out_c, 1, bias_ ? bias_ + g * opg_ : nullptr,
                       tape[static_cast<size_t>(g)]);
            return tape;
        }
        if (fwd_.empty()) pack_forward(w_, bias_);
        return fwd_;
    }

    void run_forward(const float* in, float* out, int batch, bool exact, bool long_blocks) {
        const int64_t rows = static_cast<int64_t>(batch) * pixels_;
        const int k = taps_ * cpg_;
        const std::vector<PackedB>& weights = forward_weights(exact);
        const PanelSplit split(rows, gemm_rows_per_call(k, opg_, exact, long_blocks),
                               d_.groups == 1 ? weights[0].panels() : 1);
        const int step = split.step;
        scratch(std::min<int64_t>(step, rows), taps_, im2col_ ? static_cast<int64_t>(step) * k : 0);
        parallel_for(split.pieces(), 1, [&](int64_t i0, int64_t i1, int thread) {
            RowTables& tables = tables_[static_cast<size_t>(thread)];
            for (int64_t i = i0; i < i1; ++i) {
                const int64_t r0 = split.chunk(i) * step;
                const int n = static_cast<int>(std::min<int64_t>(step, rows - r0));
                const int mr = block_rows(n);
                for (int r = 0; r < n; ++r) {
                    const int64_t row = r0 + r;
                    const float* image = in + row / pixels_ * in_image_;
                    const int32_t* off = offsets_.data() + row % pixels_ * taps_;
                    tables.c[r] = out + row * d_.out_c;
                    if (im2col_) {
                        float* col =
                            cols_[static_cast<size_t>(thread)].data() + static_cast<int64_t>(r) * k;
                        im2col_row(image, off, col);
                        tables.a_at(r, 0, 1, mr) = col;
                        continue;
                    }
                    for (int t = 0; t < taps_; ++t)
                        tables.a_at(r, t, taps_, mr) = off[t] >= 0 ? image + off[t] : zeros_.data();
                }
                for (int g = 0; g < d_.groups; ++g) {
                    GemmCall call;
                    call.b = &weights[static_cast<size_t>(g)];
                    call.rows = n;
                    call.mr = mr;
                    call.taps = im2col_ ? 1 : taps_;
                    call.kc = im2col_ ? k : cpg_;
                    call.a = tables.a.data();
                    call.a_off = g * cpg_;
                    call.c = tables.c.data();
                    call.c_off = g * opg_;
                    call.act = d_.activation;
                    call.alpha = d_.alpha;
                    call.exact = exact;
                    call.long_blocks = long_blocks;
                    if (d_.groups == 1) {
                        call.panel_begin = split.begin(i);
                        call.panel_end = split.end(i);
                    }
                    gemm(call);
                }
            }
        });
    }

    void backward_input(const float* gp, float* gin, int batch, bool accumulate) override {
        CNNLENS_ASSERT(has_backward_);
        if (use_flipped_ && !flipped_) {
            ConvDesc bd;
            AlignedFloats bw;
            flipped_transpose(d_, w_, bd, &bw);
            flipped_ = std::make_unique<GemmConv>(bd, bw.data(), nullptr, false, false, false);
        }
        if (flipped_)
            return forward_into(*flipped_, gp, gin, batch, static_cast<int64_t>(batch) * in_image_,
                                accumulate, sum_);
        if (bwd_.empty()) {
            const int k = taps_ * cpg_;
            bwd_.resize(d_.groups);
            for (int g = 0; g < d_.groups; ++g)
                pack_b(w_ + g * opg_, opg_, k, 1, d_.out_c, nullptr, bwd_[g]);
        }
        const int64_t rows = static_cast<int64_t>(batch) * pixels_;
        // A 1x1 kernel's output rows map to distinct input pixels, so the GEMM writes grad_in
        // itself; when that map is onto (identity_1x1_) it may even overwrite without zeroing.
        const bool in_place = taps_ == 1;
        if (!accumulate && !identity_1x1_) std::memset(gin, 0, sizeof(float) * batch * in_image_);
        const int64_t col_width = static_cast<int64_t>(taps_) * cpg_;
        int step = in_place ? gemm_rows_per_call(opg_, cpg_, false)
                            : std::max(kMR, static_cast<int>(std::min<int64_t>(
                                                1024, kColBytes / (col_width * sizeof(float)))));
        // In place, few rows split by panels of the input channels too (PanelSplit).
        const PanelSplit split(rows, step, in_place && d_.groups == 1 ? bwd_[0].panels() : 1);
        if (in_place) step = split.step;
        scratch(std::min<int64_t>(step, rows), 1, in_place ? 0 : step * col_width);
        const auto run_rows = [&](int64_t first, int64_t last, int thread, int64_t piece = -1) {
            RowTables& tables = tables_[static_cast<size_t>(thread)];
            float* cols = cols_[static_cast<size_t>(thread)].data();
            float* junk = junk_.data() + static_cast<int64_t>(thread) * d_.in_c;
            for (int64_t r0 = first; r0 < last; r0 += step) {
                const int n = static_cast<int>(std::min<int64_t>(step, last - r0));
                const int mr = block_rows(n);
                for (int r = 0; r < n; ++r) {
                    const int64_t row = r0 + r;
                    tables.a_at(r, 0, 1, mr) = gp + row * d_.out_c;
                    if (in_place) {
                        const int32_t off = offsets_[row % pixels_];
                        tables.c[r] = off >= 0 ? gin + row / pixels_ * in_image_ + off : junk;
                    } else {
                        tables.c[r] = cols + r * col_width;
                    }
                }
                for (int g = 0; g < d_.groups; ++g) {
                    GemmCall call;
                    call.b = &bwd_[g];
                    call.rows = n;
                    call.mr = mr;
                    call.kc = opg_;
                    call.a = tables.a.data();
                    call.a_off = g * opg_;
                    call.c = tables.c.data();
                    call.c_off = in_place ? g * cpg_ : 0;
                    call.load_c = in_place && (accumulate || !identity_1x1_);
                    if (piece >= 0) {
                        call.panel_begin = split.begin(piece);
                        call.panel_end = split.end(piece);
                    }
                    gemm(call);
                    if (!in_place) col2im(gin, r0, n, g, cols);
                }
            }
        };
        // In place, row chunks write disjoint pixels; col2im's windows overlap within an image,
        // so that path splits the batch by images only.
        if (in_place)
            parallel_for(split.pieces(), 1, [&](int64_t i0, int64_t i1, int t) {
                for (int64_t i = i0; i < i1; ++i) {
                    const int64_t r0 = split.chunk(i) * step;
                    run_rows(r0, std::min(rows, r0 + step), t, split.groups > 1 ? i : -1);
                }
            });
        else
            parallel_for(batch, 1, [&](int64_t b0, int64_t b1, int t) {
                run_rows(b0 * pixels_, b1 * pixels_, t);
            });
    }

private:
    static constexpr int64_t kColBytes = 128 * 1024;

    // One output pixel's im2col row (taps x cpg_ floats, one group). A kernel row whose taps
    // all fall inside the image reads kernel_w * in_c consecutive floats when taps are adjacent
    // pixels (dilation 1) and the group is every channel: one copy instead of one per tap (a
    // 7x7 RGB first layer: 7 copies of 21 floats instead of 49 of 3).
    void im2col_row(const float* image, const int32_t* off, float* col) const {
        const int kw = d_.kernel_w, run = kw * cpg_;
        const bool runs = d_.dilation_w == 1 && cpg_ == d_.in_c;
        for (int ky = 0; ky < d_.kernel_h; ++ky) {
            const int32_t* o = off + ky * kw;
            float* dst = col + static_cast<int64_t>(ky) * run;
            if (runs && o[0] >= 0 && o[kw - 1] >= 0) {
                copy_short(dst, image + o[0], run);
                continue;
            }
            for (int kx = 0; kx < kw; ++kx) {
                const float* src = o[kx] >= 0 ? image + o[kx] : zeros_.data();
                for (int c = 0; c < cpg_; ++c) dst[kx * cpg_ + c] = src[c];
            }
        }
    }

    // Per-thread row tables and column buffers for calls of up to `rows` rows.
    void scratch(int64_t rows, int taps, int64_t col_floats) {
        const size_t threads = static_cast<size_t>(pool_threads());
        if (tables_.size() < threads) tables_.resize(threads);
        if (cols_.size() < threads) cols_.resize(threads);
        if (junk_.size() < threads * d_.in_c) junk_.resize(threads * d_.in_c);
        for (size_t t = 0; t < threads; ++t) {
            tables_[t].reserve(static_cast<int>(rows), taps);
            if (cols_[t].size() < static_cast<size_t>(col_floats))
                cols_[t].resize(static_cast<size_t>(col_floats));
        }
    }

    void col2im(float* gin, int64_t r0, int n, int g, const float* cols) const {
        for (int r = 0; r < n; ++r) {
            const int64_t row = r0 + r;
            float* image = gin + row / pixels_ * in_image_ + g * cpg_;
            const int32_t* off = offsets_.data() + row % pixels_ * taps_;
            const float* col = cols + static_cast<int64_t>(r) * taps_ * cpg_;
            if (cpg_ < Vec::kLanes) {  // a grey or RGB first layer: a few floats per tap
                // A kernel row of adjacent taps inside the image is kernel_w * in_c consecutive
                // floats there, as in im2col_row: one vector add instead of one per float.
                const int kw = d_.kernel_w, run = kw * cpg_;
                const bool runs = d_.dilation_w == 1 && cpg_ == d_.in_c;
                for (int ky = 0; ky < d_.kernel_h; ++ky) {
                    const int32_t* o = off + ky * kw;
                    const float* src = col + static_cast<int64_t>(ky) * run;
                    if (runs && o[0] >= 0 && o[kw - 1] >= 0) {
                        add_to(image + o[0], src, run);
                        continue;
                    }
                    for (int kx = 0; kx < kw; ++kx)
                        if (o[kx] >= 0)
                            for (int c = 0; c < cpg_; ++c) image[o[kx] + c] += src[kx * cpg_ + c];
                }
                continue;
            }
            for (int t = 0; t < taps_; ++t)
                if (off[t] >= 0) add_to(image + off[t], col + t * cpg_, cpg_);
        }
    }

    ConvDesc d_;
    int taps_, cpg_, opg_, pixels_;
    bool has_backward_;
    int64_t in_image_ = 0;
    bool identity_1x1_ = false;
    bool im2col_ = false;
    const float* w_ = nullptr;  // the caller's weights and bias (durable), packed on first use
    const float* bias_ = nullptr;
    bool use_flipped_ = false;        // the backward pass is flipped_
    std::vector<PackedB> fwd_, bwd_;  // per group: [taps*cpg][opg] and its transpose
    // [out pixel][tap]: float offset of the input pixel in its image, -1 = padding (an image has
    // at most limits::kMaxTensorElements floats, so 32 bits hold it).
    memory::CountedVector<int32_t> offsets_;
    AlignedFloats zeros_, junk_;
    std::vector<AlignedFloats>
        cols_;  // per thread: im2col rows (forward) or GEMM output before col2im
    std::vector<RowTables> tables_;      // per thread
    std::unique_ptr<GemmConv> flipped_;  // the backward pass, when it is a stride-1 convolution
    AlignedFloats sum_;                  // flipped_ with accumulate
};

}  // namespace

std::unique_ptr<ConvKernel> make_gemm_conv(const ConvDesc& d, const float* weights,
                                           const float* bias, bool with_backward) {
    CNNLENS_ASSERT(d.groups >= 1 && d.in_c % d.groups == 0 && d.out_c % d.groups == 0);
    return std::make_unique<GemmConv>(d, weights, bias, true, with_backward);
}

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET
