// The real 2-D DFT with numpy.fft's conventions, behind filter visualization's Fourier
// parameterization.
#pragma once
#include <cstdint>
#include <vector>

namespace cnnlens {

// The real 2-D DFT of one h x w plane with numpy.fft's conventions, by a direct separable DFT
// with precomputed twiddles (any size; at 64x64 one transform is ~1 MFLOP, ~0.1 ms, far below
// one forward pass of the model). A spectrum is [h][w/2+1][2] floats (re, im), row ky, column
// kx. float accumulation: relative error ~1e-6 at 64x64.
class Rfft2 {
public:
    Rfft2(int height, int width);
    int height() const { return h_; }
    int width() const { return w_; }
    int bins() const { return w_ / 2 + 1; }  // columns of the half spectrum
    int64_t spectrum_size() const { return int64_t{2} * h_ * bins(); }  // floats

    // numpy.fft.rfft2: X[ky,kx] = sum_{y,x} image[y,x] e^{-2 pi i (ky y / h + kx x / w)}.
    void forward(const float* image, float* spectrum) const;
    // numpy.fft.irfft2(X, s=(h, w)): the inverse with the 1/(h w) factor; like numpy it reads
    // only the real part of the kx = 0 (and, for even w, kx = w/2) bins after the y transform.
    void inverse(const float* spectrum, float* image) const;
    // The adjoint (transpose) of inverse(), as a real linear map: the gradient with respect to
    // the spectrum of a loss whose gradient with respect to inverse()'s image is image_grad.
    void inverse_adjoint(const float* image_grad, float* spectrum_grad) const;
    // Frequency of bin (ky, kx) in cycles per pixel: sqrt(fy^2 + fx^2), fy from fftfreq(h).
    float frequency(int ky, int kx) const;

private:
    int h_, w_;
    std::vector<float> cos_h_, sin_h_;  // cos/sin(2 pi j / h), j < h
    std::vector<float> cos_w_, sin_w_;  // [bins][w]: cos/sin(2 pi kx x / w)
};

}  // namespace cnnlens
