// JSON text helpers for the hand-assembled JSON the CLI, the app's exports and the page's test
// hook write (small, fixed shapes; the readers use nlohmann-json).
#pragma once
#include <string>
#include <string_view>

namespace cnnlens {

// `s` as a JSON string literal: quotes, backslashes and control characters escaped.
std::string json_quote(std::string_view s);

}  // namespace cnnlens
