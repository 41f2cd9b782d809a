// `cnnlens confusion`: a model over a labeled validation set — the confusion matrix (counts and
// row-normalized), per-class accuracy, and the items of every cell (with --json).
#include <cmath>
#include <cstdio>

#include "cli/cli.h"
#include "core/eval/confusion.h"
#include "core/image/render.h"

namespace cnnlens::cli {

void print_confusion(const ConfusionMatrix& cm) {
    const int n = cm.num_classes;
    std::printf("\nrows: true label, columns: prediction (counts; row-normalized below)\n%-10s",
                "");
    for (int p = 0; p < n; ++p)
        std::printf(" %8.8s", cm.class_names[static_cast<size_t>(p)].c_str());
    std::printf(" %8s %8s\n", "support", "accuracy");
    for (int t = 0; t < n; ++t) {
        std::printf("%-10.10s", cm.class_names[static_cast<size_t>(t)].c_str());
        for (int p = 0; p < n; ++p) std::printf(" %8lld", static_cast<long long>(cm.count(t, p)));
        std::printf(" %8lld %7.1f%%\n", static_cast<long long>(cm.support(t)),
                    100.0 * cm.recall(t));
    }
    std::printf("\n%-10s", "");
    for (int p = 0; p < n; ++p)
        std::printf(" %8.8s", cm.class_names[static_cast<size_t>(p)].c_str());
    std::printf("\n");
    for (int t = 0; t < n; ++t) {
        std::printf("%-10.10s", cm.class_names[static_cast<size_t>(t)].c_str());
        for (int p = 0; p < n; ++p) std::printf(" %8.3f", cm.normalized(t, p));
        std::printf("\n");
    }
    std::printf("\noverall accuracy %.2f%% on %lld items\n", 100.0 * cm.accuracy(),
                static_cast<long long>(cm.total()));
}

Expected<ConfusionMatrix> run_confusion(GraphProbe& probe, const Dataset& data, bool center_crop) {
    Progress bar("confusion " + std::to_string(data.size()) + " items");
    auto cm = evaluate(
        probe, data, 0, [&](float f) { return bar(f); }, center_crop);
    bar.done();
    return cm;
}

int cmd_confusion(const Args& a) {
    if (auto u = a.unknown(
            {"model", "data", "kernels", "usage", "json", "out", "lenient", "preset", "task"});
        !u.empty())
        return fail("confusion: unknown option " + u);
    if (!a.has("model") || !a.has("data"))
        return fail("confusion: --model DIR and --data FILE.csv|DIR are required");
    auto model = load_model_for(a, a.get("model"));
    if (!model) return fail(model.status().message());
    const KernelSet* ks = select_kernel_set(a.get("kernels"));
    if (!ks)
        return fail("kernel set '" + a.get("kernels") +
                    "' is not compiled in (available: " + kernel_set_names() + ")");
    DatasetOptions opt;
    opt.class_names = model->spec.classes;
    opt.usage = a.get("usage");
    opt.lenient = a.has("lenient");
    auto data = read_dataset(a.get("data"), opt);
    if (!data) return fail(data.status().message());
    for (const SkippedItem& s : data->skipped)
        std::fprintf(stderr, "cnnlens: skipped %s: %s\n", s.where.c_str(), s.reason.c_str());
    GraphProbe probe(*model, *ks);
    auto cm = run_confusion(probe, *data, model->spec.task == ModelTask::kImage);
    if (!cm) return fail(cm.status().message());
    if (a.has("json"))
        std::printf("%s\n", cm->to_json().c_str());
    else {
        std::printf("%s (%s): %d items\n", data->source.c_str(), data->format.c_str(),
                    data->size());
        print_confusion(*cm);
    }
    if (a.has("out")) {
        const std::string out = a.get("out");
        Status s = write_png(out + "/confusion_counts.png", confusion_picture(*cm, false));
        if (s) s = write_png(out + "/confusion_normalized.png", confusion_picture(*cm, true));
        if (s) s = write_text(out + "/confusion.json", cm->to_json());
        if (!s) return fail(s.message());
    }
    return 0;
}

}  // namespace cnnlens::cli
