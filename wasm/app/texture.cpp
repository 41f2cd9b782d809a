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
    glTexImage2D(GL_TEXTURE_2D, 0, static_cast<GLint>(format), up.width, up.height, 0, format,
                 GL_UNSIGNED_BYTE, up.pixels.data());
    width = up.width;
    height = up.height;
    version = v;
    ++g_uploads;
}

Texture::~Texture() {
    if (id) glDeleteTextures(1, &id);
}

}  // namespace cnnlens::app
