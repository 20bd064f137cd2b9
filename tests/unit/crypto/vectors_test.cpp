// Every frame vector of vectors.json through the single-item API: open(payload) == plaintext,
// seal(plaintext, fixed nonce) == payload, header + payload == frame.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "crypto_test_util.hpp"

namespace rustun {
namespace {

using test::Bytes;
using test::FrameVector;
using test::vector_file;

class FrameVectorTest : public ::testing::TestWithParam<size_t> {
protected:
    const FrameVector& v() const { return vector_file().vectors[GetParam()]; }
    const CipherKey& key() const { return test::vector_key(v().cipher); }

    static void SetUpTestSuite() {
        engine_ = test::make_engine(false).release();
        checked_engine_ = test::make_engine(true).release();
    }
    static void TearDownTestSuite() {
        delete engine_;
        delete checked_engine_;
    }
    static CryptoEngine* engine_;
    static CryptoEngine* checked_engine_;  // IPsec-MB validates every job we build
};
CryptoEngine* FrameVectorTest::engine_ = nullptr;
CryptoEngine* FrameVectorTest::checked_engine_ = nullptr;

TEST_P(FrameVectorTest, KeyMatchesVector) {
    EXPECT_EQ(key().spec().key, v().key_string);
    EXPECT_STREQ(cipher_method_name(key().method()), v().cipher.c_str());
    EXPECT_EQ(v().has_nonce, key().is_aead());
    EXPECT_EQ(v().payload.size(), v().plaintext.size() + key().overhead());
}

TEST_P(FrameVectorTest, OpenInPlace) {
    for (CryptoEngine* e : {engine_, checked_engine_}) {
        Bytes buf = v().payload;
        OpenItem it;
        it.key = &key();
        it.payload = buf.data();
        it.payload_len = static_cast<uint32_t>(buf.size());
        ASSERT_EQ(e->open(it), CryptoStatus::Ok);
        EXPECT_EQ(it.status, CryptoStatus::Ok);
        EXPECT_EQ(it.plaintext, buf.data() + key().prefix_len());
        ASSERT_EQ(it.plaintext_len, v().plaintext.size());
        EXPECT_EQ(Bytes(it.plaintext, it.plaintext + it.plaintext_len), v().plaintext);
    }
}

TEST_P(FrameVectorTest, OpenOutOfPlaceLeavesPayload) {
    Bytes buf = v().payload;
    Bytes out(v().plaintext.size() + 1, 0xee);
    OpenItem it;
    it.key = &key();
    it.payload = buf.data();
    it.payload_len = static_cast<uint32_t>(buf.size());
    it.out = out.data();
    ASSERT_EQ(engine_->open(it), CryptoStatus::Ok);
    EXPECT_EQ(it.plaintext, out.data());
    EXPECT_EQ(Bytes(out.begin(), out.end() - 1), v().plaintext);
    EXPECT_EQ(out.back(), 0xee);
    EXPECT_EQ(buf, v().payload);
}

TEST_P(FrameVectorTest, SealWithFixedNonce) {
    const uint8_t* nonce = v().has_nonce ? v().nonce.data() : nullptr;
    for (CryptoEngine* e : {engine_, checked_engine_}) {
        Bytes out(v().payload.size() + 7, 0);
        uint32_t out_len = 0;
        ASSERT_EQ(e->seal(key(), v().plaintext, out, out_len, nonce), CryptoStatus::Ok);
        ASSERT_EQ(out_len, v().payload.size());
        out.resize(out_len);
        EXPECT_EQ(test::hex_string(out), test::hex_string(v().payload));
    }
}

TEST_P(FrameVectorTest, SealInPlace) {
    // The plaintext sits where an opened payload leaves it: at out + prefix_len.
    Bytes buf(v().payload.size(), 0);
    std::memcpy(buf.data() + key().prefix_len(), v().plaintext.data(), v().plaintext.size());
    SealItem it;
    it.key = &key();
    it.plaintext = buf.data() + key().prefix_len();
    it.plaintext_len = static_cast<uint32_t>(v().plaintext.size());
    it.out = buf.data();
    it.out_capacity = static_cast<uint32_t>(buf.size());
    it.nonce = v().has_nonce ? v().nonce.data() : nullptr;
    ASSERT_EQ(engine_->seal(it), CryptoStatus::Ok);
    EXPECT_EQ(it.out_len, buf.size());
    EXPECT_EQ(buf, v().payload);
}

TEST_P(FrameVectorTest, FullFrame) {
    const Bytes header = test::frame_header(static_cast<uint8_t>(v().frame_type),
                                            static_cast<uint32_t>(v().payload.size()));
    EXPECT_EQ(header, v().header);
    Bytes out(v().payload.size());
    uint32_t out_len = 0;
    ASSERT_EQ(engine_->seal(key(), v().plaintext, out, out_len,
                            v().has_nonce ? v().nonce.data() : nullptr),
              CryptoStatus::Ok);
    Bytes frame(header.size() + out_len);
    std::copy(header.begin(), header.end(), frame.begin());
    std::copy(out.begin(), out.begin() + out_len, frame.begin() + 8);
    EXPECT_EQ(test::hex_string(frame), test::hex_string(v().frame));

    // And back: the payload starts at byte 8 of the frame.
    OpenItem it;
    it.key = &key();
    it.payload = frame.data() + 8;
    it.payload_len = static_cast<uint32_t>(frame.size() - 8);
    ASSERT_EQ(engine_->open(it), CryptoStatus::Ok);
    EXPECT_EQ(Bytes(it.plaintext, it.plaintext + it.plaintext_len), v().plaintext);
}

std::string vector_name(const ::testing::TestParamInfo<size_t>& info) {
    std::string s = vector_file().vectors[info.param].id;
    for (char& c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return s;
}

std::vector<size_t> all_vectors() {
    std::vector<size_t> idx(vector_file().vectors.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    return idx;
}

INSTANTIATE_TEST_SUITE_P(Wire, FrameVectorTest, ::testing::ValuesIn(all_vectors()), vector_name);

TEST(FrameVectorFile, Has52Vectors) {
    EXPECT_EQ(vector_file().vectors.size(), 52u);
    size_t aead = 0;
    for (const auto& v : vector_file().vectors) aead += v.has_nonce;
    EXPECT_EQ(aead, 26u);
}

}  // namespace
}  // namespace rustun
