// Import of TF.js graph models (model.json with "format": "graph-model" + weight shards).
// Weights quantized in the manifest (uint8, uint16, float16) are dequantized on load. Every
// unsupported op of a model is reported at once, with node names.
#pragma once
#include <string>
#include <string_view>

#include "core/import/model.h"

namespace cnnlens {

// `json_text` is model.json; shards are read through `files` by their manifest paths.
Expected<Graph> import_tfjs_graph(std::string_view json_text, const FileSource& files,
                                  const std::string& json_name);

}  // namespace cnnlens
