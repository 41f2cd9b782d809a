// The page layout: toolbar, error banner, photo and prediction on the left, explanation on the
// right.
#include <imgui.h>

#include <algorithm>

#include "wasm/app/live.h"
#include "wasm/app/platform.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

static void draw_toolbar(AppState& state, Session& session) {
    if (ImGui::Button("Open photo...")) platform_open_file_dialog();
    ImGui::SameLine();
    if (ImGui::Button("Try an example")) platform_open_example("examples/astronaut.jpg");
    ImGui::SameLine();
    if (session.live().state == LiveState::kOff && ImGui::Button("Live camera (L)"))
        set_live(state, session, true);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip(
            "Classify and explain the faces the camera sees as they move. The video stays in this "
            "page.");
    hint_beside(
        "or drop / paste (Ctrl+V) a photo anywhere.  Images never leave your device: "
        "everything is computed in this page.");
    if (!state.error.empty()) {
        ImGui::PushStyleColor(ImGuiCol_ChildBg, ImVec4(0.45f, 0.08f, 0.08f, 1.f));
        ImGui::BeginChild(
            "error", ImVec2(0, ImGui::GetFrameHeight() + 2 * ImGui::GetStyle().WindowPadding.y),
            true, ImGuiWindowFlags_NoScrollbar);
        const float dismiss = ImGui::CalcTextSize("Dismiss").x + ui_px(24);
        ImGui::AlignTextToFramePadding();
        text_fit(state.error, ImGui::GetContentRegionAvail().x - dismiss);
        ImGui::SameLine(ImGui::GetWindowWidth() - dismiss);
        if (ImGui::Button("Dismiss")) state.error.clear();
        ImGui::EndChild();
        ImGui::PopStyleColor();
    }
    (void)session;
}

// The right side: one tab per view. A tab asked for by a result (a dropped set, a face picked
// in a gallery, an Explain request) is brought forward once. ImGui selects it in the next frame,
// so the request stands until that tab is drawn (the test hook's idle waits for it).
static void draw_tabs(AppState& state, Session& session, UiCache& cache) {
    std::string& focus = session.panel_work().focus;
    if (state.run_requested) focus = "explain";
    struct Tab {
        const char* label;
        const char* id;
        void (*draw)(AppState&, Session&, UiCache&);
    };
    static constexpr Tab kTabs[] = {
        {"Explain", "explain", draw_explain_panel},
        {"All classes", "grid", draw_class_grid_panel},
        {"Two methods", "compare", draw_compare_panel},
        {"Inside the network", "layers", draw_layers_panel},
        {"Confusion matrix", "confusion", draw_confusion_panel},
        {"Report", "report", draw_report_panel},
        {"Model", "model", draw_model_panel},
    };
    // On a narrow panel (a phone) the views are a list, not tabs cut to a few letters each.
    const ImGuiStyle& st = ImGui::GetStyle();
    float tabs_w = 0;
    for (const Tab& t : kTabs)
        tabs_w += ImGui::CalcTextSize(t.label).x + 2 * st.FramePadding.x + st.ItemInnerSpacing.x;
    if (tabs_w > ImGui::GetContentRegionAvail().x) {
        std::string& tab = session.panel_work().tab;
        for (const Tab& t : kTabs)
            if (focus == t.id) tab = t.id;
        focus.clear();
        const Tab* shown = &kTabs[0];
        for (const Tab& t : kTabs)
            if (tab == t.id) shown = &t;
        ImGui::AlignTextToFramePadding();
        ImGui::TextUnformatted("View");
        ImGui::SameLine();
        ImGui::SetNextItemWidth(-1);
        if (ImGui::BeginCombo("##view", shown->label)) {
            for (const Tab& t : kTabs)
                if (ImGui::Selectable(t.label, &t == shown)) shown = &t;
            ImGui::EndCombo();
        }
        tab = shown->id;
        ImGui::Separator();
        shown->draw(state, session, cache);
        return;
    }
    if (!ImGui::BeginTabBar("views")) return;
    for (const Tab& t : kTabs) {
        const ImGuiTabItemFlags flags = focus == t.id ? ImGuiTabItemFlags_SetSelected : 0;
        if (ImGui::BeginTabItem(t.label, nullptr, flags)) {
            session.panel_work().tab = t.id;
            if (focus == t.id) focus.clear();
            t.draw(state, session, cache);
            ImGui::EndTabItem();
        }
    }
    if (std::none_of(std::begin(kTabs), std::end(kTabs),
                     [&](const Tab& t) { return focus == t.id; }))
        focus.clear();
    ImGui::EndTabBar();
}

void draw_app(AppState& state, Session& session, UiCache& cache) {
    const ImGuiIO& io = ImGui::GetIO();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(io.DisplaySize);
    ImGui::Begin("cnnlens", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                     ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings |
                     ImGuiWindowFlags_MenuBar |
                     ImGuiWindowFlags_NoBackground);  // the clear colour is its background
    draw_menu_bar(state, session, cache);
    handle_shortcuts(state, session, cache);
    ImGui::TextWrapped("cnnlens: why does the network think this face is ...?");
    draw_toolbar(state, session);
    ImGui::Separator();
    if (!session.ready()) {
        ImGui::TextUnformatted("Loading the models...");
        ImGui::End();
        return;
    }
    if (session.live().state != LiveState::kOff) {  // Live's view takes the page while it is on
        draw_live_view(state, session, cache);
        ImGui::End();
        return;
    }
    // The photo beside the views, or above them on a narrow or portrait screen (a phone).
    const bool stacked = io.DisplaySize.x < ui_px(760) || io.DisplaySize.x < io.DisplaySize.y;
    const ImVec2 left = stacked ? ImVec2(0, ImGui::GetContentRegionAvail().y * 0.36f)
                                : ImVec2(std::max(ui_px(320), io.DisplaySize.x * 0.36f), 0);
    ImGui::BeginChild("left", left, true);
    draw_photo_panel(state, session, cache);
    ImGui::Separator();
    draw_prediction_panel(state, session);
    ImGui::EndChild();
    if (!stacked) ImGui::SameLine();
    ImGui::BeginChild("right", ImVec2(0, 0), true);
    draw_tabs(state, session, cache);
    ImGui::EndChild();
    draw_map_zoom();
    // The extra panels' work runs in the platform's job task, in slices between frames
    // (platform_web.cpp), never while an explanation job owns the probe.
    ImGui::End();
}

}  // namespace cnnlens::app
