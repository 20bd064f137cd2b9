// Sealing with fresh nonces, round trips at many sizes, and the 65535-byte payload limit.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <set>

#include "crypto_test_util.hpp"

namespace rustun {
namespace {

using test::Bytes;
using test::vector_key;

class SealTest : public ::testing::TestWithParam<const char*> {  // param: cipher
protected:
    void SetUp() override { engine_ = test::make_engine(); }
    const CipherKey& key() const { return vector_key(GetParam()); }
    std::unique_ptr<CryptoEngine> engine_;
};

class AeadSealTest : public SealTest {};

TEST_P(AeadSealTest, TwoSealsOfTheSamePlaintextDiffer) {
    const Bytes plain(100, 'x');
    Bytes a(128), b(128);
    uint32_t la = 0, lb = 0;
    ASSERT_EQ(engine_->seal(key(), plain, a, la), CryptoStatus::Ok);
    ASSERT_EQ(engine_->seal(key(), plain, b, lb), CryptoStatus::Ok);
    ASSERT_EQ(la, 128u);
    ASSERT_EQ(lb, 128u);
    EXPECT_NE(Bytes(a.begin(), a.begin() + 12), Bytes(b.begin(), b.begin() + 12)) << "nonce";
    EXPECT_NE(Bytes(a.begin() + 12, a.end()), Bytes(b.begin() + 12, b.end())) << "ciphertext";
}

TEST_P(AeadSealTest, NoncesAreFreshAcrossManySeals) {
    std::set<std::array<uint8_t, 12>> nonces;
    Bytes out(28);
    for (int i = 0; i < 20000; ++i) {
        uint32_t n = 0;
        ASSERT_EQ(engine_->seal(key(), {}, out, n), CryptoStatus::Ok);
        ASSERT_EQ(n, 28u);
        std::array<uint8_t, 12> nonce;
        std::memcpy(nonce.data(), out.data(), 12);
        ASSERT_TRUE(nonces.insert(nonce).second) << "repeat at " << i;
    }
}

TEST_P(SealTest, OpenOfSealIsIdentityAtManySizes) {
    std::mt19937_64 rng(3);
    std::vector<size_t> sizes;
    for (size_t s = 0; s <= 2100; ++s) sizes.push_back(s);
    for (size_t s : {4095u, 4096u, 9000u, 16383u, 65507u - 28u, 65507u}) sizes.push_back(s);
    sizes.push_back(kMaxPayloadLen - key().overhead());  // the largest payload that fits
    for (size_t sz : sizes) {
        const Bytes plain = test::random_bytes(rng, sz);
        Bytes buf(sz + key().overhead());
        uint32_t n = 0;
        ASSERT_EQ(engine_->seal(key(), plain, buf, n), CryptoStatus::Ok) << sz;
        ASSERT_EQ(n, buf.size());
        if (key().method() == CipherMethod::Plain) {
            ASSERT_EQ(buf, plain);
        } else if (sz >= 16) {
            ASSERT_NE(Bytes(buf.begin() + key().prefix_len(),
                            buf.begin() + key().prefix_len() + 16),
                      Bytes(plain.begin(), plain.begin() + 16))
                << sz;
        }
        OpenItem it;
        it.key = &key();
        it.payload = buf.data();
        it.payload_len = n;
        ASSERT_EQ(engine_->open(it), CryptoStatus::Ok) << sz;
        ASSERT_EQ(it.plaintext_len, sz);
        ASSERT_TRUE(std::equal(plain.begin(), plain.end(), it.plaintext)) << sz;
    }
}

TEST_P(SealTest, RefusesPayloadsAbove65535) {
    const uint32_t max_plain = kMaxPayloadLen - key().overhead();
    Bytes plain(max_plain + 2, 'p');
    Bytes out(plain.size() + 64);
    uint32_t n = 123;
    EXPECT_EQ(engine_->seal(key(), std::span(plain).first(max_plain + 1), out, n),
              CryptoStatus::TooLong);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(engine_->seal(key(), plain, out, n), CryptoStatus::TooLong);
    EXPECT_EQ(engine_->seal(key(), std::span(plain).first(max_plain), out, n), CryptoStatus::Ok);
    EXPECT_EQ(n, kMaxPayloadLen);

    // Same through the burst API, next to an item that fits.
    SealItem items[2];
    for (SealItem& it : items) {
        it.key = &key();
        it.plaintext = plain.data();
        it.out = out.data();
        it.out_capacity = static_cast<uint32_t>(out.size());
    }
    items[0].plaintext_len = max_plain + 1;
    items[1].plaintext_len = 10;
    engine_->seal_burst(items);
    EXPECT_EQ(items[0].status, CryptoStatus::TooLong);
    EXPECT_EQ(items[0].out_len, 0u);
    EXPECT_EQ(items[1].status, CryptoStatus::Ok);
    EXPECT_EQ(items[1].out_len, 10 + key().overhead());
}

TEST_P(SealTest, RefusesShortOutputBuffer) {
    const Bytes plain(50, 'q');
    Bytes out(50 + key().overhead());
    uint32_t n = 0;
    EXPECT_EQ(engine_->seal(key(), plain, std::span(out).first(out.size() - 1), n),
              CryptoStatus::NoSpace);
    EXPECT_EQ(engine_->seal(key(), plain, out, n), CryptoStatus::Ok);
    SealItem it;
    it.plaintext = plain.data();
    it.plaintext_len = 50;
    it.out = out.data();
    it.out_capacity = static_cast<uint32_t>(out.size());
    EXPECT_EQ(engine_->seal(it), CryptoStatus::BadArgument);  // no key
}

TEST_P(AeadSealTest, OverlappingBuffersAreRefused) {
    Bytes buf(200, 7);
    SealItem it;
    it.key = &key();
    it.plaintext = buf.data();  // plaintext == out: the nonce would overwrite it
    it.plaintext_len = 100;
    it.out = buf.data();
    it.out_capacity = 200;
    EXPECT_EQ(engine_->seal(it), CryptoStatus::BadArgument);
    it.plaintext = buf.data() + 12;  // in place: fine
    EXPECT_EQ(engine_->seal(it), CryptoStatus::Ok);

    OpenItem o;
    o.key = &key();
    o.payload = buf.data();
    o.payload_len = it.out_len;
    o.out = buf.data() + 1;  // overlaps the payload, not in place
    EXPECT_EQ(engine_->open(o), CryptoStatus::BadArgument);
    o.out = buf.data() + 12;  // == in place
    EXPECT_EQ(engine_->open(o), CryptoStatus::Ok);
    EXPECT_EQ(Bytes(buf.begin() + 12, buf.begin() + 112), Bytes(100, 7));
}

INSTANTIATE_TEST_SUITE_P(Cipher, SealTest,
                         ::testing::Values("chacha20", "aes256", "xor", "plain"),
                         [](const auto& i) { return std::string(i.param); });
INSTANTIATE_TEST_SUITE_P(Cipher, AeadSealTest, ::testing::Values("chacha20", "aes256"),
                         [](const auto& i) { return std::string(i.param); });

}  // namespace
}  // namespace rustun
