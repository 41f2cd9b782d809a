// The photo with its face boxes; clicking a box (or a face button) selects that face.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "wasm/app/ui.h"

namespace cnnlens::app {

void draw_photo_panel(AppState& state, Session& session, UiCache& cache) {
    (void)state;
    if (session.photo().empty()) {
        ImGui::TextWrapped("No photo yet. Open one, drop one on the page, paste one, or try the example.");
        return;
    }
    if (cache.photo.version != session.photo_version()) cache.photo.upload(session.photo_preview(), session.photo_version(), true);
    ImGui::Text("%s  (%d x %d)", session.photo_name().c_str(), session.photo().width, session.photo().height);
    const float avail = ImGui::GetContentRegionAvail().x;
    const float max_h = ImGui::GetIO().DisplaySize.y * 0.45f;
    const float pw = static_cast<float>(session.photo().width), ph = static_cast<float>(session.photo().height);
    const float scale = std::min(avail / pw, max_h / ph);
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    ImGui::Image(cache.photo.imgui_id(), ImVec2(pw * scale, ph * scale));
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const auto& faces = session.faces();
    for (int i = 0; i < static_cast<int>(faces.size()); ++i) {
        const FaceBox& b = faces[static_cast<size_t>(i)].box;
        const ImVec2 p0(origin.x + b.x * scale, origin.y + b.y * scale);
        const ImVec2 p1(p0.x + b.width * scale, p0.y + b.height * scale);
        const bool sel = i == session.selected();
        dl->AddRect(p0, p1, sel ? IM_COL32(255, 220, 0, 255) : IM_COL32(0, 200, 255, 255), 0.f, 0, sel ? 3.f : 2.f);
        char label[64];
        std::snprintf(label, sizeof label, "%d %s", i + 1, session.class_names()[static_cast<size_t>(faces[static_cast<size_t>(i)].top)].c_str());
        dl->AddText(ImVec2(p0.x + 2, p0.y + 2), IM_COL32(255, 255, 255, 255), label);
        if (ImGui::IsMouseClicked(0) && ImGui::IsMouseHoveringRect(p0, p1)) session.select(i);
    }
    if (faces.empty()) {
        ImGui::TextWrapped("No face found in this photo. Try a photo with a clearly visible frontal face, or a face crop.");
    } else {
        ImGui::Text("%d face%s%s:", static_cast<int>(faces.size()), faces.size() == 1 ? "" : "s",
                    faces[0].whole_photo ? " (the photo itself is taken as the face)" : "");
        for (int i = 0; i < static_cast<int>(faces.size()); ++i) {
            char label[32];
            std::snprintf(label, sizeof label, "Face %d", i + 1);
            ImGui::SameLine();
            if (ImGui::RadioButton(label, session.selected() == i)) session.select(i);
        }
    }
}

}  // namespace cnnlens::app
