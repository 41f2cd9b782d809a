// Look inside the network: the layer list with output shapes, the selected layer's feature maps
// for the face (per-map, per-layer or global scale), and filter pictures by gradient ascent
// that fill in one per frame; a clicked filter is shown enlarged next to its activation on the
// face.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/image/render.h"
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

static void draw_layer_list(AppState& state, const LayerBrowser& lb) {
    for (const LayerInfo& l : lb.layers) {
        char label[160];
        std::snprintf(label, sizeof label, "%-15s %s", l.shape.str().c_str(), l.name.c_str());
        if (ImGui::Selectable(label, l.node == state.layer)) {
            state.layer = l.node;
            state.filter_channel = -1;
        }
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("%s (%s), output %s", l.name.c_str(), l.op.c_str(),
                              l.shape.str().c_str());
    }
}

static void draw_feature_maps(AppState& state, Session& session, UiCache& cache,
                              const LayerInfo& layer) {
    LayerBrowser& lb = session.panel_work().layers;
    lb.want_maps(layer.node);
    ImGui::Text("Feature maps of %s for this face", layer.name.c_str());
    ImGui::TextUnformatted("scale:");
    ImGui::SameLine();
    ImGui::RadioButton("per map", &state.map_scale, 0);
    ImGui::SameLine();
    ImGui::RadioButton("per layer", &state.map_scale, 1);
    ImGui::SameLine();
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
        ImGui::TextDisabled("colour scale (viridis): %.3g .. %.3g", r.lo, r.hi);
    } else {
        ImGui::TextDisabled("each map on its own scale (viridis: its min .. its max)");
    }
    const float avail = ImGui::GetContentRegionAvail().x;
    const float side = std::clamp(avail / 12.f - 6.f, 24.f, 64.f);
    const int per_row = std::max(1, static_cast<int>(avail / (side + 6.f)));
    ImGui::BeginChild(
        "maps",
        ImVec2(0, std::min(220.f, (side + 6.f) * ((fm.channels + per_row - 1) / per_row) + 8.f)));
    for (int k = 0; k < fm.channels; ++k) {
        if (k % per_row) ImGui::SameLine();
        if (atlas_tile(t.maps, k, kMapColumns, fm.width, fm.height, side, side))
            state.filter_channel = k;
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("channel %d: %.3g .. %.3g", k, fm.channel_min[static_cast<size_t>(k)],
                              fm.channel_max[static_cast<size_t>(k)]);
    }
    ImGui::EndChild();
}

static void draw_filters(AppState& state, Session& session, UiCache& cache,
                         const LayerInfo& layer) {
    LayerBrowser& lb = session.panel_work().layers;
    const int channels = static_cast<int>(layer.shape[layer.shape.rank() - 1]);
    ImGui::Text("Filter pictures of %s", layer.name.c_str());
    ImGui::TextDisabled("what input makes each channel fire most (gradient ascent from noise)");
    const bool mine =
        lb.filter_layer == layer.node && lb.filter_model_version == session.model_version();
    state.filter_count = std::clamp(state.filter_count, 1, channels);
    ImGui::SetNextItemWidth(160);
    ImGui::SliderInt("channels", &state.filter_count, 1, channels);
    ImGui::SameLine();
    if (mine && lb.filtering()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%d / %d", static_cast<int>(lb.filters.size()),
                      lb.filter_target);
        ImGui::ProgressBar(static_cast<float>(lb.filters.size()) / std::max(1, lb.filter_target),
                           ImVec2(160, 0), buf);
        ImGui::SameLine();
        if (ImGui::Button("Stop")) lb.stop_filters();
    } else if (ImGui::Button(mine && !lb.filters.empty() ? "Compute more / again"
                                                         : "Compute filter pictures")) {
        AscentParams p = ascent_params_from(state.filter_params);
        p.seed = static_cast<uint64_t>(state.seed);
        lb.want_filters(layer.node, p, state.filter_count);
    }
    if (ImGui::TreeNode("ascent settings")) {
        for (const ParamDef& d : ascent_param_defs()) param_widget(d, state.filter_params, session);
        if (ImGui::SmallButton("Defaults (32 steps)"))
            state.filter_params = Params().set("steps", 32);
        ImGui::TextDisabled(
            "One filter picture is computed per frame; more steps give stronger pictures but a "
            "slower page.");
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
    const float avail = ImGui::GetContentRegionAvail().x;
    const float side = std::clamp(avail / 10.f - 6.f, 40.f, 96.f);
    const int per_row = std::max(1, static_cast<int>(avail / (side + 6.f)));
    for (int k = 0; k < static_cast<int>(lb.filters.size()); ++k) {
        if (k % per_row) ImGui::SameLine();
        if (atlas_tile(t.filters, k, kFilterColumns, fw, fh, side, side)) state.filter_channel = k;
        if (ImGui::IsItemHovered()) {
            const FilterPicture& p = lb.filters[static_cast<size_t>(k)];
            ImGui::SetTooltip("channel %d: mean activation %.3g -> %.3g", k, p.start_activation,
                              p.final_activation);
        }
    }
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
    const int64_t key =
        (static_cast<int64_t>(k) << 40) ^ (static_cast<int64_t>(lb.filters_version) << 24) ^
        (static_cast<int64_t>(lb.maps_version) << 4) ^ (has_filter ? 2 : 0) ^ (has_map ? 1 : 0);
    if (key != t.big_key) {
        if (has_filter)
            t.big_filter.upload(filter_image(lb.filters[static_cast<size_t>(k)]), key, true);
        if (has_map && f) {
            const FeatureMaps& fm = *lb.maps;
            const ValueRange r = map_range(fm, k, MapScale::kPerMap);
            t.big_activation.upload(overlay(upscale_nearest(f->input_picture, display_scale(*f)),
                                            scaled_map(fm, k, r), kMapColormap, 0.7f),
                                    key, false);
        }
        t.big_key = key;
    }
    ImGui::Separator();
    ImGui::Text("Channel %d of %s", k, layer.name.c_str());
    const float side = std::min(ImGui::GetContentRegionAvail().x / 2 - 20.f, 256.f);
    ImGui::BeginGroup();
    ImGui::TextUnformatted("filter picture");
    if (has_filter)
        ImGui::Image(t.big_filter.imgui_id(), ImVec2(side, side));
    else
        ImGui::TextDisabled("not computed yet");
    ImGui::EndGroup();
    ImGui::SameLine();
    ImGui::BeginGroup();
    ImGui::TextUnformatted("its activation on this face (own scale)");
    if (has_map && f) ImGui::Image(t.big_activation.imgui_id(), ImVec2(side, side));
    ImGui::EndGroup();
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
    ImGui::BeginChild("layer list",
                      ImVec2(std::min(440.f, ImGui::GetContentRegionAvail().x * 0.42f), 0), true,
                      ImGuiWindowFlags_HorizontalScrollbar);
    ImGui::TextDisabled("%d layers: output shape, name (hover: op)",
                        static_cast<int>(lb.layers.size()));
    draw_layer_list(state, lb);
    ImGui::EndChild();
    ImGui::SameLine();
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
