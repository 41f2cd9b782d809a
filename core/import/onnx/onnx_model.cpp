// Reading an ONNX ModelProto with the bounds-checked wire reader (protobuf.h): the graph, its
// nodes and attributes, initializers (tensor_proto.h) and the inputs' and outputs' value infos.
#include <algorithm>
#include <cstring>

#include "core/import/onnx/onnx_model.h"
#include "core/import/onnx/protobuf.h"

namespace cnnlens::onnx_import {
namespace {

using pb::PbField;
using pb::PbReader;
using pb::WireType;

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
                case 1:
                    CNNLENS_RETURN_IF_ERROR(pb::read_int(r, f, "ir_version", m.ir_version));
                    break;
                case 2:
                    CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "producer_name", m.producer));
                    break;
                case 7: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "graph"));
                    PbReader g = r.sub(f, file_ + ": GraphProto");
                    CNNLENS_RETURN_IF_ERROR(graph(g, m));
                    has_graph = true;
                    break;
                }
                case 8: {
                    CNNLENS_RETURN_IF_ERROR(
                        r.expect(f, WireType::kLengthDelimited, "opset_import"));
                    PbReader o = r.sub(f, file_ + ": OperatorSetIdProto");
                    std::string domain;
                    int64_t version = 0;
                    PbField g;
                    while (o.more()) {
                        CNNLENS_RETURN_IF_ERROR(o.next(g));
                        if (g.number == 1)
                            CNNLENS_RETURN_IF_ERROR(pb::read_string(o, g, "domain", domain));
                        if (g.number == 2)
                            CNNLENS_RETURN_IF_ERROR(pb::read_int(o, g, "version", version));
                    }
                    if (domain.empty() || domain == "ai.onnx") m.opset = version;
                    break;
                }
                default:
                    break;  // doc_string, metadata, functions, training info: not needed
            }
        }
        if (!has_graph)
            return corrupt(file_ + ": ModelProto has no graph (is this an ONNX model?)");
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
                        return out_of_range(file_ + ": the graph has more than " +
                                            std::to_string(limits_.max_nodes) + " nodes");
                    PbReader n = r.sub(f, file_ + ": NodeProto #" + std::to_string(m.nodes.size()));
                    OnnxNode node;
                    CNNLENS_RETURN_IF_ERROR(parse_node(n, node));
                    m.nodes.push_back(std::move(node));
                    break;
                }
                case 5: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "initializer"));
                    PbReader t =
                        r.sub(f, file_ + ": initializer #" + std::to_string(m.initializers.size()));
                    ConstValue v;
                    std::string name;
                    CNNLENS_RETURN_IF_ERROR(tensor(t, v, name, "initializer"));
                    total += v.count();
                    if (total > limits_.max_total_elements)
                        return out_of_range(file_ + ": the initializers hold more than " +
                                            std::to_string(limits_.max_total_elements) + " values");
                    m.initializers[name] = std::move(v);
                    break;
                }
                case 11:
                case 12: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited,
                                                     f.number == 11 ? "input" : "output"));
                    PbReader v = r.sub(f, file_ + ": ValueInfoProto");
                    ValueInfo vi;
                    CNNLENS_RETURN_IF_ERROR(value_info(v, vi));
                    (f.number == 11 ? m.inputs : m.outputs).push_back(std::move(vi));
                    break;
                }
                case 15:
                    return unsupported(file_ + ": sparse initializers are not supported");
                default:
                    break;
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
                case 1:
                    CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "input", s));
                    n.inputs.push_back(s);
                    break;
                case 2:
                    CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "output", s));
                    n.outputs.push_back(s);
                    break;
                case 3:
                    CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "name", n.name));
                    break;
                case 4:
                    CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "op_type", n.op));
                    break;
                case 7:
                    CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "domain", n.domain));
                    break;
                case 5: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "attribute"));
                    PbReader a = r.sub(f, r.what() + " attribute");
                    Attr at;
                    CNNLENS_RETURN_IF_ERROR(attribute(a, at));
                    n.attrs.push_back(std::move(at));
                    break;
                }
                default:
                    break;
            }
        }
        if (n.op.empty()) return corrupt(r.what() + " has no op_type");
        if (n.outputs.empty())
            return corrupt(r.what() + " ('" + n.name + "', " + n.op + ") has no outputs");
        if (n.name.empty()) n.name = n.outputs[0];
        return Status::ok();
    }

    Status attribute(PbReader& r, Attr& a) {
        PbField f;
        while (r.more()) {
            CNNLENS_RETURN_IF_ERROR(r.next(f));
            switch (f.number) {
                case 1:
                    CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "name", a.name));
                    break;
                case 20:
                    CNNLENS_RETURN_IF_ERROR(pb::read_int(r, f, "type", a.type));
                    break;
                case 2:
                    CNNLENS_RETURN_IF_ERROR(pb::read_float(r, f, "f", a.f));
                    break;
                case 3:
                    CNNLENS_RETURN_IF_ERROR(pb::read_int(r, f, "i", a.i));
                    break;
                case 4:
                    CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "s", a.s));
                    break;
                case 5: {
                    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "t"));
                    PbReader t = r.sub(f, r.what() + " tensor");
                    std::string ignored;
                    CNNLENS_RETURN_IF_ERROR(tensor(t, a.t, ignored, "constant"));
                    a.has_t = true;
                    break;
                }
                case 7:
                    CNNLENS_RETURN_IF_ERROR(
                        pb::read_repeated_floats(r, f, "floats", a.floats, 1 << 20));
                    break;
                case 8:
                    CNNLENS_RETURN_IF_ERROR(pb::read_repeated_ints(r, f, "ints", a.ints, 1 << 20));
                    break;
                default:
                    break;  // graphs, strings, tensors: only used by ops we do not support
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
                    if (h.number == 1)
                        CNNLENS_RETURN_IF_ERROR(pb::read_int(tt, h, "elem_type", v.elem_type));
                    if (h.number != 2) continue;
                    CNNLENS_RETURN_IF_ERROR(tt.expect(h, WireType::kLengthDelimited, "shape"));
                    v.has_shape = true;
                    PbReader sh = tt.sub(h, tt.what() + " shape");
                    PbField d;
                    while (sh.more()) {
                        CNNLENS_RETURN_IF_ERROR(sh.next(d));
                        if (d.number != 1) continue;
                        CNNLENS_RETURN_IF_ERROR(sh.expect(d, WireType::kLengthDelimited, "dim"));
                        if (v.dims.size() >= 16)
                            return unsupported(r.what() + " '" + v.name +
                                               "' has more than 16 dimensions");
                        PbReader dr = sh.sub(d, sh.what() + " dim");
                        int64_t value = -1;
                        std::string param;
                        PbField e;
                        while (dr.more()) {
                            CNNLENS_RETURN_IF_ERROR(dr.next(e));
                            if (e.number == 1)
                                CNNLENS_RETURN_IF_ERROR(pb::read_int(dr, e, "dim_value", value));
                            if (e.number == 2)
                                CNNLENS_RETURN_IF_ERROR(pb::read_string(dr, e, "dim_param", param));
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
                return corrupt(file_ + ": " + kind + " '" + name + "' holds " +
                               (std::isnan(v.f[k]) ? "NaN" : "an infinite value") + " at element " +
                               std::to_string(k) + " of " + dims_str(v.dims));
        return Status::ok();
    }

    const std::string& file_;
    const OnnxLimits& limits_;
};

}  // namespace

Status read_onnx_model(std::span<const uint8_t> bytes, const std::string& file,
                       const OnnxLimits& limits, OnnxModel& m) {
    Parser p(file, limits);
    return p.model(bytes, m);
}

}  // namespace cnnlens::onnx_import
