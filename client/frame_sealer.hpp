// The client's frame crypto: the cluster key and one CryptoEngine, sealing plaintexts into Rustun
// frames (header + payload) and opening received payloads in place. It also owns the TUN packet
// buffer: a packet is read behind room for the frame header and the cipher's nonce prefix, so a
// frame for UDP is sealed in place without a copy. Buffers are allocated once in init().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "proto/frame.hpp"
#include "util/result.hpp"

namespace rustun::client {

class FrameSealer {
public:
    // `spec`: the -c/--crypto text (chacha20:KEY, aes256:KEY, xor:KEY, plain).
    Status init(const std::string& spec);

    size_t overhead() const { return key_->overhead(); }
    size_t prefix_len() const { return key_->prefix_len(); }

    // Where a TUN packet is read (behind the header and nonce prefix) and its capacity in bytes.
    uint8_t* packet_area() { return packet_buf_.data() + kFrameHeaderSize + prefix_len(); }
    size_t packet_capacity() const;

    // Seals `plain` as a `type` frame into frame[0..need) where need = header + len + overhead;
    // in place when `plain` already sits at frame + header + prefix. `nonce`: 12 bytes or nullptr
    // (fresh random). Returns the frame length, 0 on failure.
    size_t seal_into(uint8_t* frame, size_t need, FrameType type, const uint8_t* plain, size_t len,
                     const uint8_t* nonce = nullptr);
    // Seals into the packet buffer (in place when `plain` is packet_area()) or into a scratch
    // buffer. Empty on failure or when the frame would exceed kMaxFrameSize. The span is valid
    // until the next seal().
    std::span<const uint8_t> seal(FrameType type, const uint8_t* plain, size_t len, const uint8_t* nonce = nullptr);

    // A 12-byte nonce carrying the key-hint tag (docs/protocol-extensions.md, "Key hints"), so
    // that the gateway tries our cluster's key first; false (nonce untouched) for XOR and plain.
    // Only for the few frames of a sender the gateway does not know yet: the Handshake and UDP
    // KeepAlives while not bound (9 random bytes instead of 12: fine for those, not for Data).
    bool hint_nonce(uint8_t nonce[12]) const;

    // Opens a payload in place; false when it does not authenticate. Fills it.plaintext/_len.
    bool open(uint8_t* payload, size_t len, OpenItem& it);

private:
    std::unique_ptr<CipherKey> key_;
    std::optional<uint32_t> hint_tag_;  // AEAD keys only
    std::unique_ptr<CryptoEngine> engine_;
    std::vector<uint8_t> packet_buf_;   // [header 8][prefix][packet][tag]
    std::vector<uint8_t> scratch_;      // frames sealed from plaintexts elsewhere
};

}  // namespace rustun::client
