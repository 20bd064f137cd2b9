// Ethernet/IPv4/IPv6/UDP parsing on plain byte buffers (no DPDK here, so that the unit tests
// need no NIC); building headers and the checksum are lib/net's (packet_build, checksum).
// Allocation-free and branch-light; offsets are from the start of the Ethernet frame. Addresses
// are kept in network byte order, ports in host byte order.
#pragma once

#include <cstdint>
#include <cstring>

#include "net/packet_build.hpp"
#include "shm/channel_layout.hpp"
#include "util/endian.hpp"  // load_be16/32, store_be16/32

namespace rustun::dp {

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

// Verifies a frame built by write_outer (for tests): IPv4 header checksum / IPv6 UDP checksum.
bool outer_checksums_ok(const uint8_t* frame, uint32_t len);

}  // namespace rustun::dp
