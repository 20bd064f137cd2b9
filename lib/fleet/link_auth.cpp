// Uses IPsec-MB directly (AEAD with associated data, SHA-256), which CryptoEngine does not
// offer: the Rustun protocol's AEADs have no associated data. Includes crypto/imb_mgr.hpp in this
// .cpp only, so that IPsec-MB's macros stay out of every header.
#include "fleet/link_auth.hpp"

#include <cstring>
#include <string>

#include "crypto/ghash_clmul.hpp"
#include "crypto/imb_mgr.hpp"
#include "crypto/secure_wipe.hpp"

namespace rustun::fleet {

namespace {

// Domain separation of the fleet key from cluster keys made from the same text.
constexpr char kKeyLabel[] = "rustun fleet link key v1";

}  // namespace

struct LinkAuth::Impl {
    imb::MgrPtr mgr;
    gcm_context_data gcm_ctx{};
    uint8_t empty[16] = {};  // src/dst of the empty plaintext

    // An aes256 key's tag by our GMAC (lib/crypto/ghash_clmul.hpp) rather than IPsec-MB's GCM:
    // the same 16 bytes. Off IPsec-MB's AVX-512 arch ours is faster (TSC cycles per tag, 32 per
    // call, same run: 387-391 against 617-638 over 1450 bytes, 63-64 against 82-85 over 96, on
    // the AVX2 arch, where IPsec-MB hashes associated data block by block). On the AVX-512 arch
    // IPsec-MB's 512-bit GHASH wins on long frames (140 against 251 at 1450 bytes; 40 against 37
    // at 96): docs/performance.md, "Fleet".
    bool own_gmac(const CipherKey& k) const {
        return k.method() == CipherMethod::Aes256Gcm && k.has_ghash_key() && mgr->used_arch != IMB_ARCH_AVX512;
    }
};

LinkKeyBytes::~LinkKeyBytes() { secure_wipe(bytes.data(), bytes.size()); }

Result<LinkKeyBytes> LinkKey::derive(std::string_view spec_text) {
    auto spec = CipherSpec::parse(spec_text);
    if (!spec) return Error{spec.error()};
    if (spec.value().method != CipherMethod::Aes256Gcm && spec.value().method != CipherMethod::ChaCha20Poly1305)
        return make_error(std::string("the fleet link key must be an AEAD (aes256:KEY or chacha20:KEY), not ") +
                          cipher_method_name(spec.value().method));
    if (spec.value().key.empty()) return make_error("the fleet link key is empty");
    const IMB_MGR* m = imb::setup_mgr();
    if (m == nullptr) return make_error("IPsec-MB unavailable");
    std::string input(kKeyLabel, sizeof kKeyLabel);  // the label and its NUL, then the key text
    input += spec.value().key;
    LinkKeyBytes out;
    out.method = spec.value().method;
    static_assert(IMB_SHA256_DIGEST_SIZE_IN_BYTES == sizeof out.bytes);
    IMB_SHA256(const_cast<IMB_MGR*>(m), input.data(), input.size(), out.bytes.data());
    secure_wipe(input.data(), input.size());
    secure_wipe(spec.value().key.data(), spec.value().key.size());
    return out;
}

Result<std::shared_ptr<const LinkKey>> LinkKey::from_bytes(CipherMethod method, std::span<const uint8_t, 32> bytes) {
    if (method != CipherMethod::Aes256Gcm && method != CipherMethod::ChaCha20Poly1305)
        return make_error(std::string("the fleet link key must be an AEAD, not ") + cipher_method_name(method));
    CipherSpec derived;
    derived.method = method;
    derived.key.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());  // exactly 32 bytes: used as they are
    auto k = CipherKey::create(derived);
    secure_wipe(derived.key.data(), derived.key.size());
    if (!k) return Error{k.error()};
    return std::make_shared<const LinkKey>(std::move(k).value());
}

Result<std::shared_ptr<const LinkKey>> LinkKey::create(std::string_view spec_text) {
    auto b = derive(spec_text);
    if (!b) return Error{b.error()};
    return from_bytes(b.value().method, b.value().bytes);
}

Result<std::unique_ptr<LinkAuth>> LinkAuth::create() {
    auto mgr = imb::make_mgr();
    if (!mgr) return Error{mgr.error()};
    auto impl = std::make_unique<Impl>();
    impl->mgr = std::move(mgr).value();
    return std::unique_ptr<LinkAuth>(new LinkAuth(std::move(impl)));
}

LinkAuth::LinkAuth(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LinkAuth::~LinkAuth() {
    if (impl_) secure_wipe(&impl_->gcm_ctx, sizeof impl_->gcm_ctx);
}

void LinkAuth::tag(const LinkKey& key, const uint8_t* nonce, const uint8_t* aad, size_t aad_len, uint8_t* out) {
    IMB_MGR* m = impl_->mgr.get();
    const CipherKey& k = key.key();
    if (impl_->own_gmac(k)) {
        aes256_gmac(k.ghash_key(), k.gcm_key()->expanded_keys, nonce, aad, aad_len, out);
        return;
    }
    if (k.method() == CipherMethod::Aes256Gcm) {
        IMB_AES256_GCM_ENC(m, k.gcm_key(), &impl_->gcm_ctx, impl_->empty, impl_->empty, 0, nonce, aad, aad_len, out,
                           kLinkTagLen);
        return;
    }
    IMB_JOB* j = IMB_GET_NEXT_JOB(m);
    j->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
    j->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
    j->cipher_direction = IMB_DIR_ENCRYPT;
    j->chain_order = IMB_ORDER_CIPHER_HASH;
    j->enc_keys = k.chacha_key();
    j->dec_keys = k.chacha_key();
    j->key_len_in_bytes = IMB_KEY_256_BYTES;
    j->src = impl_->empty;
    j->dst = impl_->empty;
    j->cipher_start_src_offset_in_bytes = 0;
    j->msg_len_to_cipher_in_bytes = 0;
    j->hash_start_src_offset_in_bytes = 0;
    j->msg_len_to_hash_in_bytes = 0;
    j->iv = nonce;
    j->iv_len_in_bytes = 12;
    j->auth_tag_output = out;
    j->auth_tag_output_len_in_bytes = kLinkTagLen;
    j->u.CHACHA20_POLY1305.aad = aad;
    j->u.CHACHA20_POLY1305.aad_len_in_bytes = aad_len;
    j->user_data = nullptr;
    IMB_JOB* done = IMB_SUBMIT_JOB(m);
    if (done == nullptr) done = IMB_FLUSH_JOB(m);
    if (done == nullptr || done->status != IMB_STATUS_COMPLETED) std::memset(out, 0, kLinkTagLen);
}

void LinkAuth::tag_burst(const LinkKey& key, const GmacJob* jobs, size_t n) {
    const CipherKey& k = key.key();
    if (impl_->own_gmac(k)) {
        aes256_gmac_burst(k.ghash_key(), k.gcm_key()->expanded_keys, jobs, n);
        return;
    }
    // IPsec-MB per job: called for the whole burst at once, after the burst's other work, its
    // code stays in the cache.
    for (size_t i = 0; i < n; ++i) tag(key, jobs[i].nonce, jobs[i].aad, jobs[i].aad_len, jobs[i].tag);
}

size_t LinkAuth::seal(const LinkKey& key, LinkHeader h, std::span<const uint8_t> frame, std::span<uint8_t> out) {
    h.frame_len = static_cast<uint32_t>(frame.size());
    if (frame.size() > kLinkMaxFrame || out.size() < link_frame_size(h) || !encode_link_header(h, out)) return 0;
    const size_t header = link_header_size(h);
    std::memcpy(out.data() + header, frame.data(), frame.size());
    tag(key, out.data() + kLinkNonceOffset, out.data(), header + frame.size(), out.data() + header + frame.size());
    return link_frame_size(h);
}

LinkCheck LinkAuth::open(const LinkKey& key, std::span<const uint8_t> bytes, LinkFrameView& out) {
    const LinkCheck c = parse_link_frame(bytes, out);
    if (c != LinkCheck::Ok) return c;
    uint8_t expect[kLinkTagLen];
    tag(key, out.nonce, bytes.data(), out.authenticated_len, expect);
    return tag16_equal(expect, out.tag) ? LinkCheck::Ok : LinkCheck::BadTag;
}

}  // namespace rustun::fleet
