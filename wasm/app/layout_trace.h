// What the layout put on screen in the last frames, for the test hook: text drawn wider than the
// space it had, items placed wholly beyond their window's visible width, and each map's drawn
// rectangle beside the region it had. Every text ImGui draws passes through ImDrawList::AddText,
// and every item through ImGui::ItemAdd; wasm/imgui/CMakeLists.txt patches both to call the
// hooks declared in wasm/imgui/imconfig.h, which land here.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace cnnlens::app {

// A text that did not fit: `need` pixels wide where `have` were visible (framebuffer pixels),
// drawn in ImGui window `window` at frame `frame`. An item wholly out of view has kind "item"
// and its ImGui id as text.
struct ClippedText {
    std::string kind;  // "text" or "item"
    std::string text, window;
    float need = 0, have = 0;
    int frame = -1;
};

// A map drawn by a panel: its rectangle (x, y, w, h in framebuffer pixels, the legend included)
// and the region it was laid out in (w, h), at frame `frame`.
struct MapRect {
    std::string panel;
    float rect[4] = {};
    float region[2] = {};
    int frame = -1;
};

struct LayoutTrace {
    std::vector<ClippedText> clipped;  // one entry per (kind, text, window), the last sighting
    std::vector<MapRect> maps;         // one entry per panel name, the last drawn
};

LayoutTrace& layout_trace();
// Records a map group drawn for `panel` at (x, y, w, h) in a region of region_w x region_h.
void layout_trace_map(std::string_view panel, float x, float y, float w, float h, float region_w,
                      float region_h);
// JSON of what was seen in the last `frames` frames: {"frame":n,"clipped":[{kind,text,window,
// need,have,frame}],"maps":[{panel,rect,region,frame}]}.
std::string layout_trace_json(int frames);

}  // namespace cnnlens::app
