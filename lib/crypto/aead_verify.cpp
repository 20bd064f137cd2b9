#include "crypto/aead_verify.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "crypto/imb_burst.hpp"
#include "crypto/secure_wipe.hpp"

namespace rustun {

static_assert(kOpenHeadLen == 32, "the head is two AES blocks and half a ChaCha20 block");

namespace {

inline void store_be64(uint8_t* p, uint64_t v) {
    for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

inline void store_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

// head[i] = ct[i] ^ ks[i] for i < min(n, kOpenHeadLen); in place (head == ct) allowed.
inline void write_head(uint8_t* head, const uint8_t* ct, const uint8_t* ks, uint32_t n) {
    const uint32_t h = std::min(n, kOpenHeadLen);
    for (uint32_t i = 0; i < h; ++i) head[i] = static_cast<uint8_t>(ct[i] ^ ks[i]);
}

// AES-256 encryption of three 16-byte blocks in place with the 15 round keys `rk` (IPsec-MB's
// gcm_key_data::expanded_keys: the standard encryption schedule). AES-NI: every CPU IPsec-MB's
// AES paths run on has it; gcm_supported() is checked before use.
[[gnu::target("aes,sse4.1")]] void aes256_encrypt3(const uint8_t* rk, uint8_t* blocks) {
    __m128i b0 = _mm_load_si128(reinterpret_cast<const __m128i*>(blocks));
    __m128i b1 = _mm_load_si128(reinterpret_cast<const __m128i*>(blocks + 16));
    __m128i b2 = _mm_load_si128(reinterpret_cast<const __m128i*>(blocks + 32));
    __m128i k = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk));
    b0 = _mm_xor_si128(b0, k);
    b1 = _mm_xor_si128(b1, k);
    b2 = _mm_xor_si128(b2, k);
    for (int r = 1; r < 14; ++r) {
        k = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk + 16 * r));
        b0 = _mm_aesenc_si128(b0, k);
        b1 = _mm_aesenc_si128(b1, k);
        b2 = _mm_aesenc_si128(b2, k);
    }
    k = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk + 16 * 14));
    _mm_store_si128(reinterpret_cast<__m128i*>(blocks), _mm_aesenclast_si128(b0, k));
    _mm_store_si128(reinterpret_cast<__m128i*>(blocks + 16), _mm_aesenclast_si128(b1, k));
    _mm_store_si128(reinterpret_cast<__m128i*>(blocks + 32), _mm_aesenclast_si128(b2, k));
}

inline const uint8_t* ciphertext(const OpenItem& it) { return it.payload + kAeadNonceLen; }
inline const uint8_t* received_tag(const OpenItem& it) { return ciphertext(it) + it.plaintext_len; }

}  // namespace

AeadVerifier::~AeadVerifier() {
    secure_wipe(ks_, sizeof ks_);
    secure_wipe(mac_, sizeof mac_);
}

bool AeadVerifier::gcm_supported() {
    static const bool ok = __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
    return ok;
}

void AeadVerifier::verify_gcm(IMB_MGR* m, OpenItem* const* items, uint32_t n, VerifyVerdict* verdict) {
    for (uint32_t i = 0; i < n; ++i) {
        OpenItem& it = *items[i];
        const gcm_key_data* gk = it.key->gcm_key();
        // E_K(J0), E_K(J0+1), E_K(J0+2), J0 = nonce || 0x00000001 for a 96-bit nonce. Independent
        // of the GHASH below: the out-of-order core overlaps the two.
        alignas(16) uint8_t ctr[kCtrBytes];
        for (uint32_t b = 0; b < 3; ++b) {
            std::memcpy(ctr + 16 * b, it.payload, kAeadNonceLen);
            ctr[16 * b + 12] = ctr[16 * b + 13] = ctr[16 * b + 14] = 0;
            ctr[16 * b + 15] = static_cast<uint8_t>(b + 1);
        }
        aes256_encrypt3(gk->expanded_keys, ctr);
        const uint8_t* ct = ciphertext(it);
        const uint32_t len = it.plaintext_len;
        const uint32_t full = len & ~15u;
        alignas(16) uint8_t s[16] = {};
        if (full != 0) IMB_GHASH(m, gk, ct, full, s, sizeof s);
        alignas(16) uint8_t tail[32] = {};
        uint32_t tail_len = 0;
        if (len != full) {
            std::memcpy(tail, ct + full, len - full);
            tail_len = 16;
        }
        store_be64(tail + tail_len + 8, uint64_t{len} * 8);  // len(AAD) = 0 bits || len(C) bits
        tail_len += 16;
        IMB_GHASH(m, gk, tail, tail_len, s, sizeof s);
        for (uint32_t k = 0; k < 16; ++k) s[k] ^= ctr[k];
        if (!tag16_equal(received_tag(it), s)) {
            verdict[i] = VerifyVerdict::AuthFailed;
            continue;
        }
        write_head(it.plaintext, ct, ctr + 16, len);
        verdict[i] = VerifyVerdict::Ok;
    }
}

void AeadVerifier::verify_chacha(IMB_MGR* m, bool validate, OpenItem* const* items, uint32_t n,
                                 VerifyVerdict* verdict) {
    // 1. Keystream blocks 0 (Poly1305 key) and 1 (head) of every item's nonce.
    const uint8_t* keys[kN] = {};
    const uint8_t* nonces[kN] = {};
    for (uint32_t i = 0; i < n; ++i) {
        keys[i] = items[i]->key->chacha_key();
        nonces[i] = items[i]->payload;
    }
    chacha20_head_blocks(keys, nonces, ks_, n);
    // 2. Poly1305 over C || 0-pad || le64(len(AAD) = 0) || le64(len(C)), one job per item.
    IMB_JOB* jobs[kN];
    if (IMB_GET_NEXT_BURST(m, n, jobs) != n) {
        std::fill(verdict, verdict + n, VerifyVerdict::EngineError);
        return;
    }
    bool done[kN] = {};
    for (uint32_t i = 0; i < n; ++i) {
        const OpenItem& it = *items[i];
        const uint32_t len = it.plaintext_len;  // <= kMaxChachaLen (the engine's choice)
        const uint32_t padded = (len + 15) & ~15u;
        uint8_t* msg = mac_[i];
        std::memcpy(msg, ciphertext(it), len);
        std::memset(msg + len, 0, padded - len + 8);
        store_le64(msg + padded + 8, len);
        IMB_JOB* j = jobs[i];
        j->cipher_mode = IMB_CIPHER_NULL;
        j->hash_alg = IMB_AUTH_POLY1305;
        j->cipher_direction = IMB_DIR_DECRYPT;
        j->chain_order = IMB_ORDER_HASH_CIPHER;
        j->src = msg;
        j->dst = nullptr;
        j->msg_len_to_cipher_in_bytes = 0;
        j->hash_start_src_offset_in_bytes = 0;
        j->msg_len_to_hash_in_bytes = padded + 16;
        j->u.POLY1305._key = ks_[i];
        j->auth_tag_output = tags_[i];
        j->auth_tag_output_len_in_bytes = kAeadTagLen;
        j->user_data2 = reinterpret_cast<void*>(uintptr_t{i});
    }
    const bool ran = imb::run_burst(m, validate, jobs, n, [&](IMB_JOB* j) {
        done[reinterpret_cast<uintptr_t>(j->user_data2)] = j->status == IMB_STATUS_COMPLETED;
    });
    for (uint32_t i = 0; i < n; ++i) {
        if (!ran || !done[i]) {
            verdict[i] = VerifyVerdict::EngineError;
            continue;
        }
        OpenItem& it = *items[i];
        if (!tag16_equal(received_tag(it), tags_[i])) {
            verdict[i] = VerifyVerdict::AuthFailed;
            continue;
        }
        write_head(it.plaintext, ciphertext(it), ks_[i] + 32, it.plaintext_len);
        verdict[i] = VerifyVerdict::Ok;
    }
}

}  // namespace rustun
