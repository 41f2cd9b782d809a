// Guided Backprop (Springenberg et al. 2015): the input gradient with every ReLU passing only
// positive gradients where its input was positive. The deconvnet rule is a parameter.
#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

ReluRule rule_of(const ExplanationMethod& m, const Params& p) {
    return m.param(p, "rule") == 1 ? ReluRule::kDeconvnet : ReluRule::kGuided;
}

Expected<Tensor> guided_batch(const ExplanationMethod& m, const Tensor& x, const Target& t,
                              const Params& p, ExplainContext& ctx) {
    auto r = input_gradients(ctx.probe, x, t, rule_of(m, p));
    if (!r) return r.status();
    return std::move(r->input_grad);
}

Expected<Explanation> guided(const ExplanationMethod& m, const Tensor& x, const Target& t,
                             const Params& p, ExplainContext& ctx) {
    auto r = input_gradients(ctx.probe, x, t, rule_of(m, p));
    if (!r) return r.status();
    Explanation e;
    e.map = sum_channels(r->input_grad);
    e.extras["abs"] = abs_sum_channels(r->input_grad);
    e.attribution = r->input_grad.clone();
    e.attribution.reshape(Shape{x.shape()[1], x.shape()[2], x.shape()[3]});
    e.stats["score"] = target_score(*r, 0, t);
    ctx.report(1.f);
    return e;
}

}  // namespace

const ExplanationMethod& method_GuidedBackprop() {
    static const FnMethod m(
        {.name = "guided",
         .title = "Guided Backprop",
         .traits = {.cost = MethodCost::kLive, .norm = MapNorm::kSignedPercentile99},
         .card = {.what = "The gradient with every ReLU passing back only positive gradients where "
                          "its input was "
                          "positive: sharp edges of what excites the class, but nearly the same "
                          "for every class.",
                  .passes = "1 forward and 1 backward pass",
                  .paper = "Springenberg, Dosovitskiy, Brox & Riedmiller 2015, Striving for "
                           "Simplicity: The All "
                           "Convolutional Net",
                  .anchor = "Captum GuidedBackprop and Deconvolution"},
         .params = {{.name = "rule",
                     .label = "ReLU rule",
                     .def = 0,
                     .min = 0,
                     .max = 1,
                     .integer = true,
                     .choices = {"guided", "deconvnet"},
                     .help = "How gradients pass a ReLU: guided (Springenberg) or deconvnet "
                             "(Zeiler & Fergus).",
                     .anchor = "the paper (guided)"}},
         .explain = guided,
         .attribute_batch = guided_batch});
    return m;
}

}  // namespace cnnlens
