#include "crypto/crypto_engine.hpp"

#include <algorithm>
#include <cstring>

#include "crypto/aead_verify.hpp"
#include "crypto/imb_burst.hpp"
#include "crypto/imb_mgr.hpp"
#include "crypto/secure_wipe.hpp"

namespace rustun {

static_assert(CryptoEngine::kMaxBurst <= IMB_MAX_BURST_SIZE);

// Per-engine state that needs IPsec-MB types. Allocated once in create().
struct CryptoEngine::Impl {
    imb::MgrPtr mgr;
    EngineOptions options;
    gcm_context_data gcm_ctx{};  // scratch for every direct-API GCM call (fully re-initialised)
    // Tags computed by IPsec-MB for ChaCha20-Poly1305 decrypt jobs, one slot per burst item.
    alignas(64) uint8_t tags[kMaxBurst][kAeadTagLen]{};
    uint8_t gcm_tag[kAeadTagLen]{};  // tag computed by a GCM decryption
    AeadVerifier verifier;           // head_only items: verify, don't decrypt (~140 KB scratch)
};

namespace {

// True if [a, a+alen) and [b, b+blen) share a byte (addresses compared as integers).
inline bool overlaps(const uint8_t* a, uint64_t alen, const uint8_t* b, uint64_t blen) {
    const auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
    return alen != 0 && blen != 0 && x < y + blen && y < x + alen;
}

// ---------------------------------------------------------------------------------------------
// XOR (docs/protocol.md, "XOR"): out[i] = in[i] ^ key[i mod klen], i from 0 for every payload. The pad is
// the key repeated to a multiple of its length, so each pad-sized chunk starts at key offset 0.
// in == out is allowed.
void xor_apply(const CipherKey& k, const uint8_t* in, uint8_t* out, uint32_t len) {
    const uint8_t* pad = k.xor_pad();
    const uint64_t chunk = k.xor_pad_len();
    for (uint64_t off = 0; off < len; off += chunk) {
        const uint64_t n = std::min<uint64_t>(chunk, len - off);
        const uint8_t* s = in + off;
        uint8_t* d = out + off;
        for (uint64_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(s[i] ^ pad[i]);
    }
}

// ---------------------------------------------------------------------------------------------
// open helpers

void open_failed(OpenItem& it, CryptoStatus s) {
    it.status = s;
    it.plaintext = nullptr;
    it.plaintext_len = 0;
    it.plaintext_valid = 0;
}

// Validates `it`, sets plaintext/plaintext_len and finishes XOR and plain items. Returns true if
// an AEAD decryption is still to be done (then it.plaintext_len is the ciphertext length).
bool begin_open(OpenItem& it) {
    const CipherKey* k = it.key;
    if (k == nullptr || (it.payload == nullptr && it.payload_len != 0)) {
        open_failed(it, CryptoStatus::BadArgument);
        return false;
    }
    if (it.payload_len < k->overhead()) {
        open_failed(it, CryptoStatus::TooShort);
        return false;
    }
    const uint32_t n = it.payload_len - k->overhead();
    uint8_t* src = it.payload + k->prefix_len();
    if (it.out != nullptr && it.out != src && overlaps(it.out, n, it.payload, it.payload_len)) {
        open_failed(it, CryptoStatus::BadArgument);  // partial overlap: undefined for the AEADs
        return false;
    }
    uint8_t* dst = it.out != nullptr ? it.out : src;
    it.plaintext = dst;
    it.plaintext_len = n;
    it.plaintext_valid = n;
    it.status = CryptoStatus::Ok;
    switch (k->method()) {
        case CipherMethod::Plain:
            if (dst != src && n != 0) std::memcpy(dst, src, n);
            return false;
        case CipherMethod::Xor:
            xor_apply(*k, src, dst, n);
            return false;
        case CipherMethod::ChaCha20Poly1305:
        case CipherMethod::Aes256Gcm:
            return true;
    }
    return false;
}

// Compares the received tag (after the ciphertext) with the computed one; on mismatch zeroes the
// decrypted bytes so unauthenticated plaintext does not survive.
void finish_open(OpenItem& it, const uint8_t* computed_tag) {
    const uint8_t* received = it.payload + kAeadNonceLen + it.plaintext_len;
    if (tag16_equal(received, computed_tag)) return;
    std::memset(it.plaintext, 0, it.plaintext_len);
    open_failed(it, CryptoStatus::AuthFailed);
}

void engine_failed_open(OpenItem& it) {
    std::memset(it.plaintext, 0, it.plaintext_len);
    open_failed(it, CryptoStatus::EngineError);
}

void gcm_open(IMB_MGR* m, gcm_context_data* ctx, uint8_t* tag, OpenItem& it) {
    IMB_AES256_GCM_DEC(m, it.key->gcm_key(), ctx, it.plaintext, it.payload + kAeadNonceLen,
                       it.plaintext_len, it.payload, nullptr, 0, tag, kAeadTagLen);
    finish_open(it, tag);
}

// One ChaCha20-Poly1305 job. Encryption: tag written to `tag`; decryption: the computed tag is
// written to `tag` and compared by the caller. Lengths are < 2^32 (validated by the callers).
void fill_chacha_job(IMB_JOB* j, const CipherKey& k, IMB_CIPHER_DIRECTION dir,
                     const uint8_t* nonce, const uint8_t* src, uint8_t* dst, uint32_t len,
                     uint8_t* tag, void* user) {
    j->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
    j->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
    j->cipher_direction = dir;
    j->chain_order = dir == IMB_DIR_ENCRYPT ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
    j->enc_keys = k.chacha_key();
    j->dec_keys = k.chacha_key();
    j->key_len_in_bytes = IMB_KEY_256_BYTES;
    j->src = src;
    j->dst = dst;
    j->cipher_start_src_offset_in_bytes = 0;
    j->msg_len_to_cipher_in_bytes = len;
    j->hash_start_src_offset_in_bytes = 0;
    j->msg_len_to_hash_in_bytes = len;
    j->iv = nonce;
    j->iv_len_in_bytes = kAeadNonceLen;
    j->auth_tag_output = tag;
    j->auth_tag_output_len_in_bytes = kAeadTagLen;
    j->u.CHACHA20_POLY1305.aad = nullptr;  // docs/protocol.md, "ChaCha20-Poly1305": no AAD
    j->u.CHACHA20_POLY1305.aad_len_in_bytes = 0;
    j->user_data = user;
}

// Submits the single job just filled and returns it once completed (nullptr if IPsec-MB lost it,
// which cannot happen with an empty queue).
IMB_JOB* run_single_job(IMB_MGR* m, bool validate) {
    IMB_JOB* done = validate ? IMB_SUBMIT_JOB(m) : IMB_SUBMIT_JOB_NOCHECK(m);
    if (done == nullptr) done = IMB_FLUSH_JOB(m);
    return done;
}

// ---------------------------------------------------------------------------------------------
// seal helpers

void seal_failed(SealItem& it, CryptoStatus s) {
    it.status = s;
    it.out_len = 0;
}

// Validates `it`, sets out_len and finishes XOR and plain items. Returns true if an AEAD
// encryption is still to be done.
bool begin_seal(SealItem& it) {
    const CipherKey* k = it.key;
    if (k == nullptr || (it.plaintext == nullptr && it.plaintext_len != 0)) {
        seal_failed(it, CryptoStatus::BadArgument);
        return false;
    }
    const uint64_t need = uint64_t{it.plaintext_len} + k->overhead();
    if (need > kMaxPayloadLen) {
        seal_failed(it, CryptoStatus::TooLong);
        return false;
    }
    if (need > it.out_capacity) {
        seal_failed(it, CryptoStatus::NoSpace);
        return false;
    }
    if (it.out == nullptr && need != 0) {
        seal_failed(it, CryptoStatus::BadArgument);
        return false;
    }
    // In place (plaintext == out + prefix_len) or disjoint; any other overlap would let the
    // nonce or the keystream overwrite plaintext not yet read.
    if (it.plaintext != it.out + k->prefix_len() &&
        overlaps(it.out, need, it.plaintext, it.plaintext_len)) {
        seal_failed(it, CryptoStatus::BadArgument);
        return false;
    }
    it.out_len = static_cast<uint32_t>(need);
    it.status = CryptoStatus::Ok;
    switch (k->method()) {
        case CipherMethod::Plain:
            if (it.out != it.plaintext && it.plaintext_len != 0) {
                std::memmove(it.out, it.plaintext, it.plaintext_len);
            }
            return false;
        case CipherMethod::Xor:
            xor_apply(*k, it.plaintext, it.out, it.plaintext_len);
            return false;
        case CipherMethod::ChaCha20Poly1305:
        case CipherMethod::Aes256Gcm:
            return true;
    }
    return false;
}

// Picks the AEAD nonce (the item's own, else the next of `fresh`, counted in `used`) and copies
// it in front of the ciphertext. Returns the IV pointer to hand to IPsec-MB: never the payload
// copy, because reading 16 bytes over 12 just stored stalls store forwarding (measured +50 TSC
// cycles per AES-GCM seal at 64 B).
const uint8_t* take_nonce(SealItem& it, const uint8_t* fresh, uint32_t& used) {
    const uint8_t* iv = it.nonce;
    if (iv == nullptr) iv = fresh + kAeadNonceLen * used++;
    std::memcpy(it.out, iv, kAeadNonceLen);
    return iv;
}

void gcm_seal(IMB_MGR* m, gcm_context_data* ctx, SealItem& it, const uint8_t* iv) {
    uint8_t* ct = it.out + kAeadNonceLen;
    IMB_AES256_GCM_ENC(m, it.key->gcm_key(), ctx, ct, it.plaintext, it.plaintext_len, iv,
                       nullptr, 0, ct + it.plaintext_len, kAeadTagLen);
}

// `iv` must stay valid until the job completes.
void fill_chacha_seal(IMB_JOB* j, SealItem& it, const uint8_t* iv) {
    uint8_t* ct = it.out + kAeadNonceLen;
    fill_chacha_job(j, *it.key, IMB_DIR_ENCRYPT, iv, it.plaintext, ct, it.plaintext_len,
                    ct + it.plaintext_len, &it);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<CryptoEngine>> CryptoEngine::create(EngineOptions options) {
    Result<imb::MgrPtr> mgr = imb::make_mgr();
    if (!mgr) return Error{mgr.error()};
    auto impl = std::make_unique<Impl>();
    impl->mgr = std::move(mgr).value();
    impl->options = options;
    if (options.verify_from_gcm == EngineOptions::kVerifyFromGcmByArch) {
        impl->options.verify_from_gcm = impl->mgr->used_arch == IMB_ARCH_AVX512
                                            ? EngineOptions::kDefaultVerifyFromGcmAvx512
                                            : EngineOptions::kDefaultVerifyFromGcm;
    }
    Result<std::unique_ptr<NonceRng>> rng = NonceRng::create(impl->mgr.get());
    if (!rng) return Error{rng.error()};
    return std::make_unique<CryptoEngine>(Token{}, std::move(impl), std::move(rng).value());
}

CryptoEngine::CryptoEngine(Token, std::unique_ptr<Impl> impl, std::unique_ptr<NonceRng> rng)
    : impl_(std::move(impl)), rng_(std::move(rng)) {}

CryptoEngine::~CryptoEngine() {
    // Drop the generator first: it borrows the manager.
    rng_.reset();
    secure_wipe(&impl_->gcm_ctx, sizeof(impl_->gcm_ctx));
}

const char* CryptoEngine::arch_name() const { return imb::arch_name(*impl_->mgr); }

uint32_t CryptoEngine::verify_from_gcm() const { return impl_->options.verify_from_gcm; }

// ---- open ----

CryptoStatus CryptoEngine::open(OpenItem& it) {
    if (it.head_only) {
        open_chunk(&it, 1);
        return it.status;
    }
    if (!begin_open(it)) return it.status;
    IMB_MGR* m = impl_->mgr.get();
    if (it.key->method() == CipherMethod::Aes256Gcm) {
        gcm_open(m, &impl_->gcm_ctx, impl_->gcm_tag, it);
        return it.status;
    }
    fill_chacha_job(IMB_GET_NEXT_JOB(m), *it.key, IMB_DIR_DECRYPT, it.payload,
                    it.payload + kAeadNonceLen, it.plaintext, it.plaintext_len, impl_->tags[0],
                    &it);
    IMB_JOB* done = run_single_job(m, impl_->options.validate_jobs);
    if (done == nullptr || done->status != IMB_STATUS_COMPLETED) {
        engine_failed_open(it);
    } else {
        finish_open(it, impl_->tags[0]);
    }
    return it.status;
}

void CryptoEngine::open_burst(std::span<OpenItem> items) {
    for (size_t i = 0; i < items.size(); i += kMaxBurst) {
        open_chunk(items.data() + i,
                   static_cast<uint32_t>(std::min<size_t>(kMaxBurst, items.size() - i)));
    }
}

// True if a validated AEAD item should be verified over the ciphertext rather than decrypted.
bool CryptoEngine::takes_verify_path(const OpenItem& it) const {
    if (!it.head_only) return false;
    const EngineOptions& o = impl_->options;
    if (it.key->method() == CipherMethod::Aes256Gcm) {
        return it.plaintext_len >= o.verify_from_gcm && AeadVerifier::gcm_supported();
    }
    return it.plaintext_len >= o.verify_from_chacha && it.plaintext_len <= AeadVerifier::kMaxChachaLen;
}

void CryptoEngine::open_chunk(OpenItem* items, uint32_t n) {
    IMB_MGR* m = impl_->mgr.get();
    const bool validate = impl_->options.validate_jobs;
    // Pass 1: validation, XOR/plain, AES-GCM through the direct API; collect the ChaCha items
    // to decrypt and the head_only items to verify.
    OpenItem* chacha[kMaxBurst];
    OpenItem* verify_gcm[kMaxBurst];
    OpenItem* verify_chacha[kMaxBurst];
    uint32_t nc = 0, nvg = 0, nvc = 0;
    for (uint32_t i = 0; i < n; ++i) {
        OpenItem& it = items[i];
        if (!begin_open(it)) continue;
        const bool gcm = it.key->method() == CipherMethod::Aes256Gcm;
        if (takes_verify_path(it)) {
            (gcm ? verify_gcm[nvg++] : verify_chacha[nvc++]) = &it;
        } else if (gcm) {
            gcm_open(m, &impl_->gcm_ctx, impl_->gcm_tag, it);
        } else {
            chacha[nc++] = &it;
        }
    }

    if (nvc != 0 && nvc < impl_->options.chacha_verify_min_batch) {
        for (uint32_t i = 0; i < nvc; ++i) chacha[nc++] = verify_chacha[i];
        nvc = 0;
    }

    // Pass 2: one ChaCha20-Poly1305 burst. The manager's queue is empty between calls, so
    // IMB_GET_NEXT_BURST returns nc jobs.
    IMB_JOB* jobs[kMaxBurst];
    if (nc != 0 && IMB_GET_NEXT_BURST(m, nc, jobs) != nc) {
        for (uint32_t i = 0; i < nc; ++i) engine_failed_open(*chacha[i]);
        nc = 0;
    }
    for (uint32_t i = 0; i < nc; ++i) {
        OpenItem& it = *chacha[i];
        fill_chacha_job(jobs[i], *it.key, IMB_DIR_DECRYPT, it.payload,
                        it.payload + kAeadNonceLen, it.plaintext, it.plaintext_len,
                        impl_->tags[i], &it);
        it.status = CryptoStatus::EngineError;  // until its job comes back
    }
    if (nc != 0) {
        const bool ran = imb::run_burst(m, validate, jobs, nc, [](IMB_JOB* j) {
            OpenItem& it = *static_cast<OpenItem*>(j->user_data);
            if (j->status != IMB_STATUS_COMPLETED) return;
            it.status = CryptoStatus::Ok;
            finish_open(it, j->auth_tag_output);
        });
        // Refused by the checked submit (no job ran), or a job never came back.
        for (uint32_t i = 0; i < nc; ++i) {
            if (!ran || chacha[i]->status == CryptoStatus::EngineError) engine_failed_open(*chacha[i]);
        }
    }

    // Pass 3: head_only items, verified over the ciphertext.
    VerifyVerdict verdict[kMaxBurst];
    auto finish_verified = [](OpenItem* const* v, uint32_t nv, const VerifyVerdict* vd) {
        for (uint32_t i = 0; i < nv; ++i) {
            OpenItem& it = *v[i];
            if (vd[i] == VerifyVerdict::Ok) {
                it.plaintext_valid = std::min(it.plaintext_len, kOpenHeadLen);
            } else if (vd[i] == VerifyVerdict::AuthFailed) {
                std::memset(it.plaintext, 0, it.plaintext_len);  // as a failed full open
                open_failed(it, CryptoStatus::AuthFailed);
            } else {
                engine_failed_open(it);
            }
        }
    };
    if (nvg != 0) {
        impl_->verifier.verify_gcm(m, verify_gcm, nvg, verdict);
        finish_verified(verify_gcm, nvg, verdict);
    }
    if (nvc != 0) {
        impl_->verifier.verify_chacha(m, validate, verify_chacha, nvc, verdict);
        finish_verified(verify_chacha, nvc, verdict);
    }
}

// ---- seal ----

CryptoStatus CryptoEngine::seal(const CipherKey& key, std::span<const uint8_t> plaintext,
                                std::span<uint8_t> out, uint32_t& out_len,
                                const uint8_t* nonce) {
    SealItem it;
    it.key = &key;
    it.plaintext = plaintext.data();
    it.plaintext_len = plaintext.size() > UINT32_MAX ? UINT32_MAX
                                                     : static_cast<uint32_t>(plaintext.size());
    it.out = out.data();
    it.out_capacity = out.size() > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(out.size());
    it.nonce = nonce;
    const CryptoStatus s = seal(it);
    out_len = it.out_len;
    return s;
}

CryptoStatus CryptoEngine::seal(SealItem& it) {
    if (!begin_seal(it)) return it.status;
    uint32_t used = 0;
    const uint8_t* iv = take_nonce(it, it.nonce ? nullptr : rng_->prepare(1), used);
    rng_->consume(used);
    IMB_MGR* m = impl_->mgr.get();
    if (it.key->method() == CipherMethod::Aes256Gcm) {
        gcm_seal(m, &impl_->gcm_ctx, it, iv);
        return it.status;
    }
    fill_chacha_seal(IMB_GET_NEXT_JOB(m), it, iv);
    IMB_JOB* done = run_single_job(m, impl_->options.validate_jobs);
    if (done == nullptr || done->status != IMB_STATUS_COMPLETED) {
        seal_failed(it, CryptoStatus::EngineError);
    }
    return it.status;
}

void CryptoEngine::seal_burst(std::span<SealItem> items) {
    for (size_t i = 0; i < items.size(); i += kMaxBurst) {
        seal_chunk(items.data() + i,
                   static_cast<uint32_t>(std::min<size_t>(kMaxBurst, items.size() - i)));
    }
}

void CryptoEngine::seal_chunk(SealItem* items, uint32_t n) {
    IMB_MGR* m = impl_->mgr.get();
    // Pass 1: validation, nonces, XOR/plain, AES-GCM; collect ChaCha items. Fresh nonces are
    // prepared here, before IMB_GET_NEXT_BURST (a NonceRng refill submits jobs to the same
    // manager), and stay in place until the ChaCha jobs below have completed.
    const uint8_t* fresh = rng_->prepare(n);
    uint32_t used = 0;
    SealItem* chacha[kMaxBurst];
    const uint8_t* chacha_iv[kMaxBurst];
    uint32_t nc = 0;
    for (uint32_t i = 0; i < n; ++i) {
        SealItem& it = items[i];
        if (!begin_seal(it)) continue;
        const uint8_t* iv = take_nonce(it, fresh, used);
        if (it.key->method() == CipherMethod::Aes256Gcm) {
            gcm_seal(m, &impl_->gcm_ctx, it, iv);
        } else {
            chacha_iv[nc] = iv;
            chacha[nc++] = &it;
        }
    }
    rng_->consume(used);  // no further prepare()/next() in this call: the IVs stay valid
    if (nc == 0) return;

    IMB_JOB* jobs[kMaxBurst];
    const uint32_t got = IMB_GET_NEXT_BURST(m, nc, jobs);
    if (got != nc) {
        for (uint32_t i = 0; i < nc; ++i) seal_failed(*chacha[i], CryptoStatus::EngineError);
        return;
    }
    for (uint32_t i = 0; i < nc; ++i) {
        fill_chacha_seal(jobs[i], *chacha[i], chacha_iv[i]);
        chacha[i]->status = CryptoStatus::EngineError;  // until its job comes back
    }
    const bool ran = imb::run_burst(m, impl_->options.validate_jobs, jobs, nc, [](IMB_JOB* j) {
        if (j->status == IMB_STATUS_COMPLETED) static_cast<SealItem*>(j->user_data)->status = CryptoStatus::Ok;
    });
    for (uint32_t i = 0; i < nc; ++i) {
        if (!ran || chacha[i]->status == CryptoStatus::EngineError) seal_failed(*chacha[i], CryptoStatus::EngineError);
    }
}

}  // namespace rustun
