// Max and average pooling in NHWC, vectorised across channels. Max pooling's backward finds the
// first maximal element of each window in row-major order (ties broken as `reference` does) with
// compare-and-select on vectors, then routes the gradient lane by lane.
#include <cstring>
#include <limits>

#include "core/base/assert.h"
#include "core/kernels/simd/simd.h"

namespace cnnlens::simd {
namespace {

class Pool final : public PoolKernel {
public:
    explicit Pool(const PoolDesc& d) : d_(d) {
        ys_ = AxisTaps::fwd(d.out_h, d.in_h, d.kernel_h, d.stride_h, 1, d.pad_top);
        xs_ = AxisTaps::fwd(d.out_w, d.in_w, d.kernel_w, d.stride_w, 1, d.pad_left);
        window_.resize(static_cast<size_t>(d.kernel_h) * d.kernel_w);
    }

    void forward(const float* in, float* out, int batch) override {
        using V = Vec;
        constexpr int L = V::kLanes;
        const int C = d_.channels;
        const bool is_max = d_.kind == PoolKind::kMax;
        const float lowest = -std::numeric_limits<float>::infinity();
        for (int n = 0; n < batch; ++n) {
            const float* image = in + n * in_image();
            for (int oy = 0; oy < d_.out_h; ++oy)
                for (int ox = 0; ox < d_.out_w; ++ox) {
                    const int count = window(oy, ox);
                    float* o = out + ((static_cast<int64_t>(n) * d_.out_h + oy) * d_.out_w + ox) * C;
                    const float scale = count ? 1.f / count : 0.f;
                    int c = 0;
                    for (; c + 2 * L <= C; c += 2 * L) {
                        V::T a0 = is_max ? V::splat(lowest) : V::zero(), a1 = a0;
                        for (int i = 0; i < count; ++i) {
                            const float* s = image + window_[i] + c;
                            a0 = is_max ? V::max(a0, V::load(s)) : V::add(a0, V::load(s));
                            a1 = is_max ? V::max(a1, V::load(s + L)) : V::add(a1, V::load(s + L));
                        }
                        if (!is_max) a0 = V::mul(a0, V::splat(scale)), a1 = V::mul(a1, V::splat(scale));
                        V::store(o + c, a0);
                        V::store(o + c + L, a1);
                    }
                    for (; c < C; ++c) {
                        float a = is_max ? lowest : 0.f;
                        for (int i = 0; i < count; ++i) {
                            const float v = image[window_[i] + c];
                            a = is_max ? (a < v ? v : a) : a + v;
                        }
                        o[c] = is_max ? a : a * scale;
                    }
                }
        }
    }

    void backward_input(const float* in, const float* gout, float* gin, int batch, bool accumulate) override {
        using V = Vec;
        constexpr int L = V::kLanes;
        const int C = d_.channels;
        if (!accumulate) std::memset(gin, 0, sizeof(float) * batch * in_image());
        for (int n = 0; n < batch; ++n) {
            const float* image = in + n * in_image();
            float* grad = gin + n * in_image();
            for (int oy = 0; oy < d_.out_h; ++oy)
                for (int ox = 0; ox < d_.out_w; ++ox) {
                    const int count = window(oy, ox);
                    const float* g = gout + ((static_cast<int64_t>(n) * d_.out_h + oy) * d_.out_w + ox) * C;
                    if (count == 0) continue;
                    if (d_.kind == PoolKind::kAvg) {
                        const float scale = 1.f / count;
                        int c = 0;
                        for (; c + L <= C; c += L) {
                            const V::T v = V::mul(V::load(g + c), V::splat(scale));
                            for (int i = 0; i < count; ++i) {
                                float* d = grad + window_[i] + c;
                                V::store(d, V::add(V::load(d), v));
                            }
                        }
                        for (; c < C; ++c)
                            for (int i = 0; i < count; ++i) grad[window_[i] + c] += g[c] * scale;
                        continue;
                    }
                    int c = 0;
                    for (; c + L <= C; c += L) {
                        V::T best = V::load(image + window_[0] + c), at = V::zero();
                        for (int i = 1; i < count; ++i) {
                            const V::T v = V::load(image + window_[i] + c);
                            const V::T m = V::gt(v, best);
                            best = V::select(m, v, best);
                            at = V::select(m, V::splat(static_cast<float>(i)), at);
                        }
                        float index[L];
                        V::store(index, at);
                        for (int l = 0; l < L; ++l) grad[window_[static_cast<int>(index[l])] + c + l] += g[c + l];
                    }
                    for (; c < C; ++c) {
                        int at = 0;
                        float best = image[window_[0] + c];
                        for (int i = 1; i < count; ++i)
                            if (image[window_[i] + c] > best) best = image[window_[i] + c], at = i;
                        grad[window_[at] + c] += g[c];
                    }
                }
        }
    }

private:
    int64_t in_image() const { return static_cast<int64_t>(d_.in_h) * d_.in_w * d_.channels; }

    // Fills window_ with the float offsets (within one image) of the in-bounds inputs of output
    // (oy, ox) in row-major order; returns their count.
    int window(int oy, int ox) {
        int count = 0;
        for (int i = ys_.begin(oy); i < ys_.end(oy); ++i)
            for (int j = xs_.begin(ox); j < xs_.end(ox); ++j)
                window_[count++] = (static_cast<int64_t>(ys_.at[i]) * d_.in_w + xs_.at[j]) * d_.channels;
        return count;
    }

    PoolDesc d_;
    AxisTaps ys_, xs_;
    std::vector<int64_t> window_;
};

}  // namespace

std::unique_ptr<PoolKernel> make_pool(const PoolDesc& d) { return std::make_unique<Pool>(d); }

}  // namespace cnnlens::simd
