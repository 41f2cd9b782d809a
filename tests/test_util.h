// Helpers shared by the tests: fixture paths, seeded random tensors, error norms.
#pragma once
#include <string>
#include <vector>

#include "core/base/rng.h"
#include "core/image/image.h"
#include "core/tensor/tensor.h"

namespace cnnlens {
struct Model;
struct KernelSet;
class GraphProbe;
}

namespace cnnlens::test {

// Native builds decode WebP and AVIF when CMake found libwebp and libavif (codecs.h).
#ifdef CNNLENS_HAVE_WEBP
constexpr bool kHaveWebp = true;
#else
constexpr bool kHaveWebp = false;
#endif
#ifdef CNNLENS_HAVE_AVIF
constexpr bool kHaveAvif = true;
#else
constexpr bool kHaveAvif = false;
#endif

// AddressSanitizer is on (the native-asan preset): the slowest oracle comparisons check fewer
// cases there, since the release build runs them all and ASan looks for memory errors, which
// one case exercises as well as three.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUnderAsan = true;
#else
constexpr bool kUnderAsan = false;
#endif
#else
constexpr bool kUnderAsan = false;
#endif

// Path of a file in the source tree ("models/fer2013-mini-xception").
std::string source_path(const std::string& relative);
// The bundled FER2013 model (models/fer2013-mini-xception), loaded once per test binary; a load
// failure is reported as a test failure and leaves an empty model.
const Model& default_model();
// A kernel set's name as a GoogleTest parameter name ("simd-avx2" -> "simd_avx2").
std::string kernel_test_name(const KernelSet& k);
std::vector<unsigned char> read_file(const std::string& path);
std::vector<float> read_f32(const std::string& path);

// A NumPy .npy file of little-endian float32 or float64 ('<f4', '<f8'), C order, widened to
// double. On a missing file or another format, `error` says why and values is empty.
struct NpyArray {
    std::vector<int64_t> shape;
    std::vector<double> values;
    std::string error;
};
NpyArray read_npy(const std::string& path);

// Uniform values in [lo, hi).
Tensor random_tensor(const Shape& shape, Rng& rng, float lo = -1.f, float hi = 1.f);
// A one-channel image [1, h, w, 1] of uniform values in [0, 1), from `seed`.
Tensor random_image(int h, int w, uint64_t seed);
// The node of the layer named `name` in the probe's layer list; a test failure and -1 if none.
int layer_node(const GraphProbe& probe, const std::string& name);
// Two of the bundled model's layers, early and in the middle, for the layer-reading tests.
inline constexpr const char* kFerEarlyLayer = "block1_conv2_act/Relu";
inline constexpr const char* kFerMidLayer = "block3_sepconv2_act/Relu";
// Mean absolute pixel difference; 1e9 when the sizes differ.
double mean_abs_diff(const Image& a, const Image& b);
// Output length of a convolution or pooling along one axis (pad_total: both sides together).
inline int conv_out_size(int in, int k, int s, int d, int pad_total) {
    return (in + pad_total - ((k - 1) * d + 1)) / s + 1;
}
// ||a - b||_2 / max(||b||_2, tiny)
double rel_l2(const float* a, const float* b, int64_t n);
double max_abs_diff(const float* a, const float* b, int64_t n);

// `img` turned by `degrees` about (cx, cy), clockwise on screen (image y points down): the pixel
// at p shows the source at R(-degrees)(p - c) + c, sampled bilinearly (centres at +0.5, edges
// repeated). Written apart from core/image's crop code so the two check each other.
Image rotate_image(const Image& img, double degrees, double cx, double cy);

// A group photo: the 20 faces of tests/data/eval/fer2013_20.csv (48x48 gray; the astronaut,
// then 19 of scikit-image's LFW subset) enlarged 3x by repeating pixels, in 5 columns and 4
// rows of 144-pixel tiles 48 pixels apart on mid gray (1008 x 816, 1 channel). The browser test
// (tests/e2e/faces.test.mjs) draws the same picture.
Image group_photo();

}  // namespace cnnlens::test
