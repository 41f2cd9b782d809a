// The gradient CAM family on any layer with a spatial output, A the layer's activations and G
// the gradient of the target score with respect to them (channels c, positions i):
//   Grad-CAM (Selvaraju et al. 2017)      relu(sum_c w_c A_ic), w_c = mean_i G_ic
//   Grad-CAM++ (Chattopadhay et al. 2018) w_c = sum_i alpha_ic relu(G_ic), alpha from G's powers
//   Guided Grad-CAM                       Grad-CAM upsampled times the guided-backprop gradient
//   HiResCAM (Draelos & Carin 2020)       relu(sum_c G_ic A_ic): the gradient kept per position,
//                                         so the map is faithful to the score for any head
//   XGrad-CAM (Fu et al. 2020)            w_c = sum_i G_ic A_ic / (sum_i A_ic + 1e-7)
//   Layer-CAM (Jiang et al. 2021)         relu(sum_c relu(G_ic) A_ic)
// XGrad-CAM's 1e-7 and the formulas follow pytorch-grad-cam, the anchor users compare with. Default
// layer: the last layer whose output is spatial and larger than 1x1, i.e. the one global pooling
// reads (pytorch-grad-cam's advice: ResNet's layer4[-1], the block's output after its residual Add
// and ReLU, not the last conv inside the block; VGG's features[-1]; for a plain conv stack, the
// last conv). The CAM is ReLU'd at layer resolution (extras "cam") and upsampled bilinearly to the
// input size; normalisation is left to display.
#include <algorithm>
#include <cmath>

#include "core/explain/method_util.h"

namespace cnnlens {

Expected<int> cam_layer(ModelProbe& probe, double requested, std::string_view method) {
    const std::vector<LayerInfo> layers = probe.layers();
    if (requested >= 0) {
        for (const LayerInfo& l : layers)
            if (l.node == static_cast<int>(requested)) {
                if (!l.spatial())
                    return invalid_argument("layer '" + l.name + "' has shape " + l.shape.str() +
                                            "; " + std::string(method) +
                                            " needs a spatial layer [N,H,W,C]");
                return l.node;
            }
        return invalid_argument("layer index " + std::to_string(static_cast<int>(requested)) +
                                " is not a layer of the model");
    }
    for (auto it = layers.rbegin(); it != layers.rend(); ++it)
        if (it->op != "Input" && it->spatial() && it->shape[1] * it->shape[2] > 1) return it->node;
    return not_found(
        "the model has no layer with a spatial output larger than 1x1; choose a layer");
}

Explanation cam_explanation(Tensor cam, const Tensor& image, ModelProbe& probe, int layer) {
    Explanation e;
    e.map = resize_map(cam, static_cast<int>(image.shape()[1]), static_cast<int>(image.shape()[2]));
    e.extras["cam"] = std::move(cam);
    e.layer = layer_name(probe, layer);
    e.stats["layer_node"] = layer;
    return e;
}

namespace {

enum class Variant { kGradCam, kPlusPlus, kGuided, kHiRes, kXGrad, kLayer };

template <Variant kVariant>
Expected<Explanation> cam(const ExplanationMethod& m, const Tensor& x, const Target& t,
                          const Params& p, ExplainContext& ctx) {
    auto layer = cam_layer(ctx.probe, m.param(p, "layer"), m.title());
    if (!layer) return layer.status();
    ProbeRequest r;
    r.target = t;
    r.layers = {*layer};
    r.input_gradient = kVariant == Variant::kGuided;
    r.relu_rule = kVariant == Variant::kGuided ? ReluRule::kGuided : ReluRule::kStandard;
    auto res = ctx.probe.run(x, r);
    if (!res) return res.status();
    // The guided pass changes ReLU gradients everywhere, including down to the layer; the CAM
    // itself must use true gradients, so Guided Grad-CAM asks twice.
    ProbeResult plain;
    if (kVariant == Variant::kGuided) {
        ProbeRequest r2 = r;
        r2.input_gradient = false;
        r2.relu_rule = ReluRule::kStandard;
        auto res2 = ctx.probe.run(x, r2);
        if (!res2) return res2.status();
        plain = std::move(*res2);
    }
    const ProbeResult& src = kVariant == Variant::kGuided ? plain : *res;
    const Tensor& A = src.activations[0];
    const Tensor& G = src.activation_grads[0];
    const int64_t h = A.shape()[1], w = A.shape()[2], k = A.shape()[3], hw = h * w;
    std::vector<double> weight(static_cast<size_t>(k), 0.0);
    for (int64_t c = 0; c < k; ++c) {
        if (kVariant == Variant::kHiRes || kVariant == Variant::kLayer)
            break;  // per-position weights below
        if (kVariant == Variant::kXGrad) {
            double ga = 0, a = 0;
            for (int64_t i = 0; i < hw; ++i) {
                ga += static_cast<double>(G[i * k + c]) * A[i * k + c];
                a += A[i * k + c];
            }
            weight[static_cast<size_t>(c)] = ga / (a + 1e-7);
        } else if (kVariant == Variant::kPlusPlus) {
            double sum_a = 0;
            for (int64_t i = 0; i < hw; ++i) sum_a += A[i * k + c];
            for (int64_t i = 0; i < hw; ++i) {
                const double g = G[i * k + c], g2 = g * g, g3 = g2 * g;
                const double denom = 2 * g2 + sum_a * g3 + 1e-7;
                const double alpha = g != 0 ? g2 / denom : 0.0;
                weight[static_cast<size_t>(c)] += alpha * std::max(g, 0.0);
            }
        } else {
            for (int64_t i = 0; i < hw; ++i) weight[static_cast<size_t>(c)] += G[i * k + c];
            weight[static_cast<size_t>(c)] /= static_cast<double>(hw);
        }
    }
    Tensor small(Shape{h, w});
    for (int64_t i = 0; i < hw; ++i) {
        double s = 0;
        for (int64_t c = 0; c < k; ++c) {
            const double g = G[i * k + c];
            const double wc = kVariant == Variant::kHiRes   ? g
                              : kVariant == Variant::kLayer ? std::max(g, 0.0)
                                                            : weight[static_cast<size_t>(c)];
            s += wc * A[i * k + c];
        }
        small[i] = static_cast<float>(std::max(s, 0.0));
    }
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]);
    Explanation e = cam_explanation(std::move(small), x, ctx.probe, *layer);
    e.stats["score"] = target_score(*res, 0, t);
    if (kVariant == Variant::kGuided) {
        const int64_t c = x.shape()[3];
        Tensor a(Shape{H, W, c});
        for (int64_t i = 0; i < static_cast<int64_t>(H) * W; ++i)
            for (int64_t ch = 0; ch < c; ++ch)
                a[i * c + ch] = res->input_grad[i * c + ch] * e.map[i];
        Tensor row = a.clone();
        row.reshape(x.shape());
        e.extras["cam_upsampled"] = std::move(e.map);
        e.map = sum_channels(row);
        e.attribution = std::move(a);
    }
    ctx.report(1.f);
    return e;
}

// A CAM is a ReLU'd weighted sum, zero or above, so its full range is shown (pytorch-grad-cam
// scales min-max); Guided Grad-CAM multiplies it into the signed guided gradient.
template <Variant kVariant>
MethodDef cam_def(std::string_view name, std::string_view title, MethodCard card,
                  MapNorm norm = MapNorm::kMinMax) {
    if (card.reading.empty()) card.reading = kCamReading;
    if (card.passes.empty()) card.passes = "1 forward and 1 backward pass";
    if (card.anchor.empty()) card.anchor = "pytorch-grad-cam (layer, formulas, min-max scaling)";
    return {.name = name,
            .title = title,
            .traits = {.cost = MethodCost::kLive, .norm = norm},
            .card = card,
            .params = {layer_param()},
            .explain = cam<kVariant>};
}

constexpr std::string_view kGradCamPaper =
    "Selvaraju, Cogswell, Das, Vedantam, Parikh & Batra 2017, Grad-CAM: Visual Explanations from "
    "Deep Networks via "
    "Gradient-based Localization";

}  // namespace

const ParamDef& layer_param() {
    static const ParamDef d{
        .name = "layer",
        .label = "Layer",
        .def = -1,
        .min = -1,
        .max = 1e9,
        .integer = true,
        .help = "The layer the map is made from: later layers are coarser and closer to the class.",
        .anchor =
            "pytorch-grad-cam's advice: the last layer larger than 1x1, which global pooling reads",
        .range = "auto (-1) or a layer's node (cnnlens model-info; the CLI also takes its name)"};
    return d;
}

const ExplanationMethod& method_GradCam() {
    static const FnMethod m(cam_def<Variant::kGradCam>(
        "gradcam", "Grad-CAM",
        {.what = "Weights each channel of a late layer by the mean gradient of the score over its "
                 "positions, sums the "
                 "weighted channels and keeps the positive part: the regions that raise the score.",
         .paper = kGradCamPaper}));
    return m;
}

const ExplanationMethod& method_GradCamPlusPlus() {
    static const FnMethod m(cam_def<Variant::kPlusPlus>(
        "gradcampp", "Grad-CAM++",
        {.what = "Grad-CAM whose channel weights sum the positive gradients with per-position "
                 "coefficients from the "
                 "gradient's powers, so that several regions with the same feature all get credit.",
         .paper = "Chattopadhay, Sarkar, Howlader & Balasubramanian 2018, Grad-CAM++: Generalized "
                  "Gradient-based Visual "
                  "Explanations for Deep Convolutional Networks"}));
    return m;
}

const ExplanationMethod& method_GuidedGradCam() {
    static const FnMethod m(cam_def<Variant::kGuided>(
        "guided_gradcam", "Guided Grad-CAM",
        {.what = "Grad-CAM upsampled to the image and multiplied into the Guided Backprop "
                 "gradient: guided backprop's "
                 "fine detail, kept where Grad-CAM finds the class.",
         .reading = "Fine detail where Grad-CAM is high, near zero elsewhere.",
         .passes = "2 forward and 2 backward passes",
         .paper = kGradCamPaper,
         .anchor = "pytorch-grad-cam; Captum GuidedGradCam"},
        MapNorm::kSignedPercentile99));
    return m;
}

const ExplanationMethod& method_HiResCam() {
    static const FnMethod m(cam_def<Variant::kHiRes>(
        "hirescam", "HiResCAM",
        {.what =
             "Multiplies the layer's activations by their gradients position by position, without "
             "Grad-CAM's "
             "averaging, so the map shows what the score depends on at each position of the layer.",
         .paper = "Draelos & Carin 2020, Use HiResCAM instead of Grad-CAM for faithful "
                  "explanations of convolutional "
                  "neural networks"}));
    return m;
}

const ExplanationMethod& method_XGradCam() {
    static const FnMethod m(cam_def<Variant::kXGrad>(
        "xgradcam", "XGrad-CAM",
        {.what = "Grad-CAM with each channel weighted by gradient times activation over the "
                 "channel's total activation, "
                 "a weighting derived from two axioms (sensitivity and conservation).",
         .paper = "Fu, Hu, Dong, Guo, Gao & Li 2020, Axiom-based Grad-CAM: Towards Accurate "
                  "Visualization and "
                  "Explanation of CNNs"}));
    return m;
}

const ExplanationMethod& method_LayerCam() {
    static const FnMethod m(
        cam_def<Variant::kLayer>("layercam", "Layer-CAM",
                                 {.what = "Weights each activation by its own positive gradient, "
                                          "position by position; unlike Grad-CAM it stays "
                                          "sharp at earlier, finer layers.",
                                  .paper = "Jiang, Zhang, Hou, Cheng & Wei 2021, LayerCAM: "
                                           "Exploring Hierarchical Class Activation Maps for "
                                           "Localization"}));
    return m;
}

}  // namespace cnnlens
