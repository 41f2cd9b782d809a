// The image filter visualization optimizes, in one of two parameterizations (pixels, or a
// scaled spectrum through a sigmoid): its parameters, how they render to display space, and
// the chain rule back. Used by filters.cpp.
#pragma once
#include <vector>

#include "core/base/rng.h"
#include "core/explain/rfft2.h"
#include "core/tensor/tensor.h"

namespace cnnlens {

// How the optimized image is parameterized.
//   kFourier: Lucid/Lucent param.image: per channel a half spectrum S (init normal, sd 0.01),
//     t = irfft2(S * scale * sqrt(h w)) / 4 with scale = 1 / max(freq, 1 / max(h, w)), and the
//     displayed image is sigmoid(t). No colour decorrelation (Lucent skips it for channels != 3).
//   kPixel: the displayed image itself (pytorch-cnn-visualizations' "UO" scripts), initialised
//     uniform in [150, 180] / 255 and projected back onto [0, 1] after every step (UO clips only
//     when saving; projecting keeps the reported activation that of the shown picture).
enum class Parameterization { kPixel, kFourier };

// The optimized image; `rng` draws its initial parameters (Parameterization says how).
class AscentImage {
public:
    AscentImage(Parameterization kind, int h, int w, int c, Rng& rng);

    std::vector<float>& params() { return param_; }
    // Decay pulls toward mid-gray: 0.5 for pixels, 0 (sigmoid 0.5) for the spectrum.
    float rest() const { return kind_ == Parameterization::kPixel ? 0.5f : 0.f; }
    // u [1, H, W, C] in [0, 1].
    void render(Tensor& u);
    // grad (same size as params) = d objective / d params, given u = render() and
    // d objective / d u.
    void backward(const Tensor& u, const Tensor& grad_u, std::vector<float>& grad);
    // A Gaussian blur of sigma pixels: of the pixels (edges renormalised), or exactly of t by
    // scaling the spectrum (periodic).
    void blur(float sigma);
    // Pixels back onto [0, 1]; the spectrum needs none (the sigmoid bounds it).
    void project();

private:
    Parameterization kind_;
    int h_, w_, c_;
    Rfft2 fft_;
    std::vector<float> param_, gain_, spec_, plane_;
};

}  // namespace cnnlens
