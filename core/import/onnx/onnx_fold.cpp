// Constant folding: ONNX nodes whose inputs are all constants (PyTorch's shape arithmetic,
// masks, index tensors) are evaluated at import in ONNX layout, in float64 or int64, up to
// kFoldLimit elements.
#include <algorithm>
#include <cmath>

#include "core/import/onnx/onnx_importer.h"

namespace cnnlens::onnx_import {

std::vector<int64_t> strides_of(const std::vector<int64_t>& d) {
    std::vector<int64_t> s(d.size(), 1);
    for (int k = static_cast<int>(d.size()) - 2; k >= 0; --k)
        s[static_cast<size_t>(k)] = s[static_cast<size_t>(k) + 1] * d[static_cast<size_t>(k) + 1];
    return s;
}

// Calls f(index vector) for every element in row-major order.
void for_each_index(const std::vector<int64_t>& dims,
                    const std::function<void(const std::vector<int64_t>&)>& f) {
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
    if (v.is_int)
        v.i.resize(static_cast<size_t>(v.count()));
    else
        v.f.resize(static_cast<size_t>(v.count()));
    return v;
}

void copy_elem(ConstValue& dst, int64_t di, const ConstValue& src, int64_t si) {
    if (dst.is_int)
        dst.i[static_cast<size_t>(di)] = src.i[static_cast<size_t>(si)];
    else
        dst.f[static_cast<size_t>(di)] = src.f[static_cast<size_t>(si)];
}

// ONNX Slice of one axis of dim > 0 elements: the first index taken and the count (negative
// starts and ends count from the end, then clamp). A step longer than the axis takes at most one
// element either way; clamping it keeps the arithmetic in range for any int64 (fuzzer
// regression).
std::pair<int64_t, int64_t> slice_range(int64_t dim, int64_t start, int64_t end, int64_t step) {
    const int64_t s = std::clamp<int64_t>(step, -dim, dim);
    auto clampi = [&](int64_t v, int64_t lo, int64_t hi) {
        if (v < 0) v += dim;
        return std::clamp(v, lo, hi);
    };
    int64_t b, e;
    if (s > 0) {
        b = clampi(start, 0, dim);
        e = clampi(end, 0, dim);
    } else {
        b = clampi(start, 0, dim - 1);
        e = end < -dim ? -1 : clampi(end, -1, dim - 1);
    }
    return {b, s > 0 ? std::max<int64_t>(0, (e - b + s - 1) / s)
                     : std::max<int64_t>(0, (b - e - s - 1) / -s)};
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
        for (size_t d = 0; d < dims.size(); ++d)
            if (cd[d] != 1) src += idx[d] * cs[d];
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

Status Importer::constant(const OnnxNode& n) {
    Value v;
    v.is_const = true;
    if (const Attr* a = n.attr("value"); a && a->has_t)
        v.c = a->t;
    else if (const Attr* a = n.attr("value_float")) {
        v.c.f = {a->f};
    } else if (const Attr* a = n.attr("value_floats")) {
        v.c.f = a->floats;
        v.c.dims = {static_cast<int64_t>(a->floats.size())};
    } else if (const Attr* a = n.attr("value_int")) {
        v.c.is_int = true;
        v.c.i = {a->i};
    } else if (const Attr* a = n.attr("value_ints")) {
        v.c.is_int = true;
        v.c.i = a->ints;
        v.c.dims = {static_cast<int64_t>(a->ints.size())};
    } else
        return unsup(n, "only value, value_float(s) and value_int(s) constants are supported");
    values_[n.outputs[0]] = std::move(v);
    return Status::ok();
}

Status Importer::shape(const OnnxNode& n) {
    const Value* x = in(n, 0);
    if (!x) return fail(n, "input 0 is missing");
    ConstValue c;
    c.is_int = true;
    c.i = x->is_const ? x->c.dims : x->onnx;
    if (!x->is_const && lead_)
        c.i.erase(c.i.begin());
    else if (!x->is_const && !c.i.empty())
        c.i[0] = kBatch;
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

// Cast's `to`: a DataType value, or before opset 6 its name ("FLOAT").
int64_t Importer::cast_target(const OnnxNode& n) {
    const Attr* a = n.attr("to");
    if (!a || a->s.empty()) return a ? a->i : int64_t{kFloat};
    return a->s == "FLOAT" || a->s == "DOUBLE" || a->s == "FLOAT16" ? kFloat : kInt64;
}

// Evaluates a node whose inputs are all constants.
Status Importer::fold(const OnnxNode& n) {
    const std::string& op = n.op;
    const ConstValue& x = in(n, 0)->c;
    ConstValue out;
    if (op == "Identity" || op == "Dropout") {
        out = x;
    } else if (op == "Cast") {
        const int64_t to = cast_target(n);
        out.dims = x.dims;
        out.is_int = to != kFloat && to != kDouble && to != kFloat16;
        if (out.is_int && has_batch(x))
            out.i = x.i;
        else if (out.is_int)
            for (int64_t k = 0; k < x.count(); ++k) out.i.push_back(x.int_at(k));
        else if (has_batch(x))
            return unsup(n, "casts the batch size to a float");
        else
            for (int64_t k = 0; k < x.count(); ++k) out.f.push_back(static_cast<float>(x.at(k)));
    } else if (op == "Gather") {
        const ConstValue& idx = in(n, 1)->c;
        const int64_t r = static_cast<int64_t>(x.dims.size());
        int64_t axis = n.i("axis", 0);
        if (axis < 0) axis += r;
        if (axis < 0 || axis >= r)
            return fail(n, "axis " + std::to_string(n.i("axis", 0)) + " is out of range for " +
                               dims_str(x.dims));
        std::vector<int64_t> od(x.dims.begin(), x.dims.begin() + axis);
        od.insert(od.end(), idx.dims.begin(), idx.dims.end());
        od.insert(od.end(), x.dims.begin() + axis + 1, x.dims.end());
        if (static_cast<double>(product(x.dims)) /
                std::max<int64_t>(1, x.dims[static_cast<size_t>(axis)]) *
                static_cast<double>(idx.count()) >
            kFoldLimit)
            return out_of_range(file_ + ": " + n.label() +
                                ": the result is too large to evaluate at import");
        out = like(x, od);
        const int64_t outer = product(x.dims, 0, static_cast<size_t>(axis)),
                      inner = product(x.dims, static_cast<size_t>(axis) + 1),
                      dim = x.dims[static_cast<size_t>(axis)];
        int64_t k = 0;
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t j = 0; j < idx.count(); ++j) {
                int64_t s = idx.int_at(j);
                if (s < 0) s += dim;
                if (s < 0 || s >= dim)
                    return fail(n, "index " + std::to_string(idx.int_at(j)) +
                                       " is out of range for " + dims_str(x.dims));
                for (int64_t i = 0; i < inner; ++i)
                    copy_elem(out, k++, x, (o * dim + s) * inner + i);
            }
    } else if (op == "Unsqueeze" || op == "Squeeze" || op == "Reshape" || op == "Flatten") {
        auto d = reshaped_dims(n, x.dims, false);
        if (!d) return d.status();
        out = x;
        out.dims = *d;
    } else if (op == "Concat") {
        const int64_t r = static_cast<int64_t>(x.dims.size());
        const int64_t given =
            n.i("axis", m_.opset < 4 ? 1 : 0);  // required from opset 4; Concat-1's default is 1
        int64_t axis = given;
        if (axis < 0) axis += r;
        if (axis < 0 || axis >= r)
            return fail(
                n, "axis " + std::to_string(given) + " is out of range for " + dims_str(x.dims));
        std::vector<const ConstValue*> parts;
        std::vector<int64_t> od = x.dims;
        od[static_cast<size_t>(axis)] = 0;
        bool any_int = false;
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            const Value* v = in(n, k);
            if (!v) continue;
            if (v->c.dims.size() != x.dims.size())
                return fail(n, "inputs " + dims_str(x.dims) + " and " + dims_str(v->c.dims) +
                                   " differ in rank");
            for (size_t d = 0; d < od.size(); ++d)
                if (static_cast<int64_t>(d) != axis && v->c.dims[d] != x.dims[d])
                    return fail(n, "inputs " + dims_str(x.dims) + " and " + dims_str(v->c.dims) +
                                       " do not fit");
            od[static_cast<size_t>(axis)] += v->c.dims[static_cast<size_t>(axis)];
            any_int |= v->c.is_int;
            parts.push_back(&v->c);
        }
        out.dims = od;
        out.is_int = any_int;
        const int64_t outer = product(od, 0, static_cast<size_t>(axis)),
                      inner = product(od, static_cast<size_t>(axis) + 1);
        for (int64_t o = 0; o < outer; ++o)
            for (const ConstValue* p : parts) {
                const int64_t row = p->dims[static_cast<size_t>(axis)] * inner;
                for (int64_t j = 0; j < row; ++j) {
                    const int64_t s = o * row + j;
                    if (any_int)
                        out.i.push_back(p->is_int
                                            ? p->i[static_cast<size_t>(s)]
                                            : static_cast<int64_t>(p->f[static_cast<size_t>(s)]));
                    else
                        out.f.push_back(p->f[static_cast<size_t>(s)]);
                }
            }
    } else if (op == "Transpose") {
        std::vector<int> perm;
        for (int64_t p : n.ints("perm")) perm.push_back(static_cast<int>(p));
        if (perm.empty())
            for (int k = static_cast<int>(x.dims.size()) - 1; k >= 0; --k) perm.push_back(k);
        if (perm.size() != x.dims.size())
            return fail(
                n, "perm has " + std::to_string(perm.size()) + " axes for " + dims_str(x.dims));
        std::vector<bool> seen(perm.size(), false);
        for (int p : perm) {
            if (p < 0 || p >= static_cast<int>(perm.size()) || seen[static_cast<size_t>(p)])
                return fail(n, "perm is not a permutation");
            seen[static_cast<size_t>(p)] = true;
        }
        out = permute(x, perm);
    } else if (op == "Slice") {
        CNNLENS_RETURN_IF_ERROR(slice(n, x, out));
    } else if (op == "ConstantOfShape") {
        if (has_batch(x)) return unsup(n, "the shape depends on the batch size");
        for (int64_t k = 0; k < x.count(); ++k) {
            const int64_t d = x.int_at(k);
            if (d < 0 || d > (1 << 24))
                return fail(n, "dimension " + std::to_string(d) + " is out of range");
            out.dims.push_back(d);
        }
        double total = 1;
        for (int64_t d : out.dims) total *= static_cast<double>(d);
        if (total > kFoldLimit || out.dims.size() > 16)
            return out_of_range(file_ + ": " + n.label() + ": " + dims_str(out.dims) +
                                " is too large to evaluate at import");
        ConstValue fill;
        fill.f = {0.f};
        if (const Attr* a = n.attr("value"); a && a->has_t && a->t.count() == 1) fill = a->t;
        out.is_int = fill.is_int;
        if (out.is_int)
            out.i.assign(static_cast<size_t>(out.count()), fill.i[0]);
        else
            out.f.assign(static_cast<size_t>(out.count()), fill.f[0]);
    } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
        CNNLENS_RETURN_IF_ERROR(fold_binary(n, x, in(n, 1)->c, out));
    } else if (op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" ||
               op == "GreaterOrEqual" || op == "Mod" || op == "And" || op == "Or" ||
               op == "Where" || op == "Max" || op == "Min" || op == "Pow") {
        CNNLENS_RETURN_IF_ERROR(fold_elementwise(n, out));
    } else if (op == "Not" || op == "Abs" || op == "Floor" || op == "Ceil" || op == "Neg" ||
               op == "Sqrt" || op == "Exp" || op == "Log" || op == "Sigmoid" || op == "Relu" ||
               op == "Tanh" || op == "Reciprocal" || op == "Sign" || op == "Erf") {
        if (has_batch(x)) return unsup(n, "arithmetic on the batch size is not supported");
        out = like(x, x.dims);
        for (int64_t k = 0; k < x.count(); ++k) {
            const double v = x.at(k);
            const double r = op == "Not"          ? double(v == 0)
                             : op == "Abs"        ? std::fabs(v)
                             : op == "Floor"      ? std::floor(v)
                             : op == "Ceil"       ? std::ceil(v)
                             : op == "Neg"        ? -v
                             : op == "Sqrt"       ? std::sqrt(v)
                             : op == "Exp"        ? std::exp(v)
                             : op == "Log"        ? std::log(v)
                             : op == "Sigmoid"    ? 1 / (1 + std::exp(-v))
                             : op == "Relu"       ? std::max(v, 0.0)
                             : op == "Tanh"       ? std::tanh(v)
                             : op == "Reciprocal" ? 1 / v
                             : op == "Sign"       ? double((v > 0) - (v < 0))
                                                  : std::erf(v);
            if (out.is_int)
                out.i[static_cast<size_t>(k)] = static_cast<int64_t>(r);
            else
                out.f[static_cast<size_t>(k)] = static_cast<float>(r);
        }
    } else if (op == "Expand") {
        const ConstValue& shape = in(n, 1)->c;
        if (has_batch(shape) || has_batch(x))
            return unsup(n, "the shape depends on the batch size");
        std::vector<int64_t> want;
        for (int64_t k = 0; k < shape.count(); ++k) want.push_back(shape.int_at(k));
        auto od = broadcast_dims(n, x.dims, want);
        if (!od) return od.status();
        if (static_cast<double>(product(*od)) > kFoldLimit)
            return out_of_range(file_ + ": " + n.label() + ": " + dims_str(*od) +
                                " is too large to evaluate at import");
        out = expand(x, *od);
    } else if (op == "Range") {
        const ConstValue& lim = in(n, 1)->c;
        const ConstValue& step = in(n, 2)->c;
        if (x.count() != 1 || lim.count() != 1 || step.count() != 1)
            return fail(n, "start, limit and delta must be scalars");
        const double a = x.at(0), b = lim.at(0), d = step.at(0);
        if (d == 0 || d != d) return fail(n, "delta is " + std::to_string(d));
        const double cnt = std::max(0.0, std::ceil((b - a) / d));
        if (cnt > kFoldLimit)
            return out_of_range(file_ + ": " + n.label() + ": " + std::to_string(cnt) +
                                " values are too many to evaluate at import");
        out.dims = {static_cast<int64_t>(cnt)};
        out.is_int = x.is_int && lim.is_int && step.is_int;
        for (int64_t k = 0; k < out.dims[0]; ++k) {
            if (out.is_int)
                out.i.push_back(x.i[0] + k * step.i[0]);
            else
                out.f.push_back(static_cast<float>(a + static_cast<double>(k) * d));
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
Expected<std::vector<int64_t>> Importer::broadcast_dims(const OnnxNode& n,
                                                        const std::vector<int64_t>& a,
                                                        const std::vector<int64_t>& b) {
    const size_t r = std::max(a.size(), b.size());
    std::vector<int64_t> out(r);
    for (size_t d = 0; d < r; ++d) {
        const int64_t x = d + a.size() >= r ? a[d + a.size() - r] : 1,
                      y = d + b.size() >= r ? b[d + b.size() - r] : 1;
        if (x != y && x != 1 && y != 1)
            return fail(n, "shapes " + dims_str(a) + " and " + dims_str(b) + " do not broadcast");
        if (x < 0 || y < 0)
            return fail(n, "shape " + dims_str(x < 0 ? a : b) + " has a negative dimension");
        out[d] = x == 1 ? y : x;
    }
    return out;
}

// Comparisons, Mod, logic, Max/Min and Where on constants (shape and mask arithmetic), with
// NumPy broadcasting. The batch size (unknown at import) may be compared and selected, as
// exporters do to resolve -1 in an Expand's shape, but never computed with.
Status Importer::fold_elementwise(const OnnxNode& n, ConstValue& out) {
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
        if (!selects && has_batch(*c))
            return unsup(n, "arithmetic on the batch size is not supported");
    std::vector<int64_t> dims = v[0]->dims;
    for (size_t k = 1; k < arity; ++k) {
        auto d = broadcast_dims(n, dims, v[k]->dims);
        if (!d) return d.status();
        dims = *d;
    }
    if (static_cast<double>(product(dims)) > kFoldLimit)
        return out_of_range(file_ + ": " + n.label() + ": the result " + dims_str(dims) +
                            " is too large to evaluate at import");
    std::vector<ConstValue> e;
    for (const ConstValue* c : v) e.push_back(expand(*c, dims));
    const bool compare = op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" ||
                         op == "GreaterOrEqual" || op == "And" || op == "Or";
    out.dims = dims;
    const ConstValue &a = e[arity == 3 ? 1 : 0], &b = e[arity == 3 ? 2 : 1];
    out.is_int = compare || (a.is_int && b.is_int);
    const int64_t count = product(dims);
    for (int64_t k = 0; k < count; ++k) {
        if (op == "Where") {
            const bool pick = e[0].at(k) != 0;
            const ConstValue& src = pick ? a : b;
            if (out.is_int)
                out.i.push_back(src.int_at(k));
            else
                out.f.push_back(static_cast<float>(src.at(k)));
            continue;
        }
        if (op == "Equal" && a.is_int &&
            b.is_int) {  // exact, and the batch sentinel equals only itself
            out.i.push_back(a.i[static_cast<size_t>(k)] == b.i[static_cast<size_t>(k)]);
            continue;
        }
        const double x = a.at(k), y = b.at(k);
        double r = 0;
        if (op == "Equal")
            r = x == y;
        else if (op == "Less")
            r = x < y;
        else if (op == "Greater")
            r = x > y;
        else if (op == "LessOrEqual")
            r = x <= y;
        else if (op == "GreaterOrEqual")
            r = x >= y;
        else if (op == "And")
            r = x != 0 && y != 0;
        else if (op == "Or")
            r = x != 0 || y != 0;
        else if (op == "Max")
            r = std::max(x, y);
        else if (op == "Min")
            r = std::min(x, y);
        else if (op == "Pow")
            r = std::pow(x, y);
        else if (op == "Mod") {
            if (out.is_int) {
                const int64_t p = a.i[static_cast<size_t>(k)], q = b.i[static_cast<size_t>(k)];
                if (q == 0) return fail(n, "division by zero");
                int64_t m = p % q;
                if (!n.i("fmod", 0) && m != 0 && ((m < 0) != (q < 0)))
                    m += q;  // the divisor's sign, as Python's %
                out.i.push_back(m);
                continue;
            }
            r = n.i("fmod", 0) ? std::fmod(x, y) : x - std::floor(x / y) * y;
        }
        if (out.is_int)
            out.i.push_back(static_cast<int64_t>(r));
        else
            out.f.push_back(static_cast<float>(r));
    }
    return Status::ok();
}

// ScatterND (reduction none) on constants: data with the slices that indices name replaced
// by updates.
Status Importer::fold_scatter_nd(const OnnxNode& n, const ConstValue& data, ConstValue& out) {
    if (n.s("reduction", "none") != "none")
        return unsup(n, "reduction '" + n.s("reduction", "none") + "'");
    const Value* iv = in(n, 1);
    const Value* uv = in(n, 2);
    if (!iv || !uv) return fail(n, "indices or updates are missing");
    const ConstValue &idx = iv->c, &upd = uv->c;
    if (has_batch(data) || has_batch(idx) || has_batch(upd))
        return unsup(n, "the batch size is scattered");
    if (idx.dims.empty()) return fail(n, "indices are a scalar");
    const int64_t k = idx.dims.back();
    if (k < 1 || k > static_cast<int64_t>(data.dims.size()))
        return fail(n, "index depth " + std::to_string(k) + " for data " + dims_str(data.dims));
    const int64_t slice = product(data.dims, static_cast<size_t>(k)), slices = idx.count() / k;
    if (upd.count() != slices * slice)
        return fail(n, "updates " + dims_str(upd.dims) + " do not fit indices " +
                           dims_str(idx.dims) + " into " + dims_str(data.dims));
    out = data;
    const auto st = strides_of(data.dims);
    for (int64_t s = 0; s < slices; ++s) {
        int64_t base = 0;
        for (int64_t d = 0; d < k; ++d) {
            int64_t p = idx.int_at(s * k + d);
            const int64_t dim = data.dims[static_cast<size_t>(d)];
            if (p < 0) p += dim;
            if (p < 0 || p >= dim)
                return fail(n, "index " + std::to_string(idx.int_at(s * k + d)) +
                                   " is out of range for " + dims_str(data.dims));
            base += p * st[static_cast<size_t>(d)];
        }
        for (int64_t j = 0; j < slice; ++j) {
            if (out.is_int)
                out.i[static_cast<size_t>(base + j)] = upd.int_at(s * slice + j);
            else
                out.f[static_cast<size_t>(base + j)] = static_cast<float>(upd.at(s * slice + j));
        }
    }
    return Status::ok();
}

Status Importer::fold_binary(const OnnxNode& n, const ConstValue& a, const ConstValue& b,
                             ConstValue& out) {
    if (has_batch(a) || has_batch(b))
        return unsup(n, "arithmetic on the batch size is not supported");
    const size_t r = std::max(a.dims.size(), b.dims.size());
    std::vector<int64_t> ad(r - a.dims.size(), 1), bd(r - b.dims.size(), 1);
    ad.insert(ad.end(), a.dims.begin(), a.dims.end());
    bd.insert(bd.end(), b.dims.begin(), b.dims.end());
    auto od = broadcast_dims(n, a.dims, b.dims);
    if (!od) return od.status();
    out.dims = *od;
    double total = 1;
    for (int64_t d : out.dims) total *= static_cast<double>(d);
    if (total > kFoldLimit)
        return out_of_range(file_ + ": " + n.label() + ": the result " + dims_str(out.dims) +
                            " is too large to evaluate at import");
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
            out.i.push_back(n.op == "Add"   ? x + y
                            : n.op == "Sub" ? x - y
                            : n.op == "Mul" ? x * y
                                            : (y ? x / y : 0));
        } else {
            const double x = a.at(ia), y = b.at(ib);
            out.f.push_back(static_cast<float>(n.op == "Add"   ? x + y
                                               : n.op == "Sub" ? x - y
                                               : n.op == "Mul" ? x * y
                                                               : x / y));
        }
    });
    return Status::ok();
}

Status Importer::slice(const OnnxNode& n, const ConstValue& x, ConstValue& out) {
    const int64_t r = static_cast<int64_t>(x.dims.size());
    std::vector<int64_t> starts, ends, axes, steps;
    auto ints_of = [&](size_t k, std::vector<int64_t>& v) -> Status {
        const Value* c = in(n, k);
        if (!c) return Status::ok();
        for (int64_t j = 0; j < c->c.count(); ++j) v.push_back(c->c.int_at(j));
        return Status::ok();
    };
    if (m_.opset < 10) {
        starts = n.ints("starts");
        ends = n.ints("ends");
        axes = n.ints("axes");
    } else {
        CNNLENS_RETURN_IF_ERROR(ints_of(1, starts));
        CNNLENS_RETURN_IF_ERROR(ints_of(2, ends));
        CNNLENS_RETURN_IF_ERROR(ints_of(3, axes));
        CNNLENS_RETURN_IF_ERROR(ints_of(4, steps));
    }
    if (axes.empty())
        for (int64_t k = 0; k < static_cast<int64_t>(starts.size()); ++k) axes.push_back(k);
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (starts.size() != ends.size() || axes.size() != starts.size() ||
        steps.size() != starts.size())
        return fail(n, "starts, ends, axes and steps differ in length");
    std::vector<int64_t> begin(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1),
        od = x.dims;
    for (size_t k = 0; k < axes.size(); ++k) {
        int64_t a = axes[k];
        if (a < 0) a += r;
        if (a < 0 || a >= r)
            return fail(
                n, "axis " + std::to_string(axes[k]) + " is out of range for " + dims_str(x.dims));
        const int64_t dim = x.dims[static_cast<size_t>(a)];
        if (steps[k] == 0) return fail(n, "step 0");
        if (dim == 0) {
            od[static_cast<size_t>(a)] = 0;
            continue;
        }
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

}  // namespace cnnlens::onnx_import
