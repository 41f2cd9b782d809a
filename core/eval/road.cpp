// ROAD curves and the noisy linear imputation (conjugate gradients on the imputation system).
#include "core/eval/road.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/eval/faithfulness.h"
#include "core/eval/robustness.h"
#include "core/explain/method_util.h"

namespace cnnlens {

namespace {

struct Offset {
    int dy, dx;
    double w;
};
constexpr Offset kNeighbours[] = {{1, 1, 1.0 / 12},  {0, 1, 1.0 / 6},  {-1, 1, 1.0 / 12},
                                  {1, -1, 1.0 / 12}, {0, -1, 1.0 / 6}, {-1, -1, 1.0 / 12},
                                  {1, 0, 1.0 / 6},   {-1, 0, 1.0 / 6}};

}  // namespace

Expected<Tensor> noisy_linear_imputation(const Tensor& image, const std::vector<uint8_t>& removed,
                                         const std::vector<float>& noise_std, Rng& rng) {
    const Shape& s = image.shape();
    if (s.rank() != 4 || s[0] != 1)
        return invalid_argument("road: expects one image [1,H,W,C], got " + s.str());
    const int h = static_cast<int>(s[1]), w = static_cast<int>(s[2]), c = static_cast<int>(s[3]);
    const int n = h * w;
    if (static_cast<int>(removed.size()) != n)
        return invalid_argument("road: the mask has " + std::to_string(removed.size()) +
                                " pixels, the image " + std::to_string(n));
    std::vector<int> var(static_cast<size_t>(n), -1), unknown;
    for (int p = 0; p < n; ++p)
        if (removed[static_cast<size_t>(p)]) {
            var[static_cast<size_t>(p)] = static_cast<int>(unknown.size());
            unknown.push_back(p);
        }
    Tensor out = image.clone();
    const size_t m = unknown.size();
    if (m == 0) return out;
    if (static_cast<int>(m) == n)
        return invalid_argument("road: every pixel is removed, so nothing is left to impute from");

    // Row i: diag[i] v_i - sum_{removed neighbours j} w_ij v_j = sum_{kept neighbours} w v_j,
    // diag[i] the weight of neighbours inside the image. Symmetric positive definite because
    // every group of removed pixels touches a kept one.
    std::vector<double> diag(m, 0.0);
    std::vector<std::vector<std::pair<int, double>>> nb(m);
    for (size_t i = 0; i < m; ++i) {
        const int y = unknown[i] / w, x = unknown[i] % w;
        for (const Offset& o : kNeighbours) {
            const int yy = y + o.dy, xx = x + o.dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            diag[i] += o.w;
            nb[i].push_back({yy * w + xx, o.w});
        }
    }
    auto apply = [&](const std::vector<double>& v, std::vector<double>& out_v) {
        for (size_t i = 0; i < m; ++i) {
            double a = diag[i] * v[i];
            for (auto [q, wt] : nb[i]) {
                const int j = var[static_cast<size_t>(q)];
                if (j >= 0) a -= wt * v[static_cast<size_t>(j)];
            }
            out_v[i] = a;
        }
    };
    std::vector<double> b(m), v(m), r(m), d(m), ad(m);
    for (int ch = 0; ch < c; ++ch) {
        double bnorm = 0;
        for (size_t i = 0; i < m; ++i) {
            double sum = 0;
            for (auto [q, wt] : nb[i])
                if (var[static_cast<size_t>(q)] < 0)
                    sum += wt * image[static_cast<int64_t>(q) * c + ch];
            b[i] = sum;
            bnorm += sum * sum;
            v[i] = 0;
        }
        // Conjugate gradients from 0; the system has at most H*W unknowns.
        r = b;
        d = r;
        double rr = bnorm;
        const double tol = 1e-24 * std::max(bnorm, 1e-300);
        for (size_t it = 0; it < 10 * m + 100 && rr > tol; ++it) {
            apply(d, ad);
            double dad = 0;
            for (size_t i = 0; i < m; ++i) dad += d[i] * ad[i];
            if (!(dad > 0)) break;
            const double alpha = rr / dad;
            double rr2 = 0;
            for (size_t i = 0; i < m; ++i) {
                v[i] += alpha * d[i];
                r[i] -= alpha * ad[i];
                rr2 += r[i] * r[i];
            }
            const double beta = rr2 / rr;
            rr = rr2;
            for (size_t i = 0; i < m; ++i) d[i] = r[i] + beta * d[i];
        }
        for (size_t i = 0; i < m; ++i)
            out[static_cast<int64_t>(unknown[i]) * c + ch] = static_cast<float>(v[i]);
    }
    const bool noisy =
        std::any_of(noise_std.begin(), noise_std.end(), [](float x) { return x != 0; });
    if (noisy)
        for (size_t i = 0; i < m; ++i)
            for (int ch = 0; ch < c; ++ch)
                out[static_cast<int64_t>(unknown[i]) * c + ch] +=
                    noise_std[static_cast<size_t>(ch) % noise_std.size()] * rng.normal();
    return out;
}

Expected<RoadResult> road(ModelProbe& probe, const Tensor& image, const Tensor& map, int cls,
                          const RoadOptions& opt, const std::function<bool(float)>& progress) {
    const Shape& s = image.shape();
    if (s.rank() != 4 || s[0] != 1)
        return invalid_argument("road: expects one image [1,H,W,C], got " + s.str());
    if (map.shape() != Shape{s[1], s[2]})
        return invalid_argument("road: the map is " + map.shape().str() + " but the image is " +
                                std::to_string(s[1]) + "x" + std::to_string(s[2]));
    if (cls < 0 || cls >= probe.num_classes())
        return invalid_argument("road: class " + std::to_string(cls) +
                                " is out of range (the model has " +
                                std::to_string(probe.num_classes()) + " classes)");
    if (opt.percentages.empty()) return invalid_argument("road: no percentages");
    for (int p : opt.percentages)
        if (p < 0 || p > 99)
            return invalid_argument("road: percentage " + std::to_string(p) + " (expected 0..99)");
    if (!(opt.noise >= 0))
        return invalid_argument("road: noise = " + std::to_string(opt.noise) + " (expected >= 0)");
    const int64_t n = s[1] * s[2], c = s[3];
    const std::vector<float> noise_std =
        noise_half_width(probe.input_spec(), static_cast<int>(c), opt.noise);
    const std::vector<int> morf = rank_pixels(map);
    std::vector<int> lerf(morf.size());
    std::iota(lerf.begin(), lerf.end(), 0);
    auto key = [&](int i) { return std::isnan(map[i]) ? INFINITY : map[i]; };
    std::stable_sort(lerf.begin(), lerf.end(), [&](int a, int b) { return key(a) < key(b); });

    RoadResult res;
    res.percentages = opt.percentages;
    Rng rng(opt.seed);
    Target t;
    t.cls = cls;
    t.score = opt.score;
    const int k = static_cast<int>(opt.percentages.size());
    for (int side = 0; side < 2; ++side) {
        const std::vector<int>& order = side == 0 ? morf : lerf;
        Tensor batch(Shape{k, s[1], s[2], c});
        for (int j = 0; j < k; ++j) {
            std::vector<uint8_t> removed(static_cast<size_t>(n), 0);
            const int64_t count = n * opt.percentages[static_cast<size_t>(j)] / 100;
            for (int64_t q = 0; q < count; ++q)
                removed[static_cast<size_t>(order[static_cast<size_t>(q)])] = 1;
            auto x = noisy_linear_imputation(image, removed, noise_std, rng);
            if (!x) return x.status();
            std::copy(x->data(), x->data() + x->size(), batch.data() + j * n * c);
        }
        Expected<ProbeResult> r = probe.run(batch, ProbeRequest{});
        if (!r) return r.status();
        std::vector<float>& curve = side == 0 ? res.morf : res.lerf;
        double sum = 0;
        for (int j = 0; j < k; ++j) {
            curve.push_back(static_cast<float>(target_score(*r, j, t)));
            sum += curve.back();
        }
        (side == 0 ? res.morf_mean : res.lerf_mean) = sum / k;
        if (progress && !progress(static_cast<float>(side + 1) / 2.f) && side == 0)
            return cancelled("road cancelled after the MoRF curve");
    }
    return res;
}

}  // namespace cnnlens
