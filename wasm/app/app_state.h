// AppState: the user's choices, a plain struct (what "export settings" will write). The UI
// reads and edits it; Session holds the data it applies to.
#pragma once
#include <map>
#include <string>

#include "core/explain/explain.h"
#include "core/image/render.h"

namespace cnnlens::app {

struct AppState {
    std::string method = "saliency";       // a name from all_methods()
    std::map<std::string, Params> params;  // per method; missing values take defaults
    int target_class = -1;                 // -1: the predicted class
    int contrast_class = -1;               // -1: none; else explain target - contrast
    int score = -1;                        // 0 logit, 1 probability, -1 auto (LIME: probability)
    int seed = 1;
    // How gradients round their forward pass (TapePrecision): exact, or float32 at about half
    // the cost. Set for every job and for Live (set_default_tape_precision).
    TapePrecision precision = TapePrecision::kExact;
    bool live = true;             // cheap methods recompute while sliders move
    int colormap = -1;            // index into kColormaps; -1: inferno or RdBu_r
    float opacity = 0.6f;         // overlay alpha
    float mask_percent = 0.f;     // > 0: keep only the top percent of the map
    bool show_boundaries = true;  // LIME superpixel edges
    bool show_overlay = true;     // false: the plain face where the overlay is (Space)
    bool map_on_photo = true;     // the selected face's map drawn back on the photo too
    bool map_smooth = false;      // maps upscaled smoothly (bilinear) instead of as crisp pixels
    std::string error;            // shown until dismissed
    bool run_requested = false;   // "Explain" pressed (needed for long methods)
    std::string card_method;      // the method whose card is open ("": none)

    // The extra panels.
    bool grid_shared_scale = true;          // one colour scale for the seven class maps
    std::string second_method = "gradcam";  // shown side by side with `method`
    int layer = -1;                         // layer browser: node shown (-1: none yet)
    int map_scale = 1;                      // feature maps: 0 per map, 1 per layer, 2 global
    int filter_count = 8;                   // filter pictures wanted for the layer
    Params filter_params{
        Params().set("steps", 32)};     // ascent_param_defs() names; 32 steps keep frames short
    int filter_channel = -1;            // the filter shown enlarged
    bool confusion_normalized = false;  // row-normalized instead of counts
    int confusion_truth = -1, confusion_pred = -1;  // the cell whose faces are listed
    float input_lo = 0.f, input_hi = 1.f;           // own model: value range asked for
    // The own-model dialog's mean/std normalisation ((pixel / 255 - mean) / std), when chosen.
    bool input_use_mean_std = false;
    float input_mean[3] = {0.485f, 0.456f, 0.406f}, input_std[3] = {0.229f, 0.224f, 0.225f};
    int input_task = 0;       // own-model dialog: 0 face (detector), 1 whole image
    bool trust_open = false;  // the explain panel's Trust section (its scores run while open)
    std::string live_method = "saliency";  // Live's overlay: a cheap method (MethodCost::kLive)
    // The Report tab (`cnnlens report`'s options; the seed is `seed`). Filter pictures take 64
    // ascent steps, not the CLI's 256: in the page 64 pictures of 256 steps take minutes.
    int report_lime_samples = 1000;
    int report_smoothgrad_samples = 50;
    int report_filter_steps = 64;
    int report_layer = -1;              // node; -1: the first convolution with 16 channels
    bool report_faces_at_hand = false;  // even when a labeled set is loaded
};

}  // namespace cnnlens::app
