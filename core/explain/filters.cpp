// Filter visualization by gradient ascent through ModelProbe (see filters.h); the image it
// optimizes is an AscentImage (ascent_image.h).
#include "core/explain/filters.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "core/base/rng.h"
#include "core/explain/ascent_image.h"

namespace cnnlens {

AscentParams AscentParams::uo_classic() {
    AscentParams p;
    p.parameterization = Parameterization::kPixel;
    p.steps = 30;
    p.learning_rate = 0.1f;
    p.l2_decay = 1e-6f;
    p.jitter = 0;
    return p;
}

std::span<const ParamDef> ascent_param_defs() {
    static const AscentParams d;
    static const std::vector<ParamDef> defs = {
        {.name = "parameterization",
         .label = "Parameterization",
         .def = static_cast<double>(d.parameterization),
         .min = 0,
         .max = 1,
         .integer = true,
         .choices = {"pixel", "fourier"},
         .help = "pixel: the pixels themselves (UO); fourier: a scaled spectrum through a sigmoid, "
                 "smoother (Lucid).",
         .anchor = "Lucid and Lucent"},
        {.name = "steps",
         .label = "Steps",
         .def = static_cast<double>(d.steps),
         .min = 1,
         .max = 4096,
         .integer = true,
         .help = "Adam steps: more makes the channel fire harder, slowly.",
         .anchor = "half of Lucid's 512, enough on the bundled model"},
        {.name = "learning_rate",
         .label = "Learning rate",
         .def = d.learning_rate,
         .min = 0.001,
         .max = 1,
         .help = "Adam's step size.",
         .anchor = "Lucid; UO uses 0.1"},
        {.name = "l2_decay",
         .label = "Weight decay",
         .def = d.l2_decay,
         .min = 0,
         .max = 0.1,
         .help = "Pull toward mid-gray each step.",
         .anchor = "Lucid (none); UO uses 1e-6"},
        {.name = "blur_every",
         .label = "Blur every",
         .def = static_cast<double>(d.blur_every),
         .min = 0,
         .max = 64,
         .integer = true,
         .help = "Blur the image every n steps (0: never).",
         .anchor = "Lucid (never); UO's regularized variant: 4"},
        {.name = "blur_sigma",
         .label = "Blur sigma",
         .def = d.blur_sigma,
         .min = 0.1,
         .max = 4,
         .help = "Standard deviation of that blur, in pixels.",
         .anchor = "cnnlens"},
        {.name = "jitter",
         .label = "Jitter",
         .def = static_cast<double>(d.jitter),
         .min = 0,
         .max = 16,
         .integer = true,
         .help = "Random shift of the image each step, in pixels: steadier, less noisy pictures.",
         .anchor = "Lucid's 8 at 224 px, scaled to 64"},
        {.name = "total_variation",
         .label = "Smoothness penalty",
         .def = d.total_variation,
         .min = 0,
         .max = 100,
         .help = "Weight of the squared-difference penalty between neighbouring pixels.",
         .anchor = "Lucid (0)"},
    };
    return defs;
}

AscentParams ascent_params_from(const Params& p, const AscentParams& base) {
    AscentParams a = base;
    a.parameterization = p.get("parameterization", static_cast<double>(a.parameterization)) >= 0.5
                             ? Parameterization::kFourier
                             : Parameterization::kPixel;
    a.steps = static_cast<int>(p.get("steps", a.steps));
    a.learning_rate = static_cast<float>(p.get("learning_rate", a.learning_rate));
    a.l2_decay = static_cast<float>(p.get("l2_decay", a.l2_decay));
    a.blur_every = static_cast<int>(p.get("blur_every", a.blur_every));
    a.blur_sigma = static_cast<float>(p.get("blur_sigma", a.blur_sigma));
    a.jitter = static_cast<int>(p.get("jitter", a.jitter));
    a.total_variation = static_cast<float>(p.get("total_variation", a.total_variation));
    return a;
}

Params ascent_params_to(const AscentParams& a) {
    Params p;
    p.set("parameterization", static_cast<double>(a.parameterization))
        .set("steps", a.steps)
        .set("learning_rate", a.learning_rate)
        .set("l2_decay", a.l2_decay)
        .set("blur_every", a.blur_every)
        .set("blur_sigma", a.blur_sigma)
        .set("jitter", a.jitter)
        .set("total_variation", a.total_variation);
    return p;
}

namespace {

// Display value u in [0, 1] -> model input x = u * scale[c] + offset[c] (image_to_input's map).
struct InputMap {
    std::vector<float> scale, offset;
};

InputMap input_map(const InputSpec& s) {
    InputMap m;
    for (int c = 0; c < s.channels; ++c) {
        if (s.mean.empty() || s.std.empty()) {
            m.scale.push_back(s.range_hi - s.range_lo);
            m.offset.push_back(s.range_lo);
        } else {
            const float mu = s.mean[std::min<size_t>(static_cast<size_t>(c), s.mean.size() - 1)];
            const float sd = s.std[std::min<size_t>(static_cast<size_t>(c), s.std.size() - 1)];
            m.scale.push_back(1.f / sd);
            m.offset.push_back(-mu / sd);
        }
    }
    return m;
}

float channel_mean(const Tensor& act, int k) {
    const int64_t c = act.shape().dim(-1), positions = act.size() / c;
    double s = 0;
    for (int64_t p = 0; p < positions; ++p) s += act[p * c + k];
    return static_cast<float>(s / static_cast<double>(positions));
}

// dst = src shifted by (dy, dx), vacated pixels mid-gray; shift_back is its transpose (gradients).
void shift(const Tensor& src, int dy, int dx, Tensor& dst, float fill) {
    const int64_t h = src.shape()[1], w = src.shape()[2], c = src.shape()[3];
    dst.reset(src.shape());
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
            const int64_t sy = y - dy, sx = x - dx;
            const bool in = sy >= 0 && sy < h && sx >= 0 && sx < w;
            for (int64_t k = 0; k < c; ++k)
                dst[(y * w + x) * c + k] = in ? src[(sy * w + sx) * c + k] : fill;
        }
}

void shift_back(const Tensor& g, int dy, int dx, Tensor& dst) {
    const int64_t h = g.shape()[1], w = g.shape()[2], c = g.shape()[3];
    dst.reset(g.shape());
    dst.zero();
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
            const int64_t sy = y - dy, sx = x - dx;
            if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
            for (int64_t k = 0; k < c; ++k) dst[(sy * w + sx) * c + k] = g[(y * w + x) * c + k];
        }
}

// grad_u -= weight * d/du mean((u[y,x+1]-u[y,x])^2 + (u[y+1,x]-u[y,x])^2).
void total_variation_grad(const Tensor& u, float weight, Tensor& grad_u) {
    const int64_t h = u.shape()[1], w = u.shape()[2], c = u.shape()[3];
    const float k = 2.f * weight / static_cast<float>(u.size());
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            for (int64_t ch = 0; ch < c; ++ch) {
                const int64_t i = (y * w + x) * c + ch;
                if (x + 1 < w) {
                    const float d = k * (u[i + c] - u[i]);
                    grad_u[i + c] -= d;
                    grad_u[i] += d;
                }
                if (y + 1 < h) {
                    const float d = k * (u[i + w * c] - u[i]);
                    grad_u[i + w * c] -= d;
                    grad_u[i] += d;
                }
            }
}

void to_input(const Tensor& u, const InputMap& m, Tensor& x) {
    x.reset(u.shape());
    const int64_t c = u.shape()[3];
    for (int64_t i = 0; i < u.size(); ++i)
        x[i] = u[i] * m.scale[static_cast<size_t>(i % c)] + m.offset[static_cast<size_t>(i % c)];
}

Expected<float> activation_of(ModelProbe& probe, const Tensor& u, const InputMap& m, int layer,
                              int channel, const std::string& name) {
    Tensor x;
    to_input(u, m, x);
    ProbeRequest r;
    r.layers = {layer};
    auto res = probe.run(x, r);
    if (!res) return res.status();
    const int64_t channels = res->activations[0].shape().dim(-1);
    if (channel < 0 || channel >= channels)
        return invalid_argument("channel " + std::to_string(channel) + " of layer '" + name +
                                "' does not exist (it has " + std::to_string(channels) + ")");
    return channel_mean(res->activations[0], channel);
}

Status check_layer(const ModelProbe& probe, int layer_node) {
    const std::vector<LayerInfo> layers = probe.layers();
    if (layers.empty()) return Status::ok();
    for (const LayerInfo& l : layers)
        if (l.node == layer_node) {
            if (l.op == "Input")
                return invalid_argument(
                    "layer '" + l.name +
                    "' is the model's input, not a layer with channels to visualize");
            return Status::ok();
        }
    return invalid_argument("node index " + std::to_string(layer_node) +
                            " is not a layer of the model");
}

}  // namespace

Expected<FilterPicture> visualize_filter(ModelProbe& probe, int layer_node, int channel,
                                         const AscentParams& params, const ProgressFn& progress) {
    CNNLENS_RETURN_IF_ERROR(check_layer(probe, layer_node));
    if (params.steps < 0)
        return invalid_argument("filter visualization: steps " + std::to_string(params.steps) +
                                " is negative");
    if (params.jitter < 0)
        return invalid_argument("filter visualization: jitter " + std::to_string(params.jitter) +
                                " is negative");
    const InputSpec& spec = probe.input_spec();
    const int h = spec.height, w = spec.width, c = spec.channels;
    const InputMap map = input_map(spec);

    FilterPicture out;
    out.layer = layer_name(probe, layer_node);
    out.layer_node = layer_node;
    out.channel = channel;
    out.params = params;
    out.curve.reserve(static_cast<size_t>(params.steps));

    Rng rng(params.seed, static_cast<uint64_t>(channel));
    AscentImage img(params.parameterization, h, w, c, rng);
    Tensor u, uj, x, grad_u, grad_uj;
    img.render(u);
    auto start = activation_of(probe, u, map, layer_node, channel, out.layer);
    if (!start) return start.status();
    out.start_activation = *start;

    ProbeRequest req;
    req.channel = ProbeRequest::Channel{layer_node, channel};
    req.input_gradient = true;
    req.layers = {layer_node};
    ProbeRequest redirected = req;
    redirected.relu_rule = ReluRule::kDeconvnet;
    std::vector<float>& theta = img.params();
    std::vector<float> grad, m(theta.size(), 0.f), v(theta.size(), 0.f);
    constexpr float kBeta1 = 0.9f, kBeta2 = 0.999f, kEps = 1e-8f;
    float beta1_t = 1.f, beta2_t = 1.f;
    for (int step = 0; step < params.steps; ++step) {
        img.render(u);
        int dy = 0, dx = 0;
        if (params.jitter > 0) {
            const uint32_t span = static_cast<uint32_t>(2 * params.jitter + 1);
            dy = static_cast<int>(rng.below(span)) - params.jitter;
            dx = static_cast<int>(rng.below(span)) - params.jitter;
        }
        shift(u, dy, dx, uj, 0.5f);
        to_input(uj, map, x);
        auto res = probe.run(x, req);
        if (!res) return res.status();
        out.curve.push_back(channel_mean(res->activations[0], channel));
        // A dead channel gives no gradient at all: take a redirected (deconvnet) step instead.
        if (std::all_of(res->input_grad.data(), res->input_grad.data() + res->input_grad.size(),
                        [](float g) { return g == 0.f; })) {
            res = probe.run(x, redirected);
            if (!res) return res.status();
        }

        grad_uj.reset(x.shape());
        for (int64_t i = 0; i < x.size(); ++i)
            grad_uj[i] = res->input_grad[i] * map.scale[static_cast<size_t>(i % c)];
        shift_back(grad_uj, dy, dx, grad_u);
        if (params.total_variation > 0.f) total_variation_grad(u, params.total_variation, grad_u);
        img.backward(u, grad_u, grad);

        beta1_t *= kBeta1;
        beta2_t *= kBeta2;
        const float rest = img.rest();
        for (size_t i = 0; i < theta.size(); ++i) {
            const float g = grad[i] - params.l2_decay * (theta[i] - rest);
            m[i] = kBeta1 * m[i] + (1.f - kBeta1) * g;
            v[i] = kBeta2 * v[i] + (1.f - kBeta2) * g * g;
            theta[i] += params.learning_rate * (m[i] / (1.f - beta1_t)) /
                        (std::sqrt(v[i] / (1.f - beta2_t)) + kEps);
        }
        if (params.blur_every > 0 && (step + 1) % params.blur_every == 0)
            img.blur(params.blur_sigma);
        img.project();
        if (progress && !progress(static_cast<float>(step + 1) / static_cast<float>(params.steps)))
            return cancelled("filter visualization of channel " + std::to_string(channel) +
                             " of layer '" + out.layer + "' cancelled after " +
                             std::to_string(step + 1) + " of " + std::to_string(params.steps) +
                             " steps");
    }
    img.render(u);
    auto final_act = activation_of(probe, u, map, layer_node, channel, out.layer);
    if (!final_act) return final_act.status();
    out.final_activation = *final_act;
    out.image = u.clone();
    out.image.reshape(Shape{h, w, c});
    return out;
}

Expected<std::vector<FilterPicture>> visualize_layer(ModelProbe& probe, int layer_node,
                                                     const AscentParams& params,
                                                     std::span<const int> channels,
                                                     const ProgressFn& progress) {
    CNNLENS_RETURN_IF_ERROR(check_layer(probe, layer_node));
    std::vector<int> list(channels.begin(), channels.end());
    if (list.empty()) {
        const InputSpec& spec = probe.input_spec();
        Tensor gray(Shape{1, spec.height, spec.width, spec.channels});
        const InputMap map = input_map(spec);
        for (int64_t i = 0; i < gray.size(); ++i)
            gray[i] = 0.5f * map.scale[static_cast<size_t>(i % spec.channels)] +
                      map.offset[static_cast<size_t>(i % spec.channels)];
        ProbeRequest r;
        r.layers = {layer_node};
        auto res = probe.run(gray, r);
        if (!res) return res.status();
        const int count = static_cast<int>(res->activations[0].shape().dim(-1));
        for (int k = 0; k < count; ++k) list.push_back(k);
    }
    std::vector<FilterPicture> out;
    out.reserve(list.size());
    const float n = static_cast<float>(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
        ProgressFn inner;
        if (progress) inner = [&](float f) { return progress((static_cast<float>(i) + f) / n); };
        auto pic = visualize_filter(probe, layer_node, list[i], params, inner);
        if (!pic) return pic.status();
        out.push_back(std::move(*pic));
    }
    return out;
}

}  // namespace cnnlens
