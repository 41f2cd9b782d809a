// Vanilla gradient saliency (Simonyan et al. 2014) and Gradient x Input (Shrikumar et al.).
#include <cmath>

#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

Expected<Tensor> gradient_batch(const ExplanationMethod&, const Tensor& x, const Target& t,
                                const Params&, ExplainContext& ctx) {
    auto r = input_gradients(ctx.probe, x, t);
    if (!r) return r.status();
    return std::move(r->input_grad);
}

Expected<Tensor> gradient_x_input_batch(const ExplanationMethod&, const Tensor& x, const Target& t,
                                        const Params&, ExplainContext& ctx) {
    auto r = input_gradients(ctx.probe, x, t);
    if (!r) return r.status();
    for (int64_t i = 0; i < r->input_grad.size(); ++i) r->input_grad[i] *= x[i];
    return std::move(r->input_grad);
}

Expected<Explanation> saliency(const ExplanationMethod&, const Tensor& x, const Target& t,
                               const Params&, ExplainContext& ctx) {
    auto r = input_gradients(ctx.probe, x, t);
    if (!r) return r.status();
    Explanation e;
    e.attribution = r->input_grad.clone();
    e.attribution.reshape(Shape{x.shape()[1], x.shape()[2], x.shape()[3]});
    e.map = abs_sum_channels(r->input_grad);
    e.extras["signed"] = sum_channels(r->input_grad);
    e.stats["score"] = target_score(*r, 0, t);
    ctx.report(1.f);
    return e;
}

Expected<Explanation> gradient_x_input(const ExplanationMethod&, const Tensor& x, const Target& t,
                                       const Params&, ExplainContext& ctx) {
    auto r = input_gradients(ctx.probe, x, t);
    if (!r) return r.status();
    Explanation e;
    Tensor a = r->input_grad.clone();
    for (int64_t i = 0; i < a.size(); ++i) a[i] *= x[i];
    e.map = sum_channels(a);
    a.reshape(Shape{x.shape()[1], x.shape()[2], x.shape()[3]});
    e.attribution = std::move(a);
    e.stats["score"] = target_score(*r, 0, t);
    ctx.report(1.f);
    return e;
}

}  // namespace

const ExplanationMethod& method_Saliency() {
    static const FnMethod m(
        {.name = "saliency",
         .title = "Vanilla gradient",
         .traits = {.cost = MethodCost::kLive, .norm = MapNorm::kPercentile99},
         .card =
             {.what =
                  "The gradient of the class score with respect to each pixel: how much the score "
                  "changes when that pixel alone changes a little. Shown as its size, summed over "
                  "colour channels.",
              .passes = "1 forward and 1 backward pass",
              .paper = "Simonyan, Vedaldi & Zisserman 2014, Deep Inside Convolutional Networks: "
                       "Visualising Image Classification Models and Saliency Maps",
              .anchor = "PAIR saliency (|gradient| summed over channels)"},
         .explain = saliency,
         .attribute_batch = gradient_batch});
    return m;
}

const ExplanationMethod& method_GradientXInput() {
    static const FnMethod m(
        {.name = "gradient_x_input",
         .title = "Gradient x Input",
         .traits = {.cost = MethodCost::kLive, .norm = MapNorm::kSignedPercentile99},
         .card =
             {.what =
                  "The gradient times the pixel's value: a first-order estimate of how much each "
                  "pixel adds to the score compared with a zero input.",
              .passes = "1 forward and 1 backward pass",
              .paper = "Shrikumar, Greenside, Shcherbina & Kundaje 2016, Not Just a Black Box: "
                       "Learning Important Features Through Propagating Activation Differences",
              .anchor = "Captum InputXGradient"},
         .explain = gradient_x_input,
         .attribute_batch = gradient_x_input_batch});
    return m;
}

}  // namespace cnnlens
