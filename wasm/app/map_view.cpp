// The map widget, its hover and zoom, and the layout arithmetic of map_view.h.
#include "wasm/app/map_view.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace cnnlens::app {

namespace {

// The zoom's own copy of what it shows, so the panel that opened it may change underneath.
struct Zoom {
    bool requested = false, open = false;
    int opened_frame = -1;
    MapPicture pic;
    std::vector<float> values, probs;
    std::vector<std::string> names;
    std::string unit, reading;
    float rect[4] = {};
};
Zoom zoom;

void tooltip_text(std::string_view text) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ui_px(360));
    ImGui::TextUnformatted(text.data(), text.data() + text.size());
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
}

void paint(const MapPicture& pic, ImVec2 p0, ImVec2 size) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 p1(p0.x + size.x, p0.y + size.y);
    bool any = false;
    for (const MapLayer& l : pic.layers)
        if (l.texture && l.texture->id && l.texture->width > 0) {
            dl->AddImage(l.texture->imgui_id(), p0, p1, l.uv0, l.uv1);
            any = true;
        }
    if (!any) dl->AddRect(p0, p1, ImGui::GetColorU32(ImGuiCol_Border));
}

// The hovered pixel's value and where it sits on the legend, then the face's class scores.
void hover_tooltip(const MapPicture& pic, float u, float v, bool zooms) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ui_px(360));
    if (!pic.values.empty() && pic.width > 0 && pic.height > 0 &&
        pic.values.size() >= static_cast<size_t>(pic.width) * static_cast<size_t>(pic.height)) {
        const int x = std::clamp(static_cast<int>(u * pic.width), 0, pic.width - 1);
        const int y = std::clamp(static_cast<int>(v * pic.height), 0, pic.height - 1);
        const float value = pic.values[static_cast<size_t>(y) * pic.width + x];
        ImGui::Text("pixel (%d, %d) of %dx%d", x, y, pic.width, pic.height);
        ImGui::Text("%.*s %.4g", static_cast<int>(pic.unit.size()), pic.unit.data(), value);
        if (pic.hi != pic.lo) {
            const float t = std::clamp((value - pic.lo) / (pic.hi - pic.lo), 0.f, 1.f);
            ImGui::TextWrapped("%.0f %% of the way up the colour bar (%.3g .. %.3g)", 100.f * t,
                               pic.lo, pic.hi);
        }
        if (!pic.reading.empty())
            ImGui::TextDisabled("%.*s", static_cast<int>(pic.reading.size()), pic.reading.data());
    }
    if (!pic.probs.empty() && pic.names && pic.names->size() >= pic.probs.size()) {
        ImGui::Separator();
        ImGui::TextUnformatted("class scores of this face:");
        std::vector<int> order(pic.probs.size());
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](int a, int b) {
            return pic.probs[static_cast<size_t>(a)] > pic.probs[static_cast<size_t>(b)];
        });
        for (size_t i = 0; i < std::min<size_t>(order.size(), 7); ++i) {
            const size_t c = static_cast<size_t>(order[i]);
            ImGui::Text("  %s %.1f %%", (*pic.names)[c].c_str(), 100.f * pic.probs[c]);
        }
    }
    if (zooms) ImGui::TextDisabled("click to zoom");
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
}

void open_zoom(const MapPicture& pic) {
    zoom.pic = pic;
    zoom.values.assign(pic.values.begin(), pic.values.end());
    zoom.probs.assign(pic.probs.begin(), pic.probs.end());
    zoom.names = pic.names ? *pic.names : std::vector<std::string>{};
    zoom.unit = pic.unit;
    zoom.reading = pic.reading;
    zoom.pic.values = zoom.values;
    zoom.pic.probs = zoom.probs;
    zoom.pic.names = &zoom.names;
    zoom.pic.unit = zoom.unit;
    zoom.pic.reading = zoom.reading;
    zoom.requested = true;
}

}  // namespace

float ui_px(float px) { return px * ImGui::GetFontSize() / 13.f; }

void map_tooltip(const MapPicture& pic, float u, float v) { hover_tooltip(pic, u, v, false); }

bool draw_map(const char* id, const MapPicture& pic, ImVec2 size, bool click_zooms) {
    size = ImVec2(std::max(size.x, 1.f), std::max(size.y, 1.f));
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::PushID(id);
    const bool clicked = ImGui::InvisibleButton("map", size);
    ImGui::PopID();
    paint(pic, p0, size);
    if (ImGui::IsItemHovered()) {
        const ImVec2 m = ImGui::GetIO().MousePos;
        hover_tooltip(pic, (m.x - p0.x) / size.x, (m.y - p0.y) / size.y, click_zooms);
    }
    if (clicked && click_zooms) open_zoom(pic);
    return clicked;
}

void draw_map_zoom() {
    if (zoom.requested) {
        ImGui::OpenPopup("map zoom");
        zoom.requested = false;
        zoom.open = true;
        zoom.opened_frame = ImGui::GetFrameCount();
    }
    if (!zoom.open) return;
    const ImGuiIO& io = ImGui::GetIO();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(io.DisplaySize);
    ImGui::PushStyleColor(ImGuiCol_PopupBg, ImVec4(0.06f, 0.06f, 0.07f, 1.f));
    const bool shown = ImGui::BeginPopupModal(
        "map zoom", nullptr,
        ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings);
    ImGui::PopStyleColor();
    if (!shown) {
        zoom.open = false;
        return;
    }
    text_fit(zoom.pic.title + "  (click or Esc to close)", ImGui::GetContentRegionAvail().x);
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float aspect = zoom.pic.height > 0 && zoom.pic.width > 0
                             ? static_cast<float>(zoom.pic.width) / zoom.pic.height
                             : 1.f;
    const float w = std::max(1.f, std::min(avail.x, avail.y * aspect)), h = w / aspect;
    ImGui::SetCursorPosX(ImGui::GetCursorPosX() + (avail.x - w) / 2);
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    draw_map("zoomed", zoom.pic, ImVec2(w, h), false);
    zoom.rect[0] = p0.x, zoom.rect[1] = p0.y, zoom.rect[2] = w, zoom.rect[3] = h;
    const bool later = ImGui::GetFrameCount() > zoom.opened_frame;
    if (later &&
        (ImGui::IsMouseClicked(0) || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape)))) {
        ImGui::CloseCurrentPopup();
        zoom.open = false;
    }
    ImGui::EndPopup();
}

bool map_zoom_open(float rect[4]) {
    std::copy(zoom.rect, zoom.rect + 4, rect);
    return zoom.open;
}

float fit_pictures(int count, ImVec2 region, float beside, float above, bool* stacked) {
    const ImVec2 sp = ImGui::GetStyle().ItemSpacing;
    const float n = static_cast<float>(std::max(count, 1));
    const float gap = beside > 0 ? sp.x : 0;
    const float across =
        std::min((region.x - n * (beside + gap) - (n - 1) * sp.x) / n, region.y - above);
    const float down =
        std::min(region.x - beside - gap, (region.y - n * above - (n - 1) * sp.y) / n);
    if (stacked) *stacked = down > across;
    return std::max(1.f, std::max(across, down));
}

GridFit fit_grid(int count, float aspect, ImVec2 region, float caption, float min_tile,
                 float max_tile) {
    const ImVec2 sp = ImGui::GetStyle().ItemSpacing;
    count = std::max(count, 1);
    GridFit best{0, 0};
    for (int c = 1; c <= count; ++c) {
        const int rows = (count + c - 1) / c;
        const float by_width = (region.x - (c - 1) * sp.x) / c;
        const float by_height = ((region.y - (rows - 1) * sp.y) / rows - caption) * aspect;
        const float t = std::min({by_width, by_height, max_tile});
        if (t >= min_tile && t > best.tile) best = {c, t};
    }
    if (best.columns > 0) return best;
    const int c = std::clamp(static_cast<int>((region.x + sp.x) / (min_tile + sp.x)), 1, count);
    return {c, std::clamp((region.x - (c - 1) * sp.x) / c, 1.f, max_tile)};
}

std::string shorten(std::string_view text, float width) {
    const std::string whole(text);
    if (ImGui::CalcTextSize(whole.c_str()).x <= width) return whole;
    const float dots = ImGui::CalcTextSize("...").x;
    size_t lo = 0, hi = text.size();  // the longest prefix that fits with "..."
    while (lo < hi) {
        const size_t mid = (lo + hi + 1) / 2;
        const std::string s(text.substr(0, mid));
        if (ImGui::CalcTextSize(s.c_str()).x + dots <= width)
            lo = mid;
        else
            hi = mid - 1;
    }
    while (lo > 0 && (static_cast<unsigned char>(text[lo]) & 0xC0) == 0x80) --lo;  // whole UTF-8
    return std::string(text.substr(0, lo)) + "...";
}

void same_line_if_fits(float width) {
    ImGui::SameLine();
    if (width > ImGui::GetContentRegionAvail().x) ImGui::NewLine();
}

float check_width(const char* label) {
    return ImGui::GetFrameHeight() + ImGui::GetStyle().ItemInnerSpacing.x +
           ImGui::CalcTextSize(label).x;
}

void hint_beside(std::string_view text) {
    const std::string t(text);
    ImGui::SameLine();
    if (ImGui::CalcTextSize(t.c_str()).x > ImGui::GetContentRegionAvail().x) ImGui::NewLine();
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("%s", t.c_str());
    ImGui::PopStyleColor();
}

bool begin_combo(const char* label, std::string_view preview) {
    const float room =
        ImGui::CalcItemWidth() - ImGui::GetFrameHeight() - 2 * ImGui::GetStyle().FramePadding.x;
    const std::string shown = shorten(preview, room);
    const bool open = ImGui::BeginCombo(label, shown.c_str());
    if (!open && shown != preview && ImGui::IsItemHovered()) tooltip_text(preview);
    return open;
}

bool text_fit(std::string_view text, float width, bool disabled) {
    const std::string shown = shorten(text, width);
    if (disabled)
        ImGui::TextDisabled("%s", shown.c_str());
    else
        ImGui::TextUnformatted(shown.c_str());
    const bool cut = shown.size() != text.size() || shown != text;
    if (cut && ImGui::IsItemHovered()) tooltip_text(text);
    return cut;
}

}  // namespace cnnlens::app
