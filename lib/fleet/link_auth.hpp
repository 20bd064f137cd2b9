// The fleet key and the link frame's AEAD tag (docs/fleet.md, "Link").
//
// The key is configured like a cluster key (`fleet.link.key: "aes256:fleet-secret"`, parsed by
// CipherSpec) but must name an AEAD (aes256 or chacha20). Its 32 key bytes are SHA-256 of a
// label and the whole configured key text, so that the fleet key never equals a cluster key
// made from the same text (and long texts are not cut at 32 bytes as the reference derivation
// does). Nothing is encrypted: the AEAD runs over an empty plaintext with the header and the
// relayed frame as associated data, nonce = the header's salt and seq (unique per sender
// process: the seq never repeats within one, the salt is random per process).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "crypto/cipher_key.hpp"
#include "crypto/ghash_clmul.hpp"  // GmacJob
#include "fleet/link_frame.hpp"
#include "util/result.hpp"

namespace rustun::fleet {

// The fleet key's method and its 32 derived key bytes: what a control plane gives its dataplane
// over the channel (FleetLinkMsg), which makes the same LinkKey of them with from_bytes().
struct LinkKeyBytes {
    CipherMethod method = CipherMethod::Plain;
    std::array<uint8_t, 32> bytes{};
    ~LinkKeyBytes();  // wipes the bytes
};

// Immutable after create(): shared by every thread.
class LinkKey {
public:
    // "aes256:TEXT" or "chacha20:TEXT"; errors name the problem (not the key text).
    static Result<std::shared_ptr<const LinkKey>> create(std::string_view spec_text);
    // The derivation create() uses, without the key schedule.
    static Result<LinkKeyBytes> derive(std::string_view spec_text);
    // A key from derived bytes; `method` must be Aes256Gcm or ChaCha20Poly1305.
    static Result<std::shared_ptr<const LinkKey>> from_bytes(CipherMethod method, std::span<const uint8_t, 32> bytes);
    const CipherKey& key() const { return *key_; }
    CipherMethod method() const { return key_->method(); }

    explicit LinkKey(std::unique_ptr<CipherKey> k) : key_(std::move(k)) {}

private:
    std::unique_ptr<CipherKey> key_;
};

// Per thread (an IPsec-MB manager each): seals and verifies link frames. No allocation after
// create().
class LinkAuth {
public:
    static Result<std::unique_ptr<LinkAuth>> create();
    ~LinkAuth();
    LinkAuth(const LinkAuth&) = delete;
    LinkAuth& operator=(const LinkAuth&) = delete;

    // The 16-byte tag of `aad` under `key` and the 12-byte `nonce`.
    void tag(const LinkKey& key, const uint8_t* nonce, const uint8_t* aad, size_t aad_len, uint8_t* out);

    // tag() for each of `n` jobs, the same tags (a worker's link frames of one burst). For an
    // aes256 key one batched GMAC (aes256_gmac_burst), else tag() per job.
    void tag_burst(const LinkKey& key, const GmacJob* jobs, size_t n);

    // Writes the link frame for `h` (h.frame_len = frame.size()) and `frame` into `out`: header,
    // frame bytes, tag. Returns its size, 0 if the header is invalid or `out` too small.
    size_t seal(const LinkKey& key, LinkHeader h, std::span<const uint8_t> frame, std::span<uint8_t> out);

    // parse_link_frame, then the tag (constant-time compare). Ok, a format reason or BadTag.
    LinkCheck open(const LinkKey& key, std::span<const uint8_t> bytes, LinkFrameView& out);

    struct Impl;

private:
    explicit LinkAuth(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace rustun::fleet
