// Runs a validated Graph on a batch with one kernel set. The forward pass keeps every node's
// output (the tape); a backward sweep from any seed — a gradient placed on one or more nodes —
// returns the gradient with respect to the input and to any requested activation.
//
// Not thread-safe: one Executor per thread. It borrows the Graph, which must outlive it.
#pragma once
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/graph/graph.h"

namespace cnnlens {

// How a tape pass (the forward pass of every gradient) rounds the dot products of convolutions
// and fully connected layers. kExact sums each in double and rounds once: a ReLU or max pool
// within float rounding of its threshold decides as exact arithmetic does, and the gradient
// goes where PyTorch's float64 gradient sends it. kFloat sums in float as the forward pass does,
// PyTorch float32's accuracy at about half the cost: Winograd runs wherever no later max pool
// reads the layer, the same rounding at every position elsewhere.
enum class TapePrecision : uint8_t { kExact, kFloat };
// The precision of executors that were not given one: CNNLENS_PRECISION (exact or float) when
// set, else kExact, until set_default_tape_precision() (the CLI's --precision, the page's
// setting). Thread-safe; a pass reads it when it starts.
TapePrecision default_tape_precision();
void set_default_tape_precision(TapePrecision p);
std::optional<TapePrecision> parse_tape_precision(std::string_view name);
std::string_view tape_precision_name(TapePrecision p);

// A gradient placed on a node's output: grad has the node's batch shape.
struct Seed {
    int node = -1;
    Tensor grad;
};

class Executor {
public:
    Executor(const Graph& graph, const KernelSet& kernels);

    // Runs every node on `input` ([N, ...] matching the graph's input shape); the graph must
    // have one input.
    Status forward(const Tensor& input);
    // The same with one tensor per graph input, in the order of Graph::inputs(). Each is
    // [N_k, ...] matching its input's shape; the batch sizes may differ where the ops broadcast.
    // batch() is then the first input's.
    Status forward(std::span<const Tensor> inputs);
    // The same, for forward-only work (LIME, occlusion, evaluation): only the nodes in `keep`
    // keep their values; every other buffer goes back to a spare list after its last reader
    // ran and is reused by later nodes, so the pass works in a few cache-warm buffers. value()
    // is then valid for `keep` only, and backward() refuses to run until a full forward().
    Status forward(const Tensor& input, std::span<const int> keep);
    // The same for a backward() to follow (not relevance(), deeplift() or forward_from()): the
    // values the backward sweep reads (OpDef::vjp_reads) and those in `keep` stay; every other
    // buffer goes back to the spare list after its last reader ran, and its node keeps only its
    // shape (value() of it then has no data). A convolution or fully connected layer not in
    // `keep` whose only reader is a ReLU or ReLU6 runs with it fused (as in a planned pass) and
    // keeps no value, not even a shape; backward() applies the activation's derivative in the
    // layer's VJP. The kernels compute as in a full forward, so the gradients are the same to
    // the bit.
    Status forward_for_backward(const Tensor& input, std::span<const int> keep);
    // Reruns only the nodes downstream of node `from`, with `value` [N, ...] (node `from`'s own
    // batch-1 shape otherwise) standing in for that node's output: row i is variant i of the one
    // image of the last full forward(), which must have had batch 1. The nodes that do not depend
    // on `from` keep their batch-1 values and are not rerun; a downstream node that reads one
    // (a residual branch that skips `from`) sees it repeated N times. Afterwards value() of a
    // downstream node is its [N, ...] output and backward() refuses (the tape mixes batches).
    // It may be called many times after one forward(), with the same `from`. Ablation-CAM.
    Status forward_from(int from, const Tensor& value);
    // Output of node i from the last forward (for Const nodes, the constant).
    const Tensor& value(int node) const;
    int batch() const { return batch_; }

    // Backpropagates the sum of seeds, using `rule` for ReLU-family ops. On success grads[k]
    // holds d(seed)/d(wanted[k]) with the shape of wanted[k]'s value (zeros if no path).
    Status backward(std::span<const Seed> seeds, std::span<const int> wanted, ReluRule rule,
                    std::vector<Tensor>& grads);
    // Layer-wise relevance propagation: the same sweep with each node's OpDef::lrp instead of
    // its VJP, node i applying rules[i] (one per node; read by ops with weights). The seeds are
    // relevance; out[k] is the relevance of wanted[k]. A node on the way without a rule fails
    // the call before any work, with a message naming its op and node.
    Status relevance(std::span<const Seed> seeds, std::span<const int> wanted,
                     std::span<const LrpRule> rules, std::vector<Tensor>& out);

    // DeepLIFT's multipliers (rescale rule): the same sweep with each node's OpDef::deeplift. The
    // last forward() ran 2n images, the inputs in rows [0, n) and their references in rows
    // [n, 2n) (row i + n is row i's reference); the seeds must be zero on rows [n, 2n). out[k]
    // holds the multipliers of wanted[k] in rows [0, n) and zeros below; the attribution is
    // (x - x0) times them. A node on the way without a rule fails the call before any work.
    Status deeplift(std::span<const Seed> seeds, std::span<const int> wanted,
                    std::vector<Tensor>& out);

    const Graph& graph() const { return graph_; }
    const KernelSet& kernels() const { return kernels_; }

    // Bytes of the activation and gradient buffers this executor holds (values, gradients, the
    // spare list, scratch), kernels' packed weights not included.
    int64_t buffer_bytes() const;

    // Forgets prepared kernels (call after changing Const values in the graph).
    void invalidate();

    // This executor's tape precision; nullopt follows default_tape_precision().
    void set_tape_precision(std::optional<TapePrecision> p) { precision_ = p; }
    TapePrecision tape_precision() const {
        return precision_ ? *precision_ : default_tape_precision();
    }

    // When set, forward() adds each node's wall time in ms to (*ms)[node] (sized by forward).
    void set_profile(std::vector<double>* ms) { profile_ = ms; }
    // The same for backward(): each node's VJP time.
    void set_backward_profile(std::vector<double>* ms) { backward_profile_ = ms; }

private:
    enum class Pass { kTape, kPlanned, kForBackward };
    // Node i's output shape in the last pass (value(i)'s, which a fused layer does not have).
    const Shape& output_shape(int i) const;
    static void take_spare(std::vector<Tensor>& spare, Tensor& into, int64_t elements,
                           bool tight = false);
    // The pass keeps node's value to its end.
    static bool kept(int node, Pass pass, const std::vector<char>* keep);
    Status keep_mask(std::span<const int> keep, std::vector<char>& mask) const;
    Status run_forward(std::span<const Tensor> inputs, Pass pass, const std::vector<char>* keep);
    Status sweep(std::span<const Seed> seeds, std::span<const int> wanted, ReluRule rule,
                 std::span<const LrpRule> lrp, std::vector<Tensor>& grads, bool rescale = false);

    const Graph& graph_;
    const KernelSet& kernels_;
    std::vector<Tensor> values_;
    std::vector<OpState> states_;
    std::vector<Tensor> grads_;
    // The memory plan's spare buffers, shared by values and gradients: a planned forward returns
    // a value's buffer here after its last reader ran, the backward sweep a node's gradient
    // buffer once its VJP has run (unless it was asked for), and the next node to need one takes
    // the smallest that fits, so a pass touches a few cache-warm buffers instead of one per node
    // and the sweep's gradients reuse the buffers of values it does not read.
    std::vector<Tensor> spare_;
    std::vector<int> last_use_;  // per node, the index of its last reader
    // Per node, the ReLU or ReLU6 node that a planned pass may fuse into it (a convolution or
    // fully connected layer whose only reader it is), else -1; and the kernels' state of such a
    // node run with the activation fused.
    std::vector<int> fusable_;
    std::vector<OpState> fused_states_;
    // After forward_for_backward(): per node, the ReLU fused into it on that pass, else -1
    // (empty after other passes).
    std::vector<int> tape_fused_;
    std::vector<char> read_by_backward_;  // per node, its value is read by a VJP
    // Per node, a max pool reads its value or a value computed from it: a float tape keeps
    // that node's rounding the same at every position (TapeRounding::kUniform).
    std::vector<char> max_pool_below_;
    std::optional<TapePrecision> precision_;
    bool tape_complete_ = false;  // the last forward kept every value
    bool backward_tape_ = false;  // it kept what backward() reads
    // The last full forward was of one image and forward_from() may reuse its values; from_ is
    // the node forward_from() last replaced (-1: none since that forward).
    bool one_image_tape_ = false;
    int from_ = -1;
    std::vector<Tensor> repeated_;  // forward_from(): batch-1 values repeated N times, per node
    int batch_ = 0;
    std::vector<double>* profile_ = nullptr;
    std::vector<double>* backward_profile_ = nullptr;
};

// Per node, the ReLU or ReLU6 node that a planned forward fuses into it (a convolution or fully
// connected layer with no activation of its own, read by that node alone and not an output),
// else -1.
std::vector<int> fusable_activations(const Graph& g);

// Seeds for the common targets. `shape` is the target node's batch shape [N, classes].
// One-hot on class c for every image (the gradient of the sum of per-image scores).
Tensor seed_class(const Shape& shape, int c);
// +1 on class a, -1 on class b: the gradient of score_a - score_b (a contrastive target).
Tensor seed_contrast(const Shape& shape, int a, int b);
// Mean activation of channel k of an NHWC activation: 1/(H*W) on channel k.
Tensor seed_channel_mean(const Shape& shape, int k);

}  // namespace cnnlens
