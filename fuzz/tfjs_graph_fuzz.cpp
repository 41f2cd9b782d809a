// Fuzz target: a TF.js graph model from a stranger, through the same FileSource path the app
// uses for dropped files. The input is model.json, a NUL byte, then the bytes of every weight
// shard the manifest names (any path reads them). A model that loads is also run forward and
// backward on one image with the reference kernels when it is small enough to do so quickly.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/import/model.h"
#include "fuzz/run_model.h"

using namespace cnnlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
    const size_t json_size = nul ? static_cast<size_t>(nul - data) : size;
    const std::vector<uint8_t> json(data, data + json_size);
    const std::vector<uint8_t> shard =
        nul ? std::vector<uint8_t>(nul + 1, data + size) : std::vector<uint8_t>{};
    FileSource files = [&](const std::string& name) -> Expected<std::vector<uint8_t>> {
        if (name == "model.json") return json;
        if (!nul) return not_found("no file '" + name + "'");
        return shard;
    };
    auto m = load_model_from(files, "model.json");
    if (!m) return 0;
    fuzz::run_if_small(*m);
    return 0;
}
