#include "packet.hpp"

namespace rustun::dp {

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
