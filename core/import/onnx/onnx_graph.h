// Import of ONNX models (ModelProto, opsets 9 to 18) into the engine's Graph.
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

namespace cnnlens {

struct OnnxLimits {
    size_t max_bytes = size_t{512} << 20;       // whole file
    int max_nodes = 50000;                      // NodeProtos in the graph
    int64_t max_tensor_elements = int64_t{1} << 28;  // one initializer or constant
    int64_t max_total_elements = int64_t{1} << 28;   // all initializers together
};

// `name` is used in error messages (the file name).
Expected<Graph> import_onnx(std::span<const uint8_t> bytes, const std::string& name, const OnnxLimits& limits = {});

// True when the bytes look like an ONNX ModelProto (a protobuf whose first field is
// ir_version, producer_name, opset_import or graph).
bool looks_like_onnx(std::span<const uint8_t> bytes);

}  // namespace cnnlens
