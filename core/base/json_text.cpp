#include "core/base/json_text.h"

#include <cstdio>

namespace cnnlens {

std::string json_quote(std::string_view s) {
    std::string o;
    o.reserve(s.size() + 2);
    o += '"';
    for (char c : s) {
        switch (c) {
            case '"':
                o += "\\\"";
                break;
            case '\\':
                o += "\\\\";
                break;
            case '\n':
                o += "\\n";
                break;
            case '\t':
                o += "\\t";
                break;
            case '\r':
                o += "\\r";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\u%04x",
                                  static_cast<unsigned>(static_cast<unsigned char>(c)));
                    o += b;
                } else {
                    o += c;
                }
        }
    }
    o += '"';
    return o;
}

}  // namespace cnnlens
