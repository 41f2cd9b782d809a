// Maps drawn on images: a normalised map through a colormap, blended over a face or back onto
// the photo through its crop frame, superpixel edges and LIME's painted segments. Images made
// here are RGBA8 with alpha 255.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/image/colormap.h"
#include "core/image/crop_frame.h"
#include "core/image/image.h"
#include "core/tensor/tensor.h"

namespace cnnlens {

// Gray, RGB or RGBA image as RGBA (alpha 255 where there was none).
Image to_rgba(const Image& img);
// The normalised map through a colormap, at the map's size.
Image colorize(const Tensor& normalised, Colormap cmap);
// (1-alpha)*base + alpha*colormap(map), at the base's size: a map of another size is resampled
// (bilinear up, area-averaged down). alpha 0.5 is Grad-CAM's image_weight 0.5 and Captum's
// blended_heat_map; alpha 0 returns the base.
Image overlay(const Image& base, const Tensor& normalised, Colormap cmap, float alpha = 0.5f);
// The normalised map drawn back on the photo through `frame` (crop_frame.h), the region of the
// photo the map was computed on: the map spans the whole frame, map[0, 0] at its top-left
// corner, so a map of a turned face crop lands turned on the photo. Each photo pixel whose centre
// lies inside the frame becomes (1-alpha)*photo + alpha*colormap(map sampled bilinearly at its
// crop position); the rest of the photo is unchanged. Returns RGBA at the photo's size.
Image overlay_in_frame(const Image& photo, const Tensor& normalised, const CropFrame& frame,
                       Colormap cmap, float alpha = 0.5f);
// Superpixel edges: `labels` holds label_w x label_h segment ids (row-major) and is sampled
// nearest-neighbour onto the image, so an upscaled image gets 1-pixel lines. A pixel is drawn
// when its segment differs from its right or lower neighbour's. Gray images become RGBA first.
void draw_boundaries(Image& img, std::span<const int> labels, int label_w, int label_h,
                     Rgb color = {255, 255, 0});
// LIME get_image_and_mask (mixed mode): in segments listed in `positive` the green channel, in
// `negative` the red channel, is set to the image's maximum; with hide_rest every other pixel
// is black. Segment ids index `labels` as for draw_boundaries.
Image paint_segments(const Image& base, std::span<const int> labels, int label_w, int label_h,
                     std::span<const int> positive, std::span<const int> negative,
                     bool hide_rest = false);
// [label_h, label_w] map whose pixels carry their segment's weight (weights[id]; 0 for ids
// outside the list): LIME's heatmap of all weights, shown with kSymmetricMaxAbs and RdBu.
Tensor segment_weight_map(std::span<const int> labels, int label_w, int label_h,
                          std::span<const float> weights);

// Each pixel repeated factor x factor times (64-pixel faces are shown at 3-4x). Keeps channels.
Image upscale_nearest(const Image& img, int factor);

}  // namespace cnnlens
