// An RGB8 or RGBA8 GL texture that is re-uploaded only when the version of what it shows changes.
#pragma once
#include <cstdint>

#include <imgui.h>

#include "core/image/image.h"

namespace cnnlens::app {

struct Texture {
    unsigned id = 0;
    int width = 0, height = 0;
    int64_t version = -1;    // of the picture last uploaded
    unsigned gl_format = 0;  // GL_RGB or GL_RGBA, as last uploaded
    // Uploads `img` (RGB and RGBA as they are, gray widened to RGBA) and records `v`.
    void upload(const Image& img, int64_t v, bool smooth);
    void* imgui_id() const { return reinterpret_cast<void*>(static_cast<intptr_t>(id)); }
    ~Texture();
};

// ImGui::Image of `t`, an opaque picture (every alpha 255), drawn without blending.
void opaque_image(const Texture& t, ImVec2 size);

// Texture uploads so far, of every Texture: a picture on screen can change with no change to
// the draw lists (a new camera frame into the same texture), so the page repaints when this
// moves too.
int64_t texture_uploads();

}  // namespace cnnlens::app
