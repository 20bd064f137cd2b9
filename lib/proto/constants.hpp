// The Rustun protocol's numbers, defined once for the gateway (control plane and dataplane), the
// client and the tools (docs/protocol.md). Anything that is a rule of the protocol rather than a
// capacity of this implementation lives here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace rustun {

// ---- frame header ----
inline constexpr uint32_t kFrameMagic = 0x91929394;  // big-endian on the wire
inline constexpr uint8_t kFrameVersion = 1;
inline constexpr size_t kFrameHeaderSize = 8;         // bytes: magic 4, version 1, type 1, length 2
inline constexpr size_t kMaxPayloadSize = 65535;      // bytes; the length field is a u16
inline constexpr size_t kMaxFrameSize = kFrameHeaderSize + kMaxPayloadSize;  // 65543 bytes

// ---- timing ----
// A path is valid while an authenticated packet from the other side arrived within this window:
// the P2P validity (docs/protocol.md, "P2P in the old generation"), reused for the client's UDP relay path and for the gateway's
// liveness of a client's UDP endpoint (control plane and dataplane).
inline constexpr std::chrono::seconds kValidityWindow{15};
inline constexpr uint64_t kValidityWindowSeconds = 15;
inline constexpr uint64_t kValidityWindowMs = kValidityWindowSeconds * 1000;
static_assert(std::chrono::seconds(kValidityWindowSeconds) == kValidityWindow);

// The client's KeepAlive period to the gateway (its default; the gateway's `keepalive_interval`
// configuration key has the same default), and the P2P probe period.
inline constexpr std::chrono::seconds kKeepAliveInterval{10};
inline constexpr uint64_t kKeepAliveIntervalSeconds = 10;
inline constexpr uint64_t kKeepAliveIntervalMs = kKeepAliveIntervalSeconds * 1000;
static_assert(std::chrono::seconds(kKeepAliveIntervalSeconds) == kKeepAliveInterval);
// A KeepAlive must arrive well inside the validity window, or a path flaps between two of them.
static_assert(kKeepAliveInterval < kValidityWindow);

}  // namespace rustun
