// The protobuf wire reader (core/import/onnx/protobuf.h): every wire type, packed and unpacked
// repeated fields, and every way a buffer can be malformed, each answered by an error naming
// the message, field and byte offset.
#include "core/import/onnx/protobuf.h"

#include <gtest/gtest.h>

#include <cstring>

namespace cnnlens::pb {
namespace {

std::vector<uint8_t> varint(uint64_t v) {
    std::vector<uint8_t> out;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        if (v) b |= 0x80;
        out.push_back(b);
    } while (v);
    return out;
}

void append(std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
}

std::vector<uint8_t> tag(uint32_t field, WireType w) {
    return varint((uint64_t{field} << 3) | static_cast<uint64_t>(w));
}

TEST(Protobuf, ReadsEveryWireType) {
    std::vector<uint8_t> buf;
    append(buf, tag(1, WireType::kVarint));
    append(buf, varint(300));
    append(buf, tag(2, WireType::kLengthDelimited));
    append(buf, varint(3));
    append(buf, {'a', 'b', 'c'});
    append(buf, tag(3, WireType::kFixed32));
    const float f = 1.5f;
    uint8_t fb[4];
    std::memcpy(fb, &f, 4);
    buf.insert(buf.end(), fb, fb + 4);
    append(buf, tag(4, WireType::kFixed64));
    const double d = -2.25;
    uint8_t db[8];
    std::memcpy(db, &d, 8);
    buf.insert(buf.end(), db, db + 8);
    append(buf, tag(5, WireType::kVarint));
    append(buf, varint(static_cast<uint64_t>(-7)));  // negative int64: 10 bytes

    PbReader r(buf, "Test");
    PbField fld;
    int64_t i;
    std::string s;
    float fv;
    double dv;
    ASSERT_TRUE(r.next(fld).is_ok());
    EXPECT_EQ(fld.number, 1u);
    ASSERT_TRUE(read_int(r, fld, "a", i).is_ok());
    EXPECT_EQ(i, 300);
    ASSERT_TRUE(r.next(fld).is_ok());
    ASSERT_TRUE(read_string(r, fld, "b", s).is_ok());
    EXPECT_EQ(s, "abc");
    ASSERT_TRUE(r.next(fld).is_ok());
    ASSERT_TRUE(read_float(r, fld, "c", fv).is_ok());
    EXPECT_EQ(fv, 1.5f);
    ASSERT_TRUE(r.next(fld).is_ok());
    ASSERT_TRUE(read_double(r, fld, "d", dv).is_ok());
    EXPECT_EQ(dv, -2.25);
    ASSERT_TRUE(r.next(fld).is_ok());
    ASSERT_TRUE(read_int(r, fld, "e", i).is_ok());
    EXPECT_EQ(i, -7);
    EXPECT_FALSE(r.more());
}

TEST(Protobuf, RepeatedFieldsPackedAndUnpacked) {
    std::vector<uint8_t> buf;
    append(buf, tag(1, WireType::kVarint));
    append(buf, varint(5));
    std::vector<uint8_t> packed;
    for (uint64_t v : {1u, 200u, 70000u}) append(packed, varint(v));
    append(buf, tag(1, WireType::kLengthDelimited));
    append(buf, varint(packed.size()));
    append(buf, packed);
    const float fl[2] = {0.5f, -3.f};
    append(buf, tag(2, WireType::kLengthDelimited));
    append(buf, varint(8));
    buf.insert(buf.end(), reinterpret_cast<const uint8_t*>(fl),
               reinterpret_cast<const uint8_t*>(fl) + 8);

    PbReader r(buf, "Test");
    PbField f;
    std::vector<int64_t> ints;
    std::vector<float> floats;
    while (r.more()) {
        ASSERT_TRUE(r.next(f).is_ok());
        const Status s = f.number == 1 ? read_repeated_ints(r, f, "ints", ints, 100)
                                       : read_repeated_floats(r, f, "floats", floats, 100);
        ASSERT_TRUE(s.is_ok()) << s.message();
    }
    EXPECT_EQ(ints, (std::vector<int64_t>{5, 1, 200, 70000}));
    EXPECT_EQ(floats, (std::vector<float>{0.5f, -3.f}));

    // The cap is honoured.
    PbReader r2(buf, "Test");
    ints.clear();
    ASSERT_TRUE(r2.next(f).is_ok());
    ASSERT_TRUE(read_repeated_ints(r2, f, "ints", ints, 2).is_ok());
    ASSERT_TRUE(r2.next(f).is_ok());
    const Status s = read_repeated_ints(r2, f, "ints", ints, 2);
    EXPECT_EQ(s.code(), ErrorCode::kOutOfRange);
    EXPECT_NE(s.message().find("more than 2"), std::string::npos) << s.message();
}

TEST(Protobuf, SubMessagesReportFileOffsets) {
    std::vector<uint8_t> inner;
    append(inner, tag(1, WireType::kVarint));
    inner.push_back(0x80);  // truncated varint
    std::vector<uint8_t> buf;
    append(buf, tag(9, WireType::kVarint));
    append(buf, varint(1));
    append(buf, tag(7, WireType::kLengthDelimited));
    append(buf, varint(inner.size()));
    append(buf, inner);
    PbReader r(buf, "Outer");
    PbField f;
    ASSERT_TRUE(r.next(f).is_ok());
    ASSERT_TRUE(r.next(f).is_ok());
    PbReader s = r.sub(f, "Inner");
    EXPECT_EQ(s.base(), 4u);
    PbField g;
    const Status st = s.next(g);
    ASSERT_FALSE(st.is_ok());
    EXPECT_EQ(st.code(), ErrorCode::kCorrupt);
    EXPECT_NE(st.message().find("Inner: truncated varint (field 1 at byte 4)"), std::string::npos)
        << st.message();
}

TEST(Protobuf, MalformedBuffersAreErrors) {
    struct Case {
        std::vector<uint8_t> bytes;
        std::string expect;
    };
    const std::vector<Case> cases = {
        {{0x80}, "truncated or malformed field tag at byte 0"},
        {{0x08, 0xff}, "truncated varint"},
        {{0x12, 0x05, 'a'}, "length 5 exceeds the 1 bytes left"},
        {{0x12}, "truncated length"},
        {{0x0d, 1, 2}, "truncated fixed32"},
        {{0x09, 1, 2, 3}, "truncated fixed64"},
        {{0x0b}, "groups are not supported"},
        {{0x0c}, "groups are not supported"},
        {{0x0e}, "invalid wire type 6"},
        {{0x00}, "invalid field number 0"},
        {{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
         "truncated varint"},  // > 64 bits
        {{0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
         "exceeds"},  // 2^64-1 length
    };
    for (const Case& c : cases) {
        PbReader r(c.bytes, "Msg");
        PbField f;
        const Status s = r.next(f);
        ASSERT_FALSE(s.is_ok()) << c.expect;
        EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
        EXPECT_EQ(s.message().rfind("Msg: ", 0), 0u) << s.message();
    }
}

TEST(Protobuf, WrongWireTypesNameTheField) {
    const std::vector<uint8_t> buf = {0x38, 0x01};  // field 7 as a varint
    PbReader r(buf, "ModelProto");
    PbField f;
    ASSERT_TRUE(r.next(f).is_ok());
    std::string s;
    const Status st = read_string(r, f, "graph", s);
    ASSERT_FALSE(st.is_ok());
    EXPECT_EQ(
        st.message(),
        "ModelProto: field 7 (graph) has wire type varint, expected length-delimited (at byte 0)");
    float v;
    EXPECT_FALSE(read_float(r, f, "f", v).is_ok());
    const std::vector<uint8_t> odd = {0x12, 0x03, 1, 2, 3};  // packed floats of 3 bytes
    PbReader r2(odd, "T");
    ASSERT_TRUE(r2.next(f).is_ok());
    std::vector<float> fl;
    const Status st2 = read_repeated_floats(r2, f, "float_data", fl, 100);
    EXPECT_NE(st2.message().find("has 3 bytes, not a multiple of 4"), std::string::npos)
        << st2.message();
}

TEST(Protobuf, EveryPrefixOfAValidMessageIsHandled) {
    std::vector<uint8_t> buf;
    append(buf, tag(1, WireType::kVarint));
    append(buf, varint(123456789));
    append(buf, tag(2, WireType::kLengthDelimited));
    append(buf, varint(4));
    append(buf, {'w', 'x', 'y', 'z'});
    append(buf, tag(3, WireType::kFixed32));
    append(buf, {1, 2, 3, 4});
    for (size_t n = 0; n <= buf.size(); ++n) {
        PbReader r(std::span<const uint8_t>(buf.data(), n), "P");
        PbField f;
        Status s;
        int fields = 0;
        while (r.more() && (s = r.next(f)).is_ok()) ++fields;
        const bool complete = n == 0 || n == 5 || n == 11 || n == buf.size();
        EXPECT_EQ(s.is_ok(), complete) << "prefix " << n << ": " << s.message();
    }
}

}  // namespace
}  // namespace cnnlens::pb
