// Import of ONNX models (ModelProto, opsets 1 to 18; before 9 the forms whose meaning later changed
// are refused) into the engine's Graph.
//
// The file is read with our own bounds-checked protobuf reader (protobuf.h). NCHW models are
// converted to the engine's NHWC once, at import: every rank-4 runtime tensor is kept NHWC,
// weights are transposed (Conv [O,I,KH,KW] -> [KH,KW,I,O]), constants that broadcast against
// rank-4 tensors are permuted, and axes of Concat, Pad, Softmax, Transpose are remapped. A
// Flatten (or Reshape) of an NHWC tensor yields PyTorch's C-major order: when every consumer is
// a Gemm/MatMul with constant weights their rows are permuted instead (no runtime cost),
// otherwise a Transpose is inserted. BatchNormalization is folded into the preceding Conv when
// that Conv has no other consumer. Shape/Gather/Unsqueeze/Concat/Cast/Slice/ConstantOfShape
// chains (PyTorch's view and pad arithmetic) are evaluated at import; the batch size stays
// symbolic and may only pass through them to a Reshape's first dimension.
//
// Every unsupported op is listed at once with node names; malformed files (truncated protobuf,
// wrong wire types, wrong initializer sizes, external data, NaN weights) and files beyond the
// limits below give errors that name the thing and the value.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "core/base/status.h"
#include "core/graph/graph.h"
#include "core/import/onnx/tensor_proto.h"

namespace cnnlens {

struct OnnxLimits {
    size_t max_bytes = size_t{512} << 20;            // whole file
    int max_nodes = 50000;                           // NodeProtos in the graph
    int64_t max_tensor_elements = int64_t{1} << 28;  // one initializer or constant
    int64_t max_total_elements = int64_t{1} << 28;   // all initializers together
};

// `name` is used in error messages (the file name).
//
// Every graph input becomes an Input node (rank 2 to 6, dimension 0 the batch; rank 4 is NCHW
// and held NHWC) and every graph output an output of the Graph, in the model's order. A graph
// that cannot be read so because it uses dimension 0 as data (moves, slices, concatenates or
// reduces it; an input of rank 1) is read again with a batch axis added in front of every
// runtime tensor (Graph::batch_added(); ONNX axis k is engine axis k + 1, rank 1 to 5, and a
// tensor of rank 3 [C,H,W] is held NHWC); ops that need their input's first axis to be the batch
// (Conv, pooling, BatchNormalization, Resize) are refused in that reading. When neither reading
// works, the error is the first one's. `given`
// holds values for inputs, by name, in ONNX layout (`cnnlens run`, ONNX's backend tests): an
// input the engine cannot hold at run time (not float32, or rank below 2) becomes a constant of
// its given value (int64 shapes, axes, pads); a float32 input stays a runtime input, but its
// value also serves where an op needs a constant (a Conv's weights, a MatMul's second operand, a
// PRelu's slope, a lower-rank operand that broadcasts), and an input used only that way is left
// out of the Graph's inputs. A symbolic input dimension takes the given value's size.
Expected<Graph> import_onnx(std::span<const uint8_t> bytes, const std::string& name,
                            const OnnxLimits& limits = {}, std::span<const OnnxTensor> given = {});

// The layout rule of the import at a graph's boundary: a rank-4 runtime tensor is NCHW in ONNX
// and NHWC in the engine; every other rank is the same in both. With batch_added (the graph's
// Graph::batch_added()) the engine tensor has a leading axis of size 1 more, and the rule
// applies to the shape with it. `t` must be float32 (integer values are converted).
Tensor onnx_to_engine(const OnnxTensor& t, bool batch_added = false);
// An engine tensor (an output) in ONNX layout, as a float32 OnnxTensor named `name`; with
// batch_added its leading axis, of size 1, is dropped.
OnnxTensor engine_to_onnx(const Tensor& t, std::string name, bool batch_added = false);

// True when the bytes look like an ONNX ModelProto (a protobuf whose first field is
// ir_version, producer_name, opset_import or graph).
bool looks_like_onnx(std::span<const uint8_t> bytes);

}  // namespace cnnlens
