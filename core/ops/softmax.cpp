// Softmax and LogSoftmax over the last axis, computed stably (max subtracted).
#include <algorithm>
#include <cmath>

#include "core/ops/op.h"

namespace cnnlens {
namespace {

template <bool kLog>
Status infer(std::string_view node, const OpAttrs& attrs, std::span<const Shape> in, Shape& out) {
    const std::string who =
        std::string(kLog ? "LogSoftmax" : "Softmax") + " node '" + std::string(node) + "'";
    if (in.size() != 1)
        return invalid_argument(who + ": expects 1 input, got " + std::to_string(in.size()));
    const int axis = std::get<SoftmaxAttrs>(attrs).axis;
    if (axis != -1 && axis != in[0].rank() - 1)
        return unsupported(who + ": softmax over axis " + std::to_string(axis) + " of " +
                           in[0].str() + " (only the last axis)");
    out = in[0];
    return Status::ok();
}

void forward(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    const int64_t n = x.shape().dim(-1), rows = x.size() / n;
    for (int64_t r = 0; r < rows; ++r) {
        const float* xi = x.data() + r * n;
        float* o = out.data() + r * n;
        const float m = *std::max_element(xi, xi + n);
        double sum = 0.0;
        for (int64_t j = 0; j < n; ++j) {
            o[j] = std::exp(xi[j] - m);
            sum += o[j];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j < n; ++j) o[j] *= inv;
    }
}

// dx_j = y_j * (g_j - sum_k g_k y_k)
void vjp(OpContext&, const Tensor& y, const Tensor& g, std::span<Tensor* const> gin,
         std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    const int64_t n = y.shape().dim(-1), rows = y.size() / n;
    float* d = gin[0]->data();
    for (int64_t r = 0; r < rows; ++r) {
        const float *yr = y.data() + r * n, *gr = g.data() + r * n;
        double dot = 0.0;
        for (int64_t j = 0; j < n; ++j) dot += static_cast<double>(gr[j]) * yr[j];
        for (int64_t j = 0; j < n; ++j) {
            const float v = static_cast<float>(yr[j] * (gr[j] - dot));
            d[r * n + j] = acc[0] ? d[r * n + j] + v : v;
        }
    }
}

// y = x - max - log(sum exp(x - max))
void forward_log(OpContext& c, Tensor& out) {
    const Tensor& x = *c.inputs[0];
    const int64_t n = x.shape().dim(-1), rows = x.size() / n;
    for (int64_t r = 0; r < rows; ++r) {
        const float* xi = x.data() + r * n;
        float* o = out.data() + r * n;
        const float m = *std::max_element(xi, xi + n);
        double sum = 0.0;
        for (int64_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(xi[j]) - m);
        const double lse = m + std::log(sum);
        for (int64_t j = 0; j < n; ++j) o[j] = static_cast<float>(xi[j] - lse);
    }
}

// dx_j = g_j - softmax_j * sum_k g_k, with softmax_j = exp(y_j)
void vjp_log(OpContext&, const Tensor& y, const Tensor& g, std::span<Tensor* const> gin,
             std::span<const bool> acc, ReluRule) {
    if (!gin[0]) return;
    const int64_t n = y.shape().dim(-1), rows = y.size() / n;
    float* d = gin[0]->data();
    for (int64_t r = 0; r < rows; ++r) {
        const float *yr = y.data() + r * n, *gr = g.data() + r * n;
        double sum = 0.0;
        for (int64_t j = 0; j < n; ++j) sum += gr[j];
        for (int64_t j = 0; j < n; ++j) {
            const float v = static_cast<float>(gr[j] - std::exp(static_cast<double>(yr[j])) * sum);
            d[r * n + j] = acc[0] ? d[r * n + j] + v : v;
        }
    }
}

}  // namespace

// No LRP rule: relevance starts at the logits, before any softmax.
extern const OpDef kSoftmaxDef{"Softmax", infer<false>, forward, vjp, nullptr};
extern const OpDef kLogSoftmaxDef{"LogSoftmax", infer<true>, forward_log, vjp_log, nullptr};

}  // namespace cnnlens
