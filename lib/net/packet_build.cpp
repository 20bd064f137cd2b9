#include "net/packet_build.hpp"

#include <cstring>

#include "util/endian.hpp"

namespace rustun {

void write_outer(uint8_t* h, const OuterSource& src, const uint8_t dst_mac[6], const shm::Endpoint& to,
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
