// Fuzz target: a labelled CSV (FER2013 `emotion,pixels,Usage` or the course `label,feature`).
// The first byte picks the options (strict or lenient, a Usage filter, 7 or 3 classes) so both
// paths of the reader are explored; the rest is the file.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/eval/dataset.h"

using namespace cnnlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    DatasetOptions opt;
    opt.lenient = data[0] & 1;
    if (data[0] & 2) opt.usage = "PublicTest";
    if (data[0] & 4) opt.class_names = {"a", "b", "c"};
    opt.max_errors = 1 + (data[0] >> 4);
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    auto ds = parse_csv_dataset(text, "fuzz.csv", opt);
    if (!ds) return 0;
    // Every item the reader accepts is a well-formed image with an in-range label.
    for (const LabeledImage& it : ds->items) {
        if (it.label < 0 || it.label >= static_cast<int>(opt.class_names.size())) __builtin_trap();
        if (static_cast<size_t>(it.image.width) * it.image.height * it.image.channels !=
            it.image.pixels.size())
            __builtin_trap();
    }
    return 0;
}
