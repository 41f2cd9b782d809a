// The Report tab: the seed's report (`cnnlens report`, core/report/report.h) of the labeled set
// the Confusion tab holds, or of the faces at hand; its options, progress with Cancel, a summary
// when done, and the two downloads (one self-contained HTML file, a ZIP of its PNG and JSON
// files).
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "wasm/app/platform.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

// Wrapped, so a long help line stays on a phone's screen.
static void tooltip(const char* text) {
    if (!ImGui::IsItemHovered()) return;
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ui_px(360));
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
}

static bool int_option(const char* label, int* v, int lo, int hi, const char* help) {
    ImGui::SetNextItemWidth(ui_px(140));
    const bool changed = ImGui::InputInt(label, v);
    *v = std::clamp(*v, lo, hi);
    tooltip(help);
    return changed;
}

// The layer of part 2: spatial layers only (their filters have pictures and feature maps).
static void layer_combo(AppState& state, Session& session) {
    LayerBrowser& lb = session.panel_work().layers;
    lb.sync(session);
    const LayerInfo* shown = state.report_layer >= 0 ? lb.find(state.report_layer) : nullptr;
    ImGui::SetNextItemWidth(std::min(ui_px(280), ImGui::GetContentRegionAvail().x -
                                                     ImGui::CalcTextSize("Layer of part 2").x -
                                                     ImGui::GetStyle().ItemInnerSpacing.x));
    if (begin_combo("Layer of part 2", shown ? shown->name : "first conv, 16+ filters")) {
        if (ImGui::Selectable("first conv, 16+ filters", state.report_layer < 0))
            state.report_layer = -1;
        for (const LayerInfo& l : lb.layers) {
            if (!l.spatial()) continue;
            char label[160];
            std::snprintf(label, sizeof label, "%s (%s, %lld filters)##%d", l.name.c_str(),
                          l.op.c_str(), static_cast<long long>(l.shape[3]), l.node);
            if (ImGui::Selectable(label, l.node == state.report_layer)) state.report_layer = l.node;
        }
        ImGui::EndCombo();
    }
    tooltip(
        "Part 2 pictures what this layer's filters respond to (gradient ascent, the first 64 "
        "filters) and its feature maps on the first row's face. Default: the first convolution "
        "with at least 16 filters (cnnlens report --layer).");
}

ReportOptions report_options(const AppState& state) {
    ReportOptions o;
    o.seed = static_cast<uint64_t>(std::max(state.seed, 0));
    o.lime_samples = state.report_lime_samples;
    o.smoothgrad_samples = state.report_smoothgrad_samples;
    o.layer = state.report_layer;
    o.ascent.steps = state.report_filter_steps;
    o.ascent.seed = o.seed;
    return o;
}

void download_report(const ReportRun& run, bool zip) {
    if (!run.report) return;
    if (!zip) {
        platform_download(
            "cnnlens-report.html", "text/html",
            {reinterpret_cast<const uint8_t*>(run.report->html.data()), run.report->html.size()});
        return;
    }
    auto bytes = run.report->zip();
    if (bytes) platform_download("cnnlens-report.zip", "application/zip", *bytes);
}

static void draw_summary(const Report& r) {
    ImGui::TextWrapped(
        "Accuracy %.1f %% on %lld faces; %d classes with a face in parts 1, 3 and 4.",
        100.0 * r.confusion.accuracy(), static_cast<long long>(r.confusion.total()), r.images);
    ImGui::TextWrapped("How far to trust the maps (part 5; 1 = best mean rank):");
    if (ImGui::BeginTable("report_trust", 2,
                          ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) {
        ImGui::TableSetupColumn("method");
        ImGui::TableSetupColumn("mean rank");
        ImGui::TableHeadersRow();
        for (const TrustTable::Row& row : r.trust.rows) {
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(row.method.c_str());
            ImGui::TableNextColumn();
            ImGui::Text("%.2f", row.mean_rank);
        }
        ImGui::EndTable();
    }
}

void draw_report_panel(AppState& state, Session& session, UiCache& cache) {
    (void)cache;
    PanelWork& w = session.panel_work();
    ReportRun& run = w.report;
    ImGui::TextWrapped(
        "The course report in one click: (1) a saliency map and mask for one face per class, "
        "(2) what the filters of a layer respond to and that layer's feature maps, (3) LIME per "
        "class read against the confusion matrix, (4) SmoothGrad per class, and (5) how far to "
        "trust those maps. The same report as `cnnlens report`, computed in this page.");
    const bool have_set = w.confusion.data.has_value();
    if (have_set) {
        ImGui::TextWrapped("Labeled set: %s (%d faces)", w.confusion.data->source.c_str(),
                           w.confusion.data->size());
        ImGui::Checkbox("Use the faces at hand instead", &state.report_faces_at_hand);
        tooltip("Report on the faces of the open photo, each labelled by its predicted class.");
    } else {
        ImGui::TextWrapped(
            "No labeled set: the report uses the %d face%s of the open photo, each labelled by "
            "its predicted class. Drop a labeled .csv (see the Confusion matrix tab) to report "
            "on it instead.",
            static_cast<int>(session.faces().size()), session.faces().size() == 1 ? "" : "s");
    }
    ImGui::Separator();
    int_option("LIME samples", &state.report_lime_samples, 10, 20000,
               "Perturbed copies LIME scores per face (cnnlens report --lime-samples). More: "
               "steadier segment weights, slower. Default 1000 (the lime package's num_samples).");
    int_option("SmoothGrad samples", &state.report_smoothgrad_samples, 1, 1000,
               "Noisy copies SmoothGrad averages per face (--smoothgrad-samples). Default 50 "
               "(PAIR saliency's nsamples).");
    int_option("Filter steps", &state.report_filter_steps, 1, 2048,
               "Gradient-ascent steps per filter picture (--steps). The CLI's default is 256 "
               "(Lucid's render_vis uses 512); 64 keeps the page's report to minutes.");
    ImGui::SetNextItemWidth(ui_px(140));
    ImGui::InputInt("Seed", &state.seed);
    state.seed = std::max(state.seed, 0);
    tooltip(
        "Seeds LIME, SmoothGrad, the filter pictures, the trust metrics and the random map: the "
        "same seed gives the same report (--seed). Shared with the Explain tab.");
    layer_combo(state, session);

    if (!run.active() || run.report || !run.error.empty()) {
        if (ImGui::Button("Build the report")) {
            Status s = run.start(session, w, report_options(state),
                                 state.report_faces_at_hand || !have_set);
            if (!s) state.error = s.message();
        }
        tooltip("Runs in the background: the page stays usable, and Cancel stops it.");
    }
    if (run.active()) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "%.0f %%", 100.f * run.progress);
        ImGui::ProgressBar(run.progress, ImVec2(ui_px(240), 0), buf);
        ImGui::SameLine();
        if (run.stopped ? ImGui::Button("Resume##report") : ImGui::Button("Cancel##report"))
            run.stopped ? run.resume() : run.stop();
        ImGui::TextWrapped("%s%s: %s", run.stopped ? "Stopped at " : "Now ", run.source.c_str(),
                           run.stage.c_str());
    }
    if (!run.error.empty()) ImGui::TextWrapped("The report failed: %s", run.error.c_str());
    if (run.report) {
        ImGui::Separator();
        ImGui::TextWrapped("Report of %s is ready.", run.source.c_str());
        if (ImGui::Button("Download HTML")) download_report(run, false);
        tooltip("One file: every picture inline, opens offline in any browser.");
        ImGui::SameLine();
        if (ImGui::Button("Download ZIP")) download_report(run, true);
        tooltip("index.html with the seven PNGs, confusion.json and 5_trust.json beside it.");
        draw_summary(*run.report);
    }
}

}  // namespace cnnlens::app
