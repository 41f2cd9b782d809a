// Model loading: the spec JSON beside the model, format sniffing, and resolving which nodes
// hold logits and probabilities.
#include "core/import/model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/base/assert.h"
#include "core/base/limits.h"
#include "core/import/onnx/onnx_graph.h"
#include "core/import/tfjs/tfjs_graph.h"
#include "core/import/tfjs/tfjs_layers.h"

namespace cnnlens {
namespace {

using json = nlohmann::json;

constexpr const char* kFer2013Classes[] = {"angry", "disgust",  "fear",   "happy",
                                           "sad",   "surprise", "neutral"};
constexpr const char* kImagenetClasses[] = {
#include "core/import/imagenet_classes.inc"
};
static_assert(std::size(kImagenetClasses) == 1000);

std::string dirname_of(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}
Status too_big(const std::string& name) {
    return out_of_range("model file '" + name + "' is larger than " +
                        std::to_string(limits::kMaxModelFileBytes >> 20) + " MiB (the limit)");
}

// A file of the model through `files`, refused when over limits::kMaxModelFileBytes.
Expected<std::vector<uint8_t>> read_model_file(const FileSource& files, const std::string& name) {
    auto b = files(name);
    if (b && static_cast<int64_t>(b->size()) > limits::kMaxModelFileBytes) return too_big(name);
    return b;
}

std::string basename_of(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A model whose first op multiplies the input by 1/255 or 2/255 (Keras' Rescaling(1./255) or
// Rescaling(1./127.5, offset=-1)) expects raw pixel values: range [0, 255].
void infer_pixel_range(Model& m) {
    const Graph& g = m.graph;
    int consumer = -1, uses = 0;
    for (int i = 0; i < g.size(); ++i)
        for (int in : g.node(i).inputs)
            if (in == g.input()) {
                consumer = i;
                ++uses;
            }
    if (uses != 1 || g.node(consumer).op != OpType::kMul || g.node(consumer).inputs.size() != 2)
        return;
    const Node& k = g.node(g.node(consumer).inputs[1]);
    if (k.op != OpType::kConst || k.value.size() < 1) return;
    for (int64_t i = 0; i < k.value.size(); ++i) {
        const float s = k.value[i] * 255.f;
        if (std::abs(s - 1.f) > 1e-3f && std::abs(s - 2.f) > 1e-3f) return;
    }
    m.spec.input.range_lo = 0.f;
    m.spec.input.range_hi = 255.f;
}

bool ends_with_onnx(const std::string& name) {
    if (name.size() < 5) return false;
    std::string ext = name.substr(name.size() - 5);
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext == ".onnx";
}

Expected<Model> finish(Graph graph, ModelSpec spec, const std::string& model_file) {
    Model m;
    m.graph = std::move(graph);
    m.spec = std::move(spec);
    if (m.spec.name.empty()) m.spec.name = basename_of(model_file);
    CNNLENS_RETURN_IF_ERROR(complete_model(m));
    return m;
}

Expected<Model> load_onnx(const FileSource& files, const std::string& onnx_name, ModelSpec spec) {
    auto bytes = read_model_file(files, onnx_name);
    if (!bytes) return bytes.status();
    auto g = import_onnx(*bytes, onnx_name);
    if (!g) return g.status();
    return finish(std::move(*g), std::move(spec), onnx_name);
}

// An .onnx named directly: its description is "<stem>.cnnlens.json" or a cnnlens.json naming it.
Expected<Model> load_onnx_with_sidecar(const FileSource& files, const std::string& main) {
    const std::string stem = main.substr(0, main.size() - 5);
    for (const std::string& sidecar : {stem + ".cnnlens.json", std::string("cnnlens.json")}) {
        auto text = files(sidecar);
        if (!text) continue;
        json j = json::parse(text->begin(), text->end(), nullptr, false);
        if (j.is_discarded() || !j.is_object()) return corrupt(sidecar + ": not valid JSON");
        if (!j.contains("model")) {
            if (sidecar == "cnnlens.json") continue;
            j["model"] = basename_of(main);
        } else if (!j["model"].is_string() ||
                   basename_of(j["model"].get<std::string>()) != basename_of(main)) {
            if (sidecar == "cnnlens.json") continue;  // describes another model in the folder
        }
        auto s = parse_model_spec(j.dump());
        if (!s) return Status(s.status().code(), sidecar + ": " + s.status().message());
        if (s->format != "onnx")
            return invalid_argument(sidecar + ": format is '" + s->format + "' but " + main +
                                    " is an ONNX model");
        return load_onnx(files, main, std::move(*s));
    }
    ModelSpec spec;
    spec.format = "onnx";
    spec.model_file = main;
    spec.inferred = true;
    return load_onnx(files, main, std::move(spec));
}

Expected<Model> load_impl(const FileSource& files, const std::string& main) {
    if (ends_with_onnx(main)) return load_onnx_with_sidecar(files, main);
    auto bytes = read_model_file(files, main);
    if (!bytes) return bytes.status();
    if (!bytes->empty() && (*bytes)[0] != '{' &&
        looks_like_onnx(*bytes)) {  // an ONNX file without the extension
        ModelSpec spec;
        spec.format = "onnx";
        spec.model_file = main;
        spec.inferred = true;
        return load_onnx(files, main, std::move(spec));
    }
    const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    json probe = json::parse(text.begin(), text.end(), nullptr, false);
    if (probe.is_discarded() || !probe.is_object()) return corrupt(main + ": not valid JSON");

    ModelSpec spec;
    std::string model_file = main;
    std::string model_text;
    if (!probe.contains("modelTopology")) {  // a cnnlens.json spec
        auto s = parse_model_spec(text);
        if (!s) return Status(s.status().code(), main + ": " + s.status().message());
        spec = std::move(*s);
        if (spec.format == "onnx") {
            const std::string onnx_file = spec.model_file;
            return load_onnx(files, onnx_file, std::move(spec));
        }
        model_file = spec.model_file;
        auto mb = read_model_file(files, model_file);
        if (!mb) return mb.status();
        model_text.assign(reinterpret_cast<const char*>(mb->data()), mb->size());
    } else {
        spec.model_file = main;
        spec.inferred = true;
        model_text.assign(text);
    }
    // The model file says what it is: a Keras layers model is recognised whatever the spec says.
    const bool layers = is_tfjs_layers_model(model_text);
    if (layers)
        spec.format = "tfjs-layers";
    else if (spec.format == "tfjs-layers")
        return invalid_argument(main + ": format 'tfjs-layers' but " + model_file +
                                " is not a TF.js layers model");
    if (spec.format != "tfjs-graph" && spec.format != "tfjs-layers")
        return unsupported(main + ": model format '" + spec.format +
                           "' is not supported (tfjs-graph, tfjs-layers, onnx)");
    auto g = layers ? import_tfjs_layers(model_text, files, model_file)
                    : import_tfjs_graph(model_text, files, model_file);
    if (!g) return g.status();
    Model m;
    m.graph = std::move(*g);
    m.spec = std::move(spec);
    if (m.spec.name.empty()) m.spec.name = model_file;
    if (model_file == main) infer_pixel_range(m);
    CNNLENS_RETURN_IF_ERROR(complete_model(m));
    return m;
}

}  // namespace

Expected<std::vector<uint8_t>> read_file_bytes(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return not_found("cannot open '" + path + "'");
    std::vector<uint8_t> out;
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        out.insert(out.end(), buf, buf + n);
        if (static_cast<int64_t>(out.size()) > limits::kMaxModelFileBytes) {
            std::fclose(f);
            return too_big(path);
        }
    }
    const bool err = std::ferror(f);
    std::fclose(f);
    if (err) return corrupt("error while reading '" + path + "'");
    return out;
}

FileSource directory_source(const std::string& dir) {
    return [dir](const std::string& name) -> Expected<std::vector<uint8_t>> {
        if (name.find("..") != std::string::npos || (!name.empty() && name[0] == '/'))
            return invalid_argument("model file name '" + name + "' leaves the model's folder");
        return read_file_bytes(dir + "/" + name);
    };
}

Expected<ModelSpec> parse_model_spec(std::string_view text) {
    json j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return corrupt("model spec is not a JSON object");
    ModelSpec s;
    auto str = [&](const char* k, std::string& out) -> Status {
        if (!j.contains(k)) return Status::ok();
        if (!j[k].is_string())
            return invalid_argument(std::string("field '") + k + "' must be a string, got " +
                                    j[k].dump());
        out = j[k].get<std::string>();
        return Status::ok();
    };
    CNNLENS_RETURN_IF_ERROR(str("name", s.name));
    CNNLENS_RETURN_IF_ERROR(str("format", s.format));
    CNNLENS_RETURN_IF_ERROR(str("model", s.model_file));
    CNNLENS_RETURN_IF_ERROR(str("logits", s.logits_node));
    if (s.model_file.empty()) return invalid_argument("field 'model' (the model file) is missing");
    if (!j.contains("format") && ends_with_onnx(s.model_file)) s.format = "onnx";
    if (j.contains("input")) {
        const json& in = j["input"];
        if (!in.is_object()) return invalid_argument("field 'input' must be an object");
        auto dim = [&](const char* k, int& out, int hi) -> Status {
            if (!in.contains(k)) return Status::ok();
            if (!in[k].is_number_integer() || in[k].get<int64_t>() < 1 || in[k].get<int64_t>() > hi)
                return invalid_argument(std::string("input.") + k + " must be an integer in 1.." +
                                        std::to_string(hi) + ", got " + in[k].dump());
            out = in[k].get<int>();
            return Status::ok();
        };
        CNNLENS_RETURN_IF_ERROR(dim("height", s.input.height, 4096));
        CNNLENS_RETURN_IF_ERROR(dim("width", s.input.width, 4096));
        CNNLENS_RETURN_IF_ERROR(dim("channels", s.input.channels, 3));
        if (s.input.channels == 2) return invalid_argument("input.channels must be 1 or 3, got 2");
        if (in.contains("range")) {
            const json& r = in["range"];
            if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number())
                return invalid_argument("input.range must be [lo, hi], got " + r.dump());
            s.input.range_lo = r[0].get<float>();
            s.input.range_hi = r[1].get<float>();
        }
        for (auto [key, vec] : {std::pair{"mean", &s.input.mean}, std::pair{"std", &s.input.std}}) {
            if (!in.contains(key)) continue;
            const json& v = in[key];
            if (!v.is_array())
                return invalid_argument(std::string("input.") + key + " must be a list of numbers");
            for (const json& e : v) {
                if (!e.is_number())
                    return invalid_argument(std::string("input.") + key +
                                            " must be a list of numbers, got " + v.dump());
                vec->push_back(e.get<float>());
            }
        }
        for (float sd : s.input.std)
            if (!(sd > 0.f))
                return invalid_argument("input.std values must be positive, got " +
                                        std::to_string(sd));
        if (s.input.mean.size() != s.input.std.size())
            return invalid_argument("input.mean and input.std must have the same length");
    }
    std::string task;
    CNNLENS_RETURN_IF_ERROR(str("task", task));
    if (task == "face")
        s.task = ModelTask::kFace;
    else if (task == "image")
        s.task = ModelTask::kImage;
    else if (!task.empty())
        return invalid_argument("field 'task' must be \"face\" or \"image\", got \"" + task + "\"");
    CNNLENS_RETURN_IF_ERROR(str("preset", s.preset));
    if (!s.preset.empty()) {
        InputSpec preset;
        if (Status st = apply_input_preset(preset, s.preset); !st)
            return Status(st.code(), "field 'preset': " + st.message());
        if (s.input.mean.empty()) s.input.mean = preset.mean, s.input.std = preset.std;
    }
    if (j.contains("classes")) {
        if (!j["classes"].is_array())
            return invalid_argument("field 'classes' must be a list of names");
        for (const json& c : j["classes"]) {
            if (!c.is_string())
                return invalid_argument("field 'classes' must be a list of names, found " +
                                        c.dump());
            s.classes.push_back(c.get<std::string>());
        }
    }
    return s;
}

Status complete_model(Model& m) {
    Graph& g = m.graph;
    const Node& in = g.node(g.input());
    if (in.shape.rank() != 4)
        return unsupported("model input '" + in.name + "' has shape " + in.shape.str() +
                           "; an NHWC image input [N,H,W,C] is required");
    InputSpec& is = m.spec.input;
    const int h = static_cast<int>(in.shape[1]), w = static_cast<int>(in.shape[2]),
              c = static_cast<int>(in.shape[3]);
    if (is.height == 0) is.height = h;
    if (is.width == 0) is.width = w;
    if (is.channels == 0) is.channels = c;
    if (is.height != h || is.width != w || is.channels != c)
        return invalid_argument("the spec says input " + std::to_string(is.height) + "x" +
                                std::to_string(is.width) + "x" + std::to_string(is.channels) +
                                " but the model's input '" + in.name + "' is " + in.shape.str());
    if (c != 1 && c != 3)
        return unsupported("model input '" + in.name + "' has " + std::to_string(c) +
                           " channels (1 or 3 supported)");
    if (!is.mean.empty() && static_cast<int>(is.mean.size()) != c && is.mean.size() != 1)
        return invalid_argument("input.mean has " + std::to_string(is.mean.size()) +
                                " values for " + std::to_string(c) + " channels");

    // Logits: named in the spec, or the input of a final Softmax (through Identity nodes).
    int out = g.output();
    while (g.node(out).op == OpType::kIdentity && !g.node(out).inputs.empty())
        out = g.node(out).inputs[0];
    if (!m.spec.logits_node.empty()) {
        m.logits = g.find(m.spec.logits_node);
        if (m.logits < 0)
            return not_found("spec names logits node '" + m.spec.logits_node +
                             "', which is not in the model");
    } else if (g.node(out).op == OpType::kSoftmax || g.node(out).op == OpType::kLogSoftmax) {
        m.logits = g.node(out).inputs[0];
    } else {
        m.logits = out;
    }
    m.probs = g.node(out).op == OpType::kSoftmax ? out : -1;
    const Shape& ls = g.node(m.logits).shape;
    if (ls.rank() != 2)
        return unsupported("the logits node '" + g.node(m.logits).name + "' has shape " + ls.str() +
                           "; expected [N, classes]");
    const int classes = static_cast<int>(ls[1]);
    if (m.spec.classes.empty()) {
        if (classes == 7)
            m.spec.classes.assign(std::begin(kFer2013Classes), std::end(kFer2013Classes));
        else if (classes == 1000)
            m.spec.classes.assign(std::begin(kImagenetClasses), std::end(kImagenetClasses));
        else
            for (int k = 0; k < classes; ++k)
                m.spec.classes.push_back("class " + std::to_string(k));
    }
    if (static_cast<int>(m.spec.classes.size()) != classes)
        return invalid_argument("the spec lists " + std::to_string(m.spec.classes.size()) +
                                " classes but the model has " + std::to_string(classes) +
                                " outputs");
    // A guessed 1000-class RGB model is almost surely an ImageNet classifier, and those nearly
    // all normalise as torchvision does; still only a guess, which `inferred` marks.
    if (m.spec.inferred && classes == 1000 && c == 3 && is.mean.empty() && is.range_lo == 0.f &&
        is.range_hi == 1.f) {
        CNNLENS_RETURN_IF_ERROR(apply_input_preset(is, "imagenet"));
        m.spec.preset = "imagenet";
    }
    if (m.spec.task == ModelTask::kAuto) m.spec.task = infer_task(is, classes);
    return Status::ok();
}

ModelTask infer_task(const InputSpec& in, int classes) {
    const bool fer_size = in.height >= 48 && in.height <= 64 && in.width >= 48 && in.width <= 64;
    return classes == 7 && in.channels == 1 && fer_size ? ModelTask::kFace : ModelTask::kImage;
}

std::string_view task_name(ModelTask t) {
    switch (t) {
        case ModelTask::kFace:
            return "face";
        case ModelTask::kImage:
            return "image";
        case ModelTask::kAuto:
            break;
    }
    return "auto";
}

Status apply_input_preset(InputSpec& in, std::string_view preset) {
    if (preset == "imagenet") {
        in.mean = {0.485f, 0.456f, 0.406f};
        in.std = {0.229f, 0.224f, 0.225f};
        return Status::ok();
    }
    std::string known;
    for (std::string_view k : kInputPresets) known += (known.empty() ? "" : ", ") + std::string(k);
    return invalid_argument("unknown input preset '" + std::string(preset) + "' (known: " + known +
                            ")");
}

std::span<const char* const> imagenet_class_names() { return kImagenetClasses; }

void center_crop_box(int pw, int ph, int width, int height, int& x, int& y, int& w, int& h) {
    // Compared as integers (pw * height vs ph * width) so a photo of exactly the aspect is whole.
    if (static_cast<int64_t>(pw) * height > static_cast<int64_t>(ph) * width) {
        h = ph;
        w = std::clamp(static_cast<int>(std::lround(static_cast<double>(ph) * width / height)), 1,
                       pw);
    } else {
        w = pw;
        h = std::clamp(static_cast<int>(std::lround(static_cast<double>(pw) * height / width)), 1,
                       ph);
    }
    x = (pw - w) / 2;
    y = (ph - h) / 2;
}

Tensor photo_to_input(const Image& photo, const InputSpec& in) {
    int x, y, w, h;
    center_crop_box(photo.width, photo.height, in.width, in.height, x, y, w, h);
    if (w == photo.width && h == photo.height) return image_to_input(photo, in);
    auto crop = crop_image(photo, x, y, w, h);
    CNNLENS_ASSERT(crop.has_value());
    return image_to_input(*crop, in);
}

Expected<Model> load_model_from(const FileSource& files, const std::string& main) {
    try {
        return load_impl(files, main);
    } catch (const std::exception& e) {  // nlohmann::json type errors on malformed files
        return corrupt(main + ": malformed model file (" + e.what() + ")");
    }
}

Expected<Model> load_model(const std::string& path) {
    std::string dir = path, main = "cnnlens.json";
    if ((path.size() > 5 && path.substr(path.size() - 5) == ".json") || ends_with_onnx(path)) {
        dir = dirname_of(path);
        main = basename_of(path);
    } else {
        while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
        // A folder without a spec: the converter's model.json, described by inference.
        auto exists = [](const std::string& p) {
            FILE* f = std::fopen(p.c_str(), "rb");
            if (f) std::fclose(f);
            return f != nullptr;
        };
        if (!exists(dir + "/cnnlens.json") && exists(dir + "/model.json")) main = "model.json";
    }
    return load_model_from(directory_source(dir), main);
}

std::string display_name(std::string_view name) {
    std::string s(name);
    const std::string p1 = "StatefulPartitionedCall/";
    if (s.rfind(p1, 0) == 0) s = s.substr(p1.size());
    if (s.rfind("model", 0) == 0) {
        const size_t slash = s.find('/');
        if (slash != std::string::npos && slash + 1 < s.size()) s = s.substr(slash + 1);
    }
    return s;
}

}  // namespace cnnlens
