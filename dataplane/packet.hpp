// Ethernet/IPv4/IPv6/UDP parsing and header building on plain byte buffers (no DPDK here, so
// that the unit tests need no NIC). Everything is allocation-free and branch-light; offsets are
// from the start of the Ethernet frame. Addresses are kept in network byte order, ports in host
// byte order.
#pragma once

#include <cstdint>
#include <cstring>

#include "shm/channel_layout.hpp"
#include "util/endian.hpp"  // load_be16/32, store_be16/32

namespace rustun::dp {

inline constexpr uint32_t kEthLen = 14;
inline constexpr uint32_t kIpv4Len = 20;  // without options
inline constexpr uint32_t kIpv6Len = 40;
inline constexpr uint32_t kUdpLen = 8;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint8_t kProtoUdp = 17;

enum class L3Kind : uint8_t {
    Udp,        // a complete, unfragmented IPv4/IPv6 UDP datagram: `ParsedUdp` is filled
    NotIp,      // EtherType other than IPv4/IPv6 (ARP, LLDP, VLAN-tagged, ...)
    OtherIp,    // IP but not UDP, an IPv4 fragment, or IPv6 with extension headers
    Malformed,  // truncated or inconsistent Ethernet/IP/UDP headers
};

struct ParsedUdp {
    uint8_t family = 0;        // shm::AddrFamily: 4 or 6
    uint16_t l3_off = 0;       // always kEthLen (no VLAN support)
    uint16_t payload_off = 0;  // first byte of the UDP payload
    uint16_t payload_len = 0;  // UDP length - 8 (checked against the buffer)
    uint16_t src_port = 0;     // host byte order
    uint16_t dst_port = 0;
    const uint8_t* src_mac = nullptr;  // 6 bytes inside the frame
    const uint8_t* src_addr = nullptr;  // 4 or 16 bytes inside the frame
    const uint8_t* dst_addr = nullptr;
};

// Parses Ethernet + IPv4 (any IHL, no fragments) or IPv6 (next header UDP) + UDP.
L3Kind parse_udp(const uint8_t* frame, uint32_t len, ParsedUdp& out);

// The source endpoint of a parsed datagram, normalised (pad and unused address bytes zero) so
// that it can be compared word by word.
inline shm::Endpoint source_endpoint(const ParsedUdp& p) {
    shm::Endpoint e{};
    e.family = p.family;
    e.port = p.src_port;
    std::memcpy(e.addr, p.src_addr, p.family == 4 ? 4 : 16);
    return e;
}

// One's complement sum helpers (RFC 1071). `sum` accumulates 16-bit big-endian words.
uint32_t csum_add(uint32_t sum, const uint8_t* data, uint32_t len);
inline uint16_t csum_fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// Where the outer headers of a datagram the gateway sends come from.
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
void write_outer(uint8_t* hdr, const OuterSource& src, const uint8_t dst_mac[6],
                 const shm::Endpoint& to, uint16_t payload_len, bool ipv4_cksum_offload,
                 uint16_t ip_id);

// Verifies a frame built by write_outer (for tests): IPv4 header checksum / IPv6 UDP checksum.
bool outer_checksums_ok(const uint8_t* frame, uint32_t len);

}  // namespace rustun::dp
