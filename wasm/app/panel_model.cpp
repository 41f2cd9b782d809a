// Own model: what the current classifier is, how to drop a TF.js graph model instead, and the
// dialog that asks for the input value range when the dropped files do not say it.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "wasm/app/ui.h"

namespace cnnlens::app {

static void draw_input_dialog(AppState& state, Session& session, UiCache& cache) {
    ModelFiles& mf = session.panel_work().model;
    if (!mf.pending) return;
    if (!ImGui::IsPopupOpen("Model input")) {
        // The dialog starts from the model's guess: the ImageNet preset for a 1000-class RGB
        // model, else its range; the task inferred from its classes and input.
        ImGui::OpenPopup("Model input");
        const InputSpec& guess = mf.pending->spec.input;
        state.input_use_mean_std = !guess.mean.empty();
        for (size_t c = 0; c < guess.mean.size() && c < 3; ++c)
            state.input_mean[c] = guess.mean[c], state.input_std[c] = guess.std[c];
        if (guess.mean.empty()) state.input_lo = guess.range_lo, state.input_hi = guess.range_hi;
        state.input_task = mf.pending->spec.task == ModelTask::kFace ? 0 : 1;
    }
    if (!ImGui::BeginPopupModal("Model input", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
    const InputSpec& in = mf.pending->spec.input;
    ImGui::Text("%s loaded: %d classes.", mf.pending_source.c_str(), mf.pending->num_classes());
    ImGui::TextWrapped(
        "The files do not say how pixels become the model's input. Size and channels come from the "
        "model's input shape; pick the value range or the mean/std normalisation it was trained "
        "with "
        "(proposed: a guess from its input and class count).");
    ImGui::Text("input: %d x %d pixels, %d channel%s (%s)", in.height, in.width, in.channels,
                in.channels == 1 ? "" : "s", in.channels == 1 ? "gray" : "RGB");
    struct Preset {
        const char* label;
        float lo, hi;
    };
    static constexpr Preset kPresets[] = {
        {"[0, 1]  (pixel / 255)", 0, 1}, {"[-1, 1]", -1, 1}, {"[0, 255]  (raw pixels)", 0, 255}};
    for (const Preset& p : kPresets)
        if (ImGui::RadioButton(p.label, !state.input_use_mean_std && state.input_lo == p.lo &&
                                            state.input_hi == p.hi))
            state.input_lo = p.lo, state.input_hi = p.hi, state.input_use_mean_std = false;
    if (ImGui::RadioButton("mean / std  ((pixel / 255 - mean) / std)", state.input_use_mean_std))
        state.input_use_mean_std = true;
    const int nc = in.channels == 3 ? 3 : 1;
    if (state.input_use_mean_std) {
        ImGui::Indent();
        if (nc == 3 && ImGui::SmallButton("ImageNet (torchvision)")) {
            InputSpec preset;
            (void)apply_input_preset(preset, "imagenet");  // a known preset: cannot fail
            std::copy(preset.mean.begin(), preset.mean.end(), state.input_mean),
                std::copy(preset.std.begin(), preset.std.end(), state.input_std);
        }
        if (nc == 3) ImGui::SameLine();
        if (ImGui::SmallButton("0.5 / 0.5"))
            std::fill_n(state.input_mean, 3, 0.5f), std::fill_n(state.input_std, 3, 0.5f);
        ImGui::SetNextItemWidth(ui_px(240));
        if (nc == 3)
            ImGui::InputFloat3("mean (R, G, B)", state.input_mean, "%.4f");
        else
            ImGui::InputFloat("mean", &state.input_mean[0], 0, 0, "%.4f");
        ImGui::SetNextItemWidth(ui_px(240));
        if (nc == 3)
            ImGui::InputFloat3("std (R, G, B)", state.input_std, "%.4f");
        else
            ImGui::InputFloat("std", &state.input_std[0], 0, 0, "%.4f");
        ImGui::Unindent();
    } else {
        ImGui::SetNextItemWidth(ui_px(200));
        ImGui::InputFloat("lo (pixel 0)", &state.input_lo);
        ImGui::SetNextItemWidth(ui_px(200));
        ImGui::InputFloat("hi (pixel 255)", &state.input_hi);
    }
    ImGui::TextUnformatted("The model looks at:");
    same_line_if_fits(check_width("a face (detected, cropped)"));
    ImGui::RadioButton("a face (detected, cropped)", &state.input_task, 0);
    same_line_if_fits(check_width("the whole photo"));
    ImGui::RadioButton("the whole photo", &state.input_task, 1);
    bool std_ok = true;
    for (int c = 0; c < nc; ++c) std_ok &= state.input_std[c] > 0.f;
    if (state.input_use_mean_std && !std_ok)
        ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "every std must be > 0");
    if (ImGui::Button("Use this model") && (std_ok || !state.input_use_mean_std)) {
        InputSpec spec = in;
        spec.range_lo = state.input_lo;
        spec.range_hi = state.input_hi;
        spec.mean.clear();
        spec.std.clear();
        if (state.input_use_mean_std) {
            spec.mean.assign(state.input_mean, state.input_mean + nc);
            spec.std.assign(state.input_std, state.input_std + nc);
        }
        Status s = install_pending(session, session.panel_work(), spec,
                                   state.input_task == 0 ? ModelTask::kFace : ModelTask::kImage);
        if (!s)
            state.error = "own model: " + s.message();
        else
            state.error.clear(), state.target_class = -1, state.contrast_class = -1;
        ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) {
        mf.pending.reset();
        ImGui::CloseCurrentPopup();
    }
    ImGui::EndPopup();
}

void draw_model_panel(AppState& state, Session& session, UiCache& cache) {
    const Model& m = session.model();
    const InputSpec& in = m.spec.input;
    ImGui::TextWrapped("Classifier: %s", m.spec.name.c_str());
    char values[96];
    if (in.mean.empty())
        std::snprintf(values, sizeof values, "pixel 0..255 -> %.3g..%.3g", in.range_lo,
                      in.range_hi);
    else if (!m.spec.preset.empty())
        std::snprintf(values, sizeof values, "mean/std normalised (%s preset)",
                      m.spec.preset.c_str());
    else
        std::snprintf(values, sizeof values, "mean/std normalised");
    ImGui::TextWrapped("input %d x %d x %d, %s", in.height, in.width, in.channels, values);
    std::string classes;
    const size_t listed = std::min<size_t>(m.spec.classes.size(), 20);
    for (size_t k = 0; k < listed; ++k)
        classes += (classes.empty() ? "" : ", ") + m.spec.classes[k];
    if (listed < m.spec.classes.size()) classes += ", ...";
    ImGui::TextWrapped("%d classes: %s", m.num_classes(), classes.c_str());
    int task = m.spec.task == ModelTask::kFace ? 0 : 1;
    ImGui::TextUnformatted("Looks at:");
    same_line_if_fits(check_width("a face (detected, cropped)"));
    bool changed = ImGui::RadioButton("a face (detected, cropped)", &task, 0);
    same_line_if_fits(check_width("the whole photo (center crop)"));
    changed |= ImGui::RadioButton("the whole photo (center crop)", &task, 1);
    if (changed) {
        Status s = session.set_task(task == 0 ? ModelTask::kFace : ModelTask::kImage);
        if (!s) state.error = "model: " + s.message();
    }
    ImGui::Separator();
    ImGui::TextWrapped(
        "Use your own model: drop an .onnx file (e.g. a torchvision classifier exported with "
        "torch.onnx.export), or a TF.js graph model's files together (model.json and every .bin "
        "shard "
        "it lists); optionally with a cnnlens.json (or <name>.cnnlens.json) that describes the "
        "input, "
        "and a classes.txt (one class name per line) or a .json list of names. A model with 1000 "
        "outputs gets ImageNet's class names. The model runs in this page; the previous model "
        "stays "
        "in use if the files cannot be loaded or do not fit in the page's memory.");
    draw_input_dialog(state, session, cache);
}

}  // namespace cnnlens::app
