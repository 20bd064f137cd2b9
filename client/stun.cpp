#include "stun.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "util/endian.hpp"

namespace rustun::client {

namespace {
constexpr uint32_t kCookie = 0x2112A442;
}  // namespace

void stun_build_request(const uint8_t txid[12], uint8_t out[kStunRequestLen]) {
    out[0] = 0x00;
    out[1] = 0x01;  // Binding Request
    out[2] = 0;
    out[3] = 0;  // no attributes
    out[4] = 0x21;
    out[5] = 0x12;
    out[6] = 0xA4;
    out[7] = 0x42;
    std::memcpy(out + 8, txid, 12);
}

bool stun_looks_like(const uint8_t* b, size_t len) {
    return len >= 20 && (b[0] & 0xc0) == 0 && b[4] == 0x21 && b[5] == 0x12 && b[6] == 0xA4 && b[7] == 0x42;
}

bool stun_parse_response(const uint8_t* b, size_t len, const uint8_t txid[12], sockaddr_in6& mapped) {
    if (!stun_looks_like(b, len)) return false;
    if (load_be16(b) != 0x0101) return false;  // Binding Success Response
    size_t body = load_be16(b + 2);
    if (20 + body > len || std::memcmp(b + 8, txid, 12) != 0) return false;
    bool found = false;
    size_t off = 20;
    while (off + 4 <= 20 + body) {
        uint16_t type = load_be16(b + off), alen = load_be16(b + off + 2);
        const uint8_t* v = b + off + 4;
        if (off + 4 + alen > 20 + body) return false;
        if ((type == 0x0020 || type == 0x0001) && alen >= 8) {
            const bool x = type == 0x0020;
            uint8_t family = v[1];
            uint16_t port = load_be16(v + 2);
            if (x) port ^= static_cast<uint16_t>(kCookie >> 16);
            sockaddr_in6 out{};
            out.sin6_family = AF_INET6;
            out.sin6_port = htons(port);
            if (family == 0x01) {
                uint8_t a[4];
                std::memcpy(a, v + 4, 4);
                if (x) {
                    const uint8_t c[4] = {0x21, 0x12, 0xA4, 0x42};
                    for (int i = 0; i < 4; ++i) a[i] ^= c[i];
                }
                out.sin6_addr.s6_addr[10] = 0xff;
                out.sin6_addr.s6_addr[11] = 0xff;
                std::memcpy(&out.sin6_addr.s6_addr[12], a, 4);
            } else if (family == 0x02 && alen >= 20) {
                uint8_t a[16];
                std::memcpy(a, v + 4, 16);
                if (x) {
                    uint8_t k[16] = {0x21, 0x12, 0xA4, 0x42};
                    std::memcpy(k + 4, txid, 12);
                    for (int i = 0; i < 16; ++i) a[i] ^= k[i];
                }
                std::memcpy(&out.sin6_addr, a, 16);
            } else {
                off += 4 + ((alen + 3u) & ~3u);
                continue;
            }
            mapped = out;
            found = true;
            if (x) return true;  // XOR-MAPPED-ADDRESS wins
        }
        off += 4 + ((alen + 3u) & ~3u);
    }
    return found;
}

}  // namespace rustun::client
