// The reference kernel set: plain loops, written for clarity, never for speed. It is the
// oracle every other set is tested against, so it stays obviously correct.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "core/base/assert.h"
#include "core/base/memory.h"
#include "core/kernels/kernels.h"

namespace cnnlens {
namespace {

class RefConv final : public ConvKernel {
public:
    RefConv(const ConvDesc& d, const float* w, const float* b) : d_(d) {
        const int cpg = d.in_c / d.groups;
        w_.assign(w, w + static_cast<size_t>(d.kernel_h) * d.kernel_w * cpg * d.out_c);
        if (b)
            b_.assign(b, b + d.out_c);
        else
            b_.assign(d.out_c, 0.f);
    }

    void forward(const float* in, float* out, int batch) override {
        const ConvDesc& d = d_;
        const int cpg = d.in_c / d.groups, opg = d.out_c / d.groups;
        for (int n = 0; n < batch; ++n)
            for (int oy = 0; oy < d.out_h; ++oy)
                for (int ox = 0; ox < d.out_w; ++ox) {
                    float* o =
                        out + ((static_cast<int64_t>(n) * d.out_h + oy) * d.out_w + ox) * d.out_c;
                    for (int oc = 0; oc < d.out_c; ++oc) {
                        const int g = oc / opg;
                        double acc = b_[oc];
                        for (int ky = 0; ky < d.kernel_h; ++ky) {
                            const int iy = oy * d.stride_h - d.pad_top + ky * d.dilation_h;
                            if (iy < 0 || iy >= d.in_h) continue;
                            for (int kx = 0; kx < d.kernel_w; ++kx) {
                                const int ix = ox * d.stride_w - d.pad_left + kx * d.dilation_w;
                                if (ix < 0 || ix >= d.in_w) continue;
                                const float* ip =
                                    in +
                                    ((static_cast<int64_t>(n) * d.in_h + iy) * d.in_w + ix) *
                                        d.in_c +
                                    g * cpg;
                                const float* wp =
                                    w_.data() +
                                    (static_cast<int64_t>(ky * d.kernel_w + kx) * cpg) * d.out_c +
                                    oc;
                                for (int ic = 0; ic < cpg; ++ic)
                                    acc += static_cast<double>(ip[ic]) *
                                           wp[static_cast<int64_t>(ic) * d.out_c];
                            }
                        }
                        o[oc] = static_cast<float>(acc);
                    }
                    apply_activation(d.activation, d.alpha, o, d.out_c);
                }
    }

    void backward_input(const float* gp, float* gin, int batch, bool accumulate) override {
        const ConvDesc& d = d_;
        const int cpg = d.in_c / d.groups, opg = d.out_c / d.groups;
        const int64_t in_size = static_cast<int64_t>(batch) * d.in_h * d.in_w * d.in_c;
        std::vector<double> acc(static_cast<size_t>(in_size), 0.0);
        for (int n = 0; n < batch; ++n)
            for (int oy = 0; oy < d.out_h; ++oy)
                for (int ox = 0; ox < d.out_w; ++ox) {
                    const float* g =
                        gp + ((static_cast<int64_t>(n) * d.out_h + oy) * d.out_w + ox) * d.out_c;
                    for (int oc = 0; oc < d.out_c; ++oc) {
                        const int grp = oc / opg;
                        for (int ky = 0; ky < d.kernel_h; ++ky) {
                            const int iy = oy * d.stride_h - d.pad_top + ky * d.dilation_h;
                            if (iy < 0 || iy >= d.in_h) continue;
                            for (int kx = 0; kx < d.kernel_w; ++kx) {
                                const int ix = ox * d.stride_w - d.pad_left + kx * d.dilation_w;
                                if (ix < 0 || ix >= d.in_w) continue;
                                double* ip =
                                    acc.data() +
                                    ((static_cast<int64_t>(n) * d.in_h + iy) * d.in_w + ix) *
                                        d.in_c +
                                    grp * cpg;
                                const float* wp =
                                    w_.data() +
                                    (static_cast<int64_t>(ky * d.kernel_w + kx) * cpg) * d.out_c +
                                    oc;
                                for (int ic = 0; ic < cpg; ++ic)
                                    ip[ic] += static_cast<double>(g[oc]) *
                                              wp[static_cast<int64_t>(ic) * d.out_c];
                            }
                        }
                    }
                }
        for (int64_t i = 0; i < in_size; ++i)
            gin[i] = static_cast<float>(accumulate ? gin[i] + acc[i] : acc[i]);
    }

private:
    ConvDesc d_;
    memory::CountedVector<float> w_, b_;
};

class RefPool final : public PoolKernel {
public:
    explicit RefPool(const PoolDesc& d) : PoolKernel(d), d_(d) {}

    void forward(const float* in, float* out, int batch) override {
        const PoolDesc& d = d_;
        for (int n = 0; n < batch; ++n)
            for (int oy = 0; oy < d.out_h; ++oy)
                for (int ox = 0; ox < d.out_w; ++ox)
                    for (int c = 0; c < d.channels; ++c) {
                        double acc = 0.0;
                        float best = -std::numeric_limits<float>::infinity();
                        int count = 0;
                        for_window(oy, ox, [&](int iy, int ix) {
                            const float v =
                                in[((static_cast<int64_t>(n) * d.in_h + iy) * d.in_w + ix) *
                                       d.channels +
                                   c];
                            best = std::max(best, v);
                            acc += v;
                            ++count;
                        });
                        out[((static_cast<int64_t>(n) * d.out_h + oy) * d.out_w + ox) * d.channels +
                            c] = d.kind == PoolKind::kMax
                                     ? best
                                     : static_cast<float>(count ? acc / count : 0.0);
                    }
    }

    void backward_input(const float* in, const float* gout, float* gin, int batch,
                        bool accumulate) override {
        const PoolDesc& d = d_;
        if (!accumulate)
            std::memset(gin, 0,
                        sizeof(float) * static_cast<size_t>(batch) * d.in_h * d.in_w * d.channels);
        for (int n = 0; n < batch; ++n)
            for (int oy = 0; oy < d.out_h; ++oy)
                for (int ox = 0; ox < d.out_w; ++ox)
                    for (int c = 0; c < d.channels; ++c) {
                        const float g =
                            gout[((static_cast<int64_t>(n) * d.out_h + oy) * d.out_w + ox) *
                                     d.channels +
                                 c];
                        auto at = [&](int iy, int ix) {
                            return ((static_cast<int64_t>(n) * d.in_h + iy) * d.in_w + ix) *
                                       d.channels +
                                   c;
                        };
                        if (d.kind == PoolKind::kMax) {
                            int64_t best_i = -1;
                            float best = -std::numeric_limits<float>::infinity();
                            for_window(oy, ox, [&](int iy, int ix) {
                                const float v = in[at(iy, ix)];
                                if (best_i < 0 || v > best) {
                                    best = v;
                                    best_i = at(iy, ix);
                                }
                            });
                            if (best_i >= 0) gin[best_i] += g;
                        } else {
                            int count = 0;
                            for_window(oy, ox, [&](int, int) { ++count; });
                            if (count)
                                for_window(oy, ox,
                                           [&](int iy, int ix) { gin[at(iy, ix)] += g / count; });
                        }
                    }
    }

private:
    template <typename F>
    void for_window(int oy, int ox, F&& f) const {
        for (int ky = 0; ky < d_.kernel_h; ++ky) {
            const int iy = oy * d_.stride_h - d_.pad_top + ky * d_.dilation_h;
            if (iy < 0 || iy >= d_.in_h) continue;
            for (int kx = 0; kx < d_.kernel_w; ++kx) {
                const int ix = ox * d_.stride_w - d_.pad_left + kx * d_.dilation_w;
                if (ix < 0 || ix >= d_.in_w) continue;
                f(iy, ix);
            }
        }
    }
    PoolDesc d_;
};

class RefDense final : public DenseKernel {
public:
    RefDense(const DenseDesc& d, const float* w, const float* b) : d_(d) {
        w_.assign(w, w + static_cast<size_t>(d.in_features) * d.out_features);
        if (b)
            b_.assign(b, b + d.out_features);
        else
            b_.assign(d.out_features, 0.f);
    }
    void forward(const float* in, float* out, int batch) override {
        const int K = d_.in_features, M = d_.out_features;
        for (int n = 0; n < batch; ++n) {
            for (int m = 0; m < M; ++m) {
                double acc = b_[m];
                for (int k = 0; k < K; ++k)
                    acc += static_cast<double>(in[static_cast<int64_t>(n) * K + k]) *
                           w_[static_cast<int64_t>(k) * M + m];
                out[static_cast<int64_t>(n) * M + m] = static_cast<float>(acc);
            }
            apply_activation(d_.activation, d_.alpha, out + static_cast<int64_t>(n) * M, M);
        }
    }
    void backward_input(const float* gp, float* gin, int batch, bool accumulate) override {
        const int K = d_.in_features, M = d_.out_features;
        for (int n = 0; n < batch; ++n)
            for (int k = 0; k < K; ++k) {
                double acc = 0.0;
                for (int m = 0; m < M; ++m)
                    acc += static_cast<double>(gp[static_cast<int64_t>(n) * M + m]) *
                           w_[static_cast<int64_t>(k) * M + m];
                float& g = gin[static_cast<int64_t>(n) * K + k];
                g = static_cast<float>(accumulate ? g + acc : acc);
            }
    }

private:
    DenseDesc d_;
    memory::CountedVector<float> w_, b_;
};

std::unique_ptr<ConvKernel> make_conv(const ConvDesc& d, const float* w, const float* b) {
    CNNLENS_ASSERT(d.groups >= 1 && d.in_c % d.groups == 0 && d.out_c % d.groups == 0);
    return std::make_unique<RefConv>(d, w, b);
}
std::unique_ptr<PoolKernel> make_pool(const PoolDesc& d) { return std::make_unique<RefPool>(d); }
std::unique_ptr<DenseKernel> make_dense(const DenseDesc& d, const float* w, const float* b) {
    return std::make_unique<RefDense>(d, w, b);
}

}  // namespace

const KernelSet& reference_kernels() {
    static const KernelSet set{"reference", make_conv, make_pool, make_dense, sigmoid};
    return set;
}

}  // namespace cnnlens
