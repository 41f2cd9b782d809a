// The page layout: toolbar, error banner, photo and prediction on the left, explanation on the
// right.
#include <imgui.h>

#include <algorithm>

#include "wasm/app/platform.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

static void draw_toolbar(AppState& state, Session& session) {
    if (ImGui::Button("Open photo...")) platform_open_file_dialog();
    ImGui::SameLine();
    if (ImGui::Button("Try an example")) platform_open_example("examples/astronaut.jpg");
    ImGui::SameLine();
    ImGui::TextDisabled("or drop / paste (Ctrl+V) a photo anywhere.  Images never leave your device: "
                        "everything is computed in this page.");
    if (!state.error.empty()) {
        ImGui::PushStyleColor(ImGuiCol_ChildBg, ImVec4(0.45f, 0.08f, 0.08f, 1.f));
        ImGui::BeginChild("error", ImVec2(0, ImGui::GetFrameHeight() + 2 * ImGui::GetStyle().WindowPadding.y), true,
                          ImGuiWindowFlags_NoScrollbar);
        ImGui::AlignTextToFramePadding();
        ImGui::TextUnformatted(state.error.c_str());
        ImGui::SameLine(ImGui::GetWindowWidth() - 90);
        if (ImGui::Button("Dismiss")) state.error.clear();
        ImGui::EndChild();
        ImGui::PopStyleColor();
    }
    (void)session;
}

void draw_app(AppState& state, Session& session, UiCache& cache) {
    const ImGuiIO& io = ImGui::GetIO();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(io.DisplaySize);
    ImGui::Begin("cnnlens", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                         ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings);
    ImGui::Text("cnnlens: why does the network think this face is ...?");
    draw_toolbar(state, session);
    ImGui::Separator();
    if (!session.ready()) {
        ImGui::TextUnformatted("Loading the models...");
        ImGui::End();
        return;
    }
    const float left = std::max(320.f, io.DisplaySize.x * 0.42f);
    ImGui::BeginChild("left", ImVec2(left, 0), true);
    draw_photo_panel(state, session, cache);
    ImGui::Separator();
    draw_prediction_panel(state, session);
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("right", ImVec2(0, 0), true);
    draw_explain_panel(state, session, cache);
    ImGui::EndChild();
    ImGui::End();
}

}  // namespace cnnlens::app
