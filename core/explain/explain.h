// Explanation methods: one verb, explain(image, target, params, ctx) -> Explanation.
//
// Every method reaches the model only through ModelProbe (probe.h). Methods are listed once
// in method_list.inc, which drives the registry, the CLI's --method names and `cnnlens methods`,
// the app's menus and the generic tests. What a method is (MethodTraits: cost, default score,
// map scaling; MethodCard: what it computes, its cost in passes, paper, anchor) lives on the
// method; callers ask it and never compare method names. Parameters are named numbers with
// defaults, ranges, labels and the anchor of their defaults (ParamDef), so a UI can build widgets
// and a JSON export can record every value, seed included. describe.h turns these facts into
// words for people.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/explain/probe.h"
#include "core/image/normalize.h"

namespace cnnlens {

// One parameter of a method. Choices (if any) are the labels of values 0, 1, 2, ... Spell defs
// with designated initializers: the fields are many and several are numbers. What a person reads
// (describe.h) is built from these fields: the label, then the help, the default with its
// anchor and the range.
struct ParamDef {
    std::string_view name = {};   // CLI flag (--name), Params key and JSON key: "n_segments"
    std::string_view label = {};  // what the app shows: "Superpixels"
    double def = 0, min = 0, max = 1;
    bool integer = false;
    std::vector<std::string_view> choices = {};
    std::string_view help = {};  // what it changes, one sentence
    std::string_view anchor =
        {};  // where the default comes from: "the lime package", "PAIR saliency"
    std::string_view range = {};  // the accepted values in words, when [min, max] says it badly
};

// Parameter values by name; missing names take their defaults.
class Params {
public:
    Params() = default;
    Params& set(std::string_view name, double v) {
        values_[std::string(name)] = v;
        return *this;
    }
    bool has(std::string_view name) const { return values_.count(std::string(name)) > 0; }
    double get(std::string_view name, double def) const {
        auto it = values_.find(std::string(name));
        return it == values_.end() ? def : it->second;
    }
    const std::map<std::string, double>& values() const { return values_; }

private:
    std::map<std::string, double> values_;
};

// Progress, cancellation, seed and partial results for long methods.
struct ExplainContext {
    explicit ExplainContext(ModelProbe& p) : probe(p) {}
    ModelProbe& probe;
    uint64_t seed = 1;
    // Called with the fraction done (0..1); return false to cancel (the method then returns a
    // kCancelled error whose message says how far it got).
    std::function<bool(float)> progress;
    // Methods that build their result over many batches (LIME, RISE, occlusion, ...) report the
    // result so far here, after a batch.
    std::function<void(const struct Explanation&)> partial;
    bool report(float fraction) const { return !progress || progress(fraction); }
};

struct Explanation {
    std::string method;
    Target target;
    int height = 0, width = 0;
    // The map to show, [H, W] in input pixels. Signed methods keep the sign (signed_map()).
    Tensor map;
    // How the map is shown: its method's MethodTraits::norm.
    MapNorm norm = MapNorm::kPercentile99;
    bool signed_map() const { return map_norm_is_signed(norm); }
    // Per-pixel, per-channel attribution [H, W, C] when the method has one (gradients).
    Tensor attribution;
    // Extra maps a method may return by name ("mean", "mean_of_squares", "variance" for
    // SmoothGrad; "cam" at layer resolution for Grad-CAM).
    std::map<std::string, Tensor> extras;
    // Scalars worth reporting (IG completeness error, LIME R^2, class score, ...); every key
    // has an entry in stat_list.inc (find_stat).
    std::map<std::string, double> stats;
    // Every parameter value used, defaults included, and the seed.
    std::map<std::string, double> params;
    // Superpixel methods: segment id per pixel [H*W] and one weight per segment.
    std::vector<int> segments;
    std::vector<float> segment_weights;
    std::string layer;  // layer name for layer-based methods
};

// What a statistic of Explanation::stats is called and means: one entry per key in
// stat_list.inc, read by the app, the CLI's text and JSON and the app's export.
struct StatDef {
    std::string_view key;    // "local_pred"
    std::string_view label;  // "Linear model's score"
    std::string_view help;   // what it measures and how to read it
};
std::span<const StatDef> all_stats();
const StatDef* find_stat(std::string_view key);

// What a method is, for people (describe.h assembles it with the traits and parameters).
struct MethodCard {
    std::string_view what = {};  // one paragraph: what it computes
    std::string_view reading =
        {};  // how to read the map beyond what its norm says ("" for nothing)
    // Its cost in model passes; "{name}" stands for parameter `name`'s value.
    std::string_view passes = {};
    std::string_view paper = {};   // authors, year, title
    std::string_view anchor = {};  // the library whose defaults and formulas it follows
};

// How much work a method is, which decides how the app runs it.
enum class MethodCost {
    kLive,  // one or two engine calls: recomputed as the user changes a setting
    kJob,   // many engine calls: run on request, with progress and cancel
};

// What a method is. Every caller (CLI, app, bench, tests) reads these instead of comparing
// method names.
struct MethodTraits {
    MethodCost cost = MethodCost::kJob;
    // The score explained unless the user picks one: the lime package explains probabilities.
    Target::Score default_score = Target::Score::kLogit;
    // How its map is shown; a signed norm (kSignedPercentile99) marks a signed map, drawn
    // blue below zero and red above.
    MapNorm norm = MapNorm::kPercentile99;
    // The images it shows the model (forward passes; it takes no gradient) for parameters `p`
    // on an input of height x width pixels: the app's estimate of a run's time before it starts.
    // Null where the method takes gradients too.
    int64_t (*forward_images)(const class ExplanationMethod& m, const Params& p, int height,
                              int width) = nullptr;
};

class ExplanationMethod {
public:
    virtual ~ExplanationMethod() = default;
    virtual std::string_view name() const = 0;   // "saliency": CLI name and registry key
    virtual std::string_view title() const = 0;  // "Vanilla gradient"
    virtual const MethodTraits& traits() const = 0;
    virtual const MethodCard& card() const = 0;
    virtual std::span<const ParamDef> params() const = 0;
    // image: one input row [1, H, W, C] in model input space (already preprocessed).
    virtual Expected<Explanation> explain(const Tensor& image, const Target& target,
                                          const Params& params, ExplainContext& ctx) const = 0;
    // Whether attribute_batch() works: the gradient family, whose attribution of N images is one
    // engine call (SmoothGrad batches its noisy copies through it).
    virtual bool batches() const = 0;
    // The per-pixel attribution of every row of `batch` [N, H, W, C], as explain() returns it
    // for one row, in one engine call; an unsupported error unless batches().
    virtual Expected<Tensor> attribute_batch(const Tensor& batch, const Target& target,
                                             const Params& params, ExplainContext& ctx) const = 0;

    bool live() const { return traits().cost == MethodCost::kLive; }
    // The definition of parameter `name`, or nullptr when the method has none of that name.
    const ParamDef* find_param(std::string_view name) const;
    // The value of parameter `name` in `p` (its default when unset). `name` must be one of
    // params(): reading an undeclared name is a programming error and aborts.
    double param(const Params& p, std::string_view name) const;
};

// Every method, in menu order.
std::span<const ExplanationMethod* const> all_methods();
const ExplanationMethod* find_method(std::string_view name);
// "saliency, smoothgrad, ..."
std::string method_names();

// Stamps what explain() of `m` on `image` for `target` says about itself onto `e`: the method,
// target and size, the map's norm from the method's traits, and every ParamDef with its value in
// `e.params` (and ctx.seed as "seed").
void stamp_explanation(const ExplanationMethod& m, const Tensor& image, const Target& target,
                       const Params& p, const ExplainContext& ctx, Explanation& e);

// --- Helpers shared by methods --------------------------------------------------------------

// Runs the probe for gradients of `target` w.r.t. the input for a batch.
Expected<ProbeResult> input_gradients(ModelProbe& probe, const Tensor& batch, const Target& target,
                                      ReluRule rule = ReluRule::kStandard);
// |g| summed over channels: [1,H,W,C] -> [H,W] (PAIR's VisualizeImageGrayscale reduction).
Tensor abs_sum_channels(const Tensor& g);
// g summed over channels (signed): [1,H,W,C] -> [H,W].
Tensor sum_channels(const Tensor& g);
// Bilinear resize of a [h, w] map to [H, W] (pixel centres at +0.5).
Tensor resize_map(const Tensor& map, int height, int width);
// Gaussian blur of an NHWC image row with standard deviation sigma (pixels).
Tensor gaussian_blur(const Tensor& image, float sigma);

}  // namespace cnnlens
