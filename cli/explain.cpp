// `cnnlens explain`: one explanation per image into a folder — PNG overlay, raw float map as
// .npy, and a JSON of parameters, seed and results.
#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "cli/cli.h"
#include "core/explain/describe.h"
#include "core/explain/explain.h"
#include "core/image/render.h"

namespace cnnlens::cli {

Progress::Progress(std::string label) : label_(std::move(label)), tty_(isatty(2)) {}
Progress::~Progress() { done(); }

bool Progress::operator()(float f) {
    if (!tty_) return true;
    const int width = 30, filled = static_cast<int>(f * width + 0.5f);
    std::fprintf(stderr, "\r%-28s [%.*s%*s] %3d%%", label_.c_str(), filled,
                 "==============================", width - filled, "",
                 static_cast<int>(f * 100 + 0.5f));
    std::fflush(stderr);
    shown_ = true;
    return true;
}

void Progress::done() {
    if (shown_) std::fprintf(stderr, "\r%*s\r", 70, "");
    shown_ = false;
}

std::string stem_of(const std::string& path) { return std::filesystem::path(path).stem().string(); }

Expected<int> class_index(const std::vector<std::string>& names, const std::string& s) {
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == s) return static_cast<int>(i);
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (!s.empty() && end && *end == 0 && v >= 0 && v < static_cast<long>(names.size()))
        return static_cast<int>(v);
    std::string list;
    for (size_t i = 0; i < names.size(); ++i)
        list += (i ? ", " : "") + std::to_string(i) + " " + names[i];
    if (names.size() > 10)
        list = "an index 0.." + std::to_string(names.size() - 1) +
               " or a name: see cnnlens model-info";
    return invalid_argument("class '" + s + "' is not a class of the model (" + list + ")");
}

Expected<Params> method_params(const ExplanationMethod& m, const Args& a, const GraphProbe& probe) {
    Params p;
    for (const ParamDef& d : m.params()) {
        const std::string key(d.name);
        if (!a.has(key)) continue;
        const std::string v = a.get(key);
        bool found = false;
        for (size_t i = 0; i < d.choices.size(); ++i)
            if (d.choices[i] == v) {
                p.set(key, static_cast<double>(i));
                found = true;
            }
        if (!found && key == "layer") {  // layers by name
            for (const LayerInfo& l : probe.layers())
                if (l.name == v || probe.model().graph.node(l.node).name == v) {
                    p.set(key, l.node);
                    found = true;
                }
        }
        if (!found) {
            char* end = nullptr;
            const double x = std::strtod(v.c_str(), &end);
            if (v.empty() || !end || *end != 0) {
                std::string choices;
                for (auto c : d.choices) choices += (choices.empty() ? "" : ", ") + std::string(c);
                return invalid_argument(
                    "--" + key + " " + v + ": expected a number" +
                    (choices.empty() ? "" : " or one of " + choices) +
                    (key == "layer" ? " or a layer name (see cnnlens model-info)" : ""));
            }
            p.set(key, x);
        }
    }
    return p;
}

// `face`: JSON fields of the face explained (found_face_json_fields), empty for a whole image.
std::string explanation_json(const Explanation& e, const std::string& image,
                             const std::string& face, const std::vector<std::string>& classes,
                             const std::string& kernels) {
    std::string s =
        "{\n  \"method\": " + json_quote(e.method) + ",\n  \"image\": " + json_quote(image) + ",\n";
    if (!face.empty()) s += "  \"face\": {" + face + "},\n";
    s += "  \"target\": {\"class\": " + std::to_string(e.target.cls) +
         ", \"class_name\": " + json_quote(classes[static_cast<size_t>(e.target.cls)]);
    if (e.target.contrast >= 0)
        s += ", \"contrast\": " + std::to_string(e.target.contrast) +
             ", \"contrast_name\": " + json_quote(classes[static_cast<size_t>(e.target.contrast)]);
    s += ", \"score\": " +
         json_quote(e.target.score == Target::Score::kLogit ? "logit" : "probability") + "},\n";
    if (!e.layer.empty()) s += "  \"layer\": " + json_quote(e.layer) + ",\n";
    s += "  \"kernels\": " + json_quote(kernels) + ",\n  \"precision\": " +
         json_quote(std::string(tape_precision_name(default_tape_precision()))) +
         ",\n  \"width\": " + std::to_string(e.width) +
         ", \"height\": " + std::to_string(e.height) + ",\n";
    s += "  \"signed_map\": " + std::string(e.signed_map() ? "true" : "false") +
         ",\n  \"params\": {";
    bool first = true;
    char buf[64];
    for (auto& [k, v] : e.params) {
        std::snprintf(buf, sizeof buf, "%.10g", v);
        s += (first ? "" : ", ") + json_quote(k) + ": " + buf;
        first = false;
    }
    s += "},\n  \"stats\": {";
    first = true;
    for (auto& [k, v] : e.stats) {
        std::snprintf(buf, sizeof buf, "%.10g", v);
        s += (first ? "" : ", ") + json_quote(k) + ": " + buf;
        first = false;
    }
    s += "},\n  \"stat_labels\": {";
    first = true;
    for (auto& [k, v] : e.stats) {
        s += (first ? "" : ", ") + json_quote(k) + ": " + json_quote(stat_label(k));
        first = false;
    }
    s += "}\n}\n";
    return s;
}

Status write_text(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return not_found("cannot write '" + path + "'");
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    std::fclose(f);
    return ok ? Status::ok() : corrupt("error while writing '" + path + "'");
}

// How the CLI shows a map: as its method says (Explanation::norm); the colormap asked for, or
// RdBu_r for signed maps and inferno otherwise.
static Colormap shown_colormap(const Explanation& e, Colormap cmap_override, bool has_override) {
    return has_override ? cmap_override : e.signed_map() ? Colormap::kRdBuR : Colormap::kInferno;
}

Image explanation_picture(const Explanation& e, const Image& face, int scale,
                          Colormap cmap_override, bool has_override) {
    const Colormap cmap = shown_colormap(e, cmap_override, has_override);
    NormalizedMap nm = normalize_map(e.map, e.norm);
    Image base = upscale_nearest(face, scale);
    Image over = overlay(base, nm.map, cmap, 0.6f);
    if (!e.segments.empty()) draw_boundaries(over, e.segments, e.width, e.height, {255, 255, 0});
    Image bar = colorbar(cmap, nm.lo, nm.hi, 70, over.height, true);
    GridOptions g;
    g.columns = 3;
    g.captions = {"input", e.method, "scale"};
    return grid({to_rgba(base), over, bar}, g);
}

static std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// --photo IMAGE (or `path`) as a set of one item per face, as `explain` sees the photo: a face
// model's faces found by FaceFinder (--faces, --align, --detector; --face K keeps face K), an image
// model's whole photo. Labels are unused: each map explains the model's top class.
Expected<Dataset> photo_dataset(const Args& a, const Model& model, const KernelSet& ks,
                                const std::string& command, std::string path) {
    if (path.empty()) path = a.get("photo");
    auto img = load_image(path);
    if (!img) return img.status();
    Dataset d;
    d.source = path;
    d.format = "photo";
    d.class_names = model.spec.classes;
    if (model.spec.task != ModelTask::kFace) {
        d.items.push_back({0, path, std::move(*img)});
        return d;
    }
    const int only = a.get_int("face", 0);
    if (a.has("face") && only < 1)
        return invalid_argument(command + ": --face must be a face number from 1, got '" +
                                a.get("face") + "'");
    auto finder = FaceFinder::from_args(a, a.get("model"), ks);
    if (!finder) return finder.status();
    auto faces = finder->find(*img);
    if (!faces) return Status(faces.status().code(), path + ": " + faces.status().message());
    if (faces->empty())
        return invalid_argument(path + ": no face found (--faces whole takes the whole image)");
    if (only > static_cast<int>(faces->size()))
        return invalid_argument(path + ": --face " + std::to_string(only) + ", but " +
                                std::to_string(faces->size()) + " face(s) found");
    for (size_t k = 0; k < faces->size(); ++k) {
        if (only > 0 && static_cast<int>(k) + 1 != only) continue;
        std::string id = path;
        if (!(*faces)[k].whole_photo) id.append(" face ").append(std::to_string(k + 1));
        d.items.push_back({0, std::move(id), std::move((*faces)[k].crop)});
    }
    return d;
}

// One line per parameter: flag, label, default and range, then what it changes and the anchor
// of its default, indented below.
static std::string params_text(std::span<const ParamDef> defs) {
    std::string s;
    for (const ParamDef& d : defs) {
        char head[160];
        std::snprintf(head, sizeof head, "    --%-16s %-20s default %s  [%s]\n",
                      std::string(d.name).c_str(), std::string(d.label).c_str(),
                      param_value_text(d, d.def).c_str(), param_range_text(d).c_str());
        s += head;
        s += "        " +
             wrap_text(std::string(d.help) + " Default from " + std::string(d.anchor) + ".", 100,
                       8) +
             "\n";
    }
    return s;
}

int cmd_methods(const Args& a) {
    if (auto u = a.unknown({"names", "tsv"}); !u.empty())
        return fail("methods: unknown option " + u);
    if (a.has("tsv")) std::printf("name\ttitle\tpaper\tanchor\tpasses\n");
    for (const ExplanationMethod* m : all_methods()) {
        if (a.has("names")) {
            std::printf("%s\n", std::string(m->name()).c_str());
            continue;
        }
        if (a.has("tsv")) {  // one row per method, its card's cost counted at the defaults
            auto passes = expand_passes(*m, Params{});
            if (!passes) return fail("methods: " + passes.status().message());
            std::printf("%s\t%s\t%s\t%s\t%s\n", std::string(m->name()).c_str(),
                        std::string(m->title()).c_str(), std::string(m->card().paper).c_str(),
                        std::string(m->card().anchor).c_str(), passes->c_str());
            continue;
        }
        const MethodTraits& t = m->traits();
        std::printf("%-18s %s\n", std::string(m->name()).c_str(), std::string(m->title()).c_str());
        std::printf("    %s, default score %s, map %s%s\n", m->live() ? "live" : "job",
                    t.default_score == Target::Score::kLogit ? "logit" : "probability",
                    std::string(map_norm_name(t.norm)).c_str(), m->batches() ? ", batches" : "");
        std::fputs(params_text(m->params()).c_str(), stdout);
    }
    if (!a.has("names") && !a.has("tsv"))
        std::printf(
            "\ncnnlens explain --method NAME --help: what a method computes, how to read it, its "
            "cost and paper\n");
    return 0;
}

// `explain --method M --help`: the method's card and its parameters.
static int explain_help(const ExplanationMethod& m) {
    std::printf("%s (--method %s)\n%s", std::string(m.title()).c_str(),
                std::string(m.name()).c_str(),
                card_text(method_card(m), 100).substr(m.title().size() + 1).c_str());
    std::printf("\nParameters (--name VALUE)\n%s",
                m.params().empty() ? "    none\n" : params_text(m.params()).c_str());
    return 0;
}

int cmd_explain(const Args& a) {
    if (!a.has("method")) return fail("explain: --method is required (" + method_names() + ")");
    const ExplanationMethod* m = find_method(a.get("method"));
    if (!m)
        return fail("explain: unknown method '" + a.get("method") +
                    "' (available: " + method_names() + ")");
    if (a.has("help")) return explain_help(*m);
    std::vector<std::string> known = {"model", "method",  "class", "contrast", "score",
                                      "out",   "kernels", "seed",  "colormap", "scale",
                                      "json",  "preset",  "task",  "face"};
    known.insert(known.end(), FaceFinder::option_names().begin(), FaceFinder::option_names().end());
    for (const ParamDef& d : m->params()) known.emplace_back(d.name);
    if (auto u = a.unknown(known); !u.empty())
        return fail("explain: unknown option " + u + " for method " + std::string(m->name()));
    if (!a.has("model")) return fail("explain: --model DIR is required");
    if (a.positional().empty()) return fail("explain: no image given");
    auto model = load_model_for(a, a.get("model"));
    if (!model) return fail(model.status().message());
    const KernelSet* ks = select_kernel_set(a.get("kernels"));
    if (!ks)
        return fail("kernel set '" + a.get("kernels") +
                    "' is not compiled in (available: " + kernel_set_names() + ")");
    GraphProbe probe(*model, *ks);
    auto params = method_params(*m, a, probe);
    if (!params) return fail("explain: " + params.status().message());
    auto finder = FaceFinder::from_args(a, a.get("model"), *ks);
    if (!finder) return fail("explain: " + finder.status().message());
    const int only_face = a.get_int("face", 0);
    if (a.has("face") && only_face < 1)
        return fail("explain: --face must be a face number from 1, got '" + a.get("face") + "'");
    Colormap cmap = Colormap::kInferno;
    if (a.has("colormap")) {
        auto c = colormap_from_name(a.get("colormap"));
        if (!c) return fail(c.status().message());
        cmap = *c;
    }
    const std::string out = a.get("out", "cnnlens-out");
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) return fail("cannot create output folder '" + out + "': " + ec.message());
    int failures = 0;
    for (const std::string& path : a.positional()) {
        auto img = load_image(path);
        if (!img) {
            std::fprintf(stderr, "cnnlens: %s\n", img.status().message().c_str());
            ++failures;
            continue;
        }
        // A face model explains each face found (or the image, taken as a face crop); an image
        // model the whole photo.
        std::vector<FoundFace> faces;
        if (model->spec.task == ModelTask::kFace) {
            auto f = finder->find(*img);
            if (!f) {
                std::fprintf(stderr, "cnnlens: %s: %s\n", path.c_str(),
                             f.status().message().c_str());
                ++failures;
                continue;
            }
            faces = std::move(*f);
            if (faces.empty()) {
                std::fprintf(
                    stderr, "cnnlens: %s: no face found (--faces whole explains the whole image)\n",
                    path.c_str());
                ++failures;
                continue;
            }
            if (only_face > static_cast<int>(faces.size())) {
                std::fprintf(stderr, "cnnlens: %s: --face %d, but %zu face%s found\n", path.c_str(),
                             only_face, faces.size(), faces.size() == 1 ? " was" : "s were");
                ++failures;
                continue;
            }
        } else {
            faces.push_back(whole_photo_face(*img));
        }
        for (size_t k = 0; k < faces.size(); ++k) {
            if (only_face > 0 && static_cast<int>(k) + 1 != only_face) continue;
            const FoundFace& face = faces[k];
            Tensor x = model->spec.task == ModelTask::kFace
                           ? image_to_input(face.crop, model->spec.input)
                           : model_input(*model, *img);
            auto pred = probe.run(x, ProbeRequest{});
            if (!pred) return fail(pred.status().message());
            Target t;
            t.cls = argmax_rows(pred->probs)[0];
            if (a.has("class")) {
                auto c = class_index(model->spec.classes, a.get("class"));
                if (!c) return fail(c.status().message());
                t.cls = *c;
            }
            if (a.has("contrast")) {
                auto c = class_index(model->spec.classes, a.get("contrast"));
                if (!c) return fail(c.status().message());
                t.contrast = *c;
            }
            const std::string score =
                a.get("score",
                      m->traits().default_score == Target::Score::kLogit ? "logit" : "probability");
            if (score != "logit" && score != "probability")
                return fail("--score must be logit or probability, got '" + score + "'");
            t.score = score == "logit" ? Target::Score::kLogit : Target::Score::kProbability;
            const std::string face_tag = face.whole_photo ? "" : "_face" + std::to_string(k + 1);
            ExplainContext ctx(probe);
            ctx.seed = static_cast<uint64_t>(a.get_int("seed", 1));
            Progress bar(std::string(m->name()) + " " + stem_of(path) + face_tag);
            ctx.progress = [&](float f) { return bar(f); };
            auto e = m->explain(x, t, *params, ctx);
            bar.done();
            if (!e) {
                std::fprintf(stderr, "cnnlens: %s: %s\n", path.c_str(),
                             e.status().message().c_str());
                ++failures;
                continue;
            }
            const std::string base =
                out + "/" + stem_of(path) + face_tag + "_" + std::string(m->name());
            Status s = write_png(
                base + ".png", explanation_picture(*e, display_image(x, model->spec.input), 4, cmap,
                                                   a.has("colormap")));
            if (s) s = write_npy(base + ".npy", e->map);
            const std::string face_json = face.whole_photo
                                              ? ""
                                              : "\"index\": " + std::to_string(k + 1) + ", " +
                                                    found_face_json_fields(face, finder->align());
            if (s)
                s = write_text(base + ".json",
                               explanation_json(*e, path, face_json, model->spec.classes,
                                                std::string(ks->name)));
            // A detected face's map drawn back on the photo, through the (turned) crop.
            if (s && !face.whole_photo) {
                s = write_png(base + "_photo.png",
                              overlay_in_frame(*img, normalize_map(e->map, e->norm).map, face.frame,
                                               shown_colormap(*e, cmap, a.has("colormap")), 0.6f));
            }
            if (!s) return fail(s.message());
            std::printf(
                "%s%s: %s for class %s%s -> %s.{png,npy,json}%s\n", path.c_str(),
                face.whole_photo ? "" : (" face " + std::to_string(k + 1)).c_str(),
                std::string(m->title()).c_str(),
                model->spec.classes[static_cast<size_t>(t.cls)].c_str(),
                t.contrast >= 0
                    ? (" vs " + model->spec.classes[static_cast<size_t>(t.contrast)]).c_str()
                    : "",
                base.c_str(), face.whole_photo ? "" : (" and " + base + "_photo.png").c_str());
            std::string stats;
            for (const std::string& key : ordered_stat_keys(e->stats))
                stats += (stats.empty() ? "    " : ", ") + std::string(stat_label(key)) + " " +
                         number(e->stats.at(key));
            if (!stats.empty()) std::printf("%s\n", stats.c_str());
        }
    }
    return failures ? 1 : 0;
}

}  // namespace cnnlens::cli
