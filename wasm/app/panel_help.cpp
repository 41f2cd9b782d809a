// Help for people: the Help menu (keyboard shortcuts and every method's card), the method card
// window, the "?" that opens it beside a method list, and the page's empty state. The words come
// from the definitions through core/explain/describe.h, as the CLI's help does.
#include <imgui.h>

#include <algorithm>
#include <cfloat>

#include "core/explain/describe.h"
#include "wasm/app/platform.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

namespace {

constexpr const char* kExamplePhoto = "examples/astronaut.jpg";

// x, y, w, h of the last item, for the test hook.
void last_item_rect(float (&r)[4]) {
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    r[0] = a.x, r[1] = a.y, r[2] = b.x - a.x, r[3] = b.y - a.y;
}

void heading(const char* text) {
    ImGui::Spacing();
    ImGui::TextDisabled("%s", text);
}

}  // namespace

void draw_help_menu(AppState& state, Session& session, UiCache& cache) {
    const bool open = ImGui::BeginMenu("Help");
    last_item_rect(cache.help.menu_rect);
    if (!open) return;
    ImGui::TextDisabled("Keyboard shortcuts");
    ImGui::Separator();
    static constexpr const char* kShortcuts[][2] = {
        {"Ctrl+O", "open a photo"},
        {"Ctrl+V", "paste a photo"},
        {"1 .. 9, 0", "switch method"},
        {"Space", "overlay on / off"},
        {"Left / Right", "previous / next face"},
        {"L", "Live camera on / off"},
        {"F / R", "Live: freeze / record"},
        {"Esc", "cancel the running job"},
        {"Ctrl+S", "export the view as PNG"},
        {"Ctrl+Shift+E", "export settings and results as JSON"},
    };
    for (const auto& s : kShortcuts) {
        ImGui::TextUnformatted(s[0]);
        ImGui::SameLine(ImGui::CalcTextSize("Ctrl+Shift+E").x +
                        ImGui::GetStyle().ItemSpacing.x * 3);
        ImGui::TextUnformatted(s[1]);
    }
    ImGui::Spacing();
    ImGui::TextDisabled(
        "Methods: click one for its card (what it computes, how to read it, its cost and paper)");
    ImGui::Separator();
    const auto methods = all_methods();
    cache.help.menu_methods.clear();
    for (size_t i = 0; i < methods.size(); ++i) {
        const std::string key = i < 10 ? std::to_string((i + 1) % 10) : std::string();
        const std::string title(methods[i]->title());
        if (ImGui::MenuItem(title.c_str(), key.empty() ? nullptr : key.c_str()))
            state.card_method = std::string(methods[i]->name());
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("%s", std::string(methods[i]->card().what).c_str());
        cache.help.menu_methods.push_back(title);
    }
    cache.help.menu_frame = ImGui::GetFrameCount();
    ImGui::Separator();
    ImGui::TextDisabled("Photos never leave this page; kernels: %s; drawing: %s",
                        std::string(session.kernels_name()).c_str(),
                        platform_software_webgl() ? "software WebGL (no GPU)" : "WebGL");
    ImGui::EndMenu();
}

bool card_button(AppState& state, const ExplanationMethod& m, UiCache& cache) {
    ImGui::PushID(m.name().data(), m.name().data() + m.name().size());
    const bool clicked = ImGui::SmallButton("?");
    ImGui::PopID();
    last_item_rect(cache.help.card_button_rect);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("What %s computes and how to read it", std::string(m.title()).c_str());
    if (clicked) state.card_method = std::string(m.name());
    return clicked;
}

void draw_method_card(AppState& state, UiCache& cache) {
    const ExplanationMethod* m =
        state.card_method.empty() ? nullptr : find_method(state.card_method);
    if (!m) {
        state.card_method.clear();
        return;
    }
    const ImGuiIO& io = ImGui::GetIO();
    const float wrap = std::min(io.DisplaySize.x * 0.85f, ImGui::GetFontSize() * 36);
    ImGui::SetNextWindowPos(ImVec2(io.DisplaySize.x * 0.5f, io.DisplaySize.y * 0.5f),
                            ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
    ImGui::SetNextWindowSizeConstraints(ImVec2(0, 0), ImVec2(FLT_MAX, io.DisplaySize.y * 0.9f));
    bool open = true;
    const std::string title = std::string(m->title()) + "###method card";
    if (ImGui::Begin(title.c_str(), &open,
                     ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoCollapse |
                         ImGuiWindowFlags_NoSavedSettings)) {
        auto it = state.params.find(state.card_method);
        const Params& p = it != state.params.end() ? it->second : Params{};
        const CardText c = method_card(*m, p);
        ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + wrap);
        ImGui::TextWrapped("%s", c.what.c_str());
        heading("Reading the map");
        ImGui::TextWrapped("%s", c.colours.c_str());
        heading("Cost, with the settings chosen");
        ImGui::TextWrapped("%s %s", c.cost.c_str(), c.score.c_str());
        heading("Paper");
        ImGui::TextWrapped("%s", c.paper.c_str());
        heading("Defaults");
        ImGui::TextWrapped("%s", c.defaults.c_str());
        if (!m->params().empty()) {
            heading("Settings (hover for what each changes)");
            for (const ParamDef& d : m->params()) {
                ImGui::Bullet();
                ImGui::TextWrapped("%s: %s", std::string(d.label).c_str(),
                                   param_value_text(d, p.get(d.name, d.def)).c_str());
                if (ImGui::IsItemHovered())
                    ImGui::SetTooltip("%s\n--%s", param_tooltip(d).c_str(),
                                      std::string(d.name).c_str());
            }
        }
        ImGui::PopTextWrapPos();
        cache.help.card_method = state.card_method;
        cache.help.card_text = card_text(c);
        cache.help.card_frame = ImGui::GetFrameCount();
    }
    ImGui::End();
    if (!open) state.card_method.clear();
}

void draw_empty_state(const AppState& state) {
    ImGui::TextWrapped(
        "cnnlens shows why an image classifier decides what it does. With the bundled model it "
        "finds "
        "the faces in a photo, reads each face's expression (seven classes) and draws which pixels "
        "the "
        "decision rests on, with %d methods, all computed in this page.",
        static_cast<int>(all_methods().size()));
    ImGui::Spacing();
    if (ImGui::Button("Try the example photo")) platform_open_example(kExamplePhoto);
    ImGui::SameLine();
    if (ImGui::Button("Open a photo...")) platform_open_file_dialog();
    ImGui::TextWrapped(
        "or drop or paste one (Ctrl+V). A labeled CSV of faces dropped here gives the confusion "
        "matrix; a TF.js or ONNX model, your own classifier.");
    heading("Things to try");
    static constexpr const char* kTry[] = {
        "Switch methods with the keys 1 to 9 and 0; hover any setting for what it changes.",
        "Explain another class than the predicted one, or one class minus another (contrast).",
        "'All classes' shows one map per expression; 'Two methods' puts two side by side.",
        "Open Trust under a map: how much the score falls when its top pixels are removed.",
        "'Inside the network' shows each layer's feature maps and what its filters look for.",
        "Help, or '?' beside the method list, explains each method and its colours.",
    };
    for (const char* t : kTry) {
        ImGui::Bullet();
        ImGui::TextWrapped("%s", t);
    }
    (void)state;
}

}  // namespace cnnlens::app
