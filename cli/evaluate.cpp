// `cnnlens evaluate`: trust metrics (core/eval/metric.h) of explanation methods over a labeled
// set, as mean ± std per method and metric; `--shard K/N --partial F` evaluates every N-th item
// from K and writes the exact sums, which `cnnlens merge` combines into the one-process table.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "core/eval/eval_table.h"
#include "core/eval/metric.h"

namespace cnnlens::cli {

namespace {

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string w;
    while (std::getline(in, w, ','))
        if (!w.empty()) out.push_back(w);
    return out;
}

// "K/N" with 0 <= K < N.
bool parse_shard(const std::string& s, int& k, int& n) {
    const size_t slash = s.find('/');
    if (slash == std::string::npos) return false;
    char* e1 = nullptr;
    char* e2 = nullptr;
    const std::string a = s.substr(0, slash), b = s.substr(slash + 1);
    const long kk = std::strtol(a.c_str(), &e1, 10), nn = std::strtol(b.c_str(), &e2, 10);
    if (a.empty() || b.empty() || *e1 || *e2 || nn < 1 || nn > 1000000 || kk < 0 || kk >= nn)
        return false;
    k = static_cast<int>(kk);
    n = static_cast<int>(nn);
    return true;
}

bool parse_number(const Args& a, const char* flag, double& out) {
    if (!a.has(flag)) return true;
    const std::string v = a.get(flag);
    char* end = nullptr;
    out = std::strtod(v.c_str(), &end);
    return !v.empty() && end && *end == 0;
}

Status write_outputs(const Args& a, const EvalTable& t) {
    if (a.has("json")) CNNLENS_RETURN_IF_ERROR(write_text(a.get("json"), table_json(t) + "\n"));
    if (a.has("csv")) CNNLENS_RETURN_IF_ERROR(write_text(a.get("csv"), table_csv(t)));
    return Status::ok();
}

void print_table(const EvalTable& t) {
    std::printf("%s", table_text(t).c_str());
    for (const MetricDef& m : all_metrics())
        for (const EvalCell& c : t.cells)
            if (c.metric == m.name) {
                std::printf("  %-25s %s\n", std::string(m.name).c_str(),
                            std::string(m.good).c_str());
                break;
            }
    int64_t nan = 0;
    for (const EvalCell& c : t.cells) nan += c.nan;
    if (nan)
        std::printf(
            "  (%lld undefined values left out of the means: see the nan column of --csv)\n",
            static_cast<long long>(nan));
}

}  // namespace

int cmd_evaluate(const Args& a) {
    std::vector<std::string> known = {
        "model",    "data",    "methods", "metrics", "limit",  "json",  "csv",  "shard",
        "partial",  "kernels", "usage",   "lenient", "preset", "task",  "seed", "steps",
        "baseline", "runs",    "subset",  "samples", "radius", "photo", "face"};
    known.insert(known.end(), FaceFinder::option_names().begin(), FaceFinder::option_names().end());
    for (const ExplanationMethod* m : all_methods())
        for (const ParamDef& d : m->params()) known.emplace_back(d.name);
    if (auto u = a.unknown(known); !u.empty()) return fail("evaluate: unknown option " + u);
    if (!a.has("model") || a.has("data") == a.has("photo") || !a.has("methods"))
        return fail(
            "evaluate: --model DIR, one of --data FILE.csv|DIR and --photo IMAGE, and --methods "
            "a,b,... are required");
    if (a.has("face") && !a.has("photo"))
        return fail("evaluate: --face K picks a face of --photo IMAGE");

    std::vector<const ExplanationMethod*> methods;
    for (const std::string& n : split_list(a.get("methods"))) {
        const ExplanationMethod* m = find_method(n);
        if (!m)
            return fail("evaluate: unknown method '" + n + "' (methods: " + method_names() + ")");
        methods.push_back(m);
    }
    std::vector<const MetricDef*> metrics;
    for (const std::string& n :
         split_list(a.get("metrics",
                          "sparseness,complexity,deletion_auc,insertion_auc,faithfulness_"
                          "correlation,infidelity,road_morf,road_lerf"))) {
        const MetricDef* m = find_metric(n);
        if (!m)
            return fail("evaluate: unknown metric '" + n + "' (metrics: " + metric_names() + ")");
        metrics.push_back(m);
    }
    if (methods.empty() || metrics.empty())
        return fail("evaluate: --methods and --metrics need at least one name each");

    int shard = 0, shards = 1;
    if (a.has("shard") && !parse_shard(a.get("shard"), shard, shards))
        return fail("evaluate: --shard " + a.get("shard") +
                    ": expected K/N with 0 <= K < N (K counts from 0, as a Slurm array or "
                    "Kubernetes Indexed Job index)");
    if (a.has("shard") && !a.has("partial"))
        return fail(
            "evaluate: --shard needs --partial FILE to write the shard's sums for cnnlens merge");
    const int limit = a.get_int("limit", -1);
    if (a.has("limit") && limit < 1)
        return fail("evaluate: --limit " + a.get("limit") + ": expected a count >= 1");
    double seed_value = 1;
    if (!parse_number(a, "seed", seed_value) || seed_value < 0 || seed_value > 2147483647 ||
        seed_value != std::floor(seed_value))
        return fail("evaluate: --seed " + a.get("seed") + ": expected a whole number >= 0");
    const int seed = static_cast<int>(seed_value);

    MetricOptions mo = seeded_metric_options(static_cast<uint64_t>(seed));
    double steps = mo.deletion.steps, runs = mo.correlation.runs,
           subset = mo.correlation.subset_size;
    double samples = mo.sensitivity.samples, radius = mo.sensitivity.radius;
    if (!parse_number(a, "steps", steps) || !parse_number(a, "runs", runs) ||
        !parse_number(a, "subset", subset) || !parse_number(a, "samples", samples) ||
        !parse_number(a, "radius", radius))
        return fail("evaluate: --steps, --runs, --subset, --samples and --radius take numbers");
    mo.deletion.steps = static_cast<int>(steps);
    mo.correlation.runs = static_cast<int>(runs);
    mo.correlation.subset_size = static_cast<int>(subset);
    mo.sensitivity.samples = static_cast<int>(samples);
    mo.sensitivity.radius = static_cast<float>(radius);
    if (a.has("baseline")) {
        auto b = parse_faith_baseline(a.get("baseline"));
        if (!b) return fail("evaluate: --baseline: " + b.status().message());
        mo.deletion.deletion_baseline = mo.deletion.insertion_baseline = mo.correlation.baseline =
            *b;
    }

    auto model = load_model_for(a, a.get("model"));
    if (!model) return fail(model.status().message());
    const KernelSet* ks = select_kernel_set(a.get("kernels"));
    if (!ks)
        return fail("kernel set '" + a.get("kernels") +
                    "' is not compiled in (available: " + kernel_set_names() + ")");
    DatasetOptions dopt;
    dopt.class_names = model->spec.classes;
    dopt.usage = a.get("usage");
    dopt.lenient = a.has("lenient");
    auto data = a.has("photo") ? photo_dataset(a, *model, *ks, "evaluate")
                               : read_dataset(a.get("data"), dopt);
    if (!data) return fail(data.status().message());
    for (const SkippedItem& s : data->skipped)
        std::fprintf(stderr, "cnnlens: skipped %s: %s\n", s.where.c_str(), s.reason.c_str());
    GraphProbe probe(*model, *ks);
    std::vector<Params> params;
    for (const ExplanationMethod* m : methods) {
        auto p = method_params(*m, a, probe);
        if (!p) return fail(p.status().message());
        params.push_back(std::move(*p));
    }

    EvalTable table;
    table.model = a.get("model");
    table.data = a.has("photo")
                     ? "photo " + a.get("photo")
                     : a.get("data") + (dopt.usage.empty() ? "" : " usage " + dopt.usage);
    table.items = limit > 0 ? std::min(limit, data->size()) : data->size();
    table.shard = shard;
    table.shards = shards;
    // Everything that changes a value: a merge refuses partials whose settings differ.
    char buf[256];
    std::snprintf(
        buf, sizeof buf,
        "seed=%d steps=%d runs=%d subset=%d samples=%d radius=%.9g road_noise=%.9g baseline=%s,%s",
        seed, mo.deletion.steps, mo.correlation.runs, mo.correlation.subset_size,
        mo.sensitivity.samples, static_cast<double>(mo.sensitivity.radius),
        static_cast<double>(mo.road.noise), faith_baseline_name(mo.deletion.deletion_baseline),
        faith_baseline_name(mo.correlation.baseline));
    table.settings = buf;
    for (size_t i = 0; i < methods.size(); ++i) {
        table.settings += " " + std::string(methods[i]->name());
        for (const auto& [k, v] : params[i].values())
            table.settings += ":" + k + "=" + std::to_string(v);
        for (const MetricDef* m : metrics) table.cell(methods[i]->name(), m->name);
    }
    for (const MetricDef* m : metrics) table.settings += " " + std::string(m->name);

    // Metrics computed together (a group) are timed together: the per-map times printed at the end.
    std::vector<std::vector<const MetricDef*>> groups;
    for (const MetricDef* m : metrics) {
        auto g = std::find_if(groups.begin(), groups.end(),
                              [&](auto& v) { return v[0]->group == m->group; });
        if (g == groups.end())
            groups.push_back({m});
        else
            g->push_back(m);
    }
    std::vector<std::vector<double>> ms(methods.size(),
                                        std::vector<double>(groups.size() + 1, 0.0));
    auto now = [] { return std::chrono::steady_clock::now(); };
    auto since = [&](auto t0) {
        return std::chrono::duration<double, std::milli>(now() - t0).count();
    };

    std::vector<int> mine;
    for (int i = static_cast<int>(shard); i < table.items; i += shards) mine.push_back(i);
    Progress bar("evaluate " + std::to_string(mine.size()) + " items");
    const float per_item = 1.f / static_cast<float>(std::max<size_t>(1, mine.size()));
    for (size_t j = 0; j < mine.size(); ++j) {
        const LabeledImage& item = data->items[static_cast<size_t>(mine[j])];
        Tensor x = model_input(*model, item.image);
        auto pred = probe.run(x, ProbeRequest{});
        if (!pred) return fail(item.id + ": " + pred.status().message());
        const int cls = argmax_rows(pred->logits)[0];
        for (size_t i = 0; i < methods.size(); ++i) {
            const float lo = (static_cast<float>(j) +
                              static_cast<float>(i) / static_cast<float>(methods.size())) *
                             per_item;
            Target t;
            t.cls = cls;
            t.score = methods[i]->traits().default_score;
            ExplainContext ctx(probe);
            ctx.seed = static_cast<uint64_t>(seed);
            const auto t0 = now();
            auto e = methods[i]->explain(x, t, params[i], ctx);
            if (!e)
                return fail(item.id + ", " + std::string(methods[i]->name()) + ": " +
                            e.status().message());
            ms[i][0] += since(t0);
            MetricInput in;
            in.probe = &probe;
            in.image = x.clone();
            in.target = t;
            in.map = std::move(e->map);
            in.method = methods[i];
            in.params = params[i];
            in.explain_seed = ctx.seed;
            for (size_t g = 0; g < groups.size(); ++g) {
                const float glo = lo + static_cast<float>(g) / static_cast<float>(groups.size()) *
                                           per_item / static_cast<float>(methods.size());
                const float gspan = per_item / static_cast<float>(methods.size() * groups.size());
                const auto t1 = now();
                auto v = compute_metrics(in, groups[g], mo,
                                         [&](float f) { return bar(glo + f * gspan); });
                if (!v)
                    return fail(item.id + ", " + std::string(methods[i]->name()) + ": " +
                                v.status().message());
                ms[i][g + 1] += since(t1);
                for (size_t k = 0; k < groups[g].size(); ++k)
                    if (Status s = table.add(methods[i]->name(), groups[g][k]->name, (*v)[k]); !s)
                        return fail(item.id + ": " + s.message());
            }
        }
    }
    bar.done();

    std::printf("%s (%s): %zu of %lld items", data->source.c_str(), data->format.c_str(),
                mine.size(), static_cast<long long>(table.items));
    if (shards > 1) std::printf(", shard %d/%d", shard, shards);
    std::printf("; each map explains the model's top class\n");
    print_table(table);
    if (!mine.empty()) {
        std::printf("ms per map (this process, %d thread%s):\n", kernel_threads(),
                    kernel_threads() == 1 ? "" : "s");
        for (size_t i = 0; i < methods.size(); ++i) {
            std::printf("  %-18s explain %.1f", std::string(methods[i]->name()).c_str(),
                        ms[i][0] / static_cast<double>(mine.size()));
            for (size_t g = 0; g < groups.size(); ++g) {
                std::string names;
                for (const MetricDef* m : groups[g])
                    names += (names.empty() ? "" : "+") + std::string(m->name);
                std::printf(", %s %.1f", names.c_str(),
                            ms[i][g + 1] / static_cast<double>(mine.size()));
            }
            std::printf("\n");
        }
    }
    if (a.has("partial"))
        if (Status s = write_text(a.get("partial"), to_partial_text(table)); !s)
            return fail(s.message());
    if (Status s = write_outputs(a, table); !s) return fail(s.message());
    return 0;
}

int cmd_merge(const Args& a) {
    if (auto u = a.unknown({"json", "csv"}); !u.empty()) return fail("merge: unknown option " + u);
    if (a.positional().empty())
        return fail("merge: give the partial files of cnnlens evaluate --partial");
    std::vector<EvalTable> parts;
    for (const std::string& f : a.positional()) {
        std::ifstream in(f, std::ios::binary);
        if (!in) return fail("merge: cannot read " + f);
        std::stringstream ss;
        ss << in.rdbuf();
        auto t = parse_partial_text(ss.str(), f);
        if (!t) return fail(t.status().message());
        parts.push_back(std::move(*t));
    }
    auto m = merge_tables(parts);
    if (!m) return fail(m.status().message());
    std::printf("%s: %lld items from %zu partials\n", m->data.c_str(),
                static_cast<long long>(m->items), parts.size());
    print_table(*m);
    if (Status s = write_outputs(a, *m); !s) return fail(s.message());
    return 0;
}

}  // namespace cnnlens::cli
