// Eigen-CAM (Muhammad & Yeasin 2020): the layer's activations A [hw, k], centred per channel
// (each channel's mean over the positions subtracted, as pytorch-grad-cam's get_2d_projection
// does: without it the first component is mostly the mean), projected on their first principal
// direction v: cam = relu((A - mean) v). One forward pass, no target: class-independent.
// An SVD's sign is arbitrary (pytorch-grad-cam keeps whatever LAPACK returns); ours is fixed so
// that the projection correlates positively with the centred total activation per position,
// sum_i p_i sum_c (A - mean)_ic >= 0: the map lights where the layer fires more than on average.
// v comes from power iteration on the smaller Gram matrix ((A-m)^T (A-m) [k, k] or
// (A-m)(A-m)^T [hw, hw], whose top eigenvector u gives p = sqrt(lambda) u), in double.
#include <algorithm>
#include <cmath>

#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

// Top eigenpair of the symmetric positive semi-definite m x m matrix `c` (row-major) by power
// iteration; returns the eigenvalue, `v` the unit eigenvector, `iterations` the steps taken.
double top_eigenvector(const std::vector<double>& c, int64_t m, std::vector<double>& v,
                       int& iterations) {
    // Start from the column of largest norm: never orthogonal to the top eigenvector unless the
    // matrix is zero.
    int64_t best = 0;
    double best_norm = -1;
    for (int64_t j = 0; j < m; ++j) {
        double s = 0;
        for (int64_t i = 0; i < m; ++i)
            s += c[static_cast<size_t>(i * m + j)] * c[static_cast<size_t>(i * m + j)];
        if (s > best_norm) best_norm = s, best = j;
    }
    v.assign(static_cast<size_t>(m), 0.0);
    if (best_norm <= 0) {
        v[0] = 1;
        iterations = 0;
        return 0;
    }
    for (int64_t i = 0; i < m; ++i)
        v[static_cast<size_t>(i)] = c[static_cast<size_t>(i * m + best)] / std::sqrt(best_norm);
    std::vector<double> w(static_cast<size_t>(m));
    double lambda = 0;
    constexpr int kMaxIterations = 20000;
    for (iterations = 1; iterations <= kMaxIterations; ++iterations) {
        for (int64_t i = 0; i < m; ++i) {
            double s = 0;
            const double* row = c.data() + i * m;
            for (int64_t j = 0; j < m; ++j) s += row[j] * v[static_cast<size_t>(j)];
            w[static_cast<size_t>(i)] = s;
        }
        double norm = 0;
        for (double x : w) norm += x * x;
        norm = std::sqrt(norm);
        lambda = norm;
        double change = 0;
        for (int64_t i = 0; i < m; ++i) {
            const double x = w[static_cast<size_t>(i)] / norm;
            change += (x - v[static_cast<size_t>(i)]) * (x - v[static_cast<size_t>(i)]);
            v[static_cast<size_t>(i)] = x;
        }
        if (change < 1e-26) break;
    }
    return lambda;
}

Expected<Explanation> eigencam(const ExplanationMethod& m, const Tensor& x, const Target& t,
                               const Params& p, ExplainContext& ctx) {
    auto layer = cam_layer(ctx.probe, m.param(p, "layer"), m.title());
    if (!layer) return layer.status();
    ProbeRequest r;
    r.layers = {*layer};
    auto res = ctx.probe.run(x, r);
    if (!res) return res.status();
    const Tensor& A = res->activations[0];
    const int64_t h = A.shape()[1], w = A.shape()[2], k = A.shape()[3], hw = h * w;
    std::vector<double> X(static_cast<size_t>(hw * k));
    for (int64_t c = 0; c < k; ++c) {
        double mean = 0;
        for (int64_t i = 0; i < hw; ++i) mean += A[i * k + c];
        mean /= static_cast<double>(hw);
        for (int64_t i = 0; i < hw; ++i) X[static_cast<size_t>(i * k + c)] = A[i * k + c] - mean;
    }
    // The Gram matrix on the smaller side: both share the nonzero eigenvalues.
    const bool channels = k <= hw;
    const int64_t n = channels ? k : hw;
    std::vector<double> gram(static_cast<size_t>(n * n), 0.0);
    double trace = 0;
    for (int64_t a = 0; a < n; ++a)
        for (int64_t b = a; b < n; ++b) {
            double s = 0;
            if (channels)
                for (int64_t i = 0; i < hw; ++i)
                    s += X[static_cast<size_t>(i * k + a)] * X[static_cast<size_t>(i * k + b)];
            else
                for (int64_t c = 0; c < k; ++c)
                    s += X[static_cast<size_t>(a * k + c)] * X[static_cast<size_t>(b * k + c)];
            gram[static_cast<size_t>(a * n + b)] = gram[static_cast<size_t>(b * n + a)] = s;
            if (a == b) trace += s;
        }
    std::vector<double> v;
    int iterations = 0;
    const double lambda = top_eigenvector(gram, n, v, iterations);
    std::vector<double> proj(static_cast<size_t>(hw), 0.0);
    for (int64_t i = 0; i < hw; ++i) {
        if (channels) {
            double s = 0;
            for (int64_t c = 0; c < k; ++c)
                s += X[static_cast<size_t>(i * k + c)] * v[static_cast<size_t>(c)];
            proj[static_cast<size_t>(i)] = s;
        } else {
            proj[static_cast<size_t>(i)] = std::sqrt(lambda) * v[static_cast<size_t>(i)];
        }
    }
    double agree = 0;
    for (int64_t i = 0; i < hw; ++i) {
        double total = 0;
        for (int64_t c = 0; c < k; ++c) total += X[static_cast<size_t>(i * k + c)];
        agree += proj[static_cast<size_t>(i)] * total;
    }
    const double sign = agree < 0 ? -1.0 : 1.0;
    Tensor cam(Shape{h, w});
    for (int64_t i = 0; i < hw; ++i)
        cam[i] = static_cast<float>(std::max(sign * proj[static_cast<size_t>(i)], 0.0));
    Explanation e = cam_explanation(std::move(cam), x, ctx.probe, *layer);
    e.stats["score"] = target_score(*res, 0, t);
    e.stats["explained_variance"] = trace > 0 ? lambda / trace : 0.0;
    e.stats["power_iterations"] = iterations;
    ctx.report(1.f);
    return e;
}

}  // namespace

const ExplanationMethod& method_EigenCam() {
    static const FnMethod m({.name = "eigencam",
                             .title = "Eigen-CAM",
                             .traits = {.cost = MethodCost::kLive, .norm = MapNorm::kMinMax},
                             .card = {.what = "The first principal component of the layer's "
                                              "activations, projected on its positions: where "
                                              "the layer fires more than on average. No gradient "
                                              "and no class: every class gets the same map.",
                                      .reading = kCamReading,
                                      .passes = "1 forward pass",
                                      .paper = "Muhammad & Yeasin 2020, Eigen-CAM: Class "
                                               "Activation Map using Principal Components",
                                      .anchor = "pytorch-grad-cam (centred activations)"},
                             .params = {layer_param()},
                             .explain = eigencam});
    return m;
}

}  // namespace cnnlens
