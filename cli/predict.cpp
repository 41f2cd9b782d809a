// `cnnlens predict` and `cnnlens model-info`.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "cli/cli.h"
#include "core/graph/executor.h"
#include "core/graph/macs.h"
#include "core/import/model.h"

namespace cnnlens::cli {
namespace {

// Probabilities [N, classes] after a forward pass: the model's softmax, or one applied here.
std::vector<float> probabilities(const Model& m, const Executor& ex) {
    const Tensor& t = ex.value(m.probs >= 0 ? m.probs : m.logits);
    std::vector<float> p(t.data(), t.data() + t.size());
    if (m.probs < 0) {
        const int64_t c = t.shape()[1];
        for (int64_t r = 0; r < t.shape()[0]; ++r) {
            float mx = p[r * c];
            for (int64_t j = 1; j < c; ++j) mx = std::max(mx, p[r * c + j]);
            double s = 0;
            for (int64_t j = 0; j < c; ++j) {
                p[r * c + j] = std::exp(p[r * c + j] - mx);
                s += p[r * c + j];
            }
            for (int64_t j = 0; j < c; ++j) p[r * c + j] = static_cast<float>(p[r * c + j] / s);
        }
    }
    return p;
}

const KernelSet* kernels_or_fail(const Args& a) {
    const KernelSet* k = select_kernel_set(a.get("kernels"));
    if (!k)
        fail(
            "kernel set '" +
            a.get("kernels", std::getenv("CNNLENS_KERNELS") ? std::getenv("CNNLENS_KERNELS") : "") +
            "' is not compiled in (available: " + kernel_set_names() + ")");
    return k;
}

// Beyond this many classes predict and model-info list the best kTopClasses, not all.
constexpr int kListAllClasses = 10;
constexpr int kTopClasses = 5;

}  // namespace

Expected<Model> load_model_for(const Args& a, const std::string& path) {
    auto model = load_model(path);
    if (!model) return model;
    if (a.has("preset")) {
        const std::string p = a.get("preset");
        if (model->spec.input.channels != 3)
            return invalid_argument("--preset " + p + ": the model's input has " +
                                    std::to_string(model->spec.input.channels) +
                                    " channel, the preset is for RGB");
        if (Status s = apply_input_preset(model->spec.input, p); !s)
            return Status(s.code(), "--preset: " + s.message());
        model->spec.preset = p;
    }
    if (a.has("task")) {
        const std::string t = a.get("task");
        if (t != "face" && t != "image")
            return invalid_argument("--task must be face or image, got '" + t + "'");
        model->spec.task = t == "face" ? ModelTask::kFace : ModelTask::kImage;
    }
    return model;
}

std::vector<int> top_classes(std::span<const float> p, int k) {
    std::vector<int> idx(p.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int>(i);
    k = std::min<int>(k, static_cast<int>(idx.size()));
    // Ties keep the lower index first, so the list is deterministic.
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    idx.resize(static_cast<size_t>(k));
    return idx;
}

namespace {

// One row of probabilities as predict prints it: the top class and the list (every class when
// there are few, in class order; else the best `shown`, best first), indented by `indent`.
void print_probabilities(const Model& m, std::span<const float> p, int shown,
                         const std::string& head, const std::string& indent) {
    const int nc = m.num_classes();
    const std::vector<int> best = top_classes(p, shown);
    std::printf("%s: %s (%.1f%%)\n", head.c_str(),
                m.spec.classes[static_cast<size_t>(best[0])].c_str(),
                100.0 * p[static_cast<size_t>(best[0])]);
    std::vector<int> rows = best;
    if (shown == nc) std::sort(rows.begin(), rows.end());
    for (int k : rows)
        std::printf("%s  %-*s %8.4f%%\n", indent.c_str(), shown == nc ? 10 : 28,
                    m.spec.classes[static_cast<size_t>(k)].c_str(),
                    100.0 * p[static_cast<size_t>(k)]);
    if (shown < nc) std::printf("%s  (top %d of %d classes)\n", indent.c_str(), shown, nc);
}

// "top", "top_index", "top_k" and "probabilities" of one row, as JSON fields.
std::string probabilities_json_fields(const Model& m, std::span<const float> p, int shown) {
    const std::vector<int> best = top_classes(p, shown);
    char buf[64];
    std::string s = "\"top\":" + json_quote(m.spec.classes[static_cast<size_t>(best[0])]) +
                    ",\"top_index\":" + std::to_string(best[0]) + ",\"top_k\":[";
    for (size_t r = 0; r < best.size(); ++r) {
        std::snprintf(buf, sizeof buf, "%.8g", p[static_cast<size_t>(best[r])]);
        s += std::string(r ? "," : "") + "{\"index\":" + std::to_string(best[r]) +
             ",\"class\":" + json_quote(m.spec.classes[static_cast<size_t>(best[r])]) +
             ",\"probability\":" + buf + "}";
    }
    s += "],\"probabilities\":[";
    for (size_t k = 0; k < p.size(); ++k) {
        std::snprintf(buf, sizeof buf, "%s%.8g", k ? "," : "", p[k]);
        s += buf;
    }
    return s + "]";
}

}  // namespace

int cmd_predict(const Args& a) {
    std::vector<std::string> known = {"model", "kernels", "json", "preset", "task", "top"};
    known.insert(known.end(), FaceFinder::option_names().begin(), FaceFinder::option_names().end());
    if (auto u = a.unknown(known); !u.empty()) return fail("predict: unknown option " + u);
    if (!a.has("model")) return fail("predict: --model DIR is required");
    if (a.positional().empty()) return fail("predict: no image given");
    auto model = load_model_for(a, a.get("model"));
    if (!model) return fail(model.status().message());
    const KernelSet* ks = kernels_or_fail(a);
    if (!ks) return 1;
    const bool faces_model = model->spec.task == ModelTask::kFace;
    auto finder = FaceFinder::from_args(a, a.get("model"), *ks);
    if (!finder) return fail("predict: " + finder.status().message());
    Executor ex(model->graph, *ks);
    GraphProbe probe(*model, *ks);
    const bool json = a.has("json");
    const int nc = model->num_classes();
    // Every class when there are few (the 7 emotions); else the best kTopClasses (or --top N).
    const int shown = a.has("top")           ? std::clamp(a.get_int("top", kTopClasses), 1, nc)
                      : nc > kListAllClasses ? std::min(kTopClasses, nc)
                                             : nc;
    int failures = 0;
    if (json)
        std::printf("{\"model\":%s,\"kernels\":%s,\"task\":%s,\"classes\":[",
                    json_quote(model->spec.name).c_str(), json_quote(ks->name).c_str(),
                    json_quote(std::string(task_name(model->spec.task))).c_str());
    if (json)
        for (size_t k = 0; k < model->spec.classes.size(); ++k)
            std::printf("%s%s", k ? "," : "", json_quote(model->spec.classes[k]).c_str());
    if (json) std::printf("],\"images\":[");
    bool first = true;
    const auto image_error = [&](const std::string& path, const Status& st) {
        ++failures;
        std::fprintf(stderr, "cnnlens: %s\n", st.message().c_str());
        if (json) {
            std::printf("%s{\"image\":%s,\"error\":%s}", first ? "" : ",", json_quote(path).c_str(),
                        json_quote(st.message()).c_str());
            first = false;
        }
    };
    for (const std::string& path : a.positional()) {
        auto img = load_image(path);
        if (!img) {
            image_error(path, img.status());
            continue;
        }
        std::vector<FoundFace> faces;
        if (faces_model) {
            auto f = finder->find(*img);
            if (!f) {
                image_error(path, Status(f.status().code(), path + ": " + f.status().message()));
                continue;
            }
            faces = std::move(*f);
        }
        if (!faces_model || (faces.size() == 1 && faces[0].whole_photo)) {
            // The image is the model's view: a face crop, or an image model's whole photo.
            Tensor x = faces_model ? image_to_input(faces[0].crop, model->spec.input)
                                   : model_input(*model, *img);
            if (Status s = ex.forward(x); !s) return fail(s.message());
            const std::vector<float> p = probabilities(*model, ex);
            if (json) {
                std::printf("%s{\"image\":%s,%s}", first ? "" : ",", json_quote(path).c_str(),
                            probabilities_json_fields(*model, p, shown).c_str());
                first = false;
            } else {
                print_probabilities(*model, p, shown, path, "");
            }
            continue;
        }
        // Detected faces: all classified in one batch (the probe splits it where memory asks).
        std::vector<float> probs;
        if (!faces.empty()) {
            std::vector<Tensor> rows;
            for (const FoundFace& f : faces)
                rows.push_back(image_to_input(f.crop, model->spec.input));
            auto r = probe.run(stack_batch(rows), ProbeRequest{});
            if (!r) return fail(r.status().message());
            probs.assign(r->probs.data(), r->probs.data() + r->probs.size());
        }
        if (json) {
            std::printf("%s{\"image\":%s,\"faces\":[", first ? "" : ",", json_quote(path).c_str());
            for (size_t i = 0; i < faces.size(); ++i)
                std::printf("%s{\"index\":%zu,%s,%s}", i ? "," : "", i + 1,
                            found_face_json_fields(faces[i], finder->align()).c_str(),
                            probabilities_json_fields(
                                *model, std::span<const float>(probs).subspan(i * nc, nc), shown)
                                .c_str());
            std::printf("]}");
            first = false;
        } else if (faces.empty()) {
            std::printf("%s: no face found (--faces whole classifies the whole image)\n",
                        path.c_str());
        } else {
            std::printf("%s: %zu face%s\n", path.c_str(), faces.size(),
                        faces.size() == 1 ? "" : "s");
            for (size_t i = 0; i < faces.size(); ++i)
                print_probabilities(
                    *model, std::span<const float>(probs).subspan(i * nc, nc), shown,
                    "  face " + std::to_string(i + 1) + " " + found_face_text(faces[i]), "  ");
        }
    }
    if (json) std::printf("]}\n");
    return failures ? 1 : 0;
}

// "1.81 G", "36.9 M", "5.2 k", "12": MACs at a glance.
static std::string si(int64_t v) {
    char buf[32];
    if (v >= 1'000'000'000)
        std::snprintf(buf, sizeof buf, "%.3g G", static_cast<double>(v) / 1e9);
    else if (v >= 1'000'000)
        std::snprintf(buf, sizeof buf, "%.3g M", static_cast<double>(v) / 1e6);
    else if (v >= 1'000)
        std::snprintf(buf, sizeof buf, "%.3g k", static_cast<double>(v) / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    return buf;
}

int cmd_model_info(const Args& a) {
    if (auto u = a.unknown({"json", "preset", "task"}); !u.empty())
        return fail("model-info: unknown option " + u);
    if (a.positional().size() != 1)
        return fail("model-info: give exactly one model (folder, model.json or .onnx)");
    auto model = load_model_for(a, a.positional()[0]);
    if (!model) return fail(model.status().message());
    const Graph& g = model->graph;
    const InputSpec& in = model->spec.input;
    std::string values =
        "[" + std::to_string(in.range_lo) + ", " + std::to_string(in.range_hi) + "]";
    if (!in.mean.empty())
        values = model->spec.preset.empty() ? "mean/std"
                                            : "mean/std (" + model->spec.preset + " preset)";
    std::printf("model   %s\ninput   %dx%dx%d, values %s\ntask    %s (%s)\nclasses",
                model->spec.name.c_str(), in.height, in.width, in.channels, values.c_str(),
                std::string(task_name(model->spec.task)).c_str(),
                model->spec.task == ModelTask::kFace
                    ? "a detected face, cropped"
                    : "the whole photo, center-cropped to the input's aspect");
    const int nc = model->num_classes();
    const int listed = nc > kListAllClasses ? kTopClasses : nc;
    for (int k = 0; k < listed; ++k)
        std::printf(" %s%s", model->spec.classes[static_cast<size_t>(k)].c_str(),
                    nc > listed && k + 1 < listed ? "," : "");
    if (listed < nc) std::printf(" ... (%d classes)", nc);
    if (model->spec.inferred)
        std::printf(
            "\nnote    input values, class names and task were guessed; describe the model in a "
            "cnnlens.json (or <name>.cnnlens.json beside an .onnx)");
    std::printf("\n\n%-4s %-50s %-18s %-16s %10s %10s\n", "#", "layer", "op", "output", "params",
                "MACs");
    int64_t total = 0;
    int row = 0;
    for (int i = 0; i < g.size(); ++i) {
        const Node& n = g.node(i);
        if (n.op == OpType::kConst) continue;
        const int64_t params = g.parameter_count(i);
        total += params;
        std::string op(op_name(n.op));
        if (const auto* c = std::get_if<ConvAttrs>(&n.attrs)) {
            if (c->groups > 1) op = "DepthwiseConv";
            if (c->activation != Activation::kNone)
                op += "+" + std::string(activation_name(c->activation));
        }
        std::string shape = n.shape.str();
        if (n.shape.rank() > 0) shape = "[N" + shape.substr(shape.find(','));
        if (n.shape.rank() == 1) shape = "[N]";
        std::printf("%-4d %-50s %-18s %-16s %10lld %10lld\n", row++, display_name(n.name).c_str(),
                    op.c_str(), shape.c_str(), static_cast<long long>(params),
                    static_cast<long long>(node_macs(g, i)));
    }
    const MacTotals macs = graph_macs(g);
    std::printf("\n%d layers, %lld parameters; logits at '%s'\n", row,
                static_cast<long long>(total), display_name(g.node(model->logits).name).c_str());
    std::printf(
        "%lld multiply-adds per image (%sMAC; convolutions and matmuls %sMAC, the figure "
        "torchvision's tables call GFLOPS)\n",
        static_cast<long long>(macs.total), si(macs.total).c_str(), si(macs.conv_matmul).c_str());
    std::printf(
        "MACs: one multiply-add = 1; pooling counts one per window tap, batch norm one per "
        "element, activations and adds 0\n");
    return 0;
}

}  // namespace cnnlens::cli
