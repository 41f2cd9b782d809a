// The layout trace: the patched ImGui's hooks (wasm/imgui/imconfig.h) and what they found.
#include "wasm/app/layout_trace.h"

#include <imgui.h>
#include <imgui_internal.h>

#include <algorithm>
#include <cstdio>

#include "core/base/json_text.h"

namespace cnnlens::app {

namespace {

// Bounds what a long session keeps: an entry per distinct text, the oldest dropped first.
constexpr size_t kMaxEntries = 256;

void note_clipped(const char* kind, std::string text, float need, float have) {
    LayoutTrace& t = layout_trace();
    const ImGuiWindow* w = ImGui::GetCurrentContext() ? GImGui->CurrentWindow : nullptr;
    const std::string window = w ? w->Name : "";
    const int frame = ImGui::GetFrameCount();
    for (ClippedText& c : t.clipped)
        if (c.kind == kind && c.text == text && c.window == window) {
            c.need = need, c.have = have, c.frame = frame;
            return;
        }
    if (t.clipped.size() >= kMaxEntries) t.clipped.erase(t.clipped.begin());
    t.clipped.push_back({kind, std::move(text), window, need, have, frame});
}

// A window that is sizing itself to its contents this frame (a new tooltip or auto-resizing
// window) draws nothing on screen yet, at a size that is not its own.
bool measuring(const ImGuiWindow* w) {
    return w && (w->Hidden || w->HiddenFramesCannotSkipItems > 0 ||
                 w->HiddenFramesCanSkipItems > 0 || w->HiddenFramesForRenderOnly > 0);
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

}  // namespace

LayoutTrace& layout_trace() {
    static LayoutTrace trace;
    return trace;
}

void layout_trace_map(std::string_view panel, float x, float y, float w, float h, float region_w,
                      float region_h) {
    LayoutTrace& t = layout_trace();
    MapRect r{std::string(panel), {x, y, w, h}, {region_w, region_h}, ImGui::GetFrameCount()};
    for (MapRect& m : t.maps)
        if (m.panel == panel) {
            m = r;
            return;
        }
    t.maps.push_back(r);
}

std::string layout_trace_json(int frames) {
    const int now = ImGui::GetFrameCount();
    const LayoutTrace& t = layout_trace();
    std::string s = "{\"frame\":" + std::to_string(now) + ",\"clipped\":[";
    bool first = true;
    for (const ClippedText& c : t.clipped) {
        if (now - c.frame > frames) continue;
        s += (first ? "" : ",") + std::string("{\"kind\":") + json_quote(c.kind) +
             ",\"text\":" + json_quote(c.text) + ",\"window\":" + json_quote(c.window) +
             ",\"need\":" + number(c.need) + ",\"have\":" + number(c.have) +
             ",\"frame\":" + std::to_string(c.frame) + "}";
        first = false;
    }
    s += "],\"maps\":[";
    first = true;
    for (const MapRect& m : t.maps) {
        if (now - m.frame > frames) continue;
        s += (first ? "" : ",") + std::string("{\"panel\":") + json_quote(m.panel) + ",\"rect\":[" +
             number(m.rect[0]) + "," + number(m.rect[1]) + "," + number(m.rect[2]) + "," +
             number(m.rect[3]) + "],\"region\":[" + number(m.region[0]) + "," +
             number(m.region[1]) + "],\"frame\":" + std::to_string(m.frame) + "}";
        first = false;
    }
    return s + "]}";
}

}  // namespace cnnlens::app

// Text whose lines reach past the right (or start before the left) edge of the rectangle it is
// clipped to. Text wholly above or below it is scrolled out of view, not cut: only text that
// shows is checked.
void cnnlens_text_drawn(const ImFont* font, float size, const ImVec2& pos, const ImVec4& clip,
                        const char* begin, const char* end, float wrap_width) {
    if (cnnlens::app::measuring(GImGui->CurrentWindow)) return;
    const ImVec2 extent = font->CalcTextSizeA(size, FLT_MAX, wrap_width, begin, end);
    if (pos.y + extent.y <= clip.y || pos.y >= clip.w) return;
    constexpr float kSlack = 0.5f;  // text that ends exactly at its edge after rounding
    if (pos.x + extent.x <= clip.z + kSlack && pos.x >= clip.x - kSlack) return;
    cnnlens::app::note_clipped("text", std::string(begin, end), extent.x,
                               std::max(0.f, clip.z - std::max(pos.x, clip.x)));
}

// An item that starts at or past its window's visible right edge (ImGui then skips drawing it),
// on a line that shows.
void cnnlens_item_added(const ImGuiWindow* window, const ImRect& bb, unsigned id) {
    if (cnnlens::app::measuring(window)) return;
    const ImRect& clip = window->ClipRect;
    if (bb.Max.y <= clip.Min.y || bb.Min.y >= clip.Max.y || bb.GetWidth() <= 0) return;
    if (bb.Min.x < clip.Max.x) return;
    char buf[32];
    std::snprintf(buf, sizeof buf, "id %08x", id);
    cnnlens::app::note_clipped("item", buf, bb.GetWidth(), 0);
}
