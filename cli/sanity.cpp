// `cnnlens sanity`: the model-randomization check of Adebayo et al. 2018 ("Sanity checks for
// saliency maps") for one method on one face or photo: the map on the model as trained, then
// with its layers randomized from the top down (cascading) or one at a time (independent), the
// rank correlation and SSIM of each map against the first, printed as a table, drawn as a strip
// and written as JSON. A map that stays the same while the model is destroyed does not explain
// the model.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/cli.h"
#include "core/base/json_text.h"
#include "core/eval/sanity.h"
#include "core/image/render.h"

namespace cnnlens::cli {
namespace {

std::string num(double v, const char* f = "%.4f") {
    if (!std::isfinite(v)) return "null";
    char b[32];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// The strip: the input, then one map per step (the original first), each captioned with the
// layer randomized up to there and its Spearman rank correlation with the original.
Image strip_picture(const std::vector<SanityStep>& steps, const Image& face, MapNorm norm,
                    int columns) {
    std::vector<Image> tiles{to_rgba(face)};
    GridOptions g;
    g.columns = columns;
    g.captions.push_back("input");
    for (const SanityStep& s : steps) {
        tiles.push_back(overlay(face, normalize_map(s.map, norm).map, Colormap::kInferno, 0.7f));
        std::string layer = s.layer.empty() ? "original" : s.layer;
        if (layer.size() > 18) layer = layer.substr(0, 17) + "~";
        g.captions.push_back(layer + "\nrho " + num(s.spearman_abs, "%.2f"));
    }
    return grid(tiles, g);
}

}  // namespace

int cmd_sanity(const Args& a) {
    if (!a.has("model")) return fail("sanity: --model DIR is required");
    if (!a.has("method")) return fail("sanity: --method is required (" + method_names() + ")");
    const ExplanationMethod* m = find_method(a.get("method"));
    if (!m)
        return fail("sanity: unknown method '" + a.get("method") +
                    "' (available: " + method_names() + ")");
    std::vector<std::string> known = {"model", "method", "class",   "mode",   "layers", "seed",
                                      "out",   "json",   "kernels", "preset", "task",   "face"};
    known.insert(known.end(), FaceFinder::option_names().begin(), FaceFinder::option_names().end());
    for (const ParamDef& d : m->params()) known.emplace_back(d.name);
    if (auto u = a.unknown(known); !u.empty())
        return fail("sanity: unknown option " + u + " for method " + std::string(m->name()));
    if (a.positional().size() != 1) return fail("sanity: give one image (a face crop or a photo)");
    SanityOptions o;
    const std::string mode = a.get("mode", "cascading");
    if (mode == "independent")
        o.mode = SanityMode::kIndependent;
    else if (mode != "cascading")
        return fail("sanity: --mode must be cascading or independent, got '" + mode + "'");
    o.max_layers = a.get_int("layers", 0);
    if (a.has("layers") && o.max_layers < 1)
        return fail("sanity: --layers must be a count >= 1, got '" + a.get("layers") + "'");
    const int seed = a.get_int("seed", 1);
    if (a.has("seed") && (seed < 0 || std::to_string(seed) != a.get("seed")))
        return fail("sanity: --seed must be a whole number >= 0, got '" + a.get("seed") + "'");
    o.seed = o.explain_seed = static_cast<uint64_t>(seed);

    auto model = load_model_for(a, a.get("model"));
    if (!model) return fail(model.status().message());
    const KernelSet* ks = select_kernel_set(a.get("kernels"));
    if (!ks)
        return fail("kernel set '" + a.get("kernels") +
                    "' is not compiled in (available: " + kernel_set_names() + ")");
    GraphProbe probe(*model, *ks);
    auto params = method_params(*m, a, probe);
    if (!params) return fail("sanity: " + params.status().message());
    const std::string path = a.positional()[0];
    auto faces = photo_dataset(a, *model, *ks, "sanity", path);
    if (!faces) return fail(faces.status().message());
    const Tensor x =
        model_input(*model, faces->items.front().image);  // --face K, else the first face
    auto pred = probe.run(x, ProbeRequest{});
    if (!pred) return fail(pred.status().message());
    Target t;
    t.cls = argmax_rows(pred->probs)[0];
    if (a.has("class")) {
        auto c = class_index(model->spec.classes, a.get("class"));
        if (!c) return fail(c.status().message());
        t.cls = *c;
    }
    t.score = m->traits().default_score;

    Progress bar("sanity " + std::string(m->name()));
    auto steps =
        model_randomization(*model, *ks, *m, x, t, *params, o, [&](float f) { return bar(f); });
    bar.done();
    if (!steps) return fail("sanity: " + steps.status().message());

    const std::string& cls = model->spec.classes[static_cast<size_t>(t.cls)];
    std::printf("%s: %s for class %s, %s randomization (seed %d)\n", path.c_str(),
                std::string(m->title()).c_str(), cls.c_str(), mode.c_str(), seed);
    std::printf("  %-3s %-50s %10s %10s %7s %9s\n", "", "randomized", "rho |map|", "rho signed",
                "SSIM", "p(class)");
    for (size_t i = 0; i < steps->size(); ++i) {
        const SanityStep& s = (*steps)[i];
        std::printf("  %-3zu %-50s %+10.3f %+10.3f %7.3f %9.3f\n", i,
                    s.layer.empty() ? "(none: the model as trained)" : s.layer.c_str(),
                    s.spearman_abs, s.spearman_signed, s.ssim,
                    static_cast<double>(s.target_probability));
    }
    std::printf(
        "  A method that explains the model gives maps that lose their likeness (rho, SSIM toward "
        "0) as its layers are\n"
        "  randomized; one that stays alike is drawn by the image, not by what the model "
        "learned.\n");

    const std::string out = a.get("out", "cnnlens-out");
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) return fail("cannot create output folder '" + out + "': " + ec.message());
    const std::string base = out + "/" + stem_of(path) + "_" + std::string(m->name()) + "_sanity";
    const Image face =
        upscale_nearest(display_image(x, model->spec.input), x.shape()[1] <= 64 ? 2 : 1);
    if (Status s = write_png(base + ".png", strip_picture(*steps, face, m->traits().norm, 8)); !s)
        return fail(s.message());
    std::string json = "{\"image\":" + json_quote(path) + ",\"method\":" + json_quote(m->name()) +
                       ",\"class\":" + json_quote(cls) + ",\"mode\":" + json_quote(mode) +
                       ",\"seed\":" + std::to_string(seed) + ",\"steps\":[";
    for (size_t i = 0; i < steps->size(); ++i) {
        const SanityStep& s = (*steps)[i];
        if (i) json += ',';
        json += "{\"layer\":" + json_quote(s.layer) +
                ",\"spearman_abs\":" + num(s.spearman_abs, "%.9g") +
                ",\"spearman_signed\":" + num(s.spearman_signed, "%.9g") +
                ",\"ssim\":" + num(s.ssim, "%.9g") +
                ",\"probability\":" + num(static_cast<double>(s.target_probability), "%.9g") + "}";
    }
    json += "]}\n";
    if (Status s = write_text(a.has("json") ? a.get("json") : base + ".json", json); !s)
        return fail(s.message());
    std::printf("-> %s.png and %s\n", base.c_str(),
                (a.has("json") ? a.get("json") : base + ".json").c_str());
    return 0;
}

}  // namespace cnnlens::cli
