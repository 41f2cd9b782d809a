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
    std::vector<ParamDef> out = {
        {.name = "segmentation",
         .label = "Segmentation",
         .def = 0,
         .min = 0,
         .max = 1,
         .integer = true,
         .choices = {"slic", "quickshift"},
         .help = "How superpixels are cut: SLIC or quickshift.",
         .anchor = "LIME's faces notebook (SLIC); lime_image defaults to quickshift"},
        {.name = "n_segments",
         .label = "Superpixels",
         .def = 100,
         .min = 1,
         .max = 4096,
         .integer = true,
         .help = "SLIC seeds; fragments merge, so fewer superpixels result (52 on a 64x64 face).",
         .anchor = "LIME's faces notebook"},
        {.name = "compactness",
         .label = "Compactness",
         .def = 1,
         .min = 0.01,
         .max = 1000,
         .help = "SLIC: weight of position against intensity (L* 0..100); 1 follows edges, 10 is "
                 "near-square.",
         .anchor = "LIME's faces notebook"},
        {.name = "sigma",
         .label = "Smoothing",
         .def = 1,
         .min = 0,
         .max = 10,
         .help = "SLIC: Gaussian smoothing before cutting, in pixels.",
         .anchor = "LIME's faces notebook"},
        {.name = "kernel_size",
         .label = "Quickshift kernel",
         .def = 4,
         .min = 1,
         .max = 32,
         .help = "Quickshift: density kernel in pixels (1 suits a 64x64 face).",
         .anchor = "lime_image"},
        {.name = "max_dist",
         .label = "Quickshift reach",
         .def = 200,
         .min = 0,
         .max = 10000,
         .help = "Quickshift: longest link within a superpixel.",
         .anchor = "lime_image"},
        {.name = "ratio",
         .label = "Quickshift colour",
         .def = 0.2,
         .min = 0,
         .max = 1,
         .help = "Quickshift: weight of colour against position.",
         .anchor = "lime_image"},
    };
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
