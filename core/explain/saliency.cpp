// Vanilla gradient saliency (Simonyan et al. 2014) and Gradient x Input (Shrikumar et al.).
#include <cmath>

#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

Expected<Explanation> saliency(const ExplanationMethod&, const Tensor& x, const Target& t, const Params&, ExplainContext& ctx) {
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

Expected<Explanation> gradient_x_input(const ExplanationMethod&, const Tensor& x, const Target& t, const Params&, ExplainContext& ctx) {
    auto r = input_gradients(ctx.probe, x, t);
    if (!r) return r.status();
    Explanation e;
    Tensor a = r->input_grad.clone();
    for (int64_t i = 0; i < a.size(); ++i) a[i] *= x[i];
    e.map = sum_channels(a);
    e.signed_map = true;
    a.reshape(Shape{x.shape()[1], x.shape()[2], x.shape()[3]});
    e.attribution = std::move(a);
    e.stats["score"] = target_score(*r, 0, t);
    ctx.report(1.f);
    return e;
}

}  // namespace

const ExplanationMethod& method_Saliency() {
    static const FnMethod m("saliency", "Vanilla gradient", {}, saliency);
    return m;
}

const ExplanationMethod& method_GradientXInput() {
    static const FnMethod m("gradient_x_input", "Gradient x Input", {}, gradient_x_input);
    return m;
}

}  // namespace cnnlens
