// Rustun frame header (docs/protocol.md, "Frame header"): magic, version, type, payload length.
// The layout is identical at dbde974 and HEAD. The payload is opaque here (cipher output).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "proto/constants.hpp"
#include "util/result.hpp"

namespace rustun {

// kFrameMagic, kFrameVersion, kFrameHeaderSize, kMaxPayloadSize, kMaxFrameSize: proto/constants.hpp.

// Type byte (docs/protocol.md, "Frame types"). 5 exists only at dbde974, 6 and 7 only at HEAD; which types a
// peer understands is a dialect question (proto/dialect.hpp), not a framing one.
enum class FrameType : uint8_t {
    Handshake = 1,
    KeepAlive = 2,
    Data = 3,
    HandshakeReply = 4,
    PeerUpdate = 5,
    ProbeIPv6 = 6,
    ProbeHolePunch = 7,
};

// True for the type bytes 1..7 known to either reference commit.
constexpr bool is_known_type(uint8_t type) { return type >= 1 && type <= 7; }

// Name as used in docs/protocol.md ("Handshake", ...); "Unknown" for any other byte.
std::string_view frame_type_name(FrameType type);

struct FrameHeader {
    uint8_t type = 0;             // raw type byte; may be unknown (see is_known_type)
    uint16_t payload_length = 0;  // bytes following the header

    FrameType frame_type() const { return static_cast<FrameType>(type); }
    size_t frame_size() const { return kFrameHeaderSize + payload_length; }
};

enum class HeaderStatus : uint8_t {
    Ok,
    TooShort,    // fewer than kFrameHeaderSize bytes given
    BadMagic,
    BadVersion,
};

// Writes the 8 header bytes for a payload of `payload_length` bytes into out[0..8).
// Refuses (error, nothing written) a payload above kMaxPayloadSize -- the reference would
// silently wrap the u16 and corrupt the stream -- and an output span shorter than 8 bytes.
// Allocation-free on success.
Status encode_header(FrameType type, size_t payload_length, std::span<uint8_t> out);

// Decodes the header at the start of `bytes`. Magic is checked before version. The type is
// not judged here (an unknown type with a valid header is Ok; check is_known_type).
HeaderStatus decode_header(std::span<const uint8_t> bytes, FrameHeader& out);

}  // namespace rustun
