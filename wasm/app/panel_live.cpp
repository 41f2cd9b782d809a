// Live mode's view: the camera's video drawn every frame, and over it, for each face of the last
// processed frame, its box, its map laid through the crop's frame and a small bar chart of its
// smoothed probabilities beside it; the method (cheap ones only) and its parameters, Freeze,
// Record and a line of stats. Also Live's commands, shared by the buttons, the menu and the keys.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "core/explain/describe.h"
#include "wasm/app/export.h"
#include "wasm/app/live.h"
#include "wasm/app/platform.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

namespace {

// A recording longer than this stops and is saved: the WebM and its rows are held in memory.
constexpr double kMaxRecordMs = 60000;

void stop_recording(Session& session) {
    LiveWork& w = session.live();
    if (!w.recording) return;
    w.recording = false;
    platform_record_stop("cnnlens-live.webm");
    const std::string csv = live_csv(w.rows, session.class_names());
    platform_download("cnnlens-live.csv", "text/csv",
                      {reinterpret_cast<const uint8_t*>(csv.data()), csv.size()});
}

void draw_controls(AppState& state, Session& session, double now) {
    LiveWork& w = session.live();
    if (ImGui::Button("Live off (L)")) set_live(state, session, false);
    ImGui::SameLine();
    if (ImGui::Button("Freeze (F)")) request_freeze(state, session);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Open the frame shown as a photo, where every method runs on it.");
    ImGui::SameLine();
    if (ImGui::Button(w.recording ? "Stop and save recording (R)" : "Record (R)"))
        toggle_recording(state, session);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip(
            "Records this view as WebM from now until you stop (at most a minute), with each "
            "face's "
            "probabilities per frame as CSV; both are saved as downloads.");
    if (w.recording) {
        ImGui::SameLine();
        ImGui::TextColored(ImVec4(1.f, 0.3f, 0.3f, 1.f), "recording %.0f s",
                           (now - w.record_start_ms) / 1000);
        if (now - w.record_start_ms > kMaxRecordMs) stop_recording(session);
    }
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::CalcTextSize("Gradient x Input (signed)").x +
                            ImGui::GetFrameHeight() * 2);
    const ExplanationMethod* m = find_method(state.live_method);
    if (!m || !m->live()) {
        for (const ExplanationMethod* x : all_methods())
            if (x->live()) {
                m = x;
                break;
            }
        state.live_method = std::string(m->name());
    }
    if (begin_combo("map", m->title())) {
        for (const ExplanationMethod* x : all_methods())
            if (x->live() && ImGui::Selectable(std::string(x->title()).c_str(), x == m))
                state.live_method = std::string(x->name());
        ImGui::EndCombo();
    }
    ImGui::SameLine();
    ImGui::Checkbox("overlay (Space)", &state.show_overlay);
    ImGui::SameLine();
    ImGui::Checkbox("smooth map", &state.map_smooth);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Blend the map's pixels instead of showing each as a crisp square.");
    Params& p = state.params[state.live_method];
    if (!m->params().empty() && ImGui::TreeNode("parameters")) {
        for (const ParamDef& d : m->params()) param_widget(d, p, session);
        if (ImGui::SmallButton("Defaults")) p = Params{};
        ImGui::SliderFloat("opacity", &state.opacity, 0.f, 1.f, "%.2f");
        ImGui::TreePop();
    }
    w.method = state.live_method;
    w.params = p;
    const LiveStats& s = w.stats;
    ImGui::TextDisabled(
        "processed %.1f frames/s, page drawn %.0f/s, camera to overlay %.0f ms, faces in %lld of "
        "%lld frames",
        s.processed_fps, s.draw_fps, s.delay, static_cast<long long>(s.with_face),
        static_cast<long long>(s.processed));
    ImGui::TextDisabled(
        "ms per frame: grab %.1f, upload %.1f, rgb %.1f, detect %.1f (every %d frames), classify "
        "%.1f, explain %.1f, draw %.1f",
        s.grab, s.upload, s.rgb, s.detect, w.detect_every, s.classify, s.explain, s.draw);
}

ImVec2 to_screen(ImVec2 origin, float k, PointF p) {
    return ImVec2(origin.x + p.x * k, origin.y + p.y * k);
}

// The seven (smoothed) probabilities as bars beside the face's box: to its right, or to its left
// where the video ends.
void draw_bars(ImDrawList* dl, const LiveFace& f, const std::vector<std::string>& names,
               ImVec2 box_min, ImVec2 box_max, float right_edge) {
    const float th = ImGui::GetTextLineHeight(), label_w = ImGui::CalcTextSize("surprise ").x,
                bar_w = 4 * th;
    const float w = label_w + bar_w + th * 0.5f, h = th * static_cast<float>(f.probs.size()) + 4;
    const float x = box_max.x + 6 + w <= right_edge ? box_max.x + 6 : box_min.x - 6 - w;
    const ImVec2 p(x, box_min.y);
    dl->AddRectFilled(p, ImVec2(p.x + w, p.y + h), IM_COL32(0, 0, 0, 150), 3.f);
    for (size_t c = 0; c < f.probs.size(); ++c) {
        const float y = p.y + 2 + th * static_cast<float>(c);
        const bool top = static_cast<int>(c) == f.top;
        dl->AddText(ImVec2(p.x + 3, y),
                    top ? IM_COL32(255, 220, 0, 255) : IM_COL32(230, 230, 230, 255),
                    names[c].c_str());
        const float bx = p.x + label_w;
        dl->AddRectFilled(ImVec2(bx, y + 2),
                          ImVec2(bx + bar_w * std::clamp(f.probs[c], 0.f, 1.f), y + th - 2),
                          top ? IM_COL32(240, 165, 25, 255) : IM_COL32(90, 160, 230, 255));
    }
}

// The hovered face's map value and class scores: the mouse taken back through the face's
// (possibly turned) frame to the map's pixels.
void hover_live_maps(const Session& session, ImVec2 origin, float k, const LiveResult& r) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    for (const LiveFace& f : r.faces) {
        if (!f.map) continue;
        const auto c = f.frame.corners();
        const ImVec2 o = to_screen(origin, k, c[0]), a = to_screen(origin, k, c[1]),
                     b = to_screen(origin, k, c[3]);
        const ImVec2 ea(a.x - o.x, a.y - o.y), eb(b.x - o.x, b.y - o.y), d(m.x - o.x, m.y - o.y);
        const float la = ea.x * ea.x + ea.y * ea.y, lb = eb.x * eb.x + eb.y * eb.y;
        if (la <= 0 || lb <= 0) continue;
        const float u = (d.x * ea.x + d.y * ea.y) / la, v = (d.x * eb.x + d.y * eb.y) / lb;
        if (u < 0 || u > 1 || v < 0 || v > 1) continue;
        const Explanation& e = *f.map;
        const NormalizedMap nm = normalize_map(e.map, e.norm);
        MapPicture pic;
        pic.values = e.map.span();
        pic.width = e.width;
        pic.height = e.height;
        pic.lo = nm.lo;
        pic.hi = nm.hi;
        pic.unit = "value";
        pic.reading = map_reading(e.norm);
        pic.probs = f.probs;
        pic.names = &session.class_names();
        map_tooltip(pic, u, v);
        return;
    }
}

}  // namespace

void set_live(AppState& state, Session& session, bool on) {
    LiveWork& w = session.live();
    if (on) {
        if (w.state != LiveState::kOff) return;
        if (!session.ready()) {
            state.error = "Live: the models are not loaded yet";
            return;
        }
        if (session.model().spec.task == ModelTask::kImage) {
            state.error =
                "Live follows faces, and the model in use looks at whole images (task \"image\"): "
                "open a face model to use Live";
            return;
        }
        w.reset();
        w.stats = LiveStats{};
        w.state = LiveState::kStarting;
        state.error.clear();
        platform_live_start();
        return;
    }
    if (w.state == LiveState::kOff) return;
    stop_recording(session);
    platform_live_stop();
    w.state = LiveState::kOff;
    w.pending.reset();
    w.freeze_requested = false;
}

void request_freeze(AppState& state, Session& session) {
    LiveWork& w = session.live();
    if (w.state != LiveState::kOn) return;
    if (w.result.frame.empty()) {
        state.error = "Freeze: no camera frame has been processed yet";
        return;
    }
    w.freeze_requested = true;
}

void toggle_recording(AppState& state, Session& session) {
    LiveWork& w = session.live();
    if (w.recording) {
        stop_recording(session);
        return;
    }
    if (w.state != LiveState::kOn) {
        state.error = "Record: turn Live on first";
        return;
    }
    w.start_recording(platform_now_ms());
    platform_record_start();
}

void draw_live_view(AppState& state, Session& session, UiCache& cache) {
    LiveWork& w = session.live();
    if (w.stop_requested) {
        set_live(state, session, false);
        return;
    }
    const double now = platform_now_ms();
    draw_controls(state, session, now);
    if (w.state == LiveState::kStarting) {
        ImGui::TextWrapped(
            "Asking for the camera... (the browser may ask you to allow it; the video stays in "
            "this page)");
        return;
    }
    if (w.state != LiveState::kOn) return;
    if (cache.live_video.version != w.display_version && !w.display.empty()) {
        const double t0 = platform_now_ms();
        // Bilinear sampling of the camera's picture was a quarter of a Live frame's cost in
        // software WebGL; there the video is scaled with nearest sampling instead.
        cache.live_video.upload(w.display, w.display_version, !platform_software_webgl());
        smooth_ms(w.stats.upload, platform_now_ms() - t0);
        w.display_drawn = true;
    }
    if (cache.live_video.width <= 0) {
        ImGui::TextUnformatted("Waiting for the camera's first frame...");
        return;
    }
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float vw = static_cast<float>(cache.live_video.width),
                vh = static_cast<float>(cache.live_video.height);
    const float scale = std::max(0.01f, std::min(avail.x / vw, avail.y / vh));
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    opaque_image(cache.live_video, ImVec2(vw * scale, vh * scale));
    const float right_edge = origin.x + vw * scale;
    ++cache.live_fps_frames;
    if (now - cache.live_fps_t0 >= 1000) {
        w.stats.draw_fps =
            cache.live_fps_t0 > 0 ? 1000.0 * cache.live_fps_frames / (now - cache.live_fps_t0) : 0;
        cache.live_fps_t0 = now;
        cache.live_fps_frames = 0;
    }

    const LiveResult& r = w.result;
    if (cache.live_maps_version != w.result_version) {
        cache.live_maps.resize(r.faces.size());
        for (size_t i = 0; i < r.faces.size(); ++i) {
            if (!cache.live_maps[i]) cache.live_maps[i] = std::make_unique<Texture>();
            if (r.faces[i].map)
                cache.live_maps[i]->upload(view_map_rgba(state, *r.faces[i].map), w.result_version,
                                           state.map_smooth);
        }
        cache.live_maps_version = w.result_version;
    }
    if (r.frame.empty()) return;
    // Boxes are in the processed frame's pixels, which the page may have read out smaller than
    // the video.
    const float k = scale * vw / static_cast<float>(r.frame.width);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->PushClipRect(origin, ImVec2(right_edge, origin.y + vh * scale), true);
    for (size_t i = 0; i < r.faces.size(); ++i) {
        const LiveFace& f = r.faces[i];
        const auto c = f.frame.corners();
        if (state.show_overlay && f.map)
            dl->AddImageQuad(cache.live_maps[i]->imgui_id(), to_screen(origin, k, c[0]),
                             to_screen(origin, k, c[1]), to_screen(origin, k, c[2]),
                             to_screen(origin, k, c[3]));
        const ImVec2 b0 = to_screen(origin, k, {f.box.x, f.box.y}),
                     b1 = to_screen(origin, k, {f.box.x + f.box.width, f.box.y + f.box.height});
        dl->AddRect(b0, b1, IM_COL32(255, 220, 0, 255), 0.f, 0, 2.f);
        char label[64];
        std::snprintf(label, sizeof label, "#%d %s %.0f %%", f.id,
                      session.class_names()[static_cast<size_t>(f.top)].c_str(),
                      100.f * f.probs[static_cast<size_t>(f.top)]);
        dl->AddText(ImVec2(b0.x, b0.y - ImGui::GetTextLineHeight() - 2),
                    IM_COL32(255, 255, 255, 255), label);
        draw_bars(dl, f, session.class_names(), b0, b1, right_edge);
    }
    dl->PopClipRect();
    if (ImGui::IsWindowHovered()) hover_live_maps(session, origin, k, r);
    if (w.result_version != cache.live_drawn_version) {
        smooth_ms(w.stats.delay, now - r.frame_time_ms);
        cache.live_drawn_version = w.result_version;
    }
}

}  // namespace cnnlens::app
