#include "net/checksum.hpp"

#include "util/endian.hpp"

namespace rustun {

uint32_t csum_add(uint32_t sum, const uint8_t* d, uint32_t len) {
    uint64_t s = sum;
    while (len >= 8) {
        s += uint64_t{load_be16(d)} + load_be16(d + 2) + load_be16(d + 4) + load_be16(d + 6);
        d += 8;
        len -= 8;
    }
    while (len >= 2) {
        s += load_be16(d);
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
