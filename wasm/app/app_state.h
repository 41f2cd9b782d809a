// AppState: the user's choices, a plain struct (what "export settings" will write). The UI
// reads and edits it; Session holds the data it applies to.
#pragma once
#include <map>
#include <string>

#include "core/explain/explain.h"
#include "core/image/render.h"

namespace cnnlens::app {

struct AppState {
    std::string method = "saliency";          // a name from all_methods()
    std::map<std::string, Params> params;     // per method; missing values take defaults
    int target_class = -1;                    // -1: the predicted class
    int contrast_class = -1;                  // -1: none; else explain target - contrast
    int score = -1;                           // 0 logit, 1 probability, -1 auto (LIME: probability)
    int seed = 1;
    bool live = true;                         // cheap methods recompute while sliders move
    int colormap = -1;                        // index into kColormaps; -1: inferno or RdBu_r
    float opacity = 0.6f;                     // overlay alpha
    float mask_percent = 0.f;                 // > 0: keep only the top percent of the map
    bool show_boundaries = true;              // LIME superpixel edges
    std::string error;                        // shown until dismissed
    bool run_requested = false;               // "Explain" pressed (needed for long methods)
};

}  // namespace cnnlens::app
