// The UI: a function of (AppState, Session) drawn with Dear ImGui every frame. Panels are
// functions, one file each; they read, draw and *request* work from the Session.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "wasm/app/app_state.h"
#include "wasm/app/map_view.h"
#include "wasm/app/session.h"
#include "wasm/app/session_panels.h"
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

// Pictures of the extra panels; each remembers the key of what it shows.
struct PanelTextures {
    std::vector<std::unique_ptr<Texture>> grid_maps;  // each class's map layer (RGBA)
    Texture side_main, side_second;                   // two methods over the face
    Texture maps;     // the selected layer's feature maps, one tile per channel
    Texture filters;  // filter pictures, one tile per channel
    Texture big_filter, big_activation;
    Texture gallery;      // thumbnails of a confusion cell's faces
    Texture trust_strip;  // the randomization check's maps side by side
    int64_t trust_key = -1;
    int64_t grid_key = -1, side_key = -1, maps_key = -1, filters_key = -1, big_key = -1,
            gallery_key = -1;
    float grid_lo = 0, grid_hi = 1, side_lo[2] = {0, 0}, side_hi[2] = {1, 1};
    int grid_colormap = 0, side_colormap[2] = {0, 0};
};

// What the help drew last (the test hook reads it): where the Help menu and the last "?" are
// (x, y, w, h in framebuffer pixels), the methods the Help menu listed and the card shown, each
// with the ImGui frame that drew it.
struct HelpTrace {
    float menu_rect[4] = {}, card_button_rect[4] = {};
    std::vector<std::string> menu_methods;
    int menu_frame = -1;
    std::string card_method, card_text;
    int card_frame = -1;
};

// GPU-side and derived pictures the panels keep between frames.
struct UiCache {
    Texture photo, face, overlay;  // face: the input picture (smooth); overlay: the map layer
    Texture edges;                 // superpixel edges at display_scale(), drawn over the map
    Texture photo_map;             // the map laid over the photo through the face's frame
    ShownMap shown;
    int64_t overlay_key = -1;  // hash of (explanation version, display settings)
    int64_t photo_map_key = -1;
    PanelTextures panels;
    // Live: the camera's video, each face's map (by position in the result), and the counters
    // behind the stats the UI measures (draw rate, delay).
    Texture live_video;
    std::vector<std::unique_ptr<Texture>> live_maps;
    int live_maps_version = -1, live_drawn_version = -1;
    double live_fps_t0 = 0;
    int live_fps_frames = 0;
    HelpTrace help;
};

void draw_app(AppState& state, Session& session, UiCache& cache);
// Live mode (panel_live.cpp): the view that replaces the photo and the tabs while Live is on (the
// camera's video with each tracked face's box, probabilities and map; its controls and stats),
// and its commands, shared by buttons, menu and keys (L, F, R).
void draw_live_view(AppState& state, Session& session, UiCache& cache);
void set_live(AppState& state, Session& session, bool on);
void request_freeze(AppState& state, Session& session);
void toggle_recording(AppState& state, Session& session);
// The menu bar (File: open and exports; Live; Help: the shortcuts and method cards) and the
// keyboard shortcuts that
// trigger the same commands (commands.cpp). Call inside a window with ImGuiWindowFlags_MenuBar.
void draw_menu_bar(AppState& state, Session& session, UiCache& cache);
void handle_shortcuts(AppState& state, Session& session, UiCache& cache);
void draw_photo_panel(AppState& state, Session& session, UiCache& cache);
void draw_prediction_panel(AppState& state, Session& session);
void draw_explain_panel(AppState& state, Session& session, UiCache& cache);

// The request the explain panel's current settings describe (for the selected face).
ExplainRequest current_request(const AppState& state, const Session& session);

// Shared by the explain panel and the extra panels (panel_explain.cpp).
// The selected face's input picture as a smooth texture (cache.face), uploaded when it changes.
const Texture& face_texture(const Session& session, UiCache& cache);
Colormap shown_colormap(const AppState& state, const Explanation& e);
// A vertical colour bar with five value labels, `height` pixels tall, at the cursor;
// legend_width() pixels wide.
void draw_legend(const ShownMap& s, float height);
float legend_width();
// One widget per ParamDef, shown by its label with its tooltip (the code name only there, for
// CLI users); returns true when a value changed.
bool param_widget(const ParamDef& d, Params& p, const Session& session);

// Help (panel_help.cpp): the Help menu's body (call inside the menu bar), the method card window
// of state.card_method (call once a frame), the "?" that opens `m`'s card, and what the photo
// panel shows before there is a photo.
void draw_help_menu(AppState& state, Session& session, UiCache& cache);
void draw_method_card(AppState& state, UiCache& cache);
bool card_button(AppState& state, const ExplanationMethod& m, UiCache& cache);
void draw_empty_state(const AppState& state);

// The extra panels, one file each; they request work from session.panel_work(), which
// step_panels() (session_panels.h) advances once per frame.
void draw_class_grid_panel(AppState& state, Session& session, UiCache& cache);  // panel_grid.cpp
void draw_compare_panel(AppState& state, Session& session, UiCache& cache);     // panel_grid.cpp
void draw_layers_panel(AppState& state, Session& session, UiCache& cache);      // panel_layers.cpp
void draw_confusion_panel(AppState& state, Session& session,
                          UiCache& cache);                                 // panel_confusion.cpp
void draw_model_panel(AppState& state, Session& session, UiCache& cache);  // panel_model.cpp
// The Report tab (panel_report.cpp); the report's options as the tab's settings give them, and
// its downloads (the HTML file or the ZIP), as its buttons and the test hook use them.
void draw_report_panel(AppState& state, Session& session, UiCache& cache);
ReportOptions report_options(const AppState& state);
void download_report(const ReportRun& run, bool zip);
// The Trust section under the explain panel's map (its scores are session.panel_work().trust).
void draw_trust_panel(AppState& state, Session& session, UiCache& cache);  // panel_trust.cpp
// The face with a map over it, as the explain panel shows it (4x, the state's colormap and
// opacity); `nm` receives the normalised map and its legend range.
Image overlay_picture(const AppState& state, const Face& face, const Explanation& e,
                      NormalizedMap* nm = nullptr);
// Tile k of a texture made by grid(tiles, columns, {}, 0) from equal tiles of tile_w x tile_h,
// drawn at w x h; returns true when clicked.
bool atlas_tile(const Texture& t, int k, int columns, int tile_w, int tile_h, float w, float h);

// The extra panels' side of the test hook (panels_hook.cpp): runs one command and answers JSON.
// Commands: "state", "tab NAME", "layers", "layer NODE", "filters COUNT STEPS", "inside",
// "channel K", "grid", "confusion", "cell TRUTH PRED", "open TRUTH PRED INDEX", "install LO HI",
// "confirm" (install the waiting model with the input it proposes), "task face|image",
// "selection" (selected face, face count, alignment), "align on|off", "help" (HelpTrace),
// "help close" (closes the card), "report" (the Report tab's state), "report start SEED LIME
// SMOOTHGRAD STEPS [faces]" (its settings, then Build), "report cancel|resume", "report html|zip"
// (the download buttons), "layout N" (layout_trace.h: text cut off and maps drawn in the last N
// frames, and the map zoom).
// Unknown commands answer {"error": ...}.
std::string panels_hook_command(AppState& state, Session& session, UiCache& cache,
                                std::string_view command);

}  // namespace cnnlens::app
