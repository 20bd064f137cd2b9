// Test support: tests/data/vectors.json (docs/protocol.md, "Test vectors") loaded into plain structs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rustun::test {

using Bytes = std::vector<uint8_t>;

struct CipherEntry {
    std::string cipher;      // "chacha20", "aes256", "xor", "plain"
    std::string key_string;
    std::string client_cli;  // e.g. "chacha20:rustun"
    bool has_derived_key = false;
    Bytes derived_key;
};

struct KeyDerivationEntry {
    std::string config_string;
    std::string key_string;
    Bytes key_utf8;
    Bytes aead_key;
};

struct FrameVector {
    std::string id;
    std::string cipher;
    std::string key_string;
    int frame_type = 0;
    bool has_nonce = false;
    Bytes nonce, plaintext, payload, header, frame;
};

struct NegativeVector {
    std::string id;
    std::string cipher;
    std::string key_string;
    std::string expected;
    Bytes frame;
};

struct VectorFile {
    std::vector<CipherEntry> ciphers;
    std::vector<KeyDerivationEntry> key_derivation;
    std::vector<FrameVector> vectors;
    std::vector<NegativeVector> negative;

    // The configuration string for a cipher name ("chacha20" -> "chacha20:rustun").
    std::string config_for(const std::string& cipher) const;
    const NegativeVector& negative_by_id(const std::string& id) const;
};

// Loads $RUSTUN_TEST_DATA/vectors.json once; aborts with a message if it is missing or malformed
// (a test run without its data must not pass vacuously).
const VectorFile& vector_file();

Bytes hex_bytes(const std::string& hex);
std::string hex_string(const Bytes& b);

}  // namespace rustun::test
