// The seed's four-part analysis of a model on a labeled set, as `cnnlens report` writes it and
// the page's Report tab builds it: (1) saliency map and mask for one image per class, (2) the
// filters of a layer (gradient ascent) and that layer's feature maps on an image, (3) LIME per
// class read against the confusion matrix, (4) SmoothGrad per class, and (5) how far to trust
// those maps (the trust metrics of core/eval/metric.h, ranked against a random map).
// The work is cut into steps of bounded size (a batch of the confusion set, one explanation,
// one filter picture, one method's trust scores on one image) so the page can run it in slices
// between frames; build_report() runs every step for the command line.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/eval/confusion.h"
#include "core/eval/dataset.h"
#include "core/explain/explain.h"
#include "core/explain/feature_maps.h"
#include "core/explain/filters.h"
#include "core/image/image.h"
#include "core/report/zip.h"

namespace cnnlens {

struct TrustScores;  // report_trust.h

// --- Pictures and layers the report shares with the command line ------------------------------

// An image as the model's input: center-cropped to the input's aspect for an image model
// (photo_to_input), resampled whole for a face model (a face crop).
Tensor model_input(const Model& m, const Image& img);
// The confusion matrix as a picture: one viridis cell per (true, predicted) pair with its count
// (or its row-normalized value), rows headed by class and per-class accuracy.
Image confusion_picture(const ConfusionMatrix& cm, bool normalized);

// The first convolution with at least 16 channels (the classic "what do the filters see"
// layer), else the last layer.
int default_filter_layer(const GraphProbe& probe);
// A layer by its display name or its node's name; the error points at `cnnlens model-info`.
Expected<int> find_layer(const GraphProbe& probe, const std::string& name);
// Filter pictures in a grid of 8 columns, each 2x with "#channel activation" as its caption.
Image filters_picture(std::span<const FilterPicture> pictures);
// The first `max_channels` feature maps of node `layer` for `x`, viridis on the `scale` range,
// upscaled to about 96 pixels, in a grid of 8 columns captioned "#k".
Expected<Image> featuremaps_picture(GraphProbe& probe, const Tensor& x, int layer, MapScale scale,
                                    int max_channels);

// --- The report --------------------------------------------------------------------------------

struct ReportOptions {
    uint64_t seed = 1;  // every method's, the trust metrics' and the random map's
    int lime_samples = 1000;
    int smoothgrad_samples = 50;
    int layer = -1;        // part 2's node; -1: default_filter_layer
    AscentParams ascent;   // part 2's filter pictures (the caller seeds them)
    int max_filters = 64;  // channels pictured (the first ones)
    std::string kernels;   // the kernel set's name, for the report's header line
    std::string note;      // a paragraph under the header ("" none): where the set comes from
};

// One file of the report: a PNG, a JSON or index.html.
struct ReportFile {
    std::string name;  // "1_saliency_masks.png"
    std::string mime;  // "image/png"
    std::vector<uint8_t> bytes;
};

// Part 5's ranking: the methods best first, each with its mean rank and every metric's mean.
struct TrustTable {
    struct Row {
        std::string method;
        double mean_rank = 0;
        std::vector<double> means;  // one per metric
    };
    std::vector<std::string> metrics;
    std::vector<Row> rows;
};

struct Report {
    // index.html (its pictures as the files beside it), the seven PNGs, confusion.json and
    // 5_trust.json: what `cnnlens report` writes to its folder and the ZIP holds.
    std::vector<ReportFile> files;
    // The same page self-contained: every picture inline as a data: URI of the same PNG bytes,
    // the plots inline SVG, no reference to anything outside the file.
    std::string html;
    ConfusionMatrix confusion;
    TrustTable trust;
    int images = 0;  // rows of parts 1, 3 and 4 (classes with an image)
    const ReportFile* find(std::string_view name) const;
    // `files` as a stored ZIP (write_zip).
    Expected<std::vector<uint8_t>> zip() const;
};

// Builds a report one bounded step at a time. Steps call `progress` with the whole report's
// fraction done; returning false cancels the step, which then changes nothing and is redone by
// the next call. Another error ends the build: every later step returns it.
class ReportBuilder {
public:
    // Checks the set against the probe's model (the same classes, at least one item) and the
    // options (a layer with spatial output, positive sample counts). `data` is kept; the probe
    // is used by every step and must outlive the builder.
    static Expected<ReportBuilder> create(GraphProbe& probe, Dataset data, ReportOptions options);
    // Part 3's confusion matrix when it was computed already for this set and model (the page's
    // Confusion tab): its evaluation is skipped. Refused when its classes or item count differ.
    Status use_confusion(ConfusionMatrix cm);

    Status step(const ProgressFn& progress = {});
    bool done() const { return report_.has_value(); }
    float progress() const;     // of the whole report, 0..1
    std::string stage() const;  // what the next step computes ("LIME for happy (row 7)")
    const Report* report() const { return report_ ? &*report_ : nullptr; }
    const Dataset& data() const { return data_; }
    const ReportOptions& options() const { return options_; }

private:
    struct Row;
    ReportBuilder(GraphProbe& probe, Dataset data, ReportOptions options);
    Status step_confusion(const ProgressFn& progress);
    void pick_rows();  // once the confusion matrix is there: one row per class with an image
    Status step_explain(const ProgressFn& progress);
    Status step_trust(const ProgressFn& progress);
    Status assemble();
    int units_total() const;
    int units_done() const;
    ProgressFn overall(const ProgressFn& progress) const;

    GraphProbe* probe_ = nullptr;
    Dataset data_;
    ReportOptions options_;
    bool center_crop_ = false;
    int layer_ = -1;
    int filter_count_ = 0;
    // Part 3b: the items evaluated so far, then the matrix.
    size_t evaluated_ = 0;
    std::vector<int> predictions_;
    std::vector<float> probs_;
    std::optional<ConfusionMatrix> confusion_;
    // Parts 1, 3a and 4: one row per class that has an image.
    std::vector<std::shared_ptr<Row>> rows_;
    size_t explained_ = 0;  // explanations done, three per row
    std::vector<FilterPicture> filters_;
    std::optional<Image> feature_maps_;
    size_t scored_ = 0;  // (method, row) pairs of part 5 done, method-major
    std::shared_ptr<TrustScores> trust_;
    std::optional<Report> report_;
    Status error_;
};

// Every step of a ReportBuilder in turn (the command line).
Expected<Report> build_report(GraphProbe& probe, Dataset data, const ReportOptions& options,
                              const ProgressFn& progress = {});

// "data:image/png;base64,...".
std::string data_uri(std::string_view mime, std::span<const uint8_t> bytes);

}  // namespace cnnlens
