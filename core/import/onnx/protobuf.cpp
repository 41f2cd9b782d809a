// Protobuf wire-format reader: see protobuf.h.
#include "core/import/onnx/protobuf.h"

#include <cstring>

namespace cnnlens::pb {

std::string_view wire_type_name(WireType w) {
    switch (w) {
        case WireType::kVarint:
            return "varint";
        case WireType::kFixed64:
            return "fixed64";
        case WireType::kLengthDelimited:
            return "length-delimited";
        case WireType::kStartGroup:
            return "start-group";
        case WireType::kEndGroup:
            return "end-group";
        case WireType::kFixed32:
            return "fixed32";
    }
    return "unknown";
}

bool decode_varint(std::span<const uint8_t> data, size_t& pos, uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (pos >= data.size()) return false;
        const uint8_t b = data[pos++];
        if (shift == 63 && (b & 0x7e)) return false;  // more than 64 bits
        out |= static_cast<uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

Status PbReader::next(PbField& f) {
    const size_t start = pos_;
    f.offset = base_ + start;
    uint64_t tag;
    if (!decode_varint(data_, pos_, tag))
        return corrupt(what_ + ": truncated or malformed field tag at byte " +
                       std::to_string(base_ + start));
    const uint32_t wire = static_cast<uint32_t>(tag & 7);
    const uint64_t number = tag >> 3;
    if (number == 0 || number > 536870911u)
        return corrupt(what_ + ": invalid field number " + std::to_string(number) + " at byte " +
                       std::to_string(base_ + start));
    if (wire > 5)
        return corrupt(what_ + ": field " + std::to_string(number) + " has invalid wire type " +
                       std::to_string(wire) + " at byte " + std::to_string(base_ + start));
    f.number = static_cast<uint32_t>(number);
    f.wire = static_cast<WireType>(wire);
    f.varint = 0;
    f.bytes = {};
    const std::string at =
        " (field " + std::to_string(number) + " at byte " + std::to_string(base_ + start) + ")";
    switch (f.wire) {
        case WireType::kVarint:
            if (!decode_varint(data_, pos_, f.varint))
                return corrupt(what_ + ": truncated varint" + at);
            return Status::ok();
        case WireType::kFixed64:
            if (data_.size() - pos_ < 8) return corrupt(what_ + ": truncated fixed64 value" + at);
            std::memcpy(&f.varint, data_.data() + pos_, 8);
            pos_ += 8;
            return Status::ok();
        case WireType::kFixed32: {
            if (data_.size() - pos_ < 4) return corrupt(what_ + ": truncated fixed32 value" + at);
            uint32_t v;
            std::memcpy(&v, data_.data() + pos_, 4);
            f.varint = v;
            pos_ += 4;
            return Status::ok();
        }
        case WireType::kLengthDelimited: {
            uint64_t len;
            if (!decode_varint(data_, pos_, len)) return corrupt(what_ + ": truncated length" + at);
            if (len > data_.size() - pos_)
                return corrupt(what_ + ": length " + std::to_string(len) + " exceeds the " +
                               std::to_string(data_.size() - pos_) + " bytes left" + at);
            f.bytes = data_.subspan(pos_, static_cast<size_t>(len));
            pos_ += static_cast<size_t>(len);
            return Status::ok();
        }
        case WireType::kStartGroup:
        case WireType::kEndGroup:
            break;
    }
    return corrupt(what_ + ": protobuf groups are not supported" + at);
}

PbReader PbReader::sub(const PbField& f, std::string what) const {
    return PbReader(f.bytes, std::move(what),
                    base_ + static_cast<size_t>(f.bytes.data() - data_.data()));
}

Status PbReader::expect(const PbField& f, WireType w, std::string_view field_name) const {
    if (f.wire == w) return Status::ok();
    return corrupt(what_ + ": field " + std::to_string(f.number) + " (" + std::string(field_name) +
                   ") has wire type " + std::string(wire_type_name(f.wire)) + ", expected " +
                   std::string(wire_type_name(w)) + " (at byte " + std::to_string(f.offset) + ")");
}

Status read_string(const PbReader& r, const PbField& f, std::string_view name, std::string& out) {
    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, name));
    out.assign(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
    return Status::ok();
}

Status read_int(const PbReader& r, const PbField& f, std::string_view name, int64_t& out) {
    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kVarint, name));
    out = static_cast<int64_t>(f.varint);
    return Status::ok();
}

Status read_float(const PbReader& r, const PbField& f, std::string_view name, float& out) {
    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kFixed32, name));
    const uint32_t bits = static_cast<uint32_t>(f.varint);
    std::memcpy(&out, &bits, 4);
    return Status::ok();
}

Status read_double(const PbReader& r, const PbField& f, std::string_view name, double& out) {
    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kFixed64, name));
    std::memcpy(&out, &f.varint, 8);
    return Status::ok();
}

namespace {
Status too_many(const PbReader& r, const PbField& f, std::string_view name, size_t limit) {
    return out_of_range(r.what() + ": field " + std::to_string(f.number) + " (" +
                        std::string(name) + ") has more than " + std::to_string(limit) + " values");
}
}  // namespace

Status read_repeated_ints(const PbReader& r, const PbField& f, std::string_view name,
                          std::vector<int64_t>& out, size_t limit) {
    if (f.wire == WireType::kVarint) {
        if (out.size() >= limit) return too_many(r, f, name, limit);
        out.push_back(static_cast<int64_t>(f.varint));
        return Status::ok();
    }
    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, name));
    size_t pos = 0;
    while (pos < f.bytes.size()) {
        uint64_t v;
        if (!decode_varint(f.bytes, pos, v))
            return corrupt(r.what() + ": truncated packed varint in field " +
                           std::to_string(f.number) + " (" + std::string(name) + ") at byte " +
                           std::to_string(f.offset));
        if (out.size() >= limit) return too_many(r, f, name, limit);
        out.push_back(static_cast<int64_t>(v));
    }
    return Status::ok();
}

template <typename T, WireType kWire>
Status read_fixed(const PbReader& r, const PbField& f, std::string_view name, std::vector<T>& out,
                  size_t limit) {
    if (f.wire == kWire) {
        if (out.size() >= limit) return too_many(r, f, name, limit);
        T v;
        if constexpr (sizeof(T) == 4) {
            const uint32_t bits = static_cast<uint32_t>(f.varint);
            std::memcpy(&v, &bits, 4);
        } else
            std::memcpy(&v, &f.varint, 8);
        out.push_back(v);
        return Status::ok();
    }
    CNNLENS_RETURN_IF_ERROR(r.expect(f, WireType::kLengthDelimited, name));
    if (f.bytes.size() % sizeof(T))
        return corrupt(r.what() + ": packed field " + std::to_string(f.number) + " (" +
                       std::string(name) + ") has " + std::to_string(f.bytes.size()) +
                       " bytes, not a multiple of " + std::to_string(sizeof(T)) + " (at byte " +
                       std::to_string(f.offset) + ")");
    const size_t n = f.bytes.size() / sizeof(T);
    if (n > limit - out.size()) return too_many(r, f, name, limit);
    const size_t old = out.size();
    out.resize(old + n);
    if (n) std::memcpy(out.data() + old, f.bytes.data(), n * sizeof(T));
    return Status::ok();
}

Status read_repeated_floats(const PbReader& r, const PbField& f, std::string_view name,
                            std::vector<float>& out, size_t limit) {
    return read_fixed<float, WireType::kFixed32>(r, f, name, out, limit);
}
Status read_repeated_doubles(const PbReader& r, const PbField& f, std::string_view name,
                             std::vector<double>& out, size_t limit) {
    return read_fixed<double, WireType::kFixed64>(r, f, name, out, limit);
}

}  // namespace cnnlens::pb
