// The graph IR: single-output nodes in topological order (every input index is smaller than
// the node's own), typed attributes, constants held in Const nodes. Node names are kept from
// the source model so users can pick "layer conv2d_2, filter 17". A graph has one or more Input
// nodes and one or more outputs; image models have one of each, and input()/output() name the
// first so their callers need not know about the others.
#pragma once
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/base/status.h"
#include "core/ops/op.h"
#include "core/tensor/tensor.h"

namespace cnnlens {

struct Node {
    std::string name;
    OpType op = OpType::kIdentity;
    OpAttrs attrs;
    std::vector<int> inputs;  // node indices, all smaller than this node's index
    Tensor value;             // Const nodes only
    // Input: declared shape, dimension 0 is -1 (any batch). Others: shape for batch 1, filled
    // in by Graph::validate().
    Shape shape;
    // A rank-4 output is an NHWC image (feature maps, Grad-CAM's layers) unless the importer
    // says otherwise: an imported transformer's rank-4 tensors are heads and tokens.
    bool image = true;
};

class Graph {
public:
    Graph() = default;
    Graph(Graph&&) = default;
    Graph& operator=(Graph&&) = default;

    // Each returns the new node's index. Inputs must already exist. Input nodes are the graph's
    // inputs in the order they are added.
    int add_input(std::string name, const Shape& shape);
    int add_const(std::string name, Tensor value);
    int add_node(std::string name, OpType op, OpAttrs attrs, std::vector<int> inputs);
    // Makes `node` the only output.
    void set_output(int node) {
        outputs_ = {node};
        output_names_ = {std::string()};
    }
    // Appends an output; `name` is the source model's name for it (empty: the node's name). One
    // node may be several outputs.
    void add_output(int node, std::string name = {}) {
        outputs_.push_back(node);
        output_names_.push_back(std::move(name));
    }

    // The first input and the first output (-1 when there is none).
    int input() const { return inputs_.empty() ? -1 : inputs_[0]; }
    int output() const { return outputs_.empty() ? -1 : outputs_[0]; }
    const std::vector<int>& inputs() const { return inputs_; }
    const std::vector<int>& outputs() const { return outputs_; }
    // Name of output k: the name given to add_output(), else its node's name.
    const std::string& output_name(size_t k) const {
        return output_names_[k].empty() ? node(outputs_[k]).name : output_names_[k];
    }
    const std::vector<Node>& nodes() const { return nodes_; }
    Node& node(int i) { return nodes_[static_cast<size_t>(i)]; }
    const Node& node(int i) const { return nodes_[static_cast<size_t>(i)]; }
    int size() const { return static_cast<int>(nodes_.size()); }
    // Index of the node named `name`, or -1.
    int find(std::string_view name) const;

    // Checks structure (at least one Input, topological order, constant weights where ops need
    // them, an output) and infers every node's shape for batch 1. Errors name the node and value.
    Status validate();

    // Bytes the executor keeps per image of a batch (activations and their gradients), known
    // after validate(); validate() fails when one image exceeds limits::kMaxActivationBytes.
    int64_t tape_bytes_per_image() const { return tape_bytes_per_image_; }
    // Bytes of the largest single node output for one image (known after validate()).
    int64_t peak_node_bytes_per_image() const { return peak_node_bytes_per_image_; }

    // Number of float parameters held in Const nodes that feed `node`.
    int64_t parameter_count(int node) const;

    // True when the source model's tensors have no batch axis: its importer gave every runtime
    // tensor a leading axis (one entry per run), which the model's own tensors leave out (an
    // ONNX graph whose first axis is data; see onnx_graph.h).
    bool batch_added() const { return batch_added_; }
    void set_batch_added(bool added) { batch_added_ = added; }

private:
    std::vector<Node> nodes_;
    std::unordered_map<std::string, int> by_name_;
    std::vector<int> inputs_, outputs_;
    std::vector<std::string> output_names_;
    int64_t tape_bytes_per_image_ = 0;
    int64_t peak_node_bytes_per_image_ = 0;
    bool batch_added_ = false;
};

// Shape inference for one node given its input shapes.
Status infer_node_shape(const Graph& g, int node, std::span<const Shape> input_shapes, Shape& out);

}  // namespace cnnlens
