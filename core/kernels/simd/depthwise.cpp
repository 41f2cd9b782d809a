// Depthwise convolution in NHWC, vectorised across channels. Forward and backward are one gather
// ("dst pixel = sum over taps of src pixel * w[tap]") over different tap lists; a multiplier
// m > 1 runs on an input expanded to out_c channels (c -> c*m + j).
#include <algorithm>
#include <cstring>

#include "core/base/assert.h"
#include "core/base/thread_pool.h"
#include "core/kernels/simd/simd.h"

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {
namespace {

// One image: dst[y][x][:] = init + sum over (ky, sy) in ys[y], (kx, sx) in xs[x] of
// src[sy][sx][:] * w[ky * kw + kx][:], init = bias, zero, or dst itself (load_dst).
struct Gather {
    const AxisTaps* ys;
    const AxisTaps* xs;
    int dst_h, dst_w, src_w, channels, kw;
    const float* w;     // [taps][channels]
    const float* bias;  // [channels] or null
    bool load_dst;
    Activation act;
    float alpha;
};

// Channels [c, c + NV * L) of `px` pixels sharing taps (pixel q reads sp[t] + q * d): NV * px
// accumulator chains, each weight vector loaded once for all pixels. Returns c + NV * L.
template <int NV, int PX>
inline int block(const Gather& p, int n, const float* const* sp, const float* const* wp, int64_t d,
                 float* o, int c, bool vec_act) {
    using V = Vec;
    using T = V::T;
    constexpr int L = V::kLanes;
    const int C = p.channels;
    T a[PX][NV];
    for (int q = 0; q < PX; ++q)
        for (int v = 0; v < NV; ++v) {
            const float* at = o + q * C + c + v * L;
            a[q][v] = p.load_dst ? V::load(at) : p.bias ? V::load(p.bias + c + v * L) : V::zero();
        }
    for (int t = 0; t < n; ++t) {
        const float* s = sp[t] + c;
        const float* w = wp[t] + c;
        for (int v = 0; v < NV; ++v) {
            const T wv = V::load(w + v * L);
            for (int q = 0; q < PX; ++q) a[q][v] = V::fma(V::load(s + q * d + v * L), wv, a[q][v]);
        }
    }
    for (int q = 0; q < PX; ++q)
        for (int v = 0; v < NV; ++v)
            V::store(o + q * C + c + v * L, vec_act ? activate(p.act, p.alpha, a[q][v]) : a[q][v]);
    return c + NV * L;
}

// Rows [y0, y1) of one image; sp and wp hold one pointer per tap (scratch).
void gather(const Gather& p, const float* src, float* dst, int y0, int y1, const float** sp,
            const float** wp) {
    using V = Vec;
    using T = V::T;
    constexpr int L = V::kLanes;
    const int C = p.channels;
    const bool vec_act = is_vector_activation(p.act, p.alpha);
    for (int y = y0; y < y1; ++y) {
        int n = 0;
        for (int x = 0; x < p.dst_w; ++x) {
            if (x > 0 && p.xs->shifted[x]) {  // same taps as x - 1, moved along the row
                const int64_t d = static_cast<int64_t>(p.xs->step[x]) * C;
                for (int t = 0; t < n; ++t) sp[t] += d;
            } else {
                n = 0;
                for (int i = p.ys->begin(y); i < p.ys->end(y); ++i)
                    for (int j = p.xs->begin(x); j < p.xs->end(x); ++j) {
                        sp[n] =
                            src + (static_cast<int64_t>(p.ys->at[i]) * p.src_w + p.xs->at[j]) * C;
                        wp[n] = p.w + static_cast<int64_t>(p.ys->k[i] * p.kw + p.xs->k[j]) * C;
                        ++n;
                    }
            }
            float* o = dst + (static_cast<int64_t>(y) * p.dst_w + x) * C;
            auto init = [&](const float* at, int c) {
                return p.load_dst ? V::load(at + c) : p.bias ? V::load(p.bias + c) : V::zero();
            };
            // Channels [c, C) of the pixel at `at`, whose taps read sp[t] + off.
            auto rest = [&](float* at, int64_t off, int c) {
                for (; c + L <= C; c += L) {
                    T a = init(at, c);
                    for (int t = 0; t < n; ++t)
                        a = V::fma(V::load(sp[t] + off + c), V::load(wp[t] + c), a);
                    V::store(at + c, vec_act ? activate(p.act, p.alpha, a) : a);
                }
                const int tail = c;
                for (; c < C; ++c) {
                    float a = p.load_dst ? at[c] : p.bias ? p.bias[c] : 0.f;
                    for (int t = 0; t < n; ++t) a += sp[t][off + c] * wp[t][c];
                    at[c] = a;
                }
                if (!vec_act)
                    apply_activation(p.act, p.alpha, at, C);
                else if (tail < C)
                    apply_activation(p.act, p.alpha, at + tail, C - tail);
            };
            int c = 0;
            if (x + 3 < p.dst_w && p.xs->shifted[x + 1] && p.xs->shifted[x + 2] &&
                p.xs->shifted[x + 3] && p.xs->step[x + 2] == p.xs->step[x + 1] &&
                p.xs->step[x + 3] == p.xs->step[x + 1]) {
                // Four pixels with the same taps, two vectors of channels: each weight vector
                // loaded serves four pixels (1.25 loads a multiply-add, where pairs of pixels
                // over four vectors take 1.5; loads bound these layers).
                const int64_t d = static_cast<int64_t>(p.xs->step[x + 1]) * C;
                while (c + 2 * L <= C) c = block<2, 4>(p, n, sp, wp, d, o, c, vec_act);
                if (c + L <= C) c = block<1, 4>(p, n, sp, wp, d, o, c, vec_act);
                for (int q = 0; q < 4; ++q) rest(o + q * C, q * d, c);
                for (int t = 0; t < n; ++t) sp[t] += 3 * d;  // now pixel x + 3's taps
                x += 3;
                continue;
            }
            if (x + 1 < p.dst_w && p.xs->shifted[x + 1]) {
                // Two pixels with the same taps at once: each weight vector loaded serves both,
                // and eight accumulator chains hide the multiply-add latency.
                const int64_t d = static_cast<int64_t>(p.xs->step[x + 1]) * C;
                float* o2 = o + C;
                while (c + 4 * L <= C) c = block<4, 2>(p, n, sp, wp, d, o, c, vec_act);
                if (c + 2 * L <= C) c = block<2, 2>(p, n, sp, wp, d, o, c, vec_act);
                if (c + L <= C) c = block<1, 2>(p, n, sp, wp, d, o, c, vec_act);
                rest(o, 0, c);
                rest(o2, d, c);
                for (int t = 0; t < n; ++t) sp[t] += d;  // now pixel x + 1's taps
                ++x;
                continue;
            }
            while (c + 4 * L <= C) c = block<4, 1>(p, n, sp, wp, 0, o, c, vec_act);
            if (c + 2 * L <= C) c = block<2, 1>(p, n, sp, wp, 0, o, c, vec_act);
            rest(o, 0, c);
        }
    }
}

class DepthwiseConv final : public ConvKernel {
public:
    DepthwiseConv(const ConvDesc& d, const float* w, const float* bias)
        : d_(d), m_(d.out_c / d.in_c) {
        const int taps = d.kernel_h * d.kernel_w;
        w_.assign(w, w + static_cast<size_t>(taps) * d.out_c);
        if (bias) bias_.assign(bias, bias + d.out_c);
        fy_ = AxisTaps::fwd(d.out_h, d.in_h, d.kernel_h, d.stride_h, d.dilation_h, d.pad_top);
        fx_ = AxisTaps::fwd(d.out_w, d.in_w, d.kernel_w, d.stride_w, d.dilation_w, d.pad_left);
        by_ = AxisTaps::bwd(d.out_h, d.in_h, d.kernel_h, d.stride_h, d.dilation_h, d.pad_top);
        bx_ = AxisTaps::bwd(d.out_w, d.in_w, d.kernel_w, d.stride_w, d.dilation_w, d.pad_left);
        if (m_ > 1) expanded_.resize(static_cast<size_t>(d.in_h) * d.in_w * d.out_c);
    }

    void forward(const float* in, float* out, int batch) override {
        const ConvDesc& d = d_;
        Gather p{&fy_,       &fx_,         d.out_h,
                 d.out_w,    d.in_w,       d.out_c,
                 d.kernel_w, w_.data(),    bias_.empty() ? nullptr : bias_.data(),
                 false,      d.activation, d.alpha};
        const int64_t in_image = static_cast<int64_t>(d.in_h) * d.in_w * d.in_c;
        const int64_t out_image = static_cast<int64_t>(d.out_h) * d.out_w * d.out_c;
        if (m_ == 1) {  // output rows of all images are independent: split them across threads
            run_rows(batch, d.out_h,
                     [&](int n, int y0, int y1, const float** sp, const float** wp) {
                         gather(p, in + n * in_image, out + n * out_image, y0, y1, sp, wp);
                     });
            return;
        }
        scratch();
        for (int n = 0; n < batch; ++n) {
            const float* src = in + n * in_image;
            const int64_t pixels = static_cast<int64_t>(d.in_h) * d.in_w;
            for (int64_t q = 0; q < pixels; ++q)
                for (int c = 0; c < d.in_c; ++c)
                    std::fill_n(expanded_.data() + q * d.out_c + c * m_, m_, src[q * d.in_c + c]);
            gather(p, expanded_.data(), out + n * out_image, 0, d.out_h, sp_.data(), wp_.data());
        }
    }

    void backward_input(const float* gp, float* gin, int batch, bool accumulate) override {
        const ConvDesc& d = d_;
        const int64_t in_image = static_cast<int64_t>(d.in_h) * d.in_w * d.in_c;
        const int64_t out_image = static_cast<int64_t>(d.out_h) * d.out_w * d.out_c;
        Gather p{&by_,
                 &bx_,
                 d.in_h,
                 d.in_w,
                 d.out_w,
                 d.out_c,
                 d.kernel_w,
                 w_.data(),
                 nullptr,
                 accumulate && m_ == 1,
                 Activation::kNone,
                 0.f};
        if (m_ == 1) {  // the transpose is a gather too: input rows are independent
            run_rows(batch, d.in_h, [&](int n, int y0, int y1, const float** sp, const float** wp) {
                gather(p, gp + n * out_image, gin + n * in_image, y0, y1, sp, wp);
            });
            return;
        }
        scratch();
        for (int n = 0; n < batch; ++n) {
            float* dst = gin + n * in_image;
            gather(p, gp + n * out_image, expanded_.data(), 0, d.in_h, sp_.data(), wp_.data());
            const int64_t pixels = static_cast<int64_t>(d.in_h) * d.in_w;
            for (int64_t q = 0; q < pixels; ++q)
                for (int c = 0; c < d.in_c; ++c) {
                    const float* e = expanded_.data() + q * d.out_c + c * m_;
                    float s = 0.f;
                    for (int j = 0; j < m_; ++j) s += e[j];
                    float& g = dst[q * d.in_c + c];
                    g = accumulate ? g + s : s;
                }
        }
    }

private:
    // Per-thread tap pointers: `stride()` entries for each pool thread, padded by a 128-byte
    // gap so two threads never write the same cache line (that false sharing made the 2-thread
    // depthwise layers slower than one thread).
    int stride() const { return d_.kernel_h * d_.kernel_w + 16; }
    void scratch() {
        const size_t need = static_cast<size_t>(pool_threads()) * static_cast<size_t>(stride());
        if (sp_.size() < need) sp_.resize(need), wp_.resize(need);
    }

    // Calls f(image, y0, y1, sp, wp) over the rows [0, rows) of `batch` images, in bands split
    // across the pool's threads.
    template <typename F>
    void run_rows(int batch, int rows, F&& f) {
        scratch();
        const int taps = stride();
        const int band = std::max(1, rows / std::max(1, 4 * pool_threads() / std::max(batch, 1)));
        const int bands = (rows + band - 1) / band;
        parallel_for(static_cast<int64_t>(batch) * bands, 1, [&](int64_t i0, int64_t i1, int t) {
            const float** sp = sp_.data() + static_cast<int64_t>(t) * taps;
            const float** wp = wp_.data() + static_cast<int64_t>(t) * taps;
            for (int64_t i = i0; i < i1; ++i) {
                const int n = static_cast<int>(i / bands), y0 = static_cast<int>(i % bands) * band;
                f(n, y0, std::min(rows, y0 + band), sp, wp);
            }
        });
    }

    ConvDesc d_;
    int m_;
    AlignedFloats w_, bias_, expanded_;
    AxisTaps fy_, fx_, by_, bx_;
    std::vector<const float*> sp_, wp_;
};

}  // namespace

std::unique_ptr<ConvKernel> make_depthwise_conv(const ConvDesc& d, const float* weights,
                                                const float* bias) {
    CNNLENS_ASSERT(d.groups == d.in_c && d.out_c % d.in_c == 0);
    return std::make_unique<DepthwiseConv>(d, weights, bias);
}

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET
