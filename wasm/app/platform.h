// The few things the app asks of its platform (browser or native): opening files, fetching the
// bundled example. One implementation per platform, chosen by CMake (platform_web.cpp).
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

namespace cnnlens::app {

// Shows the system file picker; the chosen file arrives like a dropped one (app_open_file).
void platform_open_file_dialog();
// Fetches a bundled example photo by its site-relative path; it arrives like a dropped file.
void platform_open_example(std::string_view path);
// Offers `bytes` to the user as a file download called `name` (MIME type `mime`).
void platform_download(std::string_view name, std::string_view mime,
                       std::span<const uint8_t> bytes);

// Live mode's camera (web/live.js). start asks for the user-facing camera; the answer comes back
// through the platform (Live on with the video's size, or off with a message naming what
// happened). stop releases the camera at once.
void platform_live_start();
void platform_live_stop();
// Records the page's canvas as WebM from now; stop downloads the recording as `name`.
void platform_record_start();
void platform_record_stop(std::string_view name);
// Milliseconds on the clock the page stamps camera frames with.
double platform_now_ms();
// True when WebGL is rasterized in software (SwiftShader: no GPU, or a GPU the browser refuses),
// where every filtered texture sample and blended pixel of a frame costs CPU time.
bool platform_software_webgl();

}  // namespace cnnlens::app
