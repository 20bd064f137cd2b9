// Return-routability cookies for the UDP relay (docs/protocol-extensions.md, "Return
// routability"): a stateless keyed MAC over (time bucket, identity, endpoint), as WireGuard's
// cookies and QUIC's path validation tokens. The gateway sends one to an endpoint it has not
// verified; the client echoes it from that endpoint, which proves it receives there.
//
// MAC: SipHash-2-4 (a PRF with a 128-bit key, 64-bit output) under a random per-process key;
// the bucket (kBucketSeconds of Unix time) is MACed too, so a cookie is valid for the bucket it
// was made in and the next one (30..60 s): in effect the key rotates every bucket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rustun {

uint64_t siphash24(const uint8_t key[16], const uint8_t* data, size_t len);

class RrCookie {
public:
    static constexpr uint64_t kBucketSeconds = 30;
    static constexpr size_t kTextLen = 16;  // hex digits

    // A fresh random key (getrandom); `key` for tests.
    RrCookie();
    explicit RrCookie(const uint8_t key[16]);

    // The cookie for `identity` at endpoint bytes `ep` (a normalised shm::Endpoint) at Unix time
    // `now_s`, as 16 lowercase hex digits.
    std::string make(std::string_view identity, const uint8_t* ep, size_t ep_len, uint64_t now_s) const;
    // True if `text` is the cookie of this or the previous bucket (constant-time compare).
    bool verify(std::string_view text, std::string_view identity, const uint8_t* ep, size_t ep_len,
                uint64_t now_s) const;

private:
    uint64_t mac(uint64_t bucket, std::string_view identity, const uint8_t* ep, size_t ep_len) const;
    uint8_t key_[16];
};

}  // namespace rustun
