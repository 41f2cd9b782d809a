// Superpixels for LIME and XRAI: SLIC, quickshift and Felzenszwalb, written here because no
// superpixel library on Debian also builds for wasm (scikit-image is Python, OpenCV's ximgproc is
// contrib-only and far too large for the page). All follow scikit-image 0.19, which LIME and PAIR
// call.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/base/status.h"
#include "core/tensor/tensor.h"

namespace cnnlens {

// One label per pixel, row-major [height * width], labels 0..count-1 with no gaps, numbered in
// the order their first pixel appears in a row-major scan. Every segment is 4-connected.
struct Segmentation {
    int height = 0, width = 0;
    int count = 0;
    std::vector<int> labels;
};

// SLIC (Achanta et al., "SLIC Superpixels Compared to State-of-the-art Superpixel Methods",
// TPAMI 2012) as skimage.segmentation.slic computes it:
//  - the image is min-max stretched to [0, 1], then converted to CIELAB (RGB) or to L* alone
//    (gray, which is what gray2rgb + rgb2lab give: a* = b* = 0), so colour units are L* 0..100;
//  - Gaussian pre-smoothing with `sigma` pixels (scipy's gaussian_filter: reflect, 4 sigma);
//  - seeds on skimage's regular grid (64x64 and 100 segments: an 11x11 grid, step 6), k-means in
//    (y, x, colour / compactness) with distance d_colour^2 / compactness^2 + d_xy^2 / step^2 over
//    a window of +-2 steps, `max_iter` rounds;
//  - connectivity: k-means labels are split into 4-connected pieces; pieces of at least
//    min_size_factor * (pixels / seeds) pixels become segments and each smaller piece joins the
//    adjacent segment it shares most border with. skimage joins a small piece to the last
//    labelled neighbour its flood fill met (and caps a fill at 3x the mean size); the segment
//    count is the same, boundaries agree on 89-99.8 % of pixel edges on the test face.
// Units: compactness weighs L* (0..100), not [0,1] intensities. LIME's face-notebook settings
// (100 segments, compactness 1, sigma 1, 64x64 gray faces) therefore give irregular segments
// that follow intensity: 52 on the 64x64 test face (skimage: 52); compactness 10 gives 109
// nearly square ones.
struct SlicParams {
    int n_segments = 100;      // wanted number of seeds (approximate)
    double compactness = 1.0;  // higher: more square segments
    double sigma = 1.0;        // pre-smoothing, pixels; 0 = none
    int max_iter = 10;
    double min_size_factor = 0.5;
};

// Quickshift (Vedaldi & Soatto, "Quick Shift and Kernel Methods for Mode Seeking", ECCV 2008)
// as skimage.segmentation.quickshift computes it: features (ratio * L*a*b* (or ratio * L* for
// gray), y, x); density = sum of exp(-d^2 / (2 kernel_size^2)) over a window of
// +-ceil(3 kernel_size) pixels; each pixel links to the nearest denser pixel in its window
// unless that is farther than max_dist; trees are segments. skimage breaks density ties with
// N(0, 1e-5) noise from numpy; ours comes from Rng(seed), so ties may break differently.
// Quickshift trees can be spatially scattered (a link may jump over other pixels), so pieces
// are split into 4-connected segments and pieces smaller than `min_size` pixels join their
// longest-border neighbour.
// LIME's default is kernel_size 4, max_dist 200, ratio 0.2, tuned on 224x224 RGB: on the
// 64x64 gray test face it gives 4 segments (skimage: 4). LIME's small-image (MNIST 28x28)
// setting, kernel_size 1, gives 45 there; kernel_size 2 gives 13.
struct QuickshiftParams {
    double kernel_size = 4;  // >= 1
    double max_dist = 200;
    double ratio = 0.2;  // weight of colour against position, 0..1
    double sigma = 0;    // pre-smoothing, pixels
    int min_size = 4;    // pixels; 1 keeps every piece
    uint64_t seed = 42;  // tie-breaking noise
};

// Felzenszwalb & Huttenlocher, "Efficient Graph-Based Image Segmentation", IJCV 2004, as
// skimage.segmentation.felzenszwalb computes it (XRAI's segmenter): Gaussian pre-smoothing with
// `sigma` (reflect border, 4 sigma); edges to the right, down, down-right and up-right neighbours
// weighted by the Euclidean distance of the pixel values (not stretched: the caller picks the
// range); edges taken by increasing weight (stable order, where numpy's quicksort may order ties
// otherwise) join two components when the weight is below both components' internal difference
// plus (scale / 255) / size; then any edge touching a component smaller than min_size joins it.
// Segments are 8-connected (a diagonal edge may link them), labels in scan order.
struct FelzenszwalbParams {
    double scale = 1;
    double sigma = 0.8;
    int min_size = 20;
};

// `image` is [H, W, C] or [1, H, W, C] with C = 1 (gray) or 3 (RGB), values in [0, 1].
Expected<Segmentation> slic(const Tensor& image, const SlicParams& params = {});
Expected<Segmentation> quickshift(const Tensor& image, const QuickshiftParams& params = {});
Expected<Segmentation> felzenszwalb(const Tensor& image, const FelzenszwalbParams& params = {});

// 1 where a pixel's right or lower (or left or upper) 4-neighbour has another label, else 0:
// boundaries are two pixels wide, one on each side, like mark_boundaries(mode='thick').
std::vector<uint8_t> segment_boundaries(std::span<const int> labels, int height, int width);

}  // namespace cnnlens
