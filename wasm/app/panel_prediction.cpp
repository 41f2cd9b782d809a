// Bar chart of the selected face's class probabilities.
#include <imgui.h>

#include <cstdio>

#include "wasm/app/ui.h"

namespace cnnlens::app {

void draw_prediction_panel(AppState& state, Session& session) {
    (void)state;
    const Face* f = session.selected_face();
    if (!f) return;
    ImGui::Text("Prediction: %s (%.0f %%)",
                session.class_names()[static_cast<size_t>(f->top)].c_str(),
                100.f * f->probs[static_cast<size_t>(f->top)]);
    const float label_w = ImGui::CalcTextSize("surprise  ").x;
    for (size_t c = 0; c < f->probs.size(); ++c) {
        ImGui::TextUnformatted(session.class_names()[c].c_str());
        ImGui::SameLine(label_w + ImGui::GetStyle().WindowPadding.x);
        char overlay[16];
        std::snprintf(overlay, sizeof overlay, "%.1f %%", 100.f * f->probs[c]);
        if (static_cast<int>(c) == f->top)
            ImGui::PushStyleColor(ImGuiCol_PlotHistogram, ImVec4(0.95f, 0.65f, 0.1f, 1.f));
        ImGui::ProgressBar(f->probs[c], ImVec2(-1, 0), overlay);
        if (static_cast<int>(c) == f->top) ImGui::PopStyleColor();
    }
}

}  // namespace cnnlens::app
