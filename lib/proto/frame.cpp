#include "proto/frame.hpp"

#include <string>

#include "util/endian.hpp"

namespace rustun {

std::string_view frame_type_name(FrameType type) {
    switch (type) {
        case FrameType::Handshake: return "Handshake";
        case FrameType::KeepAlive: return "KeepAlive";
        case FrameType::Data: return "Data";
        case FrameType::HandshakeReply: return "HandshakeReply";
        case FrameType::PeerUpdate: return "PeerUpdate";
        case FrameType::ProbeIPv6: return "ProbeIPv6";
        case FrameType::ProbeHolePunch: return "ProbeHolePunch";
    }
    return "Unknown";
}

Status encode_header(FrameType type, size_t payload_length, std::span<uint8_t> out) {
    if (payload_length > kMaxPayloadSize) {
        return make_error("frame payload of " + std::to_string(payload_length) +
                          " bytes exceeds the 65535-byte maximum of the u16 length field");
    }
    if (out.size() < kFrameHeaderSize) {
        return make_error("output buffer of " + std::to_string(out.size()) +
                          " bytes cannot hold the 8-byte frame header");
    }
    store_be32(out.data(), kFrameMagic);
    out[4] = kFrameVersion;
    out[5] = static_cast<uint8_t>(type);
    store_be16(out.data() + 6, static_cast<uint16_t>(payload_length));
    return Status::success();
}

HeaderStatus decode_header(std::span<const uint8_t> bytes, FrameHeader& out) {
    if (bytes.size() < kFrameHeaderSize) return HeaderStatus::TooShort;
    if (load_be32(bytes.data()) != kFrameMagic) return HeaderStatus::BadMagic;
    if (bytes[4] != kFrameVersion) return HeaderStatus::BadVersion;
    out.type = bytes[5];
    out.payload_length = load_be16(bytes.data() + 6);
    return HeaderStatus::Ok;
}

}  // namespace rustun
