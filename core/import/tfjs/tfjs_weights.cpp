// TF.js weight manifests: shard concatenation, slicing and dequantization.
#include "core/import/tfjs/tfjs_weights.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/base/half.h"
#include "core/base/limits.h"

namespace cnnlens {
namespace {

using json = nlohmann::json;

}  // namespace

Expected<std::map<std::string, TfjsWeight>> read_tfjs_weights(const json& manifest,
                                                              const FileSource& files,
                                                              const std::string& json_name) {
    std::map<std::string, TfjsWeight> weights;
    int64_t total_bytes = 0;
    if (!manifest.is_array()) return corrupt(json_name + ": weightsManifest is not a list");
    for (const json& group : manifest) {
        if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
            !group.contains("weights") || !group["weights"].is_array())
            return corrupt(json_name + ": weightsManifest group without paths/weights");
        std::vector<uint8_t> bytes;
        std::string shards;  // for errors: "weight shards 'a.bin', 'b.bin'"
        for (const json& p : group["paths"]) {
            if (!p.is_string()) return corrupt(json_name + ": weight path is not a string");
            shards += (shards.empty() ? "'" : ", '") + p.get<std::string>() + "'";
            auto shard = files(p.get<std::string>());
            if (!shard)
                return not_found(json_name + ": weight shard '" + p.get<std::string>() +
                                 "' cannot be read: " + shard.status().message());
            total_bytes += static_cast<int64_t>(shard->size());
            if (total_bytes > limits::kMaxWeightBytes)
                return out_of_range(json_name + ": the weight shards hold more than " +
                                    std::to_string(limits::kMaxWeightBytes >> 20) +
                                    " MiB (the limit), reached at shard '" + p.get<std::string>() +
                                    "'");
            bytes.insert(bytes.end(), shard->begin(), shard->end());
        }
        size_t offset = 0;
        for (const json& w : group["weights"]) {
            const std::string name = w.value("name", "");
            const std::string dtype = w.value("dtype", "float32");
            Shape shape;
            int64_t count = 1;
            if (!w.contains("shape") || !w["shape"].is_array() || w["shape"].size() > kMaxRank)
                return corrupt(json_name + ": weight '" + name + "' has no valid shape");
            for (const json& d : w["shape"]) {
                const int64_t v = d.is_number_integer() ? d.get<int64_t>() : -1;
                if (v < 0 || v > limits::kMaxWeightDim)
                    return corrupt(json_name + ": weight '" + name + "' has dimension " + d.dump());
                shape.push_back(v);
                count *= v;
                if (count > limits::kMaxTensorElements)
                    return out_of_range(json_name + ": weight '" + name + "' of shape " +
                                        shape.str() + " has more than " +
                                        std::to_string(limits::kMaxTensorElements) +
                                        " elements (the limit)");
            }
            std::string qdtype;
            float scale = 1.f, min = 0.f;
            if (w.contains("quantization")) {
                const json& q = w["quantization"];
                qdtype = q.value("dtype", "");
                scale = q.value("scale", 1.f);
                min = q.value("min", 0.f);
                if (qdtype != "uint8" && qdtype != "uint16" && qdtype != "float16")
                    return unsupported(json_name + ": weight '" + name +
                                       "' uses quantization dtype '" + qdtype + "'");
            }
            const std::string stored = qdtype.empty() ? dtype : qdtype;
            size_t elem = stored == "uint8" || stored == "bool"       ? 1
                          : stored == "uint16" || stored == "float16" ? 2
                                                                      : 4;
            if (stored != "float32" && stored != "int32" && stored != "uint8" &&
                stored != "uint16" && stored != "float16" && stored != "bool")
                return unsupported(json_name + ": weight '" + name + "' has dtype '" + stored +
                                   "'");
            const size_t need = static_cast<size_t>(count) * elem;
            if (offset + need > bytes.size())
                return corrupt(json_name + ": weight shards " + shards + " hold " +
                               std::to_string(bytes.size()) +
                               " bytes but the manifest needs at least " +
                               std::to_string(offset + need) + " (at weight '" + name + "')");
            const uint8_t* p = bytes.data() + offset;
            TfjsWeight wt;
            wt.value.reset(shape);
            wt.is_int = dtype == "int32" || dtype == "bool";
            for (int64_t k = 0; k < count; ++k) {
                float v;
                if (stored == "float32")
                    std::memcpy(&v, p + 4 * k, 4);
                else if (stored == "int32") {
                    int32_t iv;
                    std::memcpy(&iv, p + 4 * k, 4);
                    v = static_cast<float>(iv);
                    wt.ints.push_back(iv);
                } else if (stored == "uint8" || stored == "bool")
                    v = qdtype.empty() ? p[k] : p[k] * scale + min;
                else if (stored == "uint16") {
                    uint16_t u;
                    std::memcpy(&u, p + 2 * k, 2);
                    v = u * scale + min;
                } else {
                    uint16_t u;
                    std::memcpy(&u, p + 2 * k, 2);
                    v = half_to_float(u);
                }
                if (!std::isfinite(v))
                    return corrupt(json_name + ": weight '" + name +
                                   "' holds a non-finite value at element " + std::to_string(k));
                wt.value[k] = v;
                if (wt.is_int && stored != "int32") wt.ints.push_back(static_cast<int64_t>(v));
            }
            offset += need;
            weights[name] = std::move(wt);
        }
        if (offset != bytes.size())
            return corrupt(json_name + ": weight shards " + shards + " hold " +
                           std::to_string(bytes.size()) + " bytes but the manifest describes " +
                           std::to_string(offset));
    }
    return weights;
}

}  // namespace cnnlens
