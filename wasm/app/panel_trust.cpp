// The Trust section under the map: how far to trust the explanation shown. The scores with what
// a good value looks like, the deletion and insertion curves against their random-order curves,
// and the randomization check as a strip of maps, one per randomized layer.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/image/draw.h"
#include "wasm/app/export.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

namespace {

constexpr ImU32 kMapColour = IM_COL32(255, 170, 60, 255);
constexpr ImU32 kRandomColour = IM_COL32(150, 150, 150, 255);
constexpr ImU32 kAxisColour = IM_COL32(200, 200, 200, 255);

std::string value_text(double v) {
    if (!std::isfinite(v)) return "undefined";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

// One row per computed score: title, value, what a good value looks like. (Aligned with
// SameLine offsets: ImGui's tables would add 100 KB to app.wasm for this one list.)
void draw_scores(const TrustRun& t) {
    float title_w = 0;
    for (const TrustRun::Score& sc : t.scores)
        title_w = std::max(title_w, ImGui::CalcTextSize(std::string(sc.metric->title).c_str()).x);
    const float x0 = ImGui::GetCursorPosX();
    const float value_x = x0 + title_w + 16.f,
                good_x = value_x + ImGui::CalcTextSize("-0.00000").x + 16.f;
    for (const TrustRun::Score& sc : t.scores) {
        ImGui::TextUnformatted(std::string(sc.metric->title).c_str());
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("%s (cnnlens evaluate --metrics %s)",
                              std::string(sc.metric->good).c_str(),
                              std::string(sc.metric->name).c_str());
        ImGui::SameLine(value_x);
        ImGui::TextUnformatted(value_text(sc.value).c_str());
        ImGui::SameLine(good_x);
        ImGui::PushTextWrapPos(0.f);  // wrapped at the window's edge, under its own start
        ImGui::TextDisabled("%s", std::string(sc.metric->good).c_str());
        ImGui::PopTextWrapPos();
    }
}

// A curve of score over the fraction of pixels changed, the map's order against the random
// order, with its axes labelled (x: fraction 0..1, y: class probability 0..1).
void draw_curve_plot(const char* title, const FaithCurve& map, const FaithCurve& random,
                     const char* x_label, float w, float h) {
    ImGui::BeginGroup();
    ImGui::Text("%s", title);
    ImGui::TextColored(ImVec4(1.f, 0.67f, 0.24f, 1.f), "map order AUC %.3f", map.auc);
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(0.6f, 0.6f, 0.6f, 1.f), "random AUC %.3f", random.auc);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float th = ImGui::GetTextLineHeight();
    const float left = ImGui::CalcTextSize("1.0").x + 6.f;
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const ImVec2 o(p.x + left, p.y + 4.f);        // plot area top left
    const ImVec2 e(p.x + w, p.y + h - th - 4.f);  // bottom right
    dl->AddRect(o, e, kAxisColour);
    for (int k = 0; k <= 2; ++k) {  // y ticks 0, 0.5, 1
        const float y = e.y - (e.y - o.y) * static_cast<float>(k) / 2.f;
        const char* label = k == 0 ? "0" : k == 1 ? ".5" : "1";
        dl->AddText(ImVec2(p.x, y - th * 0.5f), kAxisColour, label);
        dl->AddLine(ImVec2(o.x - 3.f, y), ImVec2(o.x, y), kAxisColour);
    }
    const auto to_screen = [&](float fx, float fy) {
        return ImVec2(o.x + (e.x - o.x) * fx, e.y - (e.y - o.y) * std::clamp(fy, 0.f, 1.f));
    };
    const auto polyline = [&](const FaithCurve& c, ImU32 colour, float thickness) {
        for (size_t i = 1; i < c.fraction.size() && i < c.score.size(); ++i)
            dl->AddLine(to_screen(c.fraction[i - 1], c.score[i - 1]),
                        to_screen(c.fraction[i], c.score[i]), colour, thickness);
    };
    polyline(random, kRandomColour, 1.f);
    polyline(map, kMapColour, 2.f);
    dl->AddText(ImVec2(o.x, e.y + 2.f), kAxisColour, x_label);
    ImGui::Dummy(ImVec2(w, h));
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip(
            "y: the class probability; x: %s.\nOrange: pixels in the map's order (highest first); "
            "grey: in a seeded random order.",
            x_label);
    ImGui::EndGroup();
}

// The randomization check's maps as one texture, each normalised on its own (the randomized
// models' maps differ in scale by orders of magnitude; the structure is what is compared).
void update_strip(const AppState& state, const Session& session, const TrustRun& t,
                  PanelTextures& tex) {
    const Explanation* e = session.explanation();
    const int64_t key = (static_cast<int64_t>(t.version) << 8) ^ (state.colormap + 1);
    if (key == tex.trust_key || t.sanity.empty() || !e) return;
    std::vector<Image> tiles;
    for (const SanityStep& st : t.sanity)
        tiles.push_back(colorize(normalize_map(st.map, e->norm).map, view_colormap(state, *e)));
    tex.trust_strip.upload(grid(tiles, static_cast<int>(tiles.size()), {}, 0), key, false);
    tex.trust_key = key;
}

// "block4_sepconv2" as it fits in `w` pixels: the end kept ("...sepconv2"), where layer names
// differ.
std::string elide(const std::string& s, float w) {
    if (ImGui::CalcTextSize(s.c_str()).x <= w) return s;
    for (size_t cut = 1; cut < s.size(); ++cut) {
        const std::string t = "..." + s.substr(cut);
        if (ImGui::CalcTextSize(t.c_str()).x <= w) return t;
    }
    return "...";
}

void draw_strip(const AppState& state, const Session& session, const TrustRun& t, UiCache& cache) {
    update_strip(state, session, t, cache.panels);
    const int n = static_cast<int>(t.sanity.size());
    const int tw = t.sanity[0].map.shape()[1], th = t.sanity[0].map.shape()[0];
    const float side = ui_px(72);
    const float avail = ImGui::GetContentRegionAvail().x;
    const float step = side + ImGui::GetStyle().ItemSpacing.x + 4.f;
    int per_row = std::max(1, static_cast<int>(avail / step));
    for (int k = 0; k < n; ++k) {
        const SanityStep& st = t.sanity[static_cast<size_t>(k)];
        ImGui::BeginGroup();
        atlas_tile(cache.panels.trust_strip, k, n, tw, th, side, side);
        const std::string name = k == 0 ? "original" : st.layer;
        ImGui::TextUnformatted(elide(name, side + 4.f).c_str());
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", name.c_str());
        ImGui::Text("rho %.2f", st.spearman_abs);
        ImGui::Text("SSIM %.2f", st.ssim);
        ImGui::EndGroup();
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip(
                "%s%s\nSpearman of |map| with the original: %.3f (signed %.3f)\nSSIM: "
                "%.3f\nP(class) of this model: %.3f",
                k == 0 ? "The unmodified model" : "Randomized from the top down to ",
                k == 0 ? "" : st.layer.c_str(), st.spearman_abs, st.spearman_signed, st.ssim,
                static_cast<double>(st.target_probability));
        if ((k + 1) % per_row != 0 && k + 1 < n) ImGui::SameLine();
    }
}

}  // namespace

void draw_trust_panel(AppState& state, Session& session, UiCache& cache) {
    ImGui::SetNextItemOpen(state.trust_open, ImGuiCond_Always);
    state.trust_open = ImGui::CollapsingHeader("Trust");
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip(
            "How far to trust this map: does the model need the pixels it highlights, and does the "
            "map\n"
            "change when the model is destroyed? The numbers equal `cnnlens evaluate --photo` with "
            "this seed.");
    TrustRun& t = session.panel_work().trust;
    if (!state.trust_open) {
        t.active = false;  // closed: new maps are not scored (a step under way finishes)
        return;
    }
    t.show(session);
    if (!shown_trust(session) || t.scores.empty()) {
        ImGui::TextWrapped("Scores appear here once an explanation has finished.");
        return;
    }
    const TrustRun::Stage next = t.next(session);
    if (t.running != TrustRun::Stage::kNone || next != TrustRun::Stage::kNone) {
        const std::string label(
            TrustRun::stage_label(t.running != TrustRun::Stage::kNone ? t.running : next));
        ImGui::ProgressBar(t.running != TrustRun::Stage::kNone ? t.progress : 0.f,
                           ImVec2(ui_px(160), 0), label.c_str());
        ImGui::SameLine();
        if (ImGui::Button("Cancel##trust")) t.stop();
    } else if (t.stopped) {
        ImGui::TextDisabled("Stopped.");
        ImGui::SameLine();
        if (ImGui::Button("Resume##trust")) t.want(session);
    }
    if (!t.error.empty()) ImGui::TextColored(ImVec4(1.f, 0.4f, 0.4f, 1.f), "%s", t.error.c_str());
    ImGui::TextDisabled("%s for class %s, seed %llu", t.request.method.c_str(),
                        session.class_names()[static_cast<size_t>(t.request.target.cls)].c_str(),
                        static_cast<unsigned long long>(t.request.seed));

    draw_scores(t);
    if (t.curves) {
        const float w = std::max(
            160.f, (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) * 0.5f);
        draw_curve_plot("Deletion: lower AUC is better", t.curves->deletion,
                        t.curves->deletion_random, "fraction of pixels removed", w, 150.f);
        ImGui::SameLine();
        draw_curve_plot("Insertion: higher AUC is better", t.curves->insertion,
                        t.curves->insertion_random, "fraction of pixels restored", w, 150.f);
    }
    const bool slow_done = t.slow && t.complete();
    if (!slow_done && !t.slow && ImGui::Button("Compute slow scores")) t.want(session, true);
    if (!slow_done && !t.slow && ImGui::IsItemHovered())
        ImGui::SetTooltip(
            "Faithfulness correlation, infidelity, max/avg sensitivity and random logit (one "
            "explanation per\n"
            "sample), and the randomization check: the map of the same method after randomizing "
            "the model's\n"
            "layers one by one from the top. Takes seconds for fast methods, minutes for slow "
            "ones.");
    if (!t.sanity.empty()) {
        ImGui::Separator();
        ImGui::TextWrapped(
            "Randomization check (Adebayo et al. 2018): the model's layers are replaced by noise "
            "from the top "
            "down. A map that explains the model dissolves (rho and SSIM fall towards 0); one that "
            "stays the "
            "same shows the image, not the model.");
        draw_strip(state, session, t, cache);
    }
}

}  // namespace cnnlens::app
