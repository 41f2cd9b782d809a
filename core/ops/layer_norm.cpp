// LayerNorm: normalizes each row (the last `axes` axes flattened) to zero mean and unit variance,
// then scales and shifts per element of the row. ONNX LayerNormalization, PyTorch F.layer_norm.
#include <cmath>
#include <vector>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const auto& a = std::get<LayerNormAttrs>(attrs);
    const std::string who = "LayerNorm node '" + std::string(node) + "'";
    if (in.size() != 3)
        return invalid_argument(who + ": expects 3 inputs (x, scale, bias), got " +
                                std::to_string(in.size()));
    if (a.axes < 1 || a.axes >= in[0].rank())
        return invalid_argument(who + ": normalizing " + std::to_string(a.axes) +
                                " trailing axes of " + in[0].str());
    if (!(a.epsilon >= 0.f))
        return invalid_argument(who + ": epsilon " + std::to_string(a.epsilon) + " is negative");
    int64_t row = 1;
    for (int k = in[0].rank() - a.axes; k < in[0].rank(); ++k) row *= in[0][k];
    for (int k = 1; k < 3; ++k)
        if (in[k].elements() != row)
            return invalid_argument(who + ": " + (k == 1 ? "scale " : "bias ") + in[k].str() +
                                    " does not match rows of " + std::to_string(row) + " in " +
                                    in[0].str());
    out = in[0];
    return Status::ok();
}

int64_t row_of(const OpContext& c) {
    const Shape& s = c.inputs[0]->shape();
    int64_t row = 1;
    for (int k = s.rank() - std::get<LayerNormAttrs>(c.attrs).axes; k < s.rank(); ++k) row *= s[k];
    return row;
}

// Mean and 1/sqrt(var + eps) of one row, accumulated in double so long rows stay exact.
void row_stats(const float* x, int64_t d, float eps, float& mean, float& rstd) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += x[j];
    const double m = s / static_cast<double>(d);
    double v = 0;
    for (int64_t j = 0; j < d; ++j) v += (x[j] - m) * (x[j] - m);
    mean = static_cast<float>(m);
    rstd = static_cast<float>(1.0 / std::sqrt(v / static_cast<double>(d) + eps));
}

void forward(OpContext& c, Tensor& out) {
    const float eps = std::get<LayerNormAttrs>(c.attrs).epsilon;
    const Tensor& x = *c.inputs[0];
    const float* scale = c.inputs[1]->data();
    const float* bias = c.inputs[2]->data();
    const int64_t d = row_of(c), rows = x.size() / d;
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * d;
        float* yr = out.data() + r * d;
        float mean, rstd;
        row_stats(xr, d, eps, mean, rstd);
        for (int64_t j = 0; j < d; ++j) yr[j] = (xr[j] - mean) * rstd * scale[j] + bias[j];
    }
}

// With xhat = (x - mean) * rstd and h = g * scale: dx = rstd * (h - mean(h) - xhat * mean(h *
// xhat)).
void vjp(OpContext& c, const Tensor&, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    const float eps = std::get<LayerNormAttrs>(c.attrs).epsilon;
    const Tensor& x = *c.inputs[0];
    const float* scale = c.inputs[1]->data();
    const int64_t d = row_of(c), rows = x.size() / d;
    std::vector<float> xhat(static_cast<size_t>(d)), h(static_cast<size_t>(d));
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * d;
        const float* gr = g.data() + r * d;
        float* dr = gin[0]->data() + r * d;
        float mean, rstd;
        row_stats(xr, d, eps, mean, rstd);
        double sh = 0, shx = 0;
        for (int64_t j = 0; j < d; ++j) {
            xhat[static_cast<size_t>(j)] = (xr[j] - mean) * rstd;
            h[static_cast<size_t>(j)] = gr[j] * scale[j];
            sh += h[static_cast<size_t>(j)];
            shx += static_cast<double>(h[static_cast<size_t>(j)]) * xhat[static_cast<size_t>(j)];
        }
        const float mh = static_cast<float>(sh / static_cast<double>(d)),
                    mhx = static_cast<float>(shx / static_cast<double>(d));
        for (int64_t j = 0; j < d; ++j) {
            const float v =
                rstd * (h[static_cast<size_t>(j)] - mh - xhat[static_cast<size_t>(j)] * mhx);
            dr[j] = acc[0] ? dr[j] + v : v;
        }
    }
}

}  // namespace

// No LRP rule: the division by the standard deviation couples every element.
extern const OpDef kLayerNormDef{"LayerNorm", infer, forward, vjp, nullptr};

}  // namespace cnnlens
