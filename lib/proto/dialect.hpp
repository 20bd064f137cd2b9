// Protocol generation ("dialect") of a client connection (docs/protocol.md, "What the gateway sends to each generation"): detected from the
// Handshake, confirmed by the KeepAlives, and what it implies for the frames we send.
#pragma once

#include <cstdint>
#include <string_view>

#include "proto/frame.hpp"
#include "proto/messages.hpp"

namespace rustun {

enum class Dialect : uint8_t {
    Old,  // dbde974 era: Handshake {identity, ipv6, port}
    New,  // ce3c465 .. HEAD: Handshake {identity}
};

std::string_view dialect_name(Dialect d);

// From a leniently decoded Handshake: ipv6 and port present -> Old; otherwise New.
Dialect detect_dialect(const Handshake& hs);

// From a leniently decoded KeepAlive: `name` present -> New (docs/protocol.md, "Dialect detection"). `stun_ip` is also
// taken as New: intermediate clients (ce3c465 .. 727efc0, docs/protocol.md, "Intermediate clients") already send the
// {identity} Handshake and stun_ip/stun_port, but not yet `name`. Otherwise Old.
Dialect dialect_of_keepalive(const KeepAlive& ka);

// True when the KeepAlive agrees with the dialect detected at handshake time.
inline bool keepalive_confirms(Dialect detected, const KeepAlive& ka) {
    return dialect_of_keepalive(ka) == detected;
}

// Body shapes to send to a client of this dialect. For the HandshakeReply the gateway may also
// send ReplyShape::Superset to either dialect.
Shape body_shape(Dialect d);
ReplyShape reply_shape(Dialect d);

// Whether a frame of this type may be sent to a client of this dialect over the TCP relay link
// (docs/protocol.md, "Types each generation may receive"): PeerUpdate only to Old, probes (6, 7) never on TCP, unknown types never.
bool may_send_on_tcp(Dialect d, uint8_t type);

}  // namespace rustun
