// Zeroing and comparing secrets. Constant time with respect to the data (not the length).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rustun {

// memset that the compiler may not remove (explicit_bzero, glibc >= 2.25).
inline void secure_wipe(void* p, size_t n) {
    if (n != 0) explicit_bzero(p, n);
}

// 16-byte tag comparison without data-dependent branches: true iff a[0..16) == b[0..16).
inline bool tag16_equal(const uint8_t* a, const uint8_t* b) {
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, a, 8);
    std::memcpy(&a1, a + 8, 8);
    std::memcpy(&b0, b, 8);
    std::memcpy(&b1, b + 8, 8);
    const uint64_t diff = (a0 ^ b0) | (a1 ^ b1);
    // Fold to one bit arithmetically so the result does not depend on which bytes differed.
    return ((diff | (0 - diff)) >> 63) == 0;
}

}  // namespace rustun
