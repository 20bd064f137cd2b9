// STUN Binding responder (RFC 5389/8489) for the relay port: a client learns its public
// address (XOR-MAPPED-ADDRESS) from the gateway. Allocation-free; no NIC needed.
#pragma once

#include <cstdint>

#include "shm/channel_layout.hpp"

namespace rustun::dp {

inline constexpr uint32_t kStunMagicCookie = 0x2112A442;
inline constexpr uint32_t kStunHeaderLen = 20;
inline constexpr uint32_t kStunMaxReplyLen = kStunHeaderLen + 4 + 20;  // IPv6 XOR-MAPPED-ADDRESS

// True if the UDP payload looks like STUN (first two bits 0, magic cookie at offset 4) rather
// than a Rustun frame (which starts with 0x91). Needs >= 8 bytes.
inline bool looks_like_stun(const uint8_t* p, uint32_t len) {
    return len >= 8 && (p[0] & 0xc0) == 0 && p[4] == 0x21 && p[5] == 0x12 && p[6] == 0xA4 &&
           p[7] == 0x42;
}

enum class StunResult : uint8_t { Reply, Malformed, NotBindingRequest };

// Validates a Binding Request in payload[0..len) and writes the Binding Success Response with
// XOR-MAPPED-ADDRESS of `from` into `out` (>= kStunMaxReplyLen bytes; may alias `payload`).
// `out_len` receives the reply length (32 for IPv4, 44 for IPv6).
StunResult stun_binding_reply(const uint8_t* payload, uint32_t len, const shm::Endpoint& from,
                              uint8_t* out, uint32_t& out_len);

}  // namespace rustun::dp
