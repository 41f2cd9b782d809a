// Score-CAM (Wang et al. 2020), as pytorch-grad-cam computes it: each channel k of the layer's
// activations A_k is upsampled to the input size (bilinear with align_corners=True, torch's
// UpsamplingBilinear2d), min-max scaled to [0, 1] ((M - min) / (max - min + 1e-8), so a constant
// channel masks everything out), and multiplied into the input; the masked inputs run through
// the model in batches, and the channel weights are the softmax over channels of the target's
// score on them (the logit by default: pytorch-grad-cam's ClassifierOutputTarget, not the paper's
// probability gain over a baseline). CAM = relu(sum_k w_k A_k); extras["weights"] holds w [k].
// The multiplication is in model input space, after mean/std normalisation, as pytorch-grad-cam
// multiplies the normalised tensor: with a mean/std model a masked-out pixel is the dataset's
// mean colour, with a [0, 1] model it is black.
#include <algorithm>
#include <cmath>

#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

// Channel c of A [1, h, w, k] resized to [H, W] bilinearly with corners aligned (torch's
// align_corners=True: output pixel y samples input row y (h - 1) / (H - 1)).
void upsample_aligned(const Tensor& A, int64_t c, int64_t H, int64_t W, std::vector<double>& out) {
    const int64_t h = A.shape()[1], w = A.shape()[2], k = A.shape()[3];
    out.resize(static_cast<size_t>(H * W));
    const double sy = H > 1 ? static_cast<double>(h - 1) / static_cast<double>(H - 1) : 0.0;
    const double sx = W > 1 ? static_cast<double>(w - 1) / static_cast<double>(W - 1) : 0.0;
    for (int64_t y = 0; y < H; ++y) {
        const double fy = static_cast<double>(y) * sy;
        const int64_t y0 = std::min<int64_t>(static_cast<int64_t>(fy), h - 1),
                      y1 = std::min<int64_t>(y0 + 1, h - 1);
        const double ty = fy - static_cast<double>(y0);
        for (int64_t x = 0; x < W; ++x) {
            const double fx = static_cast<double>(x) * sx;
            const int64_t x0 = std::min<int64_t>(static_cast<int64_t>(fx), w - 1),
                          x1 = std::min<int64_t>(x0 + 1, w - 1);
            const double tx = fx - static_cast<double>(x0);
            auto a = [&](int64_t yy, int64_t xx) {
                return static_cast<double>(A[(yy * w + xx) * k + c]);
            };
            out[static_cast<size_t>(y * W + x)] =
                (1 - ty) * ((1 - tx) * a(y0, x0) + tx * a(y0, x1)) +
                ty * ((1 - tx) * a(y1, x0) + tx * a(y1, x1));
        }
    }
}

Expected<Explanation> scorecam(const ExplanationMethod& m, const Tensor& x, const Target& t,
                               const Params& p, ExplainContext& ctx) {
    auto layer = cam_layer(ctx.probe, m.param(p, "layer"), m.title());
    if (!layer) return layer.status();
    const int batch = static_cast<int>(m.param(p, "batch"));
    ProbeRequest r;
    r.layers = {*layer};
    auto base = ctx.probe.run(x, r);
    if (!base) return base.status();
    const Tensor& A = base->activations[0];
    const int64_t h = A.shape()[1], w = A.shape()[2], k = A.shape()[3], hw = h * w;
    const int64_t H = x.shape()[1], W = x.shape()[2], C = x.shape()[3];
    std::vector<double> score(static_cast<size_t>(k));
    std::vector<double> mask;
    ProbeRequest plain;
    for (int64_t first = 0; first < k;) {
        const int64_t n = std::min<int64_t>(batch, k - first);
        Tensor b = repeat_image(x, n);
        for (int64_t j = 0; j < n; ++j) {
            upsample_aligned(A, first + j, H, W, mask);
            const auto [lo, hi] = std::minmax_element(mask.begin(), mask.end());
            const double lo_v = *lo, range = *hi - *lo + 1e-8;
            float* row = b.data() + j * H * W * C;
            for (int64_t i = 0; i < H * W; ++i) {
                const double s = (mask[static_cast<size_t>(i)] - lo_v) / range;
                for (int64_t ch = 0; ch < C; ++ch)
                    row[i * C + ch] = static_cast<float>(row[i * C + ch] * s);
            }
        }
        auto res = ctx.probe.run(b, plain);
        if (!res) return res.status();
        for (int64_t j = 0; j < n; ++j)
            score[static_cast<size_t>(first + j)] = target_score(*res, j, t);
        first += n;
        if (!ctx.report(static_cast<float>(first) / static_cast<float>(k)))
            return cancelled("Score-CAM cancelled after " + std::to_string(first) + " of " +
                             std::to_string(k) + " channels");
    }
    const double top = *std::max_element(score.begin(), score.end());
    std::vector<double> weight(static_cast<size_t>(k));
    double sum = 0;
    for (int64_t c = 0; c < k; ++c)
        sum += weight[static_cast<size_t>(c)] = std::exp(score[static_cast<size_t>(c)] - top);
    for (double& v : weight) v /= sum;
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
    e.stats["score"] = target_score(*base, 0, t);
    e.stats["channels"] = static_cast<double>(k);
    return e;
}

}  // namespace

const ExplanationMethod& method_ScoreCam() {
    static const FnMethod m(
        {.name = "scorecam",
         .title = "Score-CAM",
         .traits = {.cost = MethodCost::kJob, .norm = MapNorm::kMinMax},
         .card = {.what = "Each channel of the layer, upsampled and scaled to [0, 1], masks the "
                          "image; the model's score "
                          "on each masked image, through a softmax over channels, weights that "
                          "channel. No gradients.",
                  .reading = kCamReading,
                  .passes =
                      "1 forward pass, then 1 per channel of the layer, {batch} per engine call",
                  .paper = "Wang, Wang, Du, Yang, Zhang, Ding, Mardziel & Hu 2020, Score-CAM: "
                           "Score-Weighted Visual "
                           "Explanations for Convolutional Neural Networks",
                  .anchor = "pytorch-grad-cam"},
         .params = {layer_param(),
                    batch_param("Masked images", 16, 1000, "pytorch-grad-cam's batch_size")},
         .explain = scorecam});
    return m;
}

}  // namespace cnnlens
