// ONNX TensorProto messages on their own: the values of initializers and Constant nodes, and the
// .pb files ONNX's backend tests and `cnnlens run` keep inputs and outputs in. The reader is
// bounds-checked like the rest of the import (protobuf.h): sizes must match dims and data type,
// and every error names the file, the tensor and the value.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/import/onnx/protobuf.h"

namespace cnnlens {

// TensorProto.DataType values.
enum OnnxDataType : int {
    kOnnxFloat = 1,
    kOnnxUint8 = 2,
    kOnnxInt8 = 3,
    kOnnxUint16 = 4,
    kOnnxInt16 = 5,
    kOnnxInt32 = 6,
    kOnnxInt64 = 7,
    kOnnxString = 8,
    kOnnxBool = 9,
    kOnnxFloat16 = 10,
    kOnnxDouble = 11
};
// "float32", "int64", ... ("type 99" for values ONNX does not define).
std::string onnx_dtype_name(int dtype);

// A tensor in ONNX layout (row-major over `dims`). Floating types (float32, float16, float64)
// are held as float32 in `f`, integer and bool types as int64 in `i`; `dtype` keeps the type
// the file declared.
struct OnnxTensor {
    std::string name;
    int dtype = kOnnxFloat;
    std::vector<int64_t> dims;
    std::vector<float> f;
    std::vector<int64_t> i;
    bool is_int() const {
        return dtype != kOnnxFloat && dtype != kOnnxFloat16 && dtype != kOnnxDouble;
    }
    int64_t count() const;
};

// Reads the TensorProto that `r` spans. `file` and `kind` ("initializer", "constant", "tensor")
// name it in errors; more than `max_elements` values is an error. Data kept in external files
// and types other than the numeric ones and bool are errors.
Status parse_tensor_proto(pb::PbReader& r, const std::string& file, const char* kind,
                          int64_t max_elements, OnnxTensor& out);
// A whole .pb file holding one TensorProto.
Expected<OnnxTensor> read_tensor_proto(std::span<const uint8_t> bytes, const std::string& file,
                                       int64_t max_elements = int64_t{1} << 28);
// A float32 TensorProto (name, dims, raw_data little-endian) of `values` in ONNX layout.
std::vector<uint8_t> encode_tensor_proto(const std::string& name, const std::vector<int64_t>& dims,
                                         std::span<const float> values);

}  // namespace cnnlens
