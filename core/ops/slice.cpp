// Slice: a strided window of a tensor (ONNX Slice; Split is a Slice per output). Forward
// gathers, the VJP scatters the gradient into zeros through the same index map.
#include <algorithm>
#include <array>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

struct Window {
    std::array<int64_t, kMaxRank> begin{}, step{}, len{};
};

// ONNX's clamping rules per axis; false (with `why`) when the attributes do not fit `in`.
bool resolve(const SliceAttrs& a, const Shape& in, Window& w, std::string& why) {
    const int r = in.rank();
    for (int d = 0; d < r; ++d) {
        w.begin[d] = 0;
        w.step[d] = 1;
        w.len[d] = in[d];
    }
    if (a.starts.size() != a.axes.size() || a.ends.size() != a.axes.size() ||
        a.steps.size() != a.axes.size()) {
        why = "axes, starts, ends and steps differ in length";
        return false;
    }
    for (size_t k = 0; k < a.axes.size(); ++k) {
        const int ax = a.axes[k];
        if (ax < 1 || ax >= r) {
            why = "axis " + std::to_string(ax) +
                  " is out of range (the batch axis may not be sliced) for " + in.str();
            return false;
        }
        const int64_t dim = in[ax], s = a.steps[k];
        if (s == 0) {
            why = "step 0 on axis " + std::to_string(ax);
            return false;
        }
        auto norm = [&](int64_t v, int64_t lo, int64_t hi) {
            if (v < 0) v += dim;
            return std::clamp(v, lo, hi);
        };
        int64_t b, e, len;
        if (s > 0) {
            b = norm(a.starts[k], 0, dim);
            e = norm(a.ends[k], 0, dim);
            len = e > b ? (e - b + s - 1) / s : 0;
        } else {
            b = norm(a.starts[k], 0, dim - 1);
            e = a.ends[k] < -dim ? -1 : norm(a.ends[k], -1, dim - 1);
            len = b > e ? (b - e - s - 1) / -s : 0;
        }
        if (len < 1) {
            why = "axis " + std::to_string(ax) + " of " + in.str() + " selects no element";
            return false;
        }
        w.begin[ax] = b;
        w.step[ax] = s;
        w.len[ax] = len;
    }
    return true;
}

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const std::string who = "Slice node '" + std::string(node) + "'";
    if (in.size() != 1)
        return invalid_argument(who + ": expects 1 input, got " + std::to_string(in.size()));
    Window w;
    std::string why;
    if (!resolve(std::get<SliceAttrs>(attrs), in[0], w, why))
        return invalid_argument(who + ": " + why);
    out = in[0];
    for (int d = 1; d < in[0].rank(); ++d) out[d] = w.len[d];
    return Status::ok();
}

// Calls f(out_index, in_index) for every output element.
template <typename F>
void map_slice(const SliceAttrs& a, const Shape& in, const Shape& out, F&& f) {
    Window w;
    std::string why;
    resolve(a, in, w, why);
    const int r = in.rank();
    std::array<int64_t, kMaxRank> stride{}, step{};
    int64_t s = 1;
    for (int d = r - 1; d >= 0; --d) {
        stride[d] = s;
        s *= in[d];
    }
    int64_t src = 0;
    for (int d = 0; d < r; ++d) {
        src += w.begin[d] * stride[d];
        step[d] = w.step[d] * stride[d];
    }
    std::array<int64_t, kMaxRank> idx{};
    const int64_t n = out.elements();
    // The innermost axis is copied as a run when it is contiguous (a channel split).
    const int64_t run = w.step[r - 1] == 1 ? out[r - 1] : 1;
    const int last = run > 1 ? r - 2 : r - 1;
    for (int64_t o = 0; o < n; o += run) {
        f(o, src, run);
        for (int d = last; d >= 0; --d) {
            src += step[d];
            if (++idx[d] < out[d]) break;
            src -= step[d] * out[d];
            idx[d] = 0;
        }
    }
}

void forward(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    map_slice(std::get<SliceAttrs>(c.attrs), x.shape(), out.shape(),
              [&](int64_t o, int64_t i, int64_t run) {
                  std::copy(x.data() + i, x.data() + i + run, out.data() + o);
              });
}

void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    if (!acc[0]) gin[0]->zero();
    float* d = gin[0]->data();
    map_slice(std::get<SliceAttrs>(c.attrs), c.inputs[0]->shape(), out.shape(),
              [&](int64_t o, int64_t i, int64_t run) {
                  for (int64_t k = 0; k < run; ++k) d[i + k] += g[o + k];
              });
}

}  // namespace

extern const OpDef kSliceDef{"Slice", infer, forward, vjp, lrp_route<vjp>, deeplift_linear<vjp>};

}  // namespace cnnlens
