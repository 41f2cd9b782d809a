// The ONNX importer's state and its parts: the conversion of a read model (onnx_model.h) into
// the engine's Graph, node by node. onnx_graph.cpp holds the walk, the inputs and the layout
// helpers; onnx_fold.cpp evaluates constant subgraphs at import; onnx_ops.cpp maps each ONNX op
// to engine ops, through one table (Importer::ops()). Internal to core/import/onnx.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "core/import/onnx/onnx_model.h"

namespace cnnlens::onnx_import {

// --- Constant folding helpers (ONNX layout, small tensors; onnx_fold.cpp) --------------------
std::vector<int64_t> strides_of(const std::vector<int64_t>& d);

// Calls f(index vector) for every element in row-major order.
void for_each_index(const std::vector<int64_t>& dims,
                    const std::function<void(const std::vector<int64_t>&)>& f);

ConstValue like(const ConstValue& src, std::vector<int64_t> dims);

void copy_elem(ConstValue& dst, int64_t di, const ConstValue& src, int64_t si);

// ONNX Slice of one axis of dim > 0 elements: the first index taken and the count (negative
// starts and ends count from the end, then clamp). A step longer than the axis takes at most one
// element either way; clamping it keeps the arithmetic in range for any int64 (fuzzer
// regression).
std::pair<int64_t, int64_t> slice_range(int64_t dim, int64_t start, int64_t end, int64_t step);

// c broadcast (numpy rules) to `dims`, which it must fit.
ConstValue expand(const ConstValue& c, const std::vector<int64_t>& dims);

// Whether c broadcasts (numpy rules) to `dims` without growing it.
bool broadcasts_to(const std::vector<int64_t>& c, const std::vector<int64_t>& dims);

// A tensor of the ONNX graph: a constant, or a node of the engine graph. Runtime tensors of
// rank 4 are NHWC in the engine; `onnx` is the ONNX shape (dimension 0 is the batch, held as
// 1), or with an added batch axis (Importer::lead_) 1 followed by the ONNX shape. hwc_flat marks a
// [N, C*H*W] tensor whose engine memory is in (h, w, c) order. `layout`, when set, overrides the
// default axis order: engine axis i holds ONNX axis layout[i]. ONNX Transposes only relabel it and
// Reshapes follow it, so PyTorch's NCHW<->NHWC permutes (ConvNeXt) and channel shuffles
// (ShuffleNet) cost at most one engine Transpose; consumers that need the default order call
// plain().
struct Value {
    bool is_const = false;
    ConstValue c;
    int node = -1;
    std::vector<int64_t> onnx;
    bool hwc_flat = false;
    int64_t fc = 0, fh = 0, fw = 0;
    std::vector<int> layout;
};

class Importer;

// One ONNX op the importer reads. `map` converts a node with a computed input; nullptr marks an
// op evaluated at import only (its inputs must be constants). Flags say how the generic walk
// treats the op before calling it.
struct OnnxOp {
    enum Flags : unsigned {
        kNone = 0,
        kBatchFirst = 1,   // needs its input's first axis to be the batch (Conv, pooling, ...)
        kOneD = 2,         // a 1-D form ([N,C,L]) is run as 2-D
        kOutputs = 4,      // has several outputs of its own (Split, LayerNormalization)
        kNeverFolded = 8,  // converted even when every input is a constant (Shape)
    };
    std::string_view name;
    Status (*map)(Importer&, const OnnxNode&);
    unsigned flags = kNone;
    // Why an extra output that is used cannot be had (Dropout's mask, MaxPool's indices).
    std::string_view extra_output = {};
};

class Importer {
public:
    // add_batch: give every runtime tensor a leading batch axis of size 1 that the model does
    // not have (its first axis is data); ONNX axis k is then axis k + 1 of Value::onnx.
    Importer(const std::string& file, OnnxModel& m, std::span<const OnnxTensor> given,
             bool add_batch);

    size_t converted() const { return converted_; }

    Expected<Graph> run();

private:
    // --- checks and inputs -----------------------------------------------------------------
    Status check_ops();
    // Every ONNX op the importer reads, in one table (onnx_ops.cpp); nullptr for any other.
    static const OnnxOp* find_op(std::string_view name);
    static std::span<const OnnxOp> ops();

    // Every graph input that is not an initializer. One the engine cannot hold at run time (not
    // float32, or without a batch axis) becomes a constant when its value is given.
    Status add_inputs();

    // --- engine graph helpers --------------------------------------------------------------
    std::string unique(const std::string& base);

    Shape shape_of(int node) const;

    // Adds a node and infers its shape now, so errors point at the ONNX node being converted.
    Expected<int> add(const std::string& name, OpType op, OpAttrs attrs, std::vector<int> inputs);

    int add_const(const std::string& name, Tensor t) {
        return g_.add_const(unique(name), std::move(t));
    }

    static std::vector<int64_t> onnx_shape(const Shape& s);

    Status define(const OnnxNode& n, int node, size_t output = 0);

    Status fail(const OnnxNode& n, const std::string& what) const {
        return invalid_argument(file_ + ": " + n.label() + ": " + what);
    }
    Status unsup(const OnnxNode& n, const std::string& what) const {
        return unsupported(file_ + ": " + n.label() + ": " + what);
    }

    // Input k of n: a constant or runtime value (null for a missing optional input).
    const Value* in(const OnnxNode& n, size_t k);

    // Input k of n where a constant is wanted: a runtime graph input whose value was given
    // counts as that constant.
    const Value* param(const OnnxNode& n, size_t k);

    Expected<const Value*> runtime_input(const OnnxNode& n, size_t k);

    Expected<const ConstValue*> const_input(const OnnxNode& n, size_t k, const char* what);

    Expected<const Value*> runtime_value(const std::string& name, const char* what);

    static Tensor to_tensor(const ConstValue& c, const Shape& s);

    // Permutes data of ONNX shape `dims` by perm (out axis i = in axis perm[i]).
    static ConstValue permute(const ConstValue& c, const std::vector<int>& perm);

    // A constant broadcast against a runtime tensor of ONNX rank r, in the engine layout `lay`
    // (default: the rank's).
    Expected<Tensor> const_for(const OnnxNode& n, const ConstValue& c, size_t r,
                               std::vector<int> lay = {});

    // The engine node holding v in the default layout (materialises an hwc_flat tensor or a
    // relabelled layout).
    Expected<int> plain(const Value& v, const std::string& name);

    std::vector<int> layout_of(const Value& v) const {
        return v.layout.empty() ? layout(v.onnx.size()) : v.layout;
    }

    // The engine node holding v (not hwc_flat) with engine axis i = ONNX axis want[i]: a
    // Transpose when v's layout differs, made once per (node, layout).
    Expected<int> with_layout(const Value& v, const std::vector<int>& want,
                              const std::string& name);

    // Records output `output` of n as engine node `node` holding ONNX shape `onnx` in `lay`.
    void define_as(const OnnxNode& n, int node, std::vector<int64_t> onnx, std::vector<int> lay,
                   size_t output = 0);

    // A Transpose of engine node x; consecutive transposes are composed (identity ones vanish).
    Expected<int> transpose(const std::string& name, int x, std::vector<int> perm);

    // Makes `v` (runtime) take the ONNX shape `target` (batch first): Reshape, Flatten, Squeeze,
    // Unsqueeze. Transposes are inserted only where NHWC and NCHW memory orders differ.
    Status reshape_to(const OnnxNode& n, const Value& v, std::vector<int64_t> target);

    // --- conversion ------------------------------------------------------------------------
    bool used(const OnnxNode& n, size_t k) {
        return k < n.outputs.size() && !n.outputs[k].empty() && consumers_[n.outputs[k]] > 0;
    }

    // ONNX axis `a` (negative counts from the end) of a runtime tensor whose Value::onnx has
    // rank r, as an axis of Value::onnx; -1 when out of range.
    int64_t axis_of(int64_t a, size_t r) const;

    Status convert(const OnnxNode& n);
    Status identity(const OnnxNode& n);
    Status matmul(const OnnxNode& n);

    // Forms of ops before opset 9 whose meaning differs from the versions the mappings follow
    // (ONNX's Changelog); the ops' other forms in opsets 1 to 8 read as in opset 9. Legacy
    // forms that are easy to map (arithmetic's broadcast axis, PRelu's per-channel slope,
    // Reshape's shape attribute, Upsample's scales attributes, Pad's paddings, Cast's type name,
    // Selu's defaults) are mapped where the op is. consumed_inputs is ignored: ONNX calls it a
    // "legacy optimization attribute" and its version converter drops it.
    Status legacy_forms(const OnnxNode& n);

    Status constant(const OnnxNode& n);

    Status shape(const OnnxNode& n);

    // Axes from the attribute (older opsets) or the second input (newer).
    Expected<std::vector<int64_t>> axes_of(const OnnxNode& n, size_t input, int64_t rank);

    static bool has_batch(const ConstValue& c);

    // Target shape of Reshape/Squeeze/Unsqueeze/Flatten for input dims `d`.
    Expected<std::vector<int64_t>> reshaped_dims(const OnnxNode& n, const std::vector<int64_t>& d,
                                                 bool runtime);

    // Cast's `to`: a DataType value, or before opset 6 its name ("FLOAT").
    static int64_t cast_target(const OnnxNode& n);

    // Evaluates a node whose inputs are all constants.
    Status fold(const OnnxNode& n);

    // NumPy broadcasting of two shapes.
    Expected<std::vector<int64_t>> broadcast_dims(const OnnxNode& n, const std::vector<int64_t>& a,
                                                  const std::vector<int64_t>& b);

    // Comparisons, Mod, logic, Max/Min and Where on constants (shape and mask arithmetic), with
    // NumPy broadcasting. The batch size (unknown at import) may be compared and selected, as
    // exporters do to resolve -1 in an Expand's shape, but never computed with.
    Status fold_elementwise(const OnnxNode& n, ConstValue& out);

    // ScatterND (reduction none) on constants: data with the slices that indices name replaced
    // by updates.
    Status fold_scatter_nd(const OnnxNode& n, const ConstValue& data, ConstValue& out);

    Status fold_binary(const OnnxNode& n, const ConstValue& a, const ConstValue& b,
                       ConstValue& out);

    Status slice(const OnnxNode& n, const ConstValue& x, ConstValue& out);

    // Explicit (begin, end) pads per spatial axis from pads / auto_pad.
    Status spatial_pads(const OnnxNode& n, const int64_t in_hw[2], const int64_t k[2],
                        const int64_t s[2], const int64_t d[2], int64_t pads[4]);

    Status pair_attr(const OnnxNode& n, const char* name, int64_t def, int64_t out[2], int64_t hi);

    Status conv(const OnnxNode& n);

    Status conv_transpose(const OnnxNode& n);

    // Gemm and MatMul of a matrix by constant weights: one engine MatMul (alpha folded into the
    // weights, beta * C its bias). With an added batch axis A [M,K] is held [1,M,K]: transA is
    // then a relabelling of its last two axes, and a C that varies along M is added after.
    Status gemm(const OnnxNode& n);

    Status batch_norm(const OnnxNode& n);

    // Operands meet in the layout of the first computed one; the result keeps it.
    Status binary(const OnnxNode& n);

    // Element-wise ops keep the layout of their input (including hwc_flat).
    Status unary(const OnnxNode& n, OpType op, OpAttrs attrs);

    Status clip(const OnnxNode& n);

    // The slope broadcasts to x (numpy rules from opset 7; before, C values are per channel). One
    // of 1 value or along the engine's last axis stays as it is; any other is expanded to one
    // image.
    Status prelu(const OnnxNode& n);

    // Softmax over one axis (opset 13), or before opset 13 over the axes from `axis` on,
    // flattened. The engine's softmax runs over its last axis: those axes are laid out last (a
    // relabelling, or one Transpose) and, when there are several, flattened by a Reshape and back.
    Status softmax(const OnnxNode& n);

    Status pool(const OnnxNode& n);

    Status global_pool(const OnnxNode& n);

    // ReduceMean (x.mean((2, 3)) in PyTorch; LayerNorm's decomposition): axes from the
    // attribute, or the input from opset 18. The result keeps the input's axis order.
    Status reduce_mean(const OnnxNode& n);

    // The target of Reshape/Flatten/Squeeze/Unsqueeze of runtime v, in Value::onnx terms.
    Expected<std::vector<int64_t>> runtime_target(const OnnxNode& n, const Value& v);

    Status flatten(const OnnxNode& n);

    Status reshape_like(const OnnxNode& n);

    static std::vector<int> layout(size_t rank);

    Status transpose_op(const OnnxNode& n);

    Status concat(const OnnxNode& n);

    Status pad(const OnnxNode& n);

    // --- ops of ConvNeXt, ShuffleNet and other torchvision models -----------------------------

    // ONNX axis k of v as an engine axis.
    int engine_axis(const Value& v, int64_t k) const;

    // A layout of rank r that keeps v's order for the leading axes and puts ONNX axes
    // from..r-1 last, in order (what MatMul and LayerNorm over trailing axes need).
    std::vector<int> trailing_layout(const Value& v, int64_t from) const;

    Status pow(const OnnxNode& n);

    // MatMul of a [N,...,K] tensor by a constant [K,M] (a Linear on a channels-last tensor):
    // one engine MatMul over the last axis, in a layout where the contracted axis is last.
    Status matmul_rows(const OnnxNode& n);

    // With a batch axis added, an NCHW image input of batch 1 (or a symbolic batch) is held as
    // the engine's NHWC image when no value is given for it (the model is run on images, not by
    // `cnnlens run`, whose tensors keep the ONNX order).
    bool image_with_lead(const std::vector<int64_t>& onnx);

    // An op on [N,C,H,W] images (Conv, pooling, BatchNormalization, Resize) in a graph read with
    // a batch axis added: when the model's own batch is 1 (a transformer that folds it into its
    // heads or tokens), the op runs on the engine's NHWC image [L,H,W,C], L the added batch, and
    // its result goes back to [L,1,...] in the NHWC layout.
    Status batch_first_with_lead(const OnnxNode& n);

    // A 1-D convolution or pooling of [N,C,L]: the 2-D op on [N,C,1,L] (the engine's NHWC image
    // [N,1,L,C]), its attributes and weights given a leading axis of 1, and the result read back
    // as [N,C',L'].
    Status one_d_as_two_d(const OnnxNode& n);

    // A MatMul that is not a layer with constant [K, M] weights: its second operand is computed
    // (attention's scores and weighted sums) or has leading axes, or its first is a constant.
    bool needs_batch_matmul(const OnnxNode& n);

    // MatMul as NumPy defines it on operands of rank >= 2, leading axes broadcast: one engine
    // BatchMatMul on both operands in ONNX axis order. A constant operand broadcasts over the
    // batch; one whose leading axes would multiply the batch is refused.
    Status batch_matmul(const OnnxNode& n);

    static std::vector<int> identity_layout(size_t rank);

    // LayerNormalization (opset 17): normalizes ONNX axes axis..r-1 of x.
    Status layer_norm(const OnnxNode& n);

    // One engine Slice of v along ONNX axes (starts/ends/steps per axis); the result keeps v's
    // layout.
    Status slice_of(const OnnxNode& n, const Value& v, std::vector<int64_t> axes,
                    const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                    std::vector<int64_t> steps, size_t output);

    // Gather of a computed tensor at constant indices (x[:, 0], a transformer's class token):
    // a Slice, then a Reshape that drops the axis for a scalar index. Indices must be evenly
    // spaced (one strided Slice).
    Status gather_op(const OnnxNode& n);

    Status slice_op(const OnnxNode& n);

    // Split: one Slice per output (torch.chunk / split along an axis).
    Status split(const OnnxNode& n);

    // Resize (opset 10+) and Upsample (opset 9): spatial axes of an NCHW tensor; scales or
    // sizes must be constants.
    Status resize(const OnnxNode& n);

    // Keeps the nodes the output depends on (dead constants from folding, unused transposes).
    Graph compact_graph();

    const std::string& file_;
    OnnxModel& m_;
    std::set<int> image_nodes_;  // engine nodes that hold NHWC images (Node::image)
    size_t converted_ = 0;       // nodes read before an error: which reading of a graph got further
    bool image_input_ = false;   // an image input read as NHWC with a batch axis added
    int lead_;  // 1 when every runtime tensor carries an added batch axis (0 inside
                // batch_first_with_lead)
    Graph g_;
    std::unordered_map<std::string, Value> values_;
    std::unordered_map<std::string, int> consumers_;
    std::unordered_map<std::string, int> conv_of_;
    std::unordered_map<int, int> materialized_;
    std::map<std::string, const OnnxTensor*> given_;
    std::unordered_map<std::string, Value> known_;  // given values of runtime inputs, as constants
    std::map<std::pair<int, std::vector<int>>, int> relaid_;
};

}  // namespace cnnlens::onnx_import
