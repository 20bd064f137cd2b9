#include "net/checksum.hpp"

namespace rustun {

namespace {
inline uint64_t word(const uint8_t* p) { return uint64_t{p[0]} << 8 | p[1]; }
}  // namespace

uint32_t csum_add(uint32_t sum, const uint8_t* d, uint32_t len) {
    uint64_t s = sum;
    while (len >= 8) {
        s += word(d) + word(d + 2) + word(d + 4) + word(d + 6);
        d += 8;
        len -= 8;
    }
    while (len >= 2) {
        s += word(d);
        d += 2;
        len -= 2;
    }
    if (len) s += uint32_t{d[0]} << 8;
    while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffff) + (s >> 16) + ((s >> 32) & 0xffff);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<uint32_t>(s);
}

}  // namespace rustun
