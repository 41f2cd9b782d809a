// Concat along one axis (not the batch). An input with a batch of 1 (a constant, such as a
// transformer's class token) is repeated over the batch.
#include <algorithm>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const std::string who = "Concat node '" + std::string(node) + "'";
    if (in.empty()) return invalid_argument(who + ": expects at least 1 input");
    const int r = in[0].rank();
    const int axis = std::get<ConcatAttrs>(attrs).axis;
    if (axis < 1 || axis >= r)
        return invalid_argument(who + ": axis " + std::to_string(axis) + " not supported for " +
                                in[0].str());
    out = in[0];
    for (size_t k = 1; k < in.size(); ++k)
        out[0] = std::max(out[0], in[k].rank() == r ? in[k][0] : 0);
    for (size_t k = 1; k < in.size(); ++k) {
        bool ok = in[k].rank() == r;
        for (int d = 0; ok && d < r; ++d)
            ok = d == axis || in[k][d] == in[0][d] || (d == 0 && (in[k][0] == 1 || in[0][0] == 1));
        if (!ok)
            return invalid_argument(who + ": input " + std::to_string(k) + " " + in[k].str() +
                                    " does not fit " + in[0].str());
        out[axis] += in[k][axis];
    }
    return Status::ok();
}

// outer = product of dims before axis; inner = product after, for shape s.
void split(const Shape& s, int axis, int64_t& outer, int64_t& inner) {
    outer = 1;
    inner = 1;
    for (int d = 0; d < axis; ++d) outer *= s[d];
    for (int d = axis + 1; d < s.rank(); ++d) inner *= s[d];
}

void forward(OpContext& c, Tensor& out) {
    const int axis = std::get<ConcatAttrs>(c.attrs).axis;
    int64_t outer, inner;
    split(out.shape(), axis, outer, inner);
    const int64_t orow = out.shape()[axis] * inner;
    int64_t offset = 0;
    for (const Tensor* t : c.inputs) {
        const int64_t row = t->shape()[axis] * inner;
        const int64_t own =
            outer / out.shape()[0] * t->shape()[0];  // fewer rows when its batch is 1
        for (int64_t o = 0; o < outer; ++o) {
            const float* src = t->data() + (o % own) * row;
            std::copy(src, src + row, out.data() + o * orow + offset);
        }
        offset += row;
    }
}

void vjp(OpContext& c, const Tensor& out, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    const int axis = std::get<ConcatAttrs>(c.attrs).axis;
    int64_t outer, inner;
    split(out.shape(), axis, outer, inner);
    const int64_t orow = out.shape()[axis] * inner;
    int64_t offset = 0;
    for (size_t k = 0; k < c.inputs.size(); ++k) {
        const int64_t row = c.inputs[k]->shape()[axis] * inner;
        const int64_t own = outer / out.shape()[0] * c.inputs[k]->shape()[0];
        if (gin[k]) {
            if (own < outer && !acc[k])
                gin[k]->zero();  // a repeated input sums its rows' gradients
            for (int64_t o = 0; o < outer; ++o)
                store_or_add(gin[k]->data() + (o % own) * row, g.data() + o * orow + offset, row,
                             acc[k] || own < outer);
        }
        offset += row;
    }
}

}  // namespace

extern const OpDef kConcatDef{"Concat", infer, forward, vjp, lrp_route<vjp>, deeplift_linear<vjp>};

}  // namespace cnnlens
