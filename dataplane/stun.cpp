#include "stun.hpp"

#include <cstring>

#include "packet.hpp"

namespace rustun::dp {

StunResult stun_binding_reply(const uint8_t* p, uint32_t len, const shm::Endpoint& from, uint8_t* out,
                              uint32_t& out_len) {
    if (len < kStunHeaderLen || !looks_like_stun(p, len)) return StunResult::Malformed;
    const uint16_t type = load_be16(p);
    const uint16_t mlen = load_be16(p + 2);
    if ((mlen & 3) != 0 || kStunHeaderLen + mlen > len) return StunResult::Malformed;
    // Attributes must tile the message (type, length, value padded to 4).
    for (uint32_t off = kStunHeaderLen; off < kStunHeaderLen + mlen;) {
        if (off + 4 > kStunHeaderLen + mlen) return StunResult::Malformed;
        const uint32_t alen = load_be16(p + off + 2);
        off += 4 + ((alen + 3) & ~3u);
        if (off > kStunHeaderLen + mlen) return StunResult::Malformed;
    }
    if (type != 0x0001) return StunResult::NotBindingRequest;
    if (from.family != 4 && from.family != 6) return StunResult::Malformed;
    uint8_t txid[12];
    std::memcpy(txid, p + 8, 12);  // `out` may alias `p`

    const uint16_t alen = from.family == 4 ? 8 : 20;
    store_be16(out, 0x0101);  // Binding Success Response
    store_be16(out + 2, static_cast<uint16_t>(4 + alen));
    store_be32(out + 4, kStunMagicCookie);
    std::memcpy(out + 8, txid, 12);
    uint8_t* a = out + kStunHeaderLen;
    store_be16(a, 0x0020);  // XOR-MAPPED-ADDRESS
    store_be16(a + 2, alen);
    a[4] = 0;
    a[5] = from.family == 4 ? 0x01 : 0x02;
    store_be16(a + 6, static_cast<uint16_t>(from.port ^ (kStunMagicCookie >> 16)));
    uint8_t mask[16];
    store_be32(mask, kStunMagicCookie);
    std::memcpy(mask + 4, txid, 12);
    const uint32_t n = from.family == 4 ? 4 : 16;
    for (uint32_t i = 0; i < n; ++i) a[8 + i] = from.addr[i] ^ mask[i];
    out_len = kStunHeaderLen + 4 + alen;
    return StunResult::Reply;
}

}  // namespace rustun::dp
