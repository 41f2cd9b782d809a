// `cnnlens filters`, `cnnlens featuremaps` and `cnnlens report`: what a layer's filters respond
// to, a layer's feature maps for an image, and the report of core/report/report.h (saliency +
// mask per class, filters and feature maps, LIME per class with the confusion matrix, SmoothGrad
// per class, how far to trust them) as PNG grids with an index.html, the same page
// self-contained (report.html) and a ZIP of the files (report.zip).
#include <cstdio>
#include <filesystem>

#include "cli/cli.h"
#include "core/image/render.h"
#include "core/report/report.h"

namespace cnnlens::cli {
namespace {

Expected<Image> filters_grid(GraphProbe& probe, int layer, const AscentParams& ap,
                             int max_channels) {
    const int channels = static_cast<int>(probe.model().graph.node(layer).shape.dim(-1));
    std::vector<int> list;
    for (int c = 0; c < std::min(channels, max_channels); ++c) list.push_back(c);
    Progress bar("filters " + layer_name(probe, layer));
    auto pics = visualize_layer(probe, layer, ap, list, [&](float f) { return bar(f); });
    bar.done();
    if (!pics) return pics.status();
    return filters_picture(*pics);
}

AscentParams ascent_from_args(const Args& a) {
    Params p;
    for (const ParamDef& d : ascent_param_defs()) {
        if (!a.has(std::string(d.name))) continue;
        const std::string v = a.get(std::string(d.name));
        bool found = false;
        for (size_t i = 0; i < d.choices.size(); ++i)
            if (d.choices[i] == v) {
                p.set(d.name, static_cast<double>(i));
                found = true;
            }
        if (!found) p.set(d.name, std::atof(v.c_str()));
    }
    AscentParams ap = ascent_params_from(p);
    ap.seed = static_cast<uint64_t>(a.get_int("seed", 1));
    return ap;
}

struct Loaded {
    Model model;
    const KernelSet* kernels = nullptr;
};

Expected<Loaded> load(const Args& a) {
    if (!a.has("model")) return invalid_argument("--model DIR is required");
    auto m = load_model_for(a, a.get("model"));
    if (!m) return m.status();
    const KernelSet* ks = select_kernel_set(a.get("kernels"));
    if (!ks)
        return invalid_argument("kernel set '" + a.get("kernels") +
                                "' is not compiled in (available: " + kernel_set_names() + ")");
    return Loaded{std::move(*m), ks};
}

std::vector<std::string> with_ascent(std::vector<std::string> v) {
    for (const ParamDef& d : ascent_param_defs()) v.emplace_back(d.name);
    return v;
}

}  // namespace

int cmd_filters(const Args& a) {
    if (auto u = a.unknown(with_ascent(
            {"model", "kernels", "layer", "out", "seed", "max-channels", "preset", "task"}));
        !u.empty())
        return fail("filters: unknown option " + u);
    auto l = load(a);
    if (!l) return fail("filters: " + l.status().message());
    GraphProbe probe(l->model, *l->kernels);
    int layer = default_filter_layer(probe);
    if (a.has("layer")) {
        auto f = find_layer(probe, a.get("layer"));
        if (!f) return fail(f.status().message());
        layer = *f;
    }
    auto g = filters_grid(probe, layer, ascent_from_args(a), a.get_int("max-channels", 1 << 20));
    if (!g) return fail(g.status().message());
    const std::string out = a.get("out", "cnnlens-out");
    std::filesystem::create_directories(out);
    const std::string path = out + "/filters_" +
                             std::filesystem::path(layer_name(probe, layer)).filename().string() +
                             ".png";
    if (Status s = write_png(path, *g); !s) return fail(s.message());
    std::printf("filters of layer %s -> %s\n", layer_name(probe, layer).c_str(), path.c_str());
    return 0;
}

int cmd_featuremaps(const Args& a) {
    if (auto u = a.unknown(
            {"model", "kernels", "layer", "out", "scale", "max-channels", "preset", "task"});
        !u.empty())
        return fail("featuremaps: unknown option " + u);
    if (a.positional().size() != 1) return fail("featuremaps: give one image");
    auto l = load(a);
    if (!l) return fail("featuremaps: " + l.status().message());
    GraphProbe probe(l->model, *l->kernels);
    int layer = default_filter_layer(probe);
    if (a.has("layer")) {
        auto f = find_layer(probe, a.get("layer"));
        if (!f) return fail(f.status().message());
        layer = *f;
    }
    const std::string sc = a.get("scale", "map");
    if (sc != "map" && sc != "layer" && sc != "global")
        return fail("featuremaps: --scale must be map, layer or global, got '" + sc + "'");
    const MapScale scale = sc == "map"     ? MapScale::kPerMap
                           : sc == "layer" ? MapScale::kPerLayer
                                           : MapScale::kGlobal;
    auto img = load_image(a.positional()[0]);
    if (!img) return fail(img.status().message());
    auto g = featuremaps_picture(probe, model_input(l->model, *img), layer, scale,
                                 a.get_int("max-channels", 1 << 20));
    if (!g) return fail(g.status().message());
    const std::string out = a.get("out", "cnnlens-out");
    std::filesystem::create_directories(out);
    const std::string path = out + "/featuremaps_" + stem_of(a.positional()[0]) + "_" +
                             std::filesystem::path(layer_name(probe, layer)).filename().string() +
                             ".png";
    if (Status s = write_png(path, *g); !s) return fail(s.message());
    std::printf("feature maps of layer %s -> %s\n", layer_name(probe, layer).c_str(), path.c_str());
    return 0;
}

int cmd_report(const Args& a) {
    if (auto u = a.unknown(
            with_ascent({"model", "kernels", "data", "out", "usage", "layer", "seed",
                         "lime-samples", "smoothgrad-samples", "lenient", "preset", "task"}));
        !u.empty())
        return fail("report: unknown option " + u);
    if (!a.has("data")) return fail("report: --data FILE.csv|DIR is required");
    auto l = load(a);
    if (!l) return fail("report: " + l.status().message());
    const Model& model = l->model;
    GraphProbe probe(model, *l->kernels);
    DatasetOptions opt;
    opt.class_names = model.spec.classes;
    opt.usage = a.get("usage");
    opt.lenient = a.has("lenient");
    auto data = read_dataset(a.get("data"), opt);
    if (!data) return fail(data.status().message());
    const std::string out = a.get("out", "cnnlens-report");
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) return fail("cannot create output folder '" + out + "': " + ec.message());

    ReportOptions ro;
    ro.seed = static_cast<uint64_t>(a.get_int("seed", 1));
    ro.lime_samples = a.get_int("lime-samples", 1000);
    ro.smoothgrad_samples = a.get_int("smoothgrad-samples", 50);
    ro.ascent = ascent_from_args(a);
    ro.kernels = l->kernels->name;
    if (a.has("layer")) {
        auto f = find_layer(probe, a.get("layer"));
        if (!f) return fail(f.status().message());
        ro.layer = *f;
    }
    const int items = data->size();
    Progress bar("report");
    auto rep = build_report(probe, std::move(*data), ro, [&](float f) { return bar(f); });
    bar.done();
    if (!rep) return fail(rep.status().message());
    for (const ReportFile& f : rep->files)
        if (Status s = write_text(out + "/" + f.name, std::string(f.bytes.begin(), f.bytes.end()));
            !s)
            return fail(s.message());
    if (Status s = write_text(out + "/report.html", rep->html); !s) return fail(s.message());
    auto zip = rep->zip();
    if (!zip) return fail("report: " + zip.status().message());
    if (Status s = write_text(out + "/report.zip", std::string(zip->begin(), zip->end())); !s)
        return fail(s.message());
    std::printf(
        "report -> %s/index.html, report.html and report.zip (accuracy %.1f%% on %d images)\n",
        out.c_str(), 100.0 * rep->confusion.accuracy(), items);
    return 0;
}

}  // namespace cnnlens::cli
