// Confusion matrix: counting, per-class rates, evaluation through a probe, JSON export.
#include "core/eval/confusion.h"

#include "core/import/model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace cnnlens {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

nlohmann::json number_or_null(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace

int64_t ConfusionMatrix::total() const {
    int64_t s = 0;
    for (int64_t c : counts) s += c;
    return s;
}

int64_t ConfusionMatrix::support(int c) const {
    int64_t s = 0;
    for (int p = 0; p < num_classes; ++p) s += count(c, p);
    return s;
}

int64_t ConfusionMatrix::predicted(int c) const {
    int64_t s = 0;
    for (int t = 0; t < num_classes; ++t) s += count(t, c);
    return s;
}

double ConfusionMatrix::normalized(int truth, int pred) const {
    const int64_t n = support(truth);
    return n ? static_cast<double>(count(truth, pred)) / static_cast<double>(n) : kNaN;
}

double ConfusionMatrix::recall(int c) const { return normalized(c, c); }

double ConfusionMatrix::precision(int c) const {
    const int64_t n = predicted(c);
    return n ? static_cast<double>(count(c, c)) / static_cast<double>(n) : kNaN;
}

double ConfusionMatrix::f1(int c) const {
    const double p = precision(c), r = recall(c);
    if (std::isnan(p) || std::isnan(r)) return kNaN;
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double ConfusionMatrix::accuracy() const {
    const int64_t n = total();
    int64_t d = 0;
    for (int c = 0; c < num_classes; ++c) d += count(c, c);
    return n ? static_cast<double>(d) / static_cast<double>(n) : kNaN;
}

std::string ConfusionMatrix::to_json() const {
    using nlohmann::json;
    json j;
    j["classes"] = class_names;
    j["total"] = total();
    j["accuracy"] = number_or_null(accuracy());
    json cnt = json::array(), norm = json::array(), cl = json::array(), per = json::array();
    for (int t = 0; t < num_classes; ++t) {
        json cr = json::array(), nr = json::array(), lr = json::array();
        for (int p = 0; p < num_classes; ++p) {
            cr.push_back(count(t, p));
            nr.push_back(number_or_null(normalized(t, p)));
            lr.push_back(cell(t, p));
        }
        cnt.push_back(std::move(cr));
        norm.push_back(std::move(nr));
        cl.push_back(std::move(lr));
        per.push_back({{"name", class_names[static_cast<size_t>(t)]},
                       {"support", support(t)},
                       {"predicted", predicted(t)},
                       {"recall", number_or_null(recall(t))},
                       {"precision", number_or_null(precision(t))},
                       {"f1", number_or_null(f1(t))}});
    }
    j["counts"] = std::move(cnt);
    j["normalized"] = std::move(norm);
    j["per_class"] = std::move(per);
    j["cells"] = std::move(cl);
    return j.dump();
}

ConfusionMatrix make_confusion_matrix(const std::vector<int>& labels,
                                      const std::vector<int>& predictions,
                                      const std::vector<std::string>& class_names,
                                      std::vector<float> probs) {
    CNNLENS_ASSERT(labels.size() == predictions.size());
    ConfusionMatrix m;
    m.class_names = class_names;
    m.num_classes = static_cast<int>(class_names.size());
    const size_t cells = static_cast<size_t>(m.num_classes) * static_cast<size_t>(m.num_classes);
    m.counts.assign(cells, 0);
    m.cells.assign(cells, {});
    for (size_t i = 0; i < labels.size(); ++i) {
        CNNLENS_ASSERT(labels[i] >= 0 && labels[i] < m.num_classes && predictions[i] >= 0 &&
                       predictions[i] < m.num_classes);
        const size_t k = static_cast<size_t>(labels[i] * m.num_classes + predictions[i]);
        ++m.counts[k];
        m.cells[k].push_back(static_cast<int>(i));
    }
    m.predictions = predictions;
    m.probs = std::move(probs);
    return m;
}

Expected<ConfusionMatrix> evaluate(ModelProbe& probe, const Dataset& data, int batch,
                                   const std::function<bool(float)>& progress, bool center_crop) {
    const int classes = probe.num_classes();
    if (static_cast<int>(data.class_names.size()) != classes)
        return invalid_argument("the dataset " + data.source + " has " +
                                std::to_string(data.class_names.size()) + " classes, the model " +
                                std::to_string(classes) +
                                " (read the dataset with the model's class names)");
    if (data.items.empty()) return invalid_argument("the dataset " + data.source + " has no items");
    std::vector<int> labels;
    labels.reserve(data.items.size());
    for (const LabeledImage& it : data.items) {
        if (it.label < 0 || it.label >= classes)
            return out_of_range("dataset item '" + it.id + "': label " + std::to_string(it.label) +
                                " is out of range (the model has " + std::to_string(classes) +
                                " classes)");
        if (it.image.empty()) return invalid_argument("dataset item '" + it.id + "' has no pixels");
        labels.push_back(it.label);
    }
    const InputSpec& spec = probe.input_spec();
    const int64_t n = static_cast<int64_t>(data.items.size());
    const int64_t step = batch > 0 ? batch : std::max(1, probe.max_batch());
    std::vector<int> predictions(static_cast<size_t>(n));
    std::vector<float> probs(static_cast<size_t>(n * classes));
    std::vector<Tensor> rows;
    for (int64_t first = 0; first < n; first += step) {
        const int64_t m = std::min(step, n - first);
        rows.clear();
        for (int64_t i = first; i < first + m; ++i)
            rows.push_back(center_crop
                               ? photo_to_input(data.items[static_cast<size_t>(i)].image, spec)
                               : image_to_input(data.items[static_cast<size_t>(i)].image, spec));
        Expected<ProbeResult> r = probe.run(stack_batch(rows), ProbeRequest{});
        if (!r) return r.status();
        const std::vector<int> am = argmax_rows(r->probs);
        std::copy(am.begin(), am.end(), predictions.begin() + first);
        std::copy(r->probs.data(), r->probs.data() + m * classes, probs.begin() + first * classes);
        if (progress && !progress(static_cast<float>(first + m) / static_cast<float>(n)) &&
            first + m < n)
            return cancelled("evaluation cancelled after " + std::to_string(first + m) + " of " +
                             std::to_string(n) + " items");
    }
    return make_confusion_matrix(labels, predictions, probe.class_names(), std::move(probs));
}

}  // namespace cnnlens
