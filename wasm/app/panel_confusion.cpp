// The confusion matrix of a dropped labeled set: progress while it is evaluated, counts or
// row-normalized values with per-class accuracy, a click on a cell lists its faces, a click on
// a face opens it in the Explain tab.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/image/render.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

constexpr int kGalleryColumns = 16;  // thumbnails per texture row
constexpr int kGalleryMax = 256;     // thumbnails shown for one cell

static void draw_matrix(AppState& state, const ConfusionMatrix& cm) {
    const int n = cm.num_classes;
    // Row labels as wide as the longest class name, then n cells and the row's accuracy in
    // what is left (the column headers cut to the cell's width, whole on hover).
    const float sp = ImGui::GetStyle().ItemSpacing.x;
    float label_w = 0;
    for (const std::string& name : cm.class_names)
        label_w = std::max(label_w, ImGui::CalcTextSize(name.c_str()).x);
    const float accuracy_w = ImGui::CalcTextSize("100 %").x;
    const float cell =
        std::clamp((ImGui::GetContentRegionAvail().x - label_w - accuracy_w - sp) / n - sp,
                   ui_px(28), ui_px(72));
    const float x0 = ImGui::GetCursorPosX() + label_w + sp;
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("rows: true class, columns: predicted class");
    ImGui::PopStyleColor();
    ImGui::Dummy(ImVec2(label_w, 0));
    for (int p = 0; p < n; ++p) {
        ImGui::SameLine(x0 + p * (cell + sp));
        text_fit(cm.class_names[static_cast<size_t>(p)], cell);
    }
    ImGui::SameLine(x0 + n * (cell + sp));
    text_fit("accuracy", ImGui::GetContentRegionAvail().x);
    for (int t = 0; t < n; ++t) {
        ImGui::AlignTextToFramePadding();
        ImGui::TextUnformatted(cm.class_names[static_cast<size_t>(t)].c_str());
        for (int p = 0; p < n; ++p) {
            ImGui::SameLine(x0 + p * (cell + sp));
            const double v = cm.normalized(t, p);
            const float shade = std::isnan(v) ? 0.f : static_cast<float>(v);
            const ImVec4 color = t == p ? ImVec4(0.1f, 0.25f + 0.6f * shade, 0.15f, 1.f)
                                        : ImVec4(0.2f + 0.7f * shade, 0.12f, 0.12f, 1.f);
            char label[48];
            if (state.confusion_normalized)
                std::snprintf(
                    label, sizeof label, "%s##%d_%d",
                    std::isnan(v)
                        ? "-"
                        : (std::to_string(static_cast<int>(std::lround(v * 100))) + "%").c_str(),
                    t, p);
            else
                std::snprintf(label, sizeof label, "%lld##%d_%d",
                              static_cast<long long>(cm.count(t, p)), t, p);
            const bool selected = state.confusion_truth == t && state.confusion_pred == p;
            ImGui::PushStyleColor(ImGuiCol_Button, color);
            ImGui::PushStyleColor(ImGuiCol_Border,
                                  selected ? ImVec4(1.f, 0.85f, 0.f, 1.f) : ImVec4(0, 0, 0, 0));
            ImGui::PushStyleVar(ImGuiStyleVar_FrameBorderSize, selected ? 2.f : 0.f);
            if (ImGui::Button(label, ImVec2(cell, 0))) {
                state.confusion_truth = t;
                state.confusion_pred = p;
            }
            ImGui::PopStyleVar();
            ImGui::PopStyleColor(2);
            if (ImGui::IsItemHovered())
                ImGui::SetTooltip("true %s, predicted %s: %lld faces (%.1f %% of the row)",
                                  cm.class_names[static_cast<size_t>(t)].c_str(),
                                  cm.class_names[static_cast<size_t>(p)].c_str(),
                                  static_cast<long long>(cm.count(t, p)),
                                  std::isnan(v) ? 0.0 : 100 * v);
        }
        ImGui::SameLine(x0 + n * (cell + sp));
        const double r = cm.recall(t);
        char recall[48];
        if (std::isnan(r))
            std::snprintf(recall, sizeof recall, "-");
        else
            std::snprintf(recall, sizeof recall, "%.0f %%", 100 * r);
        text_fit(recall, ImGui::GetContentRegionAvail().x, std::isnan(r));
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("%s: %s of its %lld faces classified right",
                              cm.class_names[static_cast<size_t>(t)].c_str(), recall,
                              static_cast<long long>(cm.support(t)));
    }
    ImGui::TextWrapped("Overall accuracy: %.1f %% of %lld faces", 100 * cm.accuracy(),
                       static_cast<long long>(cm.total()));
}

static void draw_gallery(AppState& state, Session& session, UiCache& cache,
                         const ConfusionMatrix& cm) {
    const ConfusionRun& run = session.panel_work().confusion;
    const int t = state.confusion_truth, p = state.confusion_pred;
    if (t < 0 || p < 0 || t >= cm.num_classes || p >= cm.num_classes) return;
    const std::vector<int>& items = cm.cell(t, p);
    ImGui::Separator();
    ImGui::Text("True %s, predicted %s: %d face%s%s",
                cm.class_names[static_cast<size_t>(t)].c_str(),
                cm.class_names[static_cast<size_t>(p)].c_str(), static_cast<int>(items.size()),
                items.size() == 1 ? "" : "s", items.empty() ? "" : " (click one to explain it)");
    if (items.empty()) return;
    const int shown = std::min(static_cast<int>(items.size()), kGalleryMax);
    const Image& first = run.data->items[static_cast<size_t>(items[0])].image;
    PanelTextures& tex = cache.panels;
    const int64_t key = (static_cast<int64_t>(run.version) << 20) ^ (t << 10) ^ p;
    if (key != tex.gallery_key) {
        std::vector<Image> tiles;
        for (int i = 0; i < shown; ++i)
            tiles.push_back(
                run.data->items[static_cast<size_t>(items[static_cast<size_t>(i)])].image);
        tex.gallery.upload(grid(tiles, kGalleryColumns, {}, 0), key, true);
        tex.gallery_key = key;
    }
    const float side = ui_px(64);
    const int per_row =
        std::max(1, static_cast<int>(ImGui::GetContentRegionAvail().x / (side + ui_px(10))));
    for (int i = 0; i < shown; ++i) {
        const int item = items[static_cast<size_t>(i)];
        if (i % per_row) ImGui::SameLine();
        if (atlas_tile(tex.gallery, i, kGalleryColumns, first.width, first.height, side, side)) {
            const LabeledImage& it = run.data->items[static_cast<size_t>(item)];
            Status s = session.open_face(it.image, run.data->source + " " + it.id);
            if (!s)
                state.error = s.message();
            else
                session.panel_work().focus = "explain";
        }
        if (ImGui::IsItemHovered()) {
            const float* pr = run.predictions.empty()
                                  ? nullptr
                                  : cm.probs.data() + static_cast<size_t>(item) * cm.num_classes;
            ImGui::SetTooltip(
                "%s: %s at %.0f %%", run.data->items[static_cast<size_t>(item)].id.c_str(),
                cm.class_names[static_cast<size_t>(p)].c_str(), pr ? 100.f * pr[p] : 0.f);
        }
    }
    if (shown < static_cast<int>(items.size()))
        ImGui::TextDisabled("(the first %d of %d)", shown, static_cast<int>(items.size()));
}

void draw_confusion_panel(AppState& state, Session& session, UiCache& cache) {
    ConfusionRun& run = session.panel_work().confusion;
    if (!run.data) {
        ImGui::TextWrapped(
            "Drop a labeled validation set (a .csv file) anywhere on the page to see how the model "
            "does on it: "
            "FER2013's fer2013.csv (emotion,pixels,Usage) or the course format (label,feature), "
            "one "
            "face per line as space-separated gray pixels. Nothing leaves this page.");
        return;
    }
    ImGui::TextWrapped("%s: %d faces (%s)", run.data->source.c_str(), run.data->size(),
                       run.data->format.c_str());
    if (run.running() || (!run.matrix && run.stopped)) {
        char buf[48];
        std::snprintf(buf, sizeof buf, "%d / %d faces", static_cast<int>(run.next),
                      run.data->size());
        ImGui::ProgressBar(run.progress(), ImVec2(ui_px(240), 0), buf);
        ImGui::SameLine();
        if (run.running() ? ImGui::Button("Stop") : ImGui::Button("Resume"))
            run.running() ? run.stop() : run.resume();
    }
    if (!run.matrix) return;
    int mode = state.confusion_normalized ? 1 : 0;
    ImGui::RadioButton("counts", &mode, 0);
    ImGui::SameLine();
    ImGui::RadioButton("row-normalized", &mode, 1);
    state.confusion_normalized = mode == 1;
    draw_matrix(state, *run.matrix);
    draw_gallery(state, session, cache, *run.matrix);
}

}  // namespace cnnlens::app
