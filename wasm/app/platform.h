// The few things the app asks of its platform (browser or native): opening files, fetching the
// bundled example. One implementation per platform, chosen by CMake (platform_web.cpp).
#pragma once
#include <string_view>

namespace cnnlens::app {

// Shows the system file picker; the chosen file arrives like a dropped one (app_open_file).
void platform_open_file_dialog();
// Fetches a bundled example photo by its site-relative path; it arrives like a dropped file.
void platform_open_example(std::string_view path);

}  // namespace cnnlens::app
