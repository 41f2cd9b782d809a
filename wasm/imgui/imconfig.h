// cnnlens' Dear ImGui configuration for the 1.80 core of @zhobo63/imgui-ts: a stock
// stb_truetype font atlas instead of the package's JS-rasterised fonts (see
// ../../../shared/reference/browser-and-toolchain-facts.md §2.2). Selected with
// IMGUI_USER_CONFIG + IMGUI_DISABLE_INCLUDE_IMCONFIG_H by wasm/CMakeLists.txt.
#pragma once
struct ImMat2;
struct ImTransform;                // referenced by the fork's imgui.h
#define IMGUI_ENABLE_STB_TRUETYPE  // the fork compiles stb_truetype only with this
#define ENABLE_STB_DECOMPRESS      // the fork embeds ProggyClean only with this
#define IMGUI_DISABLE_OBSOLETE_FUNCTIONS
#define IMGUI_DISABLE_FILE_FUNCTIONS

// The layout trace's hooks (wasm/app/layout_trace.cpp): every text ImDrawList::AddText draws, with
// the rectangle it is clipped to, and every item ImGui::ItemAdd places, so the test hook can
// report text wider than its space. Patched into ImGui's sources by wasm/imgui/CMakeLists.txt.
struct ImFont;
struct ImVec2;
struct ImVec4;
struct ImRect;
struct ImGuiWindow;
void cnnlens_text_drawn(const ImFont* font, float size, const ImVec2& pos, const ImVec4& clip,
                        const char* begin, const char* end, float wrap_width);
void cnnlens_item_added(const ImGuiWindow* window, const ImRect& bb, unsigned id);
