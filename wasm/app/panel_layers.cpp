// Look inside the network: the layer list with output shapes, the selected layer's feature maps
// for the face (per-map, per-layer or global scale), and filter pictures by gradient ascent
// that fill in one per frame; a clicked filter is shown enlarged next to its activation on the
// face.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/image/render.h"
#include "wasm/app/layout_trace.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

constexpr int kMapColumns = 16;     // feature map tiles per texture row
constexpr int kFilterColumns = 16;  // filter picture tiles per texture row
constexpr Colormap kMapColormap = Colormap::kViridis;

// A filter picture ([H, W, C] in [0, 1]) as 8-bit pixels.
static Image filter_image(const FilterPicture& p) {
    Image img;
    img.height = static_cast<int>(p.image.shape()[0]);
    img.width = static_cast<int>(p.image.shape()[1]);
    img.channels = static_cast<int>(p.image.shape()[2]);
    img.pixels.resize(static_cast<size_t>(p.image.size()));
    for (int64_t i = 0; i < p.image.size(); ++i)
        img.pixels[static_cast<size_t>(i)] =
            static_cast<uint8_t>(std::clamp(p.image[i], 0.f, 1.f) * 255.f + 0.5f);
    return img;
}

// Channel k of the feature maps [C, H, W] as an [H, W] map scaled to [0, 1] by `range`.
static Tensor scaled_map(const FeatureMaps& fm, int k, ValueRange range) {
    Tensor m(Shape({fm.height, fm.width}));
    const float* src = fm.maps.data() + static_cast<int64_t>(k) * fm.height * fm.width;
    for (int64_t i = 0; i < m.size(); ++i) m[i] = (src[i] - range.lo) / (range.hi - range.lo);
    return m;
}

// Each layer by its name (cut to the list's width, whole on hover) with its output shape at
// the right.
static void draw_layer_list(AppState& state, const LayerBrowser& lb) {
    const float width = ImGui::GetContentRegionAvail().x, sp = ImGui::GetStyle().ItemSpacing.x;
    for (const LayerInfo& l : lb.layers) {
        std::string shape;
        for (int i = 1; i < l.shape.rank(); ++i)
            shape += (i > 1 ? "x" : "") + std::to_string(l.shape[i]);
        const float shape_w = ImGui::CalcTextSize(shape.c_str()).x;
        ImGui::PushID(l.node);
        const float x = ImGui::GetCursorPosX();
        if (ImGui::Selectable(shorten(l.name, width - shape_w - 2 * sp).c_str(),
                              l.node == state.layer)) {
            state.layer = l.node;
            state.filter_channel = -1;
        }
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("%s (%s), output %s", l.name.c_str(), l.op.c_str(),
                              l.shape.str().c_str());
        ImGui::SameLine(x + width - shape_w);
        ImGui::TextDisabled("%s", shape.c_str());
        ImGui::PopID();
    }
}

// A picture of the face or of a channel, described for the hover and the zoom.
static MapPicture channel_picture(const FeatureMaps& fm, int k, ValueRange r, std::string title) {
    MapPicture pic;
    pic.values =
        std::span<const float>(fm.maps.data() + static_cast<int64_t>(k) * fm.height * fm.width,
                               static_cast<size_t>(fm.height * fm.width));
    pic.width = static_cast<int>(fm.width);
    pic.height = static_cast<int>(fm.height);
    pic.lo = r.lo;
    pic.hi = r.hi;
    pic.unit = "activation";
    pic.reading = "viridis: dark purple is the low end of the scale, yellow the high end";
    pic.title = std::move(title);
    return pic;
}

static void draw_feature_maps(AppState& state, Session& session, UiCache& cache,
                              const LayerInfo& layer) {
    LayerBrowser& lb = session.panel_work().layers;
    lb.want_maps(layer.node);
    ImGui::TextWrapped("Feature maps of %s for this face (click one: its channel below)",
                       layer.name.c_str());
    ImGui::TextUnformatted("scale:");
    ImGui::SameLine();
    ImGui::RadioButton("per map", &state.map_scale, 0);
    same_line_if_fits(check_width("per layer"));
    ImGui::RadioButton("per layer", &state.map_scale, 1);
    same_line_if_fits(check_width("global"));
    ImGui::RadioButton("global", &state.map_scale, 2);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("one scale for every spatial layer's activations on this face");
    if (!lb.maps || lb.maps_node != layer.node || lb.maps_key != face_key(session)) {
        ImGui::TextDisabled("computing...");
        return;
    }
    const FeatureMaps& fm = *lb.maps;
    const MapScale scale = static_cast<MapScale>(state.map_scale);
    PanelTextures& t = cache.panels;
    const int64_t key = (static_cast<int64_t>(lb.maps_version) << 4) | state.map_scale;
    if (key != t.maps_key) {
        std::vector<Image> tiles;
        for (int k = 0; k < fm.channels; ++k)
            tiles.push_back(colorize(
                scaled_map(fm, k, map_range(fm, k, scale, lb.global.value_or(ValueRange{}))),
                kMapColormap));
        t.maps.upload(grid(tiles, kMapColumns, {}, 0), key, false);
        t.maps_key = key;
    }
    if (scale != MapScale::kPerMap) {
        const ValueRange r = map_range(fm, 0, scale, lb.global.value_or(ValueRange{}));
        char buf[96];
        std::snprintf(buf, sizeof buf, "colour scale (viridis): %.3g .. %.3g", r.lo, r.hi);
        text_fit(buf, ImGui::GetContentRegionAvail().x, true);
    } else {
        text_fit("each map on its own scale (viridis: its min .. its max)",
                 ImGui::GetContentRegionAvail().x, true);
    }
    // The tiles fill the width, as large as lets every channel show in about half the view;
    // many channels scroll in their own box.
    const ImVec2 sp = ImGui::GetStyle().ItemSpacing;
    const float avail = ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ScrollbarSize - sp.x;
    const float view_h =
        std::max(ImGui::GetContentRegionAvail().y, ImGui::GetWindowHeight() * 0.5f);
    const float region_h = std::max(view_h * 0.55f, ui_px(120));
    const float aspect =
        static_cast<float>(fm.width) / static_cast<float>(std::max<int64_t>(1, fm.height));
    const GridFit fit =
        fit_grid(fm.channels, aspect, ImVec2(avail, region_h), 0, ui_px(36), ui_px(256));
    const float tile_h = fit.tile / aspect;
    const int rows = (fm.channels + fit.columns - 1) / fit.columns;
    const float needed = rows * (tile_h + sp.y) + 2 * ImGui::GetStyle().WindowPadding.y;
    ImGui::BeginChild("maps", ImVec2(0, std::min(region_h, needed)));
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    const float u = static_cast<float>(fm.width) / std::max(1, t.maps.width),
                v = static_cast<float>(fm.height) / std::max(1, t.maps.height);
    for (int k = 0; k < fm.channels; ++k) {
        if (k % fit.columns) ImGui::SameLine();
        char title[96];
        std::snprintf(title, sizeof title, "channel %d of %s", k, layer.name.c_str());
        MapPicture pic = channel_picture(
            fm, k, map_range(fm, k, scale, lb.global.value_or(ValueRange{})), title);
        pic.layers[0].texture = &t.maps;
        pic.layers[0].uv0 = ImVec2((k % kMapColumns) * u, (k / kMapColumns) * v);
        pic.layers[0].uv1 = ImVec2(pic.layers[0].uv0.x + u, pic.layers[0].uv0.y + v);
        ImGui::PushID(k);
        if (draw_map("feature map", pic, ImVec2(fit.tile, tile_h), false)) state.filter_channel = k;
        ImGui::PopID();
    }
    const float w = std::min(fit.columns, fm.channels) * (fit.tile + sp.x) - sp.x;
    layout_trace_map("feature maps", p0.x, p0.y, w, std::min(region_h, rows * (tile_h + sp.y)),
                     avail, region_h);
    ImGui::EndChild();
}

static void draw_filters(AppState& state, Session& session, UiCache& cache,
                         const LayerInfo& layer) {
    LayerBrowser& lb = session.panel_work().layers;
    const int channels = static_cast<int>(layer.shape[layer.shape.rank() - 1]);
    ImGui::TextWrapped("Filter pictures of %s", layer.name.c_str());
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("what input makes each channel fire most (gradient ascent from noise)");
    ImGui::PopStyleColor();
    const bool mine =
        lb.filter_layer == layer.node && lb.filter_model_version == session.model_version();
    state.filter_count = std::clamp(state.filter_count, 1, channels);
    ImGui::SetNextItemWidth(ui_px(160));
    ImGui::SliderInt("channels", &state.filter_count, 1, channels);
    const char* compute =
        mine && !lb.filters.empty() ? "Compute more / again" : "Compute filter pictures";
    same_line_if_fits(ImGui::CalcTextSize(compute).x + 2 * ImGui::GetStyle().FramePadding.x);
    if (mine && lb.filtering()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%d / %d", static_cast<int>(lb.filters.size()),
                      lb.filter_target);
        ImGui::ProgressBar(static_cast<float>(lb.filters.size()) / std::max(1, lb.filter_target),
                           ImVec2(ui_px(160), 0), buf);
        ImGui::SameLine();
        if (ImGui::Button("Stop")) lb.stop_filters();
    } else if (ImGui::Button(compute)) {
        AscentParams p = ascent_params_from(state.filter_params);
        p.seed = static_cast<uint64_t>(state.seed);
        lb.want_filters(layer.node, p, state.filter_count);
    }
    if (ImGui::TreeNode("ascent settings")) {
        float label_w = 0;
        for (const ParamDef& d : ascent_param_defs())
            label_w = std::max(label_w, ImGui::CalcTextSize(std::string(d.label).c_str()).x);
        ImGui::PushItemWidth(std::max(ui_px(80), ImGui::GetContentRegionAvail().x - label_w -
                                                     2 * ImGui::GetStyle().ItemInnerSpacing.x));
        for (const ParamDef& d : ascent_param_defs()) param_widget(d, state.filter_params, session);
        ImGui::PopItemWidth();
        if (ImGui::SmallButton("Defaults (32 steps)"))
            state.filter_params = Params().set("steps", 32);
        ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
        ImGui::TextWrapped(
            "One filter picture is computed per frame; more steps give stronger pictures but a "
            "slower page.");
        ImGui::PopStyleColor();
        ImGui::TreePop();
    }
    if (!mine || lb.filters.empty()) return;
    PanelTextures& t = cache.panels;
    const FilterPicture& p0 = lb.filters[0];
    const int fw = static_cast<int>(p0.image.shape()[1]),
              fh = static_cast<int>(p0.image.shape()[0]);
    if (t.filters_key != lb.filters_version) {
        std::vector<Image> tiles;
        for (const FilterPicture& p : lb.filters) tiles.push_back(filter_image(p));
        t.filters.upload(grid(tiles, kFilterColumns, {}, 0), lb.filters_version, true);
        t.filters_key = lb.filters_version;
    }
    const ImVec2 sp = ImGui::GetStyle().ItemSpacing;
    const float avail = ImGui::GetContentRegionAvail().x;
    const float region_h = std::max(ImGui::GetWindowHeight() * 0.3f, ui_px(96));
    const int n = static_cast<int>(lb.filters.size());
    const GridFit fit = fit_grid(n, 1.f, ImVec2(avail, region_h), 0, ui_px(48), ui_px(200));
    const ImVec2 at = ImGui::GetCursorScreenPos();
    for (int k = 0; k < n; ++k) {
        if (k % fit.columns) ImGui::SameLine();
        if (atlas_tile(t.filters, k, kFilterColumns, fw, fh, fit.tile - 2, fit.tile - 2))
            state.filter_channel = k;
        if (ImGui::IsItemHovered()) {
            const FilterPicture& p = lb.filters[static_cast<size_t>(k)];
            ImGui::SetTooltip("channel %d: mean activation %.3g -> %.3g\nclick: enlarge it below",
                              k, p.start_activation, p.final_activation);
        }
    }
    const int rows = (n + fit.columns - 1) / fit.columns;
    layout_trace_map("filter pictures", at.x, at.y,
                     std::min(fit.columns, n) * (fit.tile + sp.x) - sp.x,
                     rows * (fit.tile + sp.y) - sp.y, avail, region_h);
}

// The chosen channel: its filter picture enlarged next to its activation over the face.
static void draw_enlarged(const AppState& state, const Session& session, UiCache& cache,
                          const LayerInfo& layer) {
    const LayerBrowser& lb = session.panel_work().layers;
    const int k = state.filter_channel;
    const bool has_filter =
        lb.filter_layer == layer.node && k < static_cast<int>(lb.filters.size());
    const bool has_map = lb.maps && lb.maps_node == layer.node && k < lb.maps->channels;
    const Face* f = session.selected_face();
    if (k < 0 || (!has_filter && !has_map)) return;
    PanelTextures& t = cache.panels;
    const int64_t key = (static_cast<int64_t>(k) << 40) ^
                        (static_cast<int64_t>(lb.filters_version) << 24) ^
                        (static_cast<int64_t>(lb.maps_version) << 4) ^ (has_filter ? 2 : 0) ^
                        (has_map ? 1 : 0) ^ (state.map_smooth ? 8 : 0);
    if (key != t.big_key) {
        if (has_filter)
            t.big_filter.upload(filter_image(lb.filters[static_cast<size_t>(k)]), key, true);
        if (has_map && f) {
            const FeatureMaps& fm = *lb.maps;
            const ValueRange r = map_range(fm, k, MapScale::kPerMap);
            Image layer = colorize(scaled_map(fm, k, r), kMapColormap);
            for (size_t p = 0; p < layer.pixels.size() / 4; ++p) layer.pixels[p * 4 + 3] = 178;
            t.big_activation.upload(layer, key, state.map_smooth);
        }
        t.big_key = key;
    }
    ImGui::Separator();
    ImGui::TextWrapped("Channel %d of %s (click a picture to zoom)", k, layer.name.c_str());
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const ImVec2 region(avail.x, std::max(avail.y, ImGui::GetWindowHeight() * 0.6f));
    const float line = ImGui::GetTextLineHeightWithSpacing();
    bool stacked = false;
    const float side = fit_pictures(2, region, 0, line, &stacked);
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::BeginGroup();
    text_fit("filter picture", side);
    if (has_filter) {
        MapPicture pic;
        pic.layers[0].texture = &t.big_filter;
        char title[96];
        std::snprintf(title, sizeof title, "filter picture of channel %d of %s", k,
                      layer.name.c_str());
        pic.title = title;
        draw_map("filter", pic, ImVec2(side, side));
    } else {
        ImGui::TextDisabled("not computed yet");
    }
    ImGui::EndGroup();
    if (!stacked) ImGui::SameLine();
    ImGui::BeginGroup();
    text_fit("its activation on this face (own scale)", side);
    if (has_map && f) {
        const FeatureMaps& fm = *lb.maps;
        char title[96];
        std::snprintf(title, sizeof title, "activation of channel %d of %s on this face", k,
                      layer.name.c_str());
        MapPicture pic = channel_picture(fm, k, map_range(fm, k, MapScale::kPerMap), title);
        pic.layers[0].texture = &face_texture(session, cache);
        pic.layers[1].texture = &t.big_activation;
        pic.probs = f->probs;
        pic.names = &session.class_names();
        draw_map("activation", pic, ImVec2(side, side));
    }
    ImGui::EndGroup();
    layout_trace_map("channel", p0.x, p0.y,
                     stacked ? side : 2 * side + ImGui::GetStyle().ItemSpacing.x,
                     stacked ? 2 * (side + line) : side + line, region.x, region.y);
}

void draw_layers_panel(AppState& state, Session& session, UiCache& cache) {
    LayerBrowser& lb = session.panel_work().layers;
    lb.sync(session);
    if (state.layer < 0 ||
        !lb.find(state.layer)) {  // start at the last spatial layer larger than 1x1
        state.layer = -1;
        for (const LayerInfo& l : lb.layers)
            if (l.spatial() && l.shape[1] > 1 && l.op != "Input") state.layer = l.node;
    }
    // The list beside the view, or above it on a narrow panel.
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const bool narrow = avail.x < ui_px(560);
    ImGui::BeginChild("layer list",
                      narrow ? ImVec2(0, std::max(ui_px(120), avail.y * 0.25f))
                             : ImVec2(std::min(ui_px(320), avail.x * 0.35f), 0),
                      true);
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("%d layers: name, output shape (hover: op)",
                       static_cast<int>(lb.layers.size()));
    ImGui::PopStyleColor();
    draw_layer_list(state, lb);
    ImGui::EndChild();
    if (!narrow) ImGui::SameLine();
    ImGui::BeginChild("layer view", ImVec2(0, 0), false);
    const LayerInfo* layer = lb.find(state.layer);
    if (!layer) {
        ImGui::TextWrapped("Pick a layer on the left.");
    } else {
        if (session.selected_face())
            draw_feature_maps(state, session, cache, *layer);
        else
            ImGui::TextWrapped("Feature maps appear once a face is found.");
        ImGui::Separator();
        draw_filters(state, session, cache, *layer);
        draw_enlarged(state, session, cache, *layer);
    }
    ImGui::EndChild();
}

}  // namespace cnnlens::app
