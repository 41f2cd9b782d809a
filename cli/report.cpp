// `cnnlens filters`, `cnnlens featuremaps` and `cnnlens report`: what a layer's filters respond
// to, a layer's feature maps for an image, and the four-part report (saliency + mask per class,
// filters and feature maps, LIME per class with the confusion matrix, SmoothGrad per class) as
// PNG grids with an index.html.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/cli.h"
#include "core/eval/confusion.h"
#include "core/explain/explain.h"
#include "core/explain/feature_maps.h"
#include "core/explain/filters.h"
#include "core/image/render.h"

namespace cnnlens::cli {
namespace {

constexpr int kScale = 3;  // 64-pixel faces are shown at 3x

std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

Expected<int> find_layer(const GraphProbe& probe, const std::string& name) {
    for (const LayerInfo& l : probe.layers())
        if (l.name == name || probe.model().graph.node(l.node).name == name) return l.node;
    return not_found("layer '" + name + "' is not in the model (see cnnlens model-info)");
}

// The first convolution with at least 16 channels: the classic "what do the filters see" layer.
int default_filter_layer(const GraphProbe& probe) {
    for (const LayerInfo& l : probe.layers())
        if (l.op == "Conv2D" && l.spatial() && l.shape[3] >= 16) return l.node;
    return probe.layers().back().node;
}

std::string layer_name(const GraphProbe& probe, int node) {
    for (const LayerInfo& l : probe.layers())
        if (l.node == node) return l.name;
    return "?";
}

Image gray_tile(const Tensor& hw, float lo, float hi, Colormap cmap) {
    Tensor n(hw.shape());
    for (int64_t i = 0; i < hw.size(); ++i) n[i] = std::clamp((hw[i] - lo) / (hi - lo), 0.f, 1.f);
    return colorize(n, cmap);
}

Image picture_image(const FilterPicture& p) {
    const int64_t h = p.image.shape()[0], w = p.image.shape()[1], c = p.image.shape()[2];
    Image img;
    img.width = static_cast<int>(w);
    img.height = static_cast<int>(h);
    img.channels = static_cast<int>(c);
    for (int64_t i = 0; i < p.image.size(); ++i)
        img.pixels.push_back(static_cast<uint8_t>(std::clamp(p.image[i], 0.f, 1.f) * 255.f + 0.5f));
    return img;
}

Expected<Image> filters_grid(GraphProbe& probe, int layer, const AscentParams& ap,
                             int max_channels) {
    const int channels = static_cast<int>(probe.model().graph.node(layer).shape.dim(-1));
    std::vector<int> list;
    for (int c = 0; c < std::min(channels, max_channels); ++c) list.push_back(c);
    Progress bar("filters " + layer_name(probe, layer));
    auto pics = visualize_layer(probe, layer, ap, list, [&](float f) { return bar(f); });
    bar.done();
    if (!pics) return pics.status();
    std::vector<Image> tiles;
    GridOptions g;
    g.columns = 8;
    for (const FilterPicture& p : *pics) {
        tiles.push_back(upscale_nearest(picture_image(p), 2));
        char cap[64];
        std::snprintf(cap, sizeof cap, "#%d %.2f", p.channel, p.final_activation);
        g.captions.push_back(cap);
    }
    return grid(tiles, g);
}

Expected<Image> featuremaps_grid(GraphProbe& probe, const Tensor& x, int layer, MapScale scale,
                                 int max_channels) {
    auto fm = feature_maps(probe, x, layer);
    if (!fm) return fm.status();
    ValueRange global;
    if (scale == MapScale::kGlobal) {
        auto g = global_activation_range(probe, x);
        if (!g) return g.status();
        global = *g;
    }
    std::vector<Image> tiles;
    GridOptions g;
    g.columns = 8;
    const int64_t hw = static_cast<int64_t>(fm->height) * fm->width;
    for (int k = 0; k < std::min(fm->channels, max_channels); ++k) {
        Tensor m(Shape{fm->height, fm->width});
        std::copy(fm->maps.data() + k * hw, fm->maps.data() + (k + 1) * hw, m.data());
        const ValueRange r = map_range(*fm, k, scale, global);
        tiles.push_back(upscale_nearest(gray_tile(m, r.lo, r.hi, Colormap::kViridis),
                                        std::max(1, 96 / std::max(fm->width, 1))));
        std::string caption = "#";
        caption += std::to_string(k);
        g.captions.push_back(std::move(caption));
    }
    return grid(tiles, g);
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
    auto g = featuremaps_grid(probe, model_input(l->model, *img), layer, scale,
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
    const uint64_t seed = static_cast<uint64_t>(a.get_int("seed", 1));

    // Part 3b first: the confusion matrix tells which image of each class is classified right.
    auto cm = run_confusion(probe, *data, model.spec.task == ModelTask::kImage);
    if (!cm) return fail(cm.status().message());
    const int n = model.num_classes();
    std::vector<int> pick(static_cast<size_t>(n), -1);
    for (int c = 0; c < n; ++c) {
        if (!cm->cell(c, c).empty())
            pick[static_cast<size_t>(c)] = cm->cell(c, c).front();
        else
            for (int p = 0; p < n && pick[static_cast<size_t>(c)] < 0; ++p)
                if (!cm->cell(c, p).empty()) pick[static_cast<size_t>(c)] = cm->cell(c, p).front();
    }

    // Parts 1, 3a and 4: per class image, saliency, mask, LIME and SmoothGrad.
    std::vector<Image> sal_tiles, lime_tiles, sg_tiles;
    GridOptions sal_g, lime_g, sg_g;
    sal_g.columns = 4;
    lime_g.columns = 3;
    sg_g.columns = 3;
    sal_g.column_headers = {"image", "saliency", "mask (top 30%)", "scale"};
    lime_g.column_headers = {"image", "LIME top 5 (+ green, - red)", "segment weights"};
    sg_g.column_headers = {"image", "SmoothGrad (mean)", "SmoothGrad^2"};
    std::vector<Tensor> trust_inputs;
    std::vector<int> trust_classes;
    Progress bar("report: explanations");
    int done = 0, shown = 0;
    for (int c = 0; c < n; ++c) shown += pick[static_cast<size_t>(c)] >= 0;
    for (int c = 0; c < n; ++c) {
        const int item = pick[static_cast<size_t>(c)];
        if (item < 0) continue;
        const LabeledImage& li = data->items[static_cast<size_t>(item)];
        Tensor x = model_input(model, li.image);
        trust_inputs.push_back(x.clone());
        trust_classes.push_back(c);
        const Image face = upscale_nearest(display_image(x, model.spec.input), kScale);
        const std::string pred =
            model.spec.classes[static_cast<size_t>(cm->predictions[static_cast<size_t>(item)])];
        const std::string row =
            model.spec.classes[static_cast<size_t>(c)] + "\n(" + li.id + ", pred " + pred + ")";
        ExplainContext ctx(probe);
        ctx.seed = seed;
        Target t{c};
        auto sal = find_method("saliency")->explain(x, t, Params(), ctx);
        auto sg =
            find_method("smoothgrad")
                ->explain(x, t, Params().set("samples", a.get_int("smoothgrad-samples", 50)), ctx);
        const ExplanationMethod& lime_method = *find_method("lime");
        const Target tp{c, -1, lime_method.traits().default_score};
        auto lime = lime_method.explain(
            x, tp, Params().set("samples", a.get_int("lime-samples", 1000)), ctx);
        if (!sal || !sg || !lime)
            return fail((!sal ? sal.status() : !sg ? sg.status() : lime.status()).message());
        NormalizedMap nm = normalize_map(sal->map, MapNorm::kPercentile99);
        sal_tiles.push_back(to_rgba(face));
        sal_tiles.push_back(overlay(face, nm.map, Colormap::kInferno, 0.7f));
        sal_tiles.push_back(to_rgba(apply_mask(face, mask_top_percent(sal->map, 30.f))));
        sal_tiles.push_back(colorbar(Colormap::kInferno, nm.lo, nm.hi, 60, face.height, true));
        sal_g.row_headers.push_back(row);
        // LIME: top-5 positive / negative segments painted, and the weight of every segment.
        std::vector<int> order(lime->segment_weights.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
        std::sort(order.begin(), order.end(), [&](int p, int q) {
            return std::fabs(lime->segment_weights[static_cast<size_t>(p)]) >
                   std::fabs(lime->segment_weights[static_cast<size_t>(q)]);
        });
        std::vector<int> pos, neg;
        for (int s : order) {
            const float w = lime->segment_weights[static_cast<size_t>(s)];
            if (w > 0.01f && pos.size() < 5) pos.push_back(s);
            if (w < -0.01f && neg.size() < 5) neg.push_back(s);
        }
        Image painted = paint_segments(face, lime->segments, 64, 64, pos, neg);
        draw_boundaries(painted, lime->segments, 64, 64, {255, 255, 0});
        NormalizedMap wm = normalize_map(lime->map, MapNorm::kSymmetricMaxAbs);
        Image weights = overlay(face, wm.map, Colormap::kRdBuR, 0.8f);
        draw_boundaries(weights, lime->segments, 64, 64, {40, 40, 40});
        lime_tiles.insert(lime_tiles.end(), {to_rgba(face), to_rgba(painted), weights});
        char r2[96];
        std::snprintf(r2, sizeof r2, "%s\nR^2 %.2f", row.c_str(), lime->stats["r2"]);
        lime_g.row_headers.push_back(r2);
        sg_tiles.push_back(to_rgba(face));
        sg_tiles.push_back(overlay(face, normalize_map(sg->map, MapNorm::kPercentile99).map,
                                   Colormap::kInferno, 0.7f));
        sg_tiles.push_back(
            overlay(face, normalize_map(sg->extras["mean_of_squares"], MapNorm::kPercentile99).map,
                    Colormap::kInferno, 0.7f));
        sg_g.row_headers.push_back(row);
        bar(static_cast<float>(++done) / shown);
    }
    bar.done();

    // Part 2: filter pictures and the feature maps of the same layer for the first image.
    int layer = default_filter_layer(probe);
    if (a.has("layer")) {
        auto f = find_layer(probe, a.get("layer"));
        if (!f) return fail(f.status().message());
        layer = *f;
    }
    auto filters = filters_grid(probe, layer, ascent_from_args(a), 64);
    if (!filters) return fail(filters.status().message());
    const int first = pick[0] >= 0 ? pick[0] : 0;
    auto fmaps =
        featuremaps_grid(probe, model_input(model, data->items[static_cast<size_t>(first)].image),
                         layer, MapScale::kPerMap, 64);
    if (!fmaps) return fail(fmaps.status().message());

    // Part 5: the methods above ranked by the trust metrics.
    TrustTable trust;
    auto trust_html = report_trust_section(probe, trust_inputs, trust_classes, seed,
                                           a.get_int("smoothgrad-samples", 50),
                                           a.get_int("lime-samples", 1000), &trust);
    if (!trust_html) return fail("report: trust scores: " + trust_html.status().message());
    std::string trust_json = "{\"metrics\":[";
    for (size_t k = 0; k < trust.metrics.size(); ++k) {
        if (k) trust_json += ',';
        trust_json += json_quote(trust.metrics[k]);
    }
    trust_json += "],\"ranking\":[";
    for (size_t j = 0; j < trust.rows.size(); ++j) {
        const TrustTable::Row& r = trust.rows[j];
        trust_json += j ? ",{" : "{";
        trust_json += "\"method\":" + json_quote(r.method) +
                      ",\"mean_rank\":" + json_number(r.mean_rank) + ",\"means\":[";
        for (size_t k = 0; k < r.means.size(); ++k) {
            if (k) trust_json += ',';
            trust_json += json_number(r.means[k]);
        }
        trust_json += "]}";
    }
    trust_json += "]}\n";
    if (Status s = write_text(out + "/5_trust.json", trust_json); !s) return fail(s.message());

    struct Out {
        const char* file;
        const Image* img;
    };
    Image g1 = grid(sal_tiles, sal_g), g3 = grid(lime_tiles, lime_g), g4 = grid(sg_tiles, sg_g);
    Image cmc = confusion_picture(*cm, false), cmn = confusion_picture(*cm, true);
    for (const Out& o : {Out{"1_saliency_masks.png", &g1}, Out{"2_filters.png", &*filters},
                         Out{"2_featuremaps.png", &*fmaps}, Out{"3_lime.png", &g3},
                         Out{"3_confusion_counts.png", &cmc},
                         Out{"3_confusion_normalized.png", &cmn}, Out{"4_smoothgrad.png", &g4}})
        if (Status s = write_png(out + "/" + o.file, *o.img); !s) return fail(s.message());
    if (Status s = write_text(out + "/confusion.json", cm->to_json()); !s) return fail(s.message());
    char acc[64];
    std::snprintf(acc, sizeof acc, "%.1f%%", 100.0 * cm->accuracy());
    const std::string lname = layer_name(probe, layer);
    std::string html =
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cnnlens "
        "report</title>\n"
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 "
        "1em;color:#222}"
        "img{max-width:100%;image-rendering:pixelated;border:1px solid "
        "#ddd}h2{margin-top:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style></head><body>\n";
    html += "<h1>cnnlens report</h1>\n<p>Model <b>" + model.spec.name + "</b>, data <b>" +
            data->source + "</b> (" + data->format + ", " + std::to_string(data->size()) +
            " images), kernels " + std::string(l->kernels->name) + ", seed " +
            std::to_string(seed) + ".</p>\n";
    html +=
        "<h2>1. Saliency maps and masks, one image per class</h2>\n<p>Gradient of the class logit "
        "with respect to the pixels, |g|, clipped at "
        "the 99th percentile; the mask keeps the top 30&nbsp;% of pixels.</p>\n<img "
        "src=\"1_saliency_masks.png\" alt=\"saliency\">\n";
    html += "<h2>2. What the filters of layer " + lname +
            " respond to</h2>\n<p>Inputs synthesized by gradient ascent on each filter's mean "
            "activation (captions: filter and the activation reached), then the same layer's "
            "feature maps for the class-0 image.</p>\n"
            "<img src=\"2_filters.png\" alt=\"filters\">\n<img src=\"2_featuremaps.png\" "
            "alt=\"feature maps\">\n";
    html +=
        "<h2>3. LIME per class, and the confusion matrix</h2>\n<p>Superpixels (SLIC) that push the "
        "class probability up (green) or down (red); "
        "right: every segment's weight.</p>\n<img src=\"3_lime.png\" alt=\"LIME\">\n<p>Overall "
        "accuracy " +
        std::string(acc) +
        " (rows: true label, columns: prediction; row headers give per-class accuracy).</p>\n"
        "<img src=\"3_confusion_counts.png\" alt=\"confusion counts\"> <img "
        "src=\"3_confusion_normalized.png\" alt=\"confusion normalized\">\n";
    html +=
        "<h2>4. SmoothGrad per class</h2>\n<p>50 noisy copies, sigma 0.15 of the image's value "
        "range: mean gradient (magnitude) and mean of "
        "squares.</p>\n<img src=\"4_smoothgrad.png\" alt=\"SmoothGrad\">\n";
    html += *trust_html + "</body></html>\n";
    if (Status s = write_text(out + "/index.html", html); !s) return fail(s.message());
    std::printf("report -> %s/index.html (accuracy %s on %d images)\n", out.c_str(), acc,
                data->size());
    return 0;
}

}  // namespace cnnlens::cli
