// Every size limit applied to untrusted input, in one place. cnnlens opens photos, models and
// CSVs from strangers; each limit turns "too big" into a sentence naming the thing, its size
// and the limit instead of an allocation failure, a hang or a crash. The values are sized for
// the browser build (wasm32: at most 4 GiB of memory, of which the app uses a part) and are far
// above what a real emotion-classifier input needs. tests/data/bad/catalogue.json holds one
// file per limit and docs/hostile-input.md lists them; change all three together.
#pragma once
#include <cstdint>

namespace cnnlens::limits {

// --- images (core/image) ------------------------------------------------------------------
// Checked from the file header before any pixel is decoded (PNG, GIF, BMP, JPEG headers are
// read by us), and again from stb_image's header parse for the other formats.
constexpr int kMaxImageSide = 32768;              // pixels, per side
constexpr int64_t kMaxImagePixels = 100'000'000;  // width x height (100 megapixels, 300 MB RGB)
constexpr int64_t kMaxImageFileBytes = int64_t{1} << 30;  // 1 GiB: an encoded image file

// --- models (core/import, core/graph) -----------------------------------------------------
// One file of a model (model.json, a weight shard, cnnlens.json), checked before it is read.
constexpr int64_t kMaxModelFileBytes = int64_t{512} << 20;  // 512 MiB
// All weight shards of a model together.
constexpr int64_t kMaxWeightBytes = int64_t{1} << 30;  // 1 GiB
// Nodes of the source graph (the bundled mini-Xception has 73; ResNet-152 about 1,000).
constexpr int64_t kMaxNodes = 100'000;
// Elements of one tensor: a weight, or one node's output for a batch of one (1 GiB of float).
constexpr int64_t kMaxTensorElements = int64_t{1} << 28;
// One dimension of a weight, of the model input (after the batch axis), or of a padding.
constexpr int64_t kMaxWeightDim = int64_t{1} << 30;
constexpr int64_t kMaxInputDim = int64_t{1} << 16;
// Activations the executor keeps for one batch (every node's output: the tape). A model whose
// single image needs more fails to load; larger batches are split by GraphProbe into chunks
// that fit (so LIME's 1,000 samples run as several passes), never refused.
constexpr int64_t kMaxActivationBytes = int64_t{1} << 30;  // 1 GiB

// --- CSV datasets (core/eval) -------------------------------------------------------------
constexpr int64_t kMaxCsvLineBytes = int64_t{1} << 20;  // one line, newline excluded (1 MiB)
constexpr int64_t kMaxCsvRows = 200'000;                // data rows (FER2013 has 35,887)
constexpr int64_t kMaxDatasetBytes = int64_t{1} << 30;  // decoded pixels of all items (1 GiB)

}  // namespace cnnlens::limits
