// Minimal leveled logging to stderr; the app and CLI may redirect it with set_log_sink.
#pragma once
#include <string_view>

namespace cnnlens {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogSink = void (*)(LogLevel, std::string_view message);
void set_log_sink(LogSink sink);  // nullptr restores the stderr sink
void set_log_level(LogLevel min_level);
void log(LogLevel level, std::string_view message);

}  // namespace cnnlens
