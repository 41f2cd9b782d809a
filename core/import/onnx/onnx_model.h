// The ONNX model as the importer reads it: ModelProto's graph with its nodes, attributes,
// initializers and value infos, held in ONNX layout (read_onnx_model), and the small constant
// tensors of shape arithmetic. Internal to core/import/onnx.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/import/onnx/onnx_graph.h"
#include "core/import/onnx/tensor_proto.h"

namespace cnnlens::onnx_import {

// ONNX TensorProto.DataType values we read.
enum DataType : int {
    kFloat = 1,
    kUint8 = 2,
    kInt8 = 3,
    kUint16 = 4,
    kInt16 = 5,
    kInt32 = 6,
    kInt64 = 7,
    kString = 8,
    kBool = 9,
    kFloat16 = 10,
    kDouble = 11
};

// Largest tensor evaluated at import (shape arithmetic and small constant subgraphs).
constexpr double kFoldLimit = 1 << 24;

// The batch size inside constant-folded shape arithmetic: unknown until run time.
constexpr int64_t kBatch = std::numeric_limits<int64_t>::min() + 7;

inline std::string dtype_name(int t) { return onnx_dtype_name(t); }

inline std::string dims_str(const std::vector<int64_t>& d) {
    std::string s = "[";
    for (size_t i = 0; i < d.size(); ++i) {
        if (i) s += ',';
        s += d[i] == kBatch ? std::string("N") : std::to_string(d[i]);
    }
    return s + "]";
}

inline int64_t product(const std::vector<int64_t>& d, size_t from = 0,
                       size_t to = std::string::npos) {
    const auto end = d.begin() + static_cast<std::ptrdiff_t>(std::min(to, d.size()));
    int64_t p = 1;
    for (auto it = d.begin() + static_cast<std::ptrdiff_t>(std::min(from, d.size())); it < end;
         ++it)
        p *= *it;
    return p;
}

// A constant tensor in ONNX layout: float values or integers (shape arithmetic, indices).
struct ConstValue {
    std::vector<int64_t> dims;
    bool is_int = false;
    std::vector<float> f;
    std::vector<int64_t> i;
    int64_t count() const { return product(dims); }
    double at(int64_t k) const {
        return is_int ? static_cast<double>(i[static_cast<size_t>(k)]) : f[static_cast<size_t>(k)];
    }
    // Element k as an integer: float values are clamped to +-2^40 (NaN: 0) first, so a hostile
    // float never overflows the conversion, and sums of a few such values stay in range; the
    // shape checks then reject them with the value named.
    int64_t int_at(int64_t k) const {
        if (is_int) return i[static_cast<size_t>(k)];
        const double v = f[static_cast<size_t>(k)], lim = static_cast<double>(int64_t{1} << 40);
        return v != v ? 0 : static_cast<int64_t>(std::clamp(v, -lim, lim));
    }
};

inline ConstValue const_value(OnnxTensor t) {
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
        for (const Attr& a : attrs)
            if (a.name == n) return &a;
        return nullptr;
    }
    int64_t i(std::string_view n, int64_t def) const {
        const Attr* a = attr(n);
        return a ? a->i : def;
    }
    float f(std::string_view n, float def) const {
        const Attr* a = attr(n);
        return a ? a->f : def;
    }
    std::string s(std::string_view n, const std::string& def = "") const {
        const Attr* a = attr(n);
        return a ? a->s : def;
    }
    std::vector<int64_t> ints(std::string_view n) const {
        const Attr* a = attr(n);
        return a ? a->ints : std::vector<int64_t>{};
    }
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

// Reads a ModelProto into `m`: its graph, the default domain's opset, and every initializer,
// within `limits`; errors name `file` and the field.
Status read_onnx_model(std::span<const uint8_t> bytes, const std::string& file,
                       const OnnxLimits& limits, OnnxModel& m);

}  // namespace cnnlens::onnx_import
