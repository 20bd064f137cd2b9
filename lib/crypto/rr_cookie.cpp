#include "crypto/rr_cookie.hpp"

#include <sys/random.h>

#include <cstring>
#include <vector>

#include "util/clock.hpp"

namespace rustun {

namespace {

inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }
inline uint64_t load_le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}
inline void sipround(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
}

}  // namespace

uint64_t siphash24(const uint8_t key[16], const uint8_t* data, size_t len) {
    const uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
    const size_t full = len & ~size_t{7};
    for (size_t i = 0; i < full; i += 8) {
        const uint64_t m = load_le64(data + i);
        v3 ^= m;
        sipround(v0, v1, v2, v3);
        sipround(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t b = uint64_t{len & 0xff} << 56;
    for (size_t i = 0; i < (len & 7); ++i) b |= uint64_t{data[full + i]} << (8 * i);
    v3 ^= b;
    sipround(v0, v1, v2, v3);
    sipround(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) sipround(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

RrCookie::RrCookie() {
    if (::getrandom(key_, sizeof key_, 0) != static_cast<ssize_t>(sizeof key_)) {
        // No entropy source: still unpredictable enough to an off-path sender for a cookie.
        const uint64_t t = mono_ns();
        const uint64_t a = reinterpret_cast<uintptr_t>(this);
        std::memcpy(key_, &t, 8);
        std::memcpy(key_ + 8, &a, 8);
    }
}

RrCookie::RrCookie(const uint8_t key[16]) { std::memcpy(key_, key, sizeof key_); }

uint64_t RrCookie::mac(uint64_t bucket, std::string_view identity, const uint8_t* ep, size_t ep_len) const {
    // bucket (8, LE) || identity length (2, LE) || identity || endpoint: unambiguous.
    std::vector<uint8_t> m(10 + identity.size() + ep_len);
    for (int i = 0; i < 8; ++i) m[i] = static_cast<uint8_t>(bucket >> (8 * i));
    m[8] = static_cast<uint8_t>(identity.size());
    m[9] = static_cast<uint8_t>(identity.size() >> 8);
    if (!identity.empty()) std::memcpy(m.data() + 10, identity.data(), identity.size());
    if (ep_len) std::memcpy(m.data() + 10 + identity.size(), ep, ep_len);
    return siphash24(key_, m.data(), m.size());
}

std::string RrCookie::make(std::string_view identity, const uint8_t* ep, size_t ep_len, uint64_t now_s) const {
    const uint64_t v = mac(now_s / kBucketSeconds, identity, ep, ep_len);
    static const char* hex = "0123456789abcdef";
    std::string out(kTextLen, '0');
    for (size_t i = 0; i < kTextLen; ++i) out[i] = hex[(v >> (60 - 4 * i)) & 0xf];
    return out;
}

bool RrCookie::verify(std::string_view text, std::string_view identity, const uint8_t* ep, size_t ep_len,
                      uint64_t now_s) const {
    if (text.size() != kTextLen) return false;
    const uint64_t b = now_s / kBucketSeconds;
    bool ok = false;
    for (uint64_t bucket : {b, b - 1}) {
        const std::string want = make(identity, ep, ep_len, bucket * kBucketSeconds);
        uint8_t diff = 0;
        for (size_t i = 0; i < kTextLen; ++i) diff |= static_cast<uint8_t>(want[i] ^ text[i]);
        ok |= diff == 0;
    }
    return ok;
}

}  // namespace rustun
