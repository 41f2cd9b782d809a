// The UI: a function of (AppState, Session) drawn with Dear ImGui every frame. Panels are
// functions, one file each; they read, draw and *request* work from the Session.
#pragma once
#include <string>
#include <vector>

#include "wasm/app/app_state.h"
#include "wasm/app/session.h"
#include "wasm/app/texture.h"

namespace cnnlens::app {

// The map last put on screen, exactly as the method returned it (the test hook reads it).
struct ShownMap {
    std::string method;
    int width = 0, height = 0;
    std::vector<float> values;  // row-major [height, width]
    float lo = 0, hi = 0;       // legend range after normalisation
    int colormap = 0;           // index into kColormaps
    int version = -1;           // Session::explanation_version() it was made from
};

// GPU-side and derived pictures the panels keep between frames.
struct UiCache {
    Texture photo, face, overlay;
    ShownMap shown;
    int64_t overlay_key = -1;  // hash of (explanation version, display settings)
};

void draw_app(AppState& state, Session& session, UiCache& cache);
void draw_photo_panel(AppState& state, Session& session, UiCache& cache);
void draw_prediction_panel(AppState& state, Session& session);
void draw_explain_panel(AppState& state, Session& session, UiCache& cache);

// The request the explain panel's current settings describe (for the selected face).
ExplainRequest current_request(const AppState& state, const Session& session);

}  // namespace cnnlens::app
