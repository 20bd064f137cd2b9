#include "packet.hpp"

namespace rustun::dp {

L3Kind parse_udp(const uint8_t* f, uint32_t len, ParsedUdp& out) {
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

bool outer_checksums_ok(const uint8_t* f, uint32_t len) {
    ParsedUdp p;
    if (parse_udp(f, len, p) != L3Kind::Udp) return false;
    const uint8_t* ip = f + kEthLen;
    if (p.family == 4) return csum_fold(csum_add(0, ip, (ip[0] & 0xf) * 4u)) == 0;
    const uint8_t* udp = f + p.payload_off - kUdpLen;
    const uint16_t ulen = load_be16(udp + 4);
    uint32_t s = csum_add(0, ip + 8, 32);
    s += ulen;
    s += kProtoUdp;
    s = csum_add(s, udp, ulen);
    return csum_fold(s) == 0;
}

}  // namespace rustun::dp
