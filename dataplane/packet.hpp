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
inline L3Kind parse_udp(const uint8_t* f, uint32_t len, ParsedUdp& out) {
    if (len < kEthLen) return L3Kind::Malformed;
    const uint16_t ethertype = load_be16(f + 12);
    out.l3_off = kEthLen;
    out.src_mac = f + 6;
    const uint8_t* ip = f + kEthLen;
    const uint32_t l3_avail = len - kEthLen;
    uint32_t l4_off;
    uint32_t l3_end;  // end of the IP datagram per its own length field
    if (ethertype == kEtherTypeIpv4) {
        if (l3_avail < kIpv4Len || (ip[0] >> 4) != 4) return L3Kind::Malformed;
        const uint32_t ihl = (ip[0] & 0x0fu) * 4u;
        const uint32_t total = load_be16(ip + 2);
        if (ihl < kIpv4Len || total < ihl || total > l3_avail) return L3Kind::Malformed;
        if (ip[9] != kProtoUdp) return L3Kind::OtherIp;
        if ((load_be16(ip + 6) & 0x3fffu) != 0) return L3Kind::OtherIp;  // MF or offset: fragment
        out.family = 4;
        out.src_addr = ip + 12;
        out.dst_addr = ip + 16;
        l4_off = kEthLen + ihl;
        l3_end = kEthLen + total;
    } else if (ethertype == kEtherTypeIpv6) {
        if (l3_avail < kIpv6Len || (ip[0] >> 4) != 6) return L3Kind::Malformed;
        const uint32_t plen = load_be16(ip + 4);
        if (kIpv6Len + plen > l3_avail) return L3Kind::Malformed;
        if (ip[6] != kProtoUdp) return L3Kind::OtherIp;
        out.family = 6;
        out.src_addr = ip + 8;
        out.dst_addr = ip + 24;
        l4_off = kEthLen + kIpv6Len;
        l3_end = kEthLen + kIpv6Len + plen;
    } else {
        return L3Kind::NotIp;
    }
    if (l4_off + kUdpLen > l3_end) return L3Kind::Malformed;
    const uint8_t* udp = f + l4_off;
    const uint32_t ulen = load_be16(udp + 4);
    if (ulen < kUdpLen || l4_off + ulen > l3_end) return L3Kind::Malformed;
    out.src_port = load_be16(udp);
    out.dst_port = load_be16(udp + 2);
    out.payload_off = static_cast<uint16_t>(l4_off + kUdpLen);
    out.payload_len = static_cast<uint16_t>(ulen - kUdpLen);
    return L3Kind::Udp;
}

// A datagram's source address and port, read where parse_udp() reads them, without its checks:
// for a frame parse_udp() accepts as Udp they are the same bytes. False when the frame is too
// short to hold them (or is neither IPv4 nor IPv6). `addr`: 4 (family 4) or 16 bytes.
inline bool peek_udp_source(const uint8_t* f, uint32_t len, uint8_t& family, uint16_t& port, const uint8_t*& addr) {
    if (len < kEthLen + kIpv6Len + kUdpLen) return false;
    const uint16_t ethertype = load_be16(f + 12);
    const uint8_t* ip = f + kEthLen;
    if (ethertype == kEtherTypeIpv4 && (ip[0] >> 4) == 4) {
        const uint32_t l4_off = kEthLen + (ip[0] & 0x0fu) * 4u;
        if (l4_off + 2 > len) return false;
        family = 4;
        port = load_be16(f + l4_off);
        addr = ip + 12;
        return true;
    }
    if (ethertype == kEtherTypeIpv6 && (ip[0] >> 4) == 6) {
        family = 6;
        port = load_be16(f + kEthLen + kIpv6Len);
        addr = ip + 8;
        return true;
    }
    return false;
}

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
