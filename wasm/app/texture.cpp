// Texture upload through OpenGL ES 3 (WebGL2 in the browser).
#include "wasm/app/texture.h"

#include <GLES3/gl3.h>

#include "core/image/render.h"

namespace cnnlens::app {

void Texture::upload(const Image& img, int64_t v, bool smooth) {
    const Image rgba = img.channels == 4 ? img : to_rgba(img);
    if (!id) glGenTextures(1, &id);
    glBindTexture(GL_TEXTURE_2D, id);
    const GLint filter = smooth ? GL_LINEAR : GL_NEAREST;
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, filter);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, filter);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, rgba.width, rgba.height, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba.pixels.data());
    width = rgba.width;
    height = rgba.height;
    version = v;
}

Texture::~Texture() {
    if (id) glDeleteTextures(1, &id);
}

}  // namespace cnnlens::app
