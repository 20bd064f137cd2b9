// The burst API: mixed keys and methods in one burst, failing items next to good ones, burst
// sizes around the chunk boundaries, payload sizes 0..1500, in-place re-sealing.
#include <gtest/gtest.h>

#include <cstring>

#include "crypto_test_util.hpp"

namespace rustun {
namespace {

using test::Bytes;
using test::FrameVector;
using test::vector_file;
using test::vector_key;

const char* const kCiphers[] = {"chacha20", "aes256", "xor", "plain"};

// One prepared burst: buffers own the bytes, items point into them.
struct OpenBurst {
    std::vector<Bytes> bufs;
    std::vector<OpenItem> items;
    std::vector<CryptoStatus> want_status;
    std::vector<Bytes> want_plain;

    void add(const CipherKey& k, Bytes payload, CryptoStatus want, Bytes plain = {}) {
        bufs.push_back(std::move(payload));
        want_status.push_back(want);
        want_plain.push_back(std::move(plain));
        OpenItem it;
        it.key = &k;
        items.push_back(it);
    }
    // Pointers are fixed up once all buffers exist (vector growth moves them).
    std::span<OpenItem> finish() {
        for (size_t i = 0; i < items.size(); ++i) {
            items[i].payload = bufs[i].data();
            items[i].payload_len = static_cast<uint32_t>(bufs[i].size());
        }
        return items;
    }
    void check() const {
        for (size_t i = 0; i < items.size(); ++i) {
            SCOPED_TRACE("item " + std::to_string(i));
            const OpenItem& it = items[i];
            ASSERT_EQ(it.status, want_status[i]) << crypto_status_name(it.status);
            if (want_status[i] != CryptoStatus::Ok) {
                EXPECT_EQ(it.plaintext_len, 0u);
                continue;
            }
            EXPECT_EQ(it.plaintext, bufs[i].data() + it.key->prefix_len());
            ASSERT_EQ(it.plaintext_len, want_plain[i].size());
            EXPECT_EQ(Bytes(it.plaintext, it.plaintext + it.plaintext_len), want_plain[i]);
        }
    }
};

// Payload (byte 8 onwards) of a negative frame vector.
Bytes negative_payload(const std::string& id) {
    const Bytes& f = vector_file().negative_by_id(id).frame;
    return Bytes(f.begin() + 8, f.end());
}

class BurstTest : public ::testing::TestWithParam<bool> {  // param: validate_jobs
protected:
    void SetUp() override { engine_ = test::make_engine(GetParam()); }
    std::unique_ptr<CryptoEngine> engine_;
};

TEST_P(BurstTest, AllVectorsInOneMixedBurstWithFailures) {
    const CipherKey& chacha = vector_key("chacha20");
    OpenBurst b;
    const auto& vs = vector_file().vectors;
    for (size_t i = 0; i < vs.size(); ++i) {
        b.add(vector_key(vs[i].cipher), vs[i].payload, CryptoStatus::Ok, vs[i].plaintext);
        // Interleave the three failing AEAD payloads of the negative vectors.
        if (i == 3) b.add(chacha, negative_payload("negative/tampered_tag"), CryptoStatus::AuthFailed);
        if (i == 20) {
            b.add(chacha, negative_payload("negative/tampered_ciphertext"),
                  CryptoStatus::AuthFailed);
        }
        if (i == 40) {
            b.add(chacha, negative_payload("negative/aead_payload_shorter_than_28"),
                  CryptoStatus::TooShort);
        }
    }
    // The untampered baseline of the same frames opens.
    b.add(chacha, negative_payload("negative/valid_baseline_keepalive_dbde974"), CryptoStatus::Ok,
          {});
    auto items = b.finish();
    ASSERT_EQ(items.size(), 56u);
    engine_->open_burst(items);
    b.want_plain.back() = Bytes(items.back().plaintext,
                                items.back().plaintext + items.back().plaintext_len);
    b.check();
    EXPECT_EQ(b.want_plain.back().front(), '{');  // KeepAlive JSON
}

TEST_P(BurstTest, NegativeVectorsAlone) {
    const CipherKey& chacha = vector_key("chacha20");
    for (const char* id : {"negative/tampered_tag", "negative/tampered_ciphertext",
                           "negative/aead_payload_shorter_than_28"}) {
        SCOPED_TRACE(id);
        Bytes p = negative_payload(id);
        OpenItem it;
        it.key = &chacha;
        it.payload = p.data();
        it.payload_len = static_cast<uint32_t>(p.size());
        engine_->open_burst(std::span<OpenItem>(&it, 1));
        EXPECT_NE(it.status, CryptoStatus::Ok);
        EXPECT_EQ(engine_->open(it), p.size() < 28 ? CryptoStatus::TooShort
                                                   : CryptoStatus::AuthFailed);
    }
}

TEST_P(BurstTest, AuthFailureZeroesThePlaintextRegion) {
    for (const char* cipher : {"chacha20", "aes256"}) {
        const FrameVector* v = nullptr;
        for (const auto& x : vector_file().vectors) {
            if (x.cipher == cipher && x.plaintext.size() > 32) v = &x;
        }
        ASSERT_NE(v, nullptr);
        Bytes buf = v->payload;
        buf.back() ^= 1;  // tag
        OpenItem it;
        it.key = &vector_key(cipher);
        it.payload = buf.data();
        it.payload_len = static_cast<uint32_t>(buf.size());
        engine_->open_burst(std::span<OpenItem>(&it, 1));
        ASSERT_EQ(it.status, CryptoStatus::AuthFailed);
        EXPECT_EQ(it.plaintext, nullptr);
        EXPECT_EQ(Bytes(buf.begin(), buf.begin() + 12), v->nonce);
        EXPECT_EQ(Bytes(buf.begin() + 12, buf.end() - 16), Bytes(v->plaintext.size(), 0));
    }
}

TEST_P(BurstTest, BurstSizesAroundChunkBoundaries) {
    std::mt19937_64 rng(7);
    const auto& vs = vector_file().vectors;
    for (size_t n : {1u, 31u, 32u, 33u, 63u, 64u, 65u, 128u, 130u}) {
        SCOPED_TRACE("burst of " + std::to_string(n));
        OpenBurst b;
        for (size_t i = 0; i < n; ++i) {
            const auto& v = vs[rng() % vs.size()];
            const CipherKey& k = vector_key(v.cipher);
            Bytes p = v.payload;
            const unsigned fault = k.is_aead() ? static_cast<unsigned>(rng() % 5) : 0;
            if (fault == 1) {
                p[12 + rng() % (p.size() - 12)] ^= static_cast<uint8_t>(1 + rng() % 255);
                b.add(k, p, CryptoStatus::AuthFailed);
            } else if (fault == 2) {
                p.resize(rng() % 28);
                b.add(k, p, CryptoStatus::TooShort);
            } else {
                b.add(k, p, CryptoStatus::Ok, v.plaintext);
            }
        }
        engine_->open_burst(b.finish());
        b.check();
    }
}

TEST_P(BurstTest, AllSizesMixedMethodsSealThenOpen) {
    std::mt19937_64 rng(11);
    constexpr size_t kMaxSize = 1500;
    std::vector<Bytes> plain, out;
    std::vector<SealItem> seal(kMaxSize + 1);
    for (size_t sz = 0; sz <= kMaxSize; ++sz) {
        plain.push_back(test::random_bytes(rng, sz));
        out.emplace_back(sz + 28 + 5, 0);
    }
    for (size_t sz = 0; sz <= kMaxSize; ++sz) {
        SealItem& it = seal[sz];
        it.key = &vector_key(kCiphers[sz % 4]);
        it.plaintext = plain[sz].data();
        it.plaintext_len = static_cast<uint32_t>(sz);
        it.out = out[sz].data();
        it.out_capacity = static_cast<uint32_t>(out[sz].size());
    }
    engine_->seal_burst(seal);  // 1501 items: 24 chunks of up to 64

    std::vector<OpenItem> open(kMaxSize + 1);
    for (size_t sz = 0; sz <= kMaxSize; ++sz) {
        ASSERT_EQ(seal[sz].status, CryptoStatus::Ok) << sz;
        ASSERT_EQ(seal[sz].out_len, sz + seal[sz].key->overhead());
        open[sz].key = seal[sz].key;
        open[sz].payload = out[sz].data();
        open[sz].payload_len = seal[sz].out_len;
    }
    engine_->open_burst(open);
    for (size_t sz = 0; sz <= kMaxSize; ++sz) {
        ASSERT_EQ(open[sz].status, CryptoStatus::Ok) << sz << " " << kCiphers[sz % 4];
        ASSERT_EQ(Bytes(open[sz].plaintext, open[sz].plaintext + open[sz].plaintext_len),
                  plain[sz])
            << sz;
    }
}

TEST_P(BurstTest, SealBurstWithFixedNoncesMatchesVectors) {
    const auto& vs = vector_file().vectors;
    std::vector<Bytes> out(vs.size());
    std::vector<SealItem> items(vs.size());
    for (size_t i = 0; i < vs.size(); ++i) {
        out[i].assign(vs[i].payload.size(), 0);
        items[i].key = &vector_key(vs[i].cipher);
        items[i].plaintext = vs[i].plaintext.data();
        items[i].plaintext_len = static_cast<uint32_t>(vs[i].plaintext.size());
        items[i].out = out[i].data();
        items[i].out_capacity = static_cast<uint32_t>(out[i].size());
        items[i].nonce = vs[i].has_nonce ? vs[i].nonce.data() : nullptr;
    }
    engine_->seal_burst(items);
    for (size_t i = 0; i < vs.size(); ++i) {
        ASSERT_EQ(items[i].status, CryptoStatus::Ok) << vs[i].id;
        EXPECT_EQ(test::hex_string(out[i]), test::hex_string(vs[i].payload)) << vs[i].id;
    }
}

TEST_P(BurstTest, RelayReencryptsInPlaceUnderAnotherKey) {
    // Open with the sender's key, re-seal where the plaintext lies with the receiver's key
    // (payload buffer sized for the larger overhead), open again.
    const auto& vs = vector_file().vectors;
    std::vector<Bytes> bufs;
    std::vector<OpenItem> open;
    for (const auto& v : vs) {
        Bytes b(v.plaintext.size() + 28, 0);
        std::memcpy(b.data(), v.payload.data(), v.payload.size());
        bufs.push_back(std::move(b));
    }
    for (size_t i = 0; i < vs.size(); ++i) {
        OpenItem it;
        it.key = &vector_key(vs[i].cipher);
        it.payload = bufs[i].data();
        it.payload_len = static_cast<uint32_t>(vs[i].payload.size());
        open.push_back(it);
    }
    engine_->open_burst(open);
    std::vector<SealItem> seal(vs.size());
    for (size_t i = 0; i < vs.size(); ++i) {
        ASSERT_EQ(open[i].status, CryptoStatus::Ok);
        const CipherKey& dst_key = vector_key(kCiphers[(i + 1) % 4]);
        // In place requires plaintext == out + prefix_len: move it if the prefixes differ.
        uint8_t* out = open[i].plaintext - dst_key.prefix_len();
        if (out < bufs[i].data()) {
            std::memmove(bufs[i].data() + dst_key.prefix_len(), open[i].plaintext,
                         open[i].plaintext_len);
            out = bufs[i].data();
        }
        seal[i].key = &dst_key;
        seal[i].plaintext = out + dst_key.prefix_len();
        seal[i].plaintext_len = open[i].plaintext_len;
        seal[i].out = out;
        seal[i].out_capacity = static_cast<uint32_t>(bufs[i].data() + bufs[i].size() - out);
    }
    engine_->seal_burst(seal);
    for (size_t i = 0; i < vs.size(); ++i) {
        ASSERT_EQ(seal[i].status, CryptoStatus::Ok) << i;
        open[i].key = seal[i].key;
        open[i].payload = seal[i].out;
        open[i].payload_len = seal[i].out_len;
    }
    engine_->open_burst(open);
    for (size_t i = 0; i < vs.size(); ++i) {
        ASSERT_EQ(open[i].status, CryptoStatus::Ok) << i;
        EXPECT_EQ(Bytes(open[i].plaintext, open[i].plaintext + open[i].plaintext_len),
                  vs[i].plaintext);
    }
}

TEST_P(BurstTest, BadArgumentsDoNotDisturbNeighbours) {
    const auto& v = vector_file().vectors[0];
    OpenBurst b;
    b.add(vector_key(v.cipher), v.payload, CryptoStatus::Ok, v.plaintext);
    b.add(vector_key(v.cipher), v.payload, CryptoStatus::BadArgument);
    b.add(vector_key(v.cipher), v.payload, CryptoStatus::Ok, v.plaintext);
    auto items = b.finish();
    items[1].key = nullptr;
    engine_->open_burst(items);
    b.check();

    OpenItem null_payload;
    null_payload.key = &vector_key("plain");
    null_payload.payload_len = 5;
    EXPECT_EQ(engine_->open(null_payload), CryptoStatus::BadArgument);
    OpenItem empty_plain;  // zero-length plain payload without a buffer is fine
    empty_plain.key = &vector_key("plain");
    EXPECT_EQ(engine_->open(empty_plain), CryptoStatus::Ok);
    engine_->open_burst(std::span<OpenItem>());  // empty burst: no-op
}

TEST_P(BurstTest, OutOfPlaceBurst) {
    const auto& vs = vector_file().vectors;
    std::vector<Bytes> payloads, outs;
    std::vector<OpenItem> items(vs.size());
    for (const auto& v : vs) {
        payloads.push_back(v.payload);
        outs.emplace_back(v.plaintext.size(), 0);
    }
    for (size_t i = 0; i < vs.size(); ++i) {
        items[i].key = &vector_key(vs[i].cipher);
        items[i].payload = payloads[i].data();
        items[i].payload_len = static_cast<uint32_t>(payloads[i].size());
        items[i].out = outs[i].data();
    }
    engine_->open_burst(items);
    for (size_t i = 0; i < vs.size(); ++i) {
        ASSERT_EQ(items[i].status, CryptoStatus::Ok);
        EXPECT_EQ(items[i].plaintext, outs[i].data());
        EXPECT_EQ(outs[i], vs[i].plaintext);
        EXPECT_EQ(payloads[i], vs[i].payload);
    }
}

INSTANTIATE_TEST_SUITE_P(Engine, BurstTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                             return std::string(i.param ? "CheckedJobs" : "UncheckedJobs");
                         });

}  // namespace
}  // namespace rustun
