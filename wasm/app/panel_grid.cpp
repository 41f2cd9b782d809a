// The class grid (one map per class for the selected face with the current cheap method;
// a model with many classes shows its most probable ones) and two methods side by side over the
// face, each with its legend.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "core/explain/describe.h"
#include "core/image/render.h"
#include "wasm/app/export.h"
#include "wasm/app/layout_trace.h"
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

// A normalised map as the layer over the face: its colours, alpha the opacity.
static Image map_rgba(const Tensor& normalised, Colormap cmap, float opacity) {
    Image pic = colorize(normalised, cmap);
    const uint8_t alpha = static_cast<uint8_t>(std::clamp(opacity, 0.f, 1.f) * 255.f + 0.5f);
    for (size_t p = 0; p < pic.pixels.size() / 4; ++p) pic.pixels[p * 4 + 3] = alpha;
    return pic;
}

// One map layer per class; with a shared scale every map is normalised with the range of all
// of them (one legend), else each with its own.
static void update_grid_textures(const AppState& state, const ClassGrid& g, PanelTextures& t) {
    const int64_t key = (static_cast<int64_t>(g.version) << 24) ^
                        (static_cast<int64_t>(state.colormap + 1) << 16) ^
                        (static_cast<int64_t>(state.opacity * 1000) << 2) ^
                        (state.grid_shared_scale ? 1 : 0) ^ (state.map_smooth ? 2 : 0);
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
    t.grid_maps.resize(g.maps.size());
    for (size_t k = 0; k < g.maps.size(); ++k) {
        Tensor m;
        if (state.grid_shared_scale) {
            m = Tensor(Shape({e0.height, e0.width}));
            std::copy(shared.map.data() + k * n, shared.map.data() + (k + 1) * n, m.data());
        } else {
            m = normalize_map(g.maps[k].map, g.maps[k].norm).map;
        }
        if (!t.grid_maps[k]) t.grid_maps[k] = std::make_unique<Texture>();
        t.grid_maps[k]->upload(map_rgba(m, cmap, state.opacity), key, state.map_smooth);
    }
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
            "the Explain tab.",
            std::string(m->title()).c_str());
        return;
    }
    ClassGrid& g = session.panel_work().grid;
    g.want(session, r);
    const auto& names = session.class_names();
    const int classes = static_cast<int>(g.classes.size());
    const bool all = classes == static_cast<int>(names.size());
    ImGui::TextWrapped(
        all ? "%s for every class%s%s" : "%s for the most probable classes%s%s",
        std::string(m->title()).c_str(), r.target.contrast >= 0 ? ", minus " : "",
        r.target.contrast >= 0 ? names[static_cast<size_t>(r.target.contrast)].c_str() : "");
    ImGui::Checkbox("shared scale", &state.grid_shared_scale);
    if (!g.complete(session)) {
        ImGui::SameLine();
        char buf[32];
        std::snprintf(buf, sizeof buf, "%d / %d", static_cast<int>(g.maps.size()), classes);
        ImGui::ProgressBar(static_cast<float>(g.maps.size()) / std::max(1, classes),
                           ImVec2(ui_px(140), 0), buf);
    }
    update_grid_textures(state, g, cache.panels);
    if (g.maps.empty()) return;
    const Texture& face = face_texture(session, cache);
    const ImVec2 sp = ImGui::GetStyle().ItemSpacing;
    const float legend = state.grid_shared_scale ? legend_width() + sp.x : 0;
    const float line = ImGui::GetTextLineHeightWithSpacing();
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const ImVec2 region(avail.x - legend, avail.y);
    const float caption = line * (state.grid_shared_scale ? 1 : 2);
    const float aspect = static_cast<float>(f->input_picture.width) /
                         static_cast<float>(std::max(1, f->input_picture.height));
    const GridFit fit = fit_grid(classes, aspect, region, caption, ui_px(64), 1e9f);
    const float tile_h = fit.tile / aspect;
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::BeginGroup();
    for (int k = 0; k < static_cast<int>(g.maps.size()); ++k) {
        const int c = g.classes[static_cast<size_t>(k)];
        const Explanation& e = g.maps[static_cast<size_t>(k)];
        if (k % fit.columns) ImGui::SameLine();
        ImGui::BeginGroup();
        MapPicture pic;
        pic.layers[0].texture = &face;
        pic.layers[1].texture = cache.panels.grid_maps[static_cast<size_t>(k)].get();
        pic.values = e.map.span();
        pic.width = e.width;
        pic.height = e.height;
        if (state.grid_shared_scale) {
            pic.lo = cache.panels.grid_lo, pic.hi = cache.panels.grid_hi;
        } else {
            const NormalizedMap nm = normalize_map(e.map, e.norm);
            pic.lo = nm.lo, pic.hi = nm.hi;
        }
        pic.unit = "value";
        pic.reading = map_reading(e.norm);
        pic.title = std::string(m->title()) + " for " + names[static_cast<size_t>(c)];
        pic.probs = f->probs;
        pic.names = &names;
        ImGui::PushID(k);
        draw_map("class map", pic, ImVec2(fit.tile, tile_h));
        const bool top = c == f->top;
        if (top) ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.95f, 0.75f, 0.2f, 1.f));
        char label[96];
        std::snprintf(label, sizeof label, "%s %.1f %%", names[static_cast<size_t>(c)].c_str(),
                      100.f * f->probs[static_cast<size_t>(c)]);
        const std::string shown = shorten(label, fit.tile);
        if (ImGui::Selectable(shown.c_str(), false, 0, ImVec2(fit.tile, 0))) {
            state.target_class = c == f->top ? -1 : c;  // explain this class in the Explain tab
            session.panel_work().focus = "explain";
        }
        if (top) ImGui::PopStyleColor();
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("%s\nClick to explain %s in the Explain tab", label,
                              names[static_cast<size_t>(c)].c_str());
        if (!state.grid_shared_scale) {
            char range[48];
            std::snprintf(range, sizeof range, "%.3g .. %.3g", pic.lo, pic.hi);
            text_fit(range, fit.tile, true);
        }
        ImGui::PopID();
        ImGui::EndGroup();
    }
    ImGui::EndGroup();
    const ImVec2 p1 = ImGui::GetItemRectMax();
    if (state.grid_shared_scale) {
        ImGui::SameLine();
        ShownMap shown;
        shown.lo = cache.panels.grid_lo;
        shown.hi = cache.panels.grid_hi;
        shown.colormap = cache.panels.grid_colormap;
        draw_legend(shown, std::min(p1.y - p0.y, region.y));
    }
    layout_trace_map("grid", p0.x, p0.y, p1.x - p0.x + legend, p1.y - p0.y, avail.x, avail.y);
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
    if (begin_combo("second method", second->title())) {
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
                        static_cast<int64_t>(state.opacity * 1000) ^
                        (state.map_smooth ? int64_t{1} << 11 : 0) ^
                        static_cast<int64_t>(state.mask_percent * 10) << 50;
    if (key != t.side_key) {
        const Explanation* es[2] = {e1, e2};
        Texture* tex[2] = {&t.side_main, &t.side_second};
        for (int i = 0; i < 2; ++i) {
            if (!es[i]) continue;
            const NormalizedMap nm = normalize_map(es[i]->map, es[i]->norm);
            tex[i]->upload(view_map_rgba(state, *es[i]), key, state.map_smooth);
            t.side_lo[i] = nm.lo;
            t.side_hi[i] = nm.hi;
            t.side_colormap[i] = colormap_index(shown_colormap(state, *es[i]));
        }
        t.side_key = key;
    }
    ImGui::TextWrapped(
        "Both explain the Explain tab's target (class, contrast, score); each map has its own "
        "scale.");
    const Texture& face = face_texture(session, cache);
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float legend = legend_width();
    bool stacked = false;
    const float side_px =
        fit_pictures(2, avail, legend, ImGui::GetTextLineHeightWithSpacing(), &stacked);
    const Explanation* es[2] = {e1, e2};
    const Texture* tex[2] = {&t.side_main, &t.side_second};
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImVec2 p1 = p0;
    for (int i = 0; i < 2; ++i) {
        if (i && !stacked) ImGui::SameLine();
        ImGui::BeginGroup();
        if (!es[i]) {
            ImGui::TextDisabled(i == 0 ? "Explain tab: press Explain"
                                       : (cheap ? "computing..." : "press Compute"));
        } else {
            const std::string title(find_method(es[i]->method)->title());
            text_fit(title, side_px + legend);
            MapPicture pic;
            pic.layers[0].texture = &face;
            pic.layers[1].texture = tex[i];
            pic.values = es[i]->map.span();
            pic.width = es[i]->width;
            pic.height = es[i]->height;
            pic.lo = t.side_lo[i];
            pic.hi = t.side_hi[i];
            pic.unit = "value";
            pic.reading = map_reading(es[i]->norm);
            pic.title =
                title + " for " + session.class_names()[static_cast<size_t>(es[i]->target.cls)];
            pic.probs = f->probs;
            pic.names = &session.class_names();
            ImGui::PushID(i);
            draw_map("side map", pic, ImVec2(side_px, side_px));
            ImGui::PopID();
            ImGui::SameLine();
            ShownMap shown;
            shown.lo = t.side_lo[i];
            shown.hi = t.side_hi[i];
            shown.colormap = t.side_colormap[i];
            draw_legend(shown, side_px);
        }
        ImGui::EndGroup();
        p1 = ImVec2(std::max(p1.x, ImGui::GetItemRectMax().x),
                    std::max(p1.y, ImGui::GetItemRectMax().y));
    }
    layout_trace_map("compare", p0.x, p0.y, p1.x - p0.x, p1.y - p0.y, avail.x, avail.y);
}

}  // namespace cnnlens::app
