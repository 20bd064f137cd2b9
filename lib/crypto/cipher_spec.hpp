// The reference `method:key` cipher syntax (docs/protocol.md, "Cipher syntax") and key derivation ("Key derivation").
// Parsing happens at configuration time; the result is turned into a CipherKey
// (cipher_key.hpp) once, never per packet.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace rustun {

enum class CipherMethod : uint8_t {
    Plain = 0,
    Xor = 1,
    ChaCha20Poly1305 = 2,
    Aes256Gcm = 3,
};

// Name as written in the reference CLI syntax: "plain", "xor", "chacha20", "aes256".
const char* cipher_method_name(CipherMethod m);

struct CipherSpec {
    CipherMethod method = CipherMethod::Plain;
    // The key string exactly as configured (UTF-8, case-sensitive). Empty for plain.
    std::string key;

    // Parses "chacha20:KEY", "aes256:KEY", "xor:KEY", "plain" (method case-insensitive, split at
    // the first ':'). Errors (never a crash): unknown method, missing ':' for a keyed method,
    // empty XOR key. "chacha20poly1305" (the server.toml variant name) is accepted as an alias of
    // "chacha20"; `plain` ignores anything after a colon.
    static Result<CipherSpec> parse(std::string_view text);

    // Canonical text form, e.g. "chacha20:rustun" or "plain". Round-trips through parse().
    std::string to_string() const;

    // Key bytes fed to the cipher: for AEADs the UTF-8 bytes truncated/zero-padded to 32;
    // for XOR the raw bytes; empty for plain.
    std::vector<uint8_t> derived_key() const;

    bool operator==(const CipherSpec&) const = default;
};

}  // namespace rustun
