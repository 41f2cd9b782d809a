// A small, bounds-checked reader of the protobuf wire format, enough to walk an ONNX file.
// It is ours because no protobuf runtime that compiles to WebAssembly can be had here (Debian
// ships libprotobuf for the host only); it never allocates per field and never reads past the
// buffer: every failure is a Status naming the message, the field number and the byte offset.
//
// Usage: PbReader r(bytes, "ModelProto"); PbField f; while (r.more()) {
// CNNLENS_RETURN_IF_ERROR(r.next(f)); ... }
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace cnnlens::pb {

enum class WireType : uint8_t {
    kVarint = 0,
    kFixed64 = 1,
    kLengthDelimited = 2,
    kStartGroup = 3,
    kEndGroup = 4,
    kFixed32 = 5
};
std::string_view wire_type_name(WireType w);

// One field as read off the wire. For kVarint, `varint` holds the value; for kFixed32/kFixed64
// `varint` holds the raw bits; for kLengthDelimited `bytes` views the payload (inside the
// reader's buffer). `offset` is the field's tag position, from the start of the outermost buffer.
struct PbField {
    uint32_t number = 0;
    WireType wire = WireType::kVarint;
    uint64_t varint = 0;
    std::span<const uint8_t> bytes;
    size_t offset = 0;
};

class PbReader {
public:
    // `what` names the message in errors ("TensorProto 'conv1.weight'"); `base` is the offset
    // of `data` within the file (for error positions).
    PbReader(std::span<const uint8_t> data, std::string what, size_t base = 0)
        : data_(data), what_(std::move(what)), base_(base) {}

    bool more() const { return pos_ < data_.size(); }
    // Reads the next field; groups (wire types 3 and 4) and field number 0 are errors.
    Status next(PbField& f);
    // A reader over the payload of a length-delimited field f.
    PbReader sub(const PbField& f, std::string what) const;
    const std::string& what() const { return what_; }
    size_t base() const { return base_; }

    // Errors for a field of the wrong wire type: "<what>: field 7 (graph) has wire type
    // varint, expected length-delimited (at byte 12)".
    Status expect(const PbField& f, WireType w, std::string_view field_name) const;

private:
    std::span<const uint8_t> data_;
    std::string what_;
    size_t base_ = 0;
    size_t pos_ = 0;
};

// Field value helpers; each checks the wire type first.
Status read_string(const PbReader& r, const PbField& f, std::string_view field_name,
                   std::string& out);
Status read_int(const PbReader& r, const PbField& f, std::string_view field_name, int64_t& out);
Status read_float(const PbReader& r, const PbField& f, std::string_view field_name, float& out);
Status read_double(const PbReader& r, const PbField& f, std::string_view field_name, double& out);
// Repeated scalar fields arrive either packed (one length-delimited field) or one by one;
// both forms are appended to `out`. `limit` caps the total count.
Status read_repeated_ints(const PbReader& r, const PbField& f, std::string_view field_name,
                          std::vector<int64_t>& out, size_t limit);
Status read_repeated_floats(const PbReader& r, const PbField& f, std::string_view field_name,
                            std::vector<float>& out, size_t limit);
Status read_repeated_doubles(const PbReader& r, const PbField& f, std::string_view field_name,
                             std::vector<double>& out, size_t limit);

// Decodes one varint from data[pos..]; false when truncated or longer than 10 bytes.
bool decode_varint(std::span<const uint8_t> data, size_t& pos, uint64_t& out);

}  // namespace cnnlens::pb
