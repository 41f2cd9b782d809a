// ONNX import: parse ModelProto with the wire reader, fold constant subgraphs, then one small
// mapping function per ONNX op. Layout rules are described in onnx_graph.h.
#include "core/import/onnx/onnx_graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "core/import/onnx/protobuf.h"
#include "core/import/onnx/tensor_proto.h"

namespace cnnlens {
namespace {

using pb::PbField;
using pb::PbReader;
using pb::WireType;

// ONNX TensorProto.DataType values we read.
enum DataType : int { kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7, kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11 };

// Largest tensor evaluated at import (shape arithmetic and small constant subgraphs).
constexpr double kFoldLimit = 1 << 24;

// The batch size inside constant-folded shape arithmetic: unknown until run time.
constexpr int64_t kBatch = std::numeric_limits<int64_t>::min() + 7;

std::string dtype_name(int t) { return onnx_dtype_name(t); }

std::string dims_str(const std::vector<int64_t>& d) {
    std::string s = "[";
    for (size_t i = 0; i < d.size(); ++i) {
        if (i) s += ',';
        s += d[i] == kBatch ? std::string("N") : std::to_string(d[i]);
    }
    return s + "]";
}

int64_t product(const std::vector<int64_t>& d, size_t from = 0, size_t to = std::string::npos) {
    const auto end = d.begin() + static_cast<std::ptrdiff_t>(std::min(to, d.size()));
    int64_t p = 1;
    for (auto it = d.begin() + static_cast<std::ptrdiff_t>(std::min(from, d.size())); it < end; ++it) p *= *it;
    return p;
}

// A constant tensor in ONNX layout: float values or integers (shape arithmetic, indices).
struct ConstValue {
    std::vector<int64_t> dims;
    bool is_int = false;
    std::vector<float> f;
    std::vector<int64_t> i;
    int64_t count() const { return product(dims); }
    double at(int64_t k) const { return is_int ? static_cast<double>(i[static_cast<size_t>(k)]) : f[static_cast<size_t>(k)]; }
    // Element k as an integer: float values are clamped to +-2^40 (NaN: 0) first, so a hostile
    // float never overflows the conversion, and sums of a few such values stay in range; the
    // shape checks then reject them with the value named.
    int64_t int_at(int64_t k) const {
        if (is_int) return i[static_cast<size_t>(k)];
        const double v = f[static_cast<size_t>(k)], lim = static_cast<double>(int64_t{1} << 40);
        return v != v ? 0 : static_cast<int64_t>(std::clamp(v, -lim, lim));
    }
};

ConstValue const_value(OnnxTensor t) {
    ConstValue v;
    v.dims = std::move(t.dims);
    v.is_int = t.is_int();
    v.f = std::move(t.f);
    v.i = std::move(t.i);
    return v;
}

struct Attr {
    std::string name;
    int64_t type = 0;
    float f = 0.f;
    int64_t i = 0;
    std::string s;
    std::vector<float> floats;
    std::vector<int64_t> ints;
    bool has_t = false;
    ConstValue t;
};

struct OnnxNode {
    std::string name, op, domain;
    std::vector<std::string> inputs, outputs;
    std::vector<Attr> attrs;
    std::string label() const { return op + " node '" + name + "'"; }
    const Attr* attr(std::string_view n) const {
        for (const Attr& a : attrs) if (a.name == n) return &a;
        return nullptr;
    }
    int64_t i(std::string_view n, int64_t def) const { const Attr* a = attr(n); return a ? a->i : def; }
    float f(std::string_view n, float def) const { const Attr* a = attr(n); return a ? a->f : def; }
    std::string s(std::string_view n, const std::string& def = "") const { const Attr* a = attr(n); return a ? a->s : def; }
    std::vector<int64_t> ints(std::string_view n) const { const Attr* a = attr(n); return a ? a->ints : std::vector<int64_t>{}; }
};

struct ValueInfo {
    std::string name;
    int64_t elem_type = 0;
    std::vector<int64_t> dims;        // -1 where symbolic or unknown
    std::vector<std::string> params;  // the symbolic names
    bool has_shape = false;
};

struct OnnxModel {
    int64_t ir_version = 0, opset = 0;
    std::string producer;
    std::vector<OnnxNode> nodes;
    std::map<std::string, ConstValue> initializers;
    std::vector<ValueInfo> inputs, outputs;
};

// --- Parsing -------------------------------------------------------------------------------

class Parser {
public:
    Parser(const std::string& file, const OnnxLimits& limits) : file_(file), limits_(limits) {}

    Status model(std::span<const uint8_t> bytes, OnnxModel& m) {
        PbReader r(bytes, file_ + ": ModelProto");
        PbField f;
        bool has_graph = false;
        while (r.more()) {
            CNNLENS_RETURN_IF_ERROR(r.next(f));
            switch (f.number) {
                case 1: CNNLENS_RETURN_IF_ERROR(pb::read_int(r, f, "ir_version", m.ir_version)); break;
                case 2: CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "producer_name", m.producer)); break;
                case 7: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "graph"));
                    PbReader g = r.sub(f, file_ + ": GraphProto");
                    CNNLENS_RETURN_IF_ERROR(graph(g, m));
                    has_graph = true;
                    break;
                }
                case 8: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "opset_import"));
                    PbReader o = r.sub(f, file_ + ": OperatorSetIdProto");
                    std::string domain;
                    int64_t version = 0;
                    PbField g;
                    while (o.more()) {
                        CNNLENS_RETURN_IF_ERROR(o.next(g));
                        if (g.number == 1) CNNLENS_RETURN_IF_ERROR(pb::read_string(o, g, "domain", domain));
                        if (g.number == 2) CNNLENS_RETURN_IF_ERROR(pb::read_int(o, g, "version", version));
                    }
                    if (domain.empty() || domain == "ai.onnx") m.opset = version;
                    break;
                }
                default: break;  // doc_string, metadata, functions, training info: not needed
            }
        }
        if (!has_graph) return corrupt(file_ + ": ModelProto has no graph (is this an ONNX model?)");
        return Status::ok();
    }

private:
    Status graph(PbReader& r, OnnxModel& m) {
        PbField f;
        int64_t total = 0;
        while (r.more()) {
            CNNLENS_RETURN_IF_ERROR(r.next(f));
            switch (f.number) {
                case 1: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "node"));
                    if (static_cast<int>(m.nodes.size()) >= limits_.max_nodes)
                        return out_of_range(file_ + ": the graph has more than " + std::to_string(limits_.max_nodes) + " nodes");
                    PbReader n = r.sub(f, file_ + ": NodeProto #" + std::to_string(m.nodes.size()));
                    OnnxNode node;
                    CNNLENS_RETURN_IF_ERROR(parse_node(n, node));
                    m.nodes.push_back(std::move(node));
                    break;
                }
                case 5: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "initializer"));
                    PbReader t = r.sub(f, file_ + ": initializer #" + std::to_string(m.initializers.size()));
                    ConstValue v;
                    std::string name;
                    CNNLENS_RETURN_IF_ERROR(tensor(t, v, name, "initializer"));
                    total += v.count();
                    if (total > limits_.max_total_elements)
                        return out_of_range(file_ + ": the initializers hold more than " + std::to_string(limits_.max_total_elements) + " values");
                    m.initializers[name] = std::move(v);
                    break;
                }
                case 11:
                case 12: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, f.number == 11 ? "input" : "output"));
                    PbReader v = r.sub(f, file_ + ": ValueInfoProto");
                    ValueInfo vi;
                    CNNLENS_RETURN_IF_ERROR(value_info(v, vi));
                    (f.number == 11 ? m.inputs : m.outputs).push_back(std::move(vi));
                    break;
                }
                case 15: return unsupported(file_ + ": sparse initializers are not supported");
                default: break;
            }
        }
        return Status::ok();
    }

    Status parse_node(PbReader& r, OnnxNode& n) {
        PbField f;
        while (r.more()) {
            CNNLENS_RETURN_IF_ERROR(r.next(f));
            std::string s;
            switch (f.number) {
                case 1: CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "input", s)); n.inputs.push_back(s); break;
                case 2: CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "output", s)); n.outputs.push_back(s); break;
                case 3: CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "name", n.name)); break;
                case 4: CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "op_type", n.op)); break;
                case 7: CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "domain", n.domain)); break;
                case 5: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "attribute"));
                    PbReader a = r.sub(f, r.what() + " attribute");
                    Attr at;
                    CNNLENS_RETURN_IF_ERROR(attribute(a, at));
                    n.attrs.push_back(std::move(at));
                    break;
                }
                default: break;
            }
        }
        if (n.op.empty()) return corrupt(r.what() + " has no op_type");
        if (n.outputs.empty()) return corrupt(r.what() + " ('" + n.name + "', " + n.op + ") has no outputs");
        if (n.name.empty()) n.name = n.outputs[0];
        return Status::ok();
    }

    Status attribute(PbReader& r, Attr& a) {
        PbField f;
        while (r.more()) {
            CNNLENS_RETURN_IF_ERROR(r.next(f));
            switch (f.number) {
                case 1: CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "name", a.name)); break;
                case 20: CNNLENS_RETURN_IF_ERROR(pb::read_int(r, f, "type", a.type)); break;
                case 2: CNNLENS_RETURN_IF_ERROR(pb::read_float(r, f, "f", a.f)); break;
                case 3: CNNLENS_RETURN_IF_ERROR(pb::read_int(r, f, "i", a.i)); break;
                case 4: CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "s", a.s)); break;
                case 5: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "t"));
                    PbReader t = r.sub(f, r.what() + " tensor");
                    std::string ignored;
                    CNNLENS_RETURN_IF_ERROR(tensor(t, a.t, ignored, "constant"));
                    a.has_t = true;
                    break;
                }
                case 7: CNNLENS_RETURN_IF_ERROR(pb::read_repeated_floats(r, f, "floats", a.floats, 1 << 20)); break;
                case 8: CNNLENS_RETURN_IF_ERROR(pb::read_repeated_ints(r, f, "ints", a.ints, 1 << 20)); break;
                default: break;  // graphs, strings, tensors: only used by ops we do not support
            }
        }
        return Status::ok();
    }

    Status value_info(PbReader& r, ValueInfo& v) {
        PbField f;
        while (r.more()) {
            CNNLENS_RETURN_IF_ERROR(r.next(f));
            if (f.number == 1) CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "name", v.name));
            if (f.number != 2) continue;
            CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "type"));
            PbReader t = r.sub(f, r.what() + " type");
            PbField g;
            while (t.more()) {
                CNNLENS_RETURN_IF_ERROR(t.next(g));
                if (g.number != 1) continue;  // sequence/map/optional types are left undescribed
                CNNLENS_RETURN_IF_ERROR(t.expect(g, WireType::kLengthDelimited, "tensor_type"));
                PbReader tt = t.sub(g, t.what());
                PbField h;
                while (tt.more()) {
                    CNNLENS_RETURN_IF_ERROR(tt.next(h));
                    if (h.number == 1) CNNLENS_RETURN_IF_ERROR(pb::read_int(tt, h, "elem_type", v.elem_type));
                    if (h.number != 2) continue;
                    CNNLENS_RETURN_IF_ERROR(tt.expect(h, WireType::kLengthDelimited, "shape"));
                    v.has_shape = true;
                    PbReader sh = tt.sub(h, tt.what() + " shape");
                    PbField d;
                    while (sh.more()) {
                        CNNLENS_RETURN_IF_ERROR(sh.next(d));
                        if (d.number != 1) continue;
                        CNNLENS_RETURN_IF_ERROR(sh.expect(d, WireType::kLengthDelimited, "dim"));
                        if (v.dims.size() >= 16) return unsupported(r.what() + " '" + v.name + "' has more than 16 dimensions");
                        PbReader dr = sh.sub(d, sh.what() + " dim");
                        int64_t value = -1;
                        std::string param;
                        PbField e;
                        while (dr.more()) {
                            CNNLENS_RETURN_IF_ERROR(dr.next(e));
                            if (e.number == 1) CNNLENS_RETURN_IF_ERROR(pb::read_int(dr, e, "dim_value", value));
                            if (e.number == 2) CNNLENS_RETURN_IF_ERROR(pb::read_string(dr, e, "dim_param", param));
                        }
                        v.dims.push_back(value);
                        v.params.push_back(param);
                    }
                }
            }
        }
        return Status::ok();
    }

    // TensorProto -> ConstValue; weights must be finite.
    Status tensor(PbReader& r, ConstValue& v, std::string& name, const char* kind) {
        OnnxTensor t;
        CNNLENS_RETURN_IF_ERROR(parse_tensor_proto(r, file_, kind, limits_.max_tensor_elements, t));
        name = t.name;
        v = const_value(std::move(t));
        for (size_t k = 0; k < v.f.size(); ++k)
            if (!std::isfinite(v.f[k]))
                return corrupt(file_ + ": " + kind + " '" + name + "' holds " + (std::isnan(v.f[k]) ? "NaN" : "an infinite value") + " at element " + std::to_string(k) + " of " +
                               dims_str(v.dims));
        return Status::ok();
    }

    const std::string& file_;
    const OnnxLimits& limits_;
};

// --- Constant folding helpers (ONNX layout, small tensors) ---------------------------------

std::vector<int64_t> strides_of(const std::vector<int64_t>& d) {
    std::vector<int64_t> s(d.size(), 1);
    for (int k = static_cast<int>(d.size()) - 2; k >= 0; --k) s[static_cast<size_t>(k)] = s[static_cast<size_t>(k) + 1] * d[static_cast<size_t>(k) + 1];
    return s;
}

// Calls f(index vector) for every element in row-major order.
void for_each_index(const std::vector<int64_t>& dims, const std::function<void(const std::vector<int64_t>&)>& f) {
    const int64_t n = product(dims);
    std::vector<int64_t> idx(dims.size(), 0);
    for (int64_t k = 0; k < n; ++k) {
        f(idx);
        for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
            if (++idx[static_cast<size_t>(d)] < dims[static_cast<size_t>(d)]) break;
            idx[static_cast<size_t>(d)] = 0;
        }
    }
}

ConstValue like(const ConstValue& src, std::vector<int64_t> dims) {
    ConstValue v;
    v.dims = std::move(dims);
    v.is_int = src.is_int;
    if (v.is_int) v.i.resize(static_cast<size_t>(v.count())); else v.f.resize(static_cast<size_t>(v.count()));
    return v;
}

void copy_elem(ConstValue& dst, int64_t di, const ConstValue& src, int64_t si) {
    if (dst.is_int) dst.i[static_cast<size_t>(di)] = src.i[static_cast<size_t>(si)];
    else dst.f[static_cast<size_t>(di)] = src.f[static_cast<size_t>(si)];
}

// ONNX Slice of one axis of dim > 0 elements: the first index taken and the count (negative
// starts and ends count from the end, then clamp). A step longer than the axis takes at most one
// element either way; clamping it keeps the arithmetic in range for any int64 (fuzzer
// regression).
std::pair<int64_t, int64_t> slice_range(int64_t dim, int64_t start, int64_t end, int64_t step) {
    const int64_t s = std::clamp<int64_t>(step, -dim, dim);
    auto clampi = [&](int64_t v, int64_t lo, int64_t hi) { if (v < 0) v += dim; return std::clamp(v, lo, hi); };
    int64_t b, e;
    if (s > 0) { b = clampi(start, 0, dim); e = clampi(end, 0, dim); }
    else { b = clampi(start, 0, dim - 1); e = end < -dim ? -1 : clampi(end, -1, dim - 1); }
    return {b, s > 0 ? std::max<int64_t>(0, (e - b + s - 1) / s) : std::max<int64_t>(0, (b - e - s - 1) / -s)};
}

// c broadcast (numpy rules) to `dims`, which it must fit.
ConstValue expand(const ConstValue& c, const std::vector<int64_t>& dims) {
    std::vector<int64_t> cd(dims.size() - c.dims.size(), 1);
    cd.insert(cd.end(), c.dims.begin(), c.dims.end());
    const std::vector<int64_t> cs = strides_of(cd);
    ConstValue o = like(c, dims);
    int64_t k = 0;
    for_each_index(dims, [&](const std::vector<int64_t>& idx) {
        int64_t src = 0;
        for (size_t d = 0; d < dims.size(); ++d) if (cd[d] != 1) src += idx[d] * cs[d];
        copy_elem(o, k++, c, src);
    });
    return o;
}

// Whether c broadcasts (numpy rules) to `dims` without growing it.
bool broadcasts_to(const std::vector<int64_t>& c, const std::vector<int64_t>& dims) {
    if (c.size() > dims.size()) return false;
    for (size_t k = 0; k < c.size(); ++k) {
        const int64_t a = c[c.size() - 1 - k], b = dims[dims.size() - 1 - k];
        if (a != 1 && a != b) return false;
    }
    return true;
}

// --- The importer --------------------------------------------------------------------------

// A tensor of the ONNX graph: a constant, or a node of the engine graph. Runtime tensors of
// rank 4 are NHWC in the engine; `onnx` is the ONNX shape (dimension 0 is the batch, held as
// 1), or with an added batch axis (Importer::lead_) 1 followed by the ONNX shape. hwc_flat marks a [N, C*H*W] tensor whose engine memory is in (h, w, c) order.
// `layout`, when set, overrides the default axis order: engine axis i holds ONNX axis
// layout[i]. ONNX Transposes only relabel it and Reshapes follow it, so PyTorch's NCHW<->NHWC
// permutes (ConvNeXt) and channel shuffles (ShuffleNet) cost at most one engine Transpose;
// consumers that need the default order call plain().
struct Value {
    bool is_const = false;
    ConstValue c;
    int node = -1;
    std::vector<int64_t> onnx;
    bool hwc_flat = false;
    int64_t fc = 0, fh = 0, fw = 0;
    std::vector<int> layout;
};

class Importer {
public:
    // add_batch: give every runtime tensor a leading batch axis of size 1 that the model does
    // not have (its first axis is data); ONNX axis k is then axis k + 1 of Value::onnx.
    Importer(const std::string& file, OnnxModel& m, std::span<const OnnxTensor> given, bool add_batch)
        : file_(file), m_(m), lead_(add_batch ? 1 : 0) {
        for (const OnnxTensor& t : given) given_[t.name] = &t;
        g_.set_batch_added(add_batch);
    }

    size_t converted() const { return converted_; }

    Expected<Graph> run() {
        if (m_.opset == 0) return unsupported(file_ + ": the model imports no version of the default ONNX domain");
        if (m_.opset < 1 || m_.opset > 18)
            return unsupported(file_ + ": the model uses ONNX opset " + std::to_string(m_.opset) + "; cnnlens reads opsets 1 to 18 (re-export with torch.onnx.export(..., opset_version=17))");
        CNNLENS_RETURN_IF_ERROR(check_ops());
        CNNLENS_RETURN_IF_ERROR(add_inputs());
        for (const OnnxNode& n : m_.nodes)
            for (const std::string& i : n.inputs) if (!i.empty()) ++consumers_[i];
        for (const ValueInfo& o : m_.outputs) ++consumers_[o.name];
        for (size_t k = 0; k < m_.nodes.size(); ++k) {
            const OnnxNode& n = m_.nodes[k];
            for (const std::string& i : n.inputs)
                if (!i.empty() && !values_.count(i) && !m_.initializers.count(i))
                    return invalid_argument(file_ + ": " + n.label() + " reads '" + i + "', which no earlier node produces (the graph is not in topological order or is incomplete)");
            CNNLENS_RETURN_IF_ERROR(convert(n));
            converted_ = k + 1;
        }
        if (m_.outputs.empty()) return invalid_argument(file_ + ": the graph has no outputs");
        for (const ValueInfo& o : m_.outputs) {
            if (o.elem_type != 0 && o.elem_type != kFloat)
                return unsupported(file_ + ": output '" + o.name + "' has type " + dtype_name(static_cast<int>(o.elem_type)) + "; the engine computes float32 only");
            auto out = runtime_value(o.name, "graph output");
            if (!out) return out.status();
            auto plain_out = plain(**out, o.name);
            if (!plain_out) return plain_out.status();
            if (image_input_ && (*out)->onnx.size() == 3 && (*out)->onnx[1] == 1) {
                // A classifier's [1,K] scores, one row per image of the added batch.
                plain_out = add(o.name + "/rows", OpType::kReshape, ReshapeAttrs{{-1, (*out)->onnx[2]}}, {*plain_out});
                if (!plain_out) return plain_out.status();
            }
            g_.add_output(*plain_out, o.name);
        }
        // Images: the engine nodes holding an ONNX [N,C,H,W] tensor in the NHWC layout (with a
        // batch axis added, the batch-first ops' own results, marked as they are made).
        for (const auto& [name, v] : values_)
            if (!v.is_const && !lead_ && !v.hwc_flat && v.layout.empty() && v.onnx.size() == 4) image_nodes_.insert(v.node);
        Graph compact = compact_graph();
        if (Status v = compact.validate(); !v) return Status(v.code(), file_ + ": " + v.message());
        return compact;
    }

private:
    // --- checks and inputs -----------------------------------------------------------------
    Status check_ops() {
        static const std::set<std::string> known = {
            "Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Sigmoid", "Tanh",
            "Clip", "HardSigmoid", "HardSwish", "Softmax", "LogSoftmax", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
            "BatchNormalization", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Pad", "Dropout", "Identity", "Constant",
            "ReduceMean", "Erf", "Sqrt", "Exp", "Log", "Neg", "Pow", "LayerNormalization", "Split", "Resize", "Upsample",
            // evaluated at import when their inputs are constants (shape arithmetic)
            "Shape", "Gather", "Cast", "Slice", "ConstantOfShape", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Mod",
            "And", "Or", "Not", "Where", "Max", "Min", "Abs", "Floor", "Ceil", "Expand", "Range", "ScatterND", "Reciprocal", "Sign"};
        std::map<std::string, std::vector<std::string>> bad;
        for (const OnnxNode& n : m_.nodes) {
            const bool std_domain = n.domain.empty() || n.domain == "ai.onnx";
            if (!std_domain || !known.count(n.op)) bad[std_domain ? n.op : n.domain + ":" + n.op].push_back(n.name);
        }
        if (bad.empty()) return Status::ok();
        std::string msg = file_ + ": unsupported ops: ";
        bool first = true;
        for (auto& [op, names] : bad) {
            msg += (first ? "" : "; ") + op + " (" + std::to_string(names.size()) + " node" + (names.size() > 1 ? "s" : "") + ": ";
            first = false;
            for (size_t k = 0; k < names.size() && k < 5; ++k) msg += (k ? ", " : "") + names[k];
            if (names.size() > 5) msg += ", ...";
            msg += ")";
        }
        return unsupported(msg);
    }

    // Every graph input that is not an initializer. One the engine cannot hold at run time (not
    // float32, or without a batch axis) becomes a constant when its value is given.
    Status add_inputs() {
        std::string bound;  // inputs read as constants, for the message when no runtime input is left
        for (const ValueInfo& in : m_.inputs) {
            if (m_.initializers.count(in.name)) continue;  // older exporters list initializers as inputs
            auto given = given_.find(in.name);
            const OnnxTensor* known = given == given_.end() ? nullptr : given->second;
            if (known && known->count() == 0)
                return unsupported(file_ + ": input '" + in.name + "' " + dims_str(known->dims) + " is empty; the engine holds no empty tensors");
            if (known && (known->dtype != kFloat || known->dims.size() + lead_ < 2)) {
                bound += (bound.empty() ? "'" : ", '") + in.name + "' (" + dtype_name(known->dtype) + " " + dims_str(known->dims) + ")";
                Value v;
                v.is_const = true;
                v.c = const_value(*known);
                values_[in.name] = std::move(v);
                continue;
            }
            if (in.elem_type != kFloat)
                return unsupported(file_ + ": input '" + in.name + "' has type " + dtype_name(static_cast<int>(in.elem_type)) +
                                   "; the engine holds float32 only (an input of another type is read as a constant when its value is given)");
            std::vector<int64_t> onnx = in.dims;
            if (known) {
                if (in.has_shape && in.dims.size() != known->dims.size())
                    return invalid_argument(file_ + ": input '" + in.name + "' has shape " + dims_str(in.dims) + ", the value given for it " + dims_str(known->dims));
                onnx = known->dims;
            }
            if ((!in.has_shape && !known) || onnx.size() + lead_ < 2 || onnx.size() + lead_ > static_cast<size_t>(kMaxRank))
                return unsupported(file_ + ": input '" + in.name + "' has shape " + dims_str(onnx) + "; the engine needs a batch axis and at most " +
                                   std::to_string(kMaxRank) + " axes (an NCHW image is [N,C,H,W])");
            if (lead_) onnx.insert(onnx.begin(), 1);
            onnx[0] = 1;
            // A symbolic batch of an image model read with a batch axis added: one image at a time.
            if (lead_ && !known && onnx.size() == 5 && onnx[1] < 1) onnx[1] = 1;
            for (size_t d = 1; d < onnx.size(); ++d) {
                const size_t axis = d - static_cast<size_t>(lead_);
                if (onnx[d] < 1 || onnx[d] > (1 << 16))
                    return unsupported(file_ + ": input '" + in.name + "' has " + (axis >= in.params.size() || in.params[axis].empty() ? "dimension " + std::to_string(onnx[d]) : "symbolic dimension '" + in.params[axis] + "'") +
                                       " at axis " + std::to_string(axis) + "; cnnlens needs a fixed image size (export with a fixed height and width)");
            }
            if (product(onnx) > (int64_t{1} << 26))
                return out_of_range(file_ + ": input '" + in.name + "' " + dims_str(in.dims) + " is too large for an image");
            std::vector<int64_t> engine = onnx;
            if (onnx.size() == 4) engine = {onnx[0], onnx[2], onnx[3], onnx[1]};
            engine[0] = -1;
            if (image_with_lead(onnx)) {
                // An image [1,C,H,W] of a model whose batch axis turned out to be data: the engine
                // input stays an NHWC image, its batch the added axis.
                const int64_t C = onnx[2], H = onnx[3], W = onnx[4];
                const int id = g_.add_input(in.name, Shape{-1, H, W, C});
                image_nodes_.insert(id);
                auto r = add(in.name + "/lead", OpType::kReshape, ReshapeAttrs{{-1, 1, H, W, C}}, {id});
                if (!r) return r.status();
                Value v;
                v.node = *r;
                v.onnx = onnx;
                v.layout = {0, 1, 3, 4, 2};
                values_[in.name] = std::move(v);
                continue;
            }
            Value v;
            v.node = g_.add_input(in.name, Shape::from(engine.begin(), engine.end()));
            v.onnx = onnx;
            values_[in.name] = std::move(v);
            if (known) known_[in.name].c = const_value(*known), known_[in.name].is_const = true;
        }
        if (g_.inputs().empty()) {
            if (bound.empty()) return invalid_argument(file_ + ": the graph has no input");
            return unsupported(file_ + ": nothing is computed at run time: the given inputs " + bound +
                               " were read as constants (the engine computes with float32 tensors of 1 to " + std::to_string(kMaxRank) + " axes)");
        }
        return Status::ok();
    }

    // --- engine graph helpers --------------------------------------------------------------
    std::string unique(const std::string& base) {
        std::string n = base;
        for (int k = 2; g_.find(n) >= 0; ++k) n = base + "#" + std::to_string(k);
        return n;
    }

    Shape shape_of(int node) const {
        Shape s = g_.node(node).shape;
        if (s.rank() > 0 && g_.node(node).op == OpType::kInput) s[0] = 1;
        return s;
    }

    // Adds a node and infers its shape now, so errors point at the ONNX node being converted.
    Expected<int> add(const std::string& name, OpType op, OpAttrs attrs, std::vector<int> inputs) {
        std::vector<Shape> shapes;
        for (int i : inputs) shapes.push_back(shape_of(i));
        Shape out;
        if (Status st = op_def(op).infer_shape(name, attrs, shapes, out); !st) return Status(st.code(), file_ + ": " + st.message());
        if (out.elements() > (int64_t{1} << 28)) return out_of_range(file_ + ": " + std::string(op_name(op)) + " node '" + name + "': output " + out.str() + " is too large");
        const int id = g_.add_node(unique(name), op, std::move(attrs), std::move(inputs));
        g_.node(id).shape = out;
        return id;
    }

    int add_const(const std::string& name, Tensor t) { return g_.add_const(unique(name), std::move(t)); }

    static std::vector<int64_t> onnx_shape(const Shape& s) {
        std::vector<int64_t> d(s.begin(), s.end());
        if (d.size() == 4) d = {d[0], d[3], d[1], d[2]};
        return d;
    }

    Status define(const OnnxNode& n, int node, size_t output = 0) {
        Value v;
        v.node = node;
        v.onnx = onnx_shape(shape_of(node));
        values_[n.outputs[output]] = std::move(v);
        return Status::ok();
    }

    Status fail(const OnnxNode& n, const std::string& what) const { return invalid_argument(file_ + ": " + n.label() + ": " + what); }
    Status unsup(const OnnxNode& n, const std::string& what) const { return unsupported(file_ + ": " + n.label() + ": " + what); }

    // Input k of n: a constant or runtime value (null for a missing optional input).
    const Value* in(const OnnxNode& n, size_t k) {
        if (k >= n.inputs.size() || n.inputs[k].empty()) return nullptr;
        auto it = values_.find(n.inputs[k]);
        if (it != values_.end()) return &it->second;
        auto init = m_.initializers.find(n.inputs[k]);
        if (init == m_.initializers.end()) return nullptr;
        Value v;
        v.is_const = true;
        v.c = init->second;
        return &(values_[n.inputs[k]] = std::move(v));
    }

    // Input k of n where a constant is wanted: a runtime graph input whose value was given
    // counts as that constant.
    const Value* param(const OnnxNode& n, size_t k) {
        const Value* v = in(n, k);
        if (v && !v->is_const) {
            auto it = known_.find(n.inputs[k]);
            if (it != known_.end()) return &it->second;
        }
        return v;
    }

    Expected<const Value*> runtime_input(const OnnxNode& n, size_t k) {
        const Value* v = in(n, k);
        if (!v) return fail(n, "input " + std::to_string(k) + " is missing");
        if (v->is_const) return unsup(n, "input " + std::to_string(k) + " ('" + n.inputs[k] + "') is a constant; this op is supported on computed tensors only");
        return v;
    }

    Expected<const ConstValue*> const_input(const OnnxNode& n, size_t k, const char* what) {
        const Value* v = param(n, k);
        if (!v) return fail(n, std::string(what) + " (input " + std::to_string(k) + ") is missing");
        if (!v->is_const) return unsup(n, std::string(what) + " (input " + std::to_string(k) + ", '" + n.inputs[k] + "') must be a constant");
        return &v->c;
    }

    Expected<const Value*> runtime_value(const std::string& name, const char* what) {
        auto it = values_.find(name);
        if (it == values_.end()) return invalid_argument(file_ + ": " + what + " '" + name + "' is not produced by any node");
        if (it->second.is_const) return unsupported(file_ + ": " + what + " '" + name + "' is a constant");
        return &it->second;
    }

    static Tensor to_tensor(const ConstValue& c, const Shape& s) {
        Tensor t(s);
        for (int64_t k = 0; k < t.size(); ++k) t[k] = static_cast<float>(c.at(k));
        return t;
    }

    // Permutes data of ONNX shape `dims` by perm (out axis i = in axis perm[i]).
    static ConstValue permute(const ConstValue& c, const std::vector<int>& perm) {
        std::vector<int64_t> od;
        for (int p : perm) od.push_back(c.dims[static_cast<size_t>(p)]);
        ConstValue o = like(c, od);
        const auto is = strides_of(c.dims);
        int64_t k = 0;
        for_each_index(od, [&](const std::vector<int64_t>& idx) {
            int64_t src = 0;
            for (size_t d = 0; d < perm.size(); ++d) src += idx[d] * is[static_cast<size_t>(perm[d])];
            copy_elem(o, k++, c, src);
        });
        return o;
    }

    // A constant broadcast against a runtime tensor of ONNX rank r, in the engine layout `lay`
    // (default: the rank's).
    Expected<Tensor> const_for(const OnnxNode& n, const ConstValue& c, size_t r, std::vector<int> lay = {}) {
        if (c.dims.size() > r) return unsup(n, "constant " + dims_str(c.dims) + " has a higher rank than the tensor it combines with");
        ConstValue a = c;
        while (a.dims.size() < r) a.dims.insert(a.dims.begin(), 1);
        if (lay.empty()) lay = layout(r);
        a = permute(a, lay);
        // Leading 1s need not be kept: the engine broadcasts from the right.
        std::vector<int64_t> d = a.dims;
        while (d.size() > 1 && d[0] == 1) d.erase(d.begin());
        return to_tensor(a, Shape::from(d.begin(), d.end()));
    }

    // The engine node holding v in the default layout (materialises an hwc_flat tensor or a
    // relabelled layout).
    Expected<int> plain(const Value& v, const std::string& name) {
        if (!v.hwc_flat) return with_layout(v, layout(v.onnx.size()), name);
        auto it = materialized_.find(v.node);
        if (it != materialized_.end()) return it->second;
        auto r = add(name + "/nhwc", OpType::kReshape, ReshapeAttrs{{-1, v.fh, v.fw, v.fc}}, {v.node});
        if (!r) return r;
        auto t = add(name + "/nchw", OpType::kTranspose, TransposeAttrs{{0, 3, 1, 2}}, {*r});
        if (!t) return t;
        auto f = add(name + "/flat", OpType::kReshape, ReshapeAttrs{{-1, v.fc * v.fh * v.fw}}, {*t});
        if (!f) return f;
        materialized_[v.node] = *f;
        return *f;
    }

    std::vector<int> layout_of(const Value& v) const { return v.layout.empty() ? layout(v.onnx.size()) : v.layout; }

    // The engine node holding v (not hwc_flat) with engine axis i = ONNX axis want[i]: a
    // Transpose when v's layout differs, made once per (node, layout).
    Expected<int> with_layout(const Value& v, const std::vector<int>& want, const std::string& name) {
        const std::vector<int> cur = layout_of(v);
        if (cur == want) return v.node;
        auto key = std::make_pair(v.node, want);
        if (auto it = relaid_.find(key); it != relaid_.end()) return it->second;
        std::vector<int> pos(cur.size()), q;
        for (size_t i = 0; i < cur.size(); ++i) pos[static_cast<size_t>(cur[i])] = static_cast<int>(i);
        for (int a : want) q.push_back(pos[static_cast<size_t>(a)]);
        auto t = transpose(name + "/layout", v.node, q);
        if (!t) return t;
        relaid_[key] = *t;
        return *t;
    }

    // Records output `output` of n as engine node `node` holding ONNX shape `onnx` in `lay`.
    void define_as(const OnnxNode& n, int node, std::vector<int64_t> onnx, std::vector<int> lay, size_t output = 0) {
        Value v;
        v.node = node;
        if (lay != layout(onnx.size())) v.layout = std::move(lay);
        v.onnx = std::move(onnx);
        values_[n.outputs[output]] = std::move(v);
    }

    // A Transpose of engine node x; consecutive transposes are composed (identity ones vanish).
    Expected<int> transpose(const std::string& name, int x, std::vector<int> perm) {
        const Node& xn = g_.node(x);
        if (xn.op == OpType::kTranspose) {
            const auto& inner = std::get<TransposeAttrs>(xn.attrs).perm;
            std::vector<int> composed;
            for (int p : perm) composed.push_back(inner[static_cast<size_t>(p)]);
            perm = composed;
            x = xn.inputs[0];
        }
        bool identity = true;
        for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == static_cast<int>(i);
        if (identity) return x;
        return add(name, OpType::kTranspose, TransposeAttrs{perm}, {x});
    }

    // Makes `v` (runtime) take the ONNX shape `target` (batch first): Reshape, Flatten, Squeeze,
    // Unsqueeze. Transposes are inserted only where NHWC and NCHW memory orders differ.
    Status reshape_to(const OnnxNode& n, const Value& v, std::vector<int64_t> target) {
        const std::vector<int64_t>& src = v.onnx;
        if (product(target) != product(src) || target.empty() || target[0] != 1)
            return unsup(n, "reshaping " + dims_str(src) + " into " + dims_str(target) + " mixes the batch axis with others");
        if (target.size() > static_cast<size_t>(kMaxRank)) return unsup(n, "rank " + std::to_string(target.size()) + " is not supported");
        auto same_order = [](const std::vector<int64_t>& d) { return d.size() != 4 || d[1] == 1 || d[2] * d[3] == 1; };
        Value out;
        out.onnx = target;
        // NHWC rank 4 -> [N, C*H*W]: keep the engine order, let Gemm/MatMul permute their weights.
        if (src.size() == 4 && v.layout.empty() && !same_order(src) && target.size() == 2) {
            auto r = add(n.name, OpType::kReshape, ReshapeAttrs{{-1, target[1]}}, {v.node});
            if (!r) return r.status();
            out.node = *r;
            out.hwc_flat = true;
            out.fc = src[1]; out.fh = src[2]; out.fw = src[3];
            values_[n.outputs[0]] = std::move(out);
            return Status::ok();
        }
        // Axes of size > 1 group into blocks that a reshape splits or merges (the batch stays
        // first). Each block's source axes must be adjacent and in ONNX order in the engine:
        // one Transpose arranges that when they are not; the target axes then take the
        // blocks' engine order, so NHWC stays NHWC and a channel split stays a split.
        Value sv = v;
        if (v.hwc_flat) {
            auto p = plain(v, n.name);
            if (!p) return p.status();
            sv = Value();
            sv.node = *p;
            sv.onnx = src;
        }
        std::vector<int> cur = layout_of(sv), pos(src.size());
        for (size_t i = 0; i < cur.size(); ++i) pos[static_cast<size_t>(cur[i])] = static_cast<int>(i);
        std::vector<int> sa, ta;
        for (size_t k = 1; k < src.size(); ++k) if (src[k] != 1) sa.push_back(static_cast<int>(k));
        for (size_t k = 1; k < target.size(); ++k) if (target[k] != 1) ta.push_back(static_cast<int>(k));
        struct Block { std::vector<int> s, t; int first = 0; };
        std::vector<Block> blocks;
        for (size_t i = 0, j = 0; i < sa.size() || j < ta.size();) {
            Block b;
            int64_t ps = 1, pt = 1;
            do {
                if ((ps <= pt || j >= ta.size()) && i < sa.size()) { ps *= src[static_cast<size_t>(sa[i])]; b.s.push_back(sa[i++]); }
                else if (j < ta.size()) { pt *= target[static_cast<size_t>(ta[j])]; b.t.push_back(ta[j++]); }
                else break;
            } while (ps != pt);
            if (b.s.empty() || b.t.empty() || ps != pt) return fail(n, "cannot reshape " + dims_str(src) + " into " + dims_str(target));
            b.first = pos[static_cast<size_t>(b.s[0])];
            for (int a : b.s) b.first = std::min(b.first, pos[static_cast<size_t>(a)]);
            blocks.push_back(std::move(b));
        }
        std::sort(blocks.begin(), blocks.end(), [](const Block& a, const Block& b) { return a.first < b.first; });
        std::vector<int> want_s{0}, got_s{0}, order_t;
        for (int a : cur) if (a != 0 && src[static_cast<size_t>(a)] != 1) got_s.push_back(a);
        for (const Block& b : blocks) {
            want_s.insert(want_s.end(), b.s.begin(), b.s.end());
            order_t.insert(order_t.end(), b.t.begin(), b.t.end());
        }
        int node = sv.node;
        if (want_s != got_s) {
            for (size_t k = 1; k < src.size(); ++k) if (src[k] == 1) want_s.push_back(static_cast<int>(k));
            auto t = with_layout(sv, want_s, n.name);
            if (!t) return t.status();
            node = *t;
        }
        // The target's default layout when its axes of size > 1 come in the blocks' order.
        std::vector<int> lay = layout(target.size()), lay_big;
        for (int a : lay) if (a != 0 && target[static_cast<size_t>(a)] != 1) lay_big.push_back(a);
        if (lay_big != order_t) {
            lay = {0};
            lay.insert(lay.end(), order_t.begin(), order_t.end());
            for (size_t k = 1; k < target.size(); ++k) if (target[k] == 1) lay.push_back(static_cast<int>(k));
        }
        std::vector<int64_t> eng;
        for (int a : lay) eng.push_back(target[static_cast<size_t>(a)]);
        eng[0] = -1;
        Shape have = shape_of(node);
        have[0] = -1;
        if (have != Shape::from(eng.begin(), eng.end())) {
            auto r = add(n.name, OpType::kReshape, ReshapeAttrs{eng}, {node});
            if (!r) return r.status();
            node = *r;
        }
        define_as(n, node, target, lay);
        return Status::ok();
    }

    // --- conversion ------------------------------------------------------------------------
    bool used(const OnnxNode& n, size_t k) { return k < n.outputs.size() && !n.outputs[k].empty() && consumers_[n.outputs[k]] > 0; }

    // ONNX axis `a` (negative counts from the end) of a runtime tensor whose Value::onnx has
    // rank r, as an axis of Value::onnx; -1 when out of range.
    int64_t axis_of(int64_t a, size_t r) const {
        const int64_t real = static_cast<int64_t>(r) - lead_;
        if (a < -real || a >= real) return -1;
        return (a < 0 ? a + real : a) + lead_;
    }

    Status convert(const OnnxNode& n) {
        for (size_t k = 1; k < n.outputs.size() && n.op != "Split" && n.op != "LayerNormalization"; ++k) {
            if (!used(n, k)) continue;
            const std::string which = "output " + std::to_string(k) + " ('" + n.outputs[k] + "') is used";
            if (n.op == "Dropout") return unsup(n, which + ": the mask is a bool tensor, and the engine holds float32 tensors only");
            if (n.op == "MaxPool") return unsup(n, which + ": the indices are an int64 tensor, and the engine holds float32 tensors only");
            if (n.op == "BatchNormalization")
                return unsup(n, which + ": the running statistics are updated in training mode only, whose batch statistics reduce over the batch axis");
            return unsup(n, which + "; only the first output is supported");
        }
        bool all_const = true;
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            const Value* v = in(n, k);
            if (v && !v->is_const) all_const = false;
        }
        CNNLENS_RETURN_IF_ERROR(legacy_forms(n));
        if (n.op == "Constant") return constant(n);
        if (n.op == "Shape") return shape(n);
        if (all_const && !n.inputs.empty()) return fold(n);
        const std::string& op = n.op;
        if (op == "Identity" || op == "Dropout") {
            // Dropout is the identity at inference only (opset 12 takes the mode as input 2).
            // A ratio of 0 keeps every element in either mode (torchvision's Swin calls dropout in
            // training mode with p = 0).
            const Value* mode = op == "Dropout" ? in(n, 2) : nullptr;
            const Value* ratio = op == "Dropout" ? param(n, 1) : nullptr;
            const bool keeps_all = ratio && ratio->is_const && ratio->c.count() == 1 && ratio->c.at(0) == 0;
            if (mode && !keeps_all && (!mode->is_const || mode->c.count() != 1 || mode->c.at(0) != 0))
                return unsup(n, "training_mode = 1 (or computed) is not supported (export the model in eval mode)");
            auto x = runtime_input(n, 0);
            if (!x) return x.status();
            values_[n.outputs[0]] = **x;
            return Status::ok();
        }
        static const std::set<std::string> batch_first = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                                                          "BatchNormalization", "Resize", "Upsample"};
        if (lead_ && batch_first.count(op)) return batch_first_with_lead(n);
        if (!lead_ && (op == "Conv" || op == "ConvTranspose" || op == "MaxPool" || op == "AveragePool") && in(n, 0) && !in(n, 0)->is_const &&
            in(n, 0)->onnx.size() == 3)
            return one_d_as_two_d(n);
        if (op == "Conv") return conv(n);
        if (op == "ConvTranspose") return conv_transpose(n);
        if (op == "MatMul" && needs_batch_matmul(n)) return batch_matmul(n);
        if (op == "MatMul" && in(n, 0) && in(n, 0)->onnx.size() > 2) return matmul_rows(n);
        if (op == "Gemm" || op == "MatMul") return gemm(n);
        if (op == "BatchNormalization") return batch_norm(n);
        if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return binary(n);
        if (op == "Relu") return unary(n, OpType::kRelu, NoAttrs{});
        if (op == "LeakyRelu") return unary(n, OpType::kLeakyRelu, LeakyReluAttrs{n.f("alpha", 0.01f)});
        if (op == "Elu") return unary(n, OpType::kElu, EluAttrs{n.f("alpha", 1.f)});
        if (op == "Selu") {
            const SeluAttrs def = m_.opset < 6 ? SeluAttrs{1.6732f, 1.0507f} : SeluAttrs{};  // Selu-1's rounded defaults
            return unary(n, OpType::kSelu, SeluAttrs{n.f("alpha", def.alpha), n.f("gamma", def.gamma)});
        }
        if (op == "Sigmoid") return unary(n, OpType::kSigmoid, NoAttrs{});
        if (op == "Tanh") return unary(n, OpType::kTanh, NoAttrs{});
        if (op == "HardSigmoid") return unary(n, OpType::kHardSigmoid, HardSigmoidAttrs{n.f("alpha", 0.2f), n.f("beta", 0.5f)});
        if (op == "HardSwish") return unary(n, OpType::kHardSwish, HardSigmoidAttrs{1.f / 6.f, 0.5f});
        if (op == "Clip") return clip(n);
        if (op == "PRelu") return prelu(n);
        if (op == "Softmax" || op == "LogSoftmax") return softmax(n);
        if (op == "MaxPool" || op == "AveragePool") return pool(n);
        if (op == "GlobalAveragePool" || op == "GlobalMaxPool") return global_pool(n);
        if (op == "ReduceMean") return reduce_mean(n);
        if (op == "Flatten") return flatten(n);
        if (op == "Reshape" || op == "Squeeze" || op == "Unsqueeze") return reshape_like(n);
        if (op == "Transpose") return transpose_op(n);
        if (op == "Erf") return unary(n, OpType::kErf, NoAttrs{});
        if (op == "Sqrt") return unary(n, OpType::kSqrt, NoAttrs{});
        if (op == "Exp") return unary(n, OpType::kExp, NoAttrs{});
        if (op == "Log") return unary(n, OpType::kLog, NoAttrs{});
        if (op == "Neg") return unary(n, OpType::kNeg, NoAttrs{});
        if (op == "Pow") return pow(n);
        if (op == "LayerNormalization") return layer_norm(n);
        if (op == "Slice") return slice_op(n);
        if (op == "Gather") return gather_op(n);
        if (op == "Split") return split(n);
        if (op == "Resize" || op == "Upsample") return resize(n);
        if (op == "Concat") return concat(n);
        if (op == "Pad") return pad(n);
        return unsup(n, "is only supported on constant inputs (it is evaluated at import), but input '" + (n.inputs.empty() ? std::string() : n.inputs[0]) +
                            "' is computed from the image");
    }

    // Forms of ops before opset 9 whose meaning differs from the versions the mappings follow
    // (ONNX's Changelog); the ops' other forms in opsets 1 to 8 read as in opset 9. Legacy
    // forms that are easy to map (arithmetic's broadcast axis, PRelu's per-channel slope,
    // Reshape's shape attribute, Upsample's scales attributes, Pad's paddings, Cast's type name,
    // Selu's defaults) are mapped where the op is. consumed_inputs is ignored: ONNX calls it a
    // "legacy optimization attribute" and its version converter drops it.
    Status legacy_forms(const OnnxNode& n) {
        if (m_.opset >= 9) return Status::ok();
        const std::string& op = n.op;
        if ((op == "BatchNormalization" || op == "Dropout") && m_.opset < 7 && n.i("is_test", 0) == 0)
            return unsup(n, "is_test = 0 (training mode in opset " + std::to_string(m_.opset) + ") is not supported (export the model in eval mode)");
        if (op == "BatchNormalization" && n.i("spatial", 1) == 0)
            return unsup(n, "spatial = 0 (statistics per activation, before opset 9) is not supported");
        return Status::ok();
    }

    Status constant(const OnnxNode& n) {
        Value v;
        v.is_const = true;
        if (const Attr* a = n.attr("value"); a && a->has_t) v.c = a->t;
        else if (const Attr* a = n.attr("value_float")) { v.c.f = {a->f}; }
        else if (const Attr* a = n.attr("value_floats")) { v.c.f = a->floats; v.c.dims = {static_cast<int64_t>(a->floats.size())}; }
        else if (const Attr* a = n.attr("value_int")) { v.c.is_int = true; v.c.i = {a->i}; }
        else if (const Attr* a = n.attr("value_ints")) { v.c.is_int = true; v.c.i = a->ints; v.c.dims = {static_cast<int64_t>(a->ints.size())}; }
        else return unsup(n, "only value, value_float(s) and value_int(s) constants are supported");
        values_[n.outputs[0]] = std::move(v);
        return Status::ok();
    }

    Status shape(const OnnxNode& n) {
        const Value* x = in(n, 0);
        if (!x) return fail(n, "input 0 is missing");
        ConstValue c;
        c.is_int = true;
        c.i = x->is_const ? x->c.dims : x->onnx;
        if (!x->is_const && lead_) c.i.erase(c.i.begin());
        else if (!x->is_const && !c.i.empty()) c.i[0] = kBatch;
        const int64_t r = static_cast<int64_t>(c.i.size());
        int64_t start = n.i("start", 0), end = n.i("end", r);
        if (start < 0) start += r;
        if (end < 0) end += r;
        start = std::clamp<int64_t>(start, 0, r);
        end = std::clamp<int64_t>(end, start, r);
        c.i = std::vector<int64_t>(c.i.begin() + start, c.i.begin() + end);
        c.dims = {static_cast<int64_t>(c.i.size())};
        Value v;
        v.is_const = true;
        v.c = std::move(c);
        values_[n.outputs[0]] = std::move(v);
        return Status::ok();
    }

    // Axes from the attribute (older opsets) or the second input (newer).
    Expected<std::vector<int64_t>> axes_of(const OnnxNode& n, size_t input, int64_t rank) {
        std::vector<int64_t> axes = n.ints("axes");
        if (const Value* a = param(n, input)) {
            if (!a->is_const) return unsup(n, "axes must be a constant");
            axes.clear();
            for (int64_t k = 0; k < a->c.count(); ++k) axes.push_back(a->c.int_at(k));
        }
        for (int64_t& a : axes) {
            if (a < -rank || a >= rank) return fail(n, "axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
            if (a < 0) a += rank;
        }
        std::sort(axes.begin(), axes.end());
        return axes;
    }

    static bool has_batch(const ConstValue& c) {
        return c.is_int && std::find(c.i.begin(), c.i.end(), kBatch) != c.i.end();
    }

    // Target shape of Reshape/Squeeze/Unsqueeze/Flatten for input dims `d`.
    Expected<std::vector<int64_t>> reshaped_dims(const OnnxNode& n, const std::vector<int64_t>& d, bool runtime) {
        const int64_t rank = static_cast<int64_t>(d.size());
        std::vector<int64_t> out;
        if (n.op == "Flatten") {
            int64_t axis = n.i("axis", 1);
            if (axis < 0) axis += rank;
            if (axis < 0 || axis > rank) return fail(n, "axis " + std::to_string(n.i("axis", 1)) + " is out of range for rank " + std::to_string(rank));
            if (axis == 0 && runtime) return unsup(n, "flattening the batch axis into the features (axis 0) is not supported");
            return std::vector<int64_t>{product(d, 0, static_cast<size_t>(axis)), product(d, static_cast<size_t>(axis))};
        }
        if (n.op == "Squeeze") {
            auto axes = axes_of(n, 1, rank);
            if (!axes) return axes.status();
            for (int64_t k = 0; k < rank; ++k) {
                const bool listed = std::find(axes->begin(), axes->end(), k) != axes->end();
                if (listed && d[static_cast<size_t>(k)] != 1) return fail(n, "axis " + std::to_string(k) + " of " + dims_str(d) + " is not 1");
                if (listed && k == 0 && runtime) return unsup(n, "squeezing the batch axis is not supported");
                const bool drop = axes->empty() ? d[static_cast<size_t>(k)] == 1 && !(k == 0 && runtime) : listed;
                if (!drop) out.push_back(d[static_cast<size_t>(k)]);
            }
            return out;
        }
        if (n.op == "Unsqueeze") {
            auto axes = axes_of(n, 1, rank + static_cast<int64_t>(std::max(n.ints("axes").size(), in(n, 1) ? static_cast<size_t>(in(n, 1)->c.count()) : size_t{0})));
            if (!axes) return axes.status();
            out = d;
            for (int64_t a : *axes) {
                if (a > static_cast<int64_t>(out.size())) return fail(n, "axis " + std::to_string(a) + " is out of range");
                out.insert(out.begin() + a, 1);
            }
            if (runtime && !axes->empty() && (*axes)[0] == 0) return unsup(n, "inserting an axis before the batch is not supported");
            return out;
        }
        // Reshape: 0 copies the input dimension (unless allowzero), -1 is inferred. Before opset
        // 5 the shape is an attribute.
        ConstValue attr_shape;
        attr_shape.is_int = true;
        attr_shape.i = n.ints("shape");
        attr_shape.dims = {static_cast<int64_t>(attr_shape.i.size())};
        auto s = m_.opset < 5 ? Expected<const ConstValue*>(&attr_shape) : const_input(n, 1, "shape");
        if (!s) return s.status();
        const ConstValue& t = **s;
        int infer_at = -1;
        int64_t known = 1;
        for (int64_t k = 0; k < t.count(); ++k) {
            int64_t v = t.int_at(k);
            if (v == kBatch) {
                if (k != 0 || !runtime) return unsup(n, "the target shape " + dims_str(t.i) + " uses the batch size away from the first axis");
                v = 1;
            }
            if (v == 0 && n.i("allowzero", 0) == 0) {
                if (k >= rank) return fail(n, "target dimension " + std::to_string(k) + " copies an input axis that does not exist");
                v = d[static_cast<size_t>(k)];
            }
            if (v == -1) {
                if (infer_at >= 0) return fail(n, "more than one -1 in the target shape");
                infer_at = static_cast<int>(k);
                v = 1;
            } else if (v < 0) {
                return fail(n, "target dimension " + std::to_string(v) + " is negative");
            }
            if (runtime && k == 0 && v != 1 && infer_at != 0) return unsup(n, "the target shape's first dimension " + std::to_string(v) + " is not the batch");
            if (v > (int64_t{1} << 31)) return fail(n, "target dimension " + std::to_string(v) + " is out of range");
            known *= v;
            if (known > (int64_t{1} << 40)) return fail(n, "the target shape " + dims_str(t.is_int ? t.i : std::vector<int64_t>{}) + " is too large");
            out.push_back(v);
        }
        const int64_t total = product(d);
        if (infer_at >= 0) {
            if (runtime && infer_at == 0) return unsup(n, "the target shape infers the batch axis");
            if (known == 0 || total % known) return fail(n, "cannot reshape " + dims_str(d) + " into " + dims_str(out));
            out[static_cast<size_t>(infer_at)] = total / known;
        }
        if (product(out) != total) return fail(n, "cannot reshape " + dims_str(d) + " (" + std::to_string(total) + " elements) into " + dims_str(out));
        return out;
    }

    // Cast's `to`: a DataType value, or before opset 6 its name ("FLOAT").
    static int64_t cast_target(const OnnxNode& n) {
        const Attr* a = n.attr("to");
        if (!a || a->s.empty()) return a ? a->i : int64_t{kFloat};
        return a->s == "FLOAT" || a->s == "DOUBLE" || a->s == "FLOAT16" ? kFloat : kInt64;
    }

    // Evaluates a node whose inputs are all constants.
    Status fold(const OnnxNode& n) {
        const std::string& op = n.op;
        const ConstValue& x = in(n, 0)->c;
        ConstValue out;
        if (op == "Identity" || op == "Dropout") {
            out = x;
        } else if (op == "Cast") {
            const int64_t to = cast_target(n);
            out.dims = x.dims;
            out.is_int = to != kFloat && to != kDouble && to != kFloat16;
            if (out.is_int && has_batch(x)) out.i = x.i;
            else if (out.is_int) for (int64_t k = 0; k < x.count(); ++k) out.i.push_back(x.int_at(k));
            else if (has_batch(x)) return unsup(n, "casts the batch size to a float");
            else for (int64_t k = 0; k < x.count(); ++k) out.f.push_back(static_cast<float>(x.at(k)));
        } else if (op == "Gather") {
            const ConstValue& idx = in(n, 1)->c;
            const int64_t r = static_cast<int64_t>(x.dims.size());
            int64_t axis = n.i("axis", 0);
            if (axis < 0) axis += r;
            if (axis < 0 || axis >= r) return fail(n, "axis " + std::to_string(n.i("axis", 0)) + " is out of range for " + dims_str(x.dims));
            std::vector<int64_t> od(x.dims.begin(), x.dims.begin() + axis);
            od.insert(od.end(), idx.dims.begin(), idx.dims.end());
            od.insert(od.end(), x.dims.begin() + axis + 1, x.dims.end());
            if (static_cast<double>(product(x.dims)) / std::max<int64_t>(1, x.dims[static_cast<size_t>(axis)]) * static_cast<double>(idx.count()) > kFoldLimit)
                return out_of_range(file_ + ": " + n.label() + ": the result is too large to evaluate at import");
            out = like(x, od);
            const int64_t outer = product(x.dims, 0, static_cast<size_t>(axis)), inner = product(x.dims, static_cast<size_t>(axis) + 1), dim = x.dims[static_cast<size_t>(axis)];
            int64_t k = 0;
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t j = 0; j < idx.count(); ++j) {
                    int64_t s = idx.int_at(j);
                    if (s < 0) s += dim;
                    if (s < 0 || s >= dim) return fail(n, "index " + std::to_string(idx.int_at(j)) + " is out of range for " + dims_str(x.dims));
                    for (int64_t i = 0; i < inner; ++i) copy_elem(out, k++, x, (o * dim + s) * inner + i);
                }
        } else if (op == "Unsqueeze" || op == "Squeeze" || op == "Reshape" || op == "Flatten") {
            auto d = reshaped_dims(n, x.dims, false);
            if (!d) return d.status();
            out = x;
            out.dims = *d;
        } else if (op == "Concat") {
            const int64_t r = static_cast<int64_t>(x.dims.size());
            const int64_t given = n.i("axis", m_.opset < 4 ? 1 : 0);  // required from opset 4; Concat-1's default is 1
            int64_t axis = given;
            if (axis < 0) axis += r;
            if (axis < 0 || axis >= r) return fail(n, "axis " + std::to_string(given) + " is out of range for " + dims_str(x.dims));
            std::vector<const ConstValue*> parts;
            std::vector<int64_t> od = x.dims;
            od[static_cast<size_t>(axis)] = 0;
            bool any_int = false;
            for (size_t k = 0; k < n.inputs.size(); ++k) {
                const Value* v = in(n, k);
                if (!v) continue;
                if (v->c.dims.size() != x.dims.size()) return fail(n, "inputs " + dims_str(x.dims) + " and " + dims_str(v->c.dims) + " differ in rank");
                for (size_t d = 0; d < od.size(); ++d)
                    if (static_cast<int64_t>(d) != axis && v->c.dims[d] != x.dims[d]) return fail(n, "inputs " + dims_str(x.dims) + " and " + dims_str(v->c.dims) + " do not fit");
                od[static_cast<size_t>(axis)] += v->c.dims[static_cast<size_t>(axis)];
                any_int |= v->c.is_int;
                parts.push_back(&v->c);
            }
            out.dims = od;
            out.is_int = any_int;
            const int64_t outer = product(od, 0, static_cast<size_t>(axis)), inner = product(od, static_cast<size_t>(axis) + 1);
            for (int64_t o = 0; o < outer; ++o)
                for (const ConstValue* p : parts) {
                    const int64_t row = p->dims[static_cast<size_t>(axis)] * inner;
                    for (int64_t j = 0; j < row; ++j) {
                        const int64_t s = o * row + j;
                        if (any_int) out.i.push_back(p->is_int ? p->i[static_cast<size_t>(s)] : static_cast<int64_t>(p->f[static_cast<size_t>(s)]));
                        else out.f.push_back(p->f[static_cast<size_t>(s)]);
                    }
                }
        } else if (op == "Transpose") {
            std::vector<int> perm;
            for (int64_t p : n.ints("perm")) perm.push_back(static_cast<int>(p));
            if (perm.empty()) for (int k = static_cast<int>(x.dims.size()) - 1; k >= 0; --k) perm.push_back(k);
            if (perm.size() != x.dims.size()) return fail(n, "perm has " + std::to_string(perm.size()) + " axes for " + dims_str(x.dims));
            std::vector<bool> seen(perm.size(), false);
            for (int p : perm) {
                if (p < 0 || p >= static_cast<int>(perm.size()) || seen[static_cast<size_t>(p)]) return fail(n, "perm is not a permutation");
                seen[static_cast<size_t>(p)] = true;
            }
            out = permute(x, perm);
        } else if (op == "Slice") {
            CNNLENS_RETURN_IF_ERROR(slice(n, x, out));
        } else if (op == "ConstantOfShape") {
            if (has_batch(x)) return unsup(n, "the shape depends on the batch size");
            for (int64_t k = 0; k < x.count(); ++k) {
                const int64_t d = x.int_at(k);
                if (d < 0 || d > (1 << 24)) return fail(n, "dimension " + std::to_string(d) + " is out of range");
                out.dims.push_back(d);
            }
            double total = 1;
            for (int64_t d : out.dims) total *= static_cast<double>(d);
            if (total > kFoldLimit || out.dims.size() > 16) return out_of_range(file_ + ": " + n.label() + ": " + dims_str(out.dims) + " is too large to evaluate at import");
            ConstValue fill;
            fill.f = {0.f};
            if (const Attr* a = n.attr("value"); a && a->has_t && a->t.count() == 1) fill = a->t;
            out.is_int = fill.is_int;
            if (out.is_int) out.i.assign(static_cast<size_t>(out.count()), fill.i[0]);
            else out.f.assign(static_cast<size_t>(out.count()), fill.f[0]);
        } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
            CNNLENS_RETURN_IF_ERROR(fold_binary(n, x, in(n, 1)->c, out));
        } else if (op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" || op == "GreaterOrEqual" || op == "Mod" ||
                   op == "And" || op == "Or" || op == "Where" || op == "Max" || op == "Min" || op == "Pow") {
            CNNLENS_RETURN_IF_ERROR(fold_elementwise(n, out));
        } else if (op == "Not" || op == "Abs" || op == "Floor" || op == "Ceil" || op == "Neg" || op == "Sqrt" || op == "Exp" || op == "Log" ||
                   op == "Sigmoid" || op == "Relu" || op == "Tanh" || op == "Reciprocal" || op == "Sign" || op == "Erf") {
            if (has_batch(x)) return unsup(n, "arithmetic on the batch size is not supported");
            out = like(x, x.dims);
            for (int64_t k = 0; k < x.count(); ++k) {
                const double v = x.at(k);
                const double r = op == "Not" ? double(v == 0) : op == "Abs" ? std::fabs(v) : op == "Floor" ? std::floor(v) : op == "Ceil" ? std::ceil(v)
                               : op == "Neg" ? -v : op == "Sqrt" ? std::sqrt(v) : op == "Exp" ? std::exp(v) : op == "Log" ? std::log(v)
                               : op == "Sigmoid" ? 1 / (1 + std::exp(-v)) : op == "Relu" ? std::max(v, 0.0) : op == "Tanh" ? std::tanh(v)
                               : op == "Reciprocal" ? 1 / v : op == "Sign" ? double((v > 0) - (v < 0)) : std::erf(v);
                if (out.is_int) out.i[static_cast<size_t>(k)] = static_cast<int64_t>(r);
                else out.f[static_cast<size_t>(k)] = static_cast<float>(r);
            }
        } else if (op == "Expand") {
            const ConstValue& shape = in(n, 1)->c;
            if (has_batch(shape) || has_batch(x)) return unsup(n, "the shape depends on the batch size");
            std::vector<int64_t> want;
            for (int64_t k = 0; k < shape.count(); ++k) want.push_back(shape.int_at(k));
            auto od = broadcast_dims(n, x.dims, want);
            if (!od) return od.status();
            if (static_cast<double>(product(*od)) > kFoldLimit) return out_of_range(file_ + ": " + n.label() + ": " + dims_str(*od) + " is too large to evaluate at import");
            out = expand(x, *od);
        } else if (op == "Range") {
            const ConstValue& lim = in(n, 1)->c;
            const ConstValue& step = in(n, 2)->c;
            if (x.count() != 1 || lim.count() != 1 || step.count() != 1) return fail(n, "start, limit and delta must be scalars");
            const double a = x.at(0), b = lim.at(0), d = step.at(0);
            if (d == 0 || d != d) return fail(n, "delta is " + std::to_string(d));
            const double cnt = std::max(0.0, std::ceil((b - a) / d));
            if (cnt > kFoldLimit) return out_of_range(file_ + ": " + n.label() + ": " + std::to_string(cnt) + " values are too many to evaluate at import");
            out.dims = {static_cast<int64_t>(cnt)};
            out.is_int = x.is_int && lim.is_int && step.is_int;
            for (int64_t k = 0; k < out.dims[0]; ++k) {
                if (out.is_int) out.i.push_back(x.i[0] + k * step.i[0]);
                else out.f.push_back(static_cast<float>(a + static_cast<double>(k) * d));
            }
        } else if (op == "ScatterND") {
            CNNLENS_RETURN_IF_ERROR(fold_scatter_nd(n, x, out));
        } else {
            return unsup(n, "cannot be evaluated at import (all its inputs are constants)");
        }
        Value v;
        v.is_const = true;
        v.c = std::move(out);
        values_[n.outputs[0]] = std::move(v);
        return Status::ok();
    }

    // NumPy broadcasting of two shapes.
    Expected<std::vector<int64_t>> broadcast_dims(const OnnxNode& n, const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
        const size_t r = std::max(a.size(), b.size());
        std::vector<int64_t> out(r);
        for (size_t d = 0; d < r; ++d) {
            const int64_t x = d + a.size() >= r ? a[d + a.size() - r] : 1, y = d + b.size() >= r ? b[d + b.size() - r] : 1;
            if (x != y && x != 1 && y != 1) return fail(n, "shapes " + dims_str(a) + " and " + dims_str(b) + " do not broadcast");
            if (x < 0 || y < 0) return fail(n, "shape " + dims_str(x < 0 ? a : b) + " has a negative dimension");
            out[d] = x == 1 ? y : x;
        }
        return out;
    }

    // Comparisons, Mod, logic, Max/Min and Where on constants (shape and mask arithmetic), with
    // NumPy broadcasting. The batch size (unknown at import) may be compared and selected, as
    // exporters do to resolve -1 in an Expand's shape, but never computed with.
    Status fold_elementwise(const OnnxNode& n, ConstValue& out) {
        const std::string& op = n.op;
        const size_t arity = op == "Where" ? 3 : 2;
        std::vector<const ConstValue*> v;
        for (size_t k = 0; k < arity; ++k) {
            const Value* x = in(n, k);
            if (!x) return fail(n, "input " + std::to_string(k) + " is missing");
            v.push_back(&x->c);
        }
        const bool selects = op == "Where" || op == "Equal";
        for (const ConstValue* c : v)
            if (!selects && has_batch(*c)) return unsup(n, "arithmetic on the batch size is not supported");
        std::vector<int64_t> dims = v[0]->dims;
        for (size_t k = 1; k < arity; ++k) {
            auto d = broadcast_dims(n, dims, v[k]->dims);
            if (!d) return d.status();
            dims = *d;
        }
        if (static_cast<double>(product(dims)) > kFoldLimit) return out_of_range(file_ + ": " + n.label() + ": the result " + dims_str(dims) + " is too large to evaluate at import");
        std::vector<ConstValue> e;
        for (const ConstValue* c : v) e.push_back(expand(*c, dims));
        const bool compare = op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" || op == "GreaterOrEqual" || op == "And" || op == "Or";
        out.dims = dims;
        const ConstValue &a = e[arity == 3 ? 1 : 0], &b = e[arity == 3 ? 2 : 1];
        out.is_int = compare || (a.is_int && b.is_int);
        const int64_t count = product(dims);
        for (int64_t k = 0; k < count; ++k) {
            if (op == "Where") {
                const bool pick = e[0].at(k) != 0;
                const ConstValue& src = pick ? a : b;
                if (out.is_int) out.i.push_back(src.int_at(k));
                else out.f.push_back(static_cast<float>(src.at(k)));
                continue;
            }
            if (op == "Equal" && a.is_int && b.is_int) {  // exact, and the batch sentinel equals only itself
                out.i.push_back(a.i[static_cast<size_t>(k)] == b.i[static_cast<size_t>(k)]);
                continue;
            }
            const double x = a.at(k), y = b.at(k);
            double r = 0;
            if (op == "Equal") r = x == y;
            else if (op == "Less") r = x < y;
            else if (op == "Greater") r = x > y;
            else if (op == "LessOrEqual") r = x <= y;
            else if (op == "GreaterOrEqual") r = x >= y;
            else if (op == "And") r = x != 0 && y != 0;
            else if (op == "Or") r = x != 0 || y != 0;
            else if (op == "Max") r = std::max(x, y);
            else if (op == "Min") r = std::min(x, y);
            else if (op == "Pow") r = std::pow(x, y);
            else if (op == "Mod") {
                if (out.is_int) {
                    const int64_t p = a.i[static_cast<size_t>(k)], q = b.i[static_cast<size_t>(k)];
                    if (q == 0) return fail(n, "division by zero");
                    int64_t m = p % q;
                    if (!n.i("fmod", 0) && m != 0 && ((m < 0) != (q < 0))) m += q;  // the divisor's sign, as Python's %
                    out.i.push_back(m);
                    continue;
                }
                r = n.i("fmod", 0) ? std::fmod(x, y) : x - std::floor(x / y) * y;
            }
            if (out.is_int) out.i.push_back(static_cast<int64_t>(r));
            else out.f.push_back(static_cast<float>(r));
        }
        return Status::ok();
    }

    // ScatterND (reduction none) on constants: data with the slices that indices name replaced
    // by updates.
    Status fold_scatter_nd(const OnnxNode& n, const ConstValue& data, ConstValue& out) {
        if (n.s("reduction", "none") != "none") return unsup(n, "reduction '" + n.s("reduction", "none") + "'");
        const Value* iv = in(n, 1);
        const Value* uv = in(n, 2);
        if (!iv || !uv) return fail(n, "indices or updates are missing");
        const ConstValue &idx = iv->c, &upd = uv->c;
        if (has_batch(data) || has_batch(idx) || has_batch(upd)) return unsup(n, "the batch size is scattered");
        if (idx.dims.empty()) return fail(n, "indices are a scalar");
        const int64_t k = idx.dims.back();
        if (k < 1 || k > static_cast<int64_t>(data.dims.size())) return fail(n, "index depth " + std::to_string(k) + " for data " + dims_str(data.dims));
        const int64_t slice = product(data.dims, static_cast<size_t>(k)), slices = idx.count() / k;
        if (upd.count() != slices * slice) return fail(n, "updates " + dims_str(upd.dims) + " do not fit indices " + dims_str(idx.dims) + " into " + dims_str(data.dims));
        out = data;
        const auto st = strides_of(data.dims);
        for (int64_t s = 0; s < slices; ++s) {
            int64_t base = 0;
            for (int64_t d = 0; d < k; ++d) {
                int64_t p = idx.int_at(s * k + d);
                const int64_t dim = data.dims[static_cast<size_t>(d)];
                if (p < 0) p += dim;
                if (p < 0 || p >= dim) return fail(n, "index " + std::to_string(idx.int_at(s * k + d)) + " is out of range for " + dims_str(data.dims));
                base += p * st[static_cast<size_t>(d)];
            }
            for (int64_t j = 0; j < slice; ++j) {
                if (out.is_int) out.i[static_cast<size_t>(base + j)] = upd.int_at(s * slice + j);
                else out.f[static_cast<size_t>(base + j)] = static_cast<float>(upd.at(s * slice + j));
            }
        }
        return Status::ok();
    }

    Status fold_binary(const OnnxNode& n, const ConstValue& a, const ConstValue& b, ConstValue& out) {
        if (has_batch(a) || has_batch(b)) return unsup(n, "arithmetic on the batch size is not supported");
        const size_t r = std::max(a.dims.size(), b.dims.size());
        std::vector<int64_t> ad(r - a.dims.size(), 1), bd(r - b.dims.size(), 1);
        ad.insert(ad.end(), a.dims.begin(), a.dims.end());
        bd.insert(bd.end(), b.dims.begin(), b.dims.end());
        auto od = broadcast_dims(n, a.dims, b.dims);
        if (!od) return od.status();
        out.dims = *od;
        double total = 1;
        for (int64_t d : out.dims) total *= static_cast<double>(d);
        if (total > kFoldLimit) return out_of_range(file_ + ": " + n.label() + ": the result " + dims_str(out.dims) + " is too large to evaluate at import");
        out.is_int = a.is_int && b.is_int;
        const auto as = strides_of(ad), bs = strides_of(bd);
        for_each_index(out.dims, [&](const std::vector<int64_t>& idx) {
            int64_t ia = 0, ib = 0;
            for (size_t d = 0; d < r; ++d) {
                if (ad[d] != 1) ia += idx[d] * as[d];
                if (bd[d] != 1) ib += idx[d] * bs[d];
            }
            if (out.is_int) {
                const int64_t x = a.i[static_cast<size_t>(ia)], y = b.i[static_cast<size_t>(ib)];
                out.i.push_back(n.op == "Add" ? x + y : n.op == "Sub" ? x - y : n.op == "Mul" ? x * y : (y ? x / y : 0));
            } else {
                const double x = a.at(ia), y = b.at(ib);
                out.f.push_back(static_cast<float>(n.op == "Add" ? x + y : n.op == "Sub" ? x - y : n.op == "Mul" ? x * y : x / y));
            }
        });
        return Status::ok();
    }

    Status slice(const OnnxNode& n, const ConstValue& x, ConstValue& out) {
        const int64_t r = static_cast<int64_t>(x.dims.size());
        std::vector<int64_t> starts, ends, axes, steps;
        auto ints_of = [&](size_t k, std::vector<int64_t>& v) -> Status {
            const Value* c = in(n, k);
            if (!c) return Status::ok();
            for (int64_t j = 0; j < c->c.count(); ++j) v.push_back(c->c.int_at(j));
            return Status::ok();
        };
        if (m_.opset < 10) {
            starts = n.ints("starts"); ends = n.ints("ends"); axes = n.ints("axes");
        } else {
            CNNLENS_RETURN_IF_ERROR(ints_of(1, starts));
            CNNLENS_RETURN_IF_ERROR(ints_of(2, ends));
            CNNLENS_RETURN_IF_ERROR(ints_of(3, axes));
            CNNLENS_RETURN_IF_ERROR(ints_of(4, steps));
        }
        if (axes.empty()) for (int64_t k = 0; k < static_cast<int64_t>(starts.size()); ++k) axes.push_back(k);
        if (steps.empty()) steps.assign(starts.size(), 1);
        if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size())
            return fail(n, "starts, ends, axes and steps differ in length");
        std::vector<int64_t> begin(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1), od = x.dims;
        for (size_t k = 0; k < axes.size(); ++k) {
            int64_t a = axes[k];
            if (a < 0) a += r;
            if (a < 0 || a >= r) return fail(n, "axis " + std::to_string(axes[k]) + " is out of range for " + dims_str(x.dims));
            const int64_t dim = x.dims[static_cast<size_t>(a)];
            if (steps[k] == 0) return fail(n, "step 0");
            if (dim == 0) { od[static_cast<size_t>(a)] = 0; continue; }
            const auto [b, len] = slice_range(dim, starts[k], ends[k], steps[k]);
            begin[static_cast<size_t>(a)] = b;
            step[static_cast<size_t>(a)] = std::clamp<int64_t>(steps[k], -dim, dim);
            od[static_cast<size_t>(a)] = len;
        }
        out = like(x, od);
        const auto xs = strides_of(x.dims);
        int64_t k = 0;
        for_each_index(od, [&](const std::vector<int64_t>& idx) {
            int64_t src = 0;
            for (size_t d = 0; d < od.size(); ++d) src += (begin[d] + idx[d] * step[d]) * xs[d];
            copy_elem(out, k++, x, src);
        });
        return Status::ok();
    }

    // Explicit (begin, end) pads per spatial axis from pads / auto_pad.
    Status spatial_pads(const OnnxNode& n, const int64_t in_hw[2], const int64_t k[2], const int64_t s[2], const int64_t d[2], int64_t pads[4]) {
        const std::string ap = n.s("auto_pad", "NOTSET");
        std::vector<int64_t> p = n.ints("pads");
        if (ap == "NOTSET") {
            if (p.empty()) p.assign(4, 0);
            if (p.size() != 4) return unsup(n, "pads has " + std::to_string(p.size()) + " values; only 2-D ops (4 pads) are supported");
            for (int64_t v : p) if (v < 0 || v > 4096) return fail(n, "pad " + std::to_string(v) + " is out of range");
            pads[0] = p[0]; pads[1] = p[1]; pads[2] = p[2]; pads[3] = p[3];  // top, left, bottom, right
        } else if (ap == "VALID") {
            std::fill(pads, pads + 4, 0);
        } else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
            for (int a = 0; a < 2; ++a) {
                const int64_t out = (in_hw[a] + s[a] - 1) / s[a];
                const int64_t total = std::max<int64_t>((out - 1) * s[a] + (k[a] - 1) * d[a] + 1 - in_hw[a], 0);
                const int64_t small = total / 2, big = total - small;
                pads[a] = ap == "SAME_UPPER" ? small : big;
                pads[a + 2] = ap == "SAME_UPPER" ? big : small;
            }
        } else {
            return unsup(n, "auto_pad '" + ap + "' is not supported");
        }
        return Status::ok();
    }

    Status pair_attr(const OnnxNode& n, const char* name, int64_t def, int64_t out[2], int64_t hi) {
        std::vector<int64_t> v = n.ints(name);
        if (v.empty()) v = {def, def};
        if (v.size() != 2) return unsup(n, std::string(name) + " has " + std::to_string(v.size()) + " values; only 2-D ops are supported");
        for (int a = 0; a < 2; ++a) {
            if (v[static_cast<size_t>(a)] < 1 || v[static_cast<size_t>(a)] > hi) return fail(n, std::string(name) + " " + dims_str(v) + " is out of range");
            out[a] = v[static_cast<size_t>(a)];
        }
        return Status::ok();
    }

    Status conv(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        auto w = const_input(n, 1, "the weights");
        if (!w) return w.status();
        const ConstValue& wc = **w;
        if ((*x)->onnx.size() != 4 || wc.dims.size() != 4) return unsup(n, "only 2-D convolutions of NCHW tensors are supported (input " + dims_str((*x)->onnx) + ", weights " + dims_str(wc.dims) + ")");
        const int64_t O = wc.dims[0], I = wc.dims[1], KH = wc.dims[2], KW = wc.dims[3];
        const int64_t group = n.i("group", 1);
        if (group < 1 || O % group || I * group != (*x)->onnx[1])
            return fail(n, "weights " + dims_str(wc.dims) + " with group " + std::to_string(group) + " do not fit input " + dims_str((*x)->onnx));
        const std::vector<int64_t> ks = n.ints("kernel_shape");
        if (!ks.empty() && (ks.size() != 2 || ks[0] != KH || ks[1] != KW)) return fail(n, "kernel_shape " + dims_str(ks) + " differs from the weights " + dims_str(wc.dims));
        int64_t s[2], d[2], pads[4];
        const int64_t k[2] = {KH, KW}, hw[2] = {(*x)->onnx[2], (*x)->onnx[3]};
        CNNLENS_RETURN_IF_ERROR(pair_attr(n, "strides", 1, s, 4096));
        CNNLENS_RETURN_IF_ERROR(pair_attr(n, "dilations", 1, d, 4096));
        CNNLENS_RETURN_IF_ERROR(spatial_pads(n, hw, k, s, d, pads));
        ConvAttrs c;
        c.stride_h = static_cast<int>(s[0]); c.stride_w = static_cast<int>(s[1]);
        c.dilation_h = static_cast<int>(d[0]); c.dilation_w = static_cast<int>(d[1]);
        c.padding = PaddingMode::kExplicit;
        c.pad_top = static_cast<int>(pads[0]); c.pad_left = static_cast<int>(pads[1]); c.pad_bottom = static_cast<int>(pads[2]); c.pad_right = static_cast<int>(pads[3]);
        c.groups = static_cast<int>(group);
        Tensor wt(Shape{KH, KW, I, O});  // [O,I,KH,KW] -> [KH,KW,I,O]
        for (int64_t o = 0; o < O; ++o)
            for (int64_t i = 0; i < I; ++i)
                for (int64_t y = 0; y < KH; ++y)
                    for (int64_t xx = 0; xx < KW; ++xx) wt[((y * KW + xx) * I + i) * O + o] = static_cast<float>(wc.at(((o * I + i) * KH + y) * KW + xx));
        // A bias is always present so a following BatchNormalization can be folded into it.
        Tensor bias(Shape{O}, 0.f);
        if (const Value* b = param(n, 2)) {
            if (!b->is_const || b->c.count() != O) return fail(n, "the bias must be a constant of " + std::to_string(O) + " values");
            for (int64_t o = 0; o < O; ++o) bias[o] = static_cast<float>(b->c.at(o));
        }
        const int wi = add_const(n.name + "/weights", std::move(wt)), bi = add_const(n.name + "/bias", std::move(bias));
        auto xn = plain(**x, n.name);
        if (!xn) return xn.status();
        auto id = add(n.name, OpType::kConv2D, c, {*xn, wi, bi});
        if (!id) return id.status();
        conv_of_[n.outputs[0]] = *id;
        return define(n, *id);
    }

    Status conv_transpose(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        auto w = const_input(n, 1, "the weights");
        if (!w) return w.status();
        const ConstValue& wc = **w;
        if ((*x)->onnx.size() != 4 || wc.dims.size() != 4) return unsup(n, "only 2-D transposed convolutions are supported (weights " + dims_str(wc.dims) + ")");
        const int64_t I = wc.dims[0], Og = wc.dims[1], KH = wc.dims[2], KW = wc.dims[3];
        const int64_t group = n.i("group", 1);
        if (group < 1 || I != (*x)->onnx[1] || I % group) return fail(n, "weights " + dims_str(wc.dims) + " with group " + std::to_string(group) + " do not fit input " + dims_str((*x)->onnx));
        int64_t s[2], d[2];
        CNNLENS_RETURN_IF_ERROR(pair_attr(n, "strides", 1, s, 4096));
        CNNLENS_RETURN_IF_ERROR(pair_attr(n, "dilations", 1, d, 4096));
        std::vector<int64_t> op = n.ints("output_padding");
        if (op.empty()) op = {0, 0};
        if (op.size() != 2) return unsup(n, "output_padding must have 2 values");
        std::vector<int64_t> pads = n.ints("pads");
        if (pads.empty()) pads.assign(4, 0);
        const std::string ap = n.s("auto_pad", "NOTSET");
        const std::vector<int64_t> out_shape = n.ints("output_shape");
        const int64_t k[2] = {KH, KW}, hw[2] = {(*x)->onnx[2], (*x)->onnx[3]};
        if (!out_shape.empty() || ap == "SAME_UPPER" || ap == "SAME_LOWER") {
            for (int a = 0; a < 2; ++a) {
                const int64_t want = !out_shape.empty() ? out_shape[out_shape.size() - 2 + static_cast<size_t>(a)] : hw[a] * s[a];
                const int64_t total = s[a] * (hw[a] - 1) + op[static_cast<size_t>(a)] + (k[a] - 1) * d[a] + 1 - want;
                if (total < 0) {
                    // An output larger than the kernels reach: the extra rows at the end hold the
                    // bias only, as output_padding's do.
                    const int64_t begin = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
                    if (begin != 0 && (ap == "SAME_UPPER" || total != -1))
                        return unsup(n, "output_shape " + dims_str(out_shape) + " needs negative padding at the start of axis " + std::to_string(a + 2));
                    op[static_cast<size_t>(a)] -= total;
                    pads[static_cast<size_t>(a)] = pads[static_cast<size_t>(a) + 2] = 0;
                    continue;
                }
                // ConvTranspose-1's formula and its auto_pad text put an odd pixel at opposite ends.
                if (total % 2 && m_.opset < 11)
                    return unsup(n, "the total padding " + std::to_string(total) + " of axis " + std::to_string(a + 2) +
                                        " is odd, and ConvTranspose before opset 11 defines its split inconsistently (re-export at opset 11 or later)");
                const bool upper = ap == "SAME_UPPER";
                pads[static_cast<size_t>(a)] = upper ? total / 2 : total - total / 2;
                pads[static_cast<size_t>(a) + 2] = upper ? total - total / 2 : total / 2;
            }
        } else if (ap == "VALID") {
            pads.assign(4, 0);
        }
        if (pads.size() != 4) return unsup(n, "pads must have 4 values");
        ConvTransposeAttrs c;
        c.stride_h = static_cast<int>(s[0]); c.stride_w = static_cast<int>(s[1]);
        c.dilation_h = static_cast<int>(d[0]); c.dilation_w = static_cast<int>(d[1]);
        c.pad_top = static_cast<int>(pads[0]); c.pad_left = static_cast<int>(pads[1]); c.pad_bottom = static_cast<int>(pads[2]); c.pad_right = static_cast<int>(pads[3]);
        c.output_padding_h = static_cast<int>(op[0]); c.output_padding_w = static_cast<int>(op[1]);
        c.groups = static_cast<int>(group);
        Tensor wt(Shape{KH, KW, Og, I});  // [I,O/g,KH,KW] -> [KH,KW,O/g,I]
        for (int64_t i = 0; i < I; ++i)
            for (int64_t o = 0; o < Og; ++o)
                for (int64_t y = 0; y < KH; ++y)
                    for (int64_t xx = 0; xx < KW; ++xx) wt[((y * KW + xx) * Og + o) * I + i] = static_cast<float>(wc.at(((i * Og + o) * KH + y) * KW + xx));
        auto xn = plain(**x, n.name);
        if (!xn) return xn.status();
        std::vector<int> ins{*xn, add_const(n.name + "/weights", std::move(wt))};
        if (const Value* b = param(n, 2)) {
            if (!b->is_const || b->c.count() != Og * group) return fail(n, "the bias must be a constant of " + std::to_string(Og * group) + " values");
            ins.push_back(add_const(n.name + "/bias", to_tensor(b->c, Shape{Og * group})));
        }
        auto id = add(n.name, OpType::kConvTranspose, c, ins);
        if (!id) return id.status();
        return define(n, *id);
    }

    // Gemm and MatMul of a matrix by constant weights: one engine MatMul (alpha folded into the
    // weights, beta * C its bias). With an added batch axis A [M,K] is held [1,M,K]: transA is
    // then a relabelling of its last two axes, and a C that varies along M is added after.
    Status gemm(const OnnxNode& n) {
        const bool is_gemm = n.op == "Gemm";
        auto a = runtime_input(n, 0);
        if (!a) return a.status();
        auto b = const_input(n, 1, "the weights");
        if (!b) return b.status();
        const Value& av = **a;
        const ConstValue& bc = **b;
        const bool rows = lead_ && av.onnx.size() == 3;
        if (av.onnx.size() != 2 && !rows) return unsup(n, "the first operand " + dims_str(av.onnx) + " must be a matrix [N, K]");
        if (bc.dims.size() != 2) return unsup(n, "the weights " + dims_str(bc.dims) + " must be a matrix");
        const bool ta = is_gemm && n.i("transA", 0);
        if (ta && !rows) return unsup(n, "transA = 1 on a computed tensor would move its batch axis");
        const bool tb = is_gemm && n.i("transB", 0);
        const float alpha = is_gemm ? n.f("alpha", 1.f) : 1.f, beta = is_gemm ? n.f("beta", 1.f) : 1.f;
        const int64_t K = tb ? bc.dims[1] : bc.dims[0], M = tb ? bc.dims[0] : bc.dims[1];
        int an = av.node;
        if (rows) {
            auto x = with_layout(av, ta ? std::vector<int>{0, 2, 1} : std::vector<int>{0, 1, 2}, n.name);
            if (!x) return x.status();
            an = *x;
        }
        const int64_t ak = rows ? av.onnx[ta ? 1 : 2] : av.onnx[1];
        if (K != ak) return fail(n, "inner dimensions differ: " + dims_str(av.onnx) + (ta ? " (transposed)" : "") + " x " + dims_str(bc.dims) + (tb ? " (transposed)" : ""));
        Tensor w(Shape{K, M});
        for (int64_t k = 0; k < K; ++k) {
            // Row k of the engine's weights multiplies engine feature k; for an hwc_flat input that
            // is feature (c, h, w) of PyTorch's C-major flatten.
            int64_t src = k;
            if (av.hwc_flat) {
                const int64_t c = k % av.fc, hw = k / av.fc;
                src = c * av.fh * av.fw + hw;
            }
            for (int64_t m = 0; m < M; ++m) w[k * M + m] = alpha * static_cast<float>(bc.at(tb ? m * K + src : src * M + m));
        }
        std::vector<int> ins{an, add_const(n.name + "/weights", std::move(w))};
        const Value* c = is_gemm ? param(n, 2) : nullptr;
        if (c && !c->is_const) return unsup(n, "the bias C must be a constant");
        const int64_t cn = c ? c->c.count() : 0;
        const bool bias_row = c && (cn == M || cn == 1);
        if (c && !bias_row && !rows) return unsup(n, "the bias C " + dims_str(c->c.dims) + " must have 1 or " + std::to_string(M) + " values");
        if (bias_row) {
            Tensor bias(Shape{M});
            for (int64_t m = 0; m < M; ++m) bias[m] = beta * static_cast<float>(c->c.at(cn == 1 ? 0 : m));
            ins.push_back(add_const(n.name + "/bias", std::move(bias)));
        }
        auto id = add(bias_row || !c ? n.name : n.name + "/product", OpType::kMatMul, MatMulAttrs{}, ins);
        if (!id) return id.status();
        if (c && !bias_row) {
            ConstValue scaled = c->c;
            if (scaled.is_int) {
                for (int64_t v : scaled.i) scaled.f.push_back(static_cast<float>(v));
                scaled.i.clear();
                scaled.is_int = false;
            }
            for (float& v : scaled.f) v *= beta;
            auto t = const_for(n, scaled, 3);
            if (!t) return t.status();
            id = add(n.name, OpType::kAdd, NoAttrs{}, {*id, add_const(n.name + "/bias", std::move(*t))});
            if (!id) return id.status();
        }
        return define(n, *id);
    }

    Status batch_norm(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        if (n.i("training_mode", 0)) return unsup(n, "training_mode = 1 is not supported (export the model in eval mode)");
        const ConstValue* p[4];
        const char* what[4] = {"scale", "bias", "mean", "var"};
        for (size_t k = 0; k < 4; ++k) {
            auto c = const_input(n, k + 1, what[k]);
            if (!c) return c.status();
            p[k] = *c;
        }
        const Value& xv = **x;
        if (xv.onnx.size() < 2 || (xv.onnx.size() != 4 && xv.onnx.size() != 2)) return unsup(n, "input " + dims_str(xv.onnx) + " is not [N,C,H,W] or [N,C]");
        const int64_t C = xv.onnx[1];
        for (size_t k = 0; k < 4; ++k)
            if (p[k]->count() != C) return fail(n, std::string(what[k]) + " has " + std::to_string(p[k]->count()) + " values for " + std::to_string(C) + " channels");
        const float eps = n.f("epsilon", 1e-5f);
        Tensor scale(Shape{C}), shift(Shape{C});
        for (int64_t c = 0; c < C; ++c) {
            const double v = p[3]->at(c) + eps;
            if (!(v > 0)) return fail(n, "variance + epsilon is " + std::to_string(v) + " for channel " + std::to_string(c));
            scale[c] = static_cast<float>(p[0]->at(c) / std::sqrt(v));
            shift[c] = static_cast<float>(p[1]->at(c) - p[2]->at(c) * p[0]->at(c) / std::sqrt(v));
        }
        // Fold into the Conv that produced x when nothing else reads the Conv's output.
        auto conv = conv_of_.find(n.inputs[0]);
        if (conv != conv_of_.end() && consumers_[n.inputs[0]] == 1 && !xv.hwc_flat) {
            const Node& cn = g_.node(conv->second);
            Tensor& w = g_.node(cn.inputs[1]).value;
            Tensor& b = g_.node(cn.inputs[2]).value;
            for (int64_t i = 0; i < w.size(); ++i) w[i] *= scale[i % C];
            for (int64_t c = 0; c < C; ++c) b[c] = b[c] * scale[c] + shift[c];
            values_[n.outputs[0]] = xv;
            return Status::ok();
        }
        auto xn = plain(xv, n.name);
        if (!xn) return xn.status();
        const int si = add_const(n.name + "/scale", std::move(scale)), bi = add_const(n.name + "/shift", std::move(shift));
        auto id = add(n.name, OpType::kBatchNorm, NoAttrs{}, {*xn, si, bi});
        if (!id) return id.status();
        return define(n, *id);
    }

    // Operands meet in the layout of the first computed one; the result keeps it.
    Status binary(const OnnxNode& n) {
        const OpType op = n.op == "Add" ? OpType::kAdd : n.op == "Sub" ? OpType::kSub : n.op == "Mul" ? OpType::kMul : OpType::kDiv;
        const Value* a = in(n, 0);
        const Value* b = in(n, 1);
        if (!a || !b) return fail(n, "needs two inputs");
        // Before opset 7, broadcast = 1 aligns B with A from `axis` on (at the end without it);
        // numpy's right alignment means the same once B gets trailing 1s.
        Value aligned;
        if (m_.opset < 7 && n.i("broadcast", 0) != 0 && n.attr("axis")) {
            const std::vector<int64_t>& ad = a->is_const ? a->c.dims : a->onnx;
            const std::vector<int64_t>& bd = b->is_const ? b->c.dims : b->onnx;
            const int64_t ra = static_cast<int64_t>(ad.size()) - (a->is_const ? 0 : lead_), rb = static_cast<int64_t>(bd.size()) - (b->is_const ? 0 : lead_);
            int64_t axis = n.i("axis", 0);
            if (axis < 0) axis += ra;
            if (axis < 0 || axis + rb > ra) return fail(n, "broadcast axis " + std::to_string(n.i("axis", 0)) + " does not fit " + dims_str(bd) + " into " + dims_str(ad));
            if (axis + rb < ra) {
                const Value* bc = param(n, 1);
                if (!bc->is_const)
                    return unsup(n, "broadcast = 1 with axis = " + std::to_string(axis) + " aligns the computed operand '" + n.inputs[1] + "' " + dims_str(bd) + " inside " + dims_str(ad) +
                                        " (before opset 7); only a constant operand can be aligned that way");
                aligned = *bc;
                aligned.c.dims.insert(aligned.c.dims.end(), static_cast<size_t>(ra - axis - rb), 1);
                b = &aligned;
            }
        }
        // A computed operand of lower rank whose value is known broadcasts as a constant.
        if (!a->is_const && !b->is_const && a->onnx.size() != b->onnx.size())
            (a->onnx.size() < b->onnx.size() ? a : b) = param(n, a->onnx.size() < b->onnx.size() ? 0 : 1);
        std::vector<int> ins;
        const Value* rt = a->is_const ? b : a;
        const size_t r = rt->onnx.size();
        const std::vector<int> lay = rt->hwc_flat ? layout(r) : layout_of(*rt);
        std::vector<int64_t> onnx = rt->onnx;
        for (const Value* v : {a, b}) {
            const std::vector<int64_t>& d = v->is_const ? v->c.dims : v->onnx;
            if (d.size() > r) return unsup(n, "operand " + dims_str(d) + " has a higher rank than " + dims_str(rt->onnx));
            for (size_t k = 0; k < d.size(); ++k) {
                int64_t& o = onnx[r - d.size() + k];
                if (o == 1) o = d[k];
            }
            if (v->is_const) {
                auto t = const_for(n, v->c, r, lay);
                if (!t) return t.status();
                ins.push_back(add_const(n.name + "/const", std::move(*t)));
            } else {
                if (v->onnx.size() != r) return unsup(n, "computed operands " + dims_str(a->onnx) + " and " + dims_str(b->onnx) + " differ in rank");
                auto p = v->hwc_flat ? plain(*v, n.name) : with_layout(*v, lay, n.name);
                if (!p) return p.status();
                ins.push_back(*p);
            }
        }
        auto id = add(n.name, op, NoAttrs{}, ins);
        if (!id) return id.status();
        define_as(n, *id, onnx, lay);
        return Status::ok();
    }

    // Element-wise ops keep the layout of their input (including hwc_flat).
    Status unary(const OnnxNode& n, OpType op, OpAttrs attrs) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        auto id = add(n.name, op, std::move(attrs), {(*x)->node});
        if (!id) return id.status();
        Value v = **x;
        v.node = *id;
        values_[n.outputs[0]] = std::move(v);
        return Status::ok();
    }

    Status clip(const OnnxNode& n) {
        float lo = -INFINITY, hi = INFINITY;
        if (m_.opset < 11) {
            lo = n.f("min", lo);
            hi = n.f("max", hi);
        } else {
            for (size_t k = 1; k <= 2; ++k)
                if (const Value* v = param(n, k)) {
                    if (!v->is_const || v->c.count() != 1) return unsup(n, std::string(k == 1 ? "min" : "max") + " must be a constant scalar");
                    (k == 1 ? lo : hi) = static_cast<float>(v->c.at(0));
                }
        }
        // Clip(0, 6) and Clip(0, inf) are ReLU6 and ReLU: they then follow the ReLU rule of
        // guided backprop and deconvnet like the ReLUs of Keras models.
        if (lo == 0.f && hi == 6.f) return unary(n, OpType::kRelu6, NoAttrs{});
        if (lo == 0.f && hi == INFINITY) return unary(n, OpType::kRelu, NoAttrs{});
        return unary(n, OpType::kClip, ClipAttrs{lo, hi});
    }

    // The slope broadcasts to x (numpy rules from opset 7; before, C values are per channel). One
    // of 1 value or along the engine's last axis stays as it is; any other is expanded to one
    // image.
    Status prelu(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        auto s = const_input(n, 1, "slope");
        if (!s) return s.status();
        const std::vector<int64_t>& d = (*x)->onnx;
        ConstValue slope = **s;
        if (m_.opset < 7 && slope.count() > 1) {
            if (d.size() < 2 || slope.count() != d[1])
                return unsup(n, "slope " + dims_str(slope.dims) + " has neither 1 value nor one per channel of " + dims_str(d) + " (PRelu before opset 7)");
            slope.dims.assign(d.size() - 1, 1);
            slope.dims[0] = d[1];
        }
        if (!broadcasts_to(slope.dims, d)) {
            std::vector<int64_t> full = d;
            full[0] = slope.dims.size() == d.size() ? slope.dims[0] : 1;
            if (broadcasts_to(slope.dims, full)) return unsup(n, "slope " + dims_str(slope.dims) + " varies along the batch axis of " + dims_str(d));
            return fail(n, "slope " + dims_str(slope.dims) + " does not broadcast to " + dims_str(d));
        }
        auto xn = plain(**x, n.name);
        if (!xn) return xn.status();
        auto t = const_for(n, slope, d.size());
        if (!t) return t.status();
        const int64_t last = shape_of(*xn).dim(-1);
        if (t->size() > 1 && !(t->shape().rank() == 1 && t->size() == last)) {
            std::vector<int64_t> image = d;
            image[0] = 1;
            t = const_for(n, expand(slope, image), d.size());
            if (!t) return t.status();
        }
        t->reshape(Shape{t->size()});
        auto id = add(n.name, OpType::kPrelu, NoAttrs{}, {*xn, add_const(n.name + "/slope", std::move(*t))});
        if (!id) return id.status();
        return define(n, *id);
    }

    // Softmax over one axis (opset 13), or before opset 13 over the axes from `axis` on,
    // flattened. The engine's softmax runs over its last axis: those axes are laid out last (a
    // relabelling, or one Transpose) and, when there are several, flattened by a Reshape and back.
    Status softmax(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        Value xv = **x;
        if (xv.hwc_flat) {
            auto p = plain(xv, n.name);
            if (!p) return p.status();
            xv = Value();
            xv.node = *p;
            xv.onnx = (*x)->onnx;
        }
        const std::vector<int64_t>& d = xv.onnx;
        const int64_t given = n.i("axis", m_.opset < 13 ? 1 : -1), axis = axis_of(given, d.size());
        if (axis < 0) return fail(n, "axis " + std::to_string(given) + " is out of range for " + dims_str(d));
        if (axis == 0) return unsup(n, "softmax over axis 0 of " + dims_str(d) + ", the batch axis, is not supported");
        const bool flat = m_.opset < 13 && product(d, static_cast<size_t>(axis) + 1) != 1;
        std::vector<int> lay;
        if (flat) {
            lay = trailing_layout(xv, axis);
        } else {
            for (int a : layout_of(xv)) if (a != axis) lay.push_back(a);
            lay.push_back(static_cast<int>(axis));
        }
        auto xn = with_layout(xv, lay, n.name);
        if (!xn) return xn.status();
        int node = *xn;
        Shape es = shape_of(node);
        es[0] = -1;
        if (flat) {  // the engine axes before the flattened ones are ONNX axes 0..axis-1
            std::vector<int64_t> rows(es.begin(), es.begin() + axis);
            rows.push_back(product(d, static_cast<size_t>(axis)));
            auto r = add(n.name + "/flat", OpType::kReshape, ReshapeAttrs{rows}, {node});
            if (!r) return r.status();
            node = *r;
        }
        auto id = add(n.name, n.op == "Softmax" ? OpType::kSoftmax : OpType::kLogSoftmax, SoftmaxAttrs{-1}, {node});
        if (!id) return id.status();
        node = *id;
        if (flat) {
            auto r = add(n.name + "/unflat", OpType::kReshape, ReshapeAttrs{std::vector<int64_t>(es.begin(), es.end())}, {node});
            if (!r) return r.status();
            node = *r;
        }
        define_as(n, node, d, lay);
        return Status::ok();
    }

    Status pool(const OnnxNode& n) {
        const bool is_max = n.op == "MaxPool";
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        if ((*x)->onnx.size() != 4) return unsup(n, "only 2-D pooling of NCHW tensors is supported (input " + dims_str((*x)->onnx) + ")");
        int64_t k[2], s[2], d[2], pads[4];
        const std::vector<int64_t> ks = n.ints("kernel_shape");
        if (ks.size() != 2) return unsup(n, "kernel_shape " + dims_str(ks) + " is not 2-D");
        CNNLENS_RETURN_IF_ERROR(pair_attr(n, "kernel_shape", 1, k, 4096));
        CNNLENS_RETURN_IF_ERROR(pair_attr(n, "strides", 1, s, 4096));
        CNNLENS_RETURN_IF_ERROR(pair_attr(n, "dilations", 1, d, 4096));
        if (!is_max && (d[0] != 1 || d[1] != 1)) return unsup(n, "dilated average pooling is not supported");
        const int64_t hw[2] = {(*x)->onnx[2], (*x)->onnx[3]};
        CNNLENS_RETURN_IF_ERROR(spatial_pads(n, hw, k, s, d, pads));
        auto xn = plain(**x, n.name);
        if (!xn) return xn.status();
        int node = *xn;
        // count_include_pad: pad with zeros first, then average over in-bounds elements only;
        // this equals PyTorch's divisor, which counts explicit padding but not ceil_mode's.
        if (!is_max && n.i("count_include_pad", 0) && (pads[0] || pads[1] || pads[2] || pads[3])) {
            auto p = add(n.name + "/pad", OpType::kPad, PadAttrs{{{0, 0}, {pads[0], pads[2]}, {pads[1], pads[3]}, {0, 0}}, 0.f}, {node});
            if (!p) return p.status();
            node = *p;
            std::fill(pads, pads + 4, 0);
        }
        const Shape ps = shape_of(node);
        const int64_t in_hw[2] = {ps[1], ps[2]};
        if (n.i("ceil_mode", 0)) {
            // Output size rounds up, but the last window must start inside the input or the
            // leading padding (PyTorch and ONNX agree); the extra end padding is never counted.
            for (int a = 0; a < 2; ++a) {
                const int64_t window = (k[a] - 1) * d[a] + 1;
                const int64_t span = in_hw[a] + pads[a] + pads[a + 2] - window;
                if (span < 0) continue;
                int64_t out = (span + s[a] - 1) / s[a] + 1;
                if ((out - 1) * s[a] >= in_hw[a] + pads[a]) --out;
                pads[a + 2] += std::max<int64_t>(0, (out - 1) * s[a] + window - (in_hw[a] + pads[a] + pads[a + 2]));
            }
        }
        PoolAttrs p;
        p.kernel_h = static_cast<int>(k[0]); p.kernel_w = static_cast<int>(k[1]);
        p.stride_h = static_cast<int>(s[0]); p.stride_w = static_cast<int>(s[1]);
        p.padding = PaddingMode::kExplicit;
        p.pad_top = static_cast<int>(pads[0]); p.pad_left = static_cast<int>(pads[1]); p.pad_bottom = static_cast<int>(pads[2]); p.pad_right = static_cast<int>(pads[3]);
        p.dilation_h = static_cast<int>(d[0]); p.dilation_w = static_cast<int>(d[1]);
        auto id = add(n.name, is_max ? OpType::kMaxPool : OpType::kAvgPool, p, {node});
        if (!id) return id.status();
        return define(n, *id);
    }

    Status global_pool(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        if ((*x)->onnx.size() != 4) return unsup(n, "only NCHW inputs are supported (input " + dims_str((*x)->onnx) + ")");
        auto xn = plain(**x, n.name);
        if (!xn) return xn.status();
        Expected<int> id = 0;
        if (n.op == "GlobalAveragePool") {
            id = add(n.name, OpType::kMean, ReduceAttrs{{1, 2}, true}, {*xn});
        } else {
            PoolAttrs p;  // a max pool whose window is the whole image runs on the kernel sets
            p.kernel_h = static_cast<int>((*x)->onnx[2]); p.kernel_w = static_cast<int>((*x)->onnx[3]);
            id = add(n.name, OpType::kMaxPool, p, {*xn});
        }
        if (!id) return id.status();
        return define(n, *id);
    }

    // ReduceMean (x.mean((2, 3)) in PyTorch; LayerNorm's decomposition): axes from the
    // attribute, or the input from opset 18. The result keeps the input's axis order.
    Status reduce_mean(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        Expected<int> xn = (*x)->hwc_flat ? plain(**x, n.name) : Expected<int>((*x)->node);
        if (!xn) return xn.status();
        const std::vector<int64_t>& d = (*x)->onnx;
        const int64_t r = static_cast<int64_t>(d.size());
        auto axes = axes_of(n, 1, r - lead_);
        if (!axes) return axes.status();
        if (axes->empty() && n.i("noop_with_empty_axes", 0)) {
            values_[n.outputs[0]] = **x;
            return Status::ok();
        }
        if (lead_) {
            if (axes->empty()) for (int64_t k = 0; k + 1 < r; ++k) axes->push_back(k);
            for (int64_t& a : *axes) ++a;
        }
        if (axes->empty()) return unsup(n, "reducing over every axis (the batch included) is not supported");
        if ((*axes)[0] == 0) return unsup(n, "reducing over the batch axis is not supported");
        const bool keep = n.i("keepdims", 1) != 0;
        const std::vector<int> l = (*x)->hwc_flat ? layout(d.size()) : layout_of(**x);
        ReduceAttrs ra;
        ra.keep_dims = keep;
        for (int64_t a : *axes) ra.axes.push_back(static_cast<int>(std::find(l.begin(), l.end(), static_cast<int>(a)) - l.begin()));
        std::sort(ra.axes.begin(), ra.axes.end());
        auto id = add(n.name, OpType::kMean, ra, {*xn});
        if (!id) return id.status();
        auto reduced = [&](int64_t k) { return std::find(axes->begin(), axes->end(), k) != axes->end(); };
        std::vector<int64_t> onnx;
        std::vector<int> lay, renum(d.size(), 0);
        for (int64_t k = 0, kept = 0; k < r; ++k) {
            renum[static_cast<size_t>(k)] = static_cast<int>(keep ? k : kept);
            if (keep || !reduced(k)) { onnx.push_back(reduced(k) ? 1 : d[static_cast<size_t>(k)]); ++kept; }
        }
        for (int a : l) if (keep || !reduced(a)) lay.push_back(renum[static_cast<size_t>(a)]);
        define_as(n, *id, onnx, lay);
        return Status::ok();
    }

    // The target of Reshape/Flatten/Squeeze/Unsqueeze of runtime v, in Value::onnx terms.
    Expected<std::vector<int64_t>> runtime_target(const OnnxNode& n, const Value& v) {
        if (!lead_) return reshaped_dims(n, v.onnx, true);
        auto d = reshaped_dims(n, std::vector<int64_t>(v.onnx.begin() + 1, v.onnx.end()), false);
        if (d) d->insert(d->begin(), 1);
        return d;
    }

    Status flatten(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        auto d = runtime_target(n, **x);
        if (!d) return d.status();
        return reshape_to(n, **x, *d);
    }

    Status reshape_like(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        auto d = runtime_target(n, **x);
        if (!d) return d.status();
        if (*d == (*x)->onnx) {
            values_[n.outputs[0]] = **x;
            return Status::ok();
        }
        return reshape_to(n, **x, *d);
    }

    static std::vector<int> layout(size_t rank) {
        if (rank == 4) return {0, 2, 3, 1};  // engine axis i holds ONNX axis layout[i]
        std::vector<int> l(rank);
        for (size_t i = 0; i < rank; ++i) l[i] = static_cast<int>(i);
        return l;
    }

    Status transpose_op(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        Expected<int> xn = (*x)->hwc_flat ? plain(**x, n.name) : Expected<int>((*x)->node);
        if (!xn) return xn.status();
        const size_t r = (*x)->onnx.size(), real = r - static_cast<size_t>(lead_);
        std::vector<int64_t> p = n.ints("perm");
        if (p.empty()) for (size_t k = real; k-- > 0;) p.push_back(static_cast<int64_t>(k));
        if (p.size() != real) return fail(n, "perm has " + std::to_string(p.size()) + " axes for rank " + std::to_string(real));
        std::vector<bool> seen(real, false);
        for (int64_t v : p) {
            if (v < 0 || v >= static_cast<int64_t>(real) || seen[static_cast<size_t>(v)]) return fail(n, "perm " + dims_str(p) + " is not a permutation");
            seen[static_cast<size_t>(v)] = true;
        }
        if (lead_) {
            for (int64_t& v : p) ++v;
            p.insert(p.begin(), 0);
        }
        if (p[0] != 0) return unsup(n, "moving the batch axis is not supported (perm " + dims_str(p) + ")");
        // No data moves: engine axis i held input axis lin[i], which is output axis pinv[lin[i]].
        std::vector<int> pinv(r), lin = layout_of(**x), lout;
        if ((*x)->hwc_flat) lin = layout(r);
        for (size_t j = 0; j < r; ++j) pinv[static_cast<size_t>(p[j])] = static_cast<int>(j);
        for (int a : lin) lout.push_back(pinv[static_cast<size_t>(a)]);
        std::vector<int64_t> onnx;
        for (size_t j = 0; j < r; ++j) onnx.push_back((*x)->onnx[static_cast<size_t>(p[j])]);
        define_as(n, *xn, onnx, lout);
        return Status::ok();
    }

    Status concat(const OnnxNode& n) {
        std::vector<int> ins;
        size_t r = 0;
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            const Value* v = in(n, k);
            if (!v || v->is_const) continue;
            if (r && v->onnx.size() != r) return fail(n, "inputs differ in rank");
            r = v->onnx.size();
        }
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            const Value* v = in(n, k);
            if (!v) continue;
            if (v->is_const) {
                // A constant (a transformer's class token) is the same for every image: it goes
                // in with a batch of 1, which the engine's Concat repeats over the batch.
                ConstValue c = v->c;
                if (c.dims.size() + static_cast<size_t>(lead_) != r) return fail(n, "inputs differ in rank");
                if (lead_) c.dims.insert(c.dims.begin(), 1);
                if (c.dims[0] != 1) return unsup(n, "the constant '" + n.inputs[k] + "' " + dims_str(v->c.dims) + " has " + std::to_string(c.dims[0]) + " on the batch axis");
                c = permute(c, layout(r));
                ins.push_back(add_const(n.name + "/" + n.inputs[k], to_tensor(c, Shape::from(c.dims.begin(), c.dims.end()))));
                continue;
            }
            auto p = plain(*v, n.name);
            if (!p) return p.status();
            ins.push_back(*p);
        }
        if (ins.empty()) return fail(n, "has no inputs");
        const int64_t axis = axis_of(n.i("axis", 1), r);
        if (axis < 0) return fail(n, "axis " + std::to_string(n.i("axis", 1)) + " is out of range for rank " + std::to_string(r - static_cast<size_t>(lead_)));
        if (axis == 0) return unsup(n, "concatenating along axis 0, the batch axis, is not supported");
        const std::vector<int> l = layout(r);
        const int eaxis = static_cast<int>(std::find(l.begin(), l.end(), static_cast<int>(axis)) - l.begin());
        if (ins.size() == 1) return define(n, ins[0]);
        auto id = add(n.name, OpType::kConcat, ConcatAttrs{eaxis}, ins);
        if (!id) return id.status();
        return define(n, *id);
    }

    Status pad(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        auto xn = plain(**x, n.name);
        if (!xn) return xn.status();
        const std::string mode = n.s("mode", "constant");
        if (mode != "constant" && mode != "reflect" && mode != "edge") return unsup(n, "mode '" + mode + "' is not supported (constant, reflect, edge)");
        const size_t r = (*x)->onnx.size(), real = r - static_cast<size_t>(lead_);
        std::vector<int64_t> pads;
        float value = 0.f;
        if (m_.opset < 11) {
            pads = n.ints(m_.opset < 2 ? "paddings" : "pads");
            value = n.f("value", 0.f);
        } else {
            auto p = const_input(n, 1, "pads");
            if (!p) return p.status();
            for (int64_t k = 0; k < (*p)->count(); ++k) pads.push_back((*p)->int_at(k));
            if (const Value* v = param(n, 2)) {
                if (!v->is_const || v->c.count() != 1) return unsup(n, "constant_value must be a constant scalar");
                value = static_cast<float>(v->c.at(0));
            }
            if (const Value* a = param(n, 3)) {  // opset 18: pads for the listed axes only
                if (!a->is_const) return unsup(n, "axes must be a constant");
                std::vector<int64_t> full(2 * real, 0);
                const int64_t na = a->c.count();
                if (static_cast<int64_t>(pads.size()) != 2 * na) return fail(n, "pads has " + std::to_string(pads.size()) + " values for " + std::to_string(na) + " axes");
                for (int64_t k = 0; k < na; ++k) {
                    int64_t ax = a->c.int_at(k);
                    if (ax < 0) ax += static_cast<int64_t>(real);
                    if (ax < 0 || ax >= static_cast<int64_t>(real)) return fail(n, "axis " + std::to_string(ax) + " is out of range");
                    full[static_cast<size_t>(ax)] = pads[static_cast<size_t>(k)];
                    full[static_cast<size_t>(ax) + real] = pads[static_cast<size_t>(k + na)];
                }
                pads = full;
            }
        }
        if (pads.size() != 2 * real) return fail(n, "pads has " + std::to_string(pads.size()) + " values for rank " + std::to_string(real));
        if (lead_) {  // the added batch axis is not padded
            pads.insert(pads.begin() + static_cast<std::ptrdiff_t>(real), 0);
            pads.insert(pads.begin(), 0);
        }
        for (int64_t v : pads) if (v < 0) return unsup(n, "negative pads (cropping) are not supported: " + dims_str(pads));
        PadAttrs pa;
        pa.value = value;
        pa.mode = mode == "reflect" ? PadMode::kReflect : mode == "edge" ? PadMode::kEdge : PadMode::kConstant;
        for (int ax : layout(r)) pa.paddings.push_back({pads[static_cast<size_t>(ax)], pads[static_cast<size_t>(ax) + r]});
        auto id = add(n.name, OpType::kPad, pa, {*xn});
        if (!id) return id.status();
        return define(n, *id);
    }

    // --- ops of ConvNeXt, ShuffleNet and other torchvision models -----------------------------

    // ONNX axis k of v as an engine axis.
    int engine_axis(const Value& v, int64_t k) const {
        const std::vector<int> l = layout_of(v);
        return static_cast<int>(std::find(l.begin(), l.end(), static_cast<int>(k)) - l.begin());
    }

    // A layout of rank r that keeps v's order for the leading axes and puts ONNX axes
    // from..r-1 last, in order (what MatMul and LayerNorm over trailing axes need).
    std::vector<int> trailing_layout(const Value& v, int64_t from) const {
        std::vector<int> l;
        for (int a : layout_of(v)) if (a < from) l.push_back(a);
        for (int64_t a = from; a < static_cast<int64_t>(v.onnx.size()); ++a) l.push_back(static_cast<int>(a));
        return l;
    }

    Status pow(const OnnxNode& n) {
        auto e = const_input(n, 1, "the exponent");
        if (!e) return e.status();
        if ((*e)->count() != 1) return unsup(n, "the exponent " + dims_str((*e)->dims) + " must be a scalar");
        return unary(n, OpType::kPow, PowAttrs{static_cast<float>((*e)->at(0))});
    }

    // MatMul of a [N,...,K] tensor by a constant [K,M] (a Linear on a channels-last tensor):
    // one engine MatMul over the last axis, in a layout where the contracted axis is last.
    Status matmul_rows(const OnnxNode& n) {
        auto a = runtime_input(n, 0);
        if (!a) return a.status();
        auto b = const_input(n, 1, "the weights");
        if (!b) return b.status();
        const Value& av = **a;
        const ConstValue& bc = **b;
        const int64_t r = static_cast<int64_t>(av.onnx.size());
        if (bc.dims.size() != 2) return unsup(n, "the second operand " + dims_str(bc.dims) + " must be a constant matrix");
        if (bc.dims[0] != av.onnx.back()) return fail(n, "inner dimensions differ: " + dims_str(av.onnx) + " x " + dims_str(bc.dims));
        const std::vector<int> lay = trailing_layout(av, r - 1);
        auto x = with_layout(av, lay, n.name);
        if (!x) return x.status();
        auto id = add(n.name, OpType::kMatMul, MatMulAttrs{}, {*x, add_const(n.name + "/weights", to_tensor(bc, Shape{bc.dims[0], bc.dims[1]}))});
        if (!id) return id.status();
        std::vector<int64_t> onnx = av.onnx;
        onnx.back() = bc.dims[1];
        define_as(n, *id, onnx, lay);
        return Status::ok();
    }

    // With a batch axis added, an NCHW image input of batch 1 (or a symbolic batch) is held as
    // the engine's NHWC image when no value is given for it (the model is run on images, not by
    // `cnnlens run`, whose tensors keep the ONNX order).
    bool image_with_lead(const std::vector<int64_t>& onnx) {
        if (!lead_ || !given_.empty() || onnx.size() != 5 || onnx[1] != 1) return false;
        image_input_ = true;
        return true;
    }

    // An op on [N,C,H,W] images (Conv, pooling, BatchNormalization, Resize) in a graph read with
    // a batch axis added: when the model's own batch is 1 (a transformer that folds it into its
    // heads or tokens), the op runs on the engine's NHWC image [L,H,W,C], L the added batch, and
    // its result goes back to [L,1,...] in the NHWC layout.
    Status batch_first_with_lead(const OnnxNode& n) {
        const std::string why = "its input's first axis must be the batch axis (N of [N,C,...])";
        const Value* x = in(n, 0);
        if (!x || x->is_const || x->onnx.size() != 5 || x->onnx[1] != 1) return unsup(n, why);
        const int64_t C = x->onnx[2], H = x->onnx[3], W = x->onnx[4];
        Expected<int> xn = with_layout(*x, {0, 1, 3, 4, 2}, n.name);
        if (!xn) return xn.status();
        Expected<int> img = add(n.name + "/image", OpType::kReshape, ReshapeAttrs{{-1, H, W, C}}, {*xn});
        if (!img) return img.status();
        const std::string input = n.inputs[0];
        const Value saved = *x;
        Value v;
        v.node = *img;
        v.onnx = {1, C, H, W};
        values_[input] = std::move(v);
        lead_ = 0;
        Status st = convert(n);
        lead_ = 1;
        values_[input] = saved;
        if (!st) return st;
        Value out = values_.at(n.outputs[0]);
        if (out.onnx.size() != 4) return unsup(n, why);
        if (!out.hwc_flat && out.layout.empty()) image_nodes_.insert(out.node);
        Expected<int> on = plain(out, n.name);
        if (!on) return on.status();
        const int64_t c = out.onnx[1], h = out.onnx[2], w = out.onnx[3];
        Expected<int> back = add(n.name + "/lead", OpType::kReshape, ReshapeAttrs{{-1, 1, h, w, c}}, {*on});
        if (!back) return back.status();
        define_as(n, *back, {1, 1, c, h, w}, {0, 1, 3, 4, 2});
        return Status::ok();
    }

    // A 1-D convolution or pooling of [N,C,L]: the 2-D op on [N,C,1,L] (the engine's NHWC image
    // [N,1,L,C]), its attributes and weights given a leading axis of 1, and the result read back
    // as [N,C',L'].
    Status one_d_as_two_d(const OnnxNode& n) {
        const Value x = *in(n, 0);
        const int64_t C = x.onnx[1], L = x.onnx[2];
        Expected<int> xn = with_layout(x, {0, 2, 1}, n.name);
        if (!xn) return xn.status();
        Expected<int> img = add(n.name + "/2d", OpType::kReshape, ReshapeAttrs{{-1, 1, L, C}}, {*xn});
        if (!img) return img.status();
        OnnxNode m = n;
        m.inputs[0] = n.inputs[0] + "/2d";
        m.outputs[0] = n.outputs[0] + "/2d";
        Value v;
        v.node = *img;
        v.onnx = {1, C, 1, L};
        values_[m.inputs[0]] = std::move(v);
        for (Attr& a : m.attrs) {
            if (a.name == "kernel_shape" || a.name == "strides" || a.name == "dilations" || a.name == "output_shape") {
                if (a.ints.size() == 1) a.ints.insert(a.ints.begin(), 1);
            } else if (a.name == "pads") {
                if (a.ints.size() == 2) a.ints = {0, a.ints[0], 0, a.ints[1]};
            } else if (a.name == "output_padding") {
                if (a.ints.size() == 1) a.ints.insert(a.ints.begin(), 0);
            }
        }
        if ((n.op == "Conv" || n.op == "ConvTranspose") && n.inputs.size() > 1) {
            const Value* w = param(n, 1);
            if (w && w->is_const && w->c.dims.size() == 3) {
                Value w2 = *w;
                w2.c.dims.insert(w2.c.dims.begin() + 2, 1);
                m.inputs[1] = n.inputs[1] + "/2d";
                values_[m.inputs[1]] = std::move(w2);
            }
        }
        CNNLENS_RETURN_IF_ERROR(convert(m));
        const Value out = values_.at(m.outputs[0]);
        if (out.onnx.size() != 4 || out.onnx[2] != 1) return unsup(n, "the 1-D result " + dims_str(out.onnx) + " is not [N,C,1,L]");
        Expected<int> on = plain(out, n.name);
        if (!on) return on.status();
        const int64_t c = out.onnx[1], l = out.onnx[3];
        Expected<int> back = add(n.name + "/1d", OpType::kReshape, ReshapeAttrs{{-1, l, c}}, {*on});
        if (!back) return back.status();
        define_as(n, *back, {1, c, l}, {0, 2, 1});
        return Status::ok();
    }

    // A MatMul that is not a layer with constant [K, M] weights: its second operand is computed
    // (attention's scores and weighted sums) or has leading axes, or its first is a constant.
    bool needs_batch_matmul(const OnnxNode& n) {
        const Value* a = in(n, 0);
        const Value* b = param(n, 1);
        if (!a || !b) return false;
        return a->is_const || !b->is_const || b->c.dims.size() != 2;
    }

    // MatMul as NumPy defines it on operands of rank >= 2, leading axes broadcast: one engine
    // BatchMatMul on both operands in ONNX axis order. A constant operand broadcasts over the
    // batch; one whose leading axes would multiply the batch is refused.
    Status batch_matmul(const OnnxNode& n) {
        const Value* a = in(n, 0);
        const Value* b = param(n, 1);
        const size_t real_a = a->is_const ? a->c.dims.size() : a->onnx.size() - static_cast<size_t>(lead_);
        const size_t real_b = b->is_const ? b->c.dims.size() : b->onnx.size() - static_cast<size_t>(lead_);
        if (real_a < 2 || real_b < 2)
            return unsup(n, "an operand of rank 1 (" + dims_str(a->is_const ? a->c.dims : a->onnx) + " x " + dims_str(b->is_const ? b->c.dims : b->onnx) + ")");
        if (!lead_ && !b->is_const && b->onnx.size() == 2)
            return unsup(n, "the second operand " + dims_str(b->onnx) + " would be contracted over its batch axis");
        // Each operand as an engine node in ONNX axis order, with its ONNX shape (lead axis included).
        auto operand = [&](const Value& v, const std::string& tag, std::vector<int64_t>& dims) -> Expected<int> {
            if (v.is_const) {
                dims = v.c.dims;
                const size_t r = std::max(a->is_const ? 0 : a->onnx.size(), b->is_const ? 0 : b->onnx.size());
                if (dims.size() > r) return unsup(n, "the constant operand " + dims_str(dims) + " has more axes than the computed one");
                // Aligned with the computed operand, a constant reaching its batch axis must have 1
                // there, or the product would have a batch of its own.
                if (dims.size() == r && dims[0] != 1)
                    return unsup(n, "the constant operand " + dims_str(dims) + " has " + std::to_string(dims[0]) + " on the batch axis");
                std::vector<int64_t> d = dims;
                while (d.size() > 2 && d[0] == 1) d.erase(d.begin());  // the engine broadcasts from the right
                return add_const(n.name + "/" + tag, to_tensor(v.c, Shape::from(d.begin(), d.end())));
            }
            dims = v.onnx;
            return v.hwc_flat ? plain(v, n.name) : with_layout(v, identity_layout(v.onnx.size()), n.name);
        };
        std::vector<int64_t> da, db;
        auto an = operand(*a, "a", da);
        if (!an) return an.status();
        auto bn = operand(*b, "b", db);
        if (!bn) return bn.status();
        if (da.back() != db[db.size() - 2]) return fail(n, "inner dimensions differ: " + dims_str(da) + " x " + dims_str(db));
        const size_t r = std::max(da.size(), db.size());
        std::vector<int64_t> out(r);
        for (size_t i = 0; i + 2 < r; ++i) {
            const int64_t ia = static_cast<int64_t>(i) - static_cast<int64_t>(r - da.size()), ib = static_cast<int64_t>(i) - static_cast<int64_t>(r - db.size());
            const int64_t x = ia >= 0 ? da[static_cast<size_t>(ia)] : 1, y = ib >= 0 ? db[static_cast<size_t>(ib)] : 1;
            if (x != y && x != 1 && y != 1) return fail(n, "leading axes of " + dims_str(da) + " and " + dims_str(db) + " do not broadcast");
            out[i] = std::max(x, y);
        }
        out[r - 2] = da[da.size() - 2];
        out[r - 1] = db.back();
        auto id = add(n.name, OpType::kBatchMatMul, NoAttrs{}, {*an, *bn});
        if (!id) return id.status();
        define_as(n, *id, out, identity_layout(r));
        return Status::ok();
    }

    static std::vector<int> identity_layout(size_t rank) {
        std::vector<int> l(rank);
        for (size_t i = 0; i < rank; ++i) l[i] = static_cast<int>(i);
        return l;
    }

    // LayerNormalization (opset 17): normalizes ONNX axes axis..r-1 of x.
    Status layer_norm(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        const Value& xv = **x;
        const int64_t r = static_cast<int64_t>(xv.onnx.size());
        const int64_t axis = axis_of(n.i("axis", -1), static_cast<size_t>(r));
        if (axis < 1) return unsup(n, "axis " + std::to_string(n.i("axis", -1)) + " of " + dims_str(xv.onnx) + " (the batch axis may not be normalized)");
        if (n.i("stash_type", 1) != 1) return unsup(n, "stash_type " + std::to_string(n.i("stash_type", 1)) + " (float32 only)");
        const int64_t row = product(xv.onnx, static_cast<size_t>(axis));
        Tensor p[2] = {Tensor(Shape{row}, 1.f), Tensor(Shape{row}, 0.f)};
        for (size_t k = 0; k < 2; ++k) {
            const Value* c = param(n, k + 1);
            if (!c) {
                if (k == 0) return fail(n, "the scale (input 1) is missing");
                continue;
            }
            if (!c->is_const) return unsup(n, std::string(k == 0 ? "the scale" : "the bias") + " must be a constant");
            const int64_t cnt = c->c.count();
            if (cnt != row && cnt != 1) return unsup(n, std::string(k == 0 ? "the scale " : "the bias ") + dims_str(c->c.dims) + " must have 1 or " + std::to_string(row) + " values");
            for (int64_t j = 0; j < row; ++j) p[k][j] = static_cast<float>(c->c.at(cnt == 1 ? 0 : j));
        }
        const std::vector<int> lay = xv.hwc_flat ? layout(static_cast<size_t>(r)) : trailing_layout(xv, axis);
        auto xn = xv.hwc_flat ? plain(xv, n.name) : with_layout(xv, lay, n.name);
        if (!xn) return xn.status();
        const int si = add_const(n.name + "/scale", std::move(p[0])), bi = add_const(n.name + "/bias", std::move(p[1]));
        const float eps = n.f("epsilon", 1e-5f);
        auto id = add(n.name, OpType::kLayerNorm, LayerNormAttrs{static_cast<int>(r - axis), eps}, {*xn, si, bi});
        if (!id) return id.status();
        define_as(n, *id, xv.onnx, lay);
        if (!used(n, 1) && !used(n, 2)) return Status::ok();
        // Mean and InvStdDev (outputs 1 and 2, the normalized axes kept as 1s) from engine ops,
        // so that gradients flow through them too: 1 / sqrt(mean((x - mean)^2) + epsilon).
        ReduceAttrs over{{}, true};
        std::vector<int64_t> stat = xv.onnx;
        for (int64_t k = axis; k < r; ++k) over.axes.push_back(static_cast<int>(k)), stat[static_cast<size_t>(k)] = 1;
        auto mean = add(n.name + "/mean", OpType::kMean, over, {*xn});
        if (!mean) return mean.status();
        if (used(n, 1)) define_as(n, *mean, stat, lay, 1);
        if (!used(n, 2)) return Status::ok();
        auto centered = add(n.name + "/centered", OpType::kSub, NoAttrs{}, {*xn, *mean});
        if (!centered) return centered.status();
        auto squared = add(n.name + "/squared", OpType::kMul, NoAttrs{}, {*centered, *centered});
        if (!squared) return squared.status();
        auto var = add(n.name + "/var", OpType::kMean, over, {*squared});
        if (!var) return var.status();
        auto shifted = add(n.name + "/var_eps", OpType::kAdd, NoAttrs{}, {*var, add_const(n.name + "/epsilon", Tensor(Shape{1}, eps))});
        if (!shifted) return shifted.status();
        auto inv = add(n.name + "/inv_std", OpType::kPow, PowAttrs{-0.5f}, {*shifted});
        if (!inv) return inv.status();
        define_as(n, *inv, stat, lay, 2);
        return Status::ok();
    }

    // One engine Slice of v along ONNX axes (starts/ends/steps per axis); the result keeps v's layout.
    Status slice_of(const OnnxNode& n, const Value& v, std::vector<int64_t> axes, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                    std::vector<int64_t> steps, size_t output) {
        const int64_t r = static_cast<int64_t>(v.onnx.size());
        if (axes.empty()) for (int64_t k = 0; k < static_cast<int64_t>(starts.size()); ++k) axes.push_back(k);
        if (steps.empty()) steps.assign(starts.size(), 1);
        if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size()) return fail(n, "starts, ends, axes and steps differ in length");
        const Value* src = &v;
        Value flat;
        if (v.hwc_flat) {
            auto p = plain(v, n.name);
            if (!p) return p.status();
            flat.node = *p;
            flat.onnx = v.onnx;
            src = &flat;
        }
        SliceAttrs sa;
        std::vector<int64_t> onnx = v.onnx;
        for (size_t k = 0; k < axes.size(); ++k) {
            const int64_t a = axis_of(axes[k], static_cast<size_t>(r));
            if (a < 0) return fail(n, "axis " + std::to_string(axes[k]) + " is out of range for " + dims_str(v.onnx));
            const int64_t dim = v.onnx[static_cast<size_t>(a)], s = steps[k];
            if (s == 0) return fail(n, "step 0 on axis " + std::to_string(a));
            // Whole-axis slices (PyTorch's x[:, :, ...]) are left out; the batch axis may only be
            // kept whole, which its size (unknown until run time) says only for PyTorch's ':'.
            if (a == 0) {
                if (s == 1 && starts[k] == 0 && ends[k] >= std::numeric_limits<int32_t>::max()) continue;
                return unsup(n, "slicing the batch axis is not supported (starts " + std::to_string(starts[k]) + ", ends " + std::to_string(ends[k]) + ")");
            }
            const int64_t b = starts[k] < -dim ? 0 : starts[k] < 0 ? starts[k] + dim : std::min(starts[k], dim);
            const int64_t e = ends[k] < -dim ? 0 : ends[k] < 0 ? ends[k] + dim : std::min(ends[k], dim);
            if (s == 1 && b == 0 && e == dim) continue;
            if (slice_range(dim, starts[k], ends[k], s).second == 0)
                return unsup(n, "axis " + std::to_string(a) + " of " + dims_str(v.onnx) + " keeps no element (starts " + std::to_string(starts[k]) + ", ends " + std::to_string(ends[k]) +
                                    ", steps " + std::to_string(s) + "); the engine holds no empty tensors");
            const int64_t big = int64_t{1} << 40;
            sa.axes.push_back(engine_axis(*src, a));
            sa.starts.push_back(std::clamp(starts[k], -big, big));
            sa.ends.push_back(std::clamp(ends[k], -big, big));
            sa.steps.push_back(std::clamp(s, -big, big));
        }
        if (sa.axes.empty()) {
            values_[n.outputs[output]] = *src;
            return Status::ok();
        }
        auto id = add(output ? n.name + "/" + std::to_string(output) : n.name, OpType::kSlice, sa, {src->node});
        if (!id) return id.status();
        const Shape es = shape_of(*id);
        const std::vector<int> lay = layout_of(*src);
        for (size_t i = 1; i < lay.size(); ++i) onnx[static_cast<size_t>(lay[i])] = es[static_cast<int>(i)];
        define_as(n, *id, onnx, lay, output);
        return Status::ok();
    }

    // Gather of a computed tensor at constant indices (x[:, 0], a transformer's class token):
    // a Slice, then a Reshape that drops the axis for a scalar index. Indices must be evenly
    // spaced (one strided Slice).
    Status gather_op(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        auto idx = const_input(n, 1, "the indices");
        if (!idx) return idx.status();
        const Value xv = **x;
        const ConstValue& ic = **idx;
        const size_t r = xv.onnx.size();
        const int64_t given = n.i("axis", 0), a = axis_of(given, r);
        if (a < 0) return fail(n, "axis " + std::to_string(given) + " is out of range for " + dims_str(xv.onnx));
        if (a == 0) return unsup(n, "gathering along the batch axis is not supported");
        if (ic.dims.size() > 1 || ic.count() < 1) return unsup(n, "indices " + dims_str(ic.dims) + " (a scalar or one axis of them)");
        const int64_t dim = xv.onnx[static_cast<size_t>(a)];
        std::vector<int64_t> at;
        for (int64_t k = 0; k < ic.count(); ++k) {
            int64_t i = ic.int_at(k);
            if (i < -dim || i >= dim) return fail(n, "index " + std::to_string(i) + " is out of range for axis " + std::to_string(given) + " of " + dims_str(xv.onnx));
            at.push_back(i < 0 ? i + dim : i);
        }
        const int64_t step = at.size() > 1 ? at[1] - at[0] : 1;
        for (size_t k = 1; k < at.size(); ++k)
            if (at[k] - at[k - 1] != step || step == 0) return unsup(n, "indices that are not evenly spaced");
        const int64_t end = at.back() + (step > 0 ? 1 : -1);
        const int64_t raw_axis = a - lead_;
        CNNLENS_RETURN_IF_ERROR(slice_of(n, xv, {raw_axis}, {at[0]}, {end < 0 ? std::numeric_limits<int64_t>::min() / 2 : end}, {step}, 0));
        if (!ic.dims.empty()) return Status::ok();
        const Value sliced = values_.at(n.outputs[0]);
        std::vector<int64_t> target = sliced.onnx;
        target.erase(target.begin() + a);
        return reshape_to(n, sliced, target);
    }

    Status slice_op(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        std::vector<int64_t> v[4];
        if (m_.opset < 10) {
            v[0] = n.ints("starts"); v[1] = n.ints("ends"); v[2] = n.ints("axes");
        } else {
            for (size_t k = 0; k < 4; ++k) {
                const Value* c = in(n, k + 1);
                if (!c) continue;
                if (!c->is_const) return unsup(n, "input " + std::to_string(k + 1) + " ('" + n.inputs[k + 1] + "') must be a constant");
                if (has_batch(c->c)) return unsup(n, "slice bounds that depend on the batch size are not supported");
                for (int64_t j = 0; j < c->c.count(); ++j) v[k].push_back(c->c.int_at(j));
            }
        }
        return slice_of(n, **x, v[2], v[0], v[1], v[3], 0);
    }

    // Split: one Slice per output (torch.chunk / split along an axis).
    Status split(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        const int64_t r = static_cast<int64_t>((*x)->onnx.size());
        const int64_t axis = axis_of(n.i("axis", 0), static_cast<size_t>(r));
        if (axis < 0) return fail(n, "axis " + std::to_string(n.i("axis", 0)) + " is out of range for " + dims_str((*x)->onnx));
        const int64_t dim = (*x)->onnx[static_cast<size_t>(axis)];
        std::vector<int64_t> sizes = n.ints("split");
        if (const Value* c = in(n, 1)) {
            if (!c->is_const) return unsup(n, "split sizes must be a constant");
            sizes.clear();
            for (int64_t j = 0; j < c->c.count(); ++j) sizes.push_back(c->c.int_at(j));
        }
        const int64_t parts = static_cast<int64_t>(n.outputs.size());
        if (sizes.empty()) {  // equal parts; from opset 18 the last may be smaller
            const int64_t each = (dim + parts - 1) / parts;
            for (int64_t k = 0; k < parts; ++k) sizes.push_back(std::min(each, dim - k * each));
        }
        if (static_cast<int64_t>(sizes.size()) != parts) return fail(n, std::to_string(sizes.size()) + " split sizes for " + std::to_string(parts) + " outputs");
        int64_t at = 0;
        for (size_t k = 0; k < sizes.size(); ++k) {
            if (sizes[k] < 1 || at + sizes[k] > dim) return fail(n, "split sizes " + dims_str(sizes) + " do not fit axis " + std::to_string(axis) + " of " + dims_str((*x)->onnx));
            if (!n.outputs[k].empty() && consumers_[n.outputs[k]] > 0)
                CNNLENS_RETURN_IF_ERROR(slice_of(n, **x, {n.i("axis", 0)}, {at}, {at + sizes[k]}, {1}, k));
            at += sizes[k];
        }
        if (at != dim) return fail(n, "split sizes " + dims_str(sizes) + " sum to " + std::to_string(at) + ", not " + std::to_string(dim));
        return Status::ok();
    }

    // Resize (opset 10+) and Upsample (opset 9): spatial axes of an NCHW tensor; scales or
    // sizes must be constants.
    Status resize(const OnnxNode& n) {
        auto x = runtime_input(n, 0);
        if (!x) return x.status();
        const std::vector<int64_t>& d = (*x)->onnx;
        if (d.size() != 4) return unsup(n, "only NCHW inputs are supported (input " + dims_str(d) + ")");
        const bool upsample = n.op == "Upsample";
        const std::string mode = n.s("mode", "nearest");
        ResizeAttrs ra;
        if (mode == "nearest") ra.mode = ResizeMode::kNearest;
        else if (mode == "linear" || mode == "bilinear") ra.mode = ResizeMode::kLinear;
        else if (mode == "cubic") ra.mode = ResizeMode::kCubic;
        else return unsup(n, "mode '" + mode + "' is not supported (nearest, linear, cubic)");
        ra.cubic_a = n.f("cubic_coeff_a", -0.75f);
        ra.exclude_outside = n.i("exclude_outside", 0) != 0;
        if (!std::isfinite(ra.cubic_a)) return fail(n, "cubic_coeff_a is not finite");
        if (n.i("antialias", 0)) return unsup(n, "antialias = 1 is not supported");
        const std::string coord = upsample || m_.opset < 11 ? "asymmetric" : n.s("coordinate_transformation_mode", "half_pixel");
        if (coord == "half_pixel") ra.coord = ResizeCoord::kHalfPixel;
        else if (coord == "pytorch_half_pixel") ra.coord = ResizeCoord::kPytorchHalfPixel;
        else if (coord == "align_corners") ra.coord = ResizeCoord::kAlignCorners;
        else if (coord == "asymmetric") ra.coord = ResizeCoord::kAsymmetric;
        else if (coord == "tf_half_pixel_for_nn") ra.coord = ResizeCoord::kTfHalfPixelForNn;
        else if (coord == "tf_crop_and_resize") ra.coord = ResizeCoord::kTfCropAndResize;
        else return unsup(n, "coordinate_transformation_mode '" + coord + "' is not supported");
        if (ra.coord == ResizeCoord::kTfCropAndResize) {
            // roi (input 1): starts then ends of the box, per axis of the NCHW input, in units of
            // each axis's length; only the spatial axes may be cropped.
            const Value* roi = param(n, 1);
            if (!roi) return fail(n, "tf_crop_and_resize needs roi (input 1)");
            if (!roi->is_const) return unsup(n, "roi must be a constant");
            if (roi->c.count() != 8) return fail(n, "roi has " + std::to_string(roi->c.count()) + " values; " + dims_str(d) + " needs 8 (starts, then ends)");
            std::vector<double> r;
            for (int64_t k = 0; k < 8; ++k) r.push_back(roi->c.at(k));
            for (double v : r)
                if (!std::isfinite(v) || std::abs(v) > 1e6) return fail(n, "roi value " + std::to_string(v) + " is out of range");
            if (r[0] != 0 || r[4] != 1 || r[1] != 0 || r[5] != 1)
                return unsup(n, "only the spatial axes may be cropped (roi of N and C must be 0..1)");
            ra.roi_h0 = static_cast<float>(r[2]);
            ra.roi_w0 = static_cast<float>(r[3]);
            ra.roi_h1 = static_cast<float>(r[6]);
            ra.roi_w1 = static_cast<float>(r[7]);
            ra.extrapolation = n.f("extrapolation_value", 0.f);
            if (!std::isfinite(ra.extrapolation)) return fail(n, "extrapolation_value is not finite");
        }
        const std::string nm = upsample || m_.opset < 11 ? "floor" : n.s("nearest_mode", "round_prefer_floor");
        if (nm == "round_prefer_floor") ra.nearest = NearestRound::kRoundPreferFloor;
        else if (nm == "round_prefer_ceil") ra.nearest = NearestRound::kRoundPreferCeil;
        else if (nm == "floor") ra.nearest = NearestRound::kFloor;
        else if (nm == "ceil") ra.nearest = NearestRound::kCeil;
        else return unsup(n, "nearest_mode '" + nm + "' is not supported");
        if (n.attr("axes")) return unsup(n, "the axes attribute is not supported");
        if (n.s("keep_aspect_ratio_policy", "stretch") != "stretch") return unsup(n, "keep_aspect_ratio_policy '" + n.s("keep_aspect_ratio_policy") + "' is not supported");
        // Inputs: Upsample and opset 10 (x, scales); from opset 11 (x, roi, scales, sizes).
        const size_t scales_at = upsample || m_.opset < 11 ? 1 : 2;
        const Value* sc = in(n, scales_at);
        const Value* sz = scales_at == 2 ? in(n, 3) : nullptr;
        std::vector<float> scales;
        if (sc && sc->is_const && sc->c.count() > 0) {
            for (int64_t k = 0; k < sc->c.count(); ++k) scales.push_back(static_cast<float>(sc->c.at(k)));
        } else if (sc && !sc->is_const) {
            return unsup(n, "scales must be a constant");
        }
        if (upsample && m_.opset < 9) {  // Upsample-7's scales, Upsample-1's height_scale and width_scale
            if (const Attr* a = n.attr("scales")) scales = a->floats;
            else scales = {1.f, 1.f, n.f("height_scale", 1.f), n.f("width_scale", 1.f)};
        }
        int64_t oh, ow;
        if (!scales.empty()) {
            if (scales.size() != 4) return fail(n, "scales has " + std::to_string(scales.size()) + " values for " + dims_str(d));
            if (scales[0] != 1.f || scales[1] != 1.f) return unsup(n, "only the spatial axes may be resized (scales " + std::to_string(scales[0]) + ", " + std::to_string(scales[1]) + ")");
            if (!(scales[2] > 0.f && scales[3] > 0.f && scales[2] < 4096.f && scales[3] < 4096.f)) return fail(n, "scales must be positive");
            // The resized length of a cropped axis is that of its box (ONNX: floor(in * (end -
            // start) * scale)); roi is 0..1 otherwise.
            oh = static_cast<int64_t>(std::floor(d[2] * static_cast<double>(ra.roi_h1 - ra.roi_h0) * scales[2]));
            ow = static_cast<int64_t>(std::floor(d[3] * static_cast<double>(ra.roi_w1 - ra.roi_w0) * scales[3]));
            ra.scale_h = scales[2];
            ra.scale_w = scales[3];
        } else if (sz) {
            // sizes[0] may be the batch size (PyTorch reads it with Shape); only H and W may change.
            if (!sz->is_const) return unsup(n, "sizes must be a constant");
            if (sz->c.count() != 4) return fail(n, "sizes has " + std::to_string(sz->c.count()) + " values for " + dims_str(d));
            if (sz->c.int_at(1) != d[1] || (sz->c.int_at(0) != kBatch && sz->c.int_at(0) != 1))
                return unsup(n, "only the spatial axes may be resized (sizes " + dims_str(sz->c.is_int ? sz->c.i : std::vector<int64_t>{}) + ")");
            oh = sz->c.int_at(2);
            ow = sz->c.int_at(3);
        } else {
            return fail(n, "has neither scales nor sizes");
        }
        if (oh < 1 || ow < 1 || oh > (1 << 15) || ow > (1 << 15)) return fail(n, "output size " + std::to_string(oh) + "x" + std::to_string(ow) + " is out of range");
        ra.out_h = static_cast<int>(oh);
        ra.out_w = static_cast<int>(ow);
        auto xn = plain(**x, n.name);
        if (!xn) return xn.status();
        auto id = add(n.name, OpType::kResize, ra, {*xn});
        if (!id) return id.status();
        return define(n, *id);
    }

    // Keeps the nodes the output depends on (dead constants from folding, unused transposes).
    Graph compact_graph() {
        std::vector<char> live(static_cast<size_t>(g_.size()), 0);
        for (int o : g_.outputs()) live[static_cast<size_t>(o)] = 1;
        for (int i = g_.size() - 1; i >= 0; --i)
            if (live[static_cast<size_t>(i)])
                for (int k : g_.node(i).inputs) live[static_cast<size_t>(k)] = 1;
        Graph out;
        out.set_batch_added(g_.batch_added());
        std::vector<int> remap(static_cast<size_t>(g_.size()), -1);
        for (int i = 0; i < g_.size(); ++i) {
            if (!live[static_cast<size_t>(i)]) continue;
            Node& n = g_.node(i);
            int id;
            if (n.op == OpType::kInput) id = out.add_input(n.name, n.shape);
            else if (n.op == OpType::kConst) id = out.add_const(n.name, std::move(n.value));
            else {
                std::vector<int> ins;
                for (int k : n.inputs) ins.push_back(remap[static_cast<size_t>(k)]);
                id = out.add_node(n.name, n.op, n.attrs, ins);
            }
            out.node(id).image = image_nodes_.count(i) > 0;
            remap[static_cast<size_t>(i)] = id;
        }
        for (size_t k = 0; k < g_.outputs().size(); ++k) out.add_output(remap[static_cast<size_t>(g_.outputs()[k])], g_.output_name(k));
        return out;
    }

    const std::string& file_;
    OnnxModel& m_;
    std::set<int> image_nodes_;  // engine nodes that hold NHWC images (Node::image)
    size_t converted_ = 0;  // nodes read before an error: which reading of a graph got further
    bool image_input_ = false;  // an image input read as NHWC with a batch axis added
    int lead_;  // 1 when every runtime tensor carries an added batch axis (0 inside batch_first_with_lead)
    Graph g_;
    std::unordered_map<std::string, Value> values_;
    std::unordered_map<std::string, int> consumers_;
    std::unordered_map<std::string, int> conv_of_;
    std::unordered_map<int, int> materialized_;
    std::map<std::string, const OnnxTensor*> given_;
    std::unordered_map<std::string, Value> known_;  // given values of runtime inputs, as constants
    std::map<std::pair<int, std::vector<int>>, int> relaid_;
};

}  // namespace

Tensor onnx_to_engine(const OnnxTensor& t, bool batch_added) {
    std::vector<int64_t> dims = t.dims;
    if (batch_added) dims.insert(dims.begin(), 1);
    std::vector<int64_t> d = dims;
    if (d.size() == 4) d = {d[0], d[2], d[3], d[1]};
    Tensor out(Shape::from(d.begin(), d.end()));
    const int64_t n = t.count();
    for (int64_t k = 0; k < n; ++k) {
        int64_t src = k;
        if (dims.size() == 4) {  // k walks NHWC; src is the same element in NCHW
            const int64_t c = k % d[3], w = k / d[3] % d[2], h = k / (d[3] * d[2]) % d[1], b = k / (d[3] * d[2] * d[1]);
            src = ((b * d[3] + c) * d[1] + h) * d[2] + w;
        }
        out[k] = t.is_int() ? static_cast<float>(t.i[static_cast<size_t>(src)]) : t.f[static_cast<size_t>(src)];
    }
    return out;
}

OnnxTensor engine_to_onnx(const Tensor& t, std::string name, bool batch_added) {
    OnnxTensor o;
    o.name = std::move(name);
    const Shape& s = t.shape();
    o.dims.assign(s.begin(), s.end());
    o.f.resize(static_cast<size_t>(t.size()));
    if (s.rank() != 4) {
        std::copy(t.data(), t.data() + t.size(), o.f.begin());
    } else {
        o.dims = {s[0], s[3], s[1], s[2]};
        const int64_t H = s[1], W = s[2], C = s[3];
        for (int64_t k = 0; k < t.size(); ++k) {
            const int64_t c = k % C, w = k / C % W, h = k / (C * W) % H, b = k / (C * W * H);
            o.f[static_cast<size_t>(((b * C + c) * H + h) * W + w)] = t[k];
        }
    }
    if (batch_added && !o.dims.empty() && o.dims[0] == 1) o.dims.erase(o.dims.begin());
    return o;
}

bool looks_like_onnx(std::span<const uint8_t> bytes) {
    if (bytes.empty()) return false;
    const uint8_t tag = bytes[0];
    return tag == 0x08 || tag == 0x12 || tag == 0x3a || tag == 0x42;  // fields 1, 2, 7, 8
}

Expected<Graph> import_onnx(std::span<const uint8_t> bytes, const std::string& name, const OnnxLimits& limits, std::span<const OnnxTensor> given) {
    if (bytes.size() > limits.max_bytes)
        return out_of_range(name + ": the file has " + std::to_string(bytes.size()) + " bytes; the limit is " + std::to_string(limits.max_bytes));
    if (bytes.empty()) return corrupt(name + ": the file is empty");
    OnnxModel m;
    Parser p(name, limits);
    CNNLENS_RETURN_IF_ERROR(p.model(bytes, m));
    // A graph that cannot be read with its first axis as the batch (that axis is data: Concat,
    // Transpose, Softmax over it, inputs of rank 1) is read again with a batch axis added.
    Importer first(name, m, given, false);
    auto g = first.run();
    if (g || g.status().code() != ErrorCode::kUnsupported) return g;
    Importer second(name, m, given, true);
    auto added = second.run();
    // Neither reading works: when the second got further and stopped at a missing feature too,
    // its error names the real obstacle (a transformer's op); otherwise the first reading's does.
    if (added) return added;
    const bool second_further = second.converted() > first.converted() && added.status().code() == ErrorCode::kUnsupported;
    const Status& main = second_further ? added.status() : g.status();
    const Status& other = second_further ? g.status() : added.status();
    std::string also = other.message();
    if (also.rfind(name + ": ", 0) == 0) also = also.substr(name.size() + 2);
    if (main.message().size() >= also.size() && main.message().compare(main.message().size() - also.size(), also.size(), also) == 0) return main;
    return Status(main.code(), main.message() + (second_further ? " (read with its first axis as the batch: " : " (read with a batch axis added: ") + also + ")");
}

}  // namespace cnnlens
