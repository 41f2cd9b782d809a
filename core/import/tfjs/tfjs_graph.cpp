// TF.js graph-model import: one small mapping function per TensorFlow op.
#include "core/import/tfjs/tfjs_graph.h"

#include "core/import/tfjs/tfjs_weights.h"

#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/base/limits.h"

namespace cnnlens {
namespace {

using json = nlohmann::json;

std::string base64_decode(std::string_view in) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+' || c == '-') return 62;
        if (c == '/' || c == '_') return 63;
        return -1;
    };
    std::string out;
    int buf = 0, bits = 0;
    for (char c : in) {
        const int v = val(c);
        if (v < 0) continue;
        buf = (buf << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buf >> bits) & 0xff));
        }
    }
    return out;
}

// A TF node's attributes, read leniently (TF.js writes ints as strings).
struct Attrs {
    const json* a;
    const json* get(const char* k) const { return a && a->contains(k) ? &(*a)[k] : nullptr; }
    static int64_t to_int(const json& v) {
        return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
    }
    std::string str(const char* k, const std::string& def = "") const {
        const json* v = get(k);
        return v && v->contains("s") ? base64_decode((*v)["s"].get<std::string>()) : def;
    }
    std::vector<int64_t> ints(const char* k) const {
        std::vector<int64_t> r;
        const json* v = get(k);
        if (v && v->contains("list") && (*v)["list"].contains("i"))
            for (const json& e : (*v)["list"]["i"]) r.push_back(to_int(e));
        return r;
    }
    std::vector<std::string> strs(const char* k) const {
        std::vector<std::string> r;
        const json* v = get(k);
        if (v && v->contains("list") && (*v)["list"].contains("s"))
            for (const json& e : (*v)["list"]["s"])
                r.push_back(base64_decode(e.get<std::string>()));
        return r;
    }
    float f(const char* k, float def) const {
        const json* v = get(k);
        return v && v->contains("f") ? (*v)["f"].get<float>() : def;
    }
    int64_t i(const char* k, int64_t def) const {
        const json* v = get(k);
        return v && v->contains("i") ? to_int((*v)["i"]) : def;
    }
    bool b(const char* k, bool def) const {
        const json* v = get(k);
        return v && v->contains("b") ? (*v)["b"].get<bool>() : def;
    }
};

struct TfNode {
    std::string name, op;
    std::vector<std::string> inputs;
    const json* attr = nullptr;
};

class Importer {
public:
    Importer(const FileSource& files, std::string json_name)
        : files_(files), json_name_(std::move(json_name)) {}

    Expected<Graph> run(std::string_view text) {
        json root = json::parse(text.begin(), text.end(), nullptr, false);
        if (root.is_discarded() || !root.is_object())
            return corrupt(json_name_ + ": not valid JSON");
        const std::string format = root.value("format", "");
        if (format == "layers-model" ||
            (root.contains("modelTopology") && root["modelTopology"].contains("class_name")))
            return unsupported(json_name_ +
                               ": is a TF.js layers model (Keras); only graph models are supported "
                               "by this importer");
        if (!root.contains("modelTopology") || !root["modelTopology"].contains("node") ||
            !root["modelTopology"]["node"].is_array())
            return corrupt(json_name_ +
                           ": no modelTopology.node list (is this a TF.js graph model?)");
        if (!root.contains("weightsManifest") || !root["weightsManifest"].is_array())
            return corrupt(json_name_ + ": no weightsManifest");
        auto w = read_tfjs_weights(root["weightsManifest"], files_, json_name_);
        if (!w) return w.status();
        weights_ = std::move(*w);
        CNNLENS_RETURN_IF_ERROR(read_nodes(root["modelTopology"]["node"]));
        CNNLENS_RETURN_IF_ERROR(check_ops());
        std::vector<int> order;
        CNNLENS_RETURN_IF_ERROR(topo_sort(order));
        for (int i : order) CNNLENS_RETURN_IF_ERROR(convert(tf_[static_cast<size_t>(i)]));
        CNNLENS_RETURN_IF_ERROR(pick_output(root));
        CNNLENS_RETURN_IF_ERROR(g_.validate());
        return std::move(g_);
    }

private:
    using Weight = TfjsWeight;

    // --- topology ------------------------------------------------------------------------
    static std::string strip(const std::string& in) {
        std::string s = in;
        const size_t colon = s.rfind(':');
        if (colon != std::string::npos && colon + 1 < s.size() &&
            std::isdigit(static_cast<unsigned char>(s[colon + 1])))
            s = s.substr(0, colon);
        return s;
    }

    Status read_nodes(const json& nodes) {
        if (static_cast<int64_t>(nodes.size()) > limits::kMaxNodes)
            return out_of_range(json_name_ + ": the graph has " + std::to_string(nodes.size()) +
                                " nodes, over the limit of " + std::to_string(limits::kMaxNodes));
        for (const json& n : nodes) {
            if (!n.is_object() || !n.contains("name") || !n.contains("op"))
                return corrupt(json_name_ + ": a node without name or op");
            TfNode t;
            t.name = n["name"].get<std::string>();
            t.op = n["op"].get<std::string>();
            if (n.contains("input"))
                for (const json& i : n["input"]) {
                    const std::string s = i.get<std::string>();
                    if (!s.empty() && s[0] == '^') continue;  // control dependency
                    t.inputs.push_back(strip(s));
                }
            t.attr = n.contains("attr") ? &n["attr"] : nullptr;
            if (index_.count(t.name))
                return corrupt(json_name_ + ": two nodes are named '" + t.name + "'");
            index_[t.name] = static_cast<int>(tf_.size());
            tf_.push_back(std::move(t));
        }
        return Status::ok();
    }

    Status check_ops() {
        std::map<std::string, std::vector<std::string>> bad;
        for (const TfNode& t : tf_)
            if (!find_op(t.op)) bad[t.op].push_back(t.name);
        for (const TfNode& t : tf_)
            for (const std::string& i : t.inputs)
                if (!index_.count(i) && !weights_.count(i))
                    return corrupt(json_name_ + ": node '" + t.name + "' reads '" + i +
                                   "', which is not a node of the graph");
        if (bad.empty()) return Status::ok();
        std::string msg = json_name_ + ": unsupported ops: ";
        bool first = true;
        for (auto& [op, names] : bad) {
            if (!first) msg += "; ";
            first = false;
            msg += op + " (" + std::to_string(names.size()) + " node" +
                   (names.size() > 1 ? "s" : "") + ": ";
            for (size_t k = 0; k < names.size() && k < 5; ++k) msg += (k ? ", " : "") + names[k];
            if (names.size() > 5) msg += ", ...";
            msg += ")";
        }
        return unsupported(msg);
    }

    Status topo_sort(std::vector<int>& order) {
        // Iterative DFS; a node met again while on the stack closes a cycle.
        std::vector<int> state(tf_.size(), 0);  // 0 new, 1 on stack, 2 done
        for (size_t root = 0; root < tf_.size(); ++root) {
            if (state[root]) continue;
            std::vector<std::pair<int, size_t>> stack{{static_cast<int>(root), 0}};
            state[root] = 1;
            while (!stack.empty()) {
                auto& [n, next] = stack.back();
                const TfNode& t = tf_[static_cast<size_t>(n)];
                if (next < t.inputs.size()) {
                    auto it = index_.find(t.inputs[next++]);
                    if (it == index_.end()) continue;
                    const int m = it->second;
                    if (state[static_cast<size_t>(m)] == 1)
                        return invalid_argument(json_name_ +
                                                ": the graph has a cycle through node '" +
                                                tf_[static_cast<size_t>(m)].name + "'");
                    if (state[static_cast<size_t>(m)] == 0) {
                        state[static_cast<size_t>(m)] = 1;
                        stack.push_back({m, 0});
                    }
                } else {
                    state[static_cast<size_t>(n)] = 2;
                    order.push_back(n);
                    stack.pop_back();
                }
            }
        }
        return Status::ok();
    }

    // --- helpers for conversion ----------------------------------------------------------
    Status fail(const TfNode& t, const std::string& what) {
        return invalid_argument(t.op + " node '" + t.name + "': " + what);
    }

    // The graph node carrying TF value `name` (a Const is materialised on first use).
    Expected<int> value(const TfNode& t, size_t k) {
        if (k >= t.inputs.size()) return fail(t, "missing input " + std::to_string(k));
        const std::string& name = t.inputs[k];
        auto it = made_.find(name);
        if (it != made_.end()) return it->second;
        auto w = weights_.find(name);
        if (w == weights_.end())
            return fail(t, "input '" + name + "' has no value (a Const without weights?)");
        const int id = g_.add_const(name, w->second.value.clone());
        made_[name] = id;
        return id;
    }
    const Weight* weight(const TfNode& t, size_t k) {
        if (k >= t.inputs.size()) return nullptr;
        auto it = weights_.find(t.inputs[k]);
        return it == weights_.end() ? nullptr : &it->second;
    }
    void define(const TfNode& t, int id) { made_[t.name] = id; }

    Status padding(const TfNode& t, const Attrs& a, PaddingMode& mode, int p[4]) {
        const std::string s = a.str("padding", "VALID");
        p[0] = p[1] = p[2] = p[3] = 0;
        if (s == "SAME")
            mode = PaddingMode::kSame;
        else if (s == "VALID")
            mode = PaddingMode::kValid;
        else if (s == "EXPLICIT") {
            mode = PaddingMode::kExplicit;
            auto e = a.ints("explicit_paddings");
            if (e.size() != 8)
                return fail(
                    t, "explicit_paddings has " + std::to_string(e.size()) + " values, expected 8");
            p[0] = static_cast<int>(e[2]);
            p[1] = static_cast<int>(e[3]);
            p[2] = static_cast<int>(e[4]);
            p[3] = static_cast<int>(e[5]);
        } else
            return fail(t, "padding '" + s + "' is not supported");
        if (a.str("data_format", "NHWC") != "NHWC")
            return fail(t,
                        "data_format '" + a.str("data_format") + "' is not supported (NHWC only)");
        return Status::ok();
    }

    Status activation_from(const TfNode& t, const std::string& op, const Attrs& a, Activation& act,
                           float& alpha) {
        alpha = 0.f;
        if (op == "Relu")
            act = Activation::kRelu;
        else if (op == "Relu6")
            act = Activation::kRelu6;
        else if (op == "Elu")
            act = Activation::kElu;
        else if (op == "Sigmoid")
            act = Activation::kSigmoid;
        else if (op == "Tanh")
            act = Activation::kTanh;
        else if (op == "LeakyRelu") {
            act = Activation::kLeakyRelu;
            alpha = a.f("leakyrelu_alpha", 0.2f);
        } else
            return fail(t, "fused activation '" + op + "' is not supported");
        return Status::ok();
    }

    // Conv2D / DepthwiseConv2dNative and their fused forms.
    Status convert_conv(const TfNode& t, bool depthwise, bool fused) {
        Attrs a{t.attr};
        ConvAttrs c;
        int p[4];
        CNNLENS_RETURN_IF_ERROR(padding(t, a, c.padding, p));
        c.pad_top = p[0];
        c.pad_bottom = p[1];
        c.pad_left = p[2];
        c.pad_right = p[3];
        auto st = a.ints("strides"), dil = a.ints("dilations");
        if (st.size() == 4) {
            c.stride_h = static_cast<int>(st[1]);
            c.stride_w = static_cast<int>(st[2]);
        }
        if (dil.size() == 4) {
            c.dilation_h = static_cast<int>(dil[1]);
            c.dilation_w = static_cast<int>(dil[2]);
        }
        if (st.size() == 4 && (st[0] != 1 || st[3] != 1))
            return fail(t, "strides on batch or channels are not supported");
        const Weight* w = weight(t, 1);
        if (!w || w->value.shape().rank() != 4)
            return fail(t, "the filter must be a constant 4-D tensor");
        Tensor filter = w->value.clone();
        const Shape fs = filter.shape();
        if (depthwise) {  // [kh,kw,C,m] -> [kh,kw,1,C*m], groups = C
            c.groups = static_cast<int>(fs[2]);
            filter.reshape(Shape{fs[0], fs[1], 1, fs[2] * fs[3]});
        }
        Tensor bias;
        std::vector<std::string> fused_ops =
            fused ? a.strs("fused_ops") : std::vector<std::string>{};
        std::string act_op;
        int prelu_alpha = -1;
        const int64_t out_c = filter.shape()[3];
        size_t arg = 2;
        for (size_t k = 0; k < fused_ops.size(); ++k) {
            const std::string& f = fused_ops[k];
            if (f == "BiasAdd") {
                const Weight* b = weight(t, arg++);
                if (!b || b->value.size() != out_c)
                    return fail(t, "BiasAdd argument is missing or has the wrong size");
                bias = b->value.clone();
                bias.reshape(Shape{out_c});
            } else if (f == "FusedBatchNorm") {
                const Weight *sc = weight(t, arg), *of = weight(t, arg + 1),
                             *mn = weight(t, arg + 2), *vr = weight(t, arg + 3);
                arg += 4;
                if (!sc || !of || !mn || !vr || sc->value.size() != out_c ||
                    of->value.size() != out_c || mn->value.size() != out_c ||
                    vr->value.size() != out_c)
                    return fail(t, "FusedBatchNorm arguments are missing or have the wrong size");
                const float eps = a.f("epsilon", 1e-3f);
                bias.reset(Shape{out_c});
                for (int64_t o = 0; o < out_c; ++o) {
                    const float s = sc->value[o] / std::sqrt(vr->value[o] + eps);
                    for (int64_t i = o; i < filter.size(); i += out_c) filter[i] *= s;
                    bias[o] = of->value[o] - mn->value[o] * s;
                }
            } else if (f == "Prelu") {
                prelu_alpha = static_cast<int>(arg++);
                act_op = f;
            } else if (k + 1 == fused_ops.size()) {
                act_op = f;
            } else {
                return fail(t, "fused op '" + f + "' is not supported");
            }
        }
        // Activations whose derivative the VJP reads off the output are fused; others
        // (Prelu, LeakyRelu with slope <= 0) become a node of their own.
        bool separate = act_op == "Prelu";
        if (!act_op.empty() && !separate) {
            CNNLENS_RETURN_IF_ERROR(activation_from(t, act_op, a, c.activation, c.alpha));
            if (c.activation == Activation::kLeakyRelu && c.alpha <= 0.f) {
                separate = true;
                c.activation = Activation::kNone;
            }
        }
        auto x = value(t, 0);
        if (!x) return x.status();
        const std::string conv_name = separate ? t.name + "/conv" : t.name;
        std::vector<int> ins{*x, g_.add_const(t.name + "/filter", std::move(filter))};
        if (!bias.empty()) ins.push_back(g_.add_const(t.name + "/bias", std::move(bias)));
        int id = g_.add_node(conv_name, OpType::kConv2D, c, ins);
        if (separate) {
            if (act_op == "Prelu") {
                auto al = value(t, static_cast<size_t>(prelu_alpha));
                if (!al) return al.status();
                id = g_.add_node(t.name, OpType::kPrelu, NoAttrs{}, {id, *al});
            } else {
                id = g_.add_node(t.name, OpType::kLeakyRelu,
                                 LeakyReluAttrs{a.f("leakyrelu_alpha", 0.2f)}, {id});
            }
        }
        define(t, id);
        return Status::ok();
    }

    Status convert_matmul(const TfNode& t, bool fused) {
        Attrs a{t.attr};
        if (a.b("transpose_a", false)) return fail(t, "transpose_a is not supported");
        const Weight* w = weight(t, 1);
        if (!w || w->value.shape().rank() != 2)
            return fail(t, "the second operand must be a constant matrix");
        Tensor b = w->value.clone();
        if (a.b("transpose_b", false)) {
            const int64_t r = b.shape()[0], c = b.shape()[1];
            Tensor bt(Shape{c, r});
            for (int64_t i = 0; i < r; ++i)
                for (int64_t j = 0; j < c; ++j) bt[j * r + i] = b[i * c + j];
            b = std::move(bt);
        }
        MatMulAttrs m;
        Tensor bias;
        const int64_t out = b.shape()[1];
        size_t arg = 2;
        std::string act_op;
        for (const std::string& f : fused ? a.strs("fused_ops") : std::vector<std::string>{}) {
            if (f == "BiasAdd") {
                const Weight* bb = weight(t, arg++);
                if (!bb || bb->value.size() != out)
                    return fail(t, "BiasAdd argument is missing or has the wrong size");
                bias = bb->value.clone();
                bias.reshape(Shape{out});
            } else
                act_op = f;
        }
        bool separate = act_op == "Prelu";
        if (!act_op.empty() && !separate) {
            CNNLENS_RETURN_IF_ERROR(activation_from(t, act_op, a, m.activation, m.alpha));
            if (m.activation == Activation::kLeakyRelu && m.alpha <= 0.f) {
                separate = true;
                m.activation = Activation::kNone;
            }
        }
        auto x = value(t, 0);
        if (!x) return x.status();
        std::vector<int> ins{*x, g_.add_const(t.name + "/weights", std::move(b))};
        if (!bias.empty()) ins.push_back(g_.add_const(t.name + "/bias", std::move(bias)));
        int id = g_.add_node(separate ? t.name + "/matmul" : t.name, OpType::kMatMul, m, ins);
        if (separate) {
            if (act_op == "Prelu") {
                auto al = value(t, arg);
                if (!al) return al.status();
                id = g_.add_node(t.name, OpType::kPrelu, NoAttrs{}, {id, *al});
            } else {
                id = g_.add_node(t.name, OpType::kLeakyRelu,
                                 LeakyReluAttrs{a.f("leakyrelu_alpha", 0.2f)}, {id});
            }
        }
        define(t, id);
        return Status::ok();
    }

    Status simple(const TfNode& t, OpType op, OpAttrs attrs, size_t n_inputs) {
        std::vector<int> ins;
        for (size_t k = 0; k < n_inputs; ++k) {
            auto v = value(t, k);
            if (!v) return v.status();
            ins.push_back(*v);
        }
        define(t, g_.add_node(t.name, op, std::move(attrs), ins));
        return Status::ok();
    }

    Expected<std::vector<int64_t>> const_ints(const TfNode& t, size_t k) {
        const Weight* w = weight(t, k);
        if (!w) return fail(t, "input " + std::to_string(k) + " must be a constant");
        std::vector<int64_t> v;
        for (int64_t i = 0; i < w->value.size(); ++i)
            v.push_back(static_cast<int64_t>(std::llround(w->value[i])));
        return v;
    }

    // Normalized axis of a rank-r tensor.
    static int axis_of(int64_t a, int r) { return static_cast<int>(a < 0 ? a + r : a); }

    int rank_of_input(const TfNode& t) {
        auto it = made_.find(t.inputs.empty() ? "" : t.inputs[0]);
        if (it == made_.end()) return 4;
        // Shapes are known once the graph is validated; until then track ranks as we go.
        return ranks_.count(it->second) ? ranks_[it->second] : 4;
    }

    Status convert(const TfNode& t) {
        Attrs a{t.attr};
        const std::string& op = t.op;
        if (op == "Const" || op == "NoOp") {
            if (!weights_.count(t.name) && op == "Const")
                return corrupt(json_name_ + ": Const node '" + t.name +
                               "' has no weights in the manifest");
            return Status::ok();
        }
        if (op == "Placeholder") {
            Shape s;
            const json* sh = a.get("shape");
            if (sh && sh->contains("shape") && (*sh)["shape"].contains("dim"))
                for (const json& d : (*sh)["shape"]["dim"]) {
                    if (s.rank() == kMaxRank)
                        return fail(t, "has more than " + std::to_string(kMaxRank) + " dimensions");
                    s.push_back(Attrs::to_int(d.value("size", json("-1"))));
                }
            if (s.rank() == 0) return fail(t, "has no shape");
            const int id = g_.add_input(t.name, s);
            ranks_[id] = s.rank();
            define(t, id);
            return Status::ok();
        }
        Status st = convert_op(t, a, op);
        if (st.is_ok()) {
            // Track output ranks for axis normalisation in later nodes.
            const int id = made_[t.name];
            if (!ranks_.count(id)) ranks_[id] = guess_rank(t, op);
        }
        return st;
    }

    int guess_rank(const TfNode& t, const std::string& op) {
        const int r = rank_of_input(t);
        const Node& n = g_.node(made_[t.name]);
        if (op == "Mean" || op == "Squeeze") {
            if (auto* ra = std::get_if<ReduceAttrs>(&n.attrs))
                return ra->keep_dims ? r : r - static_cast<int>(ra->axes.size());
            if (auto* sa = std::get_if<SqueezeAttrs>(&n.attrs))
                return sa->axes.empty() ? r : r - static_cast<int>(sa->axes.size());
        }
        if (op == "ExpandDims") return r + 1;
        if (op == "Reshape") return static_cast<int>(std::get<ReshapeAttrs>(n.attrs).shape.size());
        if (op == "MatMul" || op == "_FusedMatMul") return 2;
        return r;
    }

    // Every TF.js op the importer reads, with its conversion; an op missing here is refused with
    // every node that uses it named. A new op is one entry (and its conversion below, when it is
    // more than one engine op).
    struct TfOp {
        std::string_view name;
        Status (*convert)(Importer&, const TfNode&,
                          const Attrs&);  // nullptr: read elsewhere (Const, Placeholder)
    };
    static std::span<const TfOp> ops() {
        using A = const Attrs&;
        using T = const TfNode&;
        static const TfOp table[] = {
            {"Const", nullptr},
            {"NoOp", nullptr},
            {"Placeholder", nullptr},
            {"Identity",
             [](Importer& im, T t, A) { return im.simple(t, OpType::kIdentity, NoAttrs{}, 1); }},
            {"Conv2D", [](Importer& im, T t, A) { return im.convert_conv(t, false, false); }},
            {"_FusedConv2D", [](Importer& im, T t, A) { return im.convert_conv(t, false, true); }},
            {"DepthwiseConv2dNative",
             [](Importer& im, T t, A) { return im.convert_conv(t, true, false); }},
            {"_FusedDepthwiseConv2dNative",
             [](Importer& im, T t, A) { return im.convert_conv(t, true, true); }},
            {"MatMul", [](Importer& im, T t, A) { return im.convert_matmul(t, false); }},
            {"_FusedMatMul", [](Importer& im, T t, A) { return im.convert_matmul(t, true); }},
            {"MaxPool", [](Importer& im, T t, A a) { return im.convert_pool(t, a); }},
            {"AvgPool", [](Importer& im, T t, A a) { return im.convert_pool(t, a); }},
            {"AddV2",
             [](Importer& im, T t, A) { return im.simple(t, OpType::kAdd, NoAttrs{}, 2); }},
            {"Add", [](Importer& im, T t, A) { return im.simple(t, OpType::kAdd, NoAttrs{}, 2); }},
            {"BiasAdd",
             [](Importer& im, T t, A) { return im.simple(t, OpType::kAdd, NoAttrs{}, 2); }},
            {"Sub", [](Importer& im, T t, A) { return im.simple(t, OpType::kSub, NoAttrs{}, 2); }},
            {"Mul", [](Importer& im, T t, A) { return im.simple(t, OpType::kMul, NoAttrs{}, 2); }},
            {"RealDiv",
             [](Importer& im, T t, A) { return im.simple(t, OpType::kDiv, NoAttrs{}, 2); }},
            {"Relu",
             [](Importer& im, T t, A) { return im.simple(t, OpType::kRelu, NoAttrs{}, 1); }},
            {"Relu6",
             [](Importer& im, T t, A) { return im.simple(t, OpType::kRelu6, NoAttrs{}, 1); }},
            {"Elu",
             [](Importer& im, T t, A) { return im.simple(t, OpType::kElu, EluAttrs{1.f}, 1); }},
            {"LeakyRelu",
             [](Importer& im, T t, A a) {
                 return im.simple(t, OpType::kLeakyRelu, LeakyReluAttrs{a.f("alpha", 0.2f)}, 1);
             }},
            {"Prelu",
             [](Importer& im, T t, A) { return im.simple(t, OpType::kPrelu, NoAttrs{}, 2); }},
            {"Sigmoid",
             [](Importer& im, T t, A) { return im.simple(t, OpType::kSigmoid, NoAttrs{}, 1); }},
            {"Tanh",
             [](Importer& im, T t, A) { return im.simple(t, OpType::kTanh, NoAttrs{}, 1); }},
            {"Softmax", [](Importer& im, T t,
                           A) { return im.simple(t, OpType::kSoftmax, SoftmaxAttrs{-1}, 1); }},
            {"Mean", [](Importer& im, T t, A a) { return im.convert_mean(t, a); }},
            {"Reshape", [](Importer& im, T t, A a) { return im.convert_reshape(t, a); }},
            {"Squeeze", [](Importer& im, T t, A a) { return im.convert_squeeze(t, a); }},
            {"ExpandDims", [](Importer& im, T t, A a) { return im.convert_expand_dims(t, a); }},
            {"ConcatV2", [](Importer& im, T t, A a) { return im.convert_concat(t, a); }},
            {"Pad", [](Importer& im, T t, A a) { return im.convert_pad(t, a); }},
            {"PadV2", [](Importer& im, T t, A a) { return im.convert_pad(t, a); }},
            {"FusedBatchNormV3",
             [](Importer& im, T t, A a) { return im.convert_batch_norm(t, a); }},
            {"FusedBatchNorm", [](Importer& im, T t, A a) { return im.convert_batch_norm(t, a); }},
        };
        return table;
    }
    static const TfOp* find_op(std::string_view name) {
        for (const TfOp& op : ops())
            if (op.name == name) return &op;
        return nullptr;
    }

    Status convert_op(const TfNode& t, const Attrs& a, const std::string& op) {
        const TfOp* e = find_op(op);
        if (!e || !e->convert) return unsupported(t.op + " node '" + t.name + "' is not supported");
        return e->convert(*this, t, a);
    }

    // MaxPool and AvgPool: NHWC windows over H and W.
    Status convert_pool(const TfNode& t, const Attrs& a) {
        PoolAttrs p;
        int pads[4];
        CNNLENS_RETURN_IF_ERROR(padding(t, a, p.padding, pads));
        auto k = a.ints("ksize"), s = a.ints("strides");
        if (k.size() != 4 || s.size() != 4) return fail(t, "ksize and strides must have 4 values");
        if (k[0] != 1 || k[3] != 1 || s[0] != 1 || s[3] != 1)
            return fail(t, "pooling over batch or channels is not supported");
        p.kernel_h = static_cast<int>(k[1]);
        p.kernel_w = static_cast<int>(k[2]);
        p.stride_h = static_cast<int>(s[1]);
        p.stride_w = static_cast<int>(s[2]);
        if (p.kernel_h < 1 || p.kernel_w < 1 || p.stride_h < 1 || p.stride_w < 1 ||
            p.kernel_h > 4096 || p.kernel_w > 4096)
            return fail(t, "window " + std::to_string(p.kernel_h) + "x" +
                               std::to_string(p.kernel_w) + " stride " +
                               std::to_string(p.stride_h) + " is not valid");
        return simple(t, t.op == "MaxPool" ? OpType::kMaxPool : OpType::kAvgPool, p, 1);
    }

    // Mean over constant axes.
    Status convert_mean(const TfNode& t, const Attrs& a) {
        auto ax = const_ints(t, 1);
        if (!ax) return ax.status();
        ReduceAttrs r;
        const int rank = rank_of_input(t);
        for (int64_t v : *ax) r.axes.push_back(axis_of(v, rank));
        std::sort(r.axes.begin(), r.axes.end());
        r.keep_dims = a.b("keep_dims", false);
        return simple(t, OpType::kMean, r, 1);
    }

    // Reshape to a constant shape.
    Status convert_reshape(const TfNode& t, const Attrs& a) {
        auto sh = const_ints(t, 1);
        if (!sh) return sh.status();
        ReshapeAttrs r{*sh};
        if (!r.shape.empty() && r.shape[0] == 1)
            r.shape[0] = -1;  // a batch of one, as exported by Keras
        return simple(t, OpType::kReshape, r, 1);
    }

    // Squeeze of the listed axes.
    Status convert_squeeze(const TfNode& t, const Attrs& a) {
        SqueezeAttrs s;
        const int rank = rank_of_input(t);
        for (int64_t v : a.ints("squeeze_dims")) s.axes.push_back(axis_of(v, rank));
        return simple(t, OpType::kSqueeze, s, 1);
    }

    // ExpandDims at a constant axis.
    Status convert_expand_dims(const TfNode& t, const Attrs& a) {
        auto ax = const_ints(t, 1);
        if (!ax || ax->size() != 1) return fail(t, "the axis must be one constant");
        return simple(t, OpType::kExpandDims,
                      ExpandDimsAttrs{axis_of((*ax)[0], rank_of_input(t) + 1)}, 1);
    }

    // ConcatV2: the values, then a constant axis.
    Status convert_concat(const TfNode& t, const Attrs& a) {
        if (t.inputs.size() < 2) return fail(t, "needs at least one value and an axis");
        auto ax = const_ints(t, t.inputs.size() - 1);
        if (!ax || ax->size() != 1) return fail(t, "the axis must be one constant");
        return simple(t, OpType::kConcat, ConcatAttrs{axis_of((*ax)[0], rank_of_input(t))},
                      t.inputs.size() - 1);
    }

    // Pad and PadV2 (with a constant value) by constant [rank, 2] paddings.
    Status convert_pad(const TfNode& t, const Attrs& a) {
        auto p = const_ints(t, 1);
        if (!p || p->size() % 2) return fail(t, "paddings must be a constant [rank, 2] tensor");
        PadAttrs pa;
        for (size_t k = 0; k + 1 < p->size(); k += 2) pa.paddings.push_back({(*p)[k], (*p)[k + 1]});
        if (t.op == "PadV2") {
            const Weight* v = weight(t, 2);
            if (!v || v->value.size() != 1)
                return fail(t, "the constant value must be a scalar constant");
            pa.value = v->value[0];
        }
        return simple(t, OpType::kPad, pa, 1);
    }

    // FusedBatchNorm(V3) at inference: a per-channel scale and shift.
    Status convert_batch_norm(const TfNode& t, const Attrs& a) {
        const Weight *sc = weight(t, 1), *of = weight(t, 2), *mn = weight(t, 3), *vr = weight(t, 4);
        if (!sc || !of || !mn || !vr)
            return fail(t, "scale, offset, mean and variance must be constants");
        const int64_t c = sc->value.size();
        if (of->value.size() != c || mn->value.size() != c || vr->value.size() != c)
            return fail(t, "scale, offset, mean and variance differ in size");
        const float eps = a.f("epsilon", 1e-3f);
        Tensor s(Shape{c}), b(Shape{c});
        for (int64_t k = 0; k < c; ++k) {
            s[k] = sc->value[k] / std::sqrt(vr->value[k] + eps);
            b[k] = of->value[k] - mn->value[k] * s[k];
        }
        auto x = value(t, 0);
        if (!x) return x.status();
        const int sid = g_.add_const(t.name + "/scale", std::move(s));
        const int bid = g_.add_const(t.name + "/shift", std::move(b));
        define(t, g_.add_node(t.name, OpType::kBatchNorm, NoAttrs{}, {*x, sid, bid}));
        return Status::ok();
    }

    Status pick_output(const json& root) {
        // Prefer the signature's output; else the last node nobody consumes.
        std::string out;
        if (root.contains("userDefinedMetadata") &&
            root["userDefinedMetadata"].contains("signature")) {
            const json& sig = root["userDefinedMetadata"]["signature"];
            if (sig.contains("outputs") && sig["outputs"].is_object() && !sig["outputs"].empty())
                out = strip(sig["outputs"].begin().key());
        }
        if (out.empty() || !made_.count(out)) {
            std::set<std::string> consumed;
            for (const TfNode& t : tf_)
                for (const std::string& i : t.inputs) consumed.insert(i);
            for (const TfNode& t : tf_)
                if (t.op != "Const" && t.op != "NoOp" && !consumed.count(t.name)) out = t.name;
        }
        if (out.empty() || !made_.count(out))
            return invalid_argument(json_name_ + ": cannot find the model's output node");
        g_.set_output(made_[out]);
        return Status::ok();
    }

    const FileSource& files_;
    std::string json_name_;
    std::map<std::string, Weight> weights_;
    std::vector<TfNode> tf_;
    std::map<std::string, int> index_;
    std::map<std::string, int> made_;
    std::map<int, int> ranks_;
    Graph g_;
};

}  // namespace

Expected<Graph> import_tfjs_graph(std::string_view json_text, const FileSource& files,
                                  const std::string& json_name) {
    Importer imp(files, json_name);
    auto g = imp.run(json_text);
    // Every error names the file; node-level ones (conversion, validation) are prefixed here.
    if (!g && g.status().message().rfind(json_name + ":", 0) != 0)
        return Status(g.status().code(), json_name + ": " + g.status().message());
    return g;
}

}  // namespace cnnlens
