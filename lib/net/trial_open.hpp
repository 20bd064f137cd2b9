// Trial decryption: the one loop that finds which key opens a frame whose sender is not known yet
// (a TCP Handshake, a punted UDP KeepAlive). Used by the control plane's trial_authenticate()
// (controlplane/trial_auth.hpp) and by open_udp_keepalive (the punt handler's pure part, fuzzed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"

namespace rustun {

// What the keys that did not win showed (to tell a wrong key from a bad body).
struct TrialTrace {
    bool aead_opened = false;  // an AEAD key authenticated the payload
    bool parsed = false;       // some key's plaintext decoded into a body
    bool refused = false;      // ... which `accept` refused
    uint32_t opens = 0;        // decryptions attempted (the cost: at most one per key)
};

// Opens `payload[0..len)` out of place into `out` (at least `len` bytes) with each of `keys` in
// order (null entries skipped); `decode(plaintext)` returns a Result/optional of the body,
// `accept(body, key_index)` whether the body's sender belongs to that key. Returns the first
// accepted body and its key's index. The payload itself is never written. `skip(i)`: keys not
// to try (already tried by the caller).
template <class Decode, class Accept, class Skip>
auto trial_open(std::span<const CipherKey* const> keys, CryptoEngine& eng, const uint8_t* payload, uint32_t len,
                uint8_t* out, Decode&& decode, Accept&& accept, TrialTrace& trace, Skip&& skip)
    -> std::optional<std::pair<std::decay_t<decltype(*decode(std::string_view()))>, size_t>> {
    for (size_t i = 0; i < keys.size(); ++i) {
        if (keys[i] == nullptr || skip(i)) continue;
        ++trace.opens;
        OpenItem it;
        it.key = keys[i];
        it.payload = const_cast<uint8_t*>(payload);  // read only: out of place
        it.payload_len = len;
        it.out = out;
        if (eng.open(it) != CryptoStatus::Ok) continue;
        if (keys[i]->is_aead()) trace.aead_opened = true;
        auto body = decode(std::string_view(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len));
        if (!body) continue;
        trace.parsed = true;
        if (!accept(*body, i)) {
            trace.refused = true;
            continue;
        }
        return std::make_pair(std::move(*body), i);
    }
    return std::nullopt;
}

template <class Decode, class Accept>
auto trial_open(std::span<const CipherKey* const> keys, CryptoEngine& eng, const uint8_t* payload, uint32_t len,
                uint8_t* out, Decode&& decode, Accept&& accept, TrialTrace& trace) {
    return trial_open(keys, eng, payload, len, out, decode, accept, trace, [](size_t) { return false; });
}

}  // namespace rustun
