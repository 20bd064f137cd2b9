// The Internet checksum (RFC 1071) over plain byte buffers: the dataplane's header rewrite, the
// load generator's packets and the tests' checks all use these two.
#pragma once

#include <cstdint>

#include "util/endian.hpp"

namespace rustun {

// Adds the 16-bit big-endian words of `data` (an odd last byte as its high half) to `sum`; the
// result is folded to 32 bits, so sums can be chained (pseudo header, then the datagram).
// Inline: the dataplane calls it per packet (an IPv4 header checksum on a PMD without offload).
inline uint32_t csum_add(uint32_t sum, const uint8_t* d, uint32_t len) {
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
// Folds `sum` to 16 bits and complements it: the value to store in a checksum field (0 when the
// covered bytes, checksum included, are correct).
inline uint16_t csum_fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

}  // namespace rustun
