#include "core/graph/graph.h"

#include <algorithm>

#include "core/base/limits.h"

namespace cnnlens {
namespace {

// Bytes the executor holds per image for `elements` floats of activations: the forward tape
// and, during a backward sweep, one gradient of the same size per node.
int64_t tape_bytes(int64_t elements) { return elements * 2 * static_cast<int64_t>(sizeof(float)); }

}  // namespace

int Graph::add_input(std::string name, const Shape& shape) {
    Node n;
    n.name = std::move(name);
    n.op = OpType::kInput;
    n.shape = shape;
    const int i = static_cast<int>(nodes_.size());
    inputs_.push_back(i);
    by_name_[n.name] = i;
    nodes_.push_back(std::move(n));
    return i;
}

int Graph::add_const(std::string name, Tensor value) {
    Node n;
    n.name = std::move(name);
    n.op = OpType::kConst;
    n.shape = value.shape();
    n.value = std::move(value);
    const int i = static_cast<int>(nodes_.size());
    by_name_[n.name] = i;
    nodes_.push_back(std::move(n));
    return i;
}

int Graph::add_node(std::string name, OpType op, OpAttrs attrs, std::vector<int> inputs) {
    const int i = static_cast<int>(nodes_.size());
    for (int in : inputs) CNNLENS_ASSERT(in >= 0 && in < i);
    Node n;
    n.name = std::move(name);
    n.op = op;
    n.attrs = std::move(attrs);
    n.inputs = std::move(inputs);
    by_name_[n.name] = i;
    nodes_.push_back(std::move(n));
    return i;
}

int Graph::find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? -1 : it->second;
}

Status infer_node_shape(const Graph& g, int i, std::span<const Shape> in, Shape& out) {
    const Node& n = g.node(i);
    return op_def(n.op).infer_shape(n.name, n.attrs, in, out);
}

Status Graph::validate() {
    if (inputs_.empty()) return invalid_argument("graph has no input node");
    if (outputs_.empty()) return invalid_argument("graph has no output node");
    for (int o : outputs_)
        if (o < 0 || o >= size())
            return invalid_argument("graph output index " + std::to_string(o) + " does not exist");
    if (size() > limits::kMaxNodes)
        return out_of_range("the graph has " + std::to_string(size()) +
                            " nodes, over the limit of " + std::to_string(limits::kMaxNodes));
    int64_t tape = 0;  // elements of every non-constant node's output for one image
    int64_t peak = 0;  // elements of the largest one
    for (int i = 0; i < size(); ++i) {
        Node& n = nodes_[static_cast<size_t>(i)];
        if (n.op == OpType::kInput) {
            if (n.shape.rank() < 2)
                return invalid_argument("input '" + n.name + "': shape " + n.shape.str() +
                                        " has no batch axis");
            for (int d = 1; d < n.shape.rank(); ++d)
                if (n.shape[d] <= 0 || n.shape[d] > limits::kMaxInputDim)
                    return invalid_argument("input '" + n.name + "': dimension " +
                                            std::to_string(d) + " is " +
                                            std::to_string(n.shape[d]) + " (expected 1.." +
                                            std::to_string(limits::kMaxInputDim) + ")");
            n.shape[0] = -1;
            int64_t per_image =
                1;  // dims are <= kMaxInputDim, so the clamped product cannot overflow
            for (int d = 1; d < n.shape.rank(); ++d)
                per_image = std::min(per_image * n.shape[d], limits::kMaxTensorElements + 1);
            if (per_image > limits::kMaxTensorElements)
                return out_of_range("input '" + n.name + "': shape " + n.shape.str() +
                                    " has more than " + std::to_string(limits::kMaxTensorElements) +
                                    " elements per image (the limit)");
            tape += per_image;
            peak = std::max(peak, per_image);
            continue;
        }
        if (n.op == OpType::kConst) continue;
        for (int in : n.inputs)
            if (in < 0 || in >= i)
                return invalid_argument("node '" + n.name + "': input index " + std::to_string(in) +
                                        " breaks topological order");
        // Weights of kernel-backed ops must be constants (they are packed once).
        if (n.op == OpType::kConv2D || n.op == OpType::kMatMul || n.op == OpType::kBatchNorm ||
            n.op == OpType::kPrelu)
            for (size_t k = 1; k < n.inputs.size(); ++k)
                if (node(n.inputs[k]).op != OpType::kConst)
                    return unsupported(std::string(op_name(n.op)) + " node '" + n.name +
                                       "': input " + std::to_string(k) + " ('" +
                                       node(n.inputs[k]).name + "') must be a constant");
        std::vector<Shape> shapes;
        for (int in : n.inputs) {
            Shape s = node(in).shape;
            if (node(in).op == OpType::kInput) s[0] = 1;
            shapes.push_back(s);
        }
        if (n.inputs.empty())
            return invalid_argument(std::string(op_name(n.op)) + " node '" + n.name +
                                    "' has no inputs");
        CNNLENS_RETURN_IF_ERROR(infer_node_shape(*this, i, shapes, n.shape));
        int64_t elements = 1;  // clamped product: no overflow whatever the dims
        for (int64_t d : n.shape) {
            if (d <= 0)
                return invalid_argument(std::string(op_name(n.op)) + " node '" + n.name +
                                        "': output shape " + n.shape.str() +
                                        " has a dimension of " + std::to_string(d));
            elements = std::min(elements, limits::kMaxTensorElements + 1) *
                       std::min(d, limits::kMaxTensorElements + 1);
        }
        if (elements > limits::kMaxTensorElements)
            return out_of_range(std::string(op_name(n.op)) + " node '" + n.name +
                                "': output shape " + n.shape.str() + " has more than " +
                                std::to_string(limits::kMaxTensorElements) +
                                " elements (the limit)");
        tape += elements;
        peak = std::max(peak, elements);
        if (tape_bytes(tape) > limits::kMaxActivationBytes)
            return out_of_range(
                "the model needs more than " + std::to_string(limits::kMaxActivationBytes >> 20) +
                " MiB of activations and gradients for one image (limit reached at node '" +
                n.name + "')");
    }
    tape_bytes_per_image_ = tape_bytes(tape);
    peak_node_bytes_per_image_ = peak * static_cast<int64_t>(sizeof(float));
    return Status::ok();
}

int64_t Graph::parameter_count(int i) const {
    int64_t count = 0;
    for (int in : node(i).inputs)
        if (node(in).op == OpType::kConst) count += node(in).value.size();
    return count;
}

}  // namespace cnnlens
