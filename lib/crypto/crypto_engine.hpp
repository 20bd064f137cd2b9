// CryptoEngine: per-thread AEAD/XOR/plain processing of Rustun payloads (docs/protocol.md, "Ciphers").
//
// One engine per thread (it owns an IPsec-MB manager, ~200 KB, created once); engines are not
// thread-safe, CipherKeys are shared read-only between them. After create(), no call allocates,
// locks or makes a syscall (the nonce generator re-keys only after fork()).
//
// Interfaces chosen per algorithm (measured, docs/performance.md):
//   AES-256-GCM        IPsec-MB direct API (aes_gcm_{enc,dec}_256 through IMB_AES256_GCM_*):
//                      GCM jobs are processed one at a time anyway, the direct call skips the
//                      job bookkeeping.
//   ChaCha20-Poly1305  IPsec-MB job/burst API (IMB_SUBMIT_BURST_NOCHECK of one job per item,
//                      single items: IMB_SUBMIT_JOB_NOCHECK): faster than the direct
//                      init/update/finalize API. Parameters are validated here, before submission.
// OpenItem::head_only items at or above EngineOptions::verify_from_* are authenticated over the
// ciphertext and only their first kOpenHeadLen bytes decrypted (aead_verify.hpp).
// For decryption the engine asks IPsec-MB for the computed tag and compares it with the received
// one in constant time. On a mismatch the plaintext region is zeroed, so unauthenticated
// plaintext never survives in the caller's buffer.
//
// Items in one burst may use different keys and methods; results are per item. Bursts larger
// than kMaxBurst are processed in chunks of kMaxBurst.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_item.hpp"
#include "crypto/nonce_rng.hpp"
#include "util/result.hpp"

namespace rustun {

struct EngineOptions {
    // Submit jobs through IPsec-MB's checked entry points (IMB_SUBMIT_BURST/IMB_SUBMIT_JOB)
    // instead of the _NOCHECK ones: 25–40 cycles more per job. For tests and debugging.
    bool validate_jobs = false;
    // Smallest ciphertext (plaintext) length, bytes, at which an OpenItem::head_only item is
    // verified over the ciphertext instead of decrypted (docs/dataplane.md, "Verify, don't
    // decrypt"); below it the full decrypt is as fast or faster. Defaults from
    // rustun-crypto-bench's verify rows (docs/dataplane.md): ChaCha20-Poly1305 verifies faster
    // from 64 B on (2.9x in bursts of 32). AES-256-GCM depends on IPsec-MB's arch, so the
    // default (kVerifyFromGcmByArch) is resolved when the engine is created: 256 B with our
    // own GHASH (AVX2/SSE arches: 1.4x at 256 B, 1.8x at 512 B, 2.1x at 1400 B on Zen 3), 1024 B
    // on the AVX-512 arch, whose stitched VAES decrypt costs barely more than its GHASH alone.
    // 0 = always verify, UINT32_MAX = never. CryptoEngine::verify_from_gcm() tells the value in use.
    uint32_t verify_from_chacha = kDefaultVerifyFromChacha;
    uint32_t verify_from_gcm = kVerifyFromGcmByArch;

    static constexpr uint32_t kDefaultVerifyFromChacha = 0;
    static constexpr uint32_t kVerifyFromGcmByArch = UINT32_MAX - 1;
    static constexpr uint32_t kDefaultVerifyFromGcm = 256;          // AVX2 / SSE arches
    static constexpr uint32_t kDefaultVerifyFromGcmAvx512 = 1024;   // IPsec-MB's AVX-512 arch
    // ChaCha20-Poly1305 verify candidates in a chunk below this count are opened instead: the
    // keystream pass computes 8 nonces' blocks at once (measured at 64 B: 1 item 0.6x, 2 items
    // 1.2x, 4 items 1.9x the open rate). Tests set 1 to verify single items.
    uint32_t chacha_verify_min_batch = 2;
};

class CryptoEngine {
public:
    static constexpr uint32_t kMaxBurst = 64;

    static Result<std::unique_ptr<CryptoEngine>> create(EngineOptions options = {});

    CryptoEngine(const CryptoEngine&) = delete;
    CryptoEngine& operator=(const CryptoEngine&) = delete;
    ~CryptoEngine();

    // Decrypt and verify one payload; returns item.status.
    CryptoStatus open(OpenItem& item);
    // Decrypt and verify items.size() payloads; every item gets its own status.
    void open_burst(std::span<OpenItem> items);

    // Encrypt one plaintext; returns item.status.
    CryptoStatus seal(SealItem& item);
    void seal_burst(std::span<SealItem> items);

    // Convenience for non-burst callers: seals `plaintext` into `out`, sets `out_len`.
    // `nonce` (12 bytes) is for tests and known-answer checks; nullptr = fresh nonce.
    CryptoStatus seal(const CipherKey& key, std::span<const uint8_t> plaintext,
                      std::span<uint8_t> out, uint32_t& out_len,
                      const uint8_t* nonce = nullptr);

    NonceRng& nonce_rng() { return *rng_; }
    // IPsec-MB code path in use ("avx512", "avx2", ...).
    const char* arch_name() const;
    // EngineOptions::verify_from_gcm as resolved for this engine's IPsec-MB arch.
    uint32_t verify_from_gcm() const;

private:
    struct Impl;
    struct Token {};

public:
    CryptoEngine(Token, std::unique_ptr<Impl> impl, std::unique_ptr<NonceRng> rng);

private:
    void open_chunk(OpenItem* items, uint32_t n);
    bool takes_verify_path(const OpenItem& it) const;
    void seal_chunk(SealItem* items, uint32_t n);

    std::unique_ptr<Impl> impl_;  // IPsec-MB manager and per-burst scratch (crypto_engine.cpp)
    std::unique_ptr<NonceRng> rng_;
};

}  // namespace rustun
