// Verify, don't decrypt (lib/crypto/aead_verify.hpp): an OpenItem::head_only item verified over
// the ciphertext must give exactly the full open's verdict and the same first kOpenHeadLen
// plaintext bytes (the inner IPv4 addresses a relay routes on) on every vector, on random
// payloads of many sizes, singly and in mixed bursts, with and without IPsec-MB's job checks; and
// any changed payload byte (nonce, ciphertext, tag) must fail authentication.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "crypto/chacha20_head.hpp"
#include "crypto_test_util.hpp"

namespace rustun {
namespace {

using test::Bytes;

// An engine that verifies every head_only AEAD item regardless of size.
std::unique_ptr<CryptoEngine> make_verify_engine(bool validate_jobs = false, uint32_t from = 0) {
    EngineOptions o;
    o.validate_jobs = validate_jobs;
    o.verify_from_chacha = from;
    o.verify_from_gcm = from;
    o.chacha_verify_min_batch = 1;
    auto e = CryptoEngine::create(o);
    if (!e.ok()) {
        ADD_FAILURE() << e.error();
        std::abort();
    }
    return std::move(e).value();
}

struct Outcome {
    CryptoStatus status;
    uint32_t plaintext_len, plaintext_valid;
    Bytes head;  // the first min(plaintext_len, kOpenHeadLen) plaintext bytes
};

Outcome open_one(CryptoEngine& e, const CipherKey& k, const Bytes& payload, bool head_only) {
    Bytes in = payload;
    Bytes out(payload.size() + 64, 0xee);
    OpenItem it;
    it.key = &k;
    it.payload = in.data();
    it.payload_len = static_cast<uint32_t>(in.size());
    it.out = out.data();
    it.head_only = head_only;
    e.open(it);
    EXPECT_EQ(in, payload) << "out of place: the received bytes stay intact";
    Outcome o{it.status, it.plaintext_len, it.plaintext_valid, {}};
    if (it.status == CryptoStatus::Ok) {
        o.head.assign(it.plaintext, it.plaintext + std::min(it.plaintext_len, kOpenHeadLen));
    } else {
        // Nothing unauthenticated survives: the region a full open would have written is zero.
        const uint32_t n = payload.size() >= k.overhead() ? static_cast<uint32_t>(payload.size()) - k.overhead() : 0;
        if (it.status == CryptoStatus::AuthFailed) {
            EXPECT_TRUE(std::all_of(out.begin(), out.begin() + n, [](uint8_t b) { return b == 0; }));
        }
    }
    return o;
}

void expect_same(const Outcome& full, const Outcome& ver, const std::string& what) {
    EXPECT_EQ(full.status, ver.status) << what;
    EXPECT_EQ(full.plaintext_len, ver.plaintext_len) << what;
    EXPECT_EQ(full.head, ver.head) << what;
    if (full.head.size() >= 20 && ver.head.size() >= 20) {  // the inner IPv4 source and destination the relay routes on
        EXPECT_TRUE(std::equal(full.head.begin() + 12, full.head.begin() + 20, ver.head.begin() + 12)) << what;
    }
}

Bytes seal_payload(CryptoEngine& e, const CipherKey& k, const Bytes& plain) {
    Bytes out(plain.size() + k.overhead());
    uint32_t len = 0;
    EXPECT_EQ(e.seal(k, plain, out, len), CryptoStatus::Ok);
    out.resize(len);
    return out;
}

// An IPv4-looking plaintext of n bytes (version/IHL 0x45, addresses at 12..19) for routing.
Bytes inner_packet(std::mt19937_64& rng, size_t n) {
    Bytes b = test::random_bytes(rng, n);
    if (n > 0) b[0] = 0x45;
    return b;
}

TEST(AeadVerify, ChachaHeadBlocksMatchRfc8439) {
    // RFC 8439's Poly1305 key generation test vector (block 0 bytes 0..31).
    uint8_t key[32], nonce[12] = {0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7};
    for (int i = 0; i < 32; ++i) key[i] = static_cast<uint8_t>(0x80 + i);
    const Bytes want = test::hex_bytes("8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646");
    // Several pairs in one call, across a pass boundary (2, 4 or 8 pairs per pass by ISA).
    const uint8_t* keys[11];
    const uint8_t* nonces[11];
    for (int i = 0; i < 11; ++i) keys[i] = key, nonces[i] = nonce;
    uint8_t out[11][kChachaHeadOut];
    chacha20_head_blocks(keys, nonces, out, 11);
    for (int i = 0; i < 11; ++i) EXPECT_EQ(Bytes(out[i], out[i] + 32), want) << i;
    // Block 1 = the AEAD's keystream of plaintext bytes 0..31: sealing 32 zero bytes shows it.
    auto e = test::make_engine();
    auto k = CipherKey::create("chacha20:verify-test").value();
    const uint8_t n2[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
    Bytes zeros(32, 0), sealed(32 + 28);
    uint32_t len = 0;
    ASSERT_EQ(e->seal(*k, zeros, sealed, len, n2), CryptoStatus::Ok);
    const uint8_t* k1[1] = {k->chacha_key()};
    const uint8_t* nn[1] = {n2};
    chacha20_head_blocks(k1, nn, out, 1);
    EXPECT_EQ(Bytes(out[0] + 32, out[0] + 64), Bytes(sealed.begin() + 12, sealed.begin() + 44));
}

// RFC 8439 section 2.3, one block, scalar: the reference the vector lanes are checked against.
void chacha20_block_reference(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12], uint8_t out[64]) {
    auto ld = [](const uint8_t* p) { return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24; };
    auto rot = [](uint32_t v, int n) { return (v << n) | (v >> (32 - n)); };
    uint32_t s[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    for (int i = 0; i < 8; ++i) s[4 + i] = ld(key + 4 * i);
    s[12] = counter;
    for (int i = 0; i < 3; ++i) s[13 + i] = ld(nonce + 4 * i);
    uint32_t x[16];
    std::memcpy(x, s, sizeof x);
    auto qr = [&](int a, int b, int c, int d) {
        x[a] += x[b]; x[d] = rot(x[d] ^ x[a], 16);
        x[c] += x[d]; x[b] = rot(x[b] ^ x[c], 12);
        x[a] += x[b]; x[d] = rot(x[d] ^ x[a], 8);
        x[c] += x[d]; x[b] = rot(x[b] ^ x[c], 7);
    };
    for (int r = 0; r < 10; ++r) {
        qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15);
        qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14);
    }
    for (int i = 0; i < 16; ++i) {
        const uint32_t v = x[i] + s[i];
        for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<uint8_t>(v >> (8 * b));
    }
}

TEST(AeadVerify, ChachaHeadBlocksDistinctKeysEveryCount) {
    // Every pair its own key and nonce, for every count across several passes (2, 4 or 8 pairs
    // per pass by ISA) and a partial last pass: a lane mixed up between pairs or blocks shows.
    constexpr uint32_t kMax = 37;
    std::mt19937 rng(8439);
    uint8_t keyb[kMax][32], nonceb[kMax][12];
    const uint8_t* keys[kMax];
    const uint8_t* nonces[kMax];
    for (uint32_t i = 0; i < kMax; ++i) {
        for (auto& b : keyb[i]) b = static_cast<uint8_t>(rng());
        for (auto& b : nonceb[i]) b = static_cast<uint8_t>(rng());
        keys[i] = keyb[i];
        nonces[i] = nonceb[i];
    }
    for (uint32_t n = 0; n <= kMax; ++n) {
        uint8_t out[kMax + 1][kChachaHeadOut];
        std::memset(out, 0xa5, sizeof out);
        chacha20_head_blocks(keys, nonces, out, n);
        for (uint32_t i = 0; i < n; ++i) {
            uint8_t b0[64], b1[64];
            chacha20_block_reference(keyb[i], 0, nonceb[i], b0);
            chacha20_block_reference(keyb[i], 1, nonceb[i], b1);
            EXPECT_EQ(Bytes(out[i], out[i] + 32), Bytes(b0, b0 + 32)) << "n " << n << " pair " << i;
            EXPECT_EQ(Bytes(out[i] + 32, out[i] + 64), Bytes(b1, b1 + 32)) << "n " << n << " pair " << i;
        }
        for (uint32_t i = n; i <= kMax; ++i)  // nothing written past the n pairs
            EXPECT_EQ(Bytes(out[i], out[i] + kChachaHeadOut), Bytes(kChachaHeadOut, 0xa5)) << "n " << n << " pair " << i;
    }
}

TEST(AeadVerify, EveryVectorSameAsFullOpen) {
    auto full = test::make_engine();
    for (bool validate : {false, true}) {
        auto ver = make_verify_engine(validate);
        for (const auto& v : test::vector_file().vectors) {
            const CipherKey& k = test::vector_key(v.cipher);
            const Outcome a = open_one(*full, k, v.payload, false);
            const Outcome b = open_one(*ver, k, v.payload, true);
            expect_same(a, b, v.id);
            EXPECT_EQ(a.status, CryptoStatus::Ok) << v.id;
            if (k.is_aead()) {
                EXPECT_EQ(b.plaintext_valid, std::min<uint32_t>(b.plaintext_len, kOpenHeadLen)) << v.id;
            }
        }
        for (const auto& v : test::vector_file().negative) {
            if (v.frame.size() < 8) continue;
            const CipherKey& k = test::vector_key(v.cipher);
            const Bytes payload(v.frame.begin() + 8, v.frame.end());
            expect_same(open_one(*full, k, payload, false), open_one(*ver, k, payload, true), v.id);
        }
    }
}

TEST(AeadVerify, RandomSizesSameAsFullOpen) {
    std::mt19937_64 rng(14);
    auto full = test::make_engine();
    auto ver = make_verify_engine();
    std::vector<size_t> sizes;
    for (size_t n = 0; n <= 200; ++n) sizes.push_back(n);
    for (size_t n : {255, 256, 257, 511, 512, 513, 1023, 1024, 1399, 1400, 1401, 2047, 2048, 2049, 4096, 9000, 65507})
        sizes.push_back(n);
    for (const char* spec : {"chacha20:", "aes256:"}) {
        for (size_t n : sizes) {
            auto k = CipherKey::create(std::string(spec) + std::to_string(rng())).value();
            const Bytes payload = seal_payload(*full, *k, inner_packet(rng, n));
            const std::string what = std::string(spec) + " n=" + std::to_string(n);
            expect_same(open_one(*full, *k, payload, false), open_one(*ver, *k, payload, true), what);
            // A random payload of the same length (a forgery attempt) fails both ways.
            const Bytes junk = test::random_bytes(rng, payload.size());
            const Outcome a = open_one(*full, *k, junk, false);
            expect_same(a, open_one(*ver, *k, junk, true), what + " junk");
            EXPECT_EQ(a.status, CryptoStatus::AuthFailed) << what;
        }
    }
}

// Every single changed byte of the payload (nonce, ciphertext, tag) fails, on both paths.
TEST(AeadVerify, AnyChangedByteFails) {
    std::mt19937_64 rng(1403);
    auto full = test::make_engine();
    auto ver = make_verify_engine();
    for (const char* spec : {"chacha20:tamper", "aes256:tamper"}) {
        auto k = CipherKey::create(spec).value();
        for (size_t n : {0, 1, 20, 47, 64, 333, 1400}) {
            const Bytes payload = seal_payload(*full, *k, inner_packet(rng, n));
            for (size_t i = 0; i < payload.size(); ++i) {
                Bytes bad = payload;
                bad[i] ^= static_cast<uint8_t>(1u << (rng() % 8));
                const Outcome b = open_one(*ver, *k, bad, true);
                ASSERT_EQ(b.status, CryptoStatus::AuthFailed) << spec << " n=" << n << " byte " << i;
                EXPECT_EQ(b.plaintext_valid, 0u);
                EXPECT_EQ(open_one(*full, *k, bad, false).status, CryptoStatus::AuthFailed);
            }
            // Truncated or extended by a byte: the tag is read from elsewhere.
            Bytes shorter(payload.begin(), payload.end() - 1), longer = payload;
            longer.push_back(0);
            expect_same(open_one(*full, *k, shorter, false), open_one(*ver, *k, shorter, true), "shorter");
            expect_same(open_one(*full, *k, longer, false), open_one(*ver, *k, longer, true), "longer");
        }
    }
}

// A burst mixing methods, keys, sizes, good and bad payloads, head_only and full items.
TEST(AeadVerify, MixedBurstSameAsFullOpen) {
    std::mt19937_64 rng(77);
    auto full = test::make_engine();
    for (uint32_t from : {0u, 200u}) {
        auto ver = make_verify_engine(false, from);
        std::vector<std::unique_ptr<CipherKey>> keys;
        for (const char* s : {"chacha20:a", "aes256:b", "chacha20:c", "aes256:d", "xor:e", "plain"})
            keys.push_back(CipherKey::create(s).value());
        const size_t kItems = 150;  // more than kMaxBurst: chunks
        std::vector<Bytes> payloads, ins, outs;
        std::vector<const CipherKey*> ks;
        for (size_t i = 0; i < kItems; ++i) {
            const CipherKey* k = keys[rng() % keys.size()].get();
            Bytes p = seal_payload(*full, *k, inner_packet(rng, rng() % 1500));
            if (rng() % 4 == 0 && !p.empty()) p[rng() % p.size()] ^= 0x10;
            payloads.push_back(p);
            ks.push_back(k);
        }
        ins = payloads;
        for (auto& p : payloads) outs.emplace_back(p.size() + 64);
        std::vector<OpenItem> items(kItems);
        for (size_t i = 0; i < kItems; ++i) {
            items[i].key = ks[i];
            items[i].payload = ins[i].data();
            items[i].payload_len = static_cast<uint32_t>(ins[i].size());
            items[i].out = outs[i].data();
            items[i].head_only = i % 5 != 0;
        }
        ver->open_burst(items);
        for (size_t i = 0; i < kItems; ++i) {
            const Outcome a = open_one(*full, *ks[i], payloads[i], false);
            const OpenItem& it = items[i];
            EXPECT_EQ(it.status, a.status) << i;
            if (it.status != CryptoStatus::Ok) continue;
            EXPECT_EQ(Bytes(it.plaintext, it.plaintext + std::min(it.plaintext_len, kOpenHeadLen)), a.head) << i;
            const bool verified = it.head_only && ks[i]->is_aead() && it.plaintext_len >= from;
            EXPECT_EQ(it.plaintext_valid, verified ? std::min(it.plaintext_len, kOpenHeadLen) : it.plaintext_len) << i;
        }
    }
}

// Below the threshold a head_only item is fully decrypted (the size choice); in place works.
TEST(AeadVerify, ThresholdAndInPlace) {
    std::mt19937_64 rng(5);
    auto full = test::make_engine();
    auto ver = make_verify_engine(false, 100);
    for (const char* spec : {"chacha20:t", "aes256:t"}) {
        auto k = CipherKey::create(spec).value();
        for (size_t n : {99, 100, 3000}) {
            const Bytes plain = inner_packet(rng, n);
            Bytes buf = seal_payload(*full, *k, plain);
            OpenItem it;
            it.key = k.get();
            it.payload = buf.data();
            it.payload_len = static_cast<uint32_t>(buf.size());
            it.head_only = true;
            ASSERT_EQ(ver->open(it), CryptoStatus::Ok);
            EXPECT_EQ(it.plaintext, buf.data() + 12);
            const bool chacha_too_long = spec[0] == 'c' && n > 2048;
            const uint32_t valid = n >= 100 && !chacha_too_long ? kOpenHeadLen : static_cast<uint32_t>(n);
            EXPECT_EQ(it.plaintext_valid, valid) << spec << " " << n;
            EXPECT_EQ(Bytes(it.plaintext, it.plaintext + valid), Bytes(plain.begin(), plain.begin() + valid));
        }
    }
    EngineOptions defaults;
    EXPECT_EQ(defaults.verify_from_chacha, EngineOptions::kDefaultVerifyFromChacha);
    EXPECT_EQ(defaults.verify_from_gcm, EngineOptions::kVerifyFromGcmByArch);
    auto resolved = CryptoEngine::create(defaults);
    ASSERT_TRUE(resolved.ok());
    const uint32_t from = (*resolved)->verify_from_gcm();
    EXPECT_TRUE(from == EngineOptions::kDefaultVerifyFromGcm || from == EngineOptions::kDefaultVerifyFromGcmAvx512) << from;
    EXPECT_EQ(make_verify_engine(false, 77)->verify_from_gcm(), 77u) << "an explicit value stays";
}

// With the default options a lone ChaCha item is opened, two or more are verified.
TEST(AeadVerify, ChachaBatchRule) {
    std::mt19937_64 rng(9);
    auto full = test::make_engine();
    auto e = test::make_engine();  // default options
    auto k = CipherKey::create("chacha20:batch").value();
    for (size_t count : {1, 2, 5}) {
        std::vector<Bytes> bufs;
        std::vector<OpenItem> items(count);
        for (size_t i = 0; i < count; ++i) bufs.push_back(seal_payload(*full, *k, inner_packet(rng, 100)));
        for (size_t i = 0; i < count; ++i) {
            items[i].key = k.get();
            items[i].payload = bufs[i].data();
            items[i].payload_len = static_cast<uint32_t>(bufs[i].size());
            items[i].head_only = true;
        }
        e->open_burst(items);
        for (const OpenItem& it : items) {
            ASSERT_EQ(it.status, CryptoStatus::Ok);
            EXPECT_EQ(it.plaintext_valid, count >= 2 ? kOpenHeadLen : 100u) << count;
        }
    }
}

}  // namespace
}  // namespace rustun
