// DeepLIFT with the rescale rule (Shrikumar et al. 2017, "Learning important features through
// propagating activation differences"), as Captum's DeepLift computes it, and DeepSHAP (Lundberg
// & Lee 2017; shap's DeepExplainer, Captum's DeepLiftShap): DeepLIFT averaged over baselines
// drawn from a distribution.
//
// The attribution is (x - x0) times the multipliers of the backward sweep in which each op uses
// its OpDef::deeplift rule: linear ops their VJP, element-wise nonlinear ones the difference
// quotient (f(x) - f(x0)) / (x - x0) (the derivative where |x - x0| < 1e-6) and MaxPool Captum's
// split between the winners at x and at x0. Every rule carries the output's difference to its
// inputs, so the attributions sum to score(x) - score(x0) (summation-to-delta) up to float
// rounding; stats report both. Only logits (or a contrast of two) are explained: the softmax has
// no rescale rule here, and Captum's users explain logits too. A model with an op that has no
// rule on the way (a product of activations, Softmax inside, LayerNorm) is refused, naming it.
//
// DeepLIFT's baseline is Captum's default, the black image (zeros in pixel space: the black
// value in model input space), or the image blurred. DeepSHAP draws `samples` baselines from
// GradientSHAP's distributions (draw_baseline; draw k from Rng(seed, k)) and averages the maps;
// by linearity the mean attribution sums to score(x) minus the baselines' mean score.
#include <algorithm>

#include "core/base/rng.h"
#include "core/base/thread_pool.h"
#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

Status check_logit(std::string_view method, const Target& t) {
    if (t.score != Target::Score::kLogit)
        return invalid_argument(std::string(method) +
                                ": explains logits (a probability goes through the softmax, which "
                                "has no rescale rule)");
    return Status::ok();
}

Tensor black_image(const Tensor& x, const InputSpec& spec) {
    Tensor b(x.shape());
    const std::vector<float> v = black_value(spec);
    const int64_t c = x.shape()[3];
    for (int64_t i = 0; i < b.size(); ++i) b[i] = v[static_cast<size_t>(i % c)];
    return b;
}

// The target's score for the reference of row `row` (a logit or a contrast of two).
double reference_score(const ProbeResult& r, int64_t row, const Target& t) {
    const int64_t c = r.reference_logits.shape()[1];
    double v = r.reference_logits[row * c + t.cls];
    if (t.contrast >= 0) v -= r.reference_logits[row * c + t.contrast];
    return v;
}

Explanation with_delta(Tensor a, const Tensor& baseline, double score_x, double score_x0) {
    double total = 0;
    for (int64_t i = 0; i < a.size(); ++i) total += a[i];
    Explanation e = path_explanation(std::move(a), baseline, total, score_x, score_x0);
    e.stats["summation_to_delta_error"] = e.stats["completeness_error"];
    return e;
}

Expected<Explanation> deeplift(const ExplanationMethod& m, const Tensor& x, const Target& t,
                               const Params& p, ExplainContext& ctx) {
    if (Status s = check_logit("deeplift", t); !s) return s;
    const Tensor x0 = m.param(p, "baseline") == 0
                          ? black_image(x, ctx.probe.input_spec())
                          : gaussian_blur(x, static_cast<float>(m.param(p, "blur_sigma")));
    ProbeRequest r;
    r.target = t;
    r.input_gradient = true;
    r.reference = &x0;
    auto res = ctx.probe.run(x, r);
    if (!res) return res.status();
    Tensor a(x.shape());
    for (int64_t i = 0; i < a.size(); ++i) a[i] = (x[i] - x0[i]) * res->input_grad[i];
    ctx.report(1.f);
    return with_delta(std::move(a), x0, target_score(*res, 0, t), reference_score(*res, 0, t));
}

Expected<Explanation> deepshap(const ExplanationMethod& m, const Tensor& x, const Target& t,
                               const Params& p, ExplainContext& ctx) {
    if (Status s = check_logit("deepshap", t); !s) return s;
    const int n = static_cast<int>(m.param(p, "samples"));
    const int kind = static_cast<int>(m.param(p, "baselines"));
    const float baseline_noise = static_cast<float>(m.param(p, "baseline_noise"));
    const int batch = static_cast<int>(m.param(p, "batch"));
    const int64_t per = x.size();
    const Tensor black = black_image(x, ctx.probe.input_spec());
    const Tensor blurred =
        kind == 0 ? gaussian_blur(x, static_cast<float>(m.param(p, "blur_sigma"))) : Tensor();
    std::vector<double> acc(static_cast<size_t>(per), 0.0), mean_x0(static_cast<size_t>(per), 0.0);
    double score_x = 0, score_x0 = 0;
    for (int first = 0; first < n;) {
        const int count = std::min(batch, n - first);
        Tensor refs(Shape{count, x.shape()[1], x.shape()[2], x.shape()[3]});
        parallel_for(count, 1, [&](int64_t k0, int64_t k1, int) {
            for (int64_t k = k0; k < k1; ++k) {
                Rng rng(ctx.seed, static_cast<uint64_t>(first + k));
                draw_baseline(kind, rng, black, blurred, baseline_noise, refs.data() + k * per);
            }
        });
        ProbeRequest r;
        r.target = t;
        r.input_gradient = true;
        r.reference = &refs;
        auto res = ctx.probe.run(repeat_image(x, count), r);
        if (!res) return res.status();
        score_x = target_score(*res, 0, t);
        for (int k = 0; k < count; ++k) score_x0 += reference_score(*res, k, t);
        parallel_for(per, 1024, [&](int64_t i0, int64_t i1, int) {
            for (int k = 0; k < count; ++k)
                for (int64_t i = i0; i < i1; ++i) {
                    const float b = refs[k * per + i];
                    acc[static_cast<size_t>(i)] +=
                        static_cast<double>(x[i] - b) * res->input_grad[k * per + i];
                    mean_x0[static_cast<size_t>(i)] += b;
                }
        });
        first += count;
        if (!ctx.report(static_cast<float>(first) / n))
            return cancelled("deepshap cancelled after " + std::to_string(first) + " of " +
                             std::to_string(n) + " baselines");
    }
    Tensor a(x.shape()), x0(x.shape());
    for (int64_t i = 0; i < per; ++i) {
        a[i] = static_cast<float>(acc[static_cast<size_t>(i)] / n);
        x0[i] = static_cast<float>(mean_x0[static_cast<size_t>(i)] / n);
    }
    return with_delta(std::move(a), x0, score_x, score_x0 / n);
}

}  // namespace

const ExplanationMethod& method_DeepLift() {
    static const FnMethod m(
        {.name = "deeplift",
         .title = "DeepLIFT (rescale)",
         .traits = {.cost = MethodCost::kLive, .norm = MapNorm::kSignedPercentile99},
         .card = {.what = "Compares the image with a reference image and carries the difference of "
                          "every layer's output "
                          "back to the pixels (the rescale rule): the attributions add up to the "
                          "logit's change from the "
                          "reference to the image.",
                  .passes = "1 forward pass of the image and of the reference, 1 backward pass",
                  .paper = "Shrikumar, Greenside & Kundaje 2017, Learning Important Features "
                           "Through Propagating "
                           "Activation Differences",
                  .anchor = "Captum DeepLift (black reference)"},
         .params = {{.name = "baseline",
                     .label = "Reference",
                     .def = 0,
                     .min = 0,
                     .max = 1,
                     .integer = true,
                     .choices = {"black", "blurred"},
                     .help = "The reference image: attributions explain the change from it.",
                     .anchor = "Captum (zeros)"},
                    blur_sigma_param()},
         .explain = deeplift});
    return m;
}

const ExplanationMethod& method_DeepShap() {
    static const FnMethod m(
        {.name = "deepshap",
         .title = "DeepSHAP",
         .traits = {.cost = MethodCost::kJob, .norm = MapNorm::kSignedPercentile99},
         .card = {.what = "DeepLIFT averaged over references drawn from a distribution: an "
                          "estimate of the SHAP values, "
                          "which add up to the logit minus its mean over the references.",
                  .passes = "{samples} DeepLIFT runs (image and reference forward, 1 backward), "
                            "{batch} per engine call",
                  .paper =
                      "Lundberg & Lee 2017, A Unified Approach to Interpreting Model Predictions",
                  .anchor = "Captum DeepLiftShap; shap's DeepExplainer"},
         .params = {{.name = "samples",
                     .label = "References",
                     .def = 20,
                     .min = 1,
                     .max = 10000,
                     .integer = true,
                     .help =
                         "How many references are drawn and averaged: more gives a steadier map.",
                     .anchor = "cnnlens; Captum averages the baselines it is given"},
                    baselines_param(),
                    baseline_noise_param(),
                    blur_sigma_param(),
                    batch_param("References", 16, 1000)},
         .explain = deepshap});
    return m;
}

}  // namespace cnnlens
