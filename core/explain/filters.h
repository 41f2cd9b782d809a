// Filter visualization: what image makes channel k of layer L fire most, by gradient ascent.
// A sibling of ExplanationMethod: it produces a picture, not an attribution of an input.
// Feature maps (a layer's activations for one image) are in feature_maps.h.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/explain/ascent_image.h"
#include "core/explain/explain.h"
#include "core/explain/probe.h"

namespace cnnlens {

// --- Gradient ascent on one channel ------------------------------------------------------------

// Options of visualize_filter. Defaults follow Lucid/Lucent's render_vis (Fourier, Adam 0.05)
// with two changes for the 64x64 gray FER model: 256 steps instead of 512 (on the bundled
// model's mid layers 256 steps reach 80-100 % of the 512-step activation, at ~4 ms a step
// natively) and jitter 2 px instead of 8 at 224 px. Lucid's random scale and rotate transforms
// are not implemented. uo_classic() gives UO's cnn_layer_visualization settings.
struct AscentParams {
    Parameterization parameterization = Parameterization::kFourier;
    int steps = 256;
    float learning_rate = 0.05f;  // Adam (beta 0.9, 0.999, eps 1e-8)
    // PyTorch Adam weight_decay: lambda * parameter is subtracted from the ascent gradient,
    // pulling the picture toward mid-gray (spectrum toward 0; pixels toward 0.5).
    float l2_decay = 0.f;
    // Every blur_every steps (0 = never) the image is blurred by a Gaussian of blur_sigma pixels
    // (UO's regularized variant: every 4 steps). Pixel: the pixels (edges renormalised);
    // Fourier: t, exactly, by multiplying the spectrum by exp(-2 pi^2 sigma^2 freq^2) (periodic).
    int blur_every = 0;
    float blur_sigma = 0.5f;
    // Each step the model sees the image shifted by a random integer offset in
    // [-jitter, jitter]^2, vacated pixels filled with mid-gray (Lucid's pad + jitter).
    int jitter = 2;
    // Weight of the penalty mean_{y,x,c} (dx^2 + dy^2) of neighbouring display values (the
    // beta = 2 total variation of keras-vis), subtracted from the objective. Lucid default: 0.
    float total_variation = 0.f;
    uint64_t seed = 1;

    // UO `cnn_layer_visualization.py`: pixel parameterization, Adam 0.1, 30 steps, weight
    // decay 1e-6, no jitter.
    static AscentParams uo_classic();
};

// The named parameters of AscentParams for a CLI or UI (one visitor shared by both and the
// tests): "parameterization" (choices pixel, fourier), "steps", "learning_rate", "l2_decay",
// "blur_every", "blur_sigma", "jitter", "total_variation"; the seed travels separately.
std::span<const ParamDef> ascent_param_defs();
// AscentParams from named values (missing names keep `base`'s values) and back.
AscentParams ascent_params_from(const Params& p, const AscentParams& base = {});
Params ascent_params_to(const AscentParams& a);

// The result of visualize_filter.
struct FilterPicture {
    std::string layer;  // display name of the layer
    int layer_node = -1;
    int channel = 0;
    Tensor image;  // [H, W, C], display space [0, 1] (pixel value / 255)
    // Mean activation of the channel over the layer's positions: on the starting image and on
    // `image` (both without jitter), so users see the gain.
    float start_activation = 0.f;
    float final_activation = 0.f;
    // The mean activation on the (jittered) input seen at each step, before its update.
    std::vector<float> curve;
    AscentParams params;
};

// Returns false to cancel; called with the fraction done (0..1), as ExplainContext::progress.
using ProgressFn = std::function<bool(float)>;

// Maximizes the mean activation of channel `channel` of node `layer_node` (rank 4 [N,H,W,C]
// or rank 2 [N,C], e.g. a class logit) by gradient ascent on a parameterized image, through
// ModelProbe requests (ProbeRequest::channel with input_gradient). One step costs one forward
// and one backward pass at batch 1. A channel that is dead (ReLU 0 everywhere) on the current
// image has a zero gradient; such a step is re-run with ReluRule::kDeconvnet, which lets
// upward-pushing gradient through inactive ReLUs (an approximation of Lucid's redirected ReLU,
// which render_vis uses for the same reason). Deterministic for a seed: the random stream
// depends on (seed, channel) only. progress is called after every step; cancel returns
// kCancelled.
Expected<FilterPicture> visualize_filter(ModelProbe& probe, int layer_node, int channel,
                                         const AscentParams& params,
                                         const ProgressFn& progress = {});

// visualize_filter for every channel of a layer, or for `channels` when not empty, in order;
// picture k equals visualize_filter(channels[k]) with the same params. Channels run one after
// another: this engine runs a batch of C images no faster per image than one image, so a
// batch buys nothing here (a per-image channel in ProbeRequest would allow it).
Expected<std::vector<FilterPicture>> visualize_layer(ModelProbe& probe, int layer_node,
                                                     const AscentParams& params,
                                                     std::span<const int> channels = {},
                                                     const ProgressFn& progress = {});

}  // namespace cnnlens
