#include "core/base/log.h"

#include <cstdio>

namespace cnnlens {
namespace {
LogSink g_sink = nullptr;
LogLevel g_min = LogLevel::kWarn;
}  // namespace

void set_log_sink(LogSink sink) { g_sink = sink; }
void set_log_level(LogLevel min_level) { g_min = min_level; }

void log(LogLevel level, std::string_view message) {
    if (level < g_min) return;
    if (g_sink) {
        g_sink(level, message);
        return;
    }
    static const char* names[] = {"debug", "info", "warn", "error"};
    std::fprintf(stderr, "cnnlens %s: %.*s\n", names[static_cast<int>(level)],
                 static_cast<int>(message.size()), message.data());
}

}  // namespace cnnlens
