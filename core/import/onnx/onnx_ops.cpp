// The ONNX ops read at run time, each mapped to engine ops in NHWC (the layout rules are in
// onnx_graph.h), and the table that lists every op the importer reads (Importer::ops()).
#include <algorithm>
#include <cmath>
#include <utility>

#include "core/import/onnx/onnx_importer.h"

namespace cnnlens::onnx_import {

Shape Importer::shape_of(int node) const {
    Shape s = g_.node(node).shape;
    if (s.rank() > 0 && g_.node(node).op == OpType::kInput) s[0] = 1;
    return s;
}

// Axes from the attribute (older opsets) or the second input (newer).
Expected<std::vector<int64_t>> Importer::axes_of(const OnnxNode& n, size_t input, int64_t rank) {
    std::vector<int64_t> axes = n.ints("axes");
    if (const Value* a = param(n, input)) {
        if (!a->is_const) return unsup(n, "axes must be a constant");
        axes.clear();
        for (int64_t k = 0; k < a->c.count(); ++k) axes.push_back(a->c.int_at(k));
    }
    for (int64_t& a : axes) {
        if (a < -rank || a >= rank)
            return fail(n, "axis " + std::to_string(a) + " is out of range for rank " +
                               std::to_string(rank));
        if (a < 0) a += rank;
    }
    std::sort(axes.begin(), axes.end());
    return axes;
}

bool Importer::has_batch(const ConstValue& c) {
    return c.is_int && std::find(c.i.begin(), c.i.end(), kBatch) != c.i.end();
}

// Target shape of Reshape/Squeeze/Unsqueeze/Flatten for input dims `d`.
Expected<std::vector<int64_t>> Importer::reshaped_dims(const OnnxNode& n,
                                                       const std::vector<int64_t>& d,
                                                       bool runtime) {
    const int64_t rank = static_cast<int64_t>(d.size());
    std::vector<int64_t> out;
    if (n.op == "Flatten") {
        int64_t axis = n.i("axis", 1);
        if (axis < 0) axis += rank;
        if (axis < 0 || axis > rank)
            return fail(n, "axis " + std::to_string(n.i("axis", 1)) + " is out of range for rank " +
                               std::to_string(rank));
        if (axis == 0 && runtime)
            return unsup(n,
                         "flattening the batch axis into the features (axis 0) is not supported");
        return std::vector<int64_t>{product(d, 0, static_cast<size_t>(axis)),
                                    product(d, static_cast<size_t>(axis))};
    }
    if (n.op == "Squeeze") {
        auto axes = axes_of(n, 1, rank);
        if (!axes) return axes.status();
        for (int64_t k = 0; k < rank; ++k) {
            const bool listed = std::find(axes->begin(), axes->end(), k) != axes->end();
            if (listed && d[static_cast<size_t>(k)] != 1)
                return fail(n, "axis " + std::to_string(k) + " of " + dims_str(d) + " is not 1");
            if (listed && k == 0 && runtime)
                return unsup(n, "squeezing the batch axis is not supported");
            const bool drop =
                axes->empty() ? d[static_cast<size_t>(k)] == 1 && !(k == 0 && runtime) : listed;
            if (!drop) out.push_back(d[static_cast<size_t>(k)]);
        }
        return out;
    }
    if (n.op == "Unsqueeze") {
        auto axes =
            axes_of(n, 1,
                    rank + static_cast<int64_t>(std::max(
                               n.ints("axes").size(),
                               in(n, 1) ? static_cast<size_t>(in(n, 1)->c.count()) : size_t{0})));
        if (!axes) return axes.status();
        out = d;
        for (int64_t a : *axes) {
            if (a > static_cast<int64_t>(out.size()))
                return fail(n, "axis " + std::to_string(a) + " is out of range");
            out.insert(out.begin() + a, 1);
        }
        if (runtime && !axes->empty() && (*axes)[0] == 0)
            return unsup(n, "inserting an axis before the batch is not supported");
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
            if (k != 0 || !runtime)
                return unsup(n, "the target shape " + dims_str(t.i) +
                                    " uses the batch size away from the first axis");
            v = 1;
        }
        if (v == 0 && n.i("allowzero", 0) == 0) {
            if (k >= rank)
                return fail(n, "target dimension " + std::to_string(k) +
                                   " copies an input axis that does not exist");
            v = d[static_cast<size_t>(k)];
        }
        if (v == -1) {
            if (infer_at >= 0) return fail(n, "more than one -1 in the target shape");
            infer_at = static_cast<int>(k);
            v = 1;
        } else if (v < 0) {
            return fail(n, "target dimension " + std::to_string(v) + " is negative");
        }
        if (runtime && k == 0 && v != 1 && infer_at != 0)
            return unsup(
                n, "the target shape's first dimension " + std::to_string(v) + " is not the batch");
        if (v > (int64_t{1} << 31))
            return fail(n, "target dimension " + std::to_string(v) + " is out of range");
        known *= v;
        if (known > (int64_t{1} << 40))
            return fail(n, "the target shape " + dims_str(t.is_int ? t.i : std::vector<int64_t>{}) +
                               " is too large");
        out.push_back(v);
    }
    const int64_t total = product(d);
    if (infer_at >= 0) {
        if (runtime && infer_at == 0) return unsup(n, "the target shape infers the batch axis");
        if (known == 0 || total % known)
            return fail(n, "cannot reshape " + dims_str(d) + " into " + dims_str(out));
        out[static_cast<size_t>(infer_at)] = total / known;
    }
    if (product(out) != total)
        return fail(n, "cannot reshape " + dims_str(d) + " (" + std::to_string(total) +
                           " elements) into " + dims_str(out));
    return out;
}

// Explicit (begin, end) pads per spatial axis from pads / auto_pad.
Status Importer::spatial_pads(const OnnxNode& n, const int64_t in_hw[2], const int64_t k[2],
                              const int64_t s[2], const int64_t d[2], int64_t pads[4]) {
    const std::string ap = n.s("auto_pad", "NOTSET");
    std::vector<int64_t> p = n.ints("pads");
    if (ap == "NOTSET") {
        if (p.empty()) p.assign(4, 0);
        if (p.size() != 4)
            return unsup(n, "pads has " + std::to_string(p.size()) +
                                " values; only 2-D ops (4 pads) are supported");
        for (int64_t v : p)
            if (v < 0 || v > 4096) return fail(n, "pad " + std::to_string(v) + " is out of range");
        pads[0] = p[0];
        pads[1] = p[1];
        pads[2] = p[2];
        pads[3] = p[3];  // top, left, bottom, right
    } else if (ap == "VALID") {
        std::fill(pads, pads + 4, 0);
    } else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
        for (int a = 0; a < 2; ++a) {
            const int64_t out = (in_hw[a] + s[a] - 1) / s[a];
            const int64_t total =
                std::max<int64_t>((out - 1) * s[a] + (k[a] - 1) * d[a] + 1 - in_hw[a], 0);
            const int64_t small = total / 2, big = total - small;
            pads[a] = ap == "SAME_UPPER" ? small : big;
            pads[a + 2] = ap == "SAME_UPPER" ? big : small;
        }
    } else {
        return unsup(n, "auto_pad '" + ap + "' is not supported");
    }
    return Status::ok();
}

Status Importer::pair_attr(const OnnxNode& n, const char* name, int64_t def, int64_t out[2],
                           int64_t hi) {
    std::vector<int64_t> v = n.ints(name);
    if (v.empty()) v = {def, def};
    if (v.size() != 2)
        return unsup(n, std::string(name) + " has " + std::to_string(v.size()) +
                            " values; only 2-D ops are supported");
    for (int a = 0; a < 2; ++a) {
        if (v[static_cast<size_t>(a)] < 1 || v[static_cast<size_t>(a)] > hi)
            return fail(n, std::string(name) + " " + dims_str(v) + " is out of range");
        out[a] = v[static_cast<size_t>(a)];
    }
    return Status::ok();
}

Status Importer::conv(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    auto w = const_input(n, 1, "the weights");
    if (!w) return w.status();
    const ConstValue& wc = **w;
    if ((*x)->onnx.size() != 4 || wc.dims.size() != 4)
        return unsup(n, "only 2-D convolutions of NCHW tensors are supported (input " +
                            dims_str((*x)->onnx) + ", weights " + dims_str(wc.dims) + ")");
    const int64_t O = wc.dims[0], I = wc.dims[1], KH = wc.dims[2], KW = wc.dims[3];
    const int64_t group = n.i("group", 1);
    if (group < 1 || O % group || I * group != (*x)->onnx[1])
        return fail(n, "weights " + dims_str(wc.dims) + " with group " + std::to_string(group) +
                           " do not fit input " + dims_str((*x)->onnx));
    const std::vector<int64_t> ks = n.ints("kernel_shape");
    if (!ks.empty() && (ks.size() != 2 || ks[0] != KH || ks[1] != KW))
        return fail(
            n, "kernel_shape " + dims_str(ks) + " differs from the weights " + dims_str(wc.dims));
    int64_t s[2], d[2], pads[4];
    const int64_t k[2] = {KH, KW}, hw[2] = {(*x)->onnx[2], (*x)->onnx[3]};
    CNNLENS_RETURN_IF_ERROR(pair_attr(n, "strides", 1, s, 4096));
    CNNLENS_RETURN_IF_ERROR(pair_attr(n, "dilations", 1, d, 4096));
    CNNLENS_RETURN_IF_ERROR(spatial_pads(n, hw, k, s, d, pads));
    ConvAttrs c;
    c.stride_h = static_cast<int>(s[0]);
    c.stride_w = static_cast<int>(s[1]);
    c.dilation_h = static_cast<int>(d[0]);
    c.dilation_w = static_cast<int>(d[1]);
    c.padding = PaddingMode::kExplicit;
    c.pad_top = static_cast<int>(pads[0]);
    c.pad_left = static_cast<int>(pads[1]);
    c.pad_bottom = static_cast<int>(pads[2]);
    c.pad_right = static_cast<int>(pads[3]);
    c.groups = static_cast<int>(group);
    Tensor wt(Shape{KH, KW, I, O});  // [O,I,KH,KW] -> [KH,KW,I,O]
    for (int64_t o = 0; o < O; ++o)
        for (int64_t i = 0; i < I; ++i)
            for (int64_t y = 0; y < KH; ++y)
                for (int64_t xx = 0; xx < KW; ++xx)
                    wt[((y * KW + xx) * I + i) * O + o] =
                        static_cast<float>(wc.at(((o * I + i) * KH + y) * KW + xx));
    // A bias is always present so a following BatchNormalization can be folded into it.
    Tensor bias(Shape{O}, 0.f);
    if (const Value* b = param(n, 2)) {
        if (!b->is_const || b->c.count() != O)
            return fail(n, "the bias must be a constant of " + std::to_string(O) + " values");
        for (int64_t o = 0; o < O; ++o) bias[o] = static_cast<float>(b->c.at(o));
    }
    const int wi = add_const(n.name + "/weights", std::move(wt)),
              bi = add_const(n.name + "/bias", std::move(bias));
    auto xn = plain(**x, n.name);
    if (!xn) return xn.status();
    auto id = add(n.name, OpType::kConv2D, c, {*xn, wi, bi});
    if (!id) return id.status();
    conv_of_[n.outputs[0]] = *id;
    return define(n, *id);
}

Status Importer::conv_transpose(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    auto w = const_input(n, 1, "the weights");
    if (!w) return w.status();
    const ConstValue& wc = **w;
    if ((*x)->onnx.size() != 4 || wc.dims.size() != 4)
        return unsup(n, "only 2-D transposed convolutions are supported (weights " +
                            dims_str(wc.dims) + ")");
    const int64_t I = wc.dims[0], Og = wc.dims[1], KH = wc.dims[2], KW = wc.dims[3];
    const int64_t group = n.i("group", 1);
    if (group < 1 || I != (*x)->onnx[1] || I % group)
        return fail(n, "weights " + dims_str(wc.dims) + " with group " + std::to_string(group) +
                           " do not fit input " + dims_str((*x)->onnx));
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
            const int64_t want = !out_shape.empty()
                                     ? out_shape[out_shape.size() - 2 + static_cast<size_t>(a)]
                                     : hw[a] * s[a];
            const int64_t total =
                s[a] * (hw[a] - 1) + op[static_cast<size_t>(a)] + (k[a] - 1) * d[a] + 1 - want;
            if (total < 0) {
                // An output larger than the kernels reach: the extra rows at the end hold the
                // bias only, as output_padding's do.
                const int64_t begin = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
                if (begin != 0 && (ap == "SAME_UPPER" || total != -1))
                    return unsup(n, "output_shape " + dims_str(out_shape) +
                                        " needs negative padding at the start of axis " +
                                        std::to_string(a + 2));
                op[static_cast<size_t>(a)] -= total;
                pads[static_cast<size_t>(a)] = pads[static_cast<size_t>(a) + 2] = 0;
                continue;
            }
            // ConvTranspose-1's formula and its auto_pad text put an odd pixel at opposite ends.
            if (total % 2 && m_.opset < 11)
                return unsup(n, "the total padding " + std::to_string(total) + " of axis " +
                                    std::to_string(a + 2) +
                                    " is odd, and ConvTranspose before opset 11 defines its split "
                                    "inconsistently (re-export at opset 11 or later)");
            const bool upper = ap == "SAME_UPPER";
            pads[static_cast<size_t>(a)] = upper ? total / 2 : total - total / 2;
            pads[static_cast<size_t>(a) + 2] = upper ? total - total / 2 : total / 2;
        }
    } else if (ap == "VALID") {
        pads.assign(4, 0);
    }
    if (pads.size() != 4) return unsup(n, "pads must have 4 values");
    ConvTransposeAttrs c;
    c.stride_h = static_cast<int>(s[0]);
    c.stride_w = static_cast<int>(s[1]);
    c.dilation_h = static_cast<int>(d[0]);
    c.dilation_w = static_cast<int>(d[1]);
    c.pad_top = static_cast<int>(pads[0]);
    c.pad_left = static_cast<int>(pads[1]);
    c.pad_bottom = static_cast<int>(pads[2]);
    c.pad_right = static_cast<int>(pads[3]);
    c.output_padding_h = static_cast<int>(op[0]);
    c.output_padding_w = static_cast<int>(op[1]);
    c.groups = static_cast<int>(group);
    Tensor wt(Shape{KH, KW, Og, I});  // [I,O/g,KH,KW] -> [KH,KW,O/g,I]
    for (int64_t i = 0; i < I; ++i)
        for (int64_t o = 0; o < Og; ++o)
            for (int64_t y = 0; y < KH; ++y)
                for (int64_t xx = 0; xx < KW; ++xx)
                    wt[((y * KW + xx) * Og + o) * I + i] =
                        static_cast<float>(wc.at(((i * Og + o) * KH + y) * KW + xx));
    auto xn = plain(**x, n.name);
    if (!xn) return xn.status();
    std::vector<int> ins{*xn, add_const(n.name + "/weights", std::move(wt))};
    if (const Value* b = param(n, 2)) {
        if (!b->is_const || b->c.count() != Og * group)
            return fail(n,
                        "the bias must be a constant of " + std::to_string(Og * group) + " values");
        ins.push_back(add_const(n.name + "/bias", to_tensor(b->c, Shape{Og * group})));
    }
    auto id = add(n.name, OpType::kConvTranspose, c, ins);
    if (!id) return id.status();
    return define(n, *id);
}

// Gemm and MatMul of a matrix by constant weights: one engine MatMul (alpha folded into the
// weights, beta * C its bias). With an added batch axis A [M,K] is held [1,M,K]: transA is
// then a relabelling of its last two axes, and a C that varies along M is added after.
Status Importer::gemm(const OnnxNode& n) {
    const bool is_gemm = n.op == "Gemm";
    auto a = runtime_input(n, 0);
    if (!a) return a.status();
    auto b = const_input(n, 1, "the weights");
    if (!b) return b.status();
    const Value& av = **a;
    const ConstValue& bc = **b;
    const bool rows = lead_ && av.onnx.size() == 3;
    if (av.onnx.size() != 2 && !rows)
        return unsup(n, "the first operand " + dims_str(av.onnx) + " must be a matrix [N, K]");
    if (bc.dims.size() != 2)
        return unsup(n, "the weights " + dims_str(bc.dims) + " must be a matrix");
    const bool ta = is_gemm && n.i("transA", 0);
    if (ta && !rows) return unsup(n, "transA = 1 on a computed tensor would move its batch axis");
    const bool tb = is_gemm && n.i("transB", 0);
    const float alpha = is_gemm ? n.f("alpha", 1.f) : 1.f, beta = is_gemm ? n.f("beta", 1.f) : 1.f;
    const int64_t K = tb ? bc.dims[1] : bc.dims[0], M = tb ? bc.dims[0] : bc.dims[1];
    int an = av.node;
    if (rows) {
        auto x =
            with_layout(av, ta ? std::vector<int>{0, 2, 1} : std::vector<int>{0, 1, 2}, n.name);
        if (!x) return x.status();
        an = *x;
    }
    const int64_t ak = rows ? av.onnx[ta ? 1 : 2] : av.onnx[1];
    if (K != ak)
        return fail(n, "inner dimensions differ: " + dims_str(av.onnx) +
                           (ta ? " (transposed)" : "") + " x " + dims_str(bc.dims) +
                           (tb ? " (transposed)" : ""));
    Tensor w(Shape{K, M});
    for (int64_t k = 0; k < K; ++k) {
        // Row k of the engine's weights multiplies engine feature k; for an hwc_flat input that
        // is feature (c, h, w) of PyTorch's C-major flatten.
        int64_t src = k;
        if (av.hwc_flat) {
            const int64_t c = k % av.fc, hw = k / av.fc;
            src = c * av.fh * av.fw + hw;
        }
        for (int64_t m = 0; m < M; ++m)
            w[k * M + m] = alpha * static_cast<float>(bc.at(tb ? m * K + src : src * M + m));
    }
    std::vector<int> ins{an, add_const(n.name + "/weights", std::move(w))};
    const Value* c = is_gemm ? param(n, 2) : nullptr;
    if (c && !c->is_const) return unsup(n, "the bias C must be a constant");
    const int64_t cn = c ? c->c.count() : 0;
    const bool bias_row = c && (cn == M || cn == 1);
    if (c && !bias_row && !rows)
        return unsup(n, "the bias C " + dims_str(c->c.dims) + " must have 1 or " +
                            std::to_string(M) + " values");
    if (bias_row) {
        Tensor bias(Shape{M});
        for (int64_t m = 0; m < M; ++m)
            bias[m] = beta * static_cast<float>(c->c.at(cn == 1 ? 0 : m));
        ins.push_back(add_const(n.name + "/bias", std::move(bias)));
    }
    auto id =
        add(bias_row || !c ? n.name : n.name + "/product", OpType::kMatMul, MatMulAttrs{}, ins);
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
        id =
            add(n.name, OpType::kAdd, NoAttrs{}, {*id, add_const(n.name + "/bias", std::move(*t))});
        if (!id) return id.status();
    }
    return define(n, *id);
}

Status Importer::batch_norm(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    if (n.i("training_mode", 0))
        return unsup(n, "training_mode = 1 is not supported (export the model in eval mode)");
    const ConstValue* p[4];
    const char* what[4] = {"scale", "bias", "mean", "var"};
    for (size_t k = 0; k < 4; ++k) {
        auto c = const_input(n, k + 1, what[k]);
        if (!c) return c.status();
        p[k] = *c;
    }
    const Value& xv = **x;
    if (xv.onnx.size() < 2 || (xv.onnx.size() != 4 && xv.onnx.size() != 2))
        return unsup(n, "input " + dims_str(xv.onnx) + " is not [N,C,H,W] or [N,C]");
    const int64_t C = xv.onnx[1];
    for (size_t k = 0; k < 4; ++k)
        if (p[k]->count() != C)
            return fail(n, std::string(what[k]) + " has " + std::to_string(p[k]->count()) +
                               " values for " + std::to_string(C) + " channels");
    const float eps = n.f("epsilon", 1e-5f);
    Tensor scale(Shape{C}), shift(Shape{C});
    for (int64_t c = 0; c < C; ++c) {
        const double v = p[3]->at(c) + eps;
        if (!(v > 0))
            return fail(n, "variance + epsilon is " + std::to_string(v) + " for channel " +
                               std::to_string(c));
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
    const int si = add_const(n.name + "/scale", std::move(scale)),
              bi = add_const(n.name + "/shift", std::move(shift));
    auto id = add(n.name, OpType::kBatchNorm, NoAttrs{}, {*xn, si, bi});
    if (!id) return id.status();
    return define(n, *id);
}

// Operands meet in the layout of the first computed one; the result keeps it.
Status Importer::binary(const OnnxNode& n) {
    const OpType op = n.op == "Add"   ? OpType::kAdd
                      : n.op == "Sub" ? OpType::kSub
                      : n.op == "Mul" ? OpType::kMul
                                      : OpType::kDiv;
    const Value* a = in(n, 0);
    const Value* b = in(n, 1);
    if (!a || !b) return fail(n, "needs two inputs");
    // x * Sigmoid(x) (PyTorch's SiLU) is one Silu node, named as the Mul. A Sigmoid that other
    // nodes read stays for them; else nothing reads it and the import drops it.
    if (op == OpType::kMul && !a->is_const && !b->is_const && a->onnx == b->onnx)
        for (const auto& [x, s] : {std::pair{a, b}, std::pair{b, a}}) {
            const Node& sn = g_.node(s->node);
            if (sn.op != OpType::kSigmoid || sn.inputs[0] != x->node) continue;
            auto id = add(n.name, OpType::kSilu, NoAttrs{}, {x->node});
            if (!id) return id.status();
            Value v = *x;
            v.node = *id;
            values_[n.outputs[0]] = std::move(v);
            return Status::ok();
        }
    // Before opset 7, broadcast = 1 aligns B with A from `axis` on (at the end without it);
    // numpy's right alignment means the same once B gets trailing 1s.
    Value aligned;
    if (m_.opset < 7 && n.i("broadcast", 0) != 0 && n.attr("axis")) {
        const std::vector<int64_t>& ad = a->is_const ? a->c.dims : a->onnx;
        const std::vector<int64_t>& bd = b->is_const ? b->c.dims : b->onnx;
        const int64_t ra = static_cast<int64_t>(ad.size()) - (a->is_const ? 0 : lead_),
                      rb = static_cast<int64_t>(bd.size()) - (b->is_const ? 0 : lead_);
        int64_t axis = n.i("axis", 0);
        if (axis < 0) axis += ra;
        if (axis < 0 || axis + rb > ra)
            return fail(n, "broadcast axis " + std::to_string(n.i("axis", 0)) + " does not fit " +
                               dims_str(bd) + " into " + dims_str(ad));
        if (axis + rb < ra) {
            const Value* bc = param(n, 1);
            if (!bc->is_const)
                return unsup(
                    n, "broadcast = 1 with axis = " + std::to_string(axis) +
                           " aligns the computed operand '" + n.inputs[1] + "' " + dims_str(bd) +
                           " inside " + dims_str(ad) +
                           " (before opset 7); only a constant operand can be aligned that way");
            aligned = *bc;
            aligned.c.dims.insert(aligned.c.dims.end(), static_cast<size_t>(ra - axis - rb), 1);
            b = &aligned;
        }
    }
    // A computed operand of lower rank whose value is known broadcasts as a constant.
    if (!a->is_const && !b->is_const && a->onnx.size() != b->onnx.size())
        (a->onnx.size() < b->onnx.size() ? a : b) =
            param(n, a->onnx.size() < b->onnx.size() ? 0 : 1);
    std::vector<int> ins;
    const Value* rt = a->is_const ? b : a;
    const size_t r = rt->onnx.size();
    const std::vector<int> lay = rt->hwc_flat ? layout(r) : layout_of(*rt);
    std::vector<int64_t> onnx = rt->onnx;
    for (const Value* v : {a, b}) {
        const std::vector<int64_t>& d = v->is_const ? v->c.dims : v->onnx;
        if (d.size() > r)
            return unsup(
                n, "operand " + dims_str(d) + " has a higher rank than " + dims_str(rt->onnx));
        for (size_t k = 0; k < d.size(); ++k) {
            int64_t& o = onnx[r - d.size() + k];
            if (o == 1) o = d[k];
        }
        if (v->is_const) {
            auto t = const_for(n, v->c, r, lay);
            if (!t) return t.status();
            ins.push_back(add_const(n.name + "/const", std::move(*t)));
        } else {
            if (v->onnx.size() != r)
                return unsup(n, "computed operands " + dims_str(a->onnx) + " and " +
                                    dims_str(b->onnx) + " differ in rank");
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
Status Importer::unary(const OnnxNode& n, OpType op, OpAttrs attrs) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    auto id = add(n.name, op, std::move(attrs), {(*x)->node});
    if (!id) return id.status();
    Value v = **x;
    v.node = *id;
    values_[n.outputs[0]] = std::move(v);
    return Status::ok();
}

Status Importer::clip(const OnnxNode& n) {
    float lo = -INFINITY, hi = INFINITY;
    if (m_.opset < 11) {
        lo = n.f("min", lo);
        hi = n.f("max", hi);
    } else {
        for (size_t k = 1; k <= 2; ++k)
            if (const Value* v = param(n, k)) {
                if (!v->is_const || v->c.count() != 1)
                    return unsup(
                        n, std::string(k == 1 ? "min" : "max") + " must be a constant scalar");
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
Status Importer::prelu(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    auto s = const_input(n, 1, "slope");
    if (!s) return s.status();
    const std::vector<int64_t>& d = (*x)->onnx;
    ConstValue slope = **s;
    if (m_.opset < 7 && slope.count() > 1) {
        if (d.size() < 2 || slope.count() != d[1])
            return unsup(n, "slope " + dims_str(slope.dims) +
                                " has neither 1 value nor one per channel of " + dims_str(d) +
                                " (PRelu before opset 7)");
        slope.dims.assign(d.size() - 1, 1);
        slope.dims[0] = d[1];
    }
    if (!broadcasts_to(slope.dims, d)) {
        std::vector<int64_t> full = d;
        full[0] = slope.dims.size() == d.size() ? slope.dims[0] : 1;
        if (broadcasts_to(slope.dims, full))
            return unsup(n, "slope " + dims_str(slope.dims) + " varies along the batch axis of " +
                                dims_str(d));
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
    auto id =
        add(n.name, OpType::kPrelu, NoAttrs{}, {*xn, add_const(n.name + "/slope", std::move(*t))});
    if (!id) return id.status();
    return define(n, *id);
}

// Softmax over one axis (opset 13), or before opset 13 over the axes from `axis` on,
// flattened. The engine's softmax runs over its last axis: those axes are laid out last (a
// relabelling, or one Transpose) and, when there are several, flattened by a Reshape and back.
Status Importer::softmax(const OnnxNode& n) {
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
    if (axis < 0)
        return fail(n, "axis " + std::to_string(given) + " is out of range for " + dims_str(d));
    if (axis == 0)
        return unsup(
            n, "softmax over axis 0 of " + dims_str(d) + ", the batch axis, is not supported");
    const bool flat = m_.opset < 13 && product(d, static_cast<size_t>(axis) + 1) != 1;
    std::vector<int> lay;
    if (flat) {
        lay = trailing_layout(xv, axis);
    } else {
        for (int a : layout_of(xv))
            if (a != axis) lay.push_back(a);
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
    auto id = add(n.name, n.op == "Softmax" ? OpType::kSoftmax : OpType::kLogSoftmax,
                  SoftmaxAttrs{-1}, {node});
    if (!id) return id.status();
    node = *id;
    if (flat) {
        auto r = add(n.name + "/unflat", OpType::kReshape,
                     ReshapeAttrs{std::vector<int64_t>(es.begin(), es.end())}, {node});
        if (!r) return r.status();
        node = *r;
    }
    define_as(n, node, d, lay);
    return Status::ok();
}

Status Importer::pool(const OnnxNode& n) {
    const bool is_max = n.op == "MaxPool";
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    if ((*x)->onnx.size() != 4)
        return unsup(n, "only 2-D pooling of NCHW tensors is supported (input " +
                            dims_str((*x)->onnx) + ")");
    int64_t k[2], s[2], d[2], pads[4];
    const std::vector<int64_t> ks = n.ints("kernel_shape");
    if (ks.size() != 2) return unsup(n, "kernel_shape " + dims_str(ks) + " is not 2-D");
    CNNLENS_RETURN_IF_ERROR(pair_attr(n, "kernel_shape", 1, k, 4096));
    CNNLENS_RETURN_IF_ERROR(pair_attr(n, "strides", 1, s, 4096));
    CNNLENS_RETURN_IF_ERROR(pair_attr(n, "dilations", 1, d, 4096));
    if (!is_max && (d[0] != 1 || d[1] != 1))
        return unsup(n, "dilated average pooling is not supported");
    const int64_t hw[2] = {(*x)->onnx[2], (*x)->onnx[3]};
    CNNLENS_RETURN_IF_ERROR(spatial_pads(n, hw, k, s, d, pads));
    auto xn = plain(**x, n.name);
    if (!xn) return xn.status();
    int node = *xn;
    // count_include_pad: pad with zeros first, then average over in-bounds elements only;
    // this equals PyTorch's divisor, which counts explicit padding but not ceil_mode's.
    if (!is_max && n.i("count_include_pad", 0) && (pads[0] || pads[1] || pads[2] || pads[3])) {
        auto p =
            add(n.name + "/pad", OpType::kPad,
                PadAttrs{{{0, 0}, {pads[0], pads[2]}, {pads[1], pads[3]}, {0, 0}}, 0.f}, {node});
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
            pads[a + 2] += std::max<int64_t>(
                0, (out - 1) * s[a] + window - (in_hw[a] + pads[a] + pads[a + 2]));
        }
    }
    PoolAttrs p;
    p.kernel_h = static_cast<int>(k[0]);
    p.kernel_w = static_cast<int>(k[1]);
    p.stride_h = static_cast<int>(s[0]);
    p.stride_w = static_cast<int>(s[1]);
    p.padding = PaddingMode::kExplicit;
    p.pad_top = static_cast<int>(pads[0]);
    p.pad_left = static_cast<int>(pads[1]);
    p.pad_bottom = static_cast<int>(pads[2]);
    p.pad_right = static_cast<int>(pads[3]);
    p.dilation_h = static_cast<int>(d[0]);
    p.dilation_w = static_cast<int>(d[1]);
    auto id = add(n.name, is_max ? OpType::kMaxPool : OpType::kAvgPool, p, {node});
    if (!id) return id.status();
    return define(n, *id);
}

Status Importer::global_pool(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    if ((*x)->onnx.size() != 4)
        return unsup(n, "only NCHW inputs are supported (input " + dims_str((*x)->onnx) + ")");
    auto xn = plain(**x, n.name);
    if (!xn) return xn.status();
    Expected<int> id = 0;
    if (n.op == "GlobalAveragePool") {
        id = add(n.name, OpType::kMean, ReduceAttrs{{1, 2}, true}, {*xn});
    } else {
        PoolAttrs p;  // a max pool whose window is the whole image runs on the kernel sets
        p.kernel_h = static_cast<int>((*x)->onnx[2]);
        p.kernel_w = static_cast<int>((*x)->onnx[3]);
        id = add(n.name, OpType::kMaxPool, p, {*xn});
    }
    if (!id) return id.status();
    return define(n, *id);
}

// ReduceMean (x.mean((2, 3)) in PyTorch; LayerNorm's decomposition): axes from the
// attribute, or the input from opset 18. The result keeps the input's axis order.
Status Importer::reduce_mean(const OnnxNode& n) {
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
        if (axes->empty())
            for (int64_t k = 0; k + 1 < r; ++k) axes->push_back(k);
        for (int64_t& a : *axes) ++a;
    }
    if (axes->empty())
        return unsup(n, "reducing over every axis (the batch included) is not supported");
    if ((*axes)[0] == 0) return unsup(n, "reducing over the batch axis is not supported");
    const bool keep = n.i("keepdims", 1) != 0;
    const std::vector<int> l = (*x)->hwc_flat ? layout(d.size()) : layout_of(**x);
    ReduceAttrs ra;
    ra.keep_dims = keep;
    for (int64_t a : *axes)
        ra.axes.push_back(
            static_cast<int>(std::find(l.begin(), l.end(), static_cast<int>(a)) - l.begin()));
    std::sort(ra.axes.begin(), ra.axes.end());
    auto id = add(n.name, OpType::kMean, ra, {*xn});
    if (!id) return id.status();
    auto reduced = [&](int64_t k) {
        return std::find(axes->begin(), axes->end(), k) != axes->end();
    };
    std::vector<int64_t> onnx;
    std::vector<int> lay, renum(d.size(), 0);
    for (int64_t k = 0, kept = 0; k < r; ++k) {
        renum[static_cast<size_t>(k)] = static_cast<int>(keep ? k : kept);
        if (keep || !reduced(k)) {
            onnx.push_back(reduced(k) ? 1 : d[static_cast<size_t>(k)]);
            ++kept;
        }
    }
    for (int a : l)
        if (keep || !reduced(a)) lay.push_back(renum[static_cast<size_t>(a)]);
    define_as(n, *id, onnx, lay);
    return Status::ok();
}

// The target of Reshape/Flatten/Squeeze/Unsqueeze of runtime v, in Value::onnx terms.
Expected<std::vector<int64_t>> Importer::runtime_target(const OnnxNode& n, const Value& v) {
    if (!lead_) return reshaped_dims(n, v.onnx, true);
    auto d = reshaped_dims(n, std::vector<int64_t>(v.onnx.begin() + 1, v.onnx.end()), false);
    if (d) d->insert(d->begin(), 1);
    return d;
}

Status Importer::flatten(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    auto d = runtime_target(n, **x);
    if (!d) return d.status();
    return reshape_to(n, **x, *d);
}

Status Importer::reshape_like(const OnnxNode& n) {
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

std::vector<int> Importer::layout(size_t rank) {
    if (rank == 4) return {0, 2, 3, 1};  // engine axis i holds ONNX axis layout[i]
    std::vector<int> l(rank);
    for (size_t i = 0; i < rank; ++i) l[i] = static_cast<int>(i);
    return l;
}

Status Importer::transpose_op(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    Expected<int> xn = (*x)->hwc_flat ? plain(**x, n.name) : Expected<int>((*x)->node);
    if (!xn) return xn.status();
    const size_t r = (*x)->onnx.size(), real = r - static_cast<size_t>(lead_);
    std::vector<int64_t> p = n.ints("perm");
    if (p.empty())
        for (size_t k = real; k-- > 0;) p.push_back(static_cast<int64_t>(k));
    if (p.size() != real)
        return fail(
            n, "perm has " + std::to_string(p.size()) + " axes for rank " + std::to_string(real));
    std::vector<bool> seen(real, false);
    for (int64_t v : p) {
        if (v < 0 || v >= static_cast<int64_t>(real) || seen[static_cast<size_t>(v)])
            return fail(n, "perm " + dims_str(p) + " is not a permutation");
        seen[static_cast<size_t>(v)] = true;
    }
    if (lead_) {
        for (int64_t& v : p) ++v;
        p.insert(p.begin(), 0);
    }
    if (p[0] != 0)
        return unsup(n, "moving the batch axis is not supported (perm " + dims_str(p) + ")");
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

Status Importer::concat(const OnnxNode& n) {
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
            if (c.dims.size() + static_cast<size_t>(lead_) != r)
                return fail(n, "inputs differ in rank");
            if (lead_) c.dims.insert(c.dims.begin(), 1);
            if (c.dims[0] != 1)
                return unsup(n, "the constant '" + n.inputs[k] + "' " + dims_str(v->c.dims) +
                                    " has " + std::to_string(c.dims[0]) + " on the batch axis");
            c = permute(c, layout(r));
            ins.push_back(add_const(n.name + "/" + n.inputs[k],
                                    to_tensor(c, Shape::from(c.dims.begin(), c.dims.end()))));
            continue;
        }
        auto p = plain(*v, n.name);
        if (!p) return p.status();
        ins.push_back(*p);
    }
    if (ins.empty()) return fail(n, "has no inputs");
    const int64_t axis = axis_of(n.i("axis", 1), r);
    if (axis < 0)
        return fail(n, "axis " + std::to_string(n.i("axis", 1)) + " is out of range for rank " +
                           std::to_string(r - static_cast<size_t>(lead_)));
    if (axis == 0) return unsup(n, "concatenating along axis 0, the batch axis, is not supported");
    const std::vector<int> l = layout(r);
    const int eaxis =
        static_cast<int>(std::find(l.begin(), l.end(), static_cast<int>(axis)) - l.begin());
    if (ins.size() == 1) return define(n, ins[0]);
    auto id = add(n.name, OpType::kConcat, ConcatAttrs{eaxis}, ins);
    if (!id) return id.status();
    return define(n, *id);
}

Status Importer::pad(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    auto xn = plain(**x, n.name);
    if (!xn) return xn.status();
    const std::string mode = n.s("mode", "constant");
    if (mode != "constant" && mode != "reflect" && mode != "edge")
        return unsup(n, "mode '" + mode + "' is not supported (constant, reflect, edge)");
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
            if (!v->is_const || v->c.count() != 1)
                return unsup(n, "constant_value must be a constant scalar");
            value = static_cast<float>(v->c.at(0));
        }
        if (const Value* a = param(n, 3)) {  // opset 18: pads for the listed axes only
            if (!a->is_const) return unsup(n, "axes must be a constant");
            std::vector<int64_t> full(2 * real, 0);
            const int64_t na = a->c.count();
            if (static_cast<int64_t>(pads.size()) != 2 * na)
                return fail(n, "pads has " + std::to_string(pads.size()) + " values for " +
                                   std::to_string(na) + " axes");
            for (int64_t k = 0; k < na; ++k) {
                int64_t ax = a->c.int_at(k);
                if (ax < 0) ax += static_cast<int64_t>(real);
                if (ax < 0 || ax >= static_cast<int64_t>(real))
                    return fail(n, "axis " + std::to_string(ax) + " is out of range");
                full[static_cast<size_t>(ax)] = pads[static_cast<size_t>(k)];
                full[static_cast<size_t>(ax) + real] = pads[static_cast<size_t>(k + na)];
            }
            pads = full;
        }
    }
    if (pads.size() != 2 * real)
        return fail(n, "pads has " + std::to_string(pads.size()) + " values for rank " +
                           std::to_string(real));
    if (lead_) {  // the added batch axis is not padded
        pads.insert(pads.begin() + static_cast<std::ptrdiff_t>(real), 0);
        pads.insert(pads.begin(), 0);
    }
    for (int64_t v : pads)
        if (v < 0) return unsup(n, "negative pads (cropping) are not supported: " + dims_str(pads));
    PadAttrs pa;
    pa.value = value;
    pa.mode = mode == "reflect" ? PadMode::kReflect
              : mode == "edge"  ? PadMode::kEdge
                                : PadMode::kConstant;
    for (int ax : layout(r))
        pa.paddings.push_back({pads[static_cast<size_t>(ax)], pads[static_cast<size_t>(ax) + r]});
    auto id = add(n.name, OpType::kPad, pa, {*xn});
    if (!id) return id.status();
    return define(n, *id);
}

// ONNX axis k of v as an engine axis.
int Importer::engine_axis(const Value& v, int64_t k) const {
    const std::vector<int> l = layout_of(v);
    return static_cast<int>(std::find(l.begin(), l.end(), static_cast<int>(k)) - l.begin());
}

// A layout of rank r that keeps v's order for the leading axes and puts ONNX axes
// from..r-1 last, in order (what MatMul and LayerNorm over trailing axes need).
std::vector<int> Importer::trailing_layout(const Value& v, int64_t from) const {
    std::vector<int> l;
    for (int a : layout_of(v))
        if (a < from) l.push_back(a);
    for (int64_t a = from; a < static_cast<int64_t>(v.onnx.size()); ++a)
        l.push_back(static_cast<int>(a));
    return l;
}

Status Importer::pow(const OnnxNode& n) {
    auto e = const_input(n, 1, "the exponent");
    if (!e) return e.status();
    if ((*e)->count() != 1)
        return unsup(n, "the exponent " + dims_str((*e)->dims) + " must be a scalar");
    return unary(n, OpType::kPow, PowAttrs{static_cast<float>((*e)->at(0))});
}

// MatMul of a [N,...,K] tensor by a constant [K,M] (a Linear on a channels-last tensor):
// one engine MatMul over the last axis, in a layout where the contracted axis is last.
Status Importer::matmul_rows(const OnnxNode& n) {
    auto a = runtime_input(n, 0);
    if (!a) return a.status();
    auto b = const_input(n, 1, "the weights");
    if (!b) return b.status();
    const Value& av = **a;
    const ConstValue& bc = **b;
    const int64_t r = static_cast<int64_t>(av.onnx.size());
    if (bc.dims.size() != 2)
        return unsup(n, "the second operand " + dims_str(bc.dims) + " must be a constant matrix");
    if (bc.dims[0] != av.onnx.back())
        return fail(n, "inner dimensions differ: " + dims_str(av.onnx) + " x " + dims_str(bc.dims));
    const std::vector<int> lay = trailing_layout(av, r - 1);
    auto x = with_layout(av, lay, n.name);
    if (!x) return x.status();
    auto id =
        add(n.name, OpType::kMatMul, MatMulAttrs{},
            {*x, add_const(n.name + "/weights", to_tensor(bc, Shape{bc.dims[0], bc.dims[1]}))});
    if (!id) return id.status();
    std::vector<int64_t> onnx = av.onnx;
    onnx.back() = bc.dims[1];
    define_as(n, *id, onnx, lay);
    return Status::ok();
}

// With a batch axis added, an NCHW image input of batch 1 (or a symbolic batch) is held as
// the engine's NHWC image when no value is given for it (the model is run on images, not by
// `cnnlens run`, whose tensors keep the ONNX order).
bool Importer::image_with_lead(const std::vector<int64_t>& onnx) {
    if (!lead_ || !given_.empty() || onnx.size() != 5 || onnx[1] != 1) return false;
    image_input_ = true;
    return true;
}

// An op on [N,C,H,W] images (Conv, pooling, BatchNormalization, Resize) in a graph read with
// a batch axis added: when the model's own batch is 1 (a transformer that folds it into its
// heads or tokens), the op runs on the engine's NHWC image [L,H,W,C], L the added batch, and
// its result goes back to [L,1,...] in the NHWC layout.
Status Importer::batch_first_with_lead(const OnnxNode& n) {
    const std::string why = "its input's first axis must be the batch axis (N of [N,C,...])";
    const Value* x = in(n, 0);
    if (!x || x->is_const || x->onnx.size() != 5 || x->onnx[1] != 1) return unsup(n, why);
    const int64_t C = x->onnx[2], H = x->onnx[3], W = x->onnx[4];
    Expected<int> xn = with_layout(*x, {0, 1, 3, 4, 2}, n.name);
    if (!xn) return xn.status();
    Expected<int> img =
        add(n.name + "/image", OpType::kReshape, ReshapeAttrs{{-1, H, W, C}}, {*xn});
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
    Expected<int> back =
        add(n.name + "/lead", OpType::kReshape, ReshapeAttrs{{-1, 1, h, w, c}}, {*on});
    if (!back) return back.status();
    define_as(n, *back, {1, 1, c, h, w}, {0, 1, 3, 4, 2});
    return Status::ok();
}

// A 1-D convolution or pooling of [N,C,L]: the 2-D op on [N,C,1,L] (the engine's NHWC image
// [N,1,L,C]), its attributes and weights given a leading axis of 1, and the result read back
// as [N,C',L'].
Status Importer::one_d_as_two_d(const OnnxNode& n) {
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
        if (a.name == "kernel_shape" || a.name == "strides" || a.name == "dilations" ||
            a.name == "output_shape") {
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
    if (out.onnx.size() != 4 || out.onnx[2] != 1)
        return unsup(n, "the 1-D result " + dims_str(out.onnx) + " is not [N,C,1,L]");
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
bool Importer::needs_batch_matmul(const OnnxNode& n) {
    const Value* a = in(n, 0);
    const Value* b = param(n, 1);
    if (!a || !b) return false;
    return a->is_const || !b->is_const || b->c.dims.size() != 2;
}

// MatMul as NumPy defines it on operands of rank >= 2, leading axes broadcast: one engine
// BatchMatMul on both operands in ONNX axis order. A constant operand broadcasts over the
// batch; one whose leading axes would multiply the batch is refused.
Status Importer::batch_matmul(const OnnxNode& n) {
    const Value* a = in(n, 0);
    const Value* b = param(n, 1);
    const size_t real_a =
        a->is_const ? a->c.dims.size() : a->onnx.size() - static_cast<size_t>(lead_);
    const size_t real_b =
        b->is_const ? b->c.dims.size() : b->onnx.size() - static_cast<size_t>(lead_);
    if (real_a < 2 || real_b < 2)
        return unsup(n, "an operand of rank 1 (" + dims_str(a->is_const ? a->c.dims : a->onnx) +
                            " x " + dims_str(b->is_const ? b->c.dims : b->onnx) + ")");
    if (!lead_ && !b->is_const && b->onnx.size() == 2)
        return unsup(n, "the second operand " + dims_str(b->onnx) +
                            " would be contracted over its batch axis");
    // Each operand as an engine node in ONNX axis order, with its ONNX shape (lead axis included).
    auto operand = [&](const Value& v, const std::string& tag,
                       std::vector<int64_t>& dims) -> Expected<int> {
        if (v.is_const) {
            dims = v.c.dims;
            const size_t r =
                std::max(a->is_const ? 0 : a->onnx.size(), b->is_const ? 0 : b->onnx.size());
            if (dims.size() > r)
                return unsup(n, "the constant operand " + dims_str(dims) +
                                    " has more axes than the computed one");
            // Aligned with the computed operand, a constant reaching its batch axis must have 1
            // there, or the product would have a batch of its own.
            if (dims.size() == r && dims[0] != 1)
                return unsup(n, "the constant operand " + dims_str(dims) + " has " +
                                    std::to_string(dims[0]) + " on the batch axis");
            std::vector<int64_t> d = dims;
            while (d.size() > 2 && d[0] == 1)
                d.erase(d.begin());  // the engine broadcasts from the right
            return add_const(n.name + "/" + tag, to_tensor(v.c, Shape::from(d.begin(), d.end())));
        }
        dims = v.onnx;
        return v.hwc_flat ? plain(v, n.name)
                          : with_layout(v, identity_layout(v.onnx.size()), n.name);
    };
    std::vector<int64_t> da, db;
    auto an = operand(*a, "a", da);
    if (!an) return an.status();
    auto bn = operand(*b, "b", db);
    if (!bn) return bn.status();
    if (da.back() != db[db.size() - 2])
        return fail(n, "inner dimensions differ: " + dims_str(da) + " x " + dims_str(db));
    const size_t r = std::max(da.size(), db.size());
    std::vector<int64_t> out(r);
    for (size_t i = 0; i + 2 < r; ++i) {
        const int64_t ia = static_cast<int64_t>(i) - static_cast<int64_t>(r - da.size()),
                      ib = static_cast<int64_t>(i) - static_cast<int64_t>(r - db.size());
        const int64_t x = ia >= 0 ? da[static_cast<size_t>(ia)] : 1,
                      y = ib >= 0 ? db[static_cast<size_t>(ib)] : 1;
        if (x != y && x != 1 && y != 1)
            return fail(n, "leading axes of " + dims_str(da) + " and " + dims_str(db) +
                               " do not broadcast");
        out[i] = std::max(x, y);
    }
    out[r - 2] = da[da.size() - 2];
    out[r - 1] = db.back();
    auto id = add(n.name, OpType::kBatchMatMul, NoAttrs{}, {*an, *bn});
    if (!id) return id.status();
    define_as(n, *id, out, identity_layout(r));
    return Status::ok();
}

std::vector<int> Importer::identity_layout(size_t rank) {
    std::vector<int> l(rank);
    for (size_t i = 0; i < rank; ++i) l[i] = static_cast<int>(i);
    return l;
}

// LayerNormalization (opset 17): normalizes ONNX axes axis..r-1 of x.
Status Importer::layer_norm(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    const Value& xv = **x;
    const int64_t r = static_cast<int64_t>(xv.onnx.size());
    const int64_t axis = axis_of(n.i("axis", -1), static_cast<size_t>(r));
    if (axis < 1)
        return unsup(n, "axis " + std::to_string(n.i("axis", -1)) + " of " + dims_str(xv.onnx) +
                            " (the batch axis may not be normalized)");
    if (n.i("stash_type", 1) != 1)
        return unsup(n, "stash_type " + std::to_string(n.i("stash_type", 1)) + " (float32 only)");
    const int64_t row = product(xv.onnx, static_cast<size_t>(axis));
    Tensor p[2] = {Tensor(Shape{row}, 1.f), Tensor(Shape{row}, 0.f)};
    for (size_t k = 0; k < 2; ++k) {
        const Value* c = param(n, k + 1);
        if (!c) {
            if (k == 0) return fail(n, "the scale (input 1) is missing");
            continue;
        }
        if (!c->is_const)
            return unsup(n, std::string(k == 0 ? "the scale" : "the bias") + " must be a constant");
        const int64_t cnt = c->c.count();
        if (cnt != row && cnt != 1)
            return unsup(n, std::string(k == 0 ? "the scale " : "the bias ") + dims_str(c->c.dims) +
                                " must have 1 or " + std::to_string(row) + " values");
        for (int64_t j = 0; j < row; ++j) p[k][j] = static_cast<float>(c->c.at(cnt == 1 ? 0 : j));
    }
    const std::vector<int> lay =
        xv.hwc_flat ? layout(static_cast<size_t>(r)) : trailing_layout(xv, axis);
    auto xn = xv.hwc_flat ? plain(xv, n.name) : with_layout(xv, lay, n.name);
    if (!xn) return xn.status();
    const int si = add_const(n.name + "/scale", std::move(p[0])),
              bi = add_const(n.name + "/bias", std::move(p[1]));
    const float eps = n.f("epsilon", 1e-5f);
    auto id = add(n.name, OpType::kLayerNorm, LayerNormAttrs{static_cast<int>(r - axis), eps},
                  {*xn, si, bi});
    if (!id) return id.status();
    define_as(n, *id, xv.onnx, lay);
    if (!used(n, 1) && !used(n, 2)) return Status::ok();
    // Mean and InvStdDev (outputs 1 and 2, the normalized axes kept as 1s) from engine ops,
    // so that gradients flow through them too: 1 / sqrt(mean((x - mean)^2) + epsilon).
    ReduceAttrs over{{}, true};
    std::vector<int64_t> stat = xv.onnx;
    for (int64_t k = axis; k < r; ++k)
        over.axes.push_back(static_cast<int>(k)), stat[static_cast<size_t>(k)] = 1;
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
    auto shifted = add(n.name + "/var_eps", OpType::kAdd, NoAttrs{},
                       {*var, add_const(n.name + "/epsilon", Tensor(Shape{1}, eps))});
    if (!shifted) return shifted.status();
    auto inv = add(n.name + "/inv_std", OpType::kPow, PowAttrs{-0.5f}, {*shifted});
    if (!inv) return inv.status();
    define_as(n, *inv, stat, lay, 2);
    return Status::ok();
}

// One engine Slice of v along ONNX axes (starts/ends/steps per axis); the result keeps v's layout.
Status Importer::slice_of(const OnnxNode& n, const Value& v, std::vector<int64_t> axes,
                          const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                          std::vector<int64_t> steps, size_t output) {
    const int64_t r = static_cast<int64_t>(v.onnx.size());
    if (axes.empty())
        for (int64_t k = 0; k < static_cast<int64_t>(starts.size()); ++k) axes.push_back(k);
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (starts.size() != ends.size() || axes.size() != starts.size() ||
        steps.size() != starts.size())
        return fail(n, "starts, ends, axes and steps differ in length");
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
        if (a < 0)
            return fail(
                n, "axis " + std::to_string(axes[k]) + " is out of range for " + dims_str(v.onnx));
        const int64_t dim = v.onnx[static_cast<size_t>(a)], s = steps[k];
        if (s == 0) return fail(n, "step 0 on axis " + std::to_string(a));
        // Whole-axis slices (PyTorch's x[:, :, ...]) are left out; the batch axis may only be
        // kept whole, which its size (unknown until run time) says only for PyTorch's ':'.
        if (a == 0) {
            if (s == 1 && starts[k] == 0 && ends[k] >= std::numeric_limits<int32_t>::max())
                continue;
            return unsup(n, "slicing the batch axis is not supported (starts " +
                                std::to_string(starts[k]) + ", ends " + std::to_string(ends[k]) +
                                ")");
        }
        const int64_t b = starts[k] < -dim ? 0
                          : starts[k] < 0  ? starts[k] + dim
                                           : std::min(starts[k], dim);
        const int64_t e = ends[k] < -dim ? 0 : ends[k] < 0 ? ends[k] + dim : std::min(ends[k], dim);
        if (s == 1 && b == 0 && e == dim) continue;
        if (slice_range(dim, starts[k], ends[k], s).second == 0)
            return unsup(n, "axis " + std::to_string(a) + " of " + dims_str(v.onnx) +
                                " keeps no element (starts " + std::to_string(starts[k]) +
                                ", ends " + std::to_string(ends[k]) + ", steps " +
                                std::to_string(s) + "); the engine holds no empty tensors");
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
    auto id = add(output ? n.name + "/" + std::to_string(output) : n.name, OpType::kSlice, sa,
                  {src->node});
    if (!id) return id.status();
    const Shape es = shape_of(*id);
    const std::vector<int> lay = layout_of(*src);
    for (size_t i = 1; i < lay.size(); ++i)
        onnx[static_cast<size_t>(lay[i])] = es[static_cast<int>(i)];
    define_as(n, *id, onnx, lay, output);
    return Status::ok();
}

// Gather of a computed tensor at constant indices (x[:, 0], a transformer's class token):
// a Slice, then a Reshape that drops the axis for a scalar index. Indices must be evenly
// spaced (one strided Slice).
Status Importer::gather_op(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    auto idx = const_input(n, 1, "the indices");
    if (!idx) return idx.status();
    const Value xv = **x;
    const ConstValue& ic = **idx;
    const size_t r = xv.onnx.size();
    const int64_t given = n.i("axis", 0), a = axis_of(given, r);
    if (a < 0)
        return fail(n,
                    "axis " + std::to_string(given) + " is out of range for " + dims_str(xv.onnx));
    if (a == 0) return unsup(n, "gathering along the batch axis is not supported");
    if (ic.dims.size() > 1 || ic.count() < 1)
        return unsup(n, "indices " + dims_str(ic.dims) + " (a scalar or one axis of them)");
    const int64_t dim = xv.onnx[static_cast<size_t>(a)];
    std::vector<int64_t> at;
    for (int64_t k = 0; k < ic.count(); ++k) {
        int64_t i = ic.int_at(k);
        if (i < -dim || i >= dim)
            return fail(n, "index " + std::to_string(i) + " is out of range for axis " +
                               std::to_string(given) + " of " + dims_str(xv.onnx));
        at.push_back(i < 0 ? i + dim : i);
    }
    const int64_t step = at.size() > 1 ? at[1] - at[0] : 1;
    for (size_t k = 1; k < at.size(); ++k)
        if (at[k] - at[k - 1] != step || step == 0)
            return unsup(n, "indices that are not evenly spaced");
    const int64_t end = at.back() + (step > 0 ? 1 : -1);
    const int64_t raw_axis = a - lead_;
    CNNLENS_RETURN_IF_ERROR(slice_of(n, xv, {raw_axis}, {at[0]},
                                     {end < 0 ? std::numeric_limits<int64_t>::min() / 2 : end},
                                     {step}, 0));
    if (!ic.dims.empty()) return Status::ok();
    const Value sliced = values_.at(n.outputs[0]);
    std::vector<int64_t> target = sliced.onnx;
    target.erase(target.begin() + a);
    return reshape_to(n, sliced, target);
}

Status Importer::slice_op(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    std::vector<int64_t> v[4];
    if (m_.opset < 10) {
        v[0] = n.ints("starts");
        v[1] = n.ints("ends");
        v[2] = n.ints("axes");
    } else {
        for (size_t k = 0; k < 4; ++k) {
            const Value* c = in(n, k + 1);
            if (!c) continue;
            if (!c->is_const)
                return unsup(n, "input " + std::to_string(k + 1) + " ('" + n.inputs[k + 1] +
                                    "') must be a constant");
            if (has_batch(c->c))
                return unsup(n, "slice bounds that depend on the batch size are not supported");
            for (int64_t j = 0; j < c->c.count(); ++j) v[k].push_back(c->c.int_at(j));
        }
    }
    return slice_of(n, **x, v[2], v[0], v[1], v[3], 0);
}

// Split: one Slice per output (torch.chunk / split along an axis).
Status Importer::split(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    const int64_t r = static_cast<int64_t>((*x)->onnx.size());
    const int64_t axis = axis_of(n.i("axis", 0), static_cast<size_t>(r));
    if (axis < 0)
        return fail(n, "axis " + std::to_string(n.i("axis", 0)) + " is out of range for " +
                           dims_str((*x)->onnx));
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
    if (static_cast<int64_t>(sizes.size()) != parts)
        return fail(n, std::to_string(sizes.size()) + " split sizes for " + std::to_string(parts) +
                           " outputs");
    int64_t at = 0;
    for (size_t k = 0; k < sizes.size(); ++k) {
        if (sizes[k] < 1 || at + sizes[k] > dim)
            return fail(n, "split sizes " + dims_str(sizes) + " do not fit axis " +
                               std::to_string(axis) + " of " + dims_str((*x)->onnx));
        if (!n.outputs[k].empty() && consumers_[n.outputs[k]] > 0)
            CNNLENS_RETURN_IF_ERROR(
                slice_of(n, **x, {n.i("axis", 0)}, {at}, {at + sizes[k]}, {1}, k));
        at += sizes[k];
    }
    if (at != dim)
        return fail(n, "split sizes " + dims_str(sizes) + " sum to " + std::to_string(at) +
                           ", not " + std::to_string(dim));
    return Status::ok();
}

// Resize (opset 10+) and Upsample (opset 9): spatial axes of an NCHW tensor; scales or
// sizes must be constants.
Status Importer::resize(const OnnxNode& n) {
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    const std::vector<int64_t>& d = (*x)->onnx;
    if (d.size() != 4)
        return unsup(n, "only NCHW inputs are supported (input " + dims_str(d) + ")");
    const bool upsample = n.op == "Upsample";
    const std::string mode = n.s("mode", "nearest");
    ResizeAttrs ra;
    if (mode == "nearest")
        ra.mode = ResizeMode::kNearest;
    else if (mode == "linear" || mode == "bilinear")
        ra.mode = ResizeMode::kLinear;
    else if (mode == "cubic")
        ra.mode = ResizeMode::kCubic;
    else
        return unsup(n, "mode '" + mode + "' is not supported (nearest, linear, cubic)");
    ra.cubic_a = n.f("cubic_coeff_a", -0.75f);
    ra.exclude_outside = n.i("exclude_outside", 0) != 0;
    if (!std::isfinite(ra.cubic_a)) return fail(n, "cubic_coeff_a is not finite");
    if (n.i("antialias", 0)) return unsup(n, "antialias = 1 is not supported");
    const std::string coord = upsample || m_.opset < 11
                                  ? "asymmetric"
                                  : n.s("coordinate_transformation_mode", "half_pixel");
    if (coord == "half_pixel")
        ra.coord = ResizeCoord::kHalfPixel;
    else if (coord == "pytorch_half_pixel")
        ra.coord = ResizeCoord::kPytorchHalfPixel;
    else if (coord == "align_corners")
        ra.coord = ResizeCoord::kAlignCorners;
    else if (coord == "asymmetric")
        ra.coord = ResizeCoord::kAsymmetric;
    else if (coord == "tf_half_pixel_for_nn")
        ra.coord = ResizeCoord::kTfHalfPixelForNn;
    else if (coord == "tf_crop_and_resize")
        ra.coord = ResizeCoord::kTfCropAndResize;
    else
        return unsup(n, "coordinate_transformation_mode '" + coord + "' is not supported");
    if (ra.coord == ResizeCoord::kTfCropAndResize) {
        // roi (input 1): starts then ends of the box, per axis of the NCHW input, in units of
        // each axis's length; only the spatial axes may be cropped.
        const Value* roi = param(n, 1);
        if (!roi) return fail(n, "tf_crop_and_resize needs roi (input 1)");
        if (!roi->is_const) return unsup(n, "roi must be a constant");
        if (roi->c.count() != 8)
            return fail(n, "roi has " + std::to_string(roi->c.count()) + " values; " + dims_str(d) +
                               " needs 8 (starts, then ends)");
        std::vector<double> r;
        for (int64_t k = 0; k < 8; ++k) r.push_back(roi->c.at(k));
        for (double v : r)
            if (!std::isfinite(v) || std::abs(v) > 1e6)
                return fail(n, "roi value " + std::to_string(v) + " is out of range");
        if (r[0] != 0 || r[4] != 1 || r[1] != 0 || r[5] != 1)
            return unsup(n, "only the spatial axes may be cropped (roi of N and C must be 0..1)");
        ra.roi_h0 = static_cast<float>(r[2]);
        ra.roi_w0 = static_cast<float>(r[3]);
        ra.roi_h1 = static_cast<float>(r[6]);
        ra.roi_w1 = static_cast<float>(r[7]);
        ra.extrapolation = n.f("extrapolation_value", 0.f);
        if (!std::isfinite(ra.extrapolation)) return fail(n, "extrapolation_value is not finite");
    }
    const std::string nm =
        upsample || m_.opset < 11 ? "floor" : n.s("nearest_mode", "round_prefer_floor");
    if (nm == "round_prefer_floor")
        ra.nearest = NearestRound::kRoundPreferFloor;
    else if (nm == "round_prefer_ceil")
        ra.nearest = NearestRound::kRoundPreferCeil;
    else if (nm == "floor")
        ra.nearest = NearestRound::kFloor;
    else if (nm == "ceil")
        ra.nearest = NearestRound::kCeil;
    else
        return unsup(n, "nearest_mode '" + nm + "' is not supported");
    if (n.attr("axes")) return unsup(n, "the axes attribute is not supported");
    if (n.s("keep_aspect_ratio_policy", "stretch") != "stretch")
        return unsup(n, "keep_aspect_ratio_policy '" + n.s("keep_aspect_ratio_policy") +
                            "' is not supported");
    // Inputs: Upsample and opset 10 (x, scales); from opset 11 (x, roi, scales, sizes).
    const size_t scales_at = upsample || m_.opset < 11 ? 1 : 2;
    const Value* sc = in(n, scales_at);
    const Value* sz = scales_at == 2 ? in(n, 3) : nullptr;
    std::vector<float> scales;
    if (sc && sc->is_const && sc->c.count() > 0) {
        for (int64_t k = 0; k < sc->c.count(); ++k)
            scales.push_back(static_cast<float>(sc->c.at(k)));
    } else if (sc && !sc->is_const) {
        return unsup(n, "scales must be a constant");
    }
    if (upsample &&
        m_.opset < 9) {  // Upsample-7's scales, Upsample-1's height_scale and width_scale
        if (const Attr* a = n.attr("scales"))
            scales = a->floats;
        else
            scales = {1.f, 1.f, n.f("height_scale", 1.f), n.f("width_scale", 1.f)};
    }
    int64_t oh, ow;
    if (!scales.empty()) {
        if (scales.size() != 4)
            return fail(
                n, "scales has " + std::to_string(scales.size()) + " values for " + dims_str(d));
        if (scales[0] != 1.f || scales[1] != 1.f)
            return unsup(n, "only the spatial axes may be resized (scales " +
                                std::to_string(scales[0]) + ", " + std::to_string(scales[1]) + ")");
        if (!(scales[2] > 0.f && scales[3] > 0.f && scales[2] < 4096.f && scales[3] < 4096.f))
            return fail(n, "scales must be positive");
        // The resized length of a cropped axis is that of its box (ONNX: floor(in * (end -
        // start) * scale)); roi is 0..1 otherwise.
        oh = static_cast<int64_t>(
            std::floor(d[2] * static_cast<double>(ra.roi_h1 - ra.roi_h0) * scales[2]));
        ow = static_cast<int64_t>(
            std::floor(d[3] * static_cast<double>(ra.roi_w1 - ra.roi_w0) * scales[3]));
        ra.scale_h = scales[2];
        ra.scale_w = scales[3];
    } else if (sz) {
        // sizes[0] may be the batch size (PyTorch reads it with Shape); only H and W may change.
        if (!sz->is_const) return unsup(n, "sizes must be a constant");
        if (sz->c.count() != 4)
            return fail(
                n, "sizes has " + std::to_string(sz->c.count()) + " values for " + dims_str(d));
        if (sz->c.int_at(1) != d[1] || (sz->c.int_at(0) != kBatch && sz->c.int_at(0) != 1))
            return unsup(n, "only the spatial axes may be resized (sizes " +
                                dims_str(sz->c.is_int ? sz->c.i : std::vector<int64_t>{}) + ")");
        oh = sz->c.int_at(2);
        ow = sz->c.int_at(3);
    } else {
        return fail(n, "has neither scales nor sizes");
    }
    if (oh < 1 || ow < 1 || oh > (1 << 15) || ow > (1 << 15))
        return fail(
            n, "output size " + std::to_string(oh) + "x" + std::to_string(ow) + " is out of range");
    ra.out_h = static_cast<int>(oh);
    ra.out_w = static_cast<int>(ow);
    auto xn = plain(**x, n.name);
    if (!xn) return xn.status();
    auto id = add(n.name, OpType::kResize, ra, {*xn});
    if (!id) return id.status();
    return define(n, *id);
}

// Dropout is the identity at inference only (opset 12 takes the mode as input 2). A ratio of 0
// keeps every element in either mode (torchvision's Swin calls dropout in training mode with
// p = 0).
Status Importer::identity(const OnnxNode& n) {
    const Value* mode = n.op == "Dropout" ? in(n, 2) : nullptr;
    const Value* ratio = n.op == "Dropout" ? param(n, 1) : nullptr;
    const bool keeps_all = ratio && ratio->is_const && ratio->c.count() == 1 && ratio->c.at(0) == 0;
    if (mode && !keeps_all && (!mode->is_const || mode->c.count() != 1 || mode->c.at(0) != 0))
        return unsup(
            n, "training_mode = 1 (or computed) is not supported (export the model in eval mode)");
    auto x = runtime_input(n, 0);
    if (!x) return x.status();
    values_[n.outputs[0]] = **x;
    return Status::ok();
}

// MatMul of two computed tensors (attention), of rows of a higher-rank tensor by a constant, or
// a plain [N,K] x [K,M] as Gemm.
Status Importer::matmul(const OnnxNode& n) {
    if (needs_batch_matmul(n)) return batch_matmul(n);
    if (in(n, 0) && in(n, 0)->onnx.size() > 2) return matmul_rows(n);
    return gemm(n);
}

// --- The op table ---------------------------------------------------------------------------

std::span<const OnnxOp> Importer::ops() {
    using F = OnnxOp::Flags;
    constexpr unsigned kImage = F::kBatchFirst | F::kOneD;
    static const OnnxOp table[] = {
        // Run on computed tensors.
        {"Conv", [](Importer& im, const OnnxNode& n) { return im.conv(n); }, kImage},
        {"ConvTranspose", [](Importer& im, const OnnxNode& n) { return im.conv_transpose(n); },
         kImage},
        {"MaxPool", [](Importer& im, const OnnxNode& n) { return im.pool(n); }, kImage,
         "the indices are an int64 tensor, and the engine holds float32 tensors only"},
        {"AveragePool", [](Importer& im, const OnnxNode& n) { return im.pool(n); }, kImage},
        {"GlobalAveragePool", [](Importer& im, const OnnxNode& n) { return im.global_pool(n); },
         F::kBatchFirst},
        {"GlobalMaxPool", [](Importer& im, const OnnxNode& n) { return im.global_pool(n); },
         F::kBatchFirst},
        {"BatchNormalization", [](Importer& im, const OnnxNode& n) { return im.batch_norm(n); },
         F::kBatchFirst,
         "the running statistics are updated in training mode only, whose batch statistics reduce "
         "over the batch axis"},
        {"Resize", [](Importer& im, const OnnxNode& n) { return im.resize(n); }, F::kBatchFirst},
        {"Upsample", [](Importer& im, const OnnxNode& n) { return im.resize(n); }, F::kBatchFirst},
        {"Gemm", [](Importer& im, const OnnxNode& n) { return im.gemm(n); }},
        {"MatMul", [](Importer& im, const OnnxNode& n) { return im.matmul(n); }},
        {"Add", [](Importer& im, const OnnxNode& n) { return im.binary(n); }},
        {"Sub", [](Importer& im, const OnnxNode& n) { return im.binary(n); }},
        {"Mul", [](Importer& im, const OnnxNode& n) { return im.binary(n); }},
        {"Div", [](Importer& im, const OnnxNode& n) { return im.binary(n); }},
        {"Pow", [](Importer& im, const OnnxNode& n) { return im.pow(n); }},
        {"Relu",
         [](Importer& im, const OnnxNode& n) { return im.unary(n, OpType::kRelu, NoAttrs{}); }},
        {"LeakyRelu",
         [](Importer& im, const OnnxNode& n) {
             return im.unary(n, OpType::kLeakyRelu, LeakyReluAttrs{n.f("alpha", 0.01f)});
         }},
        {"Elu",
         [](Importer& im, const OnnxNode& n) {
             return im.unary(n, OpType::kElu, EluAttrs{n.f("alpha", 1.f)});
         }},
        {"Selu",
         [](Importer& im, const OnnxNode& n) {
             const SeluAttrs def = im.m_.opset < 6 ? SeluAttrs{1.6732f, 1.0507f}
                                                   : SeluAttrs{};  // Selu-1's rounded defaults
             return im.unary(n, OpType::kSelu,
                             SeluAttrs{n.f("alpha", def.alpha), n.f("gamma", def.gamma)});
         }},
        {"Sigmoid",
         [](Importer& im, const OnnxNode& n) { return im.unary(n, OpType::kSigmoid, NoAttrs{}); }},
        {"Tanh",
         [](Importer& im, const OnnxNode& n) { return im.unary(n, OpType::kTanh, NoAttrs{}); }},
        {"HardSigmoid",
         [](Importer& im, const OnnxNode& n) {
             return im.unary(n, OpType::kHardSigmoid,
                             HardSigmoidAttrs{n.f("alpha", 0.2f), n.f("beta", 0.5f)});
         }},
        {"HardSwish",
         [](Importer& im, const OnnxNode& n) {
             return im.unary(n, OpType::kHardSwish, HardSigmoidAttrs{1.f / 6.f, 0.5f});
         }},
        {"Erf",
         [](Importer& im, const OnnxNode& n) { return im.unary(n, OpType::kErf, NoAttrs{}); }},
        {"Sqrt",
         [](Importer& im, const OnnxNode& n) { return im.unary(n, OpType::kSqrt, NoAttrs{}); }},
        {"Exp",
         [](Importer& im, const OnnxNode& n) { return im.unary(n, OpType::kExp, NoAttrs{}); }},
        {"Log",
         [](Importer& im, const OnnxNode& n) { return im.unary(n, OpType::kLog, NoAttrs{}); }},
        {"Neg",
         [](Importer& im, const OnnxNode& n) { return im.unary(n, OpType::kNeg, NoAttrs{}); }},
        {"Clip", [](Importer& im, const OnnxNode& n) { return im.clip(n); }},
        {"PRelu", [](Importer& im, const OnnxNode& n) { return im.prelu(n); }},
        {"Softmax", [](Importer& im, const OnnxNode& n) { return im.softmax(n); }},
        {"LogSoftmax", [](Importer& im, const OnnxNode& n) { return im.softmax(n); }},
        {"ReduceMean", [](Importer& im, const OnnxNode& n) { return im.reduce_mean(n); }},
        {"LayerNormalization", [](Importer& im, const OnnxNode& n) { return im.layer_norm(n); },
         F::kOutputs},
        {"Flatten", [](Importer& im, const OnnxNode& n) { return im.flatten(n); }},
        {"Reshape", [](Importer& im, const OnnxNode& n) { return im.reshape_like(n); }},
        {"Squeeze", [](Importer& im, const OnnxNode& n) { return im.reshape_like(n); }},
        {"Unsqueeze", [](Importer& im, const OnnxNode& n) { return im.reshape_like(n); }},
        {"Transpose", [](Importer& im, const OnnxNode& n) { return im.transpose_op(n); }},
        {"Concat", [](Importer& im, const OnnxNode& n) { return im.concat(n); }},
        {"Pad", [](Importer& im, const OnnxNode& n) { return im.pad(n); }},
        {"Slice", [](Importer& im, const OnnxNode& n) { return im.slice_op(n); }},
        {"Gather", [](Importer& im, const OnnxNode& n) { return im.gather_op(n); }},
        {"Split", [](Importer& im, const OnnxNode& n) { return im.split(n); }, F::kOutputs},
        {"Identity", [](Importer& im, const OnnxNode& n) { return im.identity(n); }},
        {"Dropout", [](Importer& im, const OnnxNode& n) { return im.identity(n); }, F::kNone,
         "the mask is a bool tensor, and the engine holds float32 tensors only"},
        // Read at import whatever their inputs.
        {"Constant", [](Importer& im, const OnnxNode& n) { return im.constant(n); }},
        {"Shape", [](Importer& im, const OnnxNode& n) { return im.shape(n); }, F::kNeverFolded},
        // Evaluated at import; their inputs must be constants (shape arithmetic, masks).
        {"Cast", nullptr},
        {"ConstantOfShape", nullptr},
        {"Equal", nullptr},
        {"Less", nullptr},
        {"Greater", nullptr},
        {"LessOrEqual", nullptr},
        {"GreaterOrEqual", nullptr},
        {"Mod", nullptr},
        {"And", nullptr},
        {"Or", nullptr},
        {"Not", nullptr},
        {"Where", nullptr},
        {"Max", nullptr},
        {"Min", nullptr},
        {"Abs", nullptr},
        {"Floor", nullptr},
        {"Ceil", nullptr},
        {"Expand", nullptr},
        {"Range", nullptr},
        {"ScatterND", nullptr},
        {"Reciprocal", nullptr},
        {"Sign", nullptr},
    };
    return table;
}

const OnnxOp* Importer::find_op(std::string_view name) {
    for (const OnnxOp& op : ops())
        if (op.name == name) return &op;
    return nullptr;
}

}  // namespace cnnlens::onnx_import
