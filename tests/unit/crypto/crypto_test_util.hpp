// Test helpers shared by the crypto tests: keys and engines for the vectors' ciphers, frame
// headers built by hand (the codec lives in lib/proto and is tested there).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "vector_data.hpp"

namespace rustun::test {

// Keys for "chacha20", "aes256", "xor", "plain" as configured in vectors.json's ciphers[].
inline const CipherKey& vector_key(const std::string& cipher) {
    static std::map<std::string, std::unique_ptr<CipherKey>> keys;
    auto it = keys.find(cipher);
    if (it == keys.end()) {
        auto k = CipherKey::create(vector_file().config_for(cipher));
        if (!k.ok()) {
            ADD_FAILURE() << k.error();
            std::abort();
        }
        it = keys.emplace(cipher, std::move(k).value()).first;
    }
    return *it->second;
}

inline std::unique_ptr<CryptoEngine> make_engine(bool validate_jobs = false) {
    EngineOptions o;
    o.validate_jobs = validate_jobs;
    auto e = CryptoEngine::create(o);
    if (!e.ok()) {
        ADD_FAILURE() << e.error();
        std::abort();
    }
    return std::move(e).value();
}

// 8-byte frame header (docs/protocol.md, "Frame header"): magic 91929394, version 01, type, u16 BE length.
inline Bytes frame_header(uint8_t type, uint32_t payload_len) {
    return Bytes{0x91, 0x92, 0x93, 0x94, 0x01, type, static_cast<uint8_t>(payload_len >> 8),
                 static_cast<uint8_t>(payload_len & 0xff)};
}

inline Bytes random_bytes(std::mt19937_64& rng, size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return b;
}

}  // namespace rustun::test
