// Max and average pooling in NHWC, vectorised across channels. Max pooling's backward finds the
// first maximal element of each window in row-major order (ties broken as `reference` does) with
// compare-and-select on vectors, then routes the gradient lane by lane.
#include <cstring>
#include <limits>
#include <vector>

#include "core/base/assert.h"
#include "core/base/thread_pool.h"
#include "core/kernels/simd/simd.h"

namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET {
namespace {

class Pool final : public PoolKernel {
public:
    explicit Pool(const PoolDesc& d) : PoolKernel(d), d_(d) {
        ys_ = AxisTaps::fwd(d.out_h, d.in_h, d.kernel_h, d.stride_h, 1, d.pad_top);
        xs_ = AxisTaps::fwd(d.out_w, d.in_w, d.kernel_w, d.stride_w, 1, d.pad_left);
        by_ = AxisTaps::bwd(d.out_h, d.in_h, d.kernel_h, d.stride_h, 1, d.pad_top);
        bx_ = AxisTaps::bwd(d.out_w, d.in_w, d.kernel_w, d.stride_w, 1, d.pad_left);
    }

    void forward(const float* in, float* out, int batch) override {
        using V = Vec;
        constexpr int L = V::kLanes;
        const int C = d_.channels;
        const bool is_max = d_.kind == PoolKind::kMax;
        const float lowest = -std::numeric_limits<float>::infinity();
        scratch();
        // Output rows are independent: split (image, row) pairs across the pool's threads.
        parallel_for(
            static_cast<int64_t>(batch) * d_.out_h, 4, [&](int64_t i0, int64_t i1, int thread) {
                int64_t* win = windows_.data() + thread * stride();
                for (int64_t i = i0; i < i1; ++i) {
                    const int n = static_cast<int>(i / d_.out_h),
                              oy = static_cast<int>(i % d_.out_h);
                    const float* image = in + n * in_image();
                    for (int ox = 0; ox < d_.out_w; ++ox) {
                        const int count = window(oy, ox, win);
                        float* o =
                            out + ((static_cast<int64_t>(n) * d_.out_h + oy) * d_.out_w + ox) * C;
                        const float scale = count ? 1.f / count : 0.f;
                        int c = 0;
                        for (; c + 2 * L <= C; c += 2 * L) {
                            V::T a0 = is_max ? V::splat(lowest) : V::zero(), a1 = a0;
                            for (int i = 0; i < count; ++i) {
                                const float* s = image + win[i] + c;
                                a0 = is_max ? V::max(a0, V::load(s)) : V::add(a0, V::load(s));
                                a1 = is_max ? V::max(a1, V::load(s + L))
                                            : V::add(a1, V::load(s + L));
                            }
                            if (!is_max)
                                a0 = V::mul(a0, V::splat(scale)), a1 = V::mul(a1, V::splat(scale));
                            V::store(o + c, a0);
                            V::store(o + c + L, a1);
                        }
                        for (; c < C; ++c) {
                            float a = is_max ? lowest : 0.f;
                            for (int i = 0; i < count; ++i) {
                                const float v = image[win[i] + c];
                                a = is_max ? (a < v ? v : a) : a + v;
                            }
                            o[c] = is_max ? a : a * scale;
                        }
                    }
                }
            });
    }

    // The forward loop with a second tracker per lane: the output is the same max as forward()
    // computes (same operations, same order); the argmax follows backward_input()'s rule (start
    // at the first in-bounds tap, move on strictly greater) as the window position, carried in
    // a float vector and stored converted (exact: positions are small integers).
    void forward_argmax(const float* in, float* out, int32_t* argmax, int batch) override {
        using V = Vec;
        constexpr int L = V::kLanes;
        CNNLENS_ASSERT(d_.kind == PoolKind::kMax);
        const int C = d_.channels;
        const float lowest = -std::numeric_limits<float>::infinity();
        scratch();
        parallel_for(
            static_cast<int64_t>(batch) * d_.out_h, 4, [&](int64_t i0, int64_t i1, int thread) {
                int64_t* win = windows_.data() + thread * stride();
                float kpos[64];
                for (int64_t i = i0; i < i1; ++i) {
                    const int n = static_cast<int>(i / d_.out_h),
                              oy = static_cast<int>(i % d_.out_h);
                    const float* image = in + n * in_image();
                    for (int ox = 0; ox < d_.out_w; ++ox) {
                        const int count = window(oy, ox, win);
                        const int64_t o =
                            ((static_cast<int64_t>(n) * d_.out_h + oy) * d_.out_w + ox) * C;
                        if (count == 0) {
                            for (int c = 0; c < C; ++c) out[o + c] = lowest, argmax[o + c] = -1;
                            continue;
                        }
                        const bool small = count <= 64;
                        if (small) {
                            int t = 0;
                            for (int a = ys_.begin(oy); a < ys_.end(oy); ++a)
                                for (int b = xs_.begin(ox); b < xs_.end(ox); ++b)
                                    kpos[t++] =
                                        static_cast<float>(ys_.k[a] * d_.kernel_w + xs_.k[b]);
                        }
                        int c = 0;
                        // Four channel vectors at a time: each lane's compare-and-select chain runs
                        // through every tap, and four independent chains hide its latency.
                        for (; small && c + 4 * L <= C; c += 4 * L) {
                            V::T best[4], pos[4], mx[4];
                            for (int u = 0; u < 4; ++u) {
                                best[u] = V::load(image + win[0] + c + u * L);
                                pos[u] = V::splat(kpos[0]);
                                mx[u] = V::max(V::splat(lowest), best[u]);
                            }
                            for (int t = 1; t < count; ++t) {
                                const V::T k = V::splat(kpos[t]);
                                for (int u = 0; u < 4; ++u) {
                                    const V::T v = V::load(image + win[t] + c + u * L);
                                    mx[u] = V::max(mx[u], v);
                                    const V::T m = V::gt(v, best[u]);
                                    best[u] = V::select(m, v, best[u]);
                                    pos[u] = V::select(m, k, pos[u]);
                                }
                            }
                            for (int u = 0; u < 4; ++u) {
                                V::store(out + o + c + u * L, mx[u]);
                                V::store_i32(argmax + o + c + u * L, pos[u]);
                            }
                        }
                        for (; small && c + L <= C; c += L) {
                            V::T best = V::load(image + win[0] + c), pos = V::splat(kpos[0]);
                            V::T mx = V::max(V::splat(lowest), best);
                            for (int t = 1; t < count; ++t) {
                                const V::T v = V::load(image + win[t] + c);
                                mx = V::max(mx, v);
                                const V::T m = V::gt(v, best);
                                best = V::select(m, v, best);
                                pos = V::select(m, V::splat(kpos[t]), pos);
                            }
                            V::store(out + o + c, mx);
                            V::store_i32(argmax + o + c, pos);
                        }
                        for (; c < C; ++c) {
                            float mx = lowest, best = 0.f;
                            int at = -1, t = 0;
                            for (int a = ys_.begin(oy); a < ys_.end(oy); ++a)
                                for (int b = xs_.begin(ox); b < xs_.end(ox); ++b, ++t) {
                                    const float v = image[win[t] + c];
                                    mx = mx < v ? v : mx;
                                    if (at < 0 || v > best)
                                        best = v, at = ys_.k[a] * d_.kernel_w + xs_.k[b];
                                }
                            out[o + c] = mx;
                            argmax[o + c] = at;
                        }
                    }
                }
            });
    }

    // Each input element gathers the gradients of the windows whose argmax it is, visiting them
    // in increasing output order: the additions of the scatter in kernels.cpp in the same order,
    // so the results match it bit for bit, with no zeroing pass and no write conflicts between
    // threads (they take input rows).
    void backward_argmax(const int32_t* argmax, const float* gout, float* gin, int batch,
                         bool accumulate) override {
        using V = Vec;
        constexpr int L = V::kLanes;
        const int C = d_.channels, window_cap = d_.kernel_h * d_.kernel_w;
        parallel_for(static_cast<int64_t>(batch) * d_.in_h, 4, [&](int64_t i0, int64_t i1, int) {
            int64_t small_at[64];
            float small_k[64];
            std::vector<int64_t> large_at(window_cap > 64 ? static_cast<size_t>(window_cap) : 0);
            std::vector<float> large_k(large_at.size());
            int64_t* at = window_cap > 64 ? large_at.data() : small_at;  // output offsets
            float* kpos = window_cap > 64 ? large_k.data() : small_k;    // window positions
            for (int64_t i = i0; i < i1; ++i) {
                const int n = static_cast<int>(i / d_.in_h), iy = static_cast<int>(i % d_.in_h);
                for (int ix = 0; ix < d_.in_w; ++ix) {
                    // AxisTaps::bwd lists taps with growing k, i.e. shrinking output index.
                    int count = 0;
                    for (int a = by_.end(iy) - 1; a >= by_.begin(iy); --a)
                        for (int b = bx_.end(ix) - 1; b >= bx_.begin(ix); --b) {
                            at[count] =
                                ((static_cast<int64_t>(n) * d_.out_h + by_.at[a]) * d_.out_w +
                                 bx_.at[b]) *
                                C;
                            kpos[count] = static_cast<float>(by_.k[a] * d_.kernel_w + bx_.k[b]);
                            ++count;
                        }
                    float* d = gin + ((static_cast<int64_t>(n) * d_.in_h + iy) * d_.in_w + ix) * C;
                    int c = 0;
                    for (; c + L <= C; c += L) {
                        V::T acc = accumulate ? V::load(d + c) : V::zero();
                        for (int w = 0; w < count; ++w) {
                            const V::T hit =
                                V::eq(V::load_i32(argmax + at[w] + c), V::splat(kpos[w]));
                            acc = V::select(hit, V::add(acc, V::load(gout + at[w] + c)), acc);
                        }
                        V::store(d + c, acc);
                    }
                    for (; c < C; ++c) {
                        float acc = accumulate ? d[c] : 0.f;
                        for (int w = 0; w < count; ++w)
                            if (static_cast<float>(argmax[at[w] + c]) == kpos[w])
                                acc += gout[at[w] + c];
                        d[c] = acc;
                    }
                }
            }
        });
    }

    void backward_input(const float* in, const float* gout, float* gin, int batch,
                        bool accumulate) override {
        using V = Vec;
        constexpr int L = V::kLanes;
        const int C = d_.channels;
        if (!accumulate) std::memset(gin, 0, sizeof(float) * batch * in_image());
        scratch();
        // Windows of neighbouring rows overlap, so the backward splits the batch by images only.
        parallel_for(batch, 1, [&](int64_t n0, int64_t n1, int thread) {
            int64_t* win = windows_.data() + thread * stride();
            for (int64_t n = n0; n < n1; ++n) {
                const float* image = in + n * in_image();
                float* grad = gin + n * in_image();
                for (int oy = 0; oy < d_.out_h; ++oy)
                    for (int ox = 0; ox < d_.out_w; ++ox) {
                        const int count = window(oy, ox, win);
                        const float* g =
                            gout + ((static_cast<int64_t>(n) * d_.out_h + oy) * d_.out_w + ox) * C;
                        if (count == 0) continue;
                        if (d_.kind == PoolKind::kAvg) {
                            const float scale = 1.f / count;
                            int c = 0;
                            for (; c + L <= C; c += L) {
                                const V::T v = V::mul(V::load(g + c), V::splat(scale));
                                for (int i = 0; i < count; ++i) {
                                    float* d = grad + win[i] + c;
                                    V::store(d, V::add(V::load(d), v));
                                }
                            }
                            for (; c < C; ++c)
                                for (int i = 0; i < count; ++i) grad[win[i] + c] += g[c] * scale;
                            continue;
                        }
                        int c = 0;
                        // The window's maximum first, then one pass that hands each lane's
                        // gradient to the first tap equal to it (tap 0 also takes it when the
                        // maximum is NaN, as the scalar rule does), all in vectors.
                        for (; c + L <= C; c += L) {
                            const V::T first = V::load(image + win[0] + c);
                            V::T best = first;
                            for (int i = 1; i < count; ++i) {
                                const V::T v = V::load(image + win[i] + c);
                                best = V::select(V::gt(v, best), v, best);
                            }
                            const V::T zero = V::zero();
                            V::T rest = V::load(g + c);
                            for (int i = 0; i < count; ++i) {
                                const V::T hit =
                                    i == 0 ? V::select(V::gt(best, first), zero, V::eq(zero, zero))
                                           : V::eq(V::load(image + win[i] + c), best);
                                float* d = grad + win[i] + c;
                                V::store(d, V::add(V::load(d), V::select(hit, rest, zero)));
                                rest = V::select(hit, zero, rest);
                            }
                        }
                        for (; c < C; ++c) {
                            int at = 0;
                            float best = image[win[0] + c];
                            for (int i = 1; i < count; ++i)
                                if (image[win[i] + c] > best) best = image[win[i] + c], at = i;
                            grad[win[at] + c] += g[c];
                        }
                    }
            }
        });
    }

private:
    int64_t in_image() const { return static_cast<int64_t>(d_.in_h) * d_.in_w * d_.channels; }

    // Per-thread window offsets, `stride()` apart: a 128-byte gap keeps threads off each other's
    // cache lines.
    int64_t stride() const { return static_cast<int64_t>(d_.kernel_h) * d_.kernel_w + 16; }
    void scratch() {
        const size_t need = static_cast<size_t>(pool_threads()) * static_cast<size_t>(stride());
        if (windows_.size() < need) windows_.resize(need);
    }

    // Fills `offsets` with the float offsets (within one image) of the in-bounds inputs of output
    // (oy, ox) in row-major order; returns their count.
    int window(int oy, int ox, int64_t* offsets) const {
        int count = 0;
        for (int i = ys_.begin(oy); i < ys_.end(oy); ++i)
            for (int j = xs_.begin(ox); j < xs_.end(ox); ++j)
                offsets[count++] =
                    (static_cast<int64_t>(ys_.at[i]) * d_.in_w + xs_.at[j]) * d_.channels;
        return count;
    }

    PoolDesc d_;
    AxisTaps ys_, xs_, by_, bx_;
    memory::CountedVector<int64_t> windows_;  // per thread: kernel_h * kernel_w offsets
};

}  // namespace

std::unique_ptr<PoolKernel> make_pool(const PoolDesc& d) {
    if (d.is_dilated()) return reference_kernels().make_pool(d);
    return std::make_unique<Pool>(d);
}

}  // namespace cnnlens::simd::inline CNNLENS_SIMD_TARGET
