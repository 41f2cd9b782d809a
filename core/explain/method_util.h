// Internal helpers for method implementations: a method defined as data (MethodDef), and
// target scores read from probe results.
#pragma once
#include <span>
#include <vector>

#include "core/base/rng.h"
#include "core/explain/explain.h"
#include "core/image/superpixels.h"

namespace cnnlens {

// Per channel, the model-input value of pixel intensity `f` in [0, 1] (occlusion's and RISE's
// fill): through the input's mean and std when it has them, else its range.
std::vector<float> fill_in_input_space(const InputSpec& spec, float f, int channels);

// The explanation of a path method (IG, Blur IG, Guided IG): attribution `a` [1,H,W,C] shown as
// its channel sum, the path's start `baseline` as extras["baseline"], and the completeness of
// `total` (the attributions' sum) against score(x) - score(baseline) as statistics.
Explanation path_explanation(Tensor a, const Tensor& baseline, double total, double score_x,
                             double score_baseline);

// A method as data: its name, title, traits, card and parameters, and the functions that compute
// it.
struct MethodDef {
    using ExplainFn = Expected<Explanation> (*)(const ExplanationMethod&, const Tensor&,
                                                const Target&, const Params&, ExplainContext&);
    using BatchFn = Expected<Tensor> (*)(const ExplanationMethod&, const Tensor&, const Target&,
                                         const Params&, ExplainContext&);
    std::string_view name, title;
    MethodTraits traits;
    MethodCard card = {};  // describe_test.cpp names a method whose card lacks a field
    std::vector<ParamDef> params = {};
    ExplainFn explain = nullptr;
    BatchFn attribute_batch = nullptr;  // set for methods that batch (see ExplanationMethod)
};

class FnMethod final : public ExplanationMethod {
public:
    explicit FnMethod(MethodDef def) : def_(std::move(def)) {}
    std::string_view name() const override { return def_.name; }
    std::string_view title() const override { return def_.title; }
    const MethodTraits& traits() const override { return def_.traits; }
    const MethodCard& card() const override { return def_.card; }
    std::span<const ParamDef> params() const override { return def_.params; }
    bool batches() const override { return def_.attribute_batch != nullptr; }
    Expected<Explanation> explain(const Tensor& image, const Target& target, const Params& p,
                                  ExplainContext& ctx) const override {
        if (image.shape().rank() != 4 || image.shape()[0] != 1)
            return invalid_argument(std::string(def_.name) + ": expects one image [1,H,W,C], got " +
                                    image.shape().str());
        if (Status s = check_params(p); !s) return s;
        auto e = def_.explain(*this, image, target, p, ctx);
        if (e) stamp_explanation(*this, image, target, p, ctx, *e);
        return e;
    }
    Expected<Tensor> attribute_batch(const Tensor& batch, const Target& target, const Params& p,
                                     ExplainContext& ctx) const override {
        if (!batches()) return unsupported(std::string(def_.name) + ": has no batched attribution");
        if (batch.shape().rank() != 4)
            return invalid_argument(std::string(def_.name) + ": expects images [N,H,W,C], got " +
                                    batch.shape().str());
        if (Status s = check_params(p); !s) return s;
        return def_.attribute_batch(*this, batch, target, p, ctx);
    }

private:
    Status check_params(const Params& p) const {
        for (const ParamDef& d : def_.params) {
            const double v = p.get(d.name, d.def);
            if (!(v >= d.min && v <= d.max))
                return invalid_argument(std::string(def_.name) + ": parameter " +
                                        std::string(d.name) + " = " + std::to_string(v) +
                                        " is outside [" + std::to_string(d.min) + ", " +
                                        std::to_string(d.max) + "]");
        }
        return Status::ok();
    }

    MethodDef def_;
};

// How to read a map made at one layer's resolution (the CAM family's cards).
inline constexpr std::string_view kCamReading =
    "Coarse: one value per position of the layer, smoothed up to the image; an earlier layer gives "
    "a finer map.";

// Parameters several baseline methods share (IG, GradientSHAP, DeepLIFT, DeepSHAP).
inline const ParamDef& blur_sigma_param() {
    static const ParamDef d{.name = "blur_sigma",
                            .label = "Baseline blur",
                            .def = 5,
                            .min = 0.1,
                            .max = 100,
                            .help = "Gaussian sigma, in pixels, of the blurred baseline.",
                            .anchor = "cnnlens"};
    return d;
}
// The baseline distribution of draw_baseline() and its noise.
inline const ParamDef& baselines_param() {
    static const ParamDef d{
        .name = "baselines",
        .label = "Baselines",
        .def = 0,
        .min = 0,
        .max = 2,
        .integer = true,
        .choices = {"black_and_blurred", "black", "noise_around_black"},
        .help =
            "Where baselines are drawn from: the SHAP values explain the score against their mean.",
        .anchor = "Captum tutorials (black and blurred images)"};
    return d;
}
inline const ParamDef& baseline_noise_param() {
    static const ParamDef d{
        .name = "baseline_noise",
        .label = "Baseline noise",
        .def = 0.1,
        .min = 0,
        .max = 10,
        .help =
            "Sigma of the noise around the black image (noise_around_black), in model input units.",
        .anchor = "cnnlens"};
    return d;
}

// The `layer` parameter of the methods that read one layer (gradcam.cpp); cam_layer resolves it.
const ParamDef& layer_param();

// A `batch` parameter (explain.cpp): how many `unit` ("Path points") one engine call takes, from
// 1 to `max`. It trades memory against speed and changes nothing else: `same` names what stays
// the same ("map", or "values").
ParamDef batch_param(std::string_view unit, double def, double max,
                     std::string_view anchor = "cnnlens (speed only)",
                     std::string_view same = "map");

// The CAM family's layer (gradcam.cpp): node `requested` when >= 0, checked to have a spatial
// output (an error naming `method` otherwise), else the default — the last layer whose output
// is spatial and larger than 1x1, the one global pooling reads.
Expected<int> cam_layer(ModelProbe& probe, double requested, std::string_view method);
// A CAM [h, w] at the resolution of node `layer` as an Explanation: the map upsampled
// bilinearly to the image's size (resize_map), the CAM itself in extras["cam"], the layer's name
// and stats["layer_node"].
Explanation cam_explanation(Tensor cam, const Tensor& image, ModelProbe& probe, int layer);

// The target's score for row `row` of a probe result (logit or probability, contrast applied).
inline double target_score(const ProbeResult& r, int64_t row, const Target& t) {
    const Tensor& s = t.score == Target::Score::kLogit ? r.logits : r.probs;
    const int64_t c = s.shape()[1];
    double v = s[row * c + t.cls];
    if (t.contrast >= 0) v -= s[row * c + t.contrast];
    return v;
}

// The value a "black" pixel has in model input space, per channel.
inline std::vector<float> black_value(const InputSpec& spec) {
    std::vector<float> v(static_cast<size_t>(spec.channels), spec.range_lo);
    if (!spec.mean.empty())
        for (int k = 0; k < spec.channels; ++k) {
            const size_t j = spec.mean.size() == 1 ? 0 : static_cast<size_t>(k);
            v[static_cast<size_t>(k)] = -spec.mean[j] / spec.std[j];
        }
    return v;
}

// A baseline drawn from distribution `kind` (GradientSHAP's and DeepSHAP's `baselines`: 0 the
// black image or `blurred`, picked by rng.below(2) == 1; 1 the black image; 2 the black image
// plus Gaussian noise of sigma `baseline_noise`, one rng.normal() per value in order) into `out`
// (black.size() floats).
void draw_baseline(int kind, Rng& rng, const Tensor& black, const Tensor& blurred,
                   float baseline_noise, float* out);

// Model input back to pixel intensities in [0, 1] (through the spec's mean and std, else its
// range; clamped), which the segmenters expect.
Tensor input_to_pixels(const Tensor& x, const InputSpec& spec);

// The superpixels LIME and KernelSHAP take as features (superpixel_features.cpp): the parameters
// segmentation (0 SLIC, 1 quickshift), n_segments, compactness, sigma, kernel_size, max_dist and
// ratio, put before `rest`; and the segmentation of image x [1,H,W,C] they ask for (quickshift's
// tie-breaking noise from ctx.seed).
std::vector<ParamDef> with_superpixel_params(std::vector<ParamDef> rest);
Expected<Segmentation> superpixels_from_params(const ExplanationMethod& m, const Tensor& x,
                                               const Params& p, const ExplainContext& ctx);

// KernelSHAP's values over a given segmentation of x (kernel_shap.cpp; the method segments x with
// superpixels_from_params first). Tests pass a segmentation of their own.
Expected<Explanation> kernel_shap_on_segments(const ExplanationMethod& m, const Tensor& x,
                                              const Target& t, const Params& p, ExplainContext& ctx,
                                              const Segmentation& seg);

// XRAI over given segmentations of x, each [H,W] labels 0..count-1 (xrai.cpp; the method makes
// PAIR's six Felzenszwalb segmentations first). Tests pass segmentations of their own.
Expected<Explanation> xrai_on_segments(const ExplanationMethod& m, const Tensor& x, const Target& t,
                                       const Params& p, ExplainContext& ctx,
                                       std::span<const Segmentation> segs);

// N copies of a [1,H,W,C] image as one batch.
inline Tensor repeat_image(const Tensor& image, int64_t n) {
    Shape s = image.shape();
    s[0] = n;
    Tensor out(s);
    for (int64_t i = 0; i < n; ++i)
        std::copy(image.data(), image.data() + image.size(), out.data() + i * image.size());
    return out;
}

}  // namespace cnnlens
