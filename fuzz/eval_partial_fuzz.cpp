// Fuzz target: the partial file of `cnnlens evaluate --partial` (read by `cnnlens merge`). What
// the reader accepts must write back to the same text and merge with itself as a one-shard run.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/eval/eval_table.h"

using namespace cnnlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto t = parse_partial_text(text, "fuzz.partial");
    if (!t) return 0;
    auto again = parse_partial_text(to_partial_text(*t), "again");
    if (!again || to_partial_text(*again) != to_partial_text(*t)) __builtin_trap();
    if (t->shards == 1) {
        auto m = merge_tables({*t});
        if (!m) __builtin_trap();
    }
    (void)table_json(*t);
    (void)table_text(*t);
    return 0;
}
