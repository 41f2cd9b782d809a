// The photo with its faces: each face's frame (the square the classifier sees, turned when the
// crop is aligned), the selected face's map drawn back through that frame, clicking a face (or
// its number, or Previous / Next, or the Left / Right keys) selects it, and the alignment switch.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "wasm/app/export.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

namespace {

ImVec2 on_screen(ImVec2 origin, float scale, PointF p) {
    return ImVec2(origin.x + p.x * scale, origin.y + p.y * scale);
}

// The face under a photo point: the smallest frame holding it (faces may overlap), or -1.
int face_at(const std::vector<Face>& faces, PointF p) {
    int best = -1;
    float best_area = 0;
    for (int i = 0; i < static_cast<int>(faces.size()); ++i) {
        const CropFrame& f = faces[static_cast<size_t>(i)].frame;
        const PointF c = f.to_crop(p);
        const float area = f.width * f.height;
        if (c.x >= 0 && c.y >= 0 && c.x < f.width && c.y < f.height &&
            (best < 0 || area < best_area))
            best = i, best_area = area;
    }
    return best;
}

// The selected face's map as a texture laid over its frame on screen.
void draw_map_on_photo(const AppState& state, Session& session, UiCache& cache, ImDrawList* dl,
                       ImVec2 origin, float scale) {
    const Explanation* e = session.explanation();
    const Face* f = session.selected_face();
    if (!e || !f || !state.show_overlay || !state.map_on_photo) return;
    const int64_t key = (static_cast<int64_t>(session.explanation_version()) << 32) ^
                        (static_cast<int64_t>(state.colormap + 1) << 24) ^
                        (static_cast<int64_t>(state.opacity * 1000) << 10) ^
                        static_cast<int64_t>(state.mask_percent * 10);
    if (key != cache.photo_map_key) {
        cache.photo_map.upload(view_map_rgba(state, *e), key, true);
        cache.photo_map_key = key;
    }
    const auto c = f->frame.corners();
    dl->AddImageQuad(cache.photo_map.imgui_id(), on_screen(origin, scale, c[0]),
                     on_screen(origin, scale, c[1]), on_screen(origin, scale, c[2]),
                     on_screen(origin, scale, c[3]));
}

void draw_face_list(AppState& state, Session& session) {
    const auto& faces = session.faces();
    const int n = static_cast<int>(faces.size());
    if (faces[0].whole_photo) {
        ImGui::TextUnformatted(session.model().spec.task == ModelTask::kImage
                                   ? "The model looks at the whole photo."
                                   : "The photo itself is taken as the face.");
    } else {
        const Face& f = *session.selected_face();
        ImGui::Text("Face %d of %d: %s (%.0f %%)", session.selected() + 1, n,
                    session.class_names()[static_cast<size_t>(f.top)].c_str(),
                    100.f * f.probs[static_cast<size_t>(f.top)]);
        if (n > 1) {
            ImGui::SameLine();
            if (ImGui::ArrowButton("##previous", ImGuiDir_Left)) session.select_step(-1);
            if (ImGui::IsItemHovered()) ImGui::SetTooltip("Previous face (Left arrow key)");
            ImGui::SameLine();
            if (ImGui::ArrowButton("##next", ImGuiDir_Right)) session.select_step(1);
            if (ImGui::IsItemHovered()) ImGui::SetTooltip("Next face (Right arrow key)");
            // One small button per face, wrapped to the panel's width.
            const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
            for (int i = 0; i < n; ++i) {
                char label[16];
                std::snprintf(label, sizeof label, "%d", i + 1);
                const bool sel = i == session.selected();
                if (sel) ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.85f, 0.65f, 0.1f, 1.f));
                if (ImGui::SmallButton(label)) session.select(i);
                if (sel) ImGui::PopStyleColor();
                if (ImGui::IsItemHovered())
                    ImGui::SetTooltip(
                        "%s",
                        session
                            .class_names()[static_cast<size_t>(faces[static_cast<size_t>(i)].top)]
                            .c_str());
                const float next_w =
                    ImGui::CalcTextSize("00").x + 2 * ImGui::GetStyle().FramePadding.x;
                if (i + 1 < n &&
                    ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + next_w < right)
                    ImGui::SameLine();
            }
        }
        bool align = session.align_faces_shown();
        if (ImGui::Checkbox("Align faces (eyes level)", &align)) {
            session.want_align_faces(align);
            if (Status s = session.apply_wanted_align(); !s) state.error = s.message();
        }
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip(
                "Turn each face's crop so the eyes are level, as the FER2013 faces the model "
                "learned from are.");
        same_line_if_fits(check_width("Map on the photo"));
    }
    ImGui::Checkbox("Map on the photo", &state.map_on_photo);
}

}  // namespace

void draw_photo_panel(AppState& state, Session& session, UiCache& cache) {
    if (session.photo().empty()) {
        draw_empty_state(state);
        return;
    }
    if (cache.photo.version != session.photo_version())
        cache.photo.upload(session.photo_shown(), session.photo_version(), true);
    char size[48];
    std::snprintf(size, sizeof size, "  (%d x %d)", session.photo().width, session.photo().height);
    text_fit(session.photo_name() + size, ImGui::GetContentRegionAvail().x);
    const float avail = ImGui::GetContentRegionAvail().x;
    const float max_h =
        std::min(ImGui::GetIO().DisplaySize.y * 0.45f, ImGui::GetContentRegionAvail().y * 0.6f);
    const float pw = static_cast<float>(session.photo().width),
                ph = static_cast<float>(session.photo().height);
    const float scale = std::min(avail / pw, max_h / ph);
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    ImGui::Image(cache.photo.imgui_id(), ImVec2(pw * scale, ph * scale));
    const bool photo_hovered = ImGui::IsItemHovered();
    ImDrawList* dl = ImGui::GetWindowDrawList();
    draw_map_on_photo(state, session, cache, dl, origin, scale);
    const auto& faces = session.faces();
    for (int i = 0; i < static_cast<int>(faces.size()); ++i) {
        const Face& f = faces[static_cast<size_t>(i)];
        if (f.whole_photo) continue;
        const bool sel = i == session.selected();
        const auto c = f.frame.corners();
        dl->AddQuad(on_screen(origin, scale, c[0]), on_screen(origin, scale, c[1]),
                    on_screen(origin, scale, c[2]), on_screen(origin, scale, c[3]),
                    sel ? IM_COL32(255, 220, 0, 255) : IM_COL32(0, 200, 255, 255), sel ? 3.f : 2.f);
        char label[64];
        std::snprintf(label, sizeof label, "%d %s", i + 1,
                      session.class_names()[static_cast<size_t>(f.top)].c_str());
        dl->AddText(
            ImVec2(on_screen(origin, scale, c[0]).x + 2, on_screen(origin, scale, c[0]).y + 2),
            IM_COL32(255, 255, 255, 255), label);
    }
    if (photo_hovered && ImGui::IsMouseClicked(0)) {
        const ImVec2 m = ImGui::GetMousePos();
        const int hit = face_at(faces, {(m.x - origin.x) / scale, (m.y - origin.y) / scale});
        if (hit >= 0) session.select(hit);
    }
    if (faces.empty()) {
        ImGui::TextWrapped(
            "No face found in this photo. Try a photo with a clearly visible frontal face, or a "
            "face crop.");
        return;
    }
    draw_face_list(state, session);
}

}  // namespace cnnlens::app
