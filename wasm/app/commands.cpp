// The app's commands in one place: the menu bar (File, Help) and their keyboard shortcuts —
// open, export the view / a map / the JSON / the seven-class grid, the report, switch method,
// toggle the overlay, cancel. Downloads go through platform_download().
#include <imgui.h>

#include <string>

#include "wasm/app/export.h"
#include "wasm/app/live.h"
#include "wasm/app/platform.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

namespace {

// The platform layer (GLFW) reports letter and digit keys by their ASCII codes.
constexpr int kKeyE = 'E', kKeyO = 'O', kKeyS = 'S', kKeyL = 'L', kKeyF = 'F', kKeyR = 'R';

void download_png(std::string_view name, const Image& img) {
    const std::vector<uint8_t> png = encode_png(img);
    platform_download(name, "image/png", png);
}

void export_view(AppState& state, const Session& session) {
    const Image pic = view_picture(state, session);
    if (pic.empty()) {
        state.error = "Export: there is no explanation to save yet";
        return;
    }
    download_png(export_name(session, session.explanation()->method, ".png"), pic);
}

// The photo with the selected face's map drawn back through its (possibly turned) frame.
void export_photo_overlay(AppState& state, const Session& session) {
    const Image pic = view_photo_overlay(state, session);
    if (pic.empty()) {
        state.error = "Export: there is no explanation to save yet";
        return;
    }
    download_png(export_name(session, session.explanation()->method, "_photo.png"), pic);
}

void export_json(const AppState& state, const Session& session) {
    const std::string json = view_json(state, session);
    const std::string method = session.explanation() ? session.explanation()->method : "";
    platform_download(export_name(session, method, ".json"), "application/json",
                      {reinterpret_cast<const uint8_t*>(json.data()), json.size()});
}

// "map" is the explanation's map; other names are its extras (SmoothGrad's variance, ...).
void export_map(AppState& state, const Session& session, const std::string& which) {
    const Explanation* e = session.explanation();
    if (!e) return;
    const Tensor* t = which == "map" ? &e->map : nullptr;
    if (auto it = e->extras.find(which); it != e->extras.end()) t = &it->second;
    if (!t || t->shape().rank() != 2) {
        state.error = "Export: map '" + which + "' is not a 2-D map";
        return;
    }
    const MapNorm norm = which == "map" ? e->norm : MapNorm::kPercentile99;
    download_png(export_name(session, e->method + (which == "map" ? "" : "_" + which), ".png"),
                 map_picture(*t, norm, view_colormap(state, *e)));
}

// The seven-class grid (panel_grid.cpp's maps) as one picture, one captioned tile per class.
bool class_grid_ready(const Session& session, const UiCache& cache) {
    const ClassGrid& g = session.panel_work().grid;
    return session.selected_face() && !g.maps.empty() && g.maps.size() == g.classes.size() &&
           g.key == face_key(session);
}

void export_class_grid(AppState& state, const Session& session, const UiCache& cache) {
    if (!class_grid_ready(session, cache)) {
        state.error = "Export: open the All classes tab and let its grid finish first";
        return;
    }
    std::vector<Image> tiles;
    for (const Explanation& e : session.panel_work().grid.maps)
        tiles.push_back(to_rgba(overlay_picture(state, *session.selected_face(), e)));
    GridOptions o;
    o.columns = static_cast<int>(tiles.size());
    for (int c : session.panel_work().grid.classes)
        o.captions.push_back(session.class_names()[static_cast<size_t>(c)]);
    download_png(
        export_name(session, session.panel_work().grid.maps[0].method + "_classes", ".png"),
        grid(tiles, o));
}

void switch_method(AppState& state, int index) {
    const auto methods = all_methods();
    if (index >= 0 && index < static_cast<int>(methods.size()))
        state.method = std::string(methods[static_cast<size_t>(index)]->name());
}

}  // namespace

void handle_shortcuts(AppState& state, Session& session, UiCache& cache) {
    const ImGuiIO& io = ImGui::GetIO();
    const bool ctrl = io.KeyCtrl || io.KeySuper;
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape), false)) session.cancel();
    if (ctrl && ImGui::IsKeyPressed(kKeyO, false)) platform_open_file_dialog();
    if (ctrl && !io.KeyShift && ImGui::IsKeyPressed(kKeyS, false)) export_view(state, session);
    if (ctrl && io.KeyShift && ImGui::IsKeyPressed(kKeyE, false)) export_json(state, session);
    if (io.WantTextInput || ctrl || io.KeyAlt) return;  // digits and Space belong to a text field
    for (int k = 0; k < 10; ++k)
        if (ImGui::IsKeyPressed('0' + k, false)) switch_method(state, k == 0 ? 9 : k - 1);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Space), false))
        state.show_overlay = !state.show_overlay;
    const bool live = session.live().state != LiveState::kOff;
    if (ImGui::IsKeyPressed(kKeyL, false)) set_live(state, session, !live);
    if (live && ImGui::IsKeyPressed(kKeyF, false)) request_freeze(state, session);
    if (live && ImGui::IsKeyPressed(kKeyR, false)) toggle_recording(state, session);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_LeftArrow))) session.select_step(-1);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_RightArrow))) session.select_step(1);
    (void)cache;
}

void draw_menu_bar(AppState& state, Session& session, UiCache& cache) {
    if (!ImGui::BeginMenuBar()) return;
    if (ImGui::BeginMenu("File")) {
        if (ImGui::MenuItem("Open photo...", "Ctrl+O")) platform_open_file_dialog();
        if (ImGui::MenuItem("Try an example")) platform_open_example("examples/astronaut.jpg");
        ImGui::Separator();
        const Explanation* e = session.explanation();
        if (ImGui::MenuItem("Export view as PNG", "Ctrl+S", false, e != nullptr))
            export_view(state, session);
        if (ImGui::BeginMenu("Export a map as PNG", e != nullptr)) {
            if (ImGui::MenuItem("map")) export_map(state, session, "map");
            for (const auto& [name, t] : e->extras)
                if (t.shape().rank() == 2 && ImGui::MenuItem(name.c_str()))
                    export_map(state, session, name);
            ImGui::EndMenu();
        }
        if (ImGui::MenuItem("Export the photo with the map as PNG", nullptr, false, e != nullptr))
            export_photo_overlay(state, session);
        if (ImGui::MenuItem("Export the seven-class grid as PNG", nullptr, false,
                            class_grid_ready(session, cache)))
            export_class_grid(state, session, cache);
        if (ImGui::MenuItem("Export settings and results as JSON", "Ctrl+Shift+E"))
            export_json(state, session);
        ImGui::Separator();
        const ReportRun& report = session.panel_work().report;
        if (ImGui::MenuItem("Build the report...")) session.panel_work().focus = "report";
        if (ImGui::MenuItem("Download the report as HTML", nullptr, false,
                            report.report != nullptr))
            download_report(report, false);
        if (ImGui::MenuItem("Download the report as ZIP", nullptr, false, report.report != nullptr))
            download_report(report, true);
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("Live")) {
        const LiveWork& w = session.live();
        const bool on = w.state != LiveState::kOff;
        if (ImGui::MenuItem("Camera on", "L", on)) set_live(state, session, !on);
        if (ImGui::MenuItem("Freeze the frame as a photo", "F", false, w.state == LiveState::kOn))
            request_freeze(state, session);
        if (ImGui::MenuItem(w.recording ? "Stop and save the recording" : "Record (WebM and CSV)",
                            "R", w.recording, w.state == LiveState::kOn))
            toggle_recording(state, session);
        ImGui::EndMenu();
    }
    draw_help_menu(state, session, cache);
    ImGui::EndMenuBar();
    draw_method_card(state, cache);
}

}  // namespace cnnlens::app
