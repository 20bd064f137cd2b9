#include "crypto/key_hint.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "crypto/rr_cookie.hpp"  // siphash24
#include "crypto/secure_wipe.hpp"

namespace rustun {

namespace {
constexpr std::string_view kDomain = "rustun key hint v1";
}  // namespace

std::optional<uint32_t> key_hint_tag(const CipherSpec& spec) {
    if (spec.method != CipherMethod::ChaCha20Poly1305 && spec.method != CipherMethod::Aes256Gcm) return std::nullopt;
    std::vector<uint8_t> k = spec.derived_key();  // 32 bytes for the AEADs
    uint8_t folded[16] = {};
    for (size_t i = 0; i < k.size(); ++i) folded[i % 16] ^= k[i];
    // The method is MACed too: one key string under both AEADs gives two tags.
    uint8_t msg[kDomain.size() + 1];
    std::memcpy(msg, kDomain.data(), kDomain.size());
    msg[kDomain.size()] = static_cast<uint8_t>(spec.method);
    const uint64_t h = siphash24(folded, msg, sizeof msg);
    secure_wipe(folded, sizeof folded);
    secure_wipe(k.data(), k.size());
    return static_cast<uint32_t>(h & 0xFFFFFFu);
}

void key_hint_nonce(uint32_t tag, uint8_t nonce[12]) {
    nonce[0] = static_cast<uint8_t>(tag >> 16);
    nonce[1] = static_cast<uint8_t>(tag >> 8);
    nonce[2] = static_cast<uint8_t>(tag);
    size_t got = 0;
    while (got < 12 - kKeyHintLen) {
        const ssize_t r = ::getrandom(nonce + kKeyHintLen + got, 12 - kKeyHintLen - got, 0);
        if (r > 0) got += static_cast<size_t>(r);
        else if (errno != EINTR && errno != EAGAIN) std::abort();  // no randomness: never a predictable nonce
    }
}

}  // namespace rustun
