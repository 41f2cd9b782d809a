// ModelProbe: the only door from an explanation method to the model. A method asks for a
// batch's class scores, the gradient of a target with respect to the input, and activations
// (and their gradients) of named layers; it never touches the graph. GraphProbe serves real
// models through the engine; tests use closed-form probes.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/graph/executor.h"
#include "core/image/image.h"
#include "core/import/model.h"

namespace cnnlens {

// The scalar an explanation is about, for every image of a batch.
struct Target {
    enum class Score { kLogit, kProbability };
    int cls = 0;
    int contrast = -1;  // >= 0: explain score(cls) - score(contrast)
    Score score = Score::kLogit;
};

// Which LRP rule each op with weights gets (Zennit's composites): convolutions (Conv2D,
// ConvTranspose, depthwise included: Zennit's Convolution), dense layers (MatMul: torch.nn.Linear)
// and, when set, the model's first layer. The first layer is the lowest-numbered node that is a
// convolution (or also a MatMul when first_dense too), as Zennit's first_map takes the first
// matching module. Every other op has its own fixed rule (OpDef::lrp).
struct LrpComposite {
    LrpRule conv, dense;
    std::optional<LrpRule> first;
    bool first_dense = false;
};

// What to compute for a batch.
struct ProbeRequest {
    // Gradient of the target (summed over the batch; images are independent) w.r.t. the input.
    std::optional<Target> target;
    // Alternatively (or in addition), gradient of the mean activation of one channel of one
    // layer — the objective of filter visualization.
    struct Channel {
        int layer = -1;
        int channel = 0;
    };
    std::optional<Channel> channel;
    bool input_gradient = false;  // return d(objective)/d(input)
    std::vector<int> layers;      // activations to return (and their gradients if any objective)
    ReluRule relu_rule = ReluRule::kStandard;
    // With a target: input_grad holds the LRP relevance of the input instead of the gradient.
    // Relevance starts as the target's score (logit or probability, minus the contrast's) one-hot
    // on the logits, so the input's relevance sums to it up to what biases and stabilisers absorb.
    std::optional<LrpComposite> lrp;
    // With a target: input_grad holds DeepLIFT's multipliers (rescale rule, OpDef::deeplift) of
    // each image relative to its reference, row i of *reference ([N, ...] like the batch, or
    // [1, ...] for all; borrowed for the call); the attribution is (x - x0) times them and sums
    // to score(x) - score(x0). Logit targets only (the softmax has no rescale rule here); no
    // layers, channel or LRP. Each image runs paired with its reference, so a call costs two
    // passes; the references' logits come back in reference_logits.
    const Tensor* reference = nullptr;
    // Runs the model from one layer with activations given instead of its own (Ablation-CAM):
    // the batch is one image [1, H, W, C], and row i of the result is its class scores when
    // node `layer` outputs row i of *values ([N, ...], the layer's shape otherwise; borrowed for
    // the call). The graph before the layer runs once per call, not per row. Scores only: no
    // objective, no layers, no input gradient.
    struct Replace {
        int layer = -1;
        const Tensor* values = nullptr;
    };
    std::optional<Replace> replace;
};

struct ProbeResult {
    Tensor logits;                         // [N, classes]
    Tensor probs;                          // [N, classes]
    Tensor input_grad;                     // [N, H, W, C] when requested
    std::vector<Tensor> activations;       // per requested layer
    std::vector<Tensor> activation_grads;  // per requested layer, when an objective is set
    Tensor reference_logits;  // [N, classes]: the references' logits (ProbeRequest::reference)
};

// A layer users can pick: name as shown, node index, output shape for batch 1.
struct LayerInfo {
    int node = -1;
    std::string name;   // display name
    std::string op;     // "Conv2D", "DepthwiseConv", "MaxPool", ...
    Shape shape;        // [1, H, W, C] or [1, C]
    bool image = true;  // a rank-4 shape is an image (not a transformer's heads or tokens)
    bool spatial() const { return shape.rank() == 4 && image; }
};

class ModelProbe {
public:
    virtual ~ModelProbe() = default;
    virtual Expected<ProbeResult> run(const Tensor& batch, const ProbeRequest& request) = 0;
    virtual const InputSpec& input_spec() const = 0;
    virtual int num_classes() const = 0;
    virtual const std::vector<std::string>& class_names() const = 0;
    // Layers whose activations may be requested (empty for closed-form probes).
    virtual std::vector<LayerInfo> layers() const { return {}; }
    // Largest batch run at once; larger batches are split by the probe.
    virtual int max_batch() const { return 64; }
};

// One rule per node of `g` under composite `c` (the ops without weights ignore theirs).
std::vector<LrpRule> lrp_rules(const Graph& g, const LrpComposite& c);

// The display name of layer `node` of the probe's model ("node N" when it lists no such layer).
std::string layer_name(const ModelProbe& probe, int node);

// The largest batch of at most `max_batch` whose activations and gradients fit in
// limits::kMaxActivationBytes (at least 1; the graph must be validated).
int batch_that_fits(const Graph& g, int max_batch);

// Images per engine call: small enough that one node's output for the whole chunk (the working
// set of a layer) stays in a 512 KiB cache. Measured on the default model: batch 1 runs
// 13-17 % faster per image than batch 64 in wasm and natively, forward and gradient alike (the
// 29x29x128 activations of one image already fill 430 KB); a model with small layers gets
// larger chunks. A model whose largest node outgrows that cache for one image (a 224x224
// ImageNet classifier: 3 to 5 MB) gets chunks whose largest node stays within 8 MiB, a share
// of L3: its late layers read megabytes of weights per image (resnet18's 7x7 x 512
// convolutions, 9.4 MB for 0.23 GFLOP), which images of one chunk read once. resnet18 at
// 224x224 runs 2 images a chunk, 14 % faster per image natively; mobilenet_v2's and
// efficientnet_b0's 112x112x96 nodes keep them at 1, where larger chunks measured slower.
int cache_chunk(const Graph& g, int max_batch);

// The engine behind a ModelProbe: a loaded Model on one kernel set. Batches are run in
// cache_chunk() pieces (at most max_batch, capped by batch_that_fits, so memory stays bounded).
// With more than one kernel thread (set_kernel_threads) the pieces of a batch run at the same
// time, one Executor per thread; a batch of one piece splits its kernels' loops instead.
// Results are the same either way.
class GraphProbe final : public ModelProbe {
public:
    GraphProbe(const Model& model, const KernelSet& kernels, int max_batch = 64);
    Expected<ProbeResult> run(const Tensor& batch, const ProbeRequest& request) override;
    const InputSpec& input_spec() const override { return model_.spec.input; }
    int num_classes() const override { return model_.num_classes(); }
    const std::vector<std::string>& class_names() const override { return model_.spec.classes; }
    std::vector<LayerInfo> layers() const override;
    int max_batch() const override { return max_batch_; }
    const Model& model() const { return model_; }
    // Bytes of the executors' activation and gradient buffers and of the pieces' copies
    // (Executor::buffer_bytes); the kernels' packed weights are the rest of what it holds.
    int64_t buffer_bytes() const;

private:
    Status run_chunk(Executor& ex, const Tensor& batch, const ProbeRequest& r, ProbeResult& out,
                     int64_t first);
    Status check_replace(const Tensor& batch, const ProbeRequest& r) const;
    void copy_scores(const Executor& ex, int64_t n, ProbeResult& out, int64_t first) const;
    const Model& model_;
    const KernelSet& kernels_;
    std::vector<std::unique_ptr<Executor>> executors_;  // [0] always; more for pool threads
    std::vector<Tensor> chunks_;                        // per thread: the piece being run
    std::mutex sizing_;                                 // pieces size the outputs under it
    int max_batch_;
    int chunk_;           // images a piece of a forward-only request
    int gradient_chunk_;  // images a piece of a request with a backward pass
};

// Softmax of each row of logits [N, C].
Tensor softmax_rows(const Tensor& logits);
// argmax per row.
std::vector<int> argmax_rows(const Tensor& t);

}  // namespace cnnlens
