// Fuzz target: an ONNX model from a stranger (our own protobuf reader and the importer), through
// the same FileSource path the app uses for a dropped .onnx; the input is the file. A model that
// loads is also run forward and backward when it is small (fuzz/run_model.h).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/import/model.h"
#include "fuzz/run_model.h"

using namespace cnnlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::vector<uint8_t> bytes(data, data + size);
    FileSource files = [&](const std::string& name) -> Expected<std::vector<uint8_t>> {
        if (name == "model.onnx") return bytes;
        return not_found("no file '" + name + "'");
    };
    auto m = load_model_from(files, "model.onnx");
    if (m) fuzz::run_if_small(*m);
    return 0;
}
