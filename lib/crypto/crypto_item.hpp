// Work items of the crypto engine's single and burst APIs (crypto_engine.hpp).
//
// Items are plain structs the caller owns (e.g. one per mbuf in an RX burst); the engine fills
// the "out" fields. Nothing here owns memory.
#pragma once

#include <cstdint>

namespace rustun {

class CipherKey;

// Plaintext bytes a head_only open guarantees (OpenItem::head_only): an inner IPv4 header (20
// bytes) with room to spare, two AES blocks.
inline constexpr uint32_t kOpenHeadLen = 32;

// Per-item outcome. Values are stable (usable as counter indices).
enum class CryptoStatus : uint8_t {
    Ok = 0,
    TooShort = 1,     // open: AEAD payload shorter than 28 bytes (nonce + tag)
    AuthFailed = 2,   // open: tag mismatch; the output region has been zeroed
    TooLong = 3,      // seal: the payload would exceed 65535 bytes (docs/protocol.md, "Frame size limits")
    NoSpace = 4,      // seal: out_capacity too small for plaintext_len + overhead
    BadArgument = 5,  // null key, null buffer with a non-zero length, overlapping buffers
    EngineError = 6,  // IPsec-MB rejected a job (only with EngineOptions::validate_jobs)
};
inline constexpr int kCryptoStatusCount = 7;

const char* crypto_status_name(CryptoStatus s);

// Decrypt-and-verify one payload (nonce || ciphertext || tag for the AEADs).
struct OpenItem {
    // --- in ---
    const CipherKey* key = nullptr;
    uint8_t* payload = nullptr;  // decrypted in place unless `out` is set
    uint8_t* out = nullptr;      // optional: write the plaintext here instead (capacity >=
                                 // payload_len - overhead); the payload is then left untouched.
                                 // Overlapping the payload -> BadArgument (unless == in place)
    uint32_t payload_len = 0;
    // The caller reads only plaintext[0..kOpenHeadLen) (a relay's routing decision: it forwards
    // the received bytes, never the plaintext). The engine may then authenticate the ciphertext
    // and decrypt just those bytes (docs/dataplane.md, "Verify, don't decrypt"); it decides per
    // size (EngineOptions::verify_from_*). Status and authentication are exactly those of a full
    // open; only plaintext_valid differs.
    bool head_only = false;
    // --- out ---
    uint32_t plaintext_len = 0;  // payload_len - overhead on success, else 0
    uint8_t* plaintext = nullptr;  // payload + prefix_len (12 for AEADs) in place, else `out`
    // Bytes of plaintext[] actually written: plaintext_len, or min(plaintext_len, kOpenHeadLen)
    // when a head_only item took the verify path. 0 on failure.
    uint32_t plaintext_valid = 0;
    CryptoStatus status = CryptoStatus::Ok;
};

// Encrypt one plaintext into a payload.
struct SealItem {
    // --- in ---
    const CipherKey* key = nullptr;
    const uint8_t* plaintext = nullptr;
    uint8_t* out = nullptr;  // receives the payload. In place iff plaintext == out + prefix_len
                             // (a decrypted OpenItem's plaintext can be re-sealed where it lies);
                             // any other overlap -> BadArgument.
    const uint8_t* nonce = nullptr;  // optional 12 bytes; nullptr = fresh from the engine's NonceRng
    uint32_t plaintext_len = 0;
    uint32_t out_capacity = 0;
    // --- out ---
    uint32_t out_len = 0;  // plaintext_len + overhead on success, else 0
    CryptoStatus status = CryptoStatus::Ok;
};

}  // namespace rustun
