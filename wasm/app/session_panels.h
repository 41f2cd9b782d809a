// The work behind the extra panels, none of it UI: the seven-class grid, a second method side
// by side, the layer browser (feature maps and filter pictures), the confusion matrix of a
// dropped labeled set, the Trust section's scores, the seed's report, and the files of a user's
// own model. Long
// work is cut into steps of bounded size (one map, one filter picture, one batch of faces, one
// family of trust scores) that the app runs one per frame, so the page keeps drawing and
// every job shows its progress and can be stopped.
// Like Session, this never includes imgui.h or GL and compiles natively.
// Threads: a PanelWork is guarded by its Session's state lock, under the rule Session describes
// (session.h): the UI holds the lock while it reads or changes a PanelWork; step_panels() and
// the step() functions take it themselves, to read what to do and to publish, never while they
// compute or call `yield`.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/eval/confusion.h"
#include "core/eval/dataset.h"
#include "core/eval/metric.h"
#include "core/eval/sanity.h"
#include "core/explain/feature_maps.h"
#include "core/explain/filters.h"
#include "core/report/report.h"
#include "wasm/app/session.h"

namespace cnnlens::app {

// What face-dependent results were computed for; any change makes them stale.
struct FaceKey {
    int photo_version = -1, face = -1, model_version = -1;
    bool operator==(const FaceKey&) const = default;
};
FaceKey face_key(const Session& s);

// Runs `r` on the selected face now (blocking; the state lock is taken to find the face, not
// while computing). Errors name the method.
Expected<Explanation> explain_selected(Session& s, const ExplainRequest& r,
                                       const ProgressFn& yield = {});

// One map per class of a cheap method for the selected face: the request with target.cls set
// to each class in turn (the contrast and score stay). Filled one class per step(). A model
// with up to kAllClassesUpTo classes shows every class; one with more (ImageNet's 1000) shows
// the face's kTopClasses most probable, best first.
struct ClassGrid {
    static constexpr int kAllClassesUpTo = 10;
    static constexpr int kTopClasses = 8;
    ExplainRequest request;  // target.cls of the last map computed
    FaceKey key;
    std::vector<int> classes;       // the classes shown, in order
    std::vector<Explanation> maps;  // maps[k] is for classes[k]; maps.size() are done
    int version = 0;                // bumps with every map added or reset
    // Asks for the grid of (r, selected face); restarts when that differs from what is held.
    void want(const Session& s, const ExplainRequest& r);
    bool complete(const Session& s) const;
    Status step(Session& s,
                const ProgressFn& yield = {});  // the next class's map; ok when nothing is to do
};

// A second method shown next to the main explanation. Cheap methods follow every change;
// slow ones run when `run` is passed to want() (the Compare button).
struct SideMap {
    std::optional<ExplainRequest> pending;
    ExplainRequest request;  // of `map`
    FaceKey key;
    std::optional<Explanation> map;
    int version = 0;
    void want(const Session& s, const ExplainRequest& r, bool run);
    bool stale(const Session& s, const ExplainRequest& r) const;
    Status step(Session& s, const ProgressFn& yield = {});
};

// The layer browser: the model's layers, the feature maps of one layer for the selected face
// (and the global activation range for the shared scale), and filter pictures by gradient
// ascent for one layer, one channel per step().
struct LayerBrowser {
    int model_version = -1;
    std::vector<LayerInfo> layers;  // every layer with its batch-1 output shape

    int maps_layer = -1;  // node wanted
    int maps_node = -1;   // node `maps` holds (-1 after an error)
    FaceKey maps_key;
    std::optional<FeatureMaps> maps;
    std::optional<ValueRange> global;  // over every spatial layer, for maps_key's face
    int maps_version = 0;

    int filter_layer = -1;  // node whose channels `filters` shows
    int filter_model_version = -1;
    AscentParams filter_params;
    std::vector<FilterPicture> filters;  // channels 0, 1, ... in order
    int filter_target = 0;               // channels wanted; filters.size() < it while running
    int filters_version = 0;
    int filters_generation = 0;  // bumps when `filters` starts over

    // Refreshes `layers` when the model changed (and drops pictures of the old model).
    void sync(const Session& s);
    // Asks for the feature maps of node `layer` for the selected face (computed by step()).
    void want_maps(int layer) { maps_layer = layer; }
    // Starts (or extends) filter pictures for channels [0, count) of node `layer`; different
    // layer or params start over.
    void want_filters(int layer, const AscentParams& params, int count);
    void stop_filters() { filter_target = static_cast<int>(filters.size()); }
    bool filtering() const { return static_cast<int>(filters.size()) < filter_target; }
    const LayerInfo* find(int node) const;
    // Feature maps first (one forward pass), else the next filter picture.
    Status step(Session& s, const ProgressFn& yield = {});
};

// The confusion matrix of a labeled set (FER2013 CSV or the course's label,feature CSV),
// evaluated kBatch faces per step().
struct ConfusionRun {
    static constexpr int kBatch = 32;
    std::optional<Dataset> data;
    int model_version = -1;  // the model `labels`/`predictions` come from
    size_t next = 0;         // items evaluated so far
    std::vector<int> predictions;
    std::vector<float> probs;               // [next, classes]
    std::optional<ConfusionMatrix> matrix;  // when every item is done
    int version = 0;
    bool stopped = false;

    // Parses a dropped CSV for the current model's classes. On error nothing changes.
    Status open(const Session& s, std::string_view text, std::string_view name);
    bool running() const { return data && !matrix && !stopped; }
    float progress() const;
    void stop() { stopped = true; }
    void resume() { stopped = false; }
    Status step(Session& s);
};

// The seed's report (core/report/report.h, what `cnnlens report` writes) in the page: of the
// Confusion tab's labeled set (its matrix reused when it is done for this model), or, without
// one, of the faces at hand: the photo's faces, each labelled by its predicted class (the report
// says so). One builder step per step(); the builder leaves the lock while it computes and comes
// back, so the UI reads `progress`, `stage` and the result, never the builder itself.
struct ReportRun {
    std::unique_ptr<ReportBuilder> builder;  // null while a step computes, or when none
    bool in_step = false;                    // the job holds the builder
    bool stopped = false;                    // Cancel: nothing runs until resume()
    bool faces_at_hand = false;              // the set is the photo's faces
    std::string source;                      // "course_10.csv (10 faces)"
    std::string error;                       // the build's error (it ended)
    float progress = 0.f;
    std::string stage;
    std::shared_ptr<const Report> report;  // once done
    int version = 0;                       // bumps with each start, step and result

    // Starts a report with `options` (seed, samples, layer, ascent); kernels and the note are
    // filled here. Uses the labeled set unless `faces` or there is none; errors (no set and no
    // face, a set for other classes) change nothing.
    Status start(Session& s, const PanelWork& w, ReportOptions options, bool faces);
    void stop() { stopped = true; }
    void resume() { stopped = false; }
    bool active() const { return (builder || in_step) && !report && error.empty(); }
    bool running() const { return active() && !stopped; }
    Status step(Session& s, const ProgressFn& yield = {});

private:
    int model_version_ = -1;
    int generation_ = 0;
};

// How far to trust the explanation shown (Session::explanation()), on its face: the trust
// metrics of core/eval/metric.h with the options `cnnlens evaluate --seed <request seed>` uses
// (seeded_metric_options), so the page's numbers are the CLI's for the same map. While
// `active` (the Trust section is open), each finished explanation gets at once the free
// metrics (sparseness, complexity), then as job steps the deletion and insertion curves (with
// kRandomOrders seeded random-order curves to beat) and ROAD. When asked (want_slow: the
// "Compute slow scores" button) also faithfulness correlation, infidelity, the sensitivities,
// random logit and the randomization check (model_randomization with the same method,
// parameters and seed, top layer down). One stage per step(); a new explanation or face drops
// what was computed, and a result that arrives for an older one is dropped.
struct TrustRun {
    static constexpr int kRandomOrders = 1;
    enum class Stage {
        kNone,
        kCurves,
        kRoad,
        kCorrelation,
        kInfidelity,
        kSensitivity,
        kRandomLogit,
        kSanity
    };
    struct Score {
        const MetricDef* metric = nullptr;
        double value = 0;  // NaN where the definition leaves it undefined
    };

    bool active =
        false;  // compute after each explanation (the section is open; closing it clears this)
    bool slow = false;     // the slow metrics and the randomization check are wanted
    bool stopped = false;  // Cancel: nothing more runs until asked again (want())
    // What the results are for: the explanation of `request` on `key`'s face.
    FaceKey key;
    int explanation_version = -1;
    ExplainRequest request;
    std::vector<Score> scores;                 // in the order computed
    std::optional<FaithfulnessResult> curves;  // deletion, insertion and their random-order curves
    std::optional<RoadResult> road;
    std::vector<SanityStep> sanity;  // step 0 (the unmodified model) first; empty until done
    Stage running = Stage::kNone;    // the stage a step computes now
    float progress = 0.f;            // of `running`
    std::string error;               // the last stage's error (the run stops)
    int version = 0;                 // bumps with every result added or reset

    // The section is drawn open: scores follow the explanation shown (called every frame;
    // a stopped or failed run stays so).
    void show(const Session& s) {
        active = true;
        sync(s);
    }
    // Asks for the scores of the explanation shown (and, with `slow_too`, the slow ones too);
    // a stopped or failed run resumes.
    void want(const Session& s, bool slow_too = false);
    void stop() { stopped = true; }
    // Drops results that are not for the explanation shown; computes the free metrics of a new one.
    void sync(const Session& s);
    // The next stage step() would compute (kNone: nothing is left or it waits for an explanation).
    Stage next(const Session& s) const;
    bool busy(const Session& s) const { return next(s) != Stage::kNone; }
    bool complete() const;  // every wanted stage is done
    const Score* find(std::string_view metric) const;
    Status step(Session& s, const ProgressFn& yield = {});
    static std::string_view stage_label(Stage st);  // "deletion and insertion curves"

private:
    void reset(const Session& s);
    int generation_ = 0;  // bumps on reset: a step's result for an older one is dropped
};

// Memory a model needs in the page: its weights, and the tape (activations and gradients) of
// one image for each thread that runs passes (each keeps its own executor). Compared with
// what the page can still allocate before the model is read, so a model too large fails with
// a sentence naming the sizes instead of an out-of-memory abort.
struct ModelMemory {
    int64_t weights = 0;  // bytes of the Const nodes
    int64_t tape = 0;     // Graph::tape_bytes_per_image()
    int threads = 1;
    int64_t total() const { return weights + tape * threads; }
};
ModelMemory model_memory(const Graph& g, int threads);
// An error naming `what`, `need` (with `detail`: what it is made of) and `available` when
// need > available; ok otherwise, and always when available < 0 (unknown: no limit).
Status check_memory(std::string_view what, int64_t need, std::string_view detail,
                    int64_t available);
// "45.2 MB"
std::string megabytes(int64_t bytes);

// A user's TF.js graph model dropped as files: model.json with its .bin shards, optionally a
// cnnlens.json spec and class names (a .txt with one name per line, or a .json list). When
// neither a spec nor the model says its input range, the model waits in `pending` for the user
// to confirm the input (the UI's dialog), then install_pending() puts it in the session.
struct ModelFiles {
    std::map<std::string, std::vector<uint8_t>> files;  // by name, as dropped
    std::optional<Model> pending;
    std::string pending_source;  // "model.json + 2 shards" or "net.onnx"
    // Bytes the page can still allocate (the platform's; unset natively: no limit). Checked
    // before the weights are built and before the model is installed.
    std::function<int64_t()> memory_available;
};

// A file handed over by the platform (drop, picker, paste, example).
struct DroppedFile {
    std::vector<uint8_t> bytes;
    std::string name;
    int width = 0, height = 0;  // > 0: `bytes` are a photo's RGBA pixels the browser decoded
};

enum class FileKind { kPhoto, kDataset, kModel };
// By extension: .csv is a labeled set; .onnx, .json, .bin and .txt belong to a model; others
// photos.
FileKind file_kind(std::string_view name);

// Everything the extra panels keep between frames.
struct PanelWork {
    ClassGrid grid;
    SideMap side;
    LayerBrowser layers;
    ConfusionRun confusion;
    TrustRun trust;
    ReportRun report;
    ModelFiles model;
    int model_version_seen = -1;
    // What happened last that the UI should show (tab to bring forward: "explain",
    // "confusion", "report", "model"; empty when nothing).
    std::string focus;
    std::string tab;  // the tab drawn last frame (the UI's, for the test hook)
};

// Opens files dropped together: photos (the last one wins), a labeled CSV, or the files of a
// model. Returns the first error (naming the file); what was open before stays usable.
Status open_files(Session& s, PanelWork& w, std::vector<DroppedFile>& files);
// Loads a model from w.model.files; it is installed at once when its input is described
// (cnnlens.json, or <name>.cnnlens.json beside an .onnx), else kept in w.model.pending for the
// input dialog.
Status load_model_files(Session& s, PanelWork& w);
// Installs w.model.pending with `input` (size and channels must be the graph's) and `task`
// (kAuto: the one the model was given or inferred).
Status install_pending(Session& s, PanelWork& w, const InputSpec& input,
                       ModelTask task = ModelTask::kAuto);
// Advances every panel by one step (at most one step of each job that has work). Returns the
// first error. `yield`, when set, is called from inside long steps (a class map, a second
// method, a filter picture) with their progress; it may hand the thread to the browser (the
// single-threaded web app runs this as a sliced job), and returning false cancels the step,
// which is then redone later. While a step computes (on the job thread, or while it is away)
// the UI may change what the panels want: a result that no longer fits (another face, layer or
// request) is dropped.
Status step_panels(Session& s, PanelWork& w, const ProgressFn& yield = {});
// True while some panel has work left (what step_panels would do).
bool panels_busy(const Session& s, const PanelWork& w);

}  // namespace cnnlens::app
