// TF.js weight manifests (model.json's "weightsManifest"), shared by the graph-model and the
// layers-model importers: shards are concatenated per group and sliced in manifest order;
// weights quantized to uint8/uint16 (affine scale/min) or float16 are dequantized to float32.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/import/model.h"

namespace cnnlens {

struct TfjsWeight {
    Tensor value;               // dequantized float32, shape from the manifest
    std::vector<int64_t> ints;  // the same values, for int32 and bool weights
    bool is_int = false;
};

// Weights by manifest name. Every shard is read through `files` by its manifest path; errors
// name `json_name`, the shard or weight, and the byte counts (a shard too short or too long,
// an unknown dtype, a non-finite value).
Expected<std::map<std::string, TfjsWeight>> read_tfjs_weights(const nlohmann::json& manifest,
                                                              const FileSource& files,
                                                              const std::string& json_name);

}  // namespace cnnlens
