// `cnnlens predict` and `cnnlens model-info`.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "cli/cli.h"
#include "core/graph/executor.h"
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
            for (int64_t j = 0; j < c; ++j) { p[r * c + j] = std::exp(p[r * c + j] - mx); s += p[r * c + j]; }
            for (int64_t j = 0; j < c; ++j) p[r * c + j] = static_cast<float>(p[r * c + j] / s);
        }
    }
    return p;
}

const KernelSet* kernels_or_fail(const Args& a) {
    const KernelSet* k = select_kernel_set(a.get("kernels"));
    if (!k) fail("kernel set '" + a.get("kernels", std::getenv("CNNLENS_KERNELS") ? std::getenv("CNNLENS_KERNELS") : "") +
                 "' is not compiled in (available: " + kernel_set_names() + ")");
    return k;
}

}  // namespace

int cmd_predict(const Args& a) {
    if (auto u = a.unknown({"model", "kernels", "json"}); !u.empty()) return fail("predict: unknown option " + u);
    if (!a.has("model")) return fail("predict: --model DIR is required");
    if (a.positional().empty()) return fail("predict: no image given");
    auto model = load_model(a.get("model"));
    if (!model) return fail(model.status().message());
    const KernelSet* ks = kernels_or_fail(a);
    if (!ks) return 1;
    Executor ex(model->graph, *ks);
    const bool json = a.has("json");
    int failures = 0;
    if (json) std::printf("{\"model\":%s,\"kernels\":%s,\"classes\":[", json_quote(model->spec.name).c_str(), json_quote(ks->name).c_str());
    if (json) for (size_t k = 0; k < model->spec.classes.size(); ++k) std::printf("%s%s", k ? "," : "", json_quote(model->spec.classes[k]).c_str());
    if (json) std::printf("],\"images\":[");
    bool first = true;
    for (const std::string& path : a.positional()) {
        auto img = load_image(path);
        if (!img) {
            ++failures;
            std::fprintf(stderr, "cnnlens: %s\n", img.status().message().c_str());
            if (json) { std::printf("%s{\"image\":%s,\"error\":%s}", first ? "" : ",", json_quote(path).c_str(), json_quote(img.status().message()).c_str()); first = false; }
            continue;
        }
        Tensor x = image_to_input(*img, model->spec.input);
        if (Status s = ex.forward(x); !s) return fail(s.message());
        const std::vector<float> p = probabilities(*model, ex);
        const int top = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
        if (json) {
            std::printf("%s{\"image\":%s,\"top\":%s,\"top_index\":%d,\"probabilities\":[", first ? "" : ",", json_quote(path).c_str(),
                        json_quote(model->spec.classes[static_cast<size_t>(top)]).c_str(), top);
            for (size_t k = 0; k < p.size(); ++k) std::printf("%s%.8g", k ? "," : "", p[k]);
            std::printf("]}");
            first = false;
        } else {
            std::printf("%s: %s (%.1f%%)\n", path.c_str(), model->spec.classes[static_cast<size_t>(top)].c_str(), 100.0 * p[static_cast<size_t>(top)]);
            for (size_t k = 0; k < p.size(); ++k) std::printf("  %-10s %8.4f%%\n", model->spec.classes[k].c_str(), 100.0 * p[k]);
        }
    }
    if (json) std::printf("]}\n");
    return failures ? 1 : 0;
}

int cmd_model_info(const Args& a) {
    if (auto u = a.unknown({"json"}); !u.empty()) return fail("model-info: unknown option " + u);
    if (a.positional().size() != 1) return fail("model-info: give exactly one model (folder, model.json or .onnx)");
    auto model = load_model(a.positional()[0]);
    if (!model) return fail(model.status().message());
    const Graph& g = model->graph;
    const InputSpec& in = model->spec.input;
    std::printf("model   %s\ninput   %dx%dx%d, values %s\nclasses", model->spec.name.c_str(), in.height, in.width, in.channels,
                in.mean.empty() ? ("[" + std::to_string(in.range_lo) + ", " + std::to_string(in.range_hi) + "]").c_str() : "mean/std");
    for (const std::string& c : model->spec.classes) std::printf(" %s", c.c_str());
    if (model->spec.inferred)
        std::printf("\nnote    input range and class names were guessed; describe the model in a cnnlens.json (or <name>.cnnlens.json beside an .onnx)");
    std::printf("\n\n%-4s %-50s %-18s %-16s %10s\n", "#", "layer", "op", "output", "params");
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
            if (c->activation != Activation::kNone) op += "+" + std::string(activation_name(c->activation));
        }
        std::string shape = n.shape.str();
        if (n.shape.rank() > 0) shape = "[N" + shape.substr(shape.find(','));
        if (n.shape.rank() == 1) shape = "[N]";
        std::printf("%-4d %-50s %-18s %-16s %10lld\n", row++, display_name(n.name).c_str(), op.c_str(), shape.c_str(), static_cast<long long>(params));
    }
    std::printf("\n%d layers, %lld parameters; logits at '%s'\n", row, static_cast<long long>(total), display_name(g.node(model->logits).name).c_str());
    return 0;
}

}  // namespace cnnlens::cli
