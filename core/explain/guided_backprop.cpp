// Guided Backprop (Springenberg et al. 2015): the input gradient with every ReLU passing only
// positive gradients where its input was positive. The deconvnet rule is a parameter.
#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

Expected<Explanation> guided(const ExplanationMethod& m, const Tensor& x, const Target& t, const Params& p, ExplainContext& ctx) {
    const auto& fm = static_cast<const FnMethod&>(m);
    const ReluRule rule = fm.param(p, "rule") == 1 ? ReluRule::kDeconvnet : ReluRule::kGuided;
    auto r = input_gradients(ctx.probe, x, t, rule);
    if (!r) return r.status();
    Explanation e;
    e.map = sum_channels(r->input_grad);
    e.signed_map = true;
    e.extras["abs"] = abs_sum_channels(r->input_grad);
    e.attribution = r->input_grad.clone();
    e.attribution.reshape(Shape{x.shape()[1], x.shape()[2], x.shape()[3]});
    e.stats["score"] = target_score(*r, 0, t);
    ctx.report(1.f);
    return e;
}

}  // namespace

const ExplanationMethod& method_GuidedBackprop() {
    static const FnMethod m("guided", "Guided Backprop",
                            {{"rule", 0, 0, 1, "ReLU backward rule: guided (Springenberg) or deconvnet (Zeiler & Fergus)", {"guided", "deconvnet"}, true}},
                            guided);
    return m;
}

}  // namespace cnnlens
