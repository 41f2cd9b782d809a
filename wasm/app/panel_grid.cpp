// The class grid (one map per class for the selected face with the current cheap method;
// a model with many classes shows its most probable ones) and two methods side by side over the
// face, each with its legend.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "core/image/render.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

Image overlay_picture(const AppState& state, const Face& face, const Explanation& e,
                      NormalizedMap* nm) {
    NormalizedMap n = normalize_map(e.map, e.norm);
    Image pic = overlay(upscale_nearest(face.input_picture, display_scale(face)), n.map,
                        shown_colormap(state, e), state.opacity);
    if (nm) *nm = std::move(n);
    return pic;
}

bool atlas_tile(const Texture& t, int k, int columns, int tile_w, int tile_h, float w, float h) {
    if (!t.id || t.width == 0) return false;
    const float u0 = static_cast<float>((k % columns) * tile_w) / t.width;
    const float v0 = static_cast<float>((k / columns) * tile_h) / t.height;
    const ImVec2 uv0(u0, v0),
        uv1(u0 + static_cast<float>(tile_w) / t.width, v0 + static_cast<float>(tile_h) / t.height);
    ImGui::PushID(k);
    const bool clicked = ImGui::ImageButton(t.imgui_id(), ImVec2(w, h), uv0, uv1, 1);
    ImGui::PopID();
    return clicked;
}

static int colormap_index(Colormap c) {
    for (size_t i = 0; i < kColormaps.size(); ++i)
        if (kColormaps[i].colormap == c) return static_cast<int>(i);
    return 0;
}

// The seven overlays as one texture; with a shared scale every map is normalised with the
// range of all of them (one legend), else each with its own.
static void update_grid_texture(const AppState& state, const Face& face, const ClassGrid& g,
                                PanelTextures& t) {
    const int64_t key =
        (static_cast<int64_t>(g.version) << 24) ^ (static_cast<int64_t>(state.colormap + 1) << 16) ^
        (static_cast<int64_t>(state.opacity * 1000) << 2) ^ (state.grid_shared_scale ? 1 : 0);
    if (key == t.grid_key || g.maps.empty()) return;
    const Explanation& e0 = g.maps[0];
    const int64_t n = e0.map.size();
    NormalizedMap shared;
    if (state.grid_shared_scale) {
        Tensor all(Shape({static_cast<int64_t>(g.maps.size()) * e0.height, e0.width}));
        for (size_t k = 0; k < g.maps.size(); ++k)
            std::copy(g.maps[k].map.data(), g.maps[k].map.data() + n, all.data() + k * n);
        shared = normalize_map(all, e0.norm);
        t.grid_lo = shared.lo;
        t.grid_hi = shared.hi;
    }
    const Colormap cmap = shown_colormap(state, e0);
    const Image base = upscale_nearest(face.input_picture, display_scale(face));
    std::vector<Image> tiles;
    for (size_t k = 0; k < g.maps.size(); ++k) {
        Tensor m;
        if (state.grid_shared_scale) {
            m = Tensor(Shape({e0.height, e0.width}));
            std::copy(shared.map.data() + k * n, shared.map.data() + (k + 1) * n, m.data());
        } else {
            m = normalize_map(g.maps[k].map, g.maps[k].norm).map;
        }
        tiles.push_back(overlay(base, m, cmap, state.opacity));
    }
    t.grid.upload(grid(tiles, 7, {}, 0), key, false);
    t.grid_key = key;
    t.grid_colormap = colormap_index(cmap);
}

void draw_class_grid_panel(AppState& state, Session& session, UiCache& cache) {
    const Face* f = session.selected_face();
    if (!f) {
        ImGui::TextWrapped("The seven-class grid appears once a face is found.");
        return;
    }
    const ExplainRequest r = current_request(state, session);
    const ExplanationMethod* m = find_method(r.method);
    if (!is_live(r)) {
        ImGui::TextWrapped(
            "%s is slow; the grid uses the cheap methods (gradients and Grad-CAMs). Pick one in "
            "the "
            "Explain tab.",
            std::string(m->title()).c_str());
        return;
    }
    ClassGrid& g = session.panel_work().grid;
    g.want(session, r);
    const auto& names = session.class_names();
    const int classes = static_cast<int>(g.classes.size());
    const bool all = classes == static_cast<int>(names.size());
    ImGui::Text(
        all ? "%s for every class%s%s" : "%s for the most probable classes%s%s",
        std::string(m->title()).c_str(), r.target.contrast >= 0 ? ", minus " : "",
        r.target.contrast >= 0 ? names[static_cast<size_t>(r.target.contrast)].c_str() : "");
    ImGui::SameLine();
    ImGui::Checkbox("shared scale", &state.grid_shared_scale);
    if (!g.complete(session)) {
        ImGui::SameLine();
        char buf[32];
        std::snprintf(buf, sizeof buf, "%d / %d", static_cast<int>(g.maps.size()), classes);
        ImGui::ProgressBar(static_cast<float>(g.maps.size()) / std::max(1, classes), ImVec2(140, 0),
                           buf);
    }
    update_grid_texture(state, *f, g, cache.panels);
    if (g.maps.empty()) return;
    const float avail = ImGui::GetContentRegionAvail().x - 100.f;
    const int columns = std::clamp(static_cast<int>(avail / 150.f), 1, 4);
    const int tile_w = f->input_picture.width * display_scale(*f),
              tile_h = f->input_picture.height * display_scale(*f);
    const float side =
        std::min(avail / columns - 2 * ImGui::GetStyle().ItemSpacing.x, static_cast<float>(tile_w));
    const float side_h = side * static_cast<float>(tile_h) / static_cast<float>(tile_w);
    ImGui::BeginGroup();
    for (int k = 0; k < static_cast<int>(g.maps.size()); ++k) {
        const int c = g.classes[static_cast<size_t>(k)];
        if (k % columns) ImGui::SameLine();
        ImGui::BeginGroup();
        if (atlas_tile(cache.panels.grid, k, 7, tile_w, tile_h, side, side_h)) {
            state.target_class = c == f->top ? -1 : c;  // explain this class in the Explain tab
            session.panel_work().focus = "explain";
        }
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("Click to explain %s in the Explain tab",
                              names[static_cast<size_t>(c)].c_str());
        const bool top = c == f->top;
        if (top) ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.95f, 0.75f, 0.2f, 1.f));
        ImGui::Text("%s %.1f %%", names[static_cast<size_t>(c)].c_str(),
                    100.f * f->probs[static_cast<size_t>(c)]);
        if (top) ImGui::PopStyleColor();
        if (!state.grid_shared_scale) {
            const NormalizedMap nm = normalize_map(g.maps[static_cast<size_t>(k)].map,
                                                   g.maps[static_cast<size_t>(k)].norm);
            ImGui::TextDisabled("%.3g .. %.3g", nm.lo, nm.hi);
        }
        ImGui::EndGroup();
    }
    ImGui::EndGroup();
    if (state.grid_shared_scale) {
        ImGui::SameLine();
        ShownMap legend;
        legend.lo = cache.panels.grid_lo;
        legend.hi = cache.panels.grid_hi;
        legend.colormap = cache.panels.grid_colormap;
        draw_legend(legend, std::min(side * 2, 300.f));
    }
}

// Two methods over the same face: the Explain tab's method (as last computed there) and a
// second one picked here, each normalised on its own with its own legend.
void draw_compare_panel(AppState& state, Session& session, UiCache& cache) {
    const Face* f = session.selected_face();
    if (!f) {
        ImGui::TextWrapped("Two methods side by side appear once a face is found.");
        return;
    }
    const ExplanationMethod* second = find_method(state.second_method);
    if (!second) second = all_methods()[0], state.second_method = std::string(second->name());
    if (ImGui::BeginCombo("second method", std::string(second->title()).c_str())) {
        for (const ExplanationMethod* x : all_methods()) {
            const std::string label = std::string(x->title()) + (x->live() ? "" : "  (slow)");
            if (ImGui::Selectable(label.c_str(), x == second))
                state.second_method = std::string(x->name());
        }
        ImGui::EndCombo();
    }
    // The second method explains the same target with its own parameters from the Explain tab.
    AppState other = state;
    other.method = state.second_method;
    const ExplainRequest r2 = current_request(other, session);
    SideMap& side = session.panel_work().side;
    const bool cheap = is_live(r2);
    bool run = false;
    if (!cheap) {
        ImGui::SameLine();
        run = ImGui::Button("Compute");
    }
    side.want(session, r2, run);
    if (side.pending) {
        ImGui::SameLine();
        ImGui::TextDisabled("computing...");
    }
    const ExplainRequest r1 = current_request(state, session);
    if (is_live(r1) && state.live) session.request(r1);
    const Explanation* e1 = session.explanation();
    const Explanation* e2 = side.map && side.key == face_key(session) ? &*side.map : nullptr;

    PanelTextures& t = cache.panels;
    const int64_t key = (static_cast<int64_t>(session.explanation_version()) << 40) ^
                        (static_cast<int64_t>(side.version) << 20) ^
                        (static_cast<int64_t>(state.colormap + 1) << 12) ^
                        static_cast<int64_t>(state.opacity * 1000);
    if (key != t.side_key) {
        const Explanation* es[2] = {e1, e2};
        Texture* tex[2] = {&t.side_main, &t.side_second};
        for (int i = 0; i < 2; ++i) {
            if (!es[i]) continue;
            NormalizedMap nm;
            tex[i]->upload(overlay_picture(state, *f, *es[i], &nm), key, false);
            t.side_lo[i] = nm.lo;
            t.side_hi[i] = nm.hi;
            t.side_colormap[i] = colormap_index(shown_colormap(state, *es[i]));
        }
        t.side_key = key;
    }
    const float side_px = std::min((ImGui::GetContentRegionAvail().x - 2 * 110.f) / 2,
                                   static_cast<float>(f->input_picture.width * display_scale(*f)));
    const Explanation* es[2] = {e1, e2};
    const Texture* tex[2] = {&t.side_main, &t.side_second};
    for (int i = 0; i < 2; ++i) {
        if (i) ImGui::SameLine();
        ImGui::BeginGroup();
        if (!es[i]) {
            ImGui::TextDisabled(i == 0 ? "Explain tab: press Explain"
                                       : (cheap ? "computing..." : "press Compute"));
        } else {
            ImGui::TextUnformatted(std::string(find_method(es[i]->method)->title()).c_str());
            ImGui::Image(tex[i]->imgui_id(), ImVec2(side_px, side_px));
            ImGui::SameLine();
            ShownMap legend;
            legend.lo = t.side_lo[i];
            legend.hi = t.side_hi[i];
            legend.colormap = t.side_colormap[i];
            draw_legend(legend, side_px);
        }
        ImGui::EndGroup();
    }
    ImGui::TextDisabled(
        "Both explain the Explain tab's target (class, contrast, score); each map has its own "
        "scale.");
}

}  // namespace cnnlens::app
