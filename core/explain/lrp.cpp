// Layer-wise Relevance Propagation (Bach et al. 2015; Montavon et al. 2019, "Layer-wise
// relevance propagation: an overview") with Zennit's rules and composites (Anders et al. 2021).
//
// Relevance starts as the target's score one-hot on the logits and flows back through every op's
// own rule (OpDef::lrp, next to its forward and VJP): element-wise activations pass it on,
// layout ops and MaxPool route it like the gradient, sums (residual Add), AvgPool and global
// average pooling split it in proportion to their inputs (Zennit's Norm), and ops with weights
// apply the rule the composite gives them. A model with an op that has no rule on the way (Mul
// of two activations, Softmax inside the model, LayerNorm, attention) is refused, naming it.
//
// Composites, as Zennit defines them (composites.py), convolutions / dense layers / first layer:
//   epsilon                    ε / ε / —               (ε everywhere: LRP-ε, LRP-0 with ε = 0)
//   epsilon_plus               z⁺ / ε / —              (EpsilonPlus)
//   epsilon_plus_flat          z⁺ / ε / flat           (EpsilonPlusFlat; first conv or dense)
//   epsilon_gamma_box          γ / ε / z^B             (EpsilonGammaBox; first convolution)
//   epsilon_alpha2_beta1       α2β1 / ε / —            (EpsilonAlpha2Beta1)
//   epsilon_alpha2_beta1_flat  α2β1 / ε / flat         (EpsilonAlpha2Beta1Flat)
// Zennit's z⁺ is its α=1, β=0 rule (W+ on x+ and W- on x-, so negative inputs keep a share);
// the `first` parameter puts ε, flat, w² or z^B on the first layer of any composite. z^B's box
// is the model's input range: the values a black and a white pixel take after normalisation.
// The default is epsilon_plus_flat, the composite Kohlbrenner et al. 2020 ("Towards best
// practice in explaining neural network decisions with LRP") recommend for CNNs.
//
// The map is the input's relevance summed over channels (signed, red = for the class); its
// total is stats["relevance_sum"] against stats["score"], which biases and stabilisers make
// differ slightly.
#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

LrpRule rule_of(LrpRule::Kind kind, const Params& p, const ExplanationMethod& m) {
    LrpRule r;
    r.kind = kind;
    r.epsilon = static_cast<float>(m.param(p, "epsilon"));
    r.gamma = static_cast<float>(m.param(p, "gamma"));
    return r;
}

LrpComposite composite_of(const ExplanationMethod& m, const Params& p, const InputSpec& spec) {
    using K = LrpRule::Kind;
    LrpComposite c;
    c.dense = rule_of(K::kEpsilon, p, m);
    LrpRule zplus = rule_of(K::kAlphaBeta, p, m);
    zplus.alpha = 1.f, zplus.beta = 0.f;
    LrpRule ab21 = rule_of(K::kAlphaBeta, p, m);
    ab21.alpha = 2.f, ab21.beta = 1.f;
    LrpRule box = rule_of(K::kZBox, p, m);
    box.low = fill_in_input_space(spec, 0.f, spec.channels);
    box.high = fill_in_input_space(spec, 1.f, spec.channels);
    switch (static_cast<int>(m.param(p, "composite"))) {
        case 0:
            c.conv = rule_of(K::kEpsilon, p, m);
            break;
        case 1:
            c.conv = zplus;
            break;
        case 2:
            c.conv = zplus, c.first = rule_of(K::kFlat, p, m), c.first_dense = true;
            break;
        case 3:
            c.conv = rule_of(K::kGamma, p, m), c.first = box;
            break;
        case 4:
            c.conv = ab21;
            break;
        default:
            c.conv = ab21, c.first = rule_of(K::kFlat, p, m), c.first_dense = true;
            break;
    }
    switch (static_cast<int>(m.param(p, "first"))) {
        case 1:
            c.first = rule_of(K::kEpsilon, p, m);
            break;
        case 2:
            c.first = rule_of(K::kFlat, p, m);
            break;
        case 3:
            c.first = rule_of(K::kWSquare, p, m);
            break;
        case 4:
            c.first = box;
            break;
        default:
            return c;
    }
    c.first_dense = true;
    return c;
}

Expected<ProbeResult> relevance(const ExplanationMethod& m, const Tensor& x, const Target& t,
                                const Params& p, ExplainContext& ctx) {
    ProbeRequest r;
    r.target = t;
    r.input_gradient = true;
    r.lrp = composite_of(m, p, ctx.probe.input_spec());
    return ctx.probe.run(x, r);
}

Expected<Tensor> lrp_batch(const ExplanationMethod& m, const Tensor& x, const Target& t,
                           const Params& p, ExplainContext& ctx) {
    auto r = relevance(m, x, t, p, ctx);
    if (!r) return r.status();
    return std::move(r->input_grad);
}

Expected<Explanation> lrp(const ExplanationMethod& m, const Tensor& x, const Target& t,
                          const Params& p, ExplainContext& ctx) {
    auto r = relevance(m, x, t, p, ctx);
    if (!r) return r.status();
    Explanation e;
    e.map = sum_channels(r->input_grad);
    double total = 0;
    for (int64_t i = 0; i < r->input_grad.size(); ++i) total += r->input_grad[i];
    e.attribution = std::move(r->input_grad);
    e.attribution.reshape(Shape{x.shape()[1], x.shape()[2], x.shape()[3]});
    e.stats["score"] = target_score(*r, 0, t);
    e.stats["relevance_sum"] = total;
    ctx.report(1.f);
    return e;
}

}  // namespace

const ExplanationMethod& method_Lrp() {
    static const FnMethod m(
        {.name = "lrp",
         .title = "LRP (layer-wise relevance)",
         .traits = {.cost = MethodCost::kLive, .norm = MapNorm::kSignedPercentile99},
         .card = {.what = "Hands the class score back layer by layer, each layer sharing its "
                          "relevance among its inputs "
                          "by a rule (epsilon, z-plus, gamma, flat...), until it reaches the "
                          "pixels; the total stays "
                          "close to the score.",
                  .passes = "1 forward pass and 1 relevance pass",
                  .paper = "Bach, Binder, Montavon, Klauschen, Muller & Samek 2015, On Pixel-Wise "
                           "Explanations for "
                           "Non-Linear Classifier Decisions by Layer-Wise Relevance Propagation",
                  .anchor = "Zennit (rules and composites)"},
         .params = {{.name = "composite",
                     .label = "Rule set",
                     .def = 2,
                     .min = 0,
                     .max = 5,
                     .integer = true,
                     .choices = {"epsilon", "epsilon_plus", "epsilon_plus_flat",
                                 "epsilon_gamma_box", "epsilon_alpha2_beta1",
                                 "epsilon_alpha2_beta1_flat"},
                     .help = "Zennit's composite: the rules for convolutions, dense layers and the "
                             "first layer.",
                     .anchor = "Kohlbrenner et al. 2020's advice for CNNs"},
                    {.name = "first",
                     .label = "First layer rule",
                     .def = 0,
                     .min = 0,
                     .max = 4,
                     .integer = true,
                     .choices = {"composite", "epsilon", "flat", "wsquare", "zbox"},
                     .help = "The first layer's rule: the composite's, or one of these.",
                     .anchor = "Zennit (the composite's)"},
                    {.name = "epsilon",
                     .label = "Epsilon",
                     .def = 1e-6,
                     .min = 0,
                     .max = 10,
                     .help = "Stabiliser of the epsilon rule (dense layers; every layer in the "
                             "epsilon composite): "
                             "larger keeps only strong relevance.",
                     .anchor = "Zennit's 1e-6"},
                    {.name = "gamma",
                     .label = "Gamma",
                     .def = 0.25,
                     .min = 0,
                     .max = 10,
                     .help = "How much more positive weights count in the gamma rule.",
                     .anchor = "Zennit's 0.25"}},
         .explain = lrp,
         .attribute_batch = lrp_batch});
    return m;
}

}  // namespace cnnlens
