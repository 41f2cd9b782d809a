// The confusion matrix of a model over a labeled dataset, with per-class recall, precision and
// F1, and for every cell the dataset items it counts (so a UI can click through to the faces
// a model confuses). TF.js-vis's confusionMatrix/perClassAccuracy is the anchor (reference b11).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/eval/dataset.h"
#include "core/explain/probe.h"

namespace cnnlens {

struct ConfusionMatrix {
    std::vector<std::string> class_names;
    int num_classes = 0;
    // counts[t * num_classes + p]: items of true label t predicted as p (rows = truth).
    std::vector<int64_t> counts;
    // cells[t * num_classes + p]: indices into the dataset of those items, ascending.
    std::vector<std::vector<int>> cells;
    // Per dataset item: the predicted class and the probabilities [items * num_classes].
    std::vector<int> predictions;
    std::vector<float> probs;

    int64_t count(int truth, int pred) const {
        return counts[static_cast<size_t>(truth * num_classes + pred)];
    }
    const std::vector<int>& cell(int truth, int pred) const {
        return cells[static_cast<size_t>(truth * num_classes + pred)];
    }
    int64_t total() const;
    int64_t support(int c) const;    // items whose true label is c (row sum)
    int64_t predicted(int c) const;  // items predicted as c (column sum)
    // Row-normalized cell: count / support(truth); NaN when the class has no items.
    double normalized(int truth, int pred) const;
    // Per-class accuracy = recall = diagonal / support; NaN when the class has no items.
    double recall(int c) const;
    // Diagonal / predicted(c); NaN when nothing was predicted as c.
    double precision(int c) const;
    // Harmonic mean of precision and recall; NaN when either is, 0 when both are 0.
    double f1(int c) const;
    // Diagonal sum / total; NaN for an empty matrix.
    double accuracy() const;

    // {"classes": [...], "total": n, "accuracy": a, "counts": [[...]], "normalized": [[...]],
    //  "per_class": [{"name", "support", "predicted", "recall", "precision", "f1"}],
    //  "cells": [[[indices]]]} with rows = truth; NaN is written as null.
    std::string to_json() const;
};

// A matrix from labels and predictions (both < class_names.size()); probs may be empty.
ConfusionMatrix make_confusion_matrix(const std::vector<int>& labels,
                                      const std::vector<int>& predictions,
                                      const std::vector<std::string>& class_names,
                                      std::vector<float> probs = {});

// Runs the probe over every item (image_to_input with probe.input_spec(), or photo_to_input's
// center crop when `center_crop` (an image model: a photo of another aspect is not stretched),
// then batches of `batch` images, or probe.max_batch() when batch <= 0) and counts argmax
// predictions.
// Deterministic. The dataset's classes must be the model's (same count); a label out of range
// is an error naming the item. `progress` gets the fraction done after each batch; returning
// false cancels (kCancelled, saying how many items were done).
Expected<ConfusionMatrix> evaluate(ModelProbe& probe, const Dataset& data, int batch = 0,
                                   const std::function<bool(float)>& progress = {},
                                   bool center_crop = false);

}  // namespace cnnlens
