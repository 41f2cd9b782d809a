// TF.js layers-model (Keras) import: one small mapping function per Keras layer class.
#include "core/import/tfjs/tfjs_layers.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/import/tfjs/tfjs_weights.h"

namespace cnnlens {
namespace {

using json = nlohmann::json;

// The output of a layer's `call`-th invocation (Keras' node_index); `tensor` must be 0.
struct TensorRef {
    std::string layer;
    int call = 0;
    int tensor = 0;
};

struct KerasLayer {
    std::string name, cls;
    json config;                                // an object (empty when absent)
    std::vector<std::vector<TensorRef>> calls;  // the inputs of each invocation
    Shape input_shape;                          // InputLayer only: [-1, ...]
};

// One invocation of a layer being converted: its graph inputs and the name of its output.
struct Call {
    const KerasLayer& layer;
    std::vector<int> in;
    std::string name;
    int out = -1;
};

const std::set<std::string> kIdentityClasses = {"Dropout",       "SpatialDropout2D",
                                                "GaussianNoise", "GaussianDropout",
                                                "AlphaDropout",  "ActivityRegularization"};
const std::set<std::string> kActivations = {"linear",  "relu", "relu6",   "elu",   "selu",
                                            "sigmoid", "tanh", "softmax", "swish", "silu"};

// Keras activations a Conv2D / MatMul node applies itself (their VJP reads the output).
bool fused_activation(const std::string& act, Activation& out) {
    static const std::map<std::string, Activation> m = {
        {"linear", Activation::kNone},     {"relu", Activation::kRelu},
        {"relu6", Activation::kRelu6},     {"elu", Activation::kElu},
        {"sigmoid", Activation::kSigmoid}, {"tanh", Activation::kTanh}};
    auto it = m.find(act);
    if (it == m.end()) return false;
    out = it->second;
    return true;
}

// "conv2d/kernel:0" -> {"conv2d", "kernel"}
std::vector<std::string> name_parts(const std::string& name) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        const size_t slash = name.find('/', start);
        parts.push_back(
            name.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    std::string& last = parts.back();
    const size_t colon = last.rfind(':');
    if (colon != std::string::npos && colon + 1 < last.size() &&
        last.find_first_not_of("0123456789", colon + 1) == std::string::npos)
        last.resize(colon);
    return parts;
}

class LayersImporter {
public:
    LayersImporter(const FileSource& files, std::string json_name)
        : files_(files), json_name_(std::move(json_name)) {}

    Expected<Graph> run(std::string_view text) {
        json root = json::parse(text.begin(), text.end(), nullptr, false);
        if (root.is_discarded() || !root.is_object())
            return corrupt(json_name_ + ": not valid JSON");
        if (!root.contains("modelTopology") || !root["modelTopology"].is_object())
            return corrupt(json_name_ +
                           ": no modelTopology object (is this a TF.js layers model?)");
        const json& topo = root["modelTopology"];
        const json& model = topo.contains("model_config") ? topo["model_config"] : topo;
        if (!model.is_object() || !model.contains("class_name") || !model["class_name"].is_string())
            return corrupt(json_name_ + ": modelTopology has no Keras model config (class_name)");
        if (root.contains("weightsManifest")) {
            auto w = read_tfjs_weights(root["weightsManifest"], files_, json_name_);
            if (!w) return w.status();
            weights_ = std::move(*w);
        }
        const std::string cls = model["class_name"].get<std::string>();
        const json config = model.contains("config") ? model["config"] : json::object();
        if (cls == "Sequential")
            CNNLENS_RETURN_IF_ERROR(read_sequential(config));
        else if (cls == "Model" || cls == "Functional")
            CNNLENS_RETURN_IF_ERROR(read_functional(config));
        else
            return unsupported(json_name_ + ": model class '" + cls +
                               "' is not supported (Sequential, Model, Functional)");
        CNNLENS_RETURN_IF_ERROR(check_layers());
        CNNLENS_RETURN_IF_ERROR(build());
        CNNLENS_RETURN_IF_ERROR(g_.validate());
        return std::move(g_);
    }

private:
    // --- reading the config ------------------------------------------------------------------
    Status model_error(const std::string& what) {
        return invalid_argument(json_name_ + ": " + what);
    }

    Expected<KerasLayer> read_layer(const json& j) {
        if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string())
            return model_error("a layer without class_name: " + j.dump().substr(0, 120));
        KerasLayer l;
        l.cls = j["class_name"].get<std::string>();
        l.config = j.contains("config") ? j["config"] : json::object();
        if (!l.config.is_object())
            return model_error("layer of class " + l.cls + " has a config that is not an object");
        const json* name = j.contains("name")          ? &j["name"]
                           : l.config.contains("name") ? &l.config["name"]
                                                       : nullptr;
        if (!name || !name->is_string() || name->get<std::string>().empty())
            return model_error("a " + l.cls + " layer has no name");
        l.name = name->get<std::string>();
        if (l.cls == "InputLayer") CNNLENS_RETURN_IF_ERROR(read_input_shape(l, l.config));
        return l;
    }

    // InputLayer's batch_input_shape (Keras 2) or batch_shape (Keras 3): [null, H, W, C].
    Status read_input_shape(KerasLayer& l, const json& cfg) {
        const char* key = cfg.contains("batch_input_shape") ? "batch_input_shape" : "batch_shape";
        if (!cfg.contains(key))
            return model_error("input '" + l.name + "' has no batch_input_shape");
        const json& s = cfg[key];
        if (!s.is_array() || s.size() < 2 || static_cast<int>(s.size()) > kMaxRank)
            return model_error("input '" + l.name + "' has batch_input_shape " + s.dump() +
                               "; expected [null, H, W, C]");
        l.input_shape = Shape{-1};
        for (size_t d = 1; d < s.size(); ++d) {
            if (!s[d].is_number_integer() || s[d].get<int64_t>() < 1 ||
                s[d].get<int64_t>() > (1 << 16))
                return unsupported(json_name_ + ": input '" + l.name + "' has batch_input_shape " +
                                   s.dump() +
                                   "; every dimension but the batch must be a fixed size (save the "
                                   "model with a fixed input size)");
            l.input_shape.push_back(s[d].get<int64_t>());
        }
        return Status::ok();
    }

    Status add_layer(KerasLayer l) {
        if (layer_index_.count(l.name)) return model_error("two layers are named '" + l.name + "'");
        layer_index_[l.name] = static_cast<int>(layers_.size());
        layers_.push_back(std::move(l));
        return Status::ok();
    }

    Status read_sequential(const json& config) {
        // Keras >= 2.3 writes {"name", "layers": [...]}; older Keras the list itself.
        const json& list = config.is_array()           ? config
                           : config.contains("layers") ? config["layers"]
                                                       : json();
        if (!list.is_array() || list.empty())
            return model_error("the Sequential model has no layers");
        std::string prev;
        for (const json& j : list) {
            auto l = read_layer(j);
            if (!l) return l.status();
            if (l->cls == "InputLayer") {
                if (!prev.empty())
                    return model_error("InputLayer '" + l->name +
                                       "' is not the first layer of the Sequential model");
            } else {
                if (prev.empty()) {  // no InputLayer: Keras names the input "<first layer>_input"
                    KerasLayer in;
                    in.cls = "InputLayer";
                    in.name = l->name + "_input";
                    if (!l->config.contains("batch_input_shape") &&
                        !l->config.contains("batch_shape"))
                        return model_error(
                            "the Sequential model has no InputLayer and its first layer '" +
                            l->name + "' has no batch_input_shape");
                    CNNLENS_RETURN_IF_ERROR(read_input_shape(in, l->config));
                    prev = in.name;
                    input_ = {in.name, 0, 0};
                    CNNLENS_RETURN_IF_ERROR(add_layer(std::move(in)));
                }
                l->calls.push_back({TensorRef{prev, 0, 0}});
            }
            if (prev.empty()) input_ = {l->name, 0, 0};
            prev = l->name;
            CNNLENS_RETURN_IF_ERROR(add_layer(std::move(*l)));
        }
        output_ = {prev, 0, 0};
        return Status::ok();
    }

    // Keras 3 writes a call as {"args": [...], "kwargs": {...}} with tensors carrying
    // "keras_history": [layer, node_index, tensor_index].
    static void collect_history(const json& j, std::vector<TensorRef>& refs) {
        if (j.is_object()) {
            if (j.contains("keras_history") && j["keras_history"].is_array() &&
                j["keras_history"].size() == 3) {
                const json& h = j["keras_history"];
                if (h[0].is_string() && h[1].is_number_integer() && h[2].is_number_integer())
                    refs.push_back({h[0].get<std::string>(), h[1].get<int>(), h[2].get<int>()});
                return;
            }
            for (const auto& [k, v] : j.items()) collect_history(v, refs);
        } else if (j.is_array()) {
            for (const json& v : j) collect_history(v, refs);
        }
    }

    Expected<TensorRef> read_ref(const json& r, const std::string& where) {
        if (!r.is_array() || r.size() < 3 || !r[0].is_string() || !r[1].is_number_integer() ||
            !r[2].is_number_integer())
            return model_error(
                where + " is not [layer, node_index, tensor_index]: " + r.dump().substr(0, 120));
        return TensorRef{r[0].get<std::string>(), r[1].get<int>(), r[2].get<int>()};
    }

    // input_layers / output_layers: [[name, node, tensor], ...] (Keras 3 may drop the outer list).
    Expected<std::vector<TensorRef>> read_refs(const json& config, const char* key) {
        if (!config.contains(key) || !config[key].is_array() || config[key].empty())
            return model_error("the functional model has no " + std::string(key));
        const json& list = config[key];
        std::vector<TensorRef> refs;
        if (list[0].is_string()) {
            auto r = read_ref(list, key);
            if (!r) return r.status();
            refs.push_back(*r);
            return refs;
        }
        for (const json& e : list) {
            auto r = read_ref(e, key);
            if (!r) return r.status();
            refs.push_back(*r);
        }
        return refs;
    }

    Status read_functional(const json& config) {
        if (!config.is_object() || !config.contains("layers") || !config["layers"].is_array())
            return model_error("the functional model has no layers list");
        for (const json& j : config["layers"]) {
            auto l = read_layer(j);
            if (!l) return l.status();
            const json& inbound = j.contains("inbound_nodes") ? j["inbound_nodes"] : json::array();
            if (!inbound.is_array())
                return model_error("layer '" + l->name + "' has inbound_nodes that are not a list");
            for (const json& call : inbound) {
                std::vector<TensorRef> refs;
                if (call.is_array()) {
                    for (const json& r : call) {
                        auto ref = read_ref(r, "an inbound node of layer '" + l->name + "'");
                        if (!ref) return ref.status();
                        refs.push_back(*ref);
                    }
                } else if (call.is_object()) {
                    collect_history(call.contains("args") ? call["args"] : call, refs);
                } else {
                    return model_error(
                        "layer '" + l->name +
                        "' has an inbound node that is neither a list nor an object");
                }
                if (refs.empty())
                    return model_error("layer '" + l->name + "' has a call without inputs");
                l->calls.push_back(std::move(refs));
            }
            if (l->cls == "InputLayer" && !l->calls.empty())
                return model_error("InputLayer '" + l->name + "' has inbound nodes");
            if (l->cls != "InputLayer" && l->calls.empty())
                return model_error("layer '" + l->name + "' is never called (no inbound_nodes)");
            CNNLENS_RETURN_IF_ERROR(add_layer(std::move(*l)));
        }
        auto ins = read_refs(config, "input_layers");
        if (!ins) return ins.status();
        auto outs = read_refs(config, "output_layers");
        if (!outs) return outs.status();
        auto names = [](const std::vector<TensorRef>& v) {
            std::string s;
            for (const TensorRef& r : v) s += (s.empty() ? "" : ", ") + r.layer;
            return s;
        };
        if (ins->size() != 1)
            return unsupported(json_name_ + ": the model has " + std::to_string(ins->size()) +
                               " inputs (" + names(*ins) + "); one image input is supported");
        if (outs->size() != 1)
            return unsupported(json_name_ + ": the model has " + std::to_string(outs->size()) +
                               " outputs (" + names(*outs) + "); one output is supported");
        input_ = (*ins)[0];
        output_ = (*outs)[0];
        auto it = layer_index_.find(input_.layer);
        if (it == layer_index_.end() ||
            layers_[static_cast<size_t>(it->second)].cls != "InputLayer")
            return model_error("input_layers names '" + input_.layer +
                               "', which is not an InputLayer of the model");
        return Status::ok();
    }

    // Every unsupported layer class, activation and data format, reported at once.
    Status check_layers() {
        std::map<std::string, std::vector<std::string>> classes, activations;
        std::vector<std::string> channels_first;
        for (const KerasLayer& l : layers_) {
            if (!builders().count(l.cls) && !kIdentityClasses.count(l.cls) && l.cls != "InputLayer")
                classes[l.cls].push_back(l.name);
            const json& c = l.config;
            if (l.cls != "InputLayer" && c.contains("activation")) {
                const std::string act = c["activation"].is_string()
                                            ? c["activation"].get<std::string>()
                                            : c["activation"].dump();
                if (!kActivations.count(act)) activations[act].push_back(l.name);
            }
            if (c.contains("data_format") && c["data_format"].is_string() &&
                c["data_format"] != "channels_last")
                channels_first.push_back(l.name);
        }
        std::string msg;
        auto list = [](const std::vector<std::string>& names) {
            std::string s;
            for (size_t k = 0; k < names.size() && k < 8; ++k) s += (k ? ", " : "") + names[k];
            if (names.size() > 8) s += ", ... (" + std::to_string(names.size()) + " in all)";
            return s;
        };
        auto group = [&](const char* what,
                         const std::map<std::string, std::vector<std::string>>& m) {
            if (m.empty()) return;
            msg += (msg.empty() ? "" : "; ") + std::string(what);
            bool first = true;
            for (const auto& [k, names] : m) {
                msg += (first ? " " : ", ") + k + " (layer" + (names.size() > 1 ? "s " : " ") +
                       list(names) + ")";
                first = false;
            }
        };
        group("unsupported layer classes:", classes);
        for (const char* nested : {"Sequential", "Functional", "Model"})
            if (classes.count(nested)) {
                msg += " (a model nested as a layer is not supported)";
                break;
            }
        group("unsupported activations:", activations);
        if (!channels_first.empty())
            msg +=
                (msg.empty() ? "" : "; ") +
                std::string(
                    "data_format 'channels_first' is not supported (channels_last only): layer") +
                (channels_first.size() > 1 ? "s " : " ") + list(channels_first);
        return msg.empty() ? Status::ok() : unsupported(json_name_ + ": " + msg);
    }

    // --- building the graph ------------------------------------------------------------------
    using Builder = Status (LayersImporter::*)(Call&);
    static const std::map<std::string, Builder>& builders() {
        static const std::map<std::string, Builder> m = {
            {"Conv2D", &LayersImporter::conv2d},
            {"Convolution2D", &LayersImporter::conv2d},
            {"SeparableConv2D", &LayersImporter::separable_conv2d},
            {"SeparableConvolution2D", &LayersImporter::separable_conv2d},
            {"DepthwiseConv2D", &LayersImporter::depthwise_conv2d},
            {"Dense", &LayersImporter::dense},
            {"BatchNormalization", &LayersImporter::batch_normalization},
            {"Activation", &LayersImporter::activation_layer},
            {"ReLU", &LayersImporter::relu},
            {"LeakyReLU", &LayersImporter::leaky_relu},
            {"PReLU", &LayersImporter::prelu},
            {"ELU", &LayersImporter::elu},
            {"Softmax", &LayersImporter::softmax},
            {"MaxPooling2D", &LayersImporter::max_pooling2d},
            {"MaxPool2D", &LayersImporter::max_pooling2d},
            {"AveragePooling2D", &LayersImporter::average_pooling2d},
            {"AvgPool2D", &LayersImporter::average_pooling2d},
            {"GlobalAveragePooling2D", &LayersImporter::global_average_pooling2d},
            {"GlobalAvgPool2D", &LayersImporter::global_average_pooling2d},
            {"GlobalMaxPooling2D", &LayersImporter::global_max_pooling2d},
            {"GlobalMaxPool2D", &LayersImporter::global_max_pooling2d},
            {"Flatten", &LayersImporter::flatten},
            {"Reshape", &LayersImporter::reshape},
            {"ZeroPadding2D", &LayersImporter::zero_padding2d},
            {"Add", &LayersImporter::add_layer_op},
            {"Subtract", &LayersImporter::subtract},
            {"Multiply", &LayersImporter::multiply},
            {"Average", &LayersImporter::average},
            {"Concatenate", &LayersImporter::concatenate},
            {"Rescaling", &LayersImporter::rescaling},
        };
        return m;
    }

    static std::string key(const std::string& layer, int call) {
        return layer + "\n" + std::to_string(call);
    }

    Status build() {
        const KerasLayer& in = layers_[static_cast<size_t>(layer_index_.at(input_.layer))];
        made_[key(in.name, 0)] = g_.add_input(in.name, in.input_shape);
        // Convert calls once all their inputs exist (the config's order need not be topological).
        std::vector<std::pair<int, int>> pending;
        for (size_t i = 0; i < layers_.size(); ++i)
            for (size_t c = 0; c < layers_[i].calls.size(); ++c)
                pending.push_back({static_cast<int>(i), static_cast<int>(c)});
        while (!pending.empty()) {
            bool progress = false;
            for (size_t p = 0; p < pending.size();) {
                const KerasLayer& l = layers_[static_cast<size_t>(pending[p].first)];
                const int call = pending[p].second;
                bool ready = true;
                for (const TensorRef& r : l.calls[static_cast<size_t>(call)])
                    ready = ready && made_.count(key(r.layer, r.call));
                if (!ready) {
                    ++p;
                    continue;
                }
                CNNLENS_RETURN_IF_ERROR(convert(l, call));
                pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(p));
                progress = true;
            }
            if (!progress) {
                const KerasLayer& l = layers_[static_cast<size_t>(pending[0].first)];
                for (const TensorRef& r : l.calls[static_cast<size_t>(pending[0].second)]) {
                    if (made_.count(key(r.layer, r.call))) continue;
                    auto it = layer_index_.find(r.layer);
                    if (it == layer_index_.end())
                        return model_error("layer '" + l.name + "' reads layer '" + r.layer +
                                           "', which is not in the model");
                    const KerasLayer& src = layers_[static_cast<size_t>(it->second)];
                    if (r.call >= static_cast<int>(src.calls.size()) && src.cls != "InputLayer")
                        return model_error("layer '" + l.name + "' reads call " +
                                           std::to_string(r.call) + " of layer '" + r.layer +
                                           "', which is called " +
                                           std::to_string(src.calls.size()) + " time(s)");
                    if (src.cls == "InputLayer")
                        return unsupported(json_name_ + ": layer '" + l.name + "' reads input '" +
                                           r.layer + "'; one image input is supported");
                }
                return model_error("the layers form a cycle through layer '" + l.name + "'");
            }
        }
        auto out = made_.find(key(output_.layer, output_.call));
        if (out == made_.end())
            return model_error("the model's output names layer '" + output_.layer +
                               "', which produces nothing");
        g_.set_output(out->second);
        return Status::ok();
    }

    Status convert(const KerasLayer& l, int call) {
        Call c{l, {}, call == 0 ? l.name : l.name + "/call_" + std::to_string(call)};
        for (const TensorRef& r : l.calls[static_cast<size_t>(call)]) {
            if (r.tensor != 0)
                return fail(c, "reads output " + std::to_string(r.tensor) + " of layer '" +
                                   r.layer + "', which has one output");
            c.in.push_back(made_.at(key(r.layer, r.call)));
        }
        if (kIdentityClasses.count(l.cls)) {
            CNNLENS_RETURN_IF_ERROR(one_input(c));
            CNNLENS_RETURN_IF_ERROR(add_final(c, OpType::kIdentity, NoAttrs{}, {c.in[0]}));
        } else {
            CNNLENS_RETURN_IF_ERROR((this->*builders().at(l.cls))(c));
        }
        made_[key(l.name, call)] = c.out;
        return Status::ok();
    }

    // --- helpers for the layer functions ---------------------------------------------------
    Status fail(const Call& c, const std::string& what) {
        return invalid_argument(json_name_ + ": layer '" + c.layer.name + "' (" + c.layer.cls +
                                "): " + what);
    }
    Status fail_unsupported(const Call& c, const std::string& what) {
        return unsupported(json_name_ + ": layer '" + c.layer.name + "' (" + c.layer.cls +
                           "): " + what);
    }

    // Shape of node `id` for batch 1.
    Shape shape_of(int id) const {
        Shape s = g_.node(id).shape;
        if (s.rank() > 0 && s[0] < 0) s[0] = 1;
        return s;
    }

    Status one_input(const Call& c) {
        if (c.in.size() != 1) return fail(c, "expects 1 input, got " + std::to_string(c.in.size()));
        return Status::ok();
    }
    Status image_input(const Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        const Shape s = shape_of(c.in[0]);
        if (s.rank() != 4) return fail(c, "needs an image input [N,H,W,C], got " + s.str());
        return Status::ok();
    }

    // Adds a node and infers its shape at once, so that a bad shape is reported with the layer.
    Expected<int> add(const Call& c, const std::string& name, OpType op, OpAttrs attrs,
                      std::vector<int> ins) {
        if (g_.find(name) >= 0) return fail(c, "a second node would be named '" + name + "'");
        std::vector<Shape> shapes;
        for (int i : ins) shapes.push_back(shape_of(i));
        const int id = g_.add_node(name, op, std::move(attrs), std::move(ins));
        Shape out;
        const Status st = infer_node_shape(g_, id, shapes, out);
        if (!st.is_ok()) return fail(c, st.message());
        if (out.elements() <= 0 || out.elements() > (int64_t{1} << 28))
            return fail(c, "output shape " + out.str() + " is out of range");
        g_.node(id).shape = out;
        return id;
    }
    Status add_final(Call& c, OpType op, OpAttrs attrs, std::vector<int> ins) {
        auto id = add(c, c.name, op, std::move(attrs), std::move(ins));
        if (!id) return id.status();
        c.out = *id;
        return Status::ok();
    }

    // A Const node (made once, also when a shared layer is called again).
    int constant(const std::string& name, Tensor value) {
        const int id = g_.find(name);
        if (id >= 0 && g_.node(id).op == OpType::kConst) return id;
        return g_.add_const(name, std::move(value));
    }
    int scalar(const std::string& name, float v) { return constant(name, Tensor(Shape{1}, v)); }

    // The manifest weight `kind` of `layer` ("kernel", "bias", ...), checked against `want`
    // (-1: any size). Names match when the last part is `kind` and an earlier part is the
    // layer's name; an exact "<layer>/<kind>" wins.
    Expected<Tensor> weight(const Call& c, const std::string& kind, const Shape& want) {
        const std::string& layer = c.layer.name;
        std::vector<const std::string*> hits;
        const std::string* exact = nullptr;
        for (const auto& [name, w] : weights_) {
            const std::vector<std::string> parts = name_parts(name);
            if (parts.size() < 2 || parts.back() != kind) continue;
            bool match = false;
            for (size_t k = 0; k + 1 < parts.size(); ++k) match = match || parts[k] == layer;
            if (!match) continue;
            hits.push_back(&name);
            if (parts.size() == 2) exact = &name;
        }
        if (hits.empty())
            return fail(c,
                        "weight '" + layer + "/" + kind + "' is missing from the weightsManifest");
        if (!exact && hits.size() > 1)
            return fail(
                c, "weight '" + kind + "' is ambiguous: '" + *hits[0] + "' and '" + *hits[1] + "'");
        const std::string& name = exact ? *exact : *hits[0];
        const Tensor& v = weights_.at(name).value;
        bool fits = v.shape().rank() == want.rank();
        for (int d = 0; fits && d < want.rank(); ++d) fits = want[d] < 0 || want[d] == v.shape()[d];
        if (!fits) {
            std::string w = "[";
            for (int d = 0; d < want.rank(); ++d) {
                if (d) w += ',';
                w += want[d] < 0 ? std::string("?") : std::to_string(want[d]);
            }
            return fail(c, "weight '" + name + "' has shape " + v.shape().str() +
                               " but the layer needs " + w + "]");
        }
        return v.clone();
    }

    // Reads an int or a pair of ints (Keras' kernel_size, strides, ...).
    Status pair(const Call& c, const char* key, int def, int out[2]) {
        const json& cfg = c.layer.config;
        out[0] = out[1] = def;
        if (!cfg.contains(key) || cfg[key].is_null()) return Status::ok();
        const json& v = cfg[key];
        auto ok = [](const json& e) {
            return e.is_number_integer() && e.get<int64_t>() >= 1 && e.get<int64_t>() <= 4096;
        };
        if (ok(v)) {
            out[0] = out[1] = v.get<int>();
            return Status::ok();
        }
        if (v.is_array() && v.size() == 1 && ok(v[0])) {
            out[0] = out[1] = v[0].get<int>();
            return Status::ok();
        }
        if (v.is_array() && v.size() == 2 && ok(v[0]) && ok(v[1])) {
            out[0] = v[0].get<int>();
            out[1] = v[1].get<int>();
            return Status::ok();
        }
        return fail(c,
                    std::string(key) + " " + v.dump() + " is not a positive int or a pair of them");
    }
    Expected<int> positive_int(const Call& c, const char* key, int def) {
        const json& cfg = c.layer.config;
        if (!cfg.contains(key) || cfg[key].is_null()) {
            if (def > 0) return def;
            return fail(c, std::string("config has no ") + key);
        }
        if (!cfg[key].is_number_integer() || cfg[key].get<int64_t>() < 1 ||
            cfg[key].get<int64_t>() > (1 << 20))
            return fail(c, std::string(key) + " " + cfg[key].dump() + " is not a positive integer");
        return cfg[key].get<int>();
    }
    Expected<float> number(const Call& c, const char* key, float def) {
        const json& cfg = c.layer.config;
        if (!cfg.contains(key) || cfg[key].is_null()) return def;
        if (!cfg[key].is_number())
            return fail(c, std::string(key) + " " + cfg[key].dump() + " is not a number");
        const float v = cfg[key].get<float>();
        if (!std::isfinite(v))
            return fail(c, std::string(key) + " " + cfg[key].dump() + " is not finite");
        return v;
    }
    bool flag(const Call& c, const char* key, bool def) {
        const json& cfg = c.layer.config;
        return cfg.contains(key) && cfg[key].is_boolean() ? cfg[key].get<bool>() : def;
    }
    std::string activation_of(const Call& c) {
        const json& cfg = c.layer.config;
        return cfg.contains("activation") && cfg["activation"].is_string()
                   ? cfg["activation"].get<std::string>()
                   : "linear";
    }
    Status padding(const Call& c, PaddingMode& mode) {
        const json& cfg = c.layer.config;
        const std::string p = cfg.contains("padding") && cfg["padding"].is_string()
                                  ? cfg["padding"].get<std::string>()
                                  : "valid";
        if (p == "valid")
            mode = PaddingMode::kValid;
        else if (p == "same")
            mode = PaddingMode::kSame;  // TF's rule: the odd pad goes bottom/right
        else
            return fail_unsupported(c, "padding '" + p + "' is not supported (same, valid)");
        return Status::ok();
    }

    // Appends activation `act` after node x; the last node is named `name`.
    Expected<int> activation(const Call& c, int x, const std::string& act,
                             const std::string& name) {
        if (act == "linear") return add(c, name, OpType::kIdentity, NoAttrs{}, {x});
        if (act == "relu") return add(c, name, OpType::kRelu, NoAttrs{}, {x});
        if (act == "relu6") return add(c, name, OpType::kRelu6, NoAttrs{}, {x});
        if (act == "elu") return add(c, name, OpType::kElu, EluAttrs{1.f}, {x});
        if (act == "sigmoid") return add(c, name, OpType::kSigmoid, NoAttrs{}, {x});
        if (act == "tanh") return add(c, name, OpType::kTanh, NoAttrs{}, {x});
        if (act == "softmax") return add(c, name, OpType::kSoftmax, SoftmaxAttrs{-1}, {x});
        if (act == "selu") {  // scale * elu(x, alpha) with the constants of Klambauer et al.
            auto e = add(c, name + "/elu", OpType::kElu, EluAttrs{1.6732632423543772f}, {x});
            if (!e) return e;
            return add(c, name, OpType::kMul, NoAttrs{},
                       {*e, scalar(name + "/selu_scale", 1.0507009873554805f)});
        }
        if (act == "swish" || act == "silu") return add(c, name, OpType::kSilu, NoAttrs{}, {x});
        return fail_unsupported(c, "activation '" + act + "' is not supported");
    }

    // A Conv2D or MatMul node with the layer's activation: fused when the op can apply it,
    // else the op's node is "<layer>/linear" and the activation follows.
    template <typename Attrs>
    Status with_activation(Call& c, OpType op, Attrs attrs, std::vector<int> ins,
                           const std::string& act) {
        Activation fused;
        if (fused_activation(act, fused)) {
            attrs.activation = fused;
            return add_final(c, op, attrs, std::move(ins));
        }
        auto lin = add(c, c.name + "/linear", op, attrs, std::move(ins));
        if (!lin) return lin.status();
        auto out = activation(c, *lin, act, c.name);
        if (!out) return out.status();
        c.out = *out;
        return Status::ok();
    }

    Status conv_geometry(const Call& c, ConvAttrs& a, int kernel[2]) {
        int s[2], d[2];
        CNNLENS_RETURN_IF_ERROR(pair(c, "kernel_size", 0, kernel));
        if (kernel[0] < 1) return fail(c, "config has no kernel_size");
        CNNLENS_RETURN_IF_ERROR(pair(c, "strides", 1, s));
        CNNLENS_RETURN_IF_ERROR(pair(c, "dilation_rate", 1, d));
        CNNLENS_RETURN_IF_ERROR(padding(c, a.padding));
        a.stride_h = s[0];
        a.stride_w = s[1];
        a.dilation_h = d[0];
        a.dilation_w = d[1];
        return Status::ok();
    }

    // Keras' bias [n], or nothing when use_bias is false.
    Status bias_input(const Call& c, int64_t n, std::vector<int>& ins) {
        if (!flag(c, "use_bias", true)) return Status::ok();
        auto b = weight(c, "bias", Shape{n});
        if (!b) return b.status();
        ins.push_back(constant(c.layer.name + "/bias", std::move(*b)));
        return Status::ok();
    }

    // --- one function per Keras layer class ---------------------------------------------------
    Status conv2d(Call& c) {
        CNNLENS_RETURN_IF_ERROR(image_input(c));
        ConvAttrs a;
        int k[2];
        CNNLENS_RETURN_IF_ERROR(conv_geometry(c, a, k));
        auto filters = positive_int(c, "filters", 0);
        if (!filters) return filters.status();
        auto groups = positive_int(c, "groups", 1);
        if (!groups) return groups.status();
        const int64_t cin = shape_of(c.in[0])[3];
        if (cin % *groups || *filters % *groups)
            return fail(c, std::to_string(cin) + " input channels and " + std::to_string(*filters) +
                               " filters do not split into " + std::to_string(*groups) + " groups");
        a.groups = *groups;
        auto kernel = weight(c, "kernel", Shape{k[0], k[1], cin / *groups, *filters});
        if (!kernel) return kernel.status();
        std::vector<int> ins{c.in[0], constant(c.layer.name + "/kernel", std::move(*kernel))};
        CNNLENS_RETURN_IF_ERROR(bias_input(c, *filters, ins));
        return with_activation(c, OpType::kConv2D, a, std::move(ins), activation_of(c));
    }

    // depthwise_kernel [kh, kw, C, m] as a grouped convolution's [kh, kw, 1, C*m].
    Expected<int> depthwise_part(Call& c, const ConvAttrs& geometry, const int k[2],
                                 const std::string& name, std::vector<int>* ins_out) {
        auto m = positive_int(c, "depth_multiplier", 1);
        if (!m) return m.status();
        const int64_t cin = shape_of(c.in[0])[3];
        auto dw = weight(c, "depthwise_kernel", Shape{k[0], k[1], cin, *m});
        if (!dw) return dw.status();
        dw->reshape(Shape{k[0], k[1], 1, cin * *m});
        ConvAttrs a = geometry;
        a.groups = static_cast<int>(cin);
        std::vector<int> ins{c.in[0], constant(c.layer.name + "/depthwise_kernel", std::move(*dw))};
        if (ins_out) {
            *ins_out = std::move(ins);
            return -1;
        }
        return add(c, name, OpType::kConv2D, a, std::move(ins));
    }

    Status depthwise_conv2d(Call& c) {
        CNNLENS_RETURN_IF_ERROR(image_input(c));
        ConvAttrs a;
        int k[2];
        CNNLENS_RETURN_IF_ERROR(conv_geometry(c, a, k));
        std::vector<int> ins;
        auto r = depthwise_part(c, a, k, c.name, &ins);
        if (!r) return r.status();
        a.groups = static_cast<int>(shape_of(c.in[0])[3]);
        CNNLENS_RETURN_IF_ERROR(bias_input(c, g_.node(ins[1]).shape[3], ins));
        return with_activation(c, OpType::kConv2D, a, std::move(ins), activation_of(c));
    }

    Status separable_conv2d(Call& c) {
        CNNLENS_RETURN_IF_ERROR(image_input(c));
        ConvAttrs a;
        int k[2];
        CNNLENS_RETURN_IF_ERROR(conv_geometry(c, a, k));
        auto filters = positive_int(c, "filters", 0);
        if (!filters) return filters.status();
        auto dw = depthwise_part(c, a, k, c.name + "/depthwise", nullptr);
        if (!dw) return dw.status();
        const int64_t mid = shape_of(*dw)[3];
        auto pw = weight(c, "pointwise_kernel", Shape{1, 1, mid, *filters});
        if (!pw) return pw.status();
        std::vector<int> ins{*dw, constant(c.layer.name + "/pointwise_kernel", std::move(*pw))};
        CNNLENS_RETURN_IF_ERROR(bias_input(c, *filters, ins));
        return with_activation(c, OpType::kConv2D, ConvAttrs{}, std::move(ins), activation_of(c));
    }

    Status dense(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        auto units = positive_int(c, "units", 0);
        if (!units) return units.status();
        const Shape in = shape_of(c.in[0]);
        const int64_t k = in.dim(-1);
        auto kernel = weight(c, "kernel", Shape{k, *units});
        if (!kernel) return kernel.status();
        if (in.rank() == 4) {  // Dense on [N,H,W,C] acts on each pixel: a 1x1 convolution
            kernel->reshape(Shape{1, 1, k, *units});
            std::vector<int> ins{c.in[0], constant(c.layer.name + "/kernel", std::move(*kernel))};
            CNNLENS_RETURN_IF_ERROR(bias_input(c, *units, ins));
            return with_activation(c, OpType::kConv2D, ConvAttrs{}, std::move(ins),
                                   activation_of(c));
        }
        if (in.rank() != 2)
            return fail_unsupported(c, "input " + in.str() + " of rank " +
                                           std::to_string(in.rank()) +
                                           " (Dense takes [N,features] or [N,H,W,C])");
        std::vector<int> ins{c.in[0], constant(c.layer.name + "/kernel", std::move(*kernel))};
        CNNLENS_RETURN_IF_ERROR(bias_input(c, *units, ins));
        return with_activation(c, OpType::kMatMul, MatMulAttrs{}, std::move(ins), activation_of(c));
    }

    Status batch_normalization(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        const Shape in = shape_of(c.in[0]);
        const json& cfg = c.layer.config;
        int axis = -1;
        if (cfg.contains("axis")) {
            const json& ax =
                cfg["axis"].is_array() && cfg["axis"].size() == 1 ? cfg["axis"][0] : cfg["axis"];
            if (!ax.is_number_integer())
                return fail_unsupported(
                    c, "axis " + cfg["axis"].dump() + " (one channel axis is supported)");
            axis = ax.get<int>();
        }
        if (axis != -1 && axis != in.rank() - 1)
            return fail_unsupported(c, "axis " + std::to_string(axis) + " of input " + in.str() +
                                           " (the last axis, channels_last, is supported)");
        auto eps = number(c, "epsilon", 1e-3f);
        if (!eps) return eps.status();
        const int64_t ch = in.dim(-1);
        Tensor gamma(Shape{ch}, 1.f), beta(Shape{ch}, 0.f);
        if (flag(c, "scale", true)) {
            auto g = weight(c, "gamma", Shape{ch});
            if (!g) return g.status();
            gamma = std::move(*g);
        }
        if (flag(c, "center", true)) {
            auto b = weight(c, "beta", Shape{ch});
            if (!b) return b.status();
            beta = std::move(*b);
        }
        auto mean = weight(c, "moving_mean", Shape{ch});
        if (!mean) return mean.status();
        auto var = weight(c, "moving_variance", Shape{ch});
        if (!var) return var.status();
        Tensor scale(Shape{ch}), shift(Shape{ch});
        for (int64_t k = 0; k < ch; ++k) {
            const float v = (*var)[k] + *eps;
            if (!(v > 0.f))
                return fail(c, "moving_variance[" + std::to_string(k) + "] + epsilon is " +
                                   std::to_string(v) + " (must be positive)");
            scale[k] = gamma[k] / std::sqrt(v);
            shift[k] = beta[k] - (*mean)[k] * scale[k];
        }
        return add_final(c, OpType::kBatchNorm, NoAttrs{},
                         {c.in[0], constant(c.layer.name + "/scale", std::move(scale)),
                          constant(c.layer.name + "/shift", std::move(shift))});
    }

    Status activation_layer(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        auto out = activation(c, c.in[0], activation_of(c), c.name);
        if (!out) return out.status();
        c.out = *out;
        return Status::ok();
    }

    // ReLU(max_value, negative_slope, threshold): the forms our ops express exactly.
    Status relu(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        auto slope = number(c, "negative_slope", 0.f);
        if (!slope) return slope.status();
        auto threshold = number(c, "threshold", 0.f);
        if (!threshold) return threshold.status();
        const json& cfg = c.layer.config;
        const bool capped = cfg.contains("max_value") && !cfg["max_value"].is_null();
        auto max_value = number(c, "max_value", 0.f);
        if (!max_value) return max_value.status();
        if (*threshold != 0.f)
            return fail_unsupported(
                c, "threshold " + std::to_string(*threshold) + " (only 0 is supported)");
        if (capped && *slope != 0.f)
            return fail_unsupported(
                c, "max_value together with negative_slope " + std::to_string(*slope));
        if (!capped) {
            if (*slope == 0.f) return add_final(c, OpType::kRelu, NoAttrs{}, {c.in[0]});
            return add_final(c, OpType::kLeakyRelu, LeakyReluAttrs{*slope}, {c.in[0]});
        }
        if (!(*max_value > 0.f))
            return fail_unsupported(
                c, "max_value " + std::to_string(*max_value) + " (must be positive)");
        if (*max_value == 6.f) return add_final(c, OpType::kRelu6, NoAttrs{}, {c.in[0]});
        // min(max(x, 0), m) = m/6 * relu6(6x/m)
        auto in = add(c, c.name + "/prescale", OpType::kMul, NoAttrs{},
                      {c.in[0], scalar(c.name + "/prescale_value", 6.f / *max_value)});
        if (!in) return in.status();
        auto r6 = add(c, c.name + "/relu6", OpType::kRelu6, NoAttrs{}, {*in});
        if (!r6) return r6.status();
        return add_final(c, OpType::kMul, NoAttrs{},
                         {*r6, scalar(c.name + "/postscale_value", *max_value / 6.f)});
    }

    Status leaky_relu(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        const char* k = c.layer.config.contains("negative_slope") ? "negative_slope"
                                                                  : "alpha";  // Keras 3 / Keras 2
        auto alpha = number(c, k, 0.3f);
        if (!alpha) return alpha.status();
        return add_final(c, OpType::kLeakyRelu, LeakyReluAttrs{*alpha}, {c.in[0]});
    }

    Status elu(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        auto alpha = number(c, "alpha", 1.f);
        if (!alpha) return alpha.status();
        return add_final(c, OpType::kElu, EluAttrs{*alpha}, {c.in[0]});
    }

    Status softmax(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        const json& cfg = c.layer.config;
        const int rank = shape_of(c.in[0]).rank();
        if (cfg.contains("axis") && !(cfg["axis"] == -1 || cfg["axis"] == rank - 1))
            return fail_unsupported(
                c, "axis " + cfg["axis"].dump() + " (only the last axis is supported)");
        return add_final(c, OpType::kSoftmax, SoftmaxAttrs{-1}, {c.in[0]});
    }

    // PReLU's alpha has the input's shape without the batch, 1 along shared_axes. The Prelu op
    // takes one alpha, one per channel, or one per element, so other sharings are expanded.
    Status prelu(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        const Shape in = shape_of(c.in[0]);
        std::vector<bool> shared(static_cast<size_t>(in.rank()), false);
        const json& cfg = c.layer.config;
        if (cfg.contains("shared_axes") && !cfg["shared_axes"].is_null()) {
            const json& s = cfg["shared_axes"];
            const json list = s.is_array() ? s : json::array({s});
            for (const json& a : list) {
                if (!a.is_number_integer() || a.get<int>() < 1 || a.get<int>() >= in.rank())
                    return fail(c, "shared_axes " + s.dump() + " do not fit input " + in.str());
                shared[static_cast<size_t>(a.get<int>())] = true;
            }
        }
        Shape want;
        for (int d = 1; d < in.rank(); ++d)
            want.push_back(shared[static_cast<size_t>(d)] ? 1 : in[d]);
        auto alpha = weight(c, "alpha", want);
        if (!alpha) return alpha.status();
        Tensor a;
        bool per_channel = !shared[static_cast<size_t>(in.rank() - 1)];
        for (int d = 1; d + 1 < in.rank(); ++d)
            per_channel = per_channel && shared[static_cast<size_t>(d)];
        if (want.elements() == 1) {
            a = Tensor(Shape{1}, (*alpha)[0]);
        } else if (per_channel) {
            a = std::move(*alpha);
            a.reshape(Shape{in.dim(-1)});
        } else {  // broadcast to one alpha per element of an image
            Shape full;
            for (int d = 1; d < in.rank(); ++d) full.push_back(in[d]);
            a.reset(full);
            for (int64_t i = 0; i < a.size(); ++i) {
                int64_t rest = i, src = 0, stride = 1;
                for (int d = full.rank() - 1; d >= 0; --d) {
                    const int64_t idx = rest % full[d];
                    rest /= full[d];
                    src += (want[d] == 1 ? 0 : idx) * stride;
                    stride *= want[d];
                }
                a[i] = (*alpha)[src];
            }
        }
        return add_final(c, OpType::kPrelu, NoAttrs{},
                         {c.in[0], constant(c.layer.name + "/alpha", std::move(a))});
    }

    Status pooling(Call& c, OpType op) {
        CNNLENS_RETURN_IF_ERROR(image_input(c));
        PoolAttrs p;
        int k[2], s[2];
        CNNLENS_RETURN_IF_ERROR(pair(c, "pool_size", 2, k));
        CNNLENS_RETURN_IF_ERROR(pair(c, "strides", 0, s));
        if (s[0] < 1) {
            s[0] = k[0];
            s[1] = k[1];
        }  // strides null: the pool size
        CNNLENS_RETURN_IF_ERROR(padding(c, p.padding));
        p.kernel_h = k[0];
        p.kernel_w = k[1];
        p.stride_h = s[0];
        p.stride_w = s[1];
        return add_final(c, op, p, {c.in[0]});
    }
    Status max_pooling2d(Call& c) { return pooling(c, OpType::kMaxPool); }
    Status average_pooling2d(Call& c) { return pooling(c, OpType::kAvgPool); }

    Status global_average_pooling2d(Call& c) {
        CNNLENS_RETURN_IF_ERROR(image_input(c));
        return add_final(c, OpType::kMean, ReduceAttrs{{1, 2}, flag(c, "keepdims", false)},
                         {c.in[0]});
    }

    Status global_max_pooling2d(Call& c) {
        CNNLENS_RETURN_IF_ERROR(image_input(c));
        const Shape in = shape_of(c.in[0]);
        PoolAttrs p;
        p.kernel_h = static_cast<int>(in[1]);
        p.kernel_w = static_cast<int>(in[2]);
        if (flag(c, "keepdims", false)) return add_final(c, OpType::kMaxPool, p, {c.in[0]});
        auto pool = add(c, c.name + "/pool", OpType::kMaxPool, p, {c.in[0]});
        if (!pool) return pool.status();
        return add_final(c, OpType::kReshape, ReshapeAttrs{{-1, in[3]}}, {*pool});
    }

    Status flatten(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        const Shape in = shape_of(c.in[0]);
        return add_final(c, OpType::kReshape, ReshapeAttrs{{-1, in.elements()}},
                         {c.in[0]});  // NHWC order = Keras' channels_last
    }

    Status reshape(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        const json& cfg = c.layer.config;
        if (!cfg.contains("target_shape") || !cfg["target_shape"].is_array() ||
            cfg["target_shape"].empty() || static_cast<int>(cfg["target_shape"].size()) >= kMaxRank)
            return fail(c, "target_shape " +
                               (cfg.contains("target_shape") ? cfg["target_shape"].dump()
                                                             : std::string("(missing)")) +
                               " is not a list of 1 to " + std::to_string(kMaxRank - 1) + " sizes");
        ReshapeAttrs r{{-1}};
        for (const json& d : cfg["target_shape"]) {
            if (!d.is_number_integer() || d.get<int64_t>() == 0 || d.get<int64_t>() < -1 ||
                d.get<int64_t>() > (1 << 28))
                return fail(c,
                            "target_shape " + cfg["target_shape"].dump() + " has size " + d.dump());
            r.shape.push_back(d.get<int64_t>());
        }
        return add_final(c, OpType::kReshape, r, {c.in[0]});
    }

    Status zero_padding2d(Call& c) {
        CNNLENS_RETURN_IF_ERROR(image_input(c));
        const json& cfg = c.layer.config;
        const json p = cfg.contains("padding") ? cfg["padding"] : json(1);
        auto count = [](const json& e) {
            return e.is_number_integer() && e.get<int64_t>() >= 0 && e.get<int64_t>() <= 4096;
        };
        int64_t t, b, l, r;
        if (count(p)) {
            t = b = l = r = p.get<int64_t>();
        } else if (p.is_array() && p.size() == 2 && count(p[0]) && count(p[1])) {
            t = b = p[0].get<int64_t>();
            l = r = p[1].get<int64_t>();
        } else if (p.is_array() && p.size() == 2 && p[0].is_array() && p[1].is_array() &&
                   p[0].size() == 2 && p[1].size() == 2 && count(p[0][0]) && count(p[0][1]) &&
                   count(p[1][0]) && count(p[1][1])) {
            t = p[0][0].get<int64_t>();
            b = p[0][1].get<int64_t>();
            l = p[1][0].get<int64_t>();
            r = p[1][1].get<int64_t>();
        } else {
            return fail(
                c, "padding " + p.dump() + " is not n, [h, w] or [[top, bottom], [left, right]]");
        }
        return add_final(c, OpType::kPad, PadAttrs{{{0, 0}, {t, b}, {l, r}, {0, 0}}, 0.f},
                         {c.in[0]});
    }

    // Add / Multiply over any number of inputs: a chain of binary nodes, the last named after the
    // layer.
    Status chain(Call& c, OpType op, const std::string& final_name) {
        if (c.in.size() < 2)
            return fail(c, "expects at least 2 inputs, got " + std::to_string(c.in.size()));
        int acc = c.in[0];
        for (size_t k = 1; k < c.in.size(); ++k) {
            auto id =
                add(c, k + 1 == c.in.size() ? final_name : c.name + "/partial_" + std::to_string(k),
                    op, NoAttrs{}, {acc, c.in[k]});
            if (!id) return id.status();
            acc = *id;
        }
        c.out = acc;
        return Status::ok();
    }
    Status add_layer_op(Call& c) { return chain(c, OpType::kAdd, c.name); }
    Status multiply(Call& c) { return chain(c, OpType::kMul, c.name); }
    Status subtract(Call& c) {
        if (c.in.size() != 2)
            return fail(c, "expects 2 inputs, got " + std::to_string(c.in.size()));
        return add_final(c, OpType::kSub, NoAttrs{}, {c.in[0], c.in[1]});
    }
    Status average(Call& c) {
        CNNLENS_RETURN_IF_ERROR(chain(c, OpType::kAdd, c.name + "/sum"));
        const float inv = 1.f / static_cast<float>(c.in.size());
        return add_final(c, OpType::kMul, NoAttrs{},
                         {c.out, scalar(c.name + "/inverse_count", inv)});
    }

    Status concatenate(Call& c) {
        if (c.in.empty()) return fail(c, "has no inputs");
        const json& cfg = c.layer.config;
        const int rank = shape_of(c.in[0]).rank();
        int axis = -1;
        if (cfg.contains("axis")) {
            if (!cfg["axis"].is_number_integer())
                return fail(c, "axis " + cfg["axis"].dump() + " is not an integer");
            axis = cfg["axis"].get<int>();
        }
        if (axis < -rank || axis >= rank)
            return fail(c, "axis " + std::to_string(axis) + " is out of range for input " +
                               shape_of(c.in[0]).str());
        if (axis < 0) axis += rank;
        if (axis == 0) return fail_unsupported(c, "concatenating along the batch axis");
        return add_final(c, OpType::kConcat, ConcatAttrs{axis}, c.in);
    }

    // Rescaling: y = x * scale + offset (scalars, or one value per channel).
    Status rescaling(Call& c) {
        CNNLENS_RETURN_IF_ERROR(one_input(c));
        auto values = [&](const char* k, float def) -> Expected<Tensor> {
            const json& cfg = c.layer.config;
            if (!cfg.contains(k) || cfg[k].is_null()) return Tensor(Shape{1}, def);
            const json list = cfg[k].is_array() ? cfg[k] : json::array({cfg[k]});
            const int64_t ch = shape_of(c.in[0]).dim(-1);
            if (list.empty() || (list.size() != 1 && static_cast<int64_t>(list.size()) != ch))
                return fail(c, std::string(k) + " " + cfg[k].dump() +
                                   " is neither one value nor one per channel");
            Tensor t(Shape{static_cast<int64_t>(list.size())});
            for (size_t i = 0; i < list.size(); ++i) {
                if (!list[i].is_number())
                    return fail(c, std::string(k) + " " + cfg[k].dump() + " is not a number");
                t[static_cast<int64_t>(i)] = list[i].get<float>();
            }
            return t;
        };
        auto scale = values("scale", 1.f);
        if (!scale) return scale.status();
        auto offset = values("offset", 0.f);
        if (!offset) return offset.status();
        bool zero_offset = true;
        for (int64_t i = 0; i < offset->size(); ++i)
            zero_offset = zero_offset && (*offset)[i] == 0.f;
        auto scaled = add(c, zero_offset ? c.name : c.name + "/scaled", OpType::kMul, NoAttrs{},
                          {c.in[0], constant(c.name + "/scale", std::move(*scale))});
        if (!scaled) return scaled.status();
        if (zero_offset) {
            c.out = *scaled;
            return Status::ok();
        }
        return add_final(c, OpType::kAdd, NoAttrs{},
                         {*scaled, constant(c.name + "/offset", std::move(*offset))});
    }

    const FileSource& files_;
    std::string json_name_;
    std::map<std::string, TfjsWeight> weights_;
    std::vector<KerasLayer> layers_;
    std::map<std::string, int> layer_index_;
    TensorRef input_, output_;
    std::map<std::string, int> made_;  // key(layer, call) -> node
    Graph g_;
};

}  // namespace

bool is_tfjs_layers_model(std::string_view text) {
    const json root = json::parse(text.begin(), text.end(), nullptr, false);
    if (root.is_discarded() || !root.is_object()) return false;
    if (root.contains("format") && root["format"] == "layers-model") return true;
    if (!root.contains("modelTopology") || !root["modelTopology"].is_object()) return false;
    const json& t = root["modelTopology"];
    return t.contains("model_config") || t.contains("class_name");
}

Expected<Graph> import_tfjs_layers(std::string_view json_text, const FileSource& files,
                                   const std::string& json_name) {
    LayersImporter imp(files, json_name);
    return imp.run(json_text);
}

}  // namespace cnnlens
