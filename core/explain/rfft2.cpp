// The real 2-D DFT by direct separable sums with precomputed twiddles (see rfft2.h).
#include "core/explain/rfft2.h"

#include <cmath>
#include <numbers>

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

}  // namespace cnnlens
