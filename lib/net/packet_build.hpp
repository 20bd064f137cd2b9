// Building the outer Ethernet + IPv4/IPv6 + UDP headers of a datagram on a plain byte buffer:
// the dataplane's TX path and STUN replies, its smoke driver and the load generator's client
// datagrams write them here, byte for byte the same. Addresses in network byte order, ports in
// host byte order; lengths in bytes.
#pragma once

#include <cstdint>

#include "net/checksum.hpp"
#include "shm/channel_layout.hpp"

namespace rustun {

inline constexpr uint32_t kEthLen = 14;
inline constexpr uint32_t kIpv4Len = 20;  // without options
inline constexpr uint32_t kIpv6Len = 40;
inline constexpr uint32_t kUdpLen = 8;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint8_t kProtoUdp = 17;

// Where the outer headers of a datagram come from.
struct OuterSource {
    uint8_t mac[6];
    uint8_t addr4[4];
    uint8_t addr6[16];
    bool has_addr6 = false;
    uint16_t port = 0;  // host byte order (the relay port)
};

inline uint32_t outer_header_len(uint8_t family) {
    return kEthLen + (family == 6 ? kIpv6Len : kIpv4Len) + kUdpLen;
}

// Writes Ethernet + IP + UDP headers at `hdr` (outer_header_len(to.family) bytes) for the
// `payload_len` bytes that follow them at hdr + outer_header_len. IPv4: DF, TTL 64, header
// checksum computed unless `ipv4_cksum_offload` (then left 0 for the NIC), UDP checksum 0.
// IPv6: hop limit 64, UDP checksum computed over the payload (mandatory for IPv6).
// Precondition: to.family is 4 or 6 (and src.has_addr6 for 6).
void write_outer(uint8_t* hdr, const OuterSource& src, const uint8_t dst_mac[6], const shm::Endpoint& to,
                 uint16_t payload_len, bool ipv4_cksum_offload, uint16_t ip_id);

}  // namespace rustun
