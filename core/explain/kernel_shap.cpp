// KernelSHAP over superpixels (Lundberg & Lee, "A Unified Approach to Interpreting Model
// Predictions", NeurIPS 2017), sampled and solved as shap.KernelExplainer does.
//
// Features are LIME's superpixels (superpixel_features.cpp, same parameters and defaults, so the
// same segments). A segment that is off takes the baseline's pixels. The default baseline is the
// image's mean colour, a constant: shap's image notebook masks with a constant (its mask_image
// falls back to the image's mean), and a constant adds no texture of its own, where a blur keeps
// a smeared copy of what was hidden; black (LIME's hide_color 0) and the blurred image are the
// other choices. f(empty) is the model on the baseline, f(x) on the image.
//
// Coalitions follow shap's sampler: subset sizes s = 1 .. ceil((M-1)/2), each paired with its
// complement M-s, carry the Shapley kernel's mass (M-1)/(s(M-s)); from the smallest size on, a
// size whose expected count under the remaining budget covers all its subsets is enumerated
// (weight: its share over its subsets), then the rest of the budget draws sizes from the
// remaining mass and a uniform subset of that size, with its complement, counting repeats as
// extra weight instead of new evaluations (at most 4x the remaining budget of draws, as shap).
// Randomness: one Rng(seed) stream: per draw, uniform() picks the size (inverse CDF) and a partial
// Fisher-Yates shuffle of below() picks the segments. The values solve the kernel-weighted least
// squares with the efficiency constraint substituted (the last segment's value is
// f(x) - f(empty) minus the others'), so they sum to f(x) - f(empty) exactly; shap's optional L1
// feature selection is left out (every segment keeps a value). Budget: `samples`, 0 for shap's
// "auto" 2M + 2048; at most 2^M - 2, where every coalition is enumerated and the values are the
// exact Shapley values.
//
// The score default is the probability, as LIME's (shap's image notebooks explain softmax
// outputs). Outputs: map [H,W] = each pixel's segment value (signed), `segments`,
// `segment_weights` (the values); stats score (f(x)), base (f(empty)), sum_values,
// efficiency_error, samples (coalitions evaluated), evaluations (model images, with x and the
// baseline), enumerated_sizes, segments. With ctx.partial set, the values of the coalitions so far
// are reported after each batch once 2M coalitions exist.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <unordered_map>

#include "core/base/rng.h"
#include "core/explain/least_squares.h"
#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

struct Coalitions {
    int m = 0;
    std::vector<uint8_t> z;  // rows x m
    std::vector<double> w;   // kernel weight per row
    size_t fixed = 0;        // the enumerated rows come first
    double weight_left = 0;  // the kernel mass the sampled rows share
    int enumerated_sizes = 0;
    size_t rows() const { return w.size(); }
};

double binomial(int n, int k) {
    double r = 1;
    for (int i = 1; i <= k; ++i) r = r * (n - k + i) / i;
    return r;
}

Coalitions sample_coalitions(int m, int64_t budget, uint64_t seed) {
    Coalitions c;
    c.m = m;
    const size_t mm = static_cast<size_t>(m);
    if (m <= 1 || budget <= 0) return c;
    const int sizes = m / 2, paired = (m - 1) / 2;  // ceil((m-1)/2), floor((m-1)/2)
    std::vector<double> kernel(static_cast<size_t>(sizes));
    double total = 0;
    for (int s = 1; s <= sizes; ++s) {
        double k = (m - 1.0) / (static_cast<double>(s) * (m - s));
        if (s <= paired) k *= 2;
        kernel[static_cast<size_t>(s - 1)] = k;
        total += k;
    }
    for (double& k : kernel) k /= total;

    std::vector<uint8_t> mask(mm);
    auto add = [&](double weight) {
        c.z.insert(c.z.end(), mask.begin(), mask.end());
        c.w.push_back(weight);
    };
    double left = static_cast<double>(budget);
    std::vector<double> remaining = kernel;
    for (int s = 1; s <= sizes; ++s) {
        double subsets = binomial(m, s);
        if (s <= paired) subsets *= 2;
        if (left * remaining[static_cast<size_t>(s - 1)] / subsets < 1.0 - 1e-8) break;
        ++c.enumerated_sizes;
        left -= subsets;
        if (remaining[static_cast<size_t>(s - 1)] < 1.0) {
            const double r = 1 - remaining[static_cast<size_t>(s - 1)];
            for (double& v : remaining) v /= r;
        }
        double weight = kernel[static_cast<size_t>(s - 1)] / binomial(m, s);
        if (s <= paired) weight /= 2;
        // Subsets of size s in lexicographic order (itertools.combinations).
        std::vector<int> idx(static_cast<size_t>(s));
        std::iota(idx.begin(), idx.end(), 0);
        for (;;) {
            std::fill(mask.begin(), mask.end(), 0);
            for (int i : idx) mask[static_cast<size_t>(i)] = 1;
            add(weight);
            if (s <= paired) {
                for (uint8_t& v : mask) v = !v;
                add(weight);
            }
            int i = s - 1;
            while (i >= 0 && idx[static_cast<size_t>(i)] == m - s + i) --i;
            if (i < 0) break;
            ++idx[static_cast<size_t>(i)];
            for (int j = i + 1; j < s; ++j)
                idx[static_cast<size_t>(j)] = idx[static_cast<size_t>(j - 1)] + 1;
        }
    }
    c.fixed = c.rows();
    if (c.enumerated_sizes == sizes) return c;

    std::vector<double> rest(kernel.begin() + c.enumerated_sizes, kernel.end());
    for (size_t i = 0; i < rest.size(); ++i)
        if (static_cast<int>(i) + c.enumerated_sizes < paired)
            rest[i] /= 2;  // each comes with its complement
    const double rest_sum = std::accumulate(rest.begin(), rest.end(), 0.0);
    for (size_t i = c.enumerated_sizes; i < kernel.size(); ++i) c.weight_left += kernel[i];
    int64_t samples_left = static_cast<int64_t>(std::llround(left));
    const int64_t draws = 4 * samples_left;
    Rng rng(seed);
    std::vector<int> perm(mm);
    std::unordered_map<std::string, size_t> used;
    for (int64_t d = 0; d < draws && samples_left > 0; ++d) {
        const double u = rng.uniform() * rest_sum;
        size_t k = 0;
        for (double acc = rest[0]; k + 1 < rest.size() && u >= acc; acc += rest[++k]) {}
        const int s = static_cast<int>(k) + c.enumerated_sizes + 1;
        std::iota(perm.begin(), perm.end(), 0);
        std::fill(mask.begin(), mask.end(), 0);
        for (int i = 0; i < s; ++i) {
            const size_t j = static_cast<size_t>(i) + rng.below(static_cast<uint32_t>(m - i));
            std::swap(perm[static_cast<size_t>(i)], perm[j]);
            mask[static_cast<size_t>(perm[static_cast<size_t>(i)])] = 1;
        }
        std::string key(mask.begin(), mask.end());
        auto it = used.find(key);
        const bool fresh = it == used.end();
        size_t row = fresh ? c.rows() : it->second;
        if (fresh) {
            used.emplace(std::move(key), row);
            --samples_left;
            add(1.0);
        } else {
            c.w[row] += 1.0;
        }
        if (samples_left > 0 && s <= paired) {
            for (uint8_t& v : mask) v = !v;
            if (fresh) {
                --samples_left;
                add(1.0);
            } else {
                c.w[row + 1] += 1.0;
            }
        }
    }
    return c;
}

// The constrained weighted least squares over rows [0, rows): the sampled rows' weights scaled
// to share weight_left. A direction no row determines (a zero pivot) gets value 0 and is
// counted in `undetermined`.
std::vector<double> solve_values(const Coalitions& c, const std::vector<double>& y, size_t rows,
                                 double fx, double f0, int& undetermined) {
    const int m = c.m;
    std::vector<double> phi(static_cast<size_t>(m), 0.0);
    undetermined = 0;
    if (m == 1) {
        phi[0] = fx - f0;
        return phi;
    }
    double sampled = 0;
    for (size_t r = c.fixed; r < rows; ++r) sampled += c.w[r];
    const double scale = sampled > 0 ? c.weight_left / sampled : 0;
    const size_t n = static_cast<size_t>(m - 1), last = n;
    std::vector<double> a(n * n, 0.0), b(n, 0.0), xr(n);
    const double delta = fx - f0;
    for (size_t r = 0; r < rows; ++r) {
        const uint8_t* z = &c.z[r * static_cast<size_t>(m)];
        const double w = r < c.fixed ? c.w[r] : c.w[r] * scale;
        const double t = y[r] - f0 - z[last] * delta;
        for (size_t j = 0; j < n; ++j) xr[j] = static_cast<double>(z[j]) - z[last];
        for (size_t j = 0; j < n; ++j) {
            if (xr[j] == 0) continue;
            const double wx = w * xr[j];
            b[j] += wx * t;
            for (size_t k = 0; k <= j; ++k) a[j * n + k] += wx * xr[k];
        }
    }
    std::vector<double> free_values;
    undetermined = solve_psd(a, b, n, free_values);
    double sum = 0;
    std::copy(free_values.begin(), free_values.end(), phi.begin());
    for (size_t j = 0; j < n; ++j) sum += phi[j];
    phi[last] = delta - sum;
    return phi;
}

Explanation make_explanation(const Segmentation& seg, const Coalitions& c,
                             const std::vector<double>& y, size_t rows, double fx, double f0) {
    int undetermined = 0;
    const std::vector<double> phi = solve_values(c, y, rows, fx, f0, undetermined);
    Explanation e;
    e.segments = seg.labels;
    e.segment_weights.resize(phi.size());
    double sum = 0;
    for (size_t j = 0; j < phi.size(); ++j) {
        e.segment_weights[j] = static_cast<float>(phi[j]);
        sum += phi[j];
    }
    e.map.reset(Shape{seg.height, seg.width});
    for (size_t i = 0; i < seg.labels.size(); ++i)
        e.map[static_cast<int64_t>(i)] = e.segment_weights[static_cast<size_t>(seg.labels[i])];
    e.extras["boundaries"] = Tensor(Shape{seg.height, seg.width});
    const std::vector<uint8_t> edges = segment_boundaries(seg.labels, seg.height, seg.width);
    for (size_t i = 0; i < edges.size(); ++i)
        e.extras["boundaries"][static_cast<int64_t>(i)] = edges[i];
    e.stats["score"] = fx;
    e.stats["base"] = f0;
    e.stats["sum_values"] = sum;
    e.stats["efficiency_error"] = std::fabs(sum - (fx - f0));
    e.stats["samples"] = static_cast<double>(rows);
    e.stats["evaluations"] = static_cast<double>(rows + 2);
    e.stats["enumerated_sizes"] = c.enumerated_sizes;
    e.stats["segments"] = static_cast<double>(phi.size());
    e.stats["undetermined"] = undetermined;
    return e;
}

// What a hidden segment shows: the image's mean colour (0), black (1) or the image blurred (2).
Tensor hidden_image(const Tensor& x, int kind, double blur_sigma, const InputSpec& spec) {
    const int64_t C = x.shape()[3], hw = x.size() / C;
    Tensor base(x.shape());
    if (kind == 2) return gaussian_blur(x, static_cast<float>(blur_sigma));
    std::vector<double> v(static_cast<size_t>(C), 0.0);
    if (kind == 0) {
        for (int64_t i = 0; i < x.size(); ++i) v[static_cast<size_t>(i % C)] += x[i];
        for (double& s : v) s /= static_cast<double>(hw);
    } else {
        const std::vector<float> black = black_value(spec);
        for (int64_t ch = 0; ch < C; ++ch)
            v[static_cast<size_t>(ch)] = black[static_cast<size_t>(ch)];
    }
    for (int64_t i = 0; i < x.size(); ++i)
        base[i] = static_cast<float>(v[static_cast<size_t>(i % C)]);
    return base;
}

// Rows [extra, extra + n) of the batch: x with the segments off in coalitions first .. first + n
// taken from `base`; with extra = 2, rows 0 and 1 are x and the baseline.
Tensor coalition_batch(const Tensor& x, const Tensor& base, const Segmentation& seg,
                       const Coalitions& c, size_t first, size_t n, size_t extra) {
    const int64_t C = x.shape()[3];
    const size_t hw = seg.labels.size(), m = static_cast<size_t>(c.m);
    Tensor b = repeat_image(x, static_cast<int64_t>(n + extra));
    if (extra) std::copy(base.data(), base.data() + base.size(), b.data() + base.size());
    for (size_t r = 0; r < n; ++r) {
        const uint8_t* z = &c.z[(first + r) * m];
        float* dst = b.data() + static_cast<int64_t>(r + extra) * static_cast<int64_t>(hw) * C;
        for (size_t i = 0; i < hw; ++i) {
            if (z[static_cast<size_t>(seg.labels[i])]) continue;
            for (int64_t ch = 0; ch < C; ++ch)
                dst[static_cast<int64_t>(i) * C + ch] = base[static_cast<int64_t>(i) * C + ch];
        }
    }
    return b;
}

Expected<Explanation> kernel_shap(const ExplanationMethod& m, const Tensor& x, const Target& t,
                                  const Params& p, ExplainContext& ctx) {
    Expected<Segmentation> seg = superpixels_from_params(m, x, p, ctx);
    if (!seg) return seg.status();
    return kernel_shap_on_segments(m, x, t, p, ctx, *seg);
}

}  // namespace

Expected<Explanation> kernel_shap_on_segments(const ExplanationMethod& m, const Tensor& x,
                                              const Target& t, const Params& p, ExplainContext& ctx,
                                              const Segmentation& seg) {
    const int classes = ctx.probe.num_classes();
    if (t.cls < 0 || t.cls >= classes || t.contrast >= classes)
        return invalid_argument("kernel_shap: target class " + std::to_string(t.cls) +
                                (t.contrast >= 0 ? " vs " + std::to_string(t.contrast) : "") +
                                " is outside the model's " + std::to_string(classes) + " classes");
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]);
    if (seg.height != H || seg.width != W || seg.labels.size() != static_cast<size_t>(H) * W ||
        seg.count < 1)
        return invalid_argument("kernel_shap: segmentation " + std::to_string(seg.height) + "x" +
                                std::to_string(seg.width) + " with " + std::to_string(seg.count) +
                                " segments does not fit the image " + std::to_string(H) + "x" +
                                std::to_string(W));
    const int M = seg.count;

    const Tensor base = hidden_image(x, static_cast<int>(m.param(p, "baseline")),
                                     m.param(p, "blur_sigma"), ctx.probe.input_spec());
    int64_t budget = static_cast<int64_t>(m.param(p, "samples"));
    if (budget == 0) budget = 2 * static_cast<int64_t>(M) + 2048;
    if (M <= 30) budget = std::min<int64_t>(budget, (int64_t{1} << M) - 2);
    const Coalitions c = sample_coalitions(M, budget, ctx.seed);
    const size_t rows = c.rows();
    const int batch = static_cast<int>(m.param(p, "batch"));

    std::vector<double> y(rows);
    double fx = 0, f0 = 0;
    ProbeRequest plain;
    const size_t partial_from = 2 * static_cast<size_t>(M);
    // The first engine call also carries x and the baseline (its rows 0 and 1).
    for (size_t first = 0, call = 0; first < rows || call == 0; ++call) {
        const size_t n = std::min<size_t>(static_cast<size_t>(batch), rows - first);
        const size_t extra = call == 0 ? 2 : 0;
        const Tensor b = coalition_batch(x, base, seg, c, first, n, extra);
        auto res = ctx.probe.run(b, plain);
        if (!res) return res.status();
        if (extra) {
            fx = target_score(*res, 0, t);
            f0 = target_score(*res, 1, t);
        }
        for (size_t r = 0; r < n; ++r)
            y[first + r] = target_score(*res, static_cast<int64_t>(r + extra), t);
        first += n;
        if (!ctx.report(rows ? static_cast<float>(first) / static_cast<float>(rows) : 1.f))
            return cancelled("kernel_shap cancelled after " + std::to_string(first) + " of " +
                             std::to_string(rows) + " coalitions");
        if (ctx.partial && first < rows && first >= partial_from) {
            Explanation e = make_explanation(seg, c, y, first, fx, f0);
            stamp_explanation(m, x, t, p, ctx, e);
            ctx.partial(e);
        }
        if (first >= rows) break;
    }
    return make_explanation(seg, c, y, rows, fx, f0);
}

const ExplanationMethod& method_KernelShap() {
    static const FnMethod m(
        {.name = "kernel_shap",
         .title = "KernelSHAP",
         .traits = {.cost = MethodCost::kJob,
                    .default_score = Target::Score::kProbability,
                    .norm = MapNorm::kSignedPercentile99},
         .card =
             {.what = "Cuts the image into superpixels and estimates each one's Shapley value: its "
                      "average effect "
                      "on the score over coalitions of the other superpixels, shown or hidden. "
                      "Coalitions are "
                      "sampled with the Shapley kernel's weights and the values solved by weighted "
                      "least squares, "
                      "so that they add up to f(image) - f(all hidden) exactly.",
              .reading = "One colour per superpixel: red raises the class score when shown, blue "
                         "lowers it. "
                         "The values sum to the score change from the hidden image.",
              .passes = "1 forward pass per coalition ({samples} coalitions; 0 means shap's "
                        "automatic 2M + 2048 for M superpixels) plus the image and the "
                        "baseline, {batch} per engine call",
              .paper = "Lundberg & Lee 2017, A Unified Approach to Interpreting Model Predictions",
              .anchor =
                  "shap's KernelExplainer (its sampler and auto budget) over LIME's superpixels"},
         .params = with_superpixel_params(
             {{.name = "baseline",
               .label = "Hidden parts",
               .def = 0,
               .min = 0,
               .max = 2,
               .integer = true,
               .choices = {"image mean", "black", "blurred"},
               .help = "What a hidden superpixel shows: the image's mean colour, black, or the "
                       "image blurred.",
               .anchor = "shap's image masking (a constant; the image's mean)"},
              {.name = "blur_sigma",
               .label = "Blur sigma",
               .def = 5,
               .min = 0.1,
               .max = 100,
               .help = "Gaussian sigma in pixels of the blurred baseline.",
               .anchor = "cnnlens"},
              {.name = "samples",
               .label = "Coalitions",
               .def = 0,
               .min = 0,
               .max = 100000,
               .integer = true,
               .help = "Coalitions evaluated: more gives steadier values; at 2^M - 2 every "
                       "coalition is "
                       "evaluated and the values are exact.",
               .anchor = "shap's \"auto\": 2M + 2048",
               .range = "0 (automatic: 2M + 2048 for M superpixels) or 1 .. 100000"},
              batch_param("Coalitions", 100, 4096, "cnnlens (speed only)", "values")}),
         .explain = kernel_shap});
    return m;
}

}  // namespace cnnlens
