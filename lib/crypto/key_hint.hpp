// Key hints (docs/protocol-extensions.md, "Key hints"): how our own clients tell the gateway which
// cluster key sealed a frame whose sender it does not know yet (a TCP Handshake, a UDP KeepAlive
// from an unbound endpoint), so that it tries that key first instead of every cluster key.
//
// The hint travels in the AEAD nonce, which the sender chooses freely and every receiver
// (reference server included) only passes to the cipher: nonce = tag (3 bytes) || 9 random bytes.
// tag = the first 3 bytes of SipHash-2-4 over a fixed domain string, keyed with the 32-byte AEAD
// key folded to 16 bytes (k[i] XOR k[16 + i]): anyone may read it, nobody learns the key from it
// (SipHash is a PRF), and a wrong or forged tag only changes the order in which the gateway
// tries its keys. Only AEAD keys (chacha20, aes256) have one: XOR and plain frames have no nonce.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "crypto/cipher_spec.hpp"

namespace rustun {

inline constexpr size_t kKeyHintLen = 3;  // tag bytes at the start of the nonce

// The 24-bit tag of an AEAD spec's key; nullopt for XOR and plain.
std::optional<uint32_t> key_hint_tag(const CipherSpec& spec);

// A 12-byte nonce carrying `tag`: its 3 bytes (big-endian), then 9 bytes from getrandom(2).
// Meant for the few frames that need a hint (Handshakes, KeepAlives of an unbound endpoint):
// 72 random bits keep nonce collisions under one key negligible for those (~n^2 / 2^73).
void key_hint_nonce(uint32_t tag, uint8_t nonce[12]);

// The tag a payload's nonce would carry (its first 3 bytes); the caller checks the length.
inline uint32_t key_hint_of_payload(const uint8_t* payload) {
    return uint32_t{payload[0]} << 16 | uint32_t{payload[1]} << 8 | payload[2];
}

}  // namespace rustun
