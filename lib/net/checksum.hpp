// The Internet checksum (RFC 1071) over plain byte buffers: the dataplane's header rewrite, the
// load generator's packets and the tests' checks all use these two.
#pragma once

#include <cstdint>

namespace rustun {

// Adds the 16-bit big-endian words of `data` (an odd last byte as its high half) to `sum`; the
// result is folded to 32 bits, so sums can be chained (pseudo header, then the datagram).
uint32_t csum_add(uint32_t sum, const uint8_t* data, uint32_t len);
// Folds `sum` to 16 bits and complements it: the value to store in a checksum field (0 when the
// covered bytes, checksum included, are correct).
inline uint16_t csum_fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

}  // namespace rustun
