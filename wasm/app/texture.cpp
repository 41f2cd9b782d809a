// Texture upload through OpenGL ES 3 (WebGL2 in the browser).
#include "wasm/app/texture.h"

#include <GLES3/gl3.h>

#include "core/image/render.h"

namespace cnnlens::app {

static int64_t g_uploads = 0;
int64_t texture_uploads() { return g_uploads; }

static void set_filter(bool smooth) {
    const GLint filter = smooth ? GL_LINEAR : GL_NEAREST;
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, filter);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, filter);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
}

void Texture::upload(const Image& img, int64_t v, bool smooth) {
    // RGB goes up as it is (a photo: no RGBA copy of it); gray is widened, as ES 3 has no
    // unsized one-channel format that shows as gray.
    const bool rgb = img.channels == 3;
    const Image widened = rgb || img.channels == 4 ? Image{} : to_rgba(img);
    const Image& up = rgb || img.channels == 4 ? img : widened;
    if (!id) glGenTextures(1, &id);
    glBindTexture(GL_TEXTURE_2D, id);
    set_filter(smooth);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    const GLenum format = rgb ? GL_RGB : GL_RGBA;
    if (up.width == width && up.height == height && format == gl_format) {
        // The same size (a camera's next frame): new pixels into the storage it has.
        glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, up.width, up.height, format, GL_UNSIGNED_BYTE,
                        up.pixels.data());
    } else {
        glTexImage2D(GL_TEXTURE_2D, 0, static_cast<GLint>(format), up.width, up.height, 0, format,
                     GL_UNSIGNED_BYTE, up.pixels.data());
    }
    width = up.width;
    height = up.height;
    gl_format = format;
    version = v;
    ++g_uploads;
}

// Blending off for the commands between the two callbacks: an opaque picture drawn with blending
// reads every pixel under it for nothing, and in software WebGL that is a large share of a frame.
static void blend_off(const ImDrawList*, const ImDrawCmd*) { glDisable(GL_BLEND); }

void opaque_image(const Texture& t, ImVec2 size) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->AddCallback(blend_off, nullptr);
    ImGui::Image(t.imgui_id(), size);
    dl->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

Texture::~Texture() {
    if (id) glDeleteTextures(1, &id);
}

}  // namespace cnnlens::app
