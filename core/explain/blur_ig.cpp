// Blur IG (Xu, Venugopalan & Sundararajan, "Attribution in Scale and Space", CVPR 2020):
// Integrated Gradients along the path of Gaussian blurs L(x, sigma) from sigma_max (the
// baseline, all detail gone) down to sigma = 0 (the image):
//     attribution = -integral_0^sigma_max dL/dsigma (sigma) * grad f(L(x, sigma)) dsigma,
// whose sum is f(x) - f(L(x, sigma_max)) (completeness, error reported as IG's).
//
// Steps and spacing follow PAIR saliency's blur_ig.py: interval ends sigma_i = i * max_sigma /
// steps, or sqrt(i * max_sigma / steps) (its `sqrt`, which also makes the baseline's sigma
// sqrt(max_sigma)); max_sigma 50, 100 steps. Three choices differ from PAIR, each for
// completeness: (1) PAIR's blur pads with zeros (scipy's mode='constant'), fading the border
// toward the value 0 of the model's input space (black or grey, depending on the model's
// normalisation); ours renormalises the Gaussian over the taps inside the image (as IG's
// blurred baseline), untruncated so that L is smooth in sigma, and a flat image stays flat.
// (2) dL/dsigma is exact (the derivative of the normalised kernel), where PAIR's forward
// difference of grad_step 0.01 leaves a bias of order grad_step in the sum (2 % on a quadratic
// test model, whatever the steps). (3) Each interval is sampled at its midpoint, as our IG, not
// its left end. Attribution [H,W,C]; map = its channel sum (signed), as IG's.
#include <algorithm>
#include <cmath>

#include "core/base/thread_pool.h"
#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

// The row-normalised 1-D Gaussian K [n, n] of sigma > 0, and dK/dsigma in `d`.
void blur_matrix(int n, double sigma, std::vector<double>& k, std::vector<double>& d) {
    k.assign(static_cast<size_t>(n) * n, 0.0);
    d.assign(k.size(), 0.0);
    for (int i = 0; i < n; ++i) {
        double s = 0, ds = 0;
        double* ki = &k[static_cast<size_t>(i) * n];
        double* di = &d[static_cast<size_t>(i) * n];
        for (int j = 0; j < n; ++j) {
            const double r2 = static_cast<double>(i - j) * (i - j);
            ki[j] = std::exp(-0.5 * r2 / (sigma * sigma));
            di[j] = ki[j] * r2 / (sigma * sigma * sigma);
            s += ki[j];
            ds += di[j];
        }
        for (int j = 0; j < n; ++j) {
            ki[j] /= s;
            di[j] = (di[j] - ki[j] * ds) / s;
        }
    }
}

// out += Ky x Kx^T for one image x [H, W, C].
void separable(const std::vector<double>& ky, const std::vector<double>& kx,
               const std::vector<double>& x, int H, int W, int C, std::vector<double>& out) {
    std::vector<double> tmp(x.size(), 0.0);
    for (int y = 0; y < H; ++y)
        for (int xx = 0; xx < W; ++xx) {
            double* t = &tmp[(static_cast<size_t>(y) * W + xx) * C];
            const double* kr = &kx[static_cast<size_t>(xx) * W];
            for (int j = 0; j < W; ++j) {
                const double* s = &x[(static_cast<size_t>(y) * W + j) * C];
                for (int c = 0; c < C; ++c) t[c] += kr[j] * s[c];
            }
        }
    for (int y = 0; y < H; ++y) {
        double* o = &out[static_cast<size_t>(y) * W * C];
        for (int j = 0; j < H; ++j) {
            const double w = ky[static_cast<size_t>(y) * H + j];
            const double* s = &tmp[static_cast<size_t>(j) * W * C];
            for (int i = 0; i < W * C; ++i) o[i] += w * s[i];
        }
    }
}

// L(x, sigma) into `l` and, when `dl` is given, dL/dsigma into it.
void blur(const std::vector<double>& x, int H, int W, int C, double sigma, std::vector<double>& l,
          std::vector<double>* dl) {
    l.assign(x.size(), 0.0);
    if (dl) dl->assign(x.size(), 0.0);
    if (sigma <= 0) {
        l = x;
        return;
    }
    std::vector<double> ky, dky, kx, dkx;
    blur_matrix(H, sigma, ky, dky);
    blur_matrix(W, sigma, kx, dkx);
    separable(ky, kx, x, H, W, C, l);
    if (!dl) return;
    separable(dky, kx, x, H, W, C, *dl);
    separable(ky, dkx, x, H, W, C, *dl);
}

Expected<Explanation> blur_ig(const ExplanationMethod& m, const Tensor& x, const Target& t,
                              const Params& p, ExplainContext& ctx) {
    const int steps = static_cast<int>(m.param(p, "steps"));
    const double max_sigma = m.param(p, "max_sigma");
    const bool sqrt_spacing = m.param(p, "spacing") == 1;
    const int batch = static_cast<int>(m.param(p, "batch"));
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]),
              C = static_cast<int>(x.shape()[3]);
    const int64_t per = x.size();
    std::vector<double> sigma(static_cast<size_t>(steps) + 1);
    for (int i = 0; i <= steps; ++i) {
        const double s = i * max_sigma / steps;
        sigma[static_cast<size_t>(i)] = sqrt_spacing ? std::sqrt(s) : s;
    }
    const std::vector<double> xd(x.data(), x.data() + per);
    std::vector<double> x0;
    blur(xd, H, W, C, sigma.back(), x0, nullptr);

    double score_x = 0, score_x0 = 0;
    {
        Tensor ends(Shape{2, H, W, C});
        for (int64_t i = 0; i < per; ++i) {
            ends[i] = x[i];
            ends[per + i] = static_cast<float>(x0[static_cast<size_t>(i)]);
        }
        auto res = ctx.probe.run(ends, ProbeRequest{});
        if (!res) return res.status();
        score_x = target_score(*res, 0, t);
        score_x0 = target_score(*res, 1, t);
    }
    std::vector<double> acc(static_cast<size_t>(per), 0.0);
    std::vector<std::vector<double>> weight(
        static_cast<size_t>(batch));  // -dsigma * dL/dsigma per point
    for (int first = 0; first < steps;) {
        const int count = std::min(batch, steps - first);
        Tensor path(Shape{count, H, W, C});
        parallel_for(count, 1, [&](int64_t k0, int64_t k1, int) {
            std::vector<double> a;
            for (int64_t k = k0; k < k1; ++k) {
                const size_t i = static_cast<size_t>(first + k);
                std::vector<double>& w = weight[static_cast<size_t>(k)];
                blur(xd, H, W, C, 0.5 * (sigma[i] + sigma[i + 1]), a, &w);
                const double ds = sigma[i + 1] - sigma[i];
                for (int64_t j = 0; j < per; ++j) {
                    path[k * per + j] = static_cast<float>(a[static_cast<size_t>(j)]);
                    w[static_cast<size_t>(j)] *= -ds;
                }
            }
        });
        auto r = input_gradients(ctx.probe, path, t);
        if (!r) return r.status();
        for (int k = 0; k < count; ++k)
            for (int64_t j = 0; j < per; ++j)
                acc[static_cast<size_t>(j)] +=
                    weight[static_cast<size_t>(k)][static_cast<size_t>(j)] *
                    r->input_grad[k * per + j];
        first += count;
        if (!ctx.report(static_cast<float>(first) / steps))
            return cancelled("blur_ig cancelled after " + std::to_string(first) + " of " +
                             std::to_string(steps) + " steps");
    }
    Tensor a(x.shape()), base(x.shape());
    double total = 0;
    for (int64_t i = 0; i < per; ++i) {
        a[i] = static_cast<float>(acc[static_cast<size_t>(i)]);
        base[i] = static_cast<float>(x0[static_cast<size_t>(i)]);
        total += acc[static_cast<size_t>(i)];
    }
    return path_explanation(std::move(a), base, total, score_x, score_x0);
}

}  // namespace

const ExplanationMethod& method_BlurIG() {
    static const FnMethod m(
        {.name = "blur_ig",
         .title = "Blur IG",
         .traits = {.cost = MethodCost::kJob, .norm = MapNorm::kSignedPercentile99},
         .card =
             {.what =
                  "Integrated Gradients along a path of ever less blurred images, from a strong "
                  "blur to the "
                  "image: detail is added instead of brightness, so no black baseline is needed.",
              .passes = "{steps} forward and backward passes, {batch} per engine call",
              .paper = "Xu, Venugopalan & Sundararajan 2020, Attribution in Scale and Space",
              .anchor = "PAIR saliency's blur_ig"},
         .params = {{.name = "max_sigma",
                     .label = "Strongest blur",
                     .def = 50,
                     .min = 0.1,
                     .max = 1000,
                     .help =
                         "Gaussian sigma, in pixels, of the path's start, the most blurred image.",
                     .anchor = "PAIR"},
                    {.name = "steps",
                     .label = "Path steps",
                     .def = 100,
                     .min = 1,
                     .max = 10000,
                     .integer = true,
                     .help = "Intervals between the blurred start and the image, each sampled at "
                             "its midpoint.",
                     .anchor = "PAIR"},
                    {.name = "spacing",
                     .label = "Blur spacing",
                     .def = 0,
                     .min = 0,
                     .max = 1,
                     .integer = true,
                     .choices = {"linear", "sqrt"},
                     .help = "Blur steps evenly spaced in sigma, or in sigma squared as PAIR's "
                             "sqrt option (whose "
                             "start has sigma sqrt(max_sigma)).",
                     .anchor = "PAIR (linear)"},
                    batch_param("Path points", 50, 1000)},
         .explain = blur_ig});
    return m;
}

}  // namespace cnnlens
