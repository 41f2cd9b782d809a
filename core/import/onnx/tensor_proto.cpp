// TensorProto reading and writing.
#include "core/import/onnx/tensor_proto.h"

#include <cstring>

#include "core/base/half.h"

namespace cnnlens {
namespace {

using pb::PbField;
using pb::PbReader;
using pb::WireType;

std::string dims_str(const std::vector<int64_t>& d) {
    std::string s = "[";
    for (size_t i = 0; i < d.size(); ++i) {
        if (i) s += ',';
        s += std::to_string(d[i]);
    }
    return s + "]";
}

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<uint8_t>(v));
}

void put_bytes(std::vector<uint8_t>& out, uint32_t field, const void* data, size_t n) {
    put_varint(out, field << 3 | 2);
    put_varint(out, n);
    const uint8_t* p = static_cast<const uint8_t*>(data);
    out.insert(out.end(), p, p + n);
}

}  // namespace

std::string onnx_dtype_name(int t) {
    static const char* names[] = {"undefined",  "float32", "uint8",  "int8",   "uint16",
                                  "int16",      "int32",   "int64",  "string", "bool",
                                  "float16",    "float64", "uint32", "uint64", "complex64",
                                  "complex128", "bfloat16"};
    return t >= 0 && t <= 16 ? names[t] : "type " + std::to_string(t);
}

int64_t OnnxTensor::count() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
}

Status parse_tensor_proto(PbReader& r, const std::string& file, const char* kind,
                          int64_t max_elements, OnnxTensor& v) {
    PbField f;
    int64_t dtype = 0, location = 0;
    bool has_raw = false, external = false;
    std::span<const uint8_t> raw;
    std::vector<float> floats;
    std::vector<int64_t> ints;
    std::vector<double> doubles;
    std::string ext_location;
    const size_t cap = static_cast<size_t>(max_elements);
    while (r.more()) {
        CNNLENS_RETURN_IF_ERROR(r.next(f));
        switch (f.number) {
            case 1:
                CNNLENS_RETURN_IF_ERROR(pb::read_repeated_ints(r, f, "dims", v.dims, 16));
                break;
            case 2:
                CNNLENS_RETURN_IF_ERROR(pb::read_int(r, f, "data_type", dtype));
                break;
            case 3:
                return unsupported(r.what() + ": segmented tensors are not supported");
            case 4:
                CNNLENS_RETURN_IF_ERROR(pb::read_repeated_floats(r, f, "float_data", floats, cap));
                break;
            case 5:
                CNNLENS_RETURN_IF_ERROR(pb::read_repeated_ints(r, f, "int32_data", ints, cap));
                break;
            case 7:
                CNNLENS_RETURN_IF_ERROR(pb::read_repeated_ints(r, f, "int64_data", ints, cap));
                break;
            case 8:
                CNNLENS_RETURN_IF_ERROR(pb::read_string(r, f, "name", v.name));
                break;
            case 9:
                CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "raw_data"));
                raw = f.bytes;
                has_raw = true;
                break;
            case 10:
                CNNLENS_RETURN_IF_ERROR(
                    pb::read_repeated_doubles(r, f, "double_data", doubles, cap));
                break;
            case 13: {  // external_data: key/value pairs; remember the location for the message
                external = true;
                CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, "external_data"));
                PbReader kv = r.sub(f, r.what() + " external_data");
                PbField g;
                std::string key, value;
                while (kv.more()) {
                    CNNLENS_RETURN_IF_ERROR(kv.next(g));
                    if (g.number == 1) CNNLENS_RETURN_IF_ERROR(pb::read_string(kv, g, "key", key));
                    if (g.number == 2)
                        CNNLENS_RETURN_IF_ERROR(pb::read_string(kv, g, "value", value));
                }
                if (key == "location") ext_location = value;
                break;
            }
            case 14:
                CNNLENS_RETURN_IF_ERROR(pb::read_int(r, f, "data_location", location));
                break;
            default:
                break;
        }
    }
    const std::string who = std::string(kind) + " '" + v.name + "'";
    if (external || location == 1)
        return unsupported(file + ": " + who + " keeps its data in an external file" +
                           (ext_location.empty() ? "" : " ('" + ext_location + "')") +
                           "; save the model as one file (onnx.save_model(model, path, "
                           "save_as_external_data=False))");
    int64_t count = 1;
    for (int64_t d : v.dims) {
        if (d < 0)
            return corrupt(file + ": " + who + " has dimension " + std::to_string(d) + " in " +
                           dims_str(v.dims));
        if (d > 0 && count > max_elements / d)
            return out_of_range(file + ": " + who + " " + dims_str(v.dims) + " has more than " +
                                std::to_string(max_elements) + " elements");
        count *= d;
    }
    size_t elem = 0;
    switch (dtype) {
        case kOnnxFloat:
        case kOnnxInt32:
            elem = 4;
            break;
        case kOnnxInt64:
        case kOnnxDouble:
            elem = 8;
            break;
        case kOnnxFloat16:
        case kOnnxInt16:
        case kOnnxUint16:
            elem = 2;
            break;
        case kOnnxInt8:
        case kOnnxUint8:
        case kOnnxBool:
            elem = 1;
            break;
        default:
            return unsupported(file + ": " + who + " has data type " +
                               onnx_dtype_name(static_cast<int>(dtype)) +
                               " (float32/16/64 and integers are supported)");
    }
    v.dtype = static_cast<int>(dtype);
    const size_t n = static_cast<size_t>(count);
    const std::string what =
        file + ": " + who + " (" + onnx_dtype_name(v.dtype) + " " + dims_str(v.dims) + ") has ";
    if (has_raw) {
        if (raw.size() != n * elem)
            return corrupt(what + std::to_string(raw.size()) + " bytes of raw_data, expected " +
                           std::to_string(n * elem));
        const uint8_t* p = raw.data();
        if (v.is_int())
            v.i.resize(n);
        else
            v.f.resize(n);
        for (size_t k = 0; k < n; ++k) {
            switch (dtype) {
                case kOnnxFloat:
                    std::memcpy(&v.f[k], p + 4 * k, 4);
                    break;
                case kOnnxDouble: {
                    double d;
                    std::memcpy(&d, p + 8 * k, 8);
                    v.f[k] = static_cast<float>(d);
                    break;
                }
                case kOnnxFloat16: {
                    uint16_t h;
                    std::memcpy(&h, p + 2 * k, 2);
                    v.f[k] = half_to_float(h);
                    break;
                }
                case kOnnxInt64:
                    std::memcpy(&v.i[k], p + 8 * k, 8);
                    break;
                case kOnnxInt32: {
                    int32_t x;
                    std::memcpy(&x, p + 4 * k, 4);
                    v.i[k] = x;
                    break;
                }
                case kOnnxInt16: {
                    int16_t x;
                    std::memcpy(&x, p + 2 * k, 2);
                    v.i[k] = x;
                    break;
                }
                case kOnnxUint16: {
                    uint16_t x;
                    std::memcpy(&x, p + 2 * k, 2);
                    v.i[k] = x;
                    break;
                }
                case kOnnxInt8:
                    v.i[k] = static_cast<int8_t>(p[k]);
                    break;
                default:
                    v.i[k] = p[k];
                    break;
            }
        }
    } else {
        const char* field = dtype == kOnnxFloat    ? "float_data"
                            : dtype == kOnnxDouble ? "double_data"
                            : dtype == kOnnxInt64  ? "int64_data"
                                                   : "int32_data";
        const size_t have = dtype == kOnnxFloat    ? floats.size()
                            : dtype == kOnnxDouble ? doubles.size()
                                                   : ints.size();
        if (have != n)
            return corrupt(what + std::to_string(have) + " values in " + field + ", expected " +
                           std::to_string(n));
        if (dtype == kOnnxFloat)
            v.f = std::move(floats);
        else if (dtype == kOnnxDouble)
            for (double d : doubles) v.f.push_back(static_cast<float>(d));
        else if (dtype == kOnnxFloat16)
            for (int64_t h : ints) v.f.push_back(half_to_float(static_cast<uint16_t>(h)));
        else
            v.i = std::move(ints);
    }
    return Status::ok();
}

Expected<OnnxTensor> read_tensor_proto(std::span<const uint8_t> bytes, const std::string& file,
                                       int64_t max_elements) {
    if (bytes.empty()) return corrupt(file + ": the file is empty");
    PbReader r(bytes, file + ": TensorProto");
    OnnxTensor t;
    CNNLENS_RETURN_IF_ERROR(parse_tensor_proto(r, file, "tensor", max_elements, t));
    return t;
}

std::vector<uint8_t> encode_tensor_proto(const std::string& name, const std::vector<int64_t>& dims,
                                         std::span<const float> values) {
    std::vector<uint8_t> out;
    for (int64_t d : dims) {
        put_varint(out, 1 << 3);
        put_varint(out, static_cast<uint64_t>(d));
    }
    put_varint(out, 2 << 3);
    put_varint(out, kOnnxFloat);
    put_bytes(out, 8, name.data(), name.size());
    std::vector<uint8_t> raw(values.size() * 4);
    for (size_t k = 0; k < values.size(); ++k) {
        uint32_t u;
        std::memcpy(&u, &values[k], 4);
        for (int b = 0; b < 4; ++b)
            raw[4 * k + static_cast<size_t>(b)] = static_cast<uint8_t>(u >> (8 * b));
    }
    put_bytes(out, 9, raw.data(), raw.size());
    return out;
}

}  // namespace cnnlens
