// The pixel and Fourier parameterizations of filter visualization (see ascent_image.h).
#include "core/explain/ascent_image.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/explain/explain.h"

namespace cnnlens {

AscentImage::AscentImage(Parameterization kind, int h, int w, int c, Rng& rng)
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

void AscentImage::render(Tensor& u) {
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

void AscentImage::backward(const Tensor& u, const Tensor& grad_u, std::vector<float>& grad) {
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

void AscentImage::blur(float sigma) {
    if (kind_ == Parameterization::kPixel) {
        Tensor img(Shape{1, h_, w_, c_});
        std::copy(param_.begin(), param_.end(), img.data());
        const Tensor b = gaussian_blur(img, sigma);
        std::copy(b.data(), b.data() + b.size(), param_.begin());
        return;
    }
    const float k = -2.f * std::numbers::pi_v<float> * std::numbers::pi_v<float> * sigma * sigma;
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

void AscentImage::project() {
    if (kind_ == Parameterization::kPixel)
        for (float& v : param_) v = std::clamp(v, 0.f, 1.f);
}

}  // namespace cnnlens
