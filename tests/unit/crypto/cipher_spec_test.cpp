// CipherSpec parsing and key derivation (docs/protocol.md, "Cipher syntax", "Key derivation"), and CipherKey creation.
#include <gtest/gtest.h>

#include "crypto/cipher_key.hpp"
#include "crypto/cipher_spec.hpp"
#include "vector_data.hpp"

namespace rustun {
namespace {

using test::Bytes;
using test::vector_file;

TEST(KeyDerivation, EveryVectorEntry) {
    const auto& entries = vector_file().key_derivation;
    ASSERT_EQ(entries.size(), 6u);
    for (const auto& e : entries) {
        SCOPED_TRACE(e.config_string);
        Result<CipherSpec> spec = CipherSpec::parse(e.config_string);
        ASSERT_TRUE(spec.ok()) << spec.error();
        EXPECT_EQ(spec->key, e.key_string);
        EXPECT_EQ(Bytes(spec->key.begin(), spec->key.end()), e.key_utf8);
        EXPECT_EQ(spec->derived_key(), e.aead_key);
        EXPECT_EQ(spec->derived_key().size(), 32u);
    }
}

TEST(KeyDerivation, CipherTable) {
    const auto& ciphers = vector_file().ciphers;
    ASSERT_EQ(ciphers.size(), 4u);
    for (const auto& c : ciphers) {
        SCOPED_TRACE(c.client_cli);
        Result<CipherSpec> spec = CipherSpec::parse(c.client_cli);
        ASSERT_TRUE(spec.ok()) << spec.error();
        EXPECT_STREQ(cipher_method_name(spec->method), c.cipher.c_str());
        EXPECT_EQ(spec->key, c.key_string);
        if (c.has_derived_key) {
            EXPECT_EQ(spec->derived_key(), c.derived_key);
        } else {
            EXPECT_TRUE(spec->derived_key().empty());
        }
        EXPECT_EQ(spec->to_string(), c.client_cli);
    }
}

TEST(CipherSpecParse, MethodIsCaseInsensitiveKeyIsVerbatim) {
    for (const char* text : {"CHACHA20:Key", "ChaCha20:Key", "chacha20:Key"}) {
        Result<CipherSpec> s = CipherSpec::parse(text);
        ASSERT_TRUE(s.ok()) << text;
        EXPECT_EQ(s->method, CipherMethod::ChaCha20Poly1305);
        EXPECT_EQ(s->key, "Key");
    }
    Result<CipherSpec> a = CipherSpec::parse("AES256:MiXeD");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->method, CipherMethod::Aes256Gcm);
    EXPECT_EQ(a->key, "MiXeD");
    Result<CipherSpec> x = CipherSpec::parse("Xor:k");
    ASSERT_TRUE(x.ok());
    EXPECT_EQ(x->method, CipherMethod::Xor);
    Result<CipherSpec> p = CipherSpec::parse("PLAIN");
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->method, CipherMethod::Plain);
}

TEST(CipherSpecParse, KeyContainingColonsSplitsAtFirstColon) {
    Result<CipherSpec> s = CipherSpec::parse("aes256:a:b:c");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->key, "a:b:c");
    Result<CipherSpec> x = CipherSpec::parse("xor::");
    ASSERT_TRUE(x.ok());
    EXPECT_EQ(x->key, ":");
    EXPECT_EQ(x->to_string(), "xor::");
    EXPECT_EQ(CipherSpec::parse(x->to_string()).value(), x.value());
}

TEST(CipherSpecParse, PlainIgnoresAnythingAfterColon) {
    for (const char* text : {"plain", "plain:", "plain:anything", "Plain:a:b"}) {
        Result<CipherSpec> s = CipherSpec::parse(text);
        ASSERT_TRUE(s.ok()) << text;
        EXPECT_EQ(s->method, CipherMethod::Plain);
        EXPECT_EQ(s->key, "");
        EXPECT_EQ(s->to_string(), "plain");
        EXPECT_TRUE(s->derived_key().empty());
    }
}

TEST(CipherSpecParse, EmptyAeadKeyIsAllZero) {
    for (const char* text : {"chacha20:", "aes256:"}) {
        Result<CipherSpec> s = CipherSpec::parse(text);
        ASSERT_TRUE(s.ok()) << text;
        EXPECT_EQ(s->derived_key(), Bytes(32, 0));
    }
}

TEST(CipherSpecParse, LongKeyIsTruncatedTo32Bytes) {
    Result<CipherSpec> s = CipherSpec::parse("chacha20:" + std::string(100, 'k'));
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->key.size(), 100u);
    EXPECT_EQ(s->derived_key(), Bytes(32, 'k'));
    Result<CipherSpec> x = CipherSpec::parse("xor:" + std::string(100, 'k'));
    ASSERT_TRUE(x.ok());
    EXPECT_EQ(x->derived_key().size(), 100u);  // XOR keys are not padded or truncated
}

TEST(CipherSpecParse, ServerTomlSpellingIsAnAlias) {
    Result<CipherSpec> s = CipherSpec::parse("chacha20poly1305:rustun");
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_EQ(s->method, CipherMethod::ChaCha20Poly1305);
    EXPECT_EQ(s->to_string(), "chacha20:rustun");
    EXPECT_TRUE(CipherSpec::parse("ChaCha20Poly1305:x").ok());
}

TEST(CipherSpecParse, Errors) {
    struct Case {
        const char* text;
        const char* must_mention;
    };
    for (const Case& c : {Case{"blowfish:key", "blowfish"}, Case{"", "unknown"},
                          Case{"aes128:k", "aes128"}, Case{" chacha20:k", " chacha20"},
                          Case{"chacha20", "chacha20:KEY"}, Case{"aes256", "aes256:KEY"},
                          Case{"xor", "xor:KEY"}, Case{"xor:", "non-empty"},
                          Case{"XOR:", "non-empty"}}) {
        Result<CipherSpec> s = CipherSpec::parse(c.text);
        ASSERT_FALSE(s.ok()) << "'" << c.text << "' was accepted";
        EXPECT_NE(s.error().find(c.must_mention), std::string::npos)
            << "'" << c.text << "': " << s.error();
    }
}

TEST(CipherKeyCreate, OverheadPerMethod) {
    struct Case {
        const char* text;
        CipherMethod method;
        uint32_t overhead;
        uint32_t prefix;
    };
    for (const Case& c : {Case{"chacha20:rustun", CipherMethod::ChaCha20Poly1305, 28, 12},
                          Case{"aes256:k", CipherMethod::Aes256Gcm, 28, 12},
                          Case{"xor:rustun", CipherMethod::Xor, 0, 0},
                          Case{"plain", CipherMethod::Plain, 0, 0}}) {
        auto key = CipherKey::create(c.text);
        ASSERT_TRUE(key.ok()) << key.error();
        const CipherKey& k = **key;
        EXPECT_EQ(k.method(), c.method);
        EXPECT_EQ(k.overhead(), c.overhead);
        EXPECT_EQ(k.prefix_len(), c.prefix);
        EXPECT_EQ(k.is_aead(), c.overhead != 0);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(&k) % 64, 0u) << "CipherKey must be 64-byte aligned";
        EXPECT_EQ(reinterpret_cast<uintptr_t>(k.gcm_key()) % 64, 0u);
    }
    auto bad = CipherKey::create("nope:x");
    EXPECT_FALSE(bad.ok());
    CipherSpec empty_xor;
    empty_xor.method = CipherMethod::Xor;
    EXPECT_FALSE(CipherKey::create(empty_xor).ok());
}

TEST(CipherKeyCreate, XorPadIsKeyRepeatedFromOffsetZero) {
    for (size_t klen : {1u, 6u, 7u, 255u, 256u, 257u, 1000u}) {
        std::string key;
        for (size_t i = 0; i < klen; ++i) key.push_back(static_cast<char>('a' + i % 26));
        auto k = CipherKey::create("xor:" + key);
        ASSERT_TRUE(k.ok());
        const CipherKey& ck = **k;
        ASSERT_GE(ck.xor_pad_len(), 256u);
        ASSERT_EQ(ck.xor_pad_len() % klen, 0u);
        for (uint32_t i = 0; i < ck.xor_pad_len(); ++i) {
            ASSERT_EQ(ck.xor_pad()[i], static_cast<uint8_t>(key[i % klen])) << klen << "/" << i;
        }
    }
}

}  // namespace
}  // namespace rustun
