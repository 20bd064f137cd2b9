#include "crypto/aead_verify.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "crypto/ghash_clmul.hpp"
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

inline const uint8_t* ciphertext(const OpenItem& it) { return it.payload + kAeadNonceLen; }
inline const uint8_t* received_tag(const OpenItem& it) { return ciphertext(it) + it.plaintext_len; }

}  // namespace

AeadVerifier::~AeadVerifier() {
    secure_wipe(ks_, sizeof ks_);
    secure_wipe(mac_, sizeof mac_);
}

bool AeadVerifier::gcm_supported() { return ghash_supported(); }

namespace {

// One AES-256-GCM item: the tag check and, on success, the head. AES-NI encrypts the three
// counter blocks in registers (J0 = nonce || 00000001 as one 16-byte load with the last word
// replaced: the payload holds at least 28 bytes); the out-of-order core overlaps them with the
// GHASH, which does not depend on them. `ghash(y, data, nblocks)` chains y over whole blocks.
template <typename Ghash>
[[gnu::target("aes,sse4.1")]] VerifyVerdict verify_one_gcm(const OpenItem& it, Ghash&& ghash) {
    const uint8_t* rk = it.key->gcm_key()->expanded_keys;  // round keys only: GHASH has its own powers
    const __m128i nonce = _mm_loadu_si128(reinterpret_cast<const __m128i*>(it.payload));
    __m128i b0 = _mm_insert_epi32(nonce, 0x01000000, 3);  // big-endian counter 1, 2, 3
    __m128i b1 = _mm_insert_epi32(nonce, 0x02000000, 3);
    __m128i b2 = _mm_insert_epi32(nonce, 0x03000000, 3);
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
    b0 = _mm_aesenclast_si128(b0, k);  // E_K(J0): masks the tag
    b1 = _mm_aesenclast_si128(b1, k);  // E_K(J0+1), E_K(J0+2): the head's keystream
    b2 = _mm_aesenclast_si128(b2, k);

    const uint8_t* ct = ciphertext(it);
    const uint32_t len = it.plaintext_len;
    const uint32_t full = len & ~15u;
    alignas(16) uint8_t tail[48] = {};  // [S][last partial block][length block]
    uint8_t* s = tail;
    uint8_t* rest = tail + 16;
    uint32_t rest_blocks = 1;
    if (len != full) {
        std::memcpy(rest, ct + full, len - full);
        rest_blocks = 2;
    }
    store_be64(rest + 16 * rest_blocks - 8, uint64_t{len} * 8);  // len(AAD) = 0 bits || len(C) bits
    if (full != 0) ghash(s, ct, full / 16);
    ghash(s, rest, rest_blocks);
    // Constant time: one 128-bit comparison of S ^ E_K(J0) with the received tag.
    const __m128i diff = _mm_xor_si128(_mm_xor_si128(_mm_load_si128(reinterpret_cast<const __m128i*>(s)), b0),
                                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(received_tag(it))));
    if (!_mm_testz_si128(diff, diff)) return VerifyVerdict::AuthFailed;
    if (len >= kOpenHeadLen) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(it.plaintext),
                         _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ct)), b1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(it.plaintext + 16),
                         _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ct + 16)), b2));
    } else {
        alignas(16) uint8_t ks[kOpenHeadLen];
        _mm_store_si128(reinterpret_cast<__m128i*>(ks), b1);
        _mm_store_si128(reinterpret_cast<__m128i*>(ks + 16), b2);
        write_head(it.plaintext, ct, ks, len);
    }
    return VerifyVerdict::Ok;
}

}  // namespace

void AeadVerifier::verify_gcm(IMB_MGR* m, OpenItem* const* items, uint32_t n, VerifyVerdict* verdict) {
    if (m->used_arch == IMB_ARCH_AVX512) {
        // IPsec-MB's AVX-512 GHASH (512-bit VPCLMULQDQ) over its own hash-key powers: faster than
        // our 256-bit one where that arch runs.
        for (uint32_t i = 0; i < n; ++i) {
            const gcm_key_data* gk = items[i]->key->gcm_key();
            verdict[i] = verify_one_gcm(*items[i], [m, gk](uint8_t* y, const uint8_t* d, size_t nb) {
                IMB_GHASH(m, gk, d, nb * 16, y, 16);
            });
        }
        return;
    }
    const auto update = ghash_vpclmul_supported() ? ghash_update_vpclmul : ghash_update_pclmul;
    for (uint32_t i = 0; i < n; ++i) {
        const GhashKey& hk = items[i]->key->ghash_key();
        verdict[i] = verify_one_gcm(*items[i], [update, &hk](uint8_t* y, const uint8_t* d, size_t nb) {
            update(hk, y, d, nb);
        });
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
