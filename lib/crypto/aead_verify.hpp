// Verify, don't decrypt (docs/dataplane.md, "Verify, don't decrypt"): authenticates AEAD payloads
// over their ciphertext and decrypts only the first kOpenHeadLen plaintext bytes (an inner IPv4
// header: what a relay routes on). Internal to lib/crypto: CryptoEngine::open_burst sends
// OpenItem::head_only items here when their size is at or above the measured threshold
// (EngineOptions::verify_from_*).
//
//   AES-256-GCM (NIST SP 800-38D, no AAD):  S = GHASH_H(C || 0-pad || 0^64 || bitlen(C)) with our
//       own 16-block aggregated carry-less GHASH (ghash_clmul.hpp) over the key's H^16..H^1
//       (CipherKey::ghash_key; IPsec-MB's IMB_GHASH was ≈2× slower on AVX2; on IPsec-MB's AVX-512
//       arch its own IMB_GHASH is used, the faster one there), the full 16-byte blocks in
//       place, the last partial block and the length block from a 32-byte copy; E_K(J0),
//       E_K(J0+1), E_K(J0+2) with J0 = nonce || 0x00000001 by AES-NI over the key's round keys (three
//       blocks; an IPsec-MB ECB job costs ~55 cycles more per item: measured);
//       tag = S XOR E_K(J0); head = C[0..32) XOR E_K(J0+1) || E_K(J0+2).
//   ChaCha20-Poly1305 (RFC 8439 AEAD construction, no AAD): blocks 0 and 1 of the nonce's keystream
//       (chacha20_head.hpp): the Poly1305 one-time key and the head keystream; Poly1305 over
//       C || 0-pad || le64(0) || le64(len(C)) with IPsec-MB's IMB_AUTH_POLY1305 jobs (one burst)
//       over a copy in this scratch (the received tag follows C, so the message cannot be read
//       in place); head = C[0..32) XOR block 1.
// The head is written only after the tag compared equal (in constant time): unauthenticated
// plaintext never reaches the caller's buffer.
#pragma once

#include <cstdint>

#include "crypto/chacha20_head.hpp"
#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "crypto/imb_mgr.hpp"

namespace rustun {

enum class VerifyVerdict : uint8_t { Ok, AuthFailed, EngineError };

class AeadVerifier {
public:
    // Largest ChaCha20-Poly1305 ciphertext verified here (its copy must fit a scratch slot);
    // longer ones are fully decrypted. AES-256-GCM has no limit.
    static constexpr uint32_t kMaxChachaLen = 2048;

    AeadVerifier() = default;
    AeadVerifier(const AeadVerifier&) = delete;
    AeadVerifier& operator=(const AeadVerifier&) = delete;
    ~AeadVerifier();

    // items[0..n): validated AES-256-GCM (resp. ChaCha20-Poly1305) OpenItems (plaintext and
    // plaintext_len set by the engine), n <= CryptoEngine::kMaxBurst. verdict[i] for items[i];
    // on Ok, items[i]->plaintext holds the first min(plaintext_len, kOpenHeadLen) bytes.
    void verify_gcm(IMB_MGR* m, OpenItem* const* items, uint32_t n, VerifyVerdict* verdict);
    // AES-NI present (the GCM verify path needs it; without it every GCM item is opened).
    static bool gcm_supported();
    void verify_chacha(IMB_MGR* m, bool validate, OpenItem* const* items, uint32_t n, VerifyVerdict* verdict);

private:
    static constexpr uint32_t kN = CryptoEngine::kMaxBurst;
    // Poly1305 message: ciphertext, up to 15 zero bytes, the 16-byte length block.
    static constexpr uint32_t kMacSlot = kMaxChachaLen + 32;

    alignas(64) uint8_t ks_[kN][kChachaHeadOut]{};
    alignas(64) uint8_t tags_[kN][kAeadTagLen]{};
    alignas(64) uint8_t mac_[kN][kMacSlot]{};
};

}  // namespace rustun
