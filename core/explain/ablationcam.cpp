// Ablation-CAM (Desai & Ramaswamy 2020): the weight of channel k of the layer's activations A is
// the fraction of the target score y lost when that channel is set to zero,
// w_k = (y - y_k) / y, and CAM = relu(sum_k w_k A_k); extras["weights"] holds w [k].
// The ablated channel is set to 0, the paper's choice. pytorch-grad-cam does too when the
// layer's minimum is 0 (after a ReLU), but otherwise sets it to min - 1e7, which makes y_k a
// measure of the network's reaction to an extreme value rather than to the channel's absence;
// its formula (y - y_k) / y has no epsilon either. A target score of exactly 0 leaves the
// weights undefined and is reported as an error.
// The ablated copies run from the layer on (ProbeRequest::replace): the graph before the layer
// runs once, the rest once per channel, in batches.
#include <algorithm>
#include <cmath>

#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

Expected<Explanation> ablationcam(const ExplanationMethod& m, const Tensor& x, const Target& t,
                                  const Params& p, ExplainContext& ctx) {
    auto layer = cam_layer(ctx.probe, m.param(p, "layer"), m.title());
    if (!layer) return layer.status();
    const int batch = static_cast<int>(m.param(p, "batch"));
    ProbeRequest r;
    r.layers = {*layer};
    auto base = ctx.probe.run(x, r);
    if (!base) return base.status();
    const Tensor& A = base->activations[0];
    const double y = target_score(*base, 0, t);
    if (y == 0)
        return invalid_argument(
            "Ablation-CAM: the target score is 0, so the weights (y - y_k) / y are undefined");
    const int64_t h = A.shape()[1], w = A.shape()[2], k = A.shape()[3], hw = h * w;
    std::vector<double> weight(static_cast<size_t>(k));
    for (int64_t first = 0; first < k;) {
        const int64_t n = std::min<int64_t>(batch, k - first);
        Tensor values = repeat_image(A, n);
        for (int64_t j = 0; j < n; ++j)
            for (int64_t i = 0; i < hw; ++i) values[(j * hw + i) * k + first + j] = 0.f;
        ProbeRequest ablate;
        ablate.replace = ProbeRequest::Replace{*layer, &values};
        auto res = ctx.probe.run(x, ablate);
        if (!res) return res.status();
        for (int64_t j = 0; j < n; ++j)
            weight[static_cast<size_t>(first + j)] = (y - target_score(*res, j, t)) / y;
        first += n;
        if (!ctx.report(static_cast<float>(first) / static_cast<float>(k)))
            return cancelled("Ablation-CAM cancelled after " + std::to_string(first) + " of " +
                             std::to_string(k) + " channels");
    }
    Tensor cam(Shape{h, w});
    for (int64_t i = 0; i < hw; ++i) {
        double s = 0;
        for (int64_t c = 0; c < k; ++c) s += weight[static_cast<size_t>(c)] * A[i * k + c];
        cam[i] = static_cast<float>(std::max(s, 0.0));
    }
    Explanation e = cam_explanation(std::move(cam), x, ctx.probe, *layer);
    Tensor weights(Shape{k});
    for (int64_t c = 0; c < k; ++c) weights[c] = static_cast<float>(weight[static_cast<size_t>(c)]);
    e.extras["weights"] = std::move(weights);
    e.stats["score"] = y;
    e.stats["channels"] = static_cast<double>(k);
    return e;
}

}  // namespace

const ExplanationMethod& method_AblationCam() {
    static const FnMethod m(
        {.name = "ablationcam",
         .title = "Ablation-CAM",
         .traits = {.cost = MethodCost::kJob, .norm = MapNorm::kMinMax},
         .card =
             {.what = "Sets each channel of the layer to zero in turn; the share of the score lost "
                      "weights that "
                      "channel. No gradients.",
              .reading = kCamReading,
              .passes =
                  "1 forward pass, then 1 from the layer on per channel, {batch} per engine call",
              .paper = "Desai & Ramaswamy 2020, Ablation-CAM: Visual Explanation for Deep "
                       "Convolutional Network via "
                       "Gradient-free Localization",
              .anchor = "pytorch-grad-cam (the paper's ablated value 0)"},
         .params = {layer_param(),
                    batch_param("Ablated copies", 32, 1000, "pytorch-grad-cam's batch_size")},
         .explain = ablationcam});
    return m;
}

}  // namespace cnnlens
