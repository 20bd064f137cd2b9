// The link frame format, the fleet key's AEAD tag and the per-sender replay window.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fleet/link_auth.hpp"
#include "fleet/link_frame.hpp"
#include "fleet/link_replay.hpp"
#include "proto/frame.hpp"

namespace rustun::fleet {
namespace {

// One Rustun Data frame of `payload` bytes (the payload's content is opaque to the link).
std::vector<uint8_t> data_frame(size_t payload) {
    std::vector<uint8_t> f(kFrameHeaderSize + payload);
    EXPECT_TRUE(encode_header(FrameType::Data, payload, std::span<uint8_t>(f.data(), kFrameHeaderSize)).ok());
    for (size_t i = 0; i < payload; ++i) f[kFrameHeaderSize + i] = static_cast<uint8_t>(i * 7 + 3);
    return f;
}

LinkHeader header(uint64_t seq = 1000) {
    LinkHeader h;
    h.sender = "gw-1";
    h.cluster = "test";
    h.identity = "client-b";
    h.salt = 0x01020304;
    h.seq = seq;
    h.dst_ip = 0x0a000103;  // 10.0.1.3
    return h;
}

class LinkAuthTest : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        auto k = LinkKey::create(GetParam());
        ASSERT_TRUE(k.ok()) << k.error();
        key_ = k.value();
        auto a = LinkAuth::create();
        ASSERT_TRUE(a.ok()) << a.error();
        auth_ = std::move(a).value();
    }
    std::vector<uint8_t> seal(const LinkHeader& h, const std::vector<uint8_t>& frame) {
        std::vector<uint8_t> out(kLinkMaxFrameSize);
        size_t n = auth_->seal(*key_, h, frame, out);
        EXPECT_GT(n, 0u);
        out.resize(n);
        return out;
    }
    std::shared_ptr<const LinkKey> key_;
    std::unique_ptr<LinkAuth> auth_;
};

TEST_P(LinkAuthTest, RoundTripKeepsTheFrameBytes) {
    for (size_t payload : {28u, 100u, 1400u, 65535u}) {
        const auto frame = data_frame(payload);
        const auto bytes = seal(header(), frame);
        EXPECT_EQ(bytes.size(), 32 + 4 + 4 + 8 + frame.size() + 16);
        LinkFrameView v;
        ASSERT_EQ(auth_->open(*key_, bytes, v), LinkCheck::Ok) << payload;
        EXPECT_EQ(v.h.sender, "gw-1");
        EXPECT_EQ(v.h.cluster, "test");
        EXPECT_EQ(v.h.identity, "client-b");
        EXPECT_EQ(v.h.seq, 1000u);
        EXPECT_EQ(v.h.salt, 0x01020304u);
        EXPECT_EQ(v.h.dst_ip, 0x0a000103u);
        ASSERT_EQ(v.h.frame_len, frame.size());
        EXPECT_EQ(std::vector<uint8_t>(v.frame, v.frame + v.h.frame_len), frame);
    }
}

TEST_P(LinkAuthTest, AnyChangedByteIsRejectedWithAReason) {
    const auto frame = data_frame(64);
    const auto good = seal(header(), frame);
    for (size_t i = 0; i < good.size(); ++i) {
        auto bad = good;
        bad[i] ^= 0x01;
        LinkFrameView v;
        const LinkCheck c = auth_->open(*key_, bad, v);
        EXPECT_NE(c, LinkCheck::Ok) << "byte " << i << " changed and accepted";
        // Every flipped bit has a reason; those the format allows are caught by the tag.
        if ((i >= 16 && i < 32) || i >= 32 + 4 + 4 + 8 + kFrameHeaderSize) {
            EXPECT_EQ(c, LinkCheck::BadTag) << i;  // salt, seq, address; names; frame payload; tag
        }
    }
    // Magic, version, reserved bytes, lengths: their own reasons.
    auto bad = good;
    bad[0] = 'X';
    LinkFrameView v;
    EXPECT_EQ(auth_->open(*key_, bad, v), LinkCheck::BadMagic);
    bad = good;
    bad[4] = 2;
    EXPECT_EQ(auth_->open(*key_, bad, v), LinkCheck::BadVersion);
    bad = good;
    bad[6] = 1;
    EXPECT_EQ(auth_->open(*key_, bad, v), LinkCheck::BadReserved);
    bad = good;
    bad.pop_back();
    EXPECT_EQ(auth_->open(*key_, bad, v), LinkCheck::Short);
    bad = good;
    bad.push_back(0);
    EXPECT_EQ(auth_->open(*key_, bad, v), LinkCheck::BadLength);
}

TEST_P(LinkAuthTest, AnotherKeyIsRejected) {
    const auto bytes = seal(header(), data_frame(64));
    auto other = LinkKey::create(std::string(GetParam()) + "-other");
    ASSERT_TRUE(other.ok());
    LinkFrameView v;
    EXPECT_EQ(auth_->open(*other.value(), bytes, v), LinkCheck::BadTag);
}

TEST_P(LinkAuthTest, IdentityOrAddressAlone) {
    auto h = header();
    h.identity = {};
    LinkFrameView v;
    EXPECT_EQ(auth_->open(*key_, seal(h, data_frame(30)), v), LinkCheck::Ok);
    EXPECT_TRUE(v.h.identity.empty());
    h = header();
    h.dst_ip = 0;
    EXPECT_EQ(auth_->open(*key_, seal(h, data_frame(30)), v), LinkCheck::Ok);
    EXPECT_EQ(v.h.dst_ip, 0u);
    h.identity = {};
    std::vector<uint8_t> out(kLinkMaxFrameSize);
    EXPECT_EQ(auth_->seal(*key_, h, data_frame(30), out), 0u) << "no destination";
}

// The dataplane's path: link headers written with an empty tag, then the burst's tags in one
// call. Every frame of the burst opens, with a distinct seq (nonce) and size each.
TEST_P(LinkAuthTest, TagBurstSealsLikeSeal) {
    std::vector<std::vector<uint8_t>> frames;
    std::vector<GmacJob> jobs;
    for (size_t i = 0; i < 37; ++i) {  // more than one batch of eight lanes, not a multiple of it
        const auto frame = data_frame(20 + 37 * i);
        auto bytes = seal(header(5000 + i), frame);
        const size_t aad = bytes.size() - kLinkTagLen;
        std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(aad), bytes.end(), 0);
        frames.push_back(std::move(bytes));
    }
    for (auto& f : frames) jobs.push_back(GmacJob{f.data() + kLinkNonceOffset, f.data(), f.size() - kLinkTagLen,
                                                  f.data() + f.size() - kLinkTagLen});
    auth_->tag_burst(*key_, jobs.data(), jobs.size());
    for (size_t i = 0; i < frames.size(); ++i) {
        LinkFrameView v;
        EXPECT_EQ(auth_->open(*key_, frames[i], v), LinkCheck::Ok) << "frame " << i;
        EXPECT_EQ(v.h.seq, 5000 + i);
    }
}

INSTANTIATE_TEST_SUITE_P(Ciphers, LinkAuthTest, ::testing::Values("aes256:fleet-secret", "chacha20:fleet-secret"));

TEST(LinkKey, OnlyAeadKeys) {
    EXPECT_FALSE(LinkKey::create("plain").ok());
    EXPECT_FALSE(LinkKey::create("xor:abc").ok());
    EXPECT_FALSE(LinkKey::create("aes256:").ok());
    EXPECT_FALSE(LinkKey::create("rot13:x").ok());
    EXPECT_TRUE(LinkKey::create("AES256:x").ok());
}

TEST(LinkFrame, RelayedBytesMustBeOneDataFrame) {
    auto k = LinkKey::create("aes256:k").value();
    auto a = LinkAuth::create().value();
    std::vector<uint8_t> out(kLinkMaxFrameSize);
    auto frame = data_frame(40);
    frame[3] = static_cast<uint8_t>(FrameType::KeepAlive);  // type byte
    size_t n = a->seal(*k, header(), frame, out);
    ASSERT_GT(n, 0u);
    LinkFrameView v;
    EXPECT_EQ(a->open(*k, std::span<const uint8_t>(out.data(), n), v), LinkCheck::BadFrame);
    frame = data_frame(40);
    frame.push_back(0);  // one byte more than the frame header says
    n = a->seal(*k, header(), frame, out);
    EXPECT_EQ(a->open(*k, std::span<const uint8_t>(out.data(), n), v), LinkCheck::BadFrame);
}

TEST(LinkFrame, NamesOutOfRangeAreNotEncoded) {
    std::vector<uint8_t> out(kLinkMaxFrameSize);
    auto h = header();
    h.frame_len = 100;
    EXPECT_TRUE(encode_link_header(h, out));
    const std::string long_name(256, 'x');
    h.cluster = long_name;
    EXPECT_FALSE(encode_link_header(h, out));
    h = header();
    h.frame_len = 100;
    h.sender = {};
    EXPECT_FALSE(encode_link_header(h, out));
    h = header();
    h.frame_len = 7;
    EXPECT_FALSE(encode_link_header(h, out));
    EXPECT_EQ(std::string(link_check_name(LinkCheck::BadTag)), "bad_tag");
}

TEST(LinkReplay, InOrderAndReplay) {
    LinkReplayWindow w;
    EXPECT_EQ(w.check_and_update(1'000'000), LinkCheck::Ok);
    EXPECT_EQ(w.check_and_update(1'000'000), LinkCheck::Replay);
    for (uint64_t s = 1'000'001; s < 1'010'000; ++s) ASSERT_EQ(w.check_and_update(s), LinkCheck::Ok) << s;
    EXPECT_EQ(w.check_and_update(1'009'999), LinkCheck::Replay);
    EXPECT_EQ(w.check_and_update(1'000'000), LinkCheck::TooOld);
}

TEST(LinkReplay, WindowEdges) {
    LinkReplayWindow w;
    const uint64_t top = 5'000'000;
    EXPECT_EQ(w.check_and_update(top), LinkCheck::Ok);
    // The oldest sequence still inside the window, and the first one outside it.
    EXPECT_EQ(w.check_and_update(top - (kLinkReplayWindow - 1)), LinkCheck::Ok);
    EXPECT_EQ(w.check_and_update(top - (kLinkReplayWindow - 1)), LinkCheck::Replay);
    EXPECT_EQ(w.check_and_update(top - kLinkReplayWindow), LinkCheck::TooOld);
    // Reordered within the window: each once.
    for (uint64_t s = top - 100; s < top; s += 3) EXPECT_EQ(w.check_and_update(s), LinkCheck::Ok) << s;
    for (uint64_t s = top - 100; s < top; s += 3) EXPECT_EQ(w.check_and_update(s), LinkCheck::Replay) << s;
    // A jump further than the whole window forgets everything below the new top.
    const uint64_t far = top + 10 * kLinkReplayWindow;
    EXPECT_EQ(w.check_and_update(far), LinkCheck::Ok);
    EXPECT_EQ(w.check_and_update(top), LinkCheck::TooOld);
    EXPECT_EQ(w.check_and_update(far - 1), LinkCheck::Ok);  // its bit was cleared by the jump
    // A jump of exactly one word: the word that comes round again is cleared.
    EXPECT_EQ(w.check_and_update(far + 64), LinkCheck::Ok);
    EXPECT_EQ(w.check_and_update(far + 63), LinkCheck::Ok);
    EXPECT_EQ(w.check_and_update(far + 64), LinkCheck::Replay);
    // Sequence 0 and the largest one.
    LinkReplayWindow z;
    EXPECT_EQ(z.check_and_update(0), LinkCheck::Ok);
    EXPECT_EQ(z.check_and_update(0), LinkCheck::Replay);
    EXPECT_EQ(z.check_and_update(UINT64_MAX), LinkCheck::Ok);
    EXPECT_EQ(z.check_and_update(UINT64_MAX), LinkCheck::Replay);
}

}  // namespace
}  // namespace rustun::fleet
