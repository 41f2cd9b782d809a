// The one translation unit that compiles stb_image and stb_image_write (Debian's libstb
// ships headers; the implementation is instantiated here). Only the formats decode_image
// promises are compiled: HDR and Softimage PIC readers are left out (less code facing strangers).
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_TGA
#define STBI_ONLY_PSD
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_FAILURE_USERMSG
// stb_image's SSE2 loops (the JPEG IDCT, colour conversion and chroma upsampling) are what the
// native x86-64 build runs; it enables them only for an x86 target. The browser build compiles
// this file with -msse2 (Emscripten's SSE2 header, on WebAssembly SIMD: core/CMakeLists.txt),
// so it runs the same loops, decoding the same pixels about twice as fast.
#if defined(__wasm_simd128__) && defined(__SSE2__)
#define STBI__X86_TARGET
#endif
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>
