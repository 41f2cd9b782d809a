// The graph IR: single-output nodes in topological order (every input index is smaller than
// the node's own), typed attributes, constants held in Const nodes. Node names are kept from
// the source model so users can pick "layer conv2d_2, filter 17".
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
};

class Graph {
public:
    Graph() = default;
    Graph(Graph&&) = default;
    Graph& operator=(Graph&&) = default;

    // Each returns the new node's index. Inputs must already exist.
    int add_input(std::string name, const Shape& shape);
    int add_const(std::string name, Tensor value);
    int add_node(std::string name, OpType op, OpAttrs attrs, std::vector<int> inputs);
    void set_output(int node) { output_ = node; }

    int input() const { return input_; }
    int output() const { return output_; }
    const std::vector<Node>& nodes() const { return nodes_; }
    Node& node(int i) { return nodes_[static_cast<size_t>(i)]; }
    const Node& node(int i) const { return nodes_[static_cast<size_t>(i)]; }
    int size() const { return static_cast<int>(nodes_.size()); }
    // Index of the node named `name`, or -1.
    int find(std::string_view name) const;

    // Checks structure (one Input, topological order, constant weights where ops need them,
    // an output) and infers every node's shape for batch 1. Errors name the node and value.
    Status validate();

    // Bytes the executor keeps per image of a batch (activations and their gradients), known
    // after validate(); validate() fails when one image exceeds limits::kMaxActivationBytes.
    int64_t tape_bytes_per_image() const { return tape_bytes_per_image_; }
    // Bytes of the largest single node output for one image (known after validate()).
    int64_t peak_node_bytes_per_image() const { return peak_node_bytes_per_image_; }

    // Number of float parameters held in Const nodes that feed `node`.
    int64_t parameter_count(int node) const;

private:
    std::vector<Node> nodes_;
    std::unordered_map<std::string, int> by_name_;
    int input_ = -1, output_ = -1;
    int64_t tape_bytes_per_image_ = 0;
    int64_t peak_node_bytes_per_image_ = 0;
};

// Shape inference for one node given its input shapes.
Status infer_node_shape(const Graph& g, int node, std::span<const Shape> input_shapes, Shape& out);

}  // namespace cnnlens
