// LIME for images (Ribeiro, Singh & Guestrin, "Why Should I Trust You?", KDD 2016) as the lime
// package's lime_image + lime_base compute it: superpixels, Bernoulli(0.5) on/off samples (row 0
// all on), cosine-distance kernel sqrt(exp(-d^2/w^2)), weighted sklearn-style Ridge, weighted R^2.
//
// The label column is target_score(): the target's logit or probability as Target::score says
// (contrast subtracted). The lime package explains probabilities, so that is LIME's default
// score (MethodTraits::default_score), which the CLI and the app use. Outputs: `segments` and
// `segment_weights` (the ridge coefficients), `map` [H,W] = each pixel's segment weight
// (signed), stats r2 (weighted, as sklearn's score), intercept, local_pred (surrogate at row 0),
// score (model at row 0), segments, samples; extras positive_mask / negative_mask [H,W] 0/1
// (get_image_and_mask with positive_only / negative_only: the first top_k segments by |weight|
// beyond +-min_weight) and boundaries [H,W] 0/1. With ctx.partial set, a fit on the samples so far
// is reported after each batch once max(segments + 1, 50) samples exist; the first batch is cut
// short to get there by about a twentieth of the samples (the final result is only returned).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/base/rng.h"
#include "core/explain/least_squares.h"
#include "core/explain/method_util.h"
#include "core/image/superpixels.h"

namespace cnnlens {
namespace {

// Running weighted moments of (z, y) for a ridge fit with an unpenalised intercept, solved as
// sklearn does: centre by the weighted means, then (Zc' W Zc + alpha I) beta = Zc' W yc.
class WeightedRidge {
public:
    explicit WeightedRidge(int m)
        : m_(m),
          sz_(static_cast<size_t>(m), 0.0),
          szz_(static_cast<size_t>(m) * m, 0.0),
          szy_(static_cast<size_t>(m), 0.0) {}

    void add(const uint8_t* z, double y, double w) {
        on_.clear();
        for (int j = 0; j < m_; ++j)
            if (z[j]) on_.push_back(j);
        sw_ += w;
        sy_ += w * y;
        for (int j : on_) {
            sz_[static_cast<size_t>(j)] += w;
            szy_[static_cast<size_t>(j)] += w * y;
            for (int k : on_) szz_[static_cast<size_t>(j) * m_ + k] += w;
        }
    }

    struct Fit {
        std::vector<double> coef;
        double intercept = 0;
    };

    Fit solve(double alpha) const {
        const size_t m = static_cast<size_t>(m_);
        std::vector<double> mz(m), a(m * m), b(m);
        const double my = sy_ / sw_;
        for (size_t j = 0; j < m; ++j) mz[j] = sz_[j] / sw_;
        for (size_t j = 0; j < m; ++j) {
            b[j] = szy_[j] - sw_ * mz[j] * my;
            for (size_t k = 0; k <= j; ++k) a[j * m + k] = szz_[j * m + k] - sw_ * mz[j] * mz[k];
            a[j * m + j] += alpha;
        }
        // A zero pivot (alpha = 0 and a column that never varied) gets coefficient 0.
        Fit f;
        solve_psd(a, b, m, f.coef);
        f.intercept = my;
        for (size_t j = 0; j < m; ++j) f.intercept -= mz[j] * f.coef[j];
        return f;
    }

private:
    int m_;
    double sw_ = 0, sy_ = 0;
    std::vector<double> sz_, szz_, szy_;
    std::vector<int> on_;
};

// sklearn's r2_score(y, prediction, sample_weight=w).
double weighted_r2(const WeightedRidge::Fit& f, const std::vector<uint8_t>& z,
                   const std::vector<double>& y, const std::vector<double>& w, size_t rows) {
    const size_t m = f.coef.size();
    double sw = 0, my = 0;
    for (size_t i = 0; i < rows; ++i) {
        sw += w[i];
        my += w[i] * y[i];
    }
    my /= sw;
    double sse = 0, sst = 0;
    for (size_t i = 0; i < rows; ++i) {
        double pred = f.intercept;
        for (size_t j = 0; j < m; ++j)
            if (z[i * m + j]) pred += f.coef[j];
        sse += w[i] * (y[i] - pred) * (y[i] - pred);
        sst += w[i] * (y[i] - my) * (y[i] - my);
    }
    if (sst == 0) return sse == 0 ? 1.0 : 0.0;
    return 1.0 - sse / sst;
}

Explanation make_explanation(const Segmentation& seg, const WeightedRidge::Fit& fit, double r2,
                             double score, int64_t samples, int top_k, double min_weight) {
    const int h = seg.height, w = seg.width;
    const size_t n = static_cast<size_t>(h) * w, m = fit.coef.size();
    Explanation e;
    e.segments = seg.labels;
    e.segment_weights.resize(m);
    for (size_t j = 0; j < m; ++j) e.segment_weights[j] = static_cast<float>(fit.coef[j]);
    e.map.reset(Shape{h, w});
    for (size_t i = 0; i < n; ++i)
        e.map[static_cast<int64_t>(i)] = e.segment_weights[static_cast<size_t>(seg.labels[i])];

    std::vector<int> order(m);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return std::fabs(fit.coef[static_cast<size_t>(a)]) >
               std::fabs(fit.coef[static_cast<size_t>(b)]);
    });
    std::vector<uint8_t> positive(m, 0), negative(m, 0);
    int np = 0, nn = 0;
    for (int j : order) {
        const double c = fit.coef[static_cast<size_t>(j)];
        if (c > 0 && c > min_weight && np < top_k) {
            positive[static_cast<size_t>(j)] = 1;
            ++np;
        }
        if (c < 0 && -c > min_weight && nn < top_k) {
            negative[static_cast<size_t>(j)] = 1;
            ++nn;
        }
    }
    const std::vector<uint8_t> edges = segment_boundaries(seg.labels, h, w);
    Tensor pm(Shape{h, w}), nm(Shape{h, w}), bm(Shape{h, w});
    for (size_t i = 0; i < n; ++i) {
        const size_t s = static_cast<size_t>(seg.labels[i]);
        pm[static_cast<int64_t>(i)] = positive[s];
        nm[static_cast<int64_t>(i)] = negative[s];
        bm[static_cast<int64_t>(i)] = edges[i];
    }
    e.extras["positive_mask"] = std::move(pm);
    e.extras["negative_mask"] = std::move(nm);
    e.extras["boundaries"] = std::move(bm);

    double local = fit.intercept;
    for (double c : fit.coef) local += c;
    e.stats["r2"] = r2;
    e.stats["intercept"] = fit.intercept;
    e.stats["local_pred"] = local;
    e.stats["score"] = score;
    e.stats["segments"] = static_cast<double>(m);
    e.stats["samples"] = static_cast<double>(samples);
    return e;
}

Expected<Explanation> lime(const ExplanationMethod& method, const Tensor& x, const Target& t,
                           const Params& p, ExplainContext& ctx) {
    auto ip = [&](const char* name) {
        return static_cast<int>(std::lround(method.param(p, name)));
    };
    const int classes = ctx.probe.num_classes();
    if (t.cls < 0 || t.cls >= classes || t.contrast >= classes)
        return invalid_argument("lime: target class " + std::to_string(t.cls) +
                                (t.contrast >= 0 ? " vs " + std::to_string(t.contrast) : "") +
                                " is outside the model's " + std::to_string(classes) + " classes");
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]),
              C = static_cast<int>(x.shape()[3]);
    Expected<Segmentation> seg = superpixels_from_params(method, x, p, ctx);
    if (!seg) return seg.status();
    const int m = seg->count;
    const size_t hw = static_cast<size_t>(H) * W;

    // Hidden segments take black (LIME's hide_color=0) or their own mean (hide_color=None).
    std::vector<float> fill(static_cast<size_t>(m) * C);
    if (ip("hide") == 0) {
        const std::vector<float> black = black_value(ctx.probe.input_spec());
        for (int s = 0; s < m; ++s)
            for (int ch = 0; ch < C; ++ch)
                fill[static_cast<size_t>(s) * C + ch] = black[static_cast<size_t>(ch)];
    } else {
        std::vector<double> sum(fill.size(), 0.0), count(static_cast<size_t>(m), 0.0);
        for (size_t i = 0; i < hw; ++i) {
            const size_t s = static_cast<size_t>(seg->labels[i]);
            count[s] += 1;
            for (int ch = 0; ch < C; ++ch) sum[s * C + ch] += x[static_cast<int64_t>(i * C + ch)];
        }
        for (size_t k = 0; k < fill.size(); ++k)
            fill[k] = static_cast<float>(sum[k] / count[k / C]);
    }

    const int64_t total = ip("samples");
    const int batch = ip("batch");
    Rng rng(ctx.seed);
    std::vector<uint8_t> z(static_cast<size_t>(total) * m, 1);
    for (size_t k = static_cast<size_t>(m); k < z.size(); ++k)
        z[k] = static_cast<uint8_t>(rng.next_u32() >> 31);

    const double kw = method.param(p, "kernel_width"), alpha = method.param(p, "ridge_alpha"),
                 min_weight = method.param(p, "min_weight");
    const int top_k = ip("top_k");
    std::vector<double> y(static_cast<size_t>(total)), w(static_cast<size_t>(total));
    WeightedRidge ridge(m);
    // The ridge (alpha > 0) is well posed from m + 1 samples on; the first batch is cut to reach
    // that point early, so a progressive view has its first estimate after about a twentieth of
    // the samples. Batch boundaries do not change any sample's score.
    const int64_t partial_from = std::max<int64_t>(static_cast<int64_t>(m) + 1, 50);
    const int64_t first_batch =
        ctx.partial ? std::min<int64_t>(batch, std::max<int64_t>(partial_from, total / 20)) : batch;
    ProbeRequest plain;
    for (int64_t first = 0; first < total;) {
        const int64_t n = std::min<int64_t>(first == 0 ? first_batch : batch, total - first);
        Tensor b = repeat_image(x, n);
        for (int64_t r = 0; r < n; ++r) {
            const uint8_t* zr = &z[static_cast<size_t>(first + r) * m];
            float* dst = b.data() + r * static_cast<int64_t>(hw) * C;
            for (size_t i = 0; i < hw; ++i) {
                const size_t s = static_cast<size_t>(seg->labels[i]);
                if (zr[s]) continue;
                for (int ch = 0; ch < C; ++ch) dst[i * C + ch] = fill[s * C + ch];
            }
        }
        auto res = ctx.probe.run(b, plain);
        if (!res) return res.status();
        for (int64_t r = 0; r < n; ++r) {
            const size_t i = static_cast<size_t>(first + r);
            const uint8_t* zr = &z[i * m];
            const int on = std::accumulate(zr, zr + m, 0);
            const double d = on == 0 ? 1.0 : 1.0 - std::sqrt(static_cast<double>(on) / m);
            y[i] = target_score(*res, r, t);
            w[i] = std::sqrt(std::exp(-d * d / (kw * kw)));
            ridge.add(zr, y[i], w[i]);
        }
        first += n;
        if (!ctx.report(static_cast<float>(first) / static_cast<float>(total)))
            return cancelled("lime cancelled after " + std::to_string(first) + " of " +
                             std::to_string(total) + " samples");
        if (ctx.partial && first < total && first >= partial_from) {
            const WeightedRidge::Fit f = ridge.solve(alpha);
            Explanation e =
                make_explanation(*seg, f, weighted_r2(f, z, y, w, static_cast<size_t>(first)), y[0],
                                 first, top_k, min_weight);
            stamp_explanation(method, x, t, p, ctx, e);
            ctx.partial(e);
        }
    }
    const WeightedRidge::Fit f = ridge.solve(alpha);
    return make_explanation(*seg, f, weighted_r2(f, z, y, w, static_cast<size_t>(total)), y[0],
                            total, top_k, min_weight);
}

}  // namespace

const ExplanationMethod& method_Lime() {
    static const FnMethod m(
        {.name = "lime",
         .title = "LIME",
         .traits = {.cost = MethodCost::kJob,
                    .default_score = Target::Score::kProbability,
                    .norm = MapNorm::kSignedPercentile99,
                    .forward_images = [](const ExplanationMethod& m, const Params& p, int, int)
                        -> int64_t { return static_cast<int64_t>(m.param(p, "samples")); }},
         .card =
             {.what =
                  "Cuts the image into superpixels, shows the model many copies with random "
                  "superpixels hidden, "
                  "and fits a weighted linear model of the score on which superpixels were "
                  "visible: each "
                  "superpixel's weight is its colour. R^2 says how well that linear model fits.",
              .reading = "One colour per superpixel: its weight in the linear model.",
              .passes = "1 forward pass per sample ({samples}), {batch} per engine call",
              .paper = "Ribeiro, Singh & Guestrin 2016, \"Why Should I Trust You?\": Explaining "
                       "the Predictions of "
                       "Any Classifier",
              .anchor = "the lime package (lime_image; its faces notebook's SLIC settings)"},
         .params = with_superpixel_params(
             {{.name = "hide",
               .label = "Hidden parts",
               .def = 0,
               .min = 0,
               .max = 1,
               .integer = true,
               .choices = {"zero", "segment mean"},
               .help = "What a hidden superpixel becomes: black, or its own mean.",
               .anchor = "LIME's notebooks (hide_color=0)"},
              {.name = "samples",
               .label = "Samples",
               .def = 1000,
               .min = 10,
               .max = 100000,
               .integer = true,
               .help =
                   "Perturbed images (the first is the image itself): more gives steadier weights.",
               .anchor = "lime_image's num_samples"},
              batch_param("Images", 100, 4096),
              {.name = "kernel_width",
               .label = "Kernel width",
               .def = 0.25,
               .min = 0.01,
               .max = 100,
               .help = "How fast a sample's weight falls with its cosine distance d to the image: "
                       "sqrt(exp(-d^2 / width^2)).",
               .anchor = "lime_image"},
              {.name = "ridge_alpha",
               .label = "Ridge penalty",
               .def = 1,
               .min = 0,
               .max = 1e6,
               .help =
                   "Shrinks the linear model's weights toward 0 (the intercept is not penalised).",
               .anchor = "lime_base's Ridge(alpha=1)"},
              {.name = "top_k",
               .label = "Segments in masks",
               .def = 5,
               .min = 1,
               .max = 4096,
               .integer = true,
               .help = "How many superpixels, largest weight first, the positive and negative "
                       "masks keep.",
               .anchor = "get_image_and_mask's num_features"},
              {.name = "min_weight",
               .label = "Minimum weight",
               .def = 0.01,
               .min = 0,
               .max = 1e6,
               .help = "The masks keep only superpixels whose |weight| exceeds this.",
               .anchor = "LIME's notebooks"}}),
         .explain = lime});
    return m;
}

}  // namespace cnnlens
