// Building the outer Ethernet + IPv4/IPv6 + UDP headers of a datagram on a plain byte buffer:
// the dataplane's TX path and STUN replies, its smoke driver and the load generator's client
// datagrams write them here, byte for byte the same. Addresses in network byte order, ports in
// host byte order; lengths in bytes.
#pragma once

#include <cstdint>
#include <cstring>

#include "net/checksum.hpp"
#include "shm/channel_layout.hpp"
#include "util/endian.hpp"

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
// Inline: called per relayed packet on the dataplane's hot path.
inline void write_outer(uint8_t* h, const OuterSource& src, const uint8_t dst_mac[6], const shm::Endpoint& to,
                 uint16_t payload_len, bool ipv4_cksum_offload, uint16_t ip_id) {
    std::memcpy(h, dst_mac, 6);
    std::memcpy(h + 6, src.mac, 6);
    uint8_t* ip = h + kEthLen;
    const uint16_t udp_len = static_cast<uint16_t>(kUdpLen + payload_len);
    uint8_t* udp;
    if (to.family == 4) {
        store_be16(h + 12, kEtherTypeIpv4);
        ip[0] = 0x45;
        ip[1] = 0;
        store_be16(ip + 2, static_cast<uint16_t>(kIpv4Len + udp_len));
        store_be16(ip + 4, ip_id);
        store_be16(ip + 6, 0x4000);  // DF
        ip[8] = 64;
        ip[9] = kProtoUdp;
        ip[10] = ip[11] = 0;
        std::memcpy(ip + 12, src.addr4, 4);
        std::memcpy(ip + 16, to.addr, 4);
        if (!ipv4_cksum_offload) store_be16(ip + 10, csum_fold(csum_add(0, ip, kIpv4Len)));
        udp = ip + kIpv4Len;
    } else {
        store_be16(h + 12, kEtherTypeIpv6);
        store_be32(ip, 0x60000000u);
        store_be16(ip + 4, udp_len);
        ip[6] = kProtoUdp;
        ip[7] = 64;
        std::memcpy(ip + 8, src.addr6, 16);
        std::memcpy(ip + 24, to.addr, 16);
        udp = ip + kIpv6Len;
    }
    store_be16(udp, src.port);
    store_be16(udp + 2, to.port);
    store_be16(udp + 4, udp_len);
    store_be16(udp + 6, 0);
    if (to.family == 6) {
        // Pseudo header: addresses, upper-layer length, next header; then the UDP header+payload.
        uint32_t s = csum_add(0, ip + 8, 32);
        s += udp_len;
        s += kProtoUdp;
        s = csum_add(s, udp, udp_len);
        uint16_t c = csum_fold(s);
        store_be16(udp + 6, c == 0 ? 0xffff : c);
    }
}

}  // namespace rustun
