// Reference cipher syntax and key derivation (docs/protocol.md, "Cipher syntax", "Key derivation").
#include "crypto/cipher_spec.hpp"

#include <algorithm>

namespace rustun {

namespace {

// Key length of both AEADs (ChaCha20-Poly1305 and AES-256-GCM), in bytes.
constexpr size_t kAeadKeyLen = 32;

bool iequals_ascii(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// Method names accepted before the first ':'. "chacha20poly1305" is the server.toml spelling
// (docs/protocol.md, "Cipher syntax"); it is accepted here so one parser serves both configuration sources.
struct MethodName {
    std::string_view name;
    CipherMethod method;
};
constexpr MethodName kMethodNames[] = {
    {"plain", CipherMethod::Plain},
    {"xor", CipherMethod::Xor},
    {"chacha20", CipherMethod::ChaCha20Poly1305},
    {"chacha20poly1305", CipherMethod::ChaCha20Poly1305},
    {"aes256", CipherMethod::Aes256Gcm},
};

}  // namespace

const char* cipher_method_name(CipherMethod m) {
    switch (m) {
        case CipherMethod::Plain: return "plain";
        case CipherMethod::Xor: return "xor";
        case CipherMethod::ChaCha20Poly1305: return "chacha20";
        case CipherMethod::Aes256Gcm: return "aes256";
    }
    return "unknown";
}

Result<CipherSpec> CipherSpec::parse(std::string_view text) {
    const size_t colon = text.find(':');
    const bool has_colon = colon != std::string_view::npos;
    const std::string_view method_text = has_colon ? text.substr(0, colon) : text;
    const std::string_view key_text = has_colon ? text.substr(colon + 1) : std::string_view{};

    const MethodName* found = nullptr;
    for (const MethodName& m : kMethodNames) {
        if (iequals_ascii(method_text, m.name)) {
            found = &m;
            break;
        }
    }
    if (found == nullptr) {
        return make_error("unknown cipher method '" + std::string(method_text) +
                          "' (expected plain, xor:KEY, chacha20:KEY or aes256:KEY)");
    }

    CipherSpec spec;
    spec.method = found->method;
    if (spec.method == CipherMethod::Plain) return spec;  // anything after a colon is ignored

    if (!has_colon) {
        return make_error("cipher method '" + std::string(method_text) + "' needs a key: write " +
                          cipher_method_name(spec.method) + ":KEY");
    }
    if (spec.method == CipherMethod::Xor && key_text.empty()) {
        // The reference panics here (docs/protocol.md, "Cipher syntax"); we refuse the configuration instead.
        return make_error("cipher 'xor:' needs a non-empty key");
    }
    spec.key.assign(key_text);
    return spec;
}

std::string CipherSpec::to_string() const {
    if (method == CipherMethod::Plain) return "plain";
    return std::string(cipher_method_name(method)) + ":" + key;
}

std::vector<uint8_t> CipherSpec::derived_key() const {
    switch (method) {
        case CipherMethod::Plain:
            return {};
        case CipherMethod::Xor:
            return std::vector<uint8_t>(key.begin(), key.end());
        case CipherMethod::ChaCha20Poly1305:
        case CipherMethod::Aes256Gcm: {
            // UTF-8 bytes truncated to 32 or zero-padded to 32; no KDF (docs/protocol.md, "Key derivation").
            std::vector<uint8_t> out(kAeadKeyLen, 0);
            std::copy_n(key.begin(), std::min(key.size(), kAeadKeyLen), out.begin());
            return out;
        }
    }
    return {};
}

}  // namespace rustun
