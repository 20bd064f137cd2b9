// Minimal RFC 5389 STUN client messages: a Binding Request and the parse of its success
// response (XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from RFC 3489 servers).
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>

namespace rustun::client {

inline constexpr size_t kStunRequestLen = 20;

// Writes a 20-byte Binding Request with transaction id `txid` (12 bytes) into out.
void stun_build_request(const uint8_t txid[12], uint8_t out[kStunRequestLen]);

// True if buf looks like a STUN message (leading bits 00, magic cookie) rather than a Rustun
// frame (which starts with 0x91).
bool stun_looks_like(const uint8_t* buf, size_t len);

// Parses a Binding Success Response for `txid`; fills the mapped address (AF_INET6 with
// v4-mapped IPv4). False if it is not one or carries no mapped address.
bool stun_parse_response(const uint8_t* buf, size_t len, const uint8_t txid[12], sockaddr_in6& mapped);

}  // namespace rustun::client
