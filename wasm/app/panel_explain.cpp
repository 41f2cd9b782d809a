// The explanation panel: method, its parameters (widgets built from ParamDef), target, display
// settings, the overlay on the face and its legend.
#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "core/explain/describe.h"
#include "core/image/render.h"
#include "wasm/app/export.h"
#include "wasm/app/layout_trace.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

Colormap shown_colormap(const AppState& s, const Explanation& e) { return view_colormap(s, e); }

ExplainRequest current_request(const AppState& state, const Session& session) {
    ExplainRequest r;
    r.method = state.method;
    auto it = state.params.find(state.method);
    if (it != state.params.end()) r.params = it->second;
    const Face* f = session.selected_face();
    r.target.cls = state.target_class >= 0 ? state.target_class : (f ? f->top : 0);
    r.target.contrast = state.contrast_class;
    const ExplanationMethod* m = find_method(state.method);
    const Target::Score chosen =
        state.score == 1 ? Target::Score::kProbability : Target::Score::kLogit;
    r.target.score = state.score >= 0 ? chosen
                     : m              ? m->traits().default_score
                                      : Target::Score::kLogit;
    r.seed = static_cast<uint64_t>(state.seed);
    // Methods without gradients are the same at either precision: they keep their result.
    if (m && !m->traits().forward_images) r.precision = state.precision;
    return r;
}

// The width a combo's preview has in its box at the current item width.
static float combo_room() {
    return ImGui::CalcItemWidth() - ImGui::GetFrameHeight() - 2 * ImGui::GetStyle().FramePadding.x;
}

bool param_widget(const ParamDef& d, Params& p, const Session& session) {
    const std::string name(d.name);
    // Shown by its label; the code name keeps the widget's identity.
    const std::string label = std::string(d.label.empty() ? d.name : d.label) + "##" + name;
    double v = p.get(name, d.def);
    bool changed = false;
    std::string shown;  // a combo's whole value, which its box may cut short
    if (name == "layer") {
        std::vector<LayerInfo> layers;
        for (const LayerInfo& l : const_cast<Session&>(session).probe().layers())
            if (l.spatial()) layers.push_back(l);
        std::string current = "auto (last conv larger than 1x1)";
        for (const LayerInfo& l : layers)
            if (l.node == static_cast<int>(v)) current = l.name + " " + l.shape.str();
        shown = current;
        if (ImGui::BeginCombo(label.c_str(), shorten(current, combo_room()).c_str())) {
            if (ImGui::Selectable("auto (last conv larger than 1x1)", v < 0)) {
                v = -1;
                changed = true;
            }
            for (const LayerInfo& l : layers) {
                const std::string label = l.name + " " + l.shape.str();
                if (ImGui::Selectable(label.c_str(), l.node == static_cast<int>(v))) {
                    v = l.node;
                    changed = true;
                }
            }
            ImGui::EndCombo();
        }
    } else if (!d.choices.empty()) {
        int i = static_cast<int>(v);
        const std::string preview(d.choices[static_cast<size_t>(
            std::clamp(i, 0, static_cast<int>(d.choices.size()) - 1))]);
        shown = preview;
        if (ImGui::BeginCombo(label.c_str(), shorten(preview, combo_room()).c_str())) {
            for (size_t c = 0; c < d.choices.size(); ++c)
                if (ImGui::Selectable(std::string(d.choices[c]).c_str(),
                                      static_cast<int>(c) == i)) {
                    v = static_cast<double>(c);
                    changed = true;
                }
            ImGui::EndCombo();
        }
    } else {
        // Wide ranges get a logarithmic slider, capped where the UI stops being useful.
        const double hi = std::min(d.max, std::max(d.def * 20.0, d.min + 1.0));
        const bool log = d.min >= 0 && hi > 100 * std::max(d.min, 1e-3);
        const ImGuiSliderFlags flags = log ? ImGuiSliderFlags_Logarithmic : 0;
        if (d.integer) {
            int i = static_cast<int>(v);
            changed = ImGui::SliderInt(label.c_str(), &i, static_cast<int>(d.min),
                                       static_cast<int>(hi), "%d", flags);
            v = i;
        } else {
            float f = static_cast<float>(v);
            changed = ImGui::SliderFloat(label.c_str(), &f, static_cast<float>(d.min),
                                         static_cast<float>(hi), "%.3g", flags);
            v = f;
        }
    }
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("%s%s%s\nCLI: --%s", shown.c_str(), shown.empty() ? "" : "\n\n",
                          param_tooltip(d).c_str(), name.c_str());
    if (changed) p.set(name, v);
    return changed;
}

static void draw_method_settings(AppState& state, Session& session, UiCache& cache) {
    const ExplanationMethod* m = find_method(state.method);
    if (!m) m = all_methods()[0], state.method = std::string(m->name());
    if (begin_combo("method", m->title())) {
        for (const ExplanationMethod* x : all_methods()) {
            const std::string label = std::string(x->title()) + (x->live() ? "" : "  (slow)");
            if (ImGui::Selectable(label.c_str(), x == m)) state.method = std::string(x->name());
        }
        ImGui::EndCombo();
    }
    ImGui::SameLine();
    card_button(state, *m, cache);
    Params& p = state.params[state.method];
    // Widgets leave room for the longest label beside them, so no label is cut off.
    float label_w = 0;
    for (const ParamDef& d : m->params())
        label_w = std::max(label_w, ImGui::CalcTextSize(std::string(d.label).c_str()).x);
    const float avail = ImGui::GetContentRegionAvail().x;
    ImGui::PushItemWidth(std::max(
        ui_px(60),
        std::min(avail * 0.65f, avail - label_w - 2 * ImGui::GetStyle().ItemInnerSpacing.x)));
    for (const ParamDef& d : m->params()) param_widget(d, p, session);
    ImGui::PopItemWidth();
    if (!m->params().empty() && ImGui::SmallButton("Defaults")) p = Params{};

    const auto& names = session.class_names();
    const Face* f = session.selected_face();
    const std::string predicted = "predicted (" + names[static_cast<size_t>(f ? f->top : 0)] + ")";
    if (begin_combo("target", state.target_class < 0
                                  ? predicted
                                  : names[static_cast<size_t>(state.target_class)])) {
        if (ImGui::Selectable(predicted.c_str(), state.target_class < 0)) state.target_class = -1;
        for (int c = 0; c < static_cast<int>(names.size()); ++c)
            if (ImGui::Selectable(names[static_cast<size_t>(c)].c_str(), state.target_class == c))
                state.target_class = c;
        ImGui::EndCombo();
    }
    if (begin_combo("contrast",
                    state.contrast_class < 0
                        ? "none"
                        : "minus " + names[static_cast<size_t>(state.contrast_class)])) {
        if (ImGui::Selectable("none", state.contrast_class < 0)) state.contrast_class = -1;
        for (int c = 0; c < static_cast<int>(names.size()); ++c)
            if (ImGui::Selectable(names[static_cast<size_t>(c)].c_str(), state.contrast_class == c))
                state.contrast_class = c;
        ImGui::EndCombo();
    }
    ImGui::RadioButton("auto", &state.score, -1);
    same_line_if_fits(check_width("logit"));
    ImGui::RadioButton("logit", &state.score, 0);
    same_line_if_fits(check_width("probability"));
    ImGui::RadioButton("probability", &state.score, 1);
    hint_beside("(score explained; auto: probability for LIME)");
    ImGui::InputInt("seed", &state.seed);
    if (!m->traits().forward_images) {  // the method takes gradients
        int p = state.precision == TapePrecision::kFloat ? 1 : 0;
        ImGui::TextUnformatted("gradients:");
        ImGui::SameLine();
        ImGui::RadioButton("exact", &p, 0);
        same_line_if_fits(check_width("float32"));
        ImGui::RadioButton("float32", &p, 1);
        if (ImGui::IsItemHovered() || ImGui::IsItemActive())
            ImGui::SetTooltip(
                "exact: the forward pass under a gradient sums every product in double and "
                "rounds once, so a ReLU or max pool within float rounding of its threshold "
                "decides as exact arithmetic does.\nfloat32: sums in float as the forward pass "
                "does, about half the time on large models; PyTorch float32's accuracy.\nCLI: "
                "--precision exact|float");
        state.precision = p == 1 ? TapePrecision::kFloat : TapePrecision::kExact;
        set_default_tape_precision(state.precision);  // Live follows it at once
    }
}

static void draw_display_settings(AppState& state) {
    const std::string pv = state.colormap < 0
                               ? "auto"
                               : std::string(kColormaps[static_cast<size_t>(state.colormap)].name);
    if (begin_combo("colormap", pv)) {
        if (ImGui::Selectable("auto", state.colormap < 0)) state.colormap = -1;
        for (int i = 0; i < static_cast<int>(kColormaps.size()); ++i)
            if (ImGui::Selectable(std::string(kColormaps[static_cast<size_t>(i)].name).c_str(),
                                  state.colormap == i))
                state.colormap = i;
        ImGui::EndCombo();
    }
    ImGui::SliderFloat("opacity", &state.opacity, 0.f, 1.f, "%.2f");
    ImGui::SliderFloat("mask: keep top %", &state.mask_percent, 0.f, 100.f,
                       state.mask_percent <= 0 ? "off" : "%.0f %%");
    ImGui::Checkbox("superpixel edges", &state.show_boundaries);
    int smooth = state.map_smooth ? 1 : 0;
    ImGui::TextUnformatted("map pixels:");
    ImGui::SameLine();
    ImGui::RadioButton("crisp", &smooth, 0);
    ImGui::SameLine();
    ImGui::RadioButton("smooth", &smooth, 1);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip(
            "How a map is enlarged: crisp shows each of its pixels (the model's resolution) as a "
            "square; smooth blends them. The face under it is always smooth.");
    state.map_smooth = smooth == 1;
}

// The selected face's input picture, drawn smooth under the maps of every panel.
const Texture& face_texture(const Session& session, UiCache& cache) {
    const Face* f = session.selected_face();
    const FaceKey k = face_key(session);
    const int64_t key = (static_cast<int64_t>(k.photo_version) << 40) ^
                        (static_cast<int64_t>(k.face) << 20) ^ k.model_version;
    if (f && cache.face.version != key) cache.face.upload(f->input_picture, key, true);
    return cache.face;
}

// The map's layer over the face: its colours at model resolution, alpha the opacity; outside a
// mask, black (the face hidden, as the mask's export shows it).
static Image map_layer(const AppState& state, const Explanation& e) {
    Image pic = view_map_rgba(state, e);
    if (state.mask_percent <= 0) return pic;
    for (size_t p = 0; p < pic.pixels.size() / 4; ++p)
        if (pic.pixels[p * 4 + 3] == 0) {
            pic.pixels[p * 4 + 0] = pic.pixels[p * 4 + 1] = pic.pixels[p * 4 + 2] = 0;
            pic.pixels[p * 4 + 3] = 255;
        }
    return pic;
}

// LIME's superpixel edges, yellow on transparent, at display_scale() so they stay thin lines.
static Image edge_layer(const Face& f, const Explanation& e) {
    const int s = display_scale(f);
    Image img;
    img.width = e.width * s;
    img.height = e.height * s;
    img.channels = 4;
    img.pixels.assign(static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 4, 0);
    draw_boundaries(img, e.segments, e.width, e.height, {255, 255, 0});
    for (size_t p = 0; p < img.pixels.size() / 4; ++p)
        if (img.pixels[p * 4]) img.pixels[p * 4 + 3] = 255;
    return img;
}

// Makes the map's layers when the explanation or a display setting changed.
static void update_overlay(const AppState& state, Session& session, UiCache& cache) {
    const Explanation* e = session.explanation();
    const Face* f = session.selected_face();
    if (!e || !f) return;
    face_texture(session, cache);
    const bool edges = !e->segments.empty() && state.show_boundaries;
    const int64_t key = (static_cast<int64_t>(session.explanation_version()) << 32) ^
                        (static_cast<int64_t>(state.colormap + 1) << 24) ^
                        (static_cast<int64_t>(state.opacity * 1000) << 10) ^
                        static_cast<int64_t>(state.mask_percent * 10) ^ (edges ? 1 << 30 : 0) ^
                        (state.map_smooth ? int64_t{1} << 31 : 0);
    if (key == cache.overlay_key) return;
    const Colormap cmap = shown_colormap(state, *e);
    NormalizedMap nm = normalize_map(e->map, e->norm);
    cache.overlay.upload(map_layer(state, *e), key, state.map_smooth);
    if (edges) cache.edges.upload(edge_layer(*f, *e), key, false);
    cache.overlay_key = key;
    ShownMap& s = cache.shown;
    s.method = e->method;
    s.version = session.explanation_version();
    s.width = e->width;
    s.height = e->height;
    s.values.assign(e->map.data(), e->map.data() + e->map.size());
    s.lo = nm.lo;
    s.hi = nm.hi;
    for (size_t i = 0; i < kColormaps.size(); ++i)
        if (kColormaps[i].colormap == cmap) s.colormap = static_cast<int>(i);
}

// The legend's labels are numbers like "-0.000123": the bar, its ticks and the widest of them.
float legend_width() { return ui_px(18 + 4 + 2 + 4) + ImGui::CalcTextSize("-0.000123").x; }

void draw_legend(const ShownMap& s, float height) {
    const Colormap cmap = kColormaps[static_cast<size_t>(s.colormap)].colormap;
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const float w = ui_px(18);
    const int steps = 64;
    for (int i = 0; i < steps; ++i) {  // top = hi
        const float t0 = 1.f - static_cast<float>(i) / steps,
                    t1 = 1.f - static_cast<float>(i + 1) / steps;
        const Rgba a = colormap_rgba(cmap, t0), b = colormap_rgba(cmap, t1);
        const float y0 = p.y + height * i / steps, y1 = p.y + height * (i + 1) / steps;
        dl->AddRectFilledMultiColor(
            ImVec2(p.x, y0), ImVec2(p.x + w, y1), IM_COL32(a[0], a[1], a[2], 255),
            IM_COL32(a[0], a[1], a[2], 255), IM_COL32(b[0], b[1], b[2], 255),
            IM_COL32(b[0], b[1], b[2], 255));
    }
    char buf[32];
    const float th = ImGui::GetTextLineHeight();
    for (int k = 0; k <= 4; ++k) {
        const float t = 1.f - k / 4.f;
        std::snprintf(buf, sizeof buf, "%.3g", s.lo + (s.hi - s.lo) * t);
        const float y = std::clamp(p.y + height * k / 4.f - th * 0.5f, p.y, p.y + height - th);
        dl->AddLine(ImVec2(p.x + w, p.y + height * k / 4.f),
                    ImVec2(p.x + w + ui_px(4), p.y + height * k / 4.f),
                    IM_COL32(220, 220, 220, 255));
        dl->AddText(ImVec2(p.x + w + ui_px(6), y), IM_COL32(220, 220, 220, 255), buf);
    }
    ImGui::Dummy(ImVec2(legend_width(), height));
}

// The statistics by their labels, one item each, wrapped to the panel's width, each with its
// tooltip; a layer's node is shown by the layer's name.
static void draw_stats(const Explanation& e) {
    const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
    bool first = true;
    char value[32];
    for (const std::string& key : ordered_stat_keys(e.stats)) {
        const StatDef* def = find_stat(key);
        const bool layer = key == "layer_node" && !e.layer.empty();
        std::snprintf(value, sizeof value, "%.4g", e.stats.at(key));
        const std::string item =
            std::string(stat_label(key)) + " " + (layer ? e.layer : std::string(value));
        const float w = ImGui::CalcTextSize(item.c_str()).x;
        if (!first && ImGui::GetItemRectMax().x + 2 * ImGui::GetStyle().ItemSpacing.x + w < right)
            ImGui::SameLine(0, 2 * ImGui::GetStyle().ItemSpacing.x);
        first = false;
        ImGui::TextUnformatted(item.c_str());
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("%s%s\n(%s = %s)", item.c_str(),
                              def ? ("\n\n" + std::string(def->help)).c_str() : "", key.c_str(),
                              value);
    }
}

// The face and the map over it, side by side or stacked, as large as the tab allows above the
// statistics (the settings scroll into view under them), with the legend beside.
static void draw_explain_maps(const AppState& state, const Session& session, UiCache& cache,
                              const Explanation& e, const Face& f) {
    const ImVec2 avail = ImGui::GetContentRegionAvail(), sp = ImGui::GetStyle().ItemSpacing;
    const ImVec2 region(avail.x,
                        std::max(avail.y - 3 * ImGui::GetTextLineHeightWithSpacing(), ui_px(160)));
    const float legend = legend_width();
    const float across = std::min((region.x - legend - 2 * sp.x) / 2, region.y);
    const float down = std::min(region.x - legend - sp.x, (region.y - sp.y) / 2);
    const bool stacked = down > across;
    const float side = std::max(ui_px(32), std::max(across, down));
    const std::string title = std::string(find_method(e.method)->title()) + " for " +
                              session.class_names()[static_cast<size_t>(e.target.cls)];
    MapPicture plain;
    plain.layers[0].texture = &cache.face;
    plain.values = cache.shown.values;
    plain.width = e.width;
    plain.height = e.height;
    plain.lo = cache.shown.lo;
    plain.hi = cache.shown.hi;
    plain.unit = "value";
    plain.reading = map_reading(e.norm);
    plain.title = title;
    plain.probs = f.probs;
    plain.names = &session.class_names();
    MapPicture over = plain;
    if (state.show_overlay) {
        over.layers[1].texture = &cache.overlay;
        if (!e.segments.empty() && state.show_boundaries) over.layers[2].texture = &cache.edges;
    }
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::BeginGroup();
    draw_map("face", plain, ImVec2(side, side));
    if (!stacked) ImGui::SameLine();
    const ImVec2 q0 = ImGui::GetCursorScreenPos();
    draw_map("overlay", over, ImVec2(side, side));
    ImGui::EndGroup();
    ImGui::SameLine();
    const float h = stacked ? 2 * side + sp.y : side;
    draw_legend(cache.shown, h);
    const float w = (stacked ? side : 2 * side + sp.x) + sp.x + legend;
    layout_trace_map("explain", p0.x, p0.y, w, h, region.x, region.y);
    layout_trace_map("explain overlay", q0.x, q0.y, side, side, region.x, region.y);
}

// The result first (face, overlay, legend), then the settings, so long parameter lists never
// push the picture out of view.
// "0.4 s", "12 s", "3 min 20 s".
static std::string duration_text(double s) {
    char b[48];
    if (s < 10)
        std::snprintf(b, sizeof b, "%.1f s", s);
    else if (s < 120)
        std::snprintf(b, sizeof b, "%.0f s", s);
    else
        std::snprintf(b, sizeof b, "%.0f min %.0f s", std::floor(s / 60), std::fmod(s, 60));
    return b;
}

// Before a run of a method that states how many images it shows the model (LIME, occlusion,
// RISE): how long it should take here, from this model's measured forward time. Empty when
// either is unknown.
static std::string estimate_text(const Session& session, const ExplainRequest& r) {
    const ExplanationMethod* m = find_method(r.method);
    const double ms = session.forward_ms_per_image();
    if (!m || !m->traits().forward_images || ms <= 0) return {};
    const InputSpec& in = session.model().spec.input;
    const int64_t n = m->traits().forward_images(*m, r.params, in.height, in.width);
    char b[200];
    std::snprintf(b, sizeof b, "About %s here: %lld images through the model at %.1f ms each.",
                  duration_text(static_cast<double>(n) * ms / 1000).c_str(),
                  static_cast<long long>(n), ms);
    return b;
}

// The running job's bar text: its share done and, once it has run a little, the time left at
// its rate so far.
static std::string progress_text(const JobStatus& job) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - job.started).count();
    char b[96];
    const int pct = static_cast<int>(job.progress * 100);
    if (job.progress >= 0.02f && elapsed >= 0.5)
        std::snprintf(b, sizeof b, "%d%%, %s left", pct,
                      duration_text(elapsed * (1 - job.progress) / job.progress).c_str());
    else
        std::snprintf(b, sizeof b, "%d%%", pct);
    return b;
}

void draw_explain_panel(AppState& state, Session& session, UiCache& cache) {
    const Face* f = session.selected_face();
    if (!f) {
        ImGui::TextWrapped("Explanations appear here once a face is found.");
        return;
    }
    const ExplainRequest r = current_request(state, session);
    const bool cheap = is_live(r);
    const JobStatus& job = session.job();
    if (ImGui::Button("Explain") || state.run_requested || (cheap && state.live))
        session.request(r);
    state.run_requested = false;
    ImGui::SameLine();
    if (job.pending || job.running) {
        const std::string text = job.running ? progress_text(job) : "starting...";
        ImGui::ProgressBar(job.progress, ImVec2(ui_px(200), 0), text.c_str());
        ImGui::SameLine();
        if (ImGui::Button("Cancel")) session.cancel();
    } else if (cheap) {
        ImGui::Checkbox("recompute live", &state.live);
    }
    const std::string estimate =
        cheap || job.pending || job.running ? "" : estimate_text(session, r);
    if (!estimate.empty()) ImGui::TextWrapped("%s", estimate.c_str());
    update_overlay(state, session, cache);
    const Explanation* e = session.explanation();
    if (!e) {
        ImGui::TextWrapped("%s", cheap ? "Computing..."
                                 : estimate.empty()
                                     ? "Press Explain to run this method (it takes a few seconds)."
                                     : "Press Explain to run this method.");
    } else {
        const auto& names = session.class_names();
        const char* status =
            session.explanation_partial()
                ? (job.running ? "  (partial: filling in)"
                               : "  (partial: stopped early; press Explain to finish)")
            : !(session.explained() == r) ? "  (settings changed: press Explain)"
                                          : "";
        ImGui::TextWrapped(
            "%s for %s%s%s%s", std::string(find_method(e->method)->title()).c_str(),
            names[static_cast<size_t>(e->target.cls)].c_str(),
            e->target.contrast >= 0 ? " minus " : "",
            e->target.contrast >= 0 ? names[static_cast<size_t>(e->target.contrast)].c_str() : "",
            status);
        draw_explain_maps(state, session, cache, *e, *f);
        draw_stats(*e);
    }
    draw_trust_panel(state, session, cache);
    ImGui::Separator();
    if (ImGui::CollapsingHeader("Method", ImGuiTreeNodeFlags_DefaultOpen))
        draw_method_settings(state, session, cache);
    if (ImGui::CollapsingHeader("Display", ImGuiTreeNodeFlags_DefaultOpen))
        draw_display_settings(state);
}

}  // namespace cnnlens::app
