// Part 5 of the report: how far to trust the report's maps. The methods of parts 1, 3 and 4
// (saliency, LIME, SmoothGrad), and a seeded random map as the floor every method must clear, are
// scored on the report's images with the trust metrics of core/eval/metric.h; the section ranks
// them metric by metric and overall, and plots their mean deletion and insertion curves against
// the random pixel order. Plots are inline SVG: they scale with the page and need no file.
#include "core/report/report_trust.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/base/assert.h"
#include "core/base/rng.h"

namespace cnnlens {
namespace {

// The metrics the ranking reads, in the table's order. Sparseness and complexity say how
// concentrated a map is, not whether it is right: they are shown but not ranked.
constexpr const char* kRanked[] = {
    "deletion_auc", "insertion_auc", "road_morf", "road_lerf", "faithfulness_correlation",
    "infidelity"};
constexpr const char* kShown[] = {"sparseness", "complexity"};

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

double mean_of(const std::vector<double>& v) {
    double s = 0;
    int n = 0;
    for (double x : v)
        if (std::isfinite(x)) s += x, ++n;
    return n ? s / n : std::nan("");
}

double std_of(const std::vector<double>& v) {
    const double m = mean_of(v);
    double s = 0;
    int n = 0;
    for (double x : v)
        if (std::isfinite(x)) s += (x - m) * (x - m), ++n;
    return n > 1 ? std::sqrt(s / (n - 1)) : std::nan("");
}

// One plot: curves of (fraction, score) in [0,1]^2, each with its colour and name; dashed when
// `dashed`.
struct Curve {
    std::string name, colour;
    const std::vector<double>* y;
    bool dashed = false;
};

std::string svg_plot(const std::string& title, const std::string& y_label,
                     const std::vector<Curve>& curves) {
    constexpr int kW = 420, kH = 260, kL = 46, kR = 130, kT = 24, kB = 38;
    const int pw = kW - kL - kR, ph = kH - kT - kB;
    auto px = [&](double f) { return kL + f * pw; };
    auto py = [&](double v) { return kT + (1.0 - std::clamp(v, 0.0, 1.0)) * ph; };
    std::string s =
        "<svg viewBox=\"0 0 " + std::to_string(kW) + " " + std::to_string(kH) + "\" width=\"" +
        std::to_string(kW) + "\" height=\"" + std::to_string(kH) +
        "\" font-family=\"system-ui,sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"" +
        title + "\">\n";
    s += "<text x=\"" + std::to_string(kL) + "\" y=\"14\" font-weight=\"bold\">" + title +
         "</text>\n";
    for (int k = 0; k <= 4; ++k) {
        const double v = k / 4.0;
        s += "<line x1=\"" + fmt("%.1f", px(0)) + "\" x2=\"" + fmt("%.1f", px(1)) + "\" y1=\"" +
             fmt("%.1f", py(v)) + "\" y2=\"" + fmt("%.1f", py(v)) + "\" stroke=\"#e4e4e4\"/>\n";
        s += "<text x=\"" + fmt("%.1f", px(0) - 4) + "\" y=\"" + fmt("%.1f", py(v) + 4) +
             "\" text-anchor=\"end\">" + fmt("%.2g", v) + "</text>\n";
        s += "<text x=\"" + fmt("%.1f", px(v)) + "\" y=\"" + fmt("%.1f", py(0) + 14) +
             "\" text-anchor=\"middle\">" + fmt("%.0f", 100 * v) + "%</text>\n";
    }
    s += "<rect x=\"" + fmt("%.1f", px(0)) + "\" y=\"" + fmt("%.1f", py(1)) + "\" width=\"" +
         std::to_string(pw) + "\" height=\"" + std::to_string(ph) +
         "\" fill=\"none\" stroke=\"#888\"/>\n";
    s += "<text x=\"" + fmt("%.1f", px(0.5)) + "\" y=\"" + std::to_string(kH - 6) +
         "\" text-anchor=\"middle\">pixels changed</text>\n";
    s += "<text transform=\"translate(12," + fmt("%.1f", py(0.5)) +
         ") rotate(-90)\" text-anchor=\"middle\">" + y_label + "</text>\n";
    int row = 0;
    for (const Curve& c : curves) {
        const std::vector<double>& y = *c.y;
        if (y.size() < 2) continue;
        std::string pts;
        for (size_t i = 0; i < y.size(); ++i) {
            if (i) pts += ' ';
            pts += fmt("%.1f", px(static_cast<double>(i) / static_cast<double>(y.size() - 1))) +
                   "," + fmt("%.1f", py(y[i]));
        }
        const std::string dash = c.dashed ? " stroke-dasharray=\"5 3\"" : "";
        s += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + c.colour +
             "\" stroke-width=\"2\"" + dash + "/>\n";
        const double ly = kT + 10 + 16 * row++;
        s += "<line x1=\"" + std::to_string(kW - kR + 10) + "\" x2=\"" +
             std::to_string(kW - kR + 30) + "\" y1=\"" + fmt("%.1f", ly) + "\" y2=\"" +
             fmt("%.1f", ly) + "\" stroke=\"" + c.colour + "\" stroke-width=\"2\"" + dash + "/>\n";
        s += "<text x=\"" + std::to_string(kW - kR + 34) + "\" y=\"" + fmt("%.1f", ly + 4) + "\">" +
             c.name + "</text>\n";
    }
    return s + "</svg>\n";
}

// Ranks `v` (one value per method) so 1 is best in the metric's direction; NaN ranks last; ties
// share the mean of their ranks.
std::vector<double> ranks(const std::vector<double>& v, bool higher_is_better) {
    const size_t n = v.size();
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    auto key = [&](size_t i) -> double {
        if (!std::isfinite(v[i])) return -HUGE_VAL;
        return higher_is_better ? v[i] : -v[i];
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return key(a) > key(b); });
    std::vector<double> r(n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && key(order[j + 1]) == key(order[i])) ++j;
        for (size_t k = i; k <= j; ++k) r[order[k]] = (static_cast<double>(i + j) / 2.0) + 1.0;
        i = j + 1;
    }
    return r;
}

}  // namespace

TrustScores trust_start(const ReportOptions& options, size_t images) {
    TrustScores t;
    t.images = images;
    t.methods.resize(4);
    t.methods[0].label = "saliency";
    t.methods[0].method = find_method("saliency");
    t.methods[1].label = "SmoothGrad";
    t.methods[1].method = find_method("smoothgrad");
    t.methods[1].params.set("samples", options.smoothgrad_samples);
    t.methods[2].label = "LIME";
    t.methods[2].method = find_method("lime");
    t.methods[2].params.set("samples", options.lime_samples);
    t.methods[3].label = "random map";
    for (const char* n : kRanked) t.metrics.push_back(find_metric(n));
    for (const char* n : kShown) t.metrics.push_back(find_metric(n));
    for (TrustScores::Method& m : t.methods) m.values.assign(t.metrics.size(), {});
    return t;
}

Status trust_score(TrustScores& t, GraphProbe& probe, size_t method, size_t image, const Tensor& x,
                   int cls, const Tensor& map, uint64_t seed, const ProgressFn& progress) {
    CNNLENS_ASSERT(method < t.methods.size() && image < t.images);
    TrustScores::Method& m = t.methods[method];
    // Deletion and insertion come from deletion_insertion itself (it also gives the curves), the
    // rest from compute_metrics, with the same options `cnnlens evaluate` uses by default.
    const std::vector<const MetricDef*> rest(t.metrics.begin() + 2, t.metrics.end());
    const MetricOptions mo = seeded_metric_options(seed);
    FaithfulnessOptions curves = mo.deletion;
    curves.random_orders = 3;
    const int64_t h = x.shape()[1], w = x.shape()[2];
    MetricInput in;
    in.probe = &probe;
    in.image = x.clone();
    in.target.cls = cls;
    if (m.method) {
        in.target.score = m.method->traits().default_score;
        in.map = map.clone();
        in.method = m.method;
        in.params = m.params;
        in.explain_seed = seed;
    } else {
        Rng rng(seed + 7919 * (image + 1));
        in.map = Tensor(Shape{h, w});
        for (int64_t k = 0; k < in.map.size(); ++k) in.map[k] = rng.uniform();
    }
    // The curves take most of the time: they get the first 40 % of the progress.
    auto part = [&](float lo, float hi) -> ProgressFn {
        if (!progress) return {};
        return [&progress, lo, hi](float f) { return progress(lo + (hi - lo) * f); };
    };
    auto di = deletion_insertion(probe, x, in.map, cls, curves, part(0.f, 0.4f));
    if (!di) return Status(di.status().code(), m.label + ": " + di.status().message());
    auto v = compute_metrics(in, rest, mo, part(0.4f, 1.f));
    if (!v) return Status(v.status().code(), m.label + ": " + v.status().message());
    // Every part is computed: only now is anything kept, so a cancelled step changes nothing.
    m.values[0].push_back(di->deletion.auc);
    m.values[1].push_back(di->insertion.auc);
    const double n = static_cast<double>(t.images);
    auto add_curve = [&](std::vector<double>& acc, const FaithCurve& c) {
        if (acc.empty()) acc.assign(c.score.size(), 0.0);
        for (size_t k = 0; k < c.score.size() && k < acc.size(); ++k) acc[k] += c.score[k] / n;
    };
    add_curve(m.deletion, di->deletion);
    add_curve(m.insertion, di->insertion);
    if (!m.method) {
        add_curve(t.random_deletion, di->deletion_random);
        add_curve(t.random_insertion, di->insertion_random);
    }
    for (size_t k = 0; k < rest.size(); ++k) m.values[k + 2].push_back((*v)[k]);
    return Status::ok();
}

std::string trust_html(TrustScores& t, uint64_t seed, TrustTable& table) {
    std::vector<TrustScores::Method>& methods = t.methods;
    const std::vector<const MetricDef*>& metrics = t.metrics;
    const size_t n_ranked = std::size(kRanked);
    for (TrustScores::Method& m : methods) m.rank.assign(n_ranked, 0.0);
    for (size_t k = 0; k < n_ranked; ++k) {
        std::vector<double> means;
        for (const TrustScores::Method& m : methods) means.push_back(mean_of(m.values[k]));
        const std::vector<double> r = ranks(means, metrics[k]->higher_is_better);
        for (size_t j = 0; j < methods.size(); ++j) methods[j].rank[k] = r[j];
    }
    for (TrustScores::Method& m : methods) m.mean_rank = mean_of(m.rank);
    std::vector<size_t> order(methods.size());
    for (size_t j = 0; j < order.size(); ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return methods[a].mean_rank < methods[b].mean_rank;
    });

    table.metrics.clear();
    for (const MetricDef* d : metrics) table.metrics.emplace_back(d->name);
    table.rows.clear();
    for (size_t j : order) {
        TrustTable::Row r;
        r.method = methods[j].label;
        r.mean_rank = methods[j].mean_rank;
        for (const auto& v : methods[j].values) r.means.push_back(mean_of(v));
        table.rows.push_back(std::move(r));
    }

    std::string html =
        "<h2>5. How far to trust these maps</h2>\n<p>The methods of parts 1, 3 and 4, and a random "
        "map as the floor, scored on the " +
        std::to_string(t.images) +
        " images above (each map explains the image's row class), with the trust metrics of "
        "<code>cnnlens evaluate</code> at its defaults (seed " +
        std::to_string(seed) +
        "). Ranked by the mean of their ranks on the faithfulness metrics (1 = best); mean "
        "&plusmn; standard deviation over the images, the rank in brackets. Sparseness and "
        "complexity say how concentrated a map is, not whether it is right: shown, not "
        "ranked.</p>\n<table>\n<tr><th style=\"text-align:left\">method</th><th>mean rank</th>";
    for (const MetricDef* d : metrics)
        html += "<th title=\"" + std::string(d->good) + "\">" + std::string(d->title) +
                (d->higher_is_better ? " &uarr;" : " &darr;") + "</th>";
    html += "</tr>\n";
    for (size_t j : order) {
        const TrustScores::Method& m = methods[j];
        html += "<tr><td style=\"text-align:left\">" + m.label + "</td><td>" +
                fmt("%.2f", m.mean_rank) + "</td>";
        for (size_t k = 0; k < metrics.size(); ++k) {
            html += "<td>" + fmt("%.3f", mean_of(m.values[k])) + " &plusmn; " +
                    fmt("%.3f", std_of(m.values[k]));
            if (k < n_ranked) html += " (" + fmt("%g", m.rank[k]) + ")";
            html += "</td>";
        }
        html += "</tr>\n";
    }
    html += "</table>\n<ul>\n";
    for (const MetricDef* d : metrics)
        html += "<li><b>" + std::string(d->title) + "</b>: " + std::string(d->good) + "</li>\n";
    html += "</ul>\n";

    const char* colours[] = {"#d62728", "#1f77b4", "#2ca02c", "#7f7f7f"};
    std::vector<Curve> del, ins;
    for (size_t j = 0; j < methods.size(); ++j) {
        if (!methods[j].method) continue;
        del.push_back({methods[j].label, colours[j], &methods[j].deletion});
        ins.push_back({methods[j].label, colours[j], &methods[j].insertion});
    }
    del.push_back({"random order", colours[3], &t.random_deletion, true});
    ins.push_back({"random order", colours[3], &t.random_insertion, true});
    html +=
        "<p>Mean curves over the images: the class probability as the pixels a map ranks first "
        "are blurred away (deletion: lower is better) or put back into the blurred image "
        "(insertion: higher is better); dashed, the same pixels in random order.</p>\n<div>\n" +
        svg_plot("Deletion", "p(class)", del) + svg_plot("Insertion", "p(class)", ins) + "</div>\n";
    return html;
}
}  // namespace cnnlens
