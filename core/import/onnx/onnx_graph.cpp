// ONNX import: read the ModelProto (onnx_model.cpp), then convert its nodes in order
// (onnx_importer.h): constant subgraphs are folded at import (onnx_fold.cpp), every other op is
// mapped through the op table (onnx_ops.cpp). This file holds the walk, the graph's inputs and
// outputs, the layout helpers and the two readings (batch first, or a batch axis added).
#include "core/import/onnx/onnx_graph.h"

#include <algorithm>
#include <cmath>

#include "core/import/onnx/onnx_importer.h"

namespace cnnlens {
namespace onnx_import {

// add_batch: give every runtime tensor a leading batch axis of size 1 that the model does
// not have (its first axis is data); ONNX axis k is then axis k + 1 of Value::onnx.
Importer::Importer(const std::string& file, OnnxModel& m, std::span<const OnnxTensor> given,
                   bool add_batch)
    : file_(file), m_(m), lead_(add_batch ? 1 : 0) {
    for (const OnnxTensor& t : given) given_[t.name] = &t;
    g_.set_batch_added(add_batch);
}

Expected<Graph> Importer::run() {
    if (m_.opset == 0)
        return unsupported(file_ + ": the model imports no version of the default ONNX domain");
    if (m_.opset < 1 || m_.opset > 18)
        return unsupported(file_ + ": the model uses ONNX opset " + std::to_string(m_.opset) +
                           "; cnnlens reads opsets 1 to 18 (re-export with torch.onnx.export(..., "
                           "opset_version=17))");
    CNNLENS_RETURN_IF_ERROR(check_ops());
    CNNLENS_RETURN_IF_ERROR(add_inputs());
    for (const OnnxNode& n : m_.nodes)
        for (const std::string& i : n.inputs)
            if (!i.empty()) ++consumers_[i];
    for (const ValueInfo& o : m_.outputs) ++consumers_[o.name];
    for (size_t k = 0; k < m_.nodes.size(); ++k) {
        const OnnxNode& n = m_.nodes[k];
        for (const std::string& i : n.inputs)
            if (!i.empty() && !values_.count(i) && !m_.initializers.count(i))
                return invalid_argument(file_ + ": " + n.label() + " reads '" + i +
                                        "', which no earlier node produces (the graph is not in "
                                        "topological order or is incomplete)");
        CNNLENS_RETURN_IF_ERROR(convert(n));
        converted_ = k + 1;
    }
    if (m_.outputs.empty()) return invalid_argument(file_ + ": the graph has no outputs");
    for (const ValueInfo& o : m_.outputs) {
        if (o.elem_type != 0 && o.elem_type != kFloat)
            return unsupported(file_ + ": output '" + o.name + "' has type " +
                               dtype_name(static_cast<int>(o.elem_type)) +
                               "; the engine computes float32 only");
        auto out = runtime_value(o.name, "graph output");
        if (!out) return out.status();
        auto plain_out = plain(**out, o.name);
        if (!plain_out) return plain_out.status();
        if (image_input_ && (*out)->onnx.size() == 3 && (*out)->onnx[1] == 1) {
            // A classifier's [1,K] scores, one row per image of the added batch.
            plain_out = add(o.name + "/rows", OpType::kReshape, ReshapeAttrs{{-1, (*out)->onnx[2]}},
                            {*plain_out});
            if (!plain_out) return plain_out.status();
        }
        g_.add_output(*plain_out, o.name);
    }
    // Images: the engine nodes holding an ONNX [N,C,H,W] tensor in the NHWC layout (with a
    // batch axis added, the batch-first ops' own results, marked as they are made).
    for (const auto& [name, v] : values_)
        if (!v.is_const && !lead_ && !v.hwc_flat && v.layout.empty() && v.onnx.size() == 4)
            image_nodes_.insert(v.node);
    Graph compact = compact_graph();
    if (Status v = compact.validate(); !v) return Status(v.code(), file_ + ": " + v.message());
    return compact;
}

Status Importer::check_ops() {
    std::map<std::string, std::vector<std::string>> bad;
    for (const OnnxNode& n : m_.nodes) {
        const bool std_domain = n.domain.empty() || n.domain == "ai.onnx";
        if (!std_domain || !find_op(n.op))
            bad[std_domain ? n.op : n.domain + ":" + n.op].push_back(n.name);
    }
    if (bad.empty()) return Status::ok();
    std::string msg = file_ + ": unsupported ops: ";
    bool first = true;
    for (auto& [op, names] : bad) {
        msg += (first ? "" : "; ") + op + " (" + std::to_string(names.size()) + " node" +
               (names.size() > 1 ? "s" : "") + ": ";
        first = false;
        for (size_t k = 0; k < names.size() && k < 5; ++k) msg += (k ? ", " : "") + names[k];
        if (names.size() > 5) msg += ", ...";
        msg += ")";
    }
    return unsupported(msg);
}

// Every graph input that is not an initializer. One the engine cannot hold at run time (not
// float32, or without a batch axis) becomes a constant when its value is given.
Status Importer::add_inputs() {
    std::string bound;  // inputs read as constants, for the message when no runtime input is left
    for (const ValueInfo& in : m_.inputs) {
        if (m_.initializers.count(in.name))
            continue;  // older exporters list initializers as inputs
        auto given = given_.find(in.name);
        const OnnxTensor* known = given == given_.end() ? nullptr : given->second;
        if (known && known->count() == 0)
            return unsupported(file_ + ": input '" + in.name + "' " + dims_str(known->dims) +
                               " is empty; the engine holds no empty tensors");
        if (known && (known->dtype != kFloat || known->dims.size() + lead_ < 2)) {
            bound += (bound.empty() ? "'" : ", '") + in.name + "' (" + dtype_name(known->dtype) +
                     " " + dims_str(known->dims) + ")";
            Value v;
            v.is_const = true;
            v.c = const_value(*known);
            values_[in.name] = std::move(v);
            continue;
        }
        if (in.elem_type != kFloat)
            return unsupported(file_ + ": input '" + in.name + "' has type " +
                               dtype_name(static_cast<int>(in.elem_type)) +
                               "; the engine holds float32 only (an input of another type is read "
                               "as a constant when its value is given)");
        std::vector<int64_t> onnx = in.dims;
        if (known) {
            if (in.has_shape && in.dims.size() != known->dims.size())
                return invalid_argument(file_ + ": input '" + in.name + "' has shape " +
                                        dims_str(in.dims) + ", the value given for it " +
                                        dims_str(known->dims));
            onnx = known->dims;
        }
        if ((!in.has_shape && !known) || onnx.size() + lead_ < 2 ||
            onnx.size() + lead_ > static_cast<size_t>(kMaxRank))
            return unsupported(file_ + ": input '" + in.name + "' has shape " + dims_str(onnx) +
                               "; the engine needs a batch axis and at most " +
                               std::to_string(kMaxRank) + " axes (an NCHW image is [N,C,H,W])");
        if (lead_) onnx.insert(onnx.begin(), 1);
        onnx[0] = 1;
        // A symbolic batch of an image model read with a batch axis added: one image at a time.
        if (lead_ && !known && onnx.size() == 5 && onnx[1] < 1) onnx[1] = 1;
        for (size_t d = 1; d < onnx.size(); ++d) {
            const size_t axis = d - static_cast<size_t>(lead_);
            if (onnx[d] < 1 || onnx[d] > (1 << 16))
                return unsupported(
                    file_ + ": input '" + in.name + "' has " +
                    (axis >= in.params.size() || in.params[axis].empty()
                         ? "dimension " + std::to_string(onnx[d])
                         : "symbolic dimension '" + in.params[axis] + "'") +
                    " at axis " + std::to_string(axis) +
                    "; cnnlens needs a fixed image size (export with a fixed height and width)");
        }
        if (product(onnx) > (int64_t{1} << 26))
            return out_of_range(file_ + ": input '" + in.name + "' " + dims_str(in.dims) +
                                " is too large for an image");
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
        return unsupported(
            file_ + ": nothing is computed at run time: the given inputs " + bound +
            " were read as constants (the engine computes with float32 tensors of 1 to " +
            std::to_string(kMaxRank) + " axes)");
    }
    return Status::ok();
}

std::string Importer::unique(const std::string& base) {
    std::string n = base;
    for (int k = 2; g_.find(n) >= 0; ++k) n = base + "#" + std::to_string(k);
    return n;
}

// Adds a node and infers its shape now, so errors point at the ONNX node being converted.
Expected<int> Importer::add(const std::string& name, OpType op, OpAttrs attrs,
                            std::vector<int> inputs) {
    std::vector<Shape> shapes;
    for (int i : inputs) shapes.push_back(shape_of(i));
    Shape out;
    if (Status st = op_def(op).infer_shape(name, attrs, shapes, out); !st)
        return Status(st.code(), file_ + ": " + st.message());
    if (out.elements() > (int64_t{1} << 28))
        return out_of_range(file_ + ": " + std::string(op_name(op)) + " node '" + name +
                            "': output " + out.str() + " is too large");
    const int id = g_.add_node(unique(name), op, std::move(attrs), std::move(inputs));
    g_.node(id).shape = out;
    return id;
}

std::vector<int64_t> Importer::onnx_shape(const Shape& s) {
    std::vector<int64_t> d(s.begin(), s.end());
    if (d.size() == 4) d = {d[0], d[3], d[1], d[2]};
    return d;
}

Status Importer::define(const OnnxNode& n, int node, size_t output) {
    Value v;
    v.node = node;
    v.onnx = onnx_shape(shape_of(node));
    values_[n.outputs[output]] = std::move(v);
    return Status::ok();
}

// Input k of n: a constant or runtime value (null for a missing optional input).
const Value* Importer::in(const OnnxNode& n, size_t k) {
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
const Value* Importer::param(const OnnxNode& n, size_t k) {
    const Value* v = in(n, k);
    if (v && !v->is_const) {
        auto it = known_.find(n.inputs[k]);
        if (it != known_.end()) return &it->second;
    }
    return v;
}

Expected<const Value*> Importer::runtime_input(const OnnxNode& n, size_t k) {
    const Value* v = in(n, k);
    if (!v) return fail(n, "input " + std::to_string(k) + " is missing");
    if (v->is_const)
        return unsup(n, "input " + std::to_string(k) + " ('" + n.inputs[k] +
                            "') is a constant; this op is supported on computed tensors only");
    return v;
}

Expected<const ConstValue*> Importer::const_input(const OnnxNode& n, size_t k, const char* what) {
    const Value* v = param(n, k);
    if (!v) return fail(n, std::string(what) + " (input " + std::to_string(k) + ") is missing");
    if (!v->is_const)
        return unsup(n, std::string(what) + " (input " + std::to_string(k) + ", '" + n.inputs[k] +
                            "') must be a constant");
    return &v->c;
}

Expected<const Value*> Importer::runtime_value(const std::string& name, const char* what) {
    auto it = values_.find(name);
    if (it == values_.end())
        return invalid_argument(file_ + ": " + what + " '" + name +
                                "' is not produced by any node");
    if (it->second.is_const)
        return unsupported(file_ + ": " + what + " '" + name + "' is a constant");
    return &it->second;
}

Tensor Importer::to_tensor(const ConstValue& c, const Shape& s) {
    Tensor t(s);
    for (int64_t k = 0; k < t.size(); ++k) t[k] = static_cast<float>(c.at(k));
    return t;
}

// Permutes data of ONNX shape `dims` by perm (out axis i = in axis perm[i]).
ConstValue Importer::permute(const ConstValue& c, const std::vector<int>& perm) {
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
Expected<Tensor> Importer::const_for(const OnnxNode& n, const ConstValue& c, size_t r,
                                     std::vector<int> lay) {
    if (c.dims.size() > r)
        return unsup(n, "constant " + dims_str(c.dims) +
                            " has a higher rank than the tensor it combines with");
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
Expected<int> Importer::plain(const Value& v, const std::string& name) {
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

// The engine node holding v (not hwc_flat) with engine axis i = ONNX axis want[i]: a
// Transpose when v's layout differs, made once per (node, layout).
Expected<int> Importer::with_layout(const Value& v, const std::vector<int>& want,
                                    const std::string& name) {
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
void Importer::define_as(const OnnxNode& n, int node, std::vector<int64_t> onnx,
                         std::vector<int> lay, size_t output) {
    Value v;
    v.node = node;
    if (lay != layout(onnx.size())) v.layout = std::move(lay);
    v.onnx = std::move(onnx);
    values_[n.outputs[output]] = std::move(v);
}

// A Transpose of engine node x; consecutive transposes are composed (identity ones vanish).
Expected<int> Importer::transpose(const std::string& name, int x, std::vector<int> perm) {
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
Status Importer::reshape_to(const OnnxNode& n, const Value& v, std::vector<int64_t> target) {
    const std::vector<int64_t>& src = v.onnx;
    if (product(target) != product(src) || target.empty() || target[0] != 1)
        return unsup(n, "reshaping " + dims_str(src) + " into " + dims_str(target) +
                            " mixes the batch axis with others");
    if (target.size() > static_cast<size_t>(kMaxRank))
        return unsup(n, "rank " + std::to_string(target.size()) + " is not supported");
    auto same_order = [](const std::vector<int64_t>& d) {
        return d.size() != 4 || d[1] == 1 || d[2] * d[3] == 1;
    };
    Value out;
    out.onnx = target;
    // NHWC rank 4 -> [N, C*H*W]: keep the engine order, let Gemm/MatMul permute their weights.
    if (src.size() == 4 && v.layout.empty() && !same_order(src) && target.size() == 2) {
        auto r = add(n.name, OpType::kReshape, ReshapeAttrs{{-1, target[1]}}, {v.node});
        if (!r) return r.status();
        out.node = *r;
        out.hwc_flat = true;
        out.fc = src[1];
        out.fh = src[2];
        out.fw = src[3];
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
    for (size_t k = 1; k < src.size(); ++k)
        if (src[k] != 1) sa.push_back(static_cast<int>(k));
    for (size_t k = 1; k < target.size(); ++k)
        if (target[k] != 1) ta.push_back(static_cast<int>(k));
    struct Block {
        std::vector<int> s, t;
        int first = 0;
    };
    std::vector<Block> blocks;
    for (size_t i = 0, j = 0; i < sa.size() || j < ta.size();) {
        Block b;
        int64_t ps = 1, pt = 1;
        do {
            if ((ps <= pt || j >= ta.size()) && i < sa.size()) {
                ps *= src[static_cast<size_t>(sa[i])];
                b.s.push_back(sa[i++]);
            } else if (j < ta.size()) {
                pt *= target[static_cast<size_t>(ta[j])];
                b.t.push_back(ta[j++]);
            } else
                break;
        } while (ps != pt);
        if (b.s.empty() || b.t.empty() || ps != pt)
            return fail(n, "cannot reshape " + dims_str(src) + " into " + dims_str(target));
        b.first = pos[static_cast<size_t>(b.s[0])];
        for (int a : b.s) b.first = std::min(b.first, pos[static_cast<size_t>(a)]);
        blocks.push_back(std::move(b));
    }
    std::sort(blocks.begin(), blocks.end(),
              [](const Block& a, const Block& b) { return a.first < b.first; });
    std::vector<int> want_s{0}, got_s{0}, order_t;
    for (int a : cur)
        if (a != 0 && src[static_cast<size_t>(a)] != 1) got_s.push_back(a);
    for (const Block& b : blocks) {
        want_s.insert(want_s.end(), b.s.begin(), b.s.end());
        order_t.insert(order_t.end(), b.t.begin(), b.t.end());
    }
    int node = sv.node;
    if (want_s != got_s) {
        for (size_t k = 1; k < src.size(); ++k)
            if (src[k] == 1) want_s.push_back(static_cast<int>(k));
        auto t = with_layout(sv, want_s, n.name);
        if (!t) return t.status();
        node = *t;
    }
    // The target's default layout when its axes of size > 1 come in the blocks' order.
    std::vector<int> lay = layout(target.size()), lay_big;
    for (int a : lay)
        if (a != 0 && target[static_cast<size_t>(a)] != 1) lay_big.push_back(a);
    if (lay_big != order_t) {
        lay = {0};
        lay.insert(lay.end(), order_t.begin(), order_t.end());
        for (size_t k = 1; k < target.size(); ++k)
            if (target[k] == 1) lay.push_back(static_cast<int>(k));
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

// ONNX axis `a` (negative counts from the end) of a runtime tensor whose Value::onnx has
// rank r, as an axis of Value::onnx; -1 when out of range.
int64_t Importer::axis_of(int64_t a, size_t r) const {
    const int64_t real = static_cast<int64_t>(r) - lead_;
    if (a < -real || a >= real) return -1;
    return (a < 0 ? a + real : a) + lead_;
}

Status Importer::convert(const OnnxNode& n) {
    const OnnxOp* op = find_op(n.op);  // check_ops() refused every op not in the table
    for (size_t k = 1; k < n.outputs.size() && !(op->flags & OnnxOp::kOutputs); ++k) {
        if (!used(n, k)) continue;
        const std::string which =
            "output " + std::to_string(k) + " ('" + n.outputs[k] + "') is used";
        if (!op->extra_output.empty())
            return unsup(n, which + ": " + std::string(op->extra_output));
        return unsup(n, which + "; only the first output is supported");
    }
    bool all_const = true;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
        const Value* v = in(n, k);
        if (v && !v->is_const) all_const = false;
    }
    CNNLENS_RETURN_IF_ERROR(legacy_forms(n));
    if (all_const && !n.inputs.empty() && !(op->flags & OnnxOp::kNeverFolded)) return fold(n);
    if (!op->map)
        return unsup(
            n, "is only supported on constant inputs (it is evaluated at import), but input '" +
                   (n.inputs.empty() ? std::string() : n.inputs[0]) +
                   "' is computed from the image");
    if (lead_ && (op->flags & OnnxOp::kBatchFirst)) return batch_first_with_lead(n);
    if (!lead_ && (op->flags & OnnxOp::kOneD) && in(n, 0) && !in(n, 0)->is_const &&
        in(n, 0)->onnx.size() == 3)
        return one_d_as_two_d(n);
    return op->map(*this, n);
}

// Forms of ops before opset 9 whose meaning differs from the versions the mappings follow
// (ONNX's Changelog); the ops' other forms in opsets 1 to 8 read as in opset 9. Legacy
// forms that are easy to map (arithmetic's broadcast axis, PRelu's per-channel slope,
// Reshape's shape attribute, Upsample's scales attributes, Pad's paddings, Cast's type name,
// Selu's defaults) are mapped where the op is. consumed_inputs is ignored: ONNX calls it a
// "legacy optimization attribute" and its version converter drops it.
Status Importer::legacy_forms(const OnnxNode& n) {
    if (m_.opset >= 9) return Status::ok();
    const std::string& op = n.op;
    if ((op == "BatchNormalization" || op == "Dropout") && m_.opset < 7 && n.i("is_test", 0) == 0)
        return unsup(n, "is_test = 0 (training mode in opset " + std::to_string(m_.opset) +
                            ") is not supported (export the model in eval mode)");
    if (op == "BatchNormalization" && n.i("spatial", 1) == 0)
        return unsup(n, "spatial = 0 (statistics per activation, before opset 9) is not supported");
    return Status::ok();
}

// Keeps the nodes the output depends on (dead constants from folding, unused transposes).
Graph Importer::compact_graph() {
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
        if (n.op == OpType::kInput)
            id = out.add_input(n.name, n.shape);
        else if (n.op == OpType::kConst)
            id = out.add_const(n.name, std::move(n.value));
        else {
            std::vector<int> ins;
            for (int k : n.inputs) ins.push_back(remap[static_cast<size_t>(k)]);
            id = out.add_node(n.name, n.op, n.attrs, ins);
        }
        out.node(id).image = image_nodes_.count(i) > 0;
        remap[static_cast<size_t>(i)] = id;
    }
    for (size_t k = 0; k < g_.outputs().size(); ++k)
        out.add_output(remap[static_cast<size_t>(g_.outputs()[k])], g_.output_name(k));
    return out;
}

}  // namespace onnx_import

using onnx_import::Importer;
using onnx_import::OnnxModel;
using onnx_import::read_onnx_model;

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
            const int64_t c = k % d[3], w = k / d[3] % d[2], h = k / (d[3] * d[2]) % d[1],
                          b = k / (d[3] * d[2] * d[1]);
            src = ((b * d[3] + c) * d[1] + h) * d[2] + w;
        }
        out[k] = t.is_int() ? static_cast<float>(t.i[static_cast<size_t>(src)])
                            : t.f[static_cast<size_t>(src)];
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

Expected<Graph> import_onnx(std::span<const uint8_t> bytes, const std::string& name,
                            const OnnxLimits& limits, std::span<const OnnxTensor> given) {
    if (bytes.size() > limits.max_bytes)
        return out_of_range(name + ": the file has " + std::to_string(bytes.size()) +
                            " bytes; the limit is " + std::to_string(limits.max_bytes));
    if (bytes.empty()) return corrupt(name + ": the file is empty");
    OnnxModel m;
    CNNLENS_RETURN_IF_ERROR(read_onnx_model(bytes, name, limits, m));
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
    const bool second_further =
        second.converted() > first.converted() && added.status().code() == ErrorCode::kUnsupported;
    const Status& main = second_further ? added.status() : g.status();
    const Status& other = second_further ? g.status() : added.status();
    std::string also = other.message();
    if (also.rfind(name + ": ", 0) == 0) also = also.substr(name.size() + 2);
    if (main.message().size() >= also.size() &&
        main.message().compare(main.message().size() - also.size(), also.size(), also) == 0)
        return main;
    return Status(main.code(), main.message() +
                                   (second_further ? " (read with its first axis as the batch: "
                                                   : " (read with a batch axis added: ") +
                                   also + ")");
}

}  // namespace cnnlens
