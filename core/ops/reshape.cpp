// Identity, Reshape, Squeeze, ExpandDims: same elements, another shape. Forward copies,
// the VJP copies the gradient back.
#include <algorithm>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

std::string who(std::string_view op, std::string_view node) {
    return std::string(op) + " node '" + std::string(node) + "'";
}

Status infer_identity(std::string_view node, const OpAttrs&, std::span<const Shape> in,
                      Shape& out) {
    if (in.empty()) return invalid_argument(who("Identity", node) + ": expects 1 input");
    out = in[0];
    return Status::ok();
}

Status infer_reshape(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in,
                     Shape& out) {
    const auto& a = std::get<ReshapeAttrs>(attrs);
    if (in.size() != 1)
        return invalid_argument(who("Reshape", node) + ": expects 1 input, got " +
                                std::to_string(in.size()));
    if (a.shape.empty() || static_cast<int>(a.shape.size()) > kMaxRank)
        return invalid_argument(who("Reshape", node) + ": target rank " +
                                std::to_string(a.shape.size()) + " not supported");
    out = Shape();
    int infer_at = -1;
    int64_t known = 1;
    for (size_t i = 0; i < a.shape.size(); ++i) {
        int64_t d = a.shape[i];
        if (i == 0 && d == -1) d = in[0][0];
        if (d == -1) {
            if (infer_at >= 0)
                return invalid_argument(who("Reshape", node) +
                                        ": more than one -1 in the target shape");
            infer_at = static_cast<int>(i);
            d = 1;
        } else if (d < 0) {
            return invalid_argument(who("Reshape", node) + ": negative dimension " +
                                    std::to_string(d));
        }
        known *= d;
        out.push_back(d);
    }
    const int64_t total = in[0].elements();
    if (infer_at >= 0) {
        if (known == 0 || total % known != 0)
            return invalid_argument(who("Reshape", node) + ": cannot reshape " + in[0].str() +
                                    " into " + out.str());
        out[infer_at] = total / known;
    }
    if (out.elements() != total)
        return invalid_argument(who("Reshape", node) + ": cannot reshape " + in[0].str() + " (" +
                                std::to_string(total) + " elements) into " + out.str());
    if (out[0] != in[0][0])
        return unsupported(who("Reshape", node) + ": the target " + out.str() +
                           " mixes the batch axis of " + in[0].str() + " with others");
    return Status::ok();
}

Status infer_squeeze(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in,
                     Shape& out) {
    const auto& a = std::get<SqueezeAttrs>(attrs);
    if (in.size() != 1) return invalid_argument(who("Squeeze", node) + ": expects 1 input");
    out = Shape();
    for (int i = 0; i < in[0].rank(); ++i) {
        const bool listed = std::find(a.axes.begin(), a.axes.end(), i) != a.axes.end();
        if (listed && in[0][i] != 1)
            return invalid_argument(who("Squeeze", node) + ": axis " + std::to_string(i) + " of " +
                                    in[0].str() + " is not 1");
        if (listed && i == 0)
            return unsupported(who("Squeeze", node) +
                               ": squeezing the batch axis is not supported");
        const bool drop = a.axes.empty() ? (i > 0 && in[0][i] == 1) : listed;
        if (!drop) out.push_back(in[0][i]);
    }
    return Status::ok();
}

Status infer_expand(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in,
                    Shape& out) {
    const auto& a = std::get<ExpandDimsAttrs>(attrs);
    if (in.size() != 1) return invalid_argument(who("ExpandDims", node) + ": expects 1 input");
    if (a.axis < 1 || a.axis > in[0].rank() || in[0].rank() >= kMaxRank)
        return invalid_argument(who("ExpandDims", node) + ": axis " + std::to_string(a.axis) +
                                " not supported for " + in[0].str());
    out = Shape();
    for (int i = 0; i <= in[0].rank(); ++i) {
        if (i == a.axis) out.push_back(1);
        if (i < in[0].rank()) out.push_back(in[0][i]);
    }
    return Status::ok();
}

void forward(OpContext& c, Tensor& out) {
    std::copy(c.inputs[0]->data(), c.inputs[0]->data() + out.size(), out.data());
}

void vjp(OpContext&, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (gin[0]) store_or_add(gin[0]->data(), g.data(), g.size(), acc[0]);
}

}  // namespace

extern const OpDef kIdentityDef{"Identity",     infer_identity,       forward,          vjp,
                                lrp_route<vjp>, deeplift_linear<vjp>, vjp_reads_nothing};
extern const OpDef kReshapeDef{"Reshape",      infer_reshape,        forward,          vjp,
                               lrp_route<vjp>, deeplift_linear<vjp>, vjp_reads_nothing};
extern const OpDef kSqueezeDef{"Squeeze",      infer_squeeze,        forward,          vjp,
                               lrp_route<vjp>, deeplift_linear<vjp>, vjp_reads_nothing};
extern const OpDef kExpandDimsDef{"ExpandDims",   infer_expand,         forward,          vjp,
                                  lrp_route<vjp>, deeplift_linear<vjp>, vjp_reads_nothing};

}  // namespace cnnlens
