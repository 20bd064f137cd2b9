// The checks the relay port applies to a UDP payload before anything else looks at it: is it a
// complete Rustun frame of our version, and is it Data (the fast path) or another type (punted to
// the control plane). Pure and allocation-free (no DPDK), so that the unit tests and the
// packet-path fuzz target run exactly the code the workers run.
#pragma once

#include <cstdint>

#include "packet.hpp"
#include "proto/frame.hpp"

namespace rustun::dp {

enum class FrameVerdict : uint8_t {
    Data,        // a complete Data frame: authenticate and relay it
    Control,     // a complete frame of another type: punt it (unauthenticated) to the control plane
    Short,       // fewer than 8 bytes, or fewer than 8 + payload_length (drop_short_frame)
    BadMagic,    // not 0x91929394 (drop_bad_magic)
    BadVersion,  // not version 1 (drop_bad_version)
};

struct FrameCheck {
    FrameVerdict verdict;
    uint32_t frame_len;  // 8 + payload_length; valid for Data and Control (<= plen)
};

// payload[0..plen) is the UDP payload. Bytes after 8 + payload_length are ignored (a datagram may
// carry trailing bytes; the frame is the first 8 + payload_length of them).
inline FrameCheck check_frame(const uint8_t* payload, uint32_t plen) {
    if (plen < kFrameHeaderSize) return {FrameVerdict::Short, 0};
    if (load_be32(payload) != kFrameMagic) return {FrameVerdict::BadMagic, 0};
    if (payload[4] != kFrameVersion) return {FrameVerdict::BadVersion, 0};
    const uint32_t flen = static_cast<uint32_t>(kFrameHeaderSize) + load_be16(payload + 6);
    if (flen > plen) return {FrameVerdict::Short, 0};
    return {payload[5] == static_cast<uint8_t>(FrameType::Data) ? FrameVerdict::Data : FrameVerdict::Control, flen};
}

}  // namespace rustun::dp
