// Frame header: constants, type names, encode/decode, and the header of every vector frame.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "proto/frame.hpp"
#include "vectors.hpp"

namespace rustun {
namespace {

TEST(Frame, Constants) {
    EXPECT_EQ(kFrameMagic, 0x91929394u);
    EXPECT_EQ(kFrameVersion, 1);
    EXPECT_EQ(kFrameHeaderSize, 8u);
    EXPECT_EQ(kMaxPayloadSize, 65535u);
    EXPECT_EQ(kMaxFrameSize, 65543u);
}

TEST(Frame, TypeNamesAndKnownTypes) {
    EXPECT_EQ(frame_type_name(FrameType::Handshake), "Handshake");
    EXPECT_EQ(frame_type_name(FrameType::KeepAlive), "KeepAlive");
    EXPECT_EQ(frame_type_name(FrameType::Data), "Data");
    EXPECT_EQ(frame_type_name(FrameType::HandshakeReply), "HandshakeReply");
    EXPECT_EQ(frame_type_name(FrameType::PeerUpdate), "PeerUpdate");
    EXPECT_EQ(frame_type_name(FrameType::ProbeIPv6), "ProbeIPv6");
    EXPECT_EQ(frame_type_name(FrameType::ProbeHolePunch), "ProbeHolePunch");
    EXPECT_EQ(frame_type_name(static_cast<FrameType>(8)), "Unknown");
    EXPECT_FALSE(is_known_type(0));
    for (uint8_t t = 1; t <= 7; ++t) EXPECT_TRUE(is_known_type(t)) << int(t);
    for (unsigned t = 8; t <= 255; ++t) EXPECT_FALSE(is_known_type(static_cast<uint8_t>(t)));
}

TEST(Frame, EncodeHeader) {
    std::array<uint8_t, 8> h{};
    ASSERT_TRUE(encode_header(FrameType::Handshake, 0x33, h).ok());
    EXPECT_EQ(to_hex(h.data(), h.size()), "9192939401010033");
    ASSERT_TRUE(encode_header(FrameType::ProbeHolePunch, 65535, h).ok());
    EXPECT_EQ(to_hex(h.data(), h.size()), "919293940107ffff");
}

TEST(Frame, EncodeRefusesOversizedPayload) {
    std::array<uint8_t, 8> h{};
    h.fill(0xAA);
    const Status s = encode_header(FrameType::Data, 65536, h);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().find("65536"), std::string::npos) << s.error();
    EXPECT_NE(s.error().find("65535"), std::string::npos) << s.error();
    for (uint8_t b : h) EXPECT_EQ(b, 0xAA);  // nothing written, in particular no wrapped length
    EXPECT_FALSE(encode_header(FrameType::Data, size_t{1} << 32, h).ok());
}

TEST(Frame, EncodeRefusesShortBuffer) {
    std::array<uint8_t, 7> h{};
    EXPECT_FALSE(encode_header(FrameType::Data, 1, h).ok());
}

TEST(Frame, DecodeHeader) {
    const std::array<uint8_t, 8> ok = {0x91, 0x92, 0x93, 0x94, 0x01, 0x04, 0x12, 0x34};
    FrameHeader h;
    ASSERT_EQ(decode_header(ok, h), HeaderStatus::Ok);
    EXPECT_EQ(h.frame_type(), FrameType::HandshakeReply);
    EXPECT_EQ(h.payload_length, 0x1234);
    EXPECT_EQ(h.frame_size(), 8u + 0x1234);

    EXPECT_EQ(decode_header(std::span(ok).first(7), h), HeaderStatus::TooShort);
    auto bad = ok;
    bad[3] = 0x95;
    EXPECT_EQ(decode_header(bad, h), HeaderStatus::BadMagic);
    bad = ok;
    bad[4] = 0x02;
    EXPECT_EQ(decode_header(bad, h), HeaderStatus::BadVersion);
    bad = ok;
    bad[5] = 0x08;  // unknown type: the header itself is valid
    ASSERT_EQ(decode_header(bad, h), HeaderStatus::Ok);
    EXPECT_FALSE(is_known_type(h.type));
}

TEST(Frame, HeaderRoundTrip) {
    std::array<uint8_t, 8> buf{};
    for (size_t len : {size_t{0}, size_t{1}, size_t{255}, size_t{256}, size_t{65535}}) {
        for (uint8_t t = 1; t <= 7; ++t) {
            ASSERT_TRUE(encode_header(static_cast<FrameType>(t), len, buf).ok());
            FrameHeader h;
            ASSERT_EQ(decode_header(buf, h), HeaderStatus::Ok);
            EXPECT_EQ(h.type, t);
            EXPECT_EQ(h.payload_length, len);
        }
    }
}

// Every frame of vectors.json: the header decodes to the vector's type and payload length, and
// our encoder reproduces it.
TEST(Frame, VectorHeaders) {
    size_t checked = 0;
    for (const auto& v : test::vectors()["vectors"].GetArray()) {
        SCOPED_TRACE(test::str(v, "id"));
        const std::vector<uint8_t> frame = test::hex_bytes(v, "frame_hex");
        FrameHeader h;
        ASSERT_EQ(decode_header(frame, h), HeaderStatus::Ok);
        EXPECT_EQ(h.type, v["frame_type"].GetUint());
        EXPECT_EQ(h.payload_length, v["payload_len"].GetUint());
        EXPECT_EQ(h.frame_size(), frame.size());
        EXPECT_EQ(frame_type_name(h.frame_type()), test::str(v, "frame_type_name"));
        std::array<uint8_t, 8> enc{};
        ASSERT_TRUE(encode_header(h.frame_type(), h.payload_length, enc).ok());
        EXPECT_EQ(to_hex(enc.data(), enc.size()), test::str(v, "header_hex"));
        ++checked;
    }
    EXPECT_EQ(checked, 52u);
}

}  // namespace
}  // namespace rustun
