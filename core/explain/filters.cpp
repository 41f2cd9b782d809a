// Filter visualization by gradient ascent through ModelProbe, the real 2-D DFT behind the
// Fourier parameterization, and feature maps with their colour ranges.
#include "core/explain/filters.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "core/base/rng.h"

namespace cnnlens {

Rfft2::Rfft2(int height, int width) : h_(height), w_(width) {
    const int b = bins();
    cos_h_.resize(static_cast<size_t>(h_));
    sin_h_.resize(static_cast<size_t>(h_));
    for (int j = 0; j < h_; ++j) {
        const double a = 2.0 * std::numbers::pi * j / h_;
        cos_h_[static_cast<size_t>(j)] = static_cast<float>(std::cos(a));
        sin_h_[static_cast<size_t>(j)] = static_cast<float>(std::sin(a));
    }
    cos_w_.resize(static_cast<size_t>(b * w_));
    sin_w_.resize(static_cast<size_t>(b * w_));
    for (int kx = 0; kx < b; ++kx)
        for (int x = 0; x < w_; ++x) {
            const double a = 2.0 * std::numbers::pi * ((kx * x) % w_) / w_;
            cos_w_[static_cast<size_t>(kx * w_ + x)] = static_cast<float>(std::cos(a));
            sin_w_[static_cast<size_t>(kx * w_ + x)] = static_cast<float>(std::sin(a));
        }
}

float Rfft2::frequency(int ky, int kx) const {
    const float fy = static_cast<float>(ky < (h_ + 1) / 2 ? ky : ky - h_) / static_cast<float>(h_);
    const float fx = static_cast<float>(kx) / static_cast<float>(w_);
    return std::sqrt(fy * fy + fx * fx);
}

// Both passes keep the innermost loop contiguous (over kx or x) so the compiler vectorizes it;
// the half-transformed planes are kept split into real and imaginary parts.
void Rfft2::forward(const float* image, float* spectrum) const {
    const int b = bins();
    std::vector<float> re_plane(static_cast<size_t>(h_ * b)), im_plane(re_plane.size());
    float* rr = re_plane.data();
    float* ri = im_plane.data();
    for (int y = 0; y < h_; ++y)
        for (int kx = 0; kx < b; ++kx) {
            const float* c = cos_w_.data() + kx * w_;
            const float* s = sin_w_.data() + kx * w_;
            const float* row = image + y * w_;
            float re = 0, im = 0;
            for (int x = 0; x < w_; ++x) {
                re += row[x] * c[x];
                im -= row[x] * s[x];
            }
            rr[y * b + kx] = re;
            ri[y * b + kx] = im;
        }
    std::vector<float> xr(static_cast<size_t>(b)), xi(static_cast<size_t>(b));
    for (int ky = 0; ky < h_; ++ky) {
        std::fill(xr.begin(), xr.end(), 0.f);
        std::fill(xi.begin(), xi.end(), 0.f);
        for (int y = 0, j = 0; y < h_; ++y, j = (j + ky) % h_) {
            const float c = cos_h_[static_cast<size_t>(j)], s = sin_h_[static_cast<size_t>(j)];
            const float* a = rr + y * b;
            const float* d = ri + y * b;
            for (int kx = 0; kx < b; ++kx) {
                xr[static_cast<size_t>(kx)] += a[kx] * c + d[kx] * s;
                xi[static_cast<size_t>(kx)] += d[kx] * c - a[kx] * s;
            }
        }
        for (int kx = 0; kx < b; ++kx) {
            spectrum[2 * (ky * b + kx)] = xr[static_cast<size_t>(kx)];
            spectrum[2 * (ky * b + kx) + 1] = xi[static_cast<size_t>(kx)];
        }
    }
}

void Rfft2::inverse(const float* spectrum, float* image) const {
    const int b = bins();
    std::vector<float> re_plane(static_cast<size_t>(h_ * b), 0.f), im_plane(re_plane.size(), 0.f);
    float* zr = re_plane.data();
    float* zi = im_plane.data();
    std::vector<float> xr(static_cast<size_t>(b)), xi(static_cast<size_t>(b));
    for (int ky = 0; ky < h_; ++ky) {
        for (int kx = 0; kx < b; ++kx) {
            xr[static_cast<size_t>(kx)] = spectrum[2 * (ky * b + kx)];
            xi[static_cast<size_t>(kx)] = spectrum[2 * (ky * b + kx) + 1];
        }
        for (int y = 0, j = 0; y < h_; ++y, j = (j + ky) % h_) {
            const float c = cos_h_[static_cast<size_t>(j)], s = sin_h_[static_cast<size_t>(j)];
            float* a = zr + y * b;
            float* d = zi + y * b;
            for (int kx = 0; kx < b; ++kx) {
                a[kx] += xr[static_cast<size_t>(kx)] * c - xi[static_cast<size_t>(kx)] * s;
                d[kx] += xi[static_cast<size_t>(kx)] * c + xr[static_cast<size_t>(kx)] * s;
            }
        }
    }
    const float norm = 1.f / (static_cast<float>(h_) * static_cast<float>(w_));
    for (int y = 0; y < h_; ++y) {
        float* row = image + y * w_;
        std::fill(row, row + w_, 0.f);
        for (int kx = 0; kx < b; ++kx) {
            const float weight = (kx == 0 || 2 * kx == w_) ? norm : 2.f * norm;
            const float a = weight * zr[y * b + kx], d = weight * zi[y * b + kx];
            const float* c = cos_w_.data() + kx * w_;
            const float* s = sin_w_.data() + kx * w_;
            for (int x = 0; x < w_; ++x) row[x] += a * c[x] - d * s[x];
        }
    }
}

void Rfft2::inverse_adjoint(const float* image_grad, float* spectrum_grad) const {
    forward(image_grad, spectrum_grad);
    const int b = bins();
    const float norm = 1.f / (static_cast<float>(h_) * static_cast<float>(w_));
    for (int ky = 0; ky < h_; ++ky)
        for (int kx = 0; kx < b; ++kx) {
            const float weight = (kx == 0 || 2 * kx == w_) ? norm : 2.f * norm;
            spectrum_grad[2 * (ky * b + kx)] *= weight;
            spectrum_grad[2 * (ky * b + kx) + 1] *= weight;
        }
}

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
        {"parameterization",
         static_cast<double>(d.parameterization),
         0,
         1,
         "pixel: the pixels themselves (UO); fourier: a scaled spectrum through a sigmoid (Lucid)",
         {"pixel", "fourier"},
         true},
        {"steps", static_cast<double>(d.steps), 1, 4096, "Adam steps", {}, true},
        {"learning_rate",
         d.learning_rate,
         0.001,
         1,
         "Adam learning rate (Lucid 0.05, UO 0.1)",
         {},
         false},
        {"l2_decay", d.l2_decay, 0, 0.1, "weight decay toward mid-gray (UO 1e-6)", {}, false},
        {"blur_every",
         static_cast<double>(d.blur_every),
         0,
         64,
         "blur the image every n steps (0: never)",
         {},
         true},
        {"blur_sigma", d.blur_sigma, 0.1, 4, "blur standard deviation in pixels", {}, false},
        {"jitter",
         static_cast<double>(d.jitter),
         0,
         16,
         "random shift of the image each step, pixels",
         {},
         true},
        {"total_variation",
         d.total_variation,
         0,
         100,
         "weight of the squared-difference smoothness penalty",
         {},
         false},
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

std::string layer_name(const ModelProbe& probe, int node) {
    for (const LayerInfo& l : probe.layers())
        if (l.node == node) return l.name;
    return "node " + std::to_string(node);
}

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

// The optimized image: its parameters, how they render to display space, and the chain rule back.
class AscentImage {
public:
    AscentImage(Parameterization kind, int h, int w, int c, Rng& rng)
        : kind_(kind), h_(h), w_(w), c_(c), fft_(h, w) {
        if (kind_ == Parameterization::kPixel) {
            param_.resize(static_cast<size_t>(h) * w * c);
            for (float& v : param_) v = rng.uniform(150.f, 180.f) / 255.f;
            return;
        }
        const int64_t per = fft_.spectrum_size();
        param_.resize(static_cast<size_t>(per * c));
        for (float& v : param_) v = 0.01f * rng.normal();
        gain_.resize(static_cast<size_t>(per / 2));
        const float floor = 1.f / static_cast<float>(std::max(h, w));
        const float unitary = std::sqrt(static_cast<float>(h) * static_cast<float>(w));
        for (int ky = 0; ky < h; ++ky)
            for (int kx = 0; kx < fft_.bins(); ++kx)
                gain_[static_cast<size_t>(ky * fft_.bins() + kx)] =
                    unitary / std::max(fft_.frequency(ky, kx), floor) / 4.f;
        spec_.resize(static_cast<size_t>(per));
        plane_.resize(static_cast<size_t>(h) * w);
    }

    std::vector<float>& params() { return param_; }
    // Decay pulls toward mid-gray: 0.5 for pixels, 0 (sigmoid 0.5) for the spectrum.
    float rest() const { return kind_ == Parameterization::kPixel ? 0.5f : 0.f; }

    // u [1, H, W, C] in [0, 1].
    void render(Tensor& u) {
        u.reset(Shape{1, h_, w_, c_});
        if (kind_ == Parameterization::kPixel) {
            std::copy(param_.begin(), param_.end(), u.data());
            return;
        }
        for (int c = 0; c < c_; ++c) {
            const float* s = param_.data() + static_cast<size_t>(c) * spec_.size();
            for (size_t i = 0; i < spec_.size(); ++i) spec_[i] = s[i] * gain_[i / 2];
            fft_.inverse(spec_.data(), plane_.data());
            for (int64_t p = 0; p < int64_t{h_} * w_; ++p)
                u[p * c_ + c] = 1.f / (1.f + std::exp(-plane_[static_cast<size_t>(p)]));
        }
    }

    // grad (same size as params) = d objective / d params, given u = render() and d objective / d
    // u.
    void backward(const Tensor& u, const Tensor& grad_u, std::vector<float>& grad) {
        grad.resize(param_.size());
        if (kind_ == Parameterization::kPixel) {
            std::copy(grad_u.data(), grad_u.data() + grad_u.size(), grad.begin());
            return;
        }
        for (int c = 0; c < c_; ++c) {
            for (int64_t p = 0; p < int64_t{h_} * w_; ++p) {
                const float v = u[p * c_ + c];
                plane_[static_cast<size_t>(p)] = grad_u[p * c_ + c] * v * (1.f - v);
            }
            float* g = grad.data() + static_cast<size_t>(c) * spec_.size();
            fft_.inverse_adjoint(plane_.data(), g);
            for (size_t i = 0; i < spec_.size(); ++i) g[i] *= gain_[i / 2];
        }
    }

    void blur(float sigma) {
        if (kind_ == Parameterization::kPixel) {
            Tensor img(Shape{1, h_, w_, c_});
            std::copy(param_.begin(), param_.end(), img.data());
            const Tensor b = gaussian_blur(img, sigma);
            std::copy(b.data(), b.data() + b.size(), param_.begin());
            return;
        }
        const float k =
            -2.f * std::numbers::pi_v<float> * std::numbers::pi_v<float> * sigma * sigma;
        for (int c = 0; c < c_; ++c)
            for (int ky = 0; ky < h_; ++ky)
                for (int kx = 0; kx < fft_.bins(); ++kx) {
                    const float f = fft_.frequency(ky, kx), t = std::exp(k * f * f);
                    float* s = param_.data() + static_cast<size_t>(c) * spec_.size() +
                               2 * (ky * fft_.bins() + kx);
                    s[0] *= t;
                    s[1] *= t;
                }
    }

    void project() {
        if (kind_ == Parameterization::kPixel)
            for (float& v : param_) v = std::clamp(v, 0.f, 1.f);
    }

private:
    Parameterization kind_;
    int h_, w_, c_;
    Rfft2 fft_;
    std::vector<float> param_, gain_, spec_, plane_;
};

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

Expected<FeatureMaps> feature_maps(ModelProbe& probe, const Tensor& image, int layer_node) {
    if (image.shape().rank() != 4 || image.shape()[0] != 1)
        return invalid_argument("feature maps need one image [1, H, W, C], got " +
                                image.shape().str());
    ProbeRequest r;
    r.layers = {layer_node};
    auto res = probe.run(image, r);
    if (!res) return res.status();
    const Tensor& act = res->activations[0];
    FeatureMaps fm;
    fm.layer = layer_name(probe, layer_node);
    const Shape& s = act.shape();
    if (s.rank() == 4) {
        fm.height = static_cast<int>(s[1]);
        fm.width = static_cast<int>(s[2]);
    } else if (s.rank() == 2) {
        fm.height = fm.width = 1;
    } else {
        return invalid_argument("layer '" + fm.layer + "' has output " + s.str() +
                                ", not feature maps [1, H, W, C] or units [1, C]");
    }
    fm.channels = static_cast<int>(s.dim(-1));
    const int64_t positions = int64_t{fm.height} * fm.width, c = fm.channels;
    fm.maps.reset(Shape{c, fm.height, fm.width});
    fm.channel_min.assign(static_cast<size_t>(c), std::numeric_limits<float>::infinity());
    fm.channel_max.assign(static_cast<size_t>(c), -std::numeric_limits<float>::infinity());
    for (int64_t p = 0; p < positions; ++p)
        for (int64_t k = 0; k < c; ++k) {
            const float a = act[p * c + k];
            fm.maps[k * positions + p] = a;
            fm.channel_min[static_cast<size_t>(k)] =
                std::min(fm.channel_min[static_cast<size_t>(k)], a);
            fm.channel_max[static_cast<size_t>(k)] =
                std::max(fm.channel_max[static_cast<size_t>(k)], a);
        }
    fm.layer_min = *std::min_element(fm.channel_min.begin(), fm.channel_min.end());
    fm.layer_max = *std::max_element(fm.channel_max.begin(), fm.channel_max.end());
    return fm;
}

Expected<ValueRange> global_activation_range(ModelProbe& probe, const Tensor& image) {
    ProbeRequest r;
    for (const LayerInfo& l : probe.layers())
        if (l.spatial() && l.op != "Input") r.layers.push_back(l.node);
    if (r.layers.empty())
        return unsupported(
            "the model lists no spatial layers, so there is no global activation range");
    auto res = probe.run(image, r);
    if (!res) return res.status();
    ValueRange g{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
    for (const Tensor& a : res->activations) {
        const auto [lo, hi] = std::minmax_element(a.data(), a.data() + a.size());
        g.lo = std::min(g.lo, *lo);
        g.hi = std::max(g.hi, *hi);
    }
    return g;
}

ValueRange map_range(const FeatureMaps& fm, int k, MapScale scale, ValueRange global,
                     bool symmetric) {
    ValueRange r = global;
    if (scale == MapScale::kPerMap)
        r = {fm.channel_min[static_cast<size_t>(k)], fm.channel_max[static_cast<size_t>(k)]};
    if (scale == MapScale::kPerLayer) r = {fm.layer_min, fm.layer_max};
    if (symmetric) {
        const float m = std::max(std::fabs(r.lo), std::fabs(r.hi));
        return m > 0.f ? ValueRange{-m, m} : ValueRange{-1.f, 1.f};
    }
    if (!(r.hi > r.lo)) r.hi = r.lo + 1.f;
    return r;
}

}  // namespace cnnlens
