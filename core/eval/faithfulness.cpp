// Deletion / insertion curves (RISE) and their random-order baselines.
#include "core/eval/faithfulness.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/base/rng.h"
#include "core/explain/explain.h"
#include "core/explain/method_util.h"

namespace cnnlens {

namespace {

// steps + 1 images: image k has the first count(k) pixels of `order` taken from `to`, the rest
// from `from`.
Tensor curve_batch(const Tensor& from, const Tensor& to, const std::vector<int>& order, int steps,
                   std::vector<float>& fraction) {
    const int64_t h = from.shape()[1], w = from.shape()[2], c = from.shape()[3], n = h * w,
                  per = n * c;
    Tensor batch(Shape{steps + 1, h, w, c});
    fraction.assign(static_cast<size_t>(steps + 1), 0.f);
    Tensor cur = from.clone();
    int64_t done = 0;
    for (int k = 0; k <= steps; ++k) {
        const int64_t upto = n * k / steps;
        for (; done < upto; ++done) {
            const int64_t p = order[static_cast<size_t>(done)];
            for (int64_t ch = 0; ch < c; ++ch) cur[p * c + ch] = to[p * c + ch];
        }
        std::copy(cur.data(), cur.data() + per, batch.data() + k * per);
        fraction[static_cast<size_t>(k)] = static_cast<float>(upto) / static_cast<float>(n);
    }
    return batch;
}

Status run_curve(ModelProbe& probe, const Tensor& from, const Tensor& to,
                 const std::vector<int>& order, int cls, const FaithfulnessOptions& opt,
                 FaithCurve& curve, float weight) {
    std::vector<float> fraction;
    Tensor batch = curve_batch(from, to, order, opt.steps, fraction);
    Expected<ProbeResult> r = probe.run(batch, ProbeRequest{});
    if (!r) return r.status();
    Target t;
    t.cls = cls;
    t.score = opt.score;
    if (curve.score.empty()) curve.score.assign(fraction.size(), 0.f);
    curve.fraction = std::move(fraction);
    for (size_t k = 0; k < curve.score.size(); ++k)
        curve.score[k] += weight * static_cast<float>(target_score(*r, static_cast<int64_t>(k), t));
    curve.auc = trapezoid_auc(curve.fraction, curve.score);
    return Status::ok();
}

}  // namespace

Tensor faith_baseline(const Tensor& image, FaithBaseline b, float sigma, const InputSpec& spec) {
    if (b == FaithBaseline::kBlur) return gaussian_blur(image, sigma);
    Tensor out(image.shape());
    const int64_t c = image.shape()[3];
    std::vector<float> value;
    if (b == FaithBaseline::kBlack) {
        value = black_value(spec);
    } else {
        std::vector<double> sum(static_cast<size_t>(c), 0.0);
        for (int64_t i = 0; i < image.size(); ++i) sum[static_cast<size_t>(i % c)] += image[i];
        const double pixels = static_cast<double>(image.size() / c);
        for (double s : sum) value.push_back(static_cast<float>(s / pixels));
    }
    for (int64_t i = 0; i < out.size(); ++i)
        out[i] = value[static_cast<size_t>(i % c) % value.size()];
    return out;
}

const char* faith_baseline_name(FaithBaseline b) {
    switch (b) {
        case FaithBaseline::kBlack:
            return "black";
        case FaithBaseline::kBlur:
            return "blur";
        case FaithBaseline::kMean:
            return "mean";
    }
    return "?";
}

Expected<FaithBaseline> parse_faith_baseline(std::string_view name) {
    for (FaithBaseline b : {FaithBaseline::kBlack, FaithBaseline::kBlur, FaithBaseline::kMean})
        if (name == faith_baseline_name(b)) return b;
    return invalid_argument("faithfulness: baseline '" + std::string(name) +
                            "' is not one of black, blur, mean");
}

double pearson(std::span<const double> a, std::span<const double> b) {
    if (a.size() != b.size() || a.size() < 2) return NAN;
    const double n = static_cast<double>(a.size());
    double ma = 0, mb = 0;
    for (size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
    ma /= n;
    mb /= n;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    if (!(saa > 0) || !(sbb > 0)) return NAN;
    return sab / std::sqrt(saa * sbb);
}

std::vector<std::vector<int>> random_subsets(int n, int size, int count, uint64_t seed) {
    Rng rng(seed);
    std::vector<int> perm(static_cast<size_t>(n));
    std::vector<std::vector<int>> out;
    for (int r = 0; r < count; ++r) {
        std::iota(perm.begin(), perm.end(), 0);
        for (int i = 0; i < size; ++i) {
            const int j = i + static_cast<int>(rng.below(static_cast<uint32_t>(n - i)));
            std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
        }
        out.emplace_back(perm.begin(), perm.begin() + size);
    }
    return out;
}

Expected<FaithCorrelationResult> faithfulness_correlation(
    ModelProbe& probe, const Tensor& image, const Tensor& map, int cls,
    const FaithCorrelationOptions& opt, const std::function<bool(float)>& progress) {
    const Shape& s = image.shape();
    const int64_t pixels = s.rank() == 4 ? s[1] * s[2] : 0;
    if (opt.runs < 2)
        return invalid_argument("faithfulness correlation: runs = " + std::to_string(opt.runs) +
                                " (expected >= 2: a correlation needs two points)");
    if (pixels > 0 && (opt.subset_size < 1 || opt.subset_size > pixels))
        return invalid_argument(
            "faithfulness correlation: subset_size = " + std::to_string(opt.subset_size) +
            " (expected 1.." + std::to_string(pixels) + ", the pixels of the image)");
    return faithfulness_correlation(
        probe, image, map, cls,
        random_subsets(static_cast<int>(pixels), opt.subset_size, opt.runs, opt.seed), opt,
        progress);
}

Expected<FaithCorrelationResult> faithfulness_correlation(
    ModelProbe& probe, const Tensor& image, const Tensor& map, int cls,
    const std::vector<std::vector<int>>& subsets, const FaithCorrelationOptions& opt,
    const std::function<bool(float)>& progress) {
    const Shape& s = image.shape();
    if (s.rank() != 4 || s[0] != 1)
        return invalid_argument("faithfulness correlation: expects one image [1,H,W,C], got " +
                                s.str());
    if (map.shape() != Shape{s[1], s[2]})
        return invalid_argument("faithfulness correlation: the map is " + map.shape().str() +
                                " but the image is " + std::to_string(s[1]) + "x" +
                                std::to_string(s[2]));
    if (cls < 0 || cls >= probe.num_classes())
        return invalid_argument("faithfulness correlation: class " + std::to_string(cls) +
                                " is out of range (the model has " +
                                std::to_string(probe.num_classes()) + " classes)");
    if (opt.batch < 1)
        return invalid_argument("faithfulness correlation: batch = " + std::to_string(opt.batch) +
                                " (expected >= 1)");
    const int64_t n = s[1] * s[2], c = s[3];
    for (size_t r = 0; r < subsets.size(); ++r)
        for (int p : subsets[r])
            if (p < 0 || p >= n)
                return invalid_argument("faithfulness correlation: subset " + std::to_string(r) +
                                        " holds pixel " + std::to_string(p) + " (expected 0.." +
                                        std::to_string(n - 1) + ")");
    const Tensor base = faith_baseline(image, opt.baseline, opt.blur_sigma, probe.input_spec());
    Target t;
    t.cls = cls;
    t.score = opt.score;
    Expected<ProbeResult> r0 = probe.run(image, ProbeRequest{});
    if (!r0) return r0.status();
    const double y = target_score(*r0, 0, t);

    FaithCorrelationResult res;
    const int runs = static_cast<int>(subsets.size());
    for (int first = 0; first < runs; first += opt.batch) {
        const int count = std::min(opt.batch, runs - first);
        Tensor batch = repeat_image(image, count);
        for (int k = 0; k < count; ++k) {
            float* row = batch.data() + k * n * c;
            double sum = 0;
            for (int p : subsets[static_cast<size_t>(first + k)]) {
                for (int64_t ch = 0; ch < c; ++ch) row[p * c + ch] = base[p * c + ch];
                sum += map[p];
            }
            res.attribution_sums.push_back(sum);
        }
        Expected<ProbeResult> r = probe.run(batch, ProbeRequest{});
        if (!r) return r.status();
        for (int k = 0; k < count; ++k) res.score_drops.push_back(y - target_score(*r, k, t));
        const int done = first + count;
        if (progress && !progress(static_cast<float>(done) / static_cast<float>(runs)) &&
            done < runs)
            return cancelled("faithfulness correlation cancelled after " + std::to_string(done) +
                             " of " + std::to_string(runs) + " runs");
    }
    res.correlation = pearson(res.attribution_sums, res.score_drops);
    return res;
}

double trapezoid_auc(const std::vector<float>& x, const std::vector<float>& y) {
    double a = 0;
    for (size_t i = 1; i < x.size() && i < y.size(); ++i)
        a += 0.5 * (static_cast<double>(x[i]) - x[i - 1]) * (static_cast<double>(y[i]) + y[i - 1]);
    return a;
}

std::vector<int> rank_pixels(const Tensor& map) {
    std::vector<int> order(static_cast<size_t>(map.size()));
    std::iota(order.begin(), order.end(), 0);
    // NaN ranks last so it never breaks the strict weak ordering.
    auto key = [&](int i) {
        const float v = map[i];
        return std::isnan(v) ? -INFINITY : v;
    };
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) > key(b); });
    return order;
}

Expected<FaithfulnessResult> deletion_insertion(ModelProbe& probe, const Tensor& image,
                                                const Tensor& map, int cls,
                                                const FaithfulnessOptions& opt,
                                                const std::function<bool(float)>& progress) {
    const Shape& s = image.shape();
    if (s.rank() != 4 || s[0] != 1)
        return invalid_argument("faithfulness: expects one image [1,H,W,C], got " + s.str());
    if (map.shape() != Shape{s[1], s[2]})
        return invalid_argument("faithfulness: the map is " + map.shape().str() +
                                " but the image is " + std::to_string(s[1]) + "x" +
                                std::to_string(s[2]) + " (resize the map to the input first)");
    if (cls < 0 || cls >= probe.num_classes())
        return invalid_argument("faithfulness: class " + std::to_string(cls) +
                                " is out of range (the model has " +
                                std::to_string(probe.num_classes()) + " classes)");
    if (opt.steps < 1 || opt.steps > s[1] * s[2])
        return invalid_argument("faithfulness: steps = " + std::to_string(opt.steps) +
                                " (expected 1.." + std::to_string(s[1] * s[2]) + ")");
    if (opt.random_orders < 0)
        return invalid_argument("faithfulness: random_orders = " +
                                std::to_string(opt.random_orders) + " (expected >= 0)");

    const InputSpec& spec = probe.input_spec();
    const Tensor del_base = faith_baseline(image, opt.deletion_baseline, opt.blur_sigma, spec);
    const Tensor ins_base = faith_baseline(image, opt.insertion_baseline, opt.blur_sigma, spec);
    const std::vector<int> order = rank_pixels(map);
    FaithfulnessResult res;
    res.cls = cls;
    const int curves = 2 + 2 * opt.random_orders;
    int done = 0;
    auto step = [&]() -> Status {
        ++done;
        if (progress && !progress(static_cast<float>(done) / static_cast<float>(curves)) &&
            done < curves)
            return cancelled("faithfulness cancelled after " + std::to_string(done) + " of " +
                             std::to_string(curves) + " curves");
        return Status::ok();
    };
    CNNLENS_RETURN_IF_ERROR(run_curve(probe, image, del_base, order, cls, opt, res.deletion, 1.f));
    CNNLENS_RETURN_IF_ERROR(step());
    CNNLENS_RETURN_IF_ERROR(run_curve(probe, ins_base, image, order, cls, opt, res.insertion, 1.f));
    CNNLENS_RETURN_IF_ERROR(step());
    Rng rng(opt.seed);
    std::vector<int> random(order.size());
    for (int k = 0; k < opt.random_orders; ++k) {
        std::iota(random.begin(), random.end(), 0);
        for (size_t i = random.size() - 1; i > 0; --i)
            std::swap(random[i], random[rng.below(static_cast<uint32_t>(i + 1))]);
        const float w = 1.f / static_cast<float>(opt.random_orders);
        CNNLENS_RETURN_IF_ERROR(
            run_curve(probe, image, del_base, random, cls, opt, res.deletion_random, w));
        CNNLENS_RETURN_IF_ERROR(step());
        CNNLENS_RETURN_IF_ERROR(
            run_curve(probe, ins_base, image, random, cls, opt, res.insertion_random, w));
        CNNLENS_RETURN_IF_ERROR(step());
    }
    return res;
}

}  // namespace cnnlens
