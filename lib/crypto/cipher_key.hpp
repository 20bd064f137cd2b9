// CipherKey: the immutable, expanded state of one configured cipher (docs/protocol.md, "Ciphers").
//
// Created once from a CipherSpec at configuration time (this allocates and runs the AES key
// schedule); afterwards it is read-only, so one instance may be shared by any number of threads
// and CryptoEngines without locking. Nothing on the packet path allocates or writes to it.
//
// Layout: everything a ChaCha20-Poly1305 or XOR packet needs is in the first 64-byte cache line;
// the ≈1 KB AES-256-GCM schedule (IPsec-MB `struct gcm_key_data`) follows it. Keep the number of
// distinct keys small and hot (per cluster): a cold GCM key costs ~16 cache misses per packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string_view>

#include "crypto/cipher_spec.hpp"
#include "crypto/ghash_clmul.hpp"
#include "util/result.hpp"

struct gcm_key_data;  // IPsec-MB's expanded GCM key (kept out of this header on purpose)

namespace rustun {

// AEAD payload = nonce(12) || ciphertext(len(plaintext)) || tag(16)  (docs/protocol.md, "ChaCha20-Poly1305", "AES-256-GCM").
inline constexpr uint32_t kAeadNonceLen = 12;
inline constexpr uint32_t kAeadTagLen = 16;
inline constexpr uint32_t kAeadOverhead = kAeadNonceLen + kAeadTagLen;  // 28
// Largest payload a frame can carry: the header's length field is a u16 (docs/protocol.md, "Frame size limits").
inline constexpr uint32_t kMaxPayloadLen = 65535;

class alignas(64) CipherKey {
public:
    // Expands the key. Errors: an XOR spec with an empty key, IPsec-MB unavailable.
    static Result<std::unique_ptr<CipherKey>> create(const CipherSpec& spec);
    // parse() + create(), for "chacha20:rustun"-style configuration strings.
    static Result<std::unique_ptr<CipherKey>> create(std::string_view text);

    CipherKey(const CipherKey&) = delete;
    CipherKey& operator=(const CipherKey&) = delete;
    ~CipherKey();  // wipes the key material

    // Keys live in key_arena.hpp's huge-page blocks, not in malloc's 4 KiB pages: a relay reads
    // one per packet, chosen by the sender's cluster, out of thousands.
    static void* operator new(std::size_t size, std::align_val_t align);
    static void operator delete(void* p, std::align_val_t align) noexcept;

    CipherMethod method() const { return method_; }
    bool is_aead() const { return overhead_ != 0; }
    // Bytes added by sealing: 28 for the AEADs, 0 for XOR and plain.
    uint32_t overhead() const { return overhead_; }
    // Bytes in front of the ciphertext in a payload: 12 (nonce) for the AEADs, else 0.
    uint32_t prefix_len() const { return prefix_len_; }
    const CipherSpec& spec() const { return spec_; }

    // --- raw material for CryptoEngine (valid for the lifetime of the key) ---
    // 32-byte ChaCha20 key (AEAD key bytes, docs/protocol.md, "Key derivation"). Meaningful for ChaCha20-Poly1305.
    const uint8_t* chacha_key() const { return chacha_key_; }
    // Expanded AES-256 round keys + GHASH tables, 64-byte aligned. Meaningful for AES-256-GCM.
    const gcm_key_data* gcm_key() const { return gcm_; }
    // H^16..H^1 for the verify path's GHASH (ghash_clmul.hpp). Meaningful for AES-256-GCM when
    // has_ghash_key() (the CPU has PCLMULQDQ and AES-NI).
    const GhashKey& ghash_key() const { return ghash_; }
    bool has_ghash_key() const { return has_ghash_; }
    // XOR: the key repeated to xor_pad_len() bytes, a multiple of the key length (>= 256), so a
    // payload is transformed in xor_pad_len()-byte chunks that each start at key offset 0.
    const uint8_t* xor_pad() const { return xor_pad_.get(); }
    uint32_t xor_pad_len() const { return xor_pad_len_; }
    // Bytes from the start of this object that opening a packet may read: the first cache line
    // for ChaCha20-Poly1305, XOR and plain; up to the end of the GHASH powers for AES-256-GCM.
    // What a packet path should prefetch (never the cold CipherSpec behind them).
    size_t hot_bytes() const;

private:
    struct Token {};

public:
    explicit CipherKey(Token) {}

private:
    // ---- cache line 0: hot for every method ----
    CipherMethod method_ = CipherMethod::Plain;
    bool has_ghash_ = false;
    uint32_t overhead_ = 0;
    uint32_t prefix_len_ = 0;
    uint32_t xor_pad_len_ = 0;
    std::unique_ptr<uint8_t[]> xor_pad_;
    const gcm_key_data* gcm_ = nullptr;  // = gcm_storage_, as returned by placement new
    alignas(32) uint8_t chacha_key_[32] = {};
    // ---- cache lines 1..16: AES-256-GCM schedule (sizeof(gcm_key_data) == 1024, checked) ----
    static constexpr size_t kGcmKeyDataSize = 1024;
    alignas(64) unsigned char gcm_storage_[kGcmKeyDataSize] = {};
    // ---- cache lines 17..20: the verify path's GHASH powers (and the fleet link's GMAC) ----
    GhashKey ghash_{};
    // ---- cold ----
    CipherSpec spec_;
};

}  // namespace rustun
