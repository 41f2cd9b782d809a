// The superpixels LIME and KernelSHAP take as features: one set of parameters, one segmentation.
#include <algorithm>

#include "core/explain/method_util.h"

namespace cnnlens {

Tensor input_to_pixels(const Tensor& x, const InputSpec& spec) {
    Tensor out = x.clone();
    const int64_t c = x.shape().dim(-1);
    for (int64_t i = 0; i < out.size(); ++i) {
        const size_t k = static_cast<size_t>(i % c);
        if (spec.mean.empty()) {
            const float range = spec.range_hi - spec.range_lo;
            out[i] = range != 0 ? (out[i] - spec.range_lo) / range : out[i];
        } else {
            const size_t j = spec.mean.size() == 1 ? 0 : k;
            out[i] = out[i] * spec.std[j] + spec.mean[j];
        }
        out[i] = std::clamp(out[i], 0.f, 1.f);
    }
    return out;
}

std::vector<ParamDef> with_superpixel_params(std::vector<ParamDef> rest) {
    // clang-format off
    std::vector<ParamDef> out = {
        {"segmentation", 0, 0, 1, "superpixels: SLIC (LIME's face notebook) or quickshift (lime_image's default)", {"slic", "quickshift"}, true},
        {"n_segments", 100, 1, 4096, "SLIC seeds; fragments merge, so fewer segments result (52 on a 64x64 face)", {}, true},
        {"compactness", 1, 0.01, 1000, "SLIC: weight of position against L* (0..100); 1 follows intensity, 10 is near-square", {}, false},
        {"sigma", 1, 0, 10, "SLIC pre-smoothing in pixels", {}, false},
        {"kernel_size", 4, 1, 32, "quickshift density kernel in pixels (LIME 4; 1 suits a 64x64 face)", {}, false},
        {"max_dist", 200, 0, 10000, "quickshift: longest link within a segment", {}, false},
        {"ratio", 0.2, 0, 1, "quickshift: weight of colour against position", {}, false},
    };
    // clang-format on
    out.insert(out.end(), rest.begin(), rest.end());
    return out;
}

Expected<Segmentation> superpixels_from_params(const ExplanationMethod& m, const Tensor& x,
                                               const Params& p, const ExplainContext& ctx) {
    const Tensor pixels = input_to_pixels(x, ctx.probe.input_spec());
    if (static_cast<int>(m.param(p, "segmentation")) == 0) {
        SlicParams sp;
        sp.n_segments = static_cast<int>(m.param(p, "n_segments"));
        sp.compactness = m.param(p, "compactness");
        sp.sigma = m.param(p, "sigma");
        return slic(pixels, sp);
    }
    QuickshiftParams qp;
    qp.kernel_size = m.param(p, "kernel_size");
    qp.max_dist = m.param(p, "max_dist");
    qp.ratio = m.param(p, "ratio");
    qp.seed = ctx.seed;
    return quickshift(pixels, qp);
}

}  // namespace cnnlens
