// TCP reassembler: splitting at every byte boundary, bulk feeds, size bounds, sticky errors,
// and the framing-level negative vectors of vectors.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "proto/frame.hpp"
#include "proto/reassembler.hpp"
#include "vectors.hpp"

namespace rustun {
namespace {

struct Got {
    ReadStatus status;
    uint8_t type;
    std::vector<uint8_t> payload;
    bool operator==(const Got&) const = default;
};

std::vector<uint8_t> make_frame(uint8_t type, size_t payload_len, uint8_t fill_seed) {
    std::vector<uint8_t> f(kFrameHeaderSize + payload_len);
    EXPECT_TRUE(encode_header(static_cast<FrameType>(type), payload_len, f).ok());
    for (size_t i = 0; i < payload_len; ++i) {
        f[kFrameHeaderSize + i] = static_cast<uint8_t>(fill_seed + i * 7);
    }
    return f;
}

// Reads results until NeedMore (or a sticky error, recorded once).
void drain(Reassembler& r, std::vector<Got>& out) {
    for (;;) {
        const ReadResult res = r.next();
        if (res.status == ReadStatus::NeedMore) return;
        out.push_back({res.status, res.type, {res.payload.begin(), res.payload.end()}});
        if (r.failed()) return;
    }
}

// Feeds all of data through feed(), draining whenever the buffer is full.
void feed_all(Reassembler& r, const uint8_t* data, size_t len, std::vector<Got>& out) {
    while (len > 0) {
        const size_t n = r.feed(data, len);
        data += n;
        len -= n;
        drain(r, out);
        if (r.failed()) return;
        ASSERT_TRUE(n > 0 || len == 0) << "feed made no progress after draining";
    }
    drain(r, out);
}

// Several different frames: every vector frame of the plain and xor ciphers, an empty payload,
// an unknown type (skipped) and a mid-size Data frame.
struct Stream {
    std::vector<uint8_t> bytes;
    std::vector<Got> expected;

    void add(const std::vector<uint8_t>& frame) {
        bytes.insert(bytes.end(), frame.begin(), frame.end());
        FrameHeader h;
        EXPECT_EQ(decode_header(frame, h), HeaderStatus::Ok);
        if (is_known_type(h.type)) {
            expected.push_back({ReadStatus::Frame, h.type, {frame.begin() + 8, frame.end()}});
        } else {
            expected.push_back({ReadStatus::UnknownType, h.type, {}});
        }
    }
};

Stream mixed_stream() {
    Stream s;
    for (const auto& v : test::vectors()["vectors"].GetArray()) {
        const std::string cipher = test::str(v, "cipher");
        if (cipher == "plain" || cipher == "xor") s.add(test::hex_bytes(v, "frame_hex"));
    }
    s.add(make_frame(2, 0, 0));
    s.add(make_frame(200, 17, 3));
    s.add(make_frame(3, 1500, 9));
    s.add(make_frame(0, 0, 0));
    s.add(make_frame(1, 1, 1));
    return s;
}

TEST(Reassembler, SplitAtEveryByteBoundary) {
    const Stream s = mixed_stream();
    ASSERT_GT(s.expected.size(), 20u);
    Reassembler r;
    for (size_t cut = 0; cut <= s.bytes.size(); ++cut) {
        r.reset();
        std::vector<Got> got;
        feed_all(r, s.bytes.data(), cut, got);
        feed_all(r, s.bytes.data() + cut, s.bytes.size() - cut, got);
        ASSERT_EQ(got, s.expected) << "cut at " << cut;
        ASSERT_EQ(r.buffered(), 0u);
    }
}

TEST(Reassembler, ByteByByte) {
    const Stream s = mixed_stream();
    Reassembler r;
    std::vector<Got> got;
    for (uint8_t b : s.bytes) {
        ASSERT_EQ(r.feed(&b, 1), 1u);
        drain(r, got);
    }
    EXPECT_EQ(got, s.expected);
    EXPECT_EQ(r.buffered(), 0u);
}

TEST(Reassembler, ManyFramesInOneFeed) {
    const Stream s = mixed_stream();
    ASSERT_LT(s.bytes.size(), kMaxFrameSize);
    Reassembler r;
    ASSERT_EQ(r.feed(s.bytes.data(), s.bytes.size()), s.bytes.size());
    std::vector<Got> got;
    drain(r, got);
    EXPECT_EQ(got, s.expected);
}

// The stream is larger than the buffer, so the buffer wraps and compacts; chunks of random size
// are written straight into write_area().
TEST(Reassembler, WriteAreaWithCompaction) {
    Stream s;
    std::mt19937 rng(12345);
    for (int i = 0; i < 400; ++i) {
        s.add(make_frame(static_cast<uint8_t>(1 + i % 7), rng() % 301, static_cast<uint8_t>(i)));
    }
    for (size_t bound : {size_t{300}, size_t{1000}, kMaxPayloadSize}) {
        SCOPED_TRACE(bound);
        Reassembler r(bound);
        std::vector<Got> got;
        size_t pos = 0;
        while (pos < s.bytes.size()) {
            const std::span<uint8_t> area = r.write_area();
            ASSERT_FALSE(area.empty());
            const size_t n = std::min({area.size(), s.bytes.size() - pos, size_t{1} + rng() % 700});
            std::memcpy(area.data(), s.bytes.data() + pos, n);
            r.commit(n);
            pos += n;
            drain(r, got);
        }
        EXPECT_EQ(got, s.expected);
        EXPECT_EQ(r.buffered(), 0u);
    }
}

TEST(Reassembler, MaxSizeFrameAccepted) {
    const std::vector<uint8_t> f = make_frame(3, kMaxPayloadSize, 5);
    ASSERT_EQ(f.size(), kMaxFrameSize);
    Reassembler r;
    // Preceded by a small frame so that the big one must be compacted to the buffer start.
    const std::vector<uint8_t> small = make_frame(2, 10, 1);
    std::vector<Got> got;
    feed_all(r, small.data(), small.size(), got);
    feed_all(r, f.data(), f.size(), got);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].status, ReadStatus::Frame);
    EXPECT_EQ(got[1].payload.size(), kMaxPayloadSize);
    EXPECT_TRUE(std::equal(got[1].payload.begin(), got[1].payload.end(), f.begin() + 8));
}

TEST(Reassembler, LengthAboveConfiguredBoundRefused) {
    Reassembler r(1000);
    EXPECT_EQ(r.max_payload(), 1000u);
    const std::vector<uint8_t> ok = make_frame(3, 1000, 0);
    std::vector<Got> got;
    feed_all(r, ok.data(), ok.size(), got);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].status, ReadStatus::Frame);

    const std::vector<uint8_t> big = make_frame(3, 1001, 0);
    ASSERT_EQ(r.feed(big.data(), 8), 8u);  // refused from the header alone
    const ReadResult res = r.next();
    EXPECT_EQ(res.status, ReadStatus::LengthRefused);
    EXPECT_EQ(res.payload_length, 1001);
    EXPECT_EQ(res.type, 3);
    // Sticky: no more input taken, same verdict again.
    EXPECT_TRUE(r.failed());
    EXPECT_EQ(r.next().status, ReadStatus::LengthRefused);
    EXPECT_TRUE(r.write_area().empty());
    EXPECT_EQ(r.feed(big.data() + 8, 10), 0u);
    // reset() makes the object usable for a new connection.
    r.reset();
    got.clear();
    feed_all(r, ok.data(), ok.size(), got);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].status, ReadStatus::Frame);
}

TEST(Reassembler, BoundAboveMaximumIsClamped) {
    Reassembler r(1u << 20);
    EXPECT_EQ(r.max_payload(), kMaxPayloadSize);
}

TEST(Reassembler, HeaderJudgedOnceComplete) {
    Reassembler r;
    const uint8_t b[8] = {0x00, 0x92, 0x93, 0x94, 0x01, 0x01, 0x00, 0x00};
    ASSERT_EQ(r.feed(b, 7), 7u);
    EXPECT_EQ(r.next().status, ReadStatus::NeedMore);
    ASSERT_EQ(r.feed(b + 7, 1), 1u);
    EXPECT_EQ(r.next().status, ReadStatus::BadMagic);
}

TEST(Reassembler, MovedFromIsInert) {
    Reassembler a;
    const std::vector<uint8_t> f = make_frame(1, 3, 0);
    ASSERT_EQ(a.feed(f.data(), 4), 4u);
    Reassembler b(std::move(a));
    EXPECT_EQ(b.feed(f.data() + 4, f.size() - 4), f.size() - 4);
    EXPECT_EQ(b.next().status, ReadStatus::Frame);
    EXPECT_TRUE(a.write_area().empty());  // NOLINT(bugprone-use-after-move): documented state
    EXPECT_EQ(a.next().status, ReadStatus::NeedMore);
}

// ---- negative vectors at the framing level ----

ReadResult first_result(Reassembler& r, const std::vector<uint8_t>& bytes) {
    EXPECT_EQ(r.feed(bytes.data(), bytes.size()), bytes.size());
    return r.next();
}

std::vector<uint8_t> negative_frame(const char* id) {
    return test::hex_bytes(test::by_id("negative", id), "frame_hex");
}

TEST(ReassemblerNegative, BadMagic) {
    Reassembler r;
    EXPECT_EQ(first_result(r, negative_frame("negative/bad_magic")).status, ReadStatus::BadMagic);
    EXPECT_EQ(r.next().status, ReadStatus::BadMagic);  // sticky
    EXPECT_TRUE(r.write_area().empty());
}

TEST(ReassemblerNegative, BadVersion) {
    Reassembler r;
    EXPECT_EQ(first_result(r, negative_frame("negative/bad_version")).status,
              ReadStatus::BadVersion);
    EXPECT_EQ(r.next().status, ReadStatus::BadVersion);  // sticky
}

TEST(ReassemblerNegative, UnknownTypeSkippedAndStreamContinues) {
    std::vector<uint8_t> bytes = negative_frame("negative/unknown_type_8");
    const std::vector<uint8_t> valid = negative_frame("negative/valid_baseline_keepalive_dbde974");
    bytes.insert(bytes.end(), valid.begin(), valid.end());
    Reassembler r;
    const ReadResult skipped = first_result(r, bytes);
    EXPECT_EQ(skipped.status, ReadStatus::UnknownType);
    EXPECT_EQ(skipped.type, 8);
    EXPECT_EQ(skipped.payload_length, 0x55);
    EXPECT_TRUE(skipped.payload.empty());
    const ReadResult next = r.next();
    ASSERT_EQ(next.status, ReadStatus::Frame);
    EXPECT_EQ(next.frame_type(), FrameType::KeepAlive);
    EXPECT_TRUE(std::equal(next.payload.begin(), next.payload.end(), valid.begin() + 8,
                           valid.end()));
    EXPECT_EQ(r.next().status, ReadStatus::NeedMore);
}

TEST(ReassemblerNegative, UnknownTypeWaitsForWholeFrame) {
    const std::vector<uint8_t> bytes = negative_frame("negative/unknown_type_8");
    Reassembler r;
    ASSERT_EQ(r.feed(bytes.data(), bytes.size() - 1), bytes.size() - 1);
    EXPECT_EQ(r.next().status, ReadStatus::NeedMore);
    ASSERT_EQ(r.feed(bytes.data() + bytes.size() - 1, 1), 1u);
    EXPECT_EQ(r.next().status, ReadStatus::UnknownType);
    EXPECT_EQ(r.buffered(), 0u);
}

TEST(ReassemblerNegative, TruncatedHeaderNeedsMore) {
    Reassembler r;
    const std::vector<uint8_t> bytes = negative_frame("negative/truncated_header_7_bytes");
    ASSERT_EQ(bytes.size(), 7u);
    EXPECT_EQ(first_result(r, bytes).status, ReadStatus::NeedMore);
    EXPECT_FALSE(r.failed());
}

TEST(ReassemblerNegative, TruncatedPayloadNeedsMore) {
    Reassembler r;
    EXPECT_EQ(first_result(r, negative_frame("negative/truncated_payload")).status,
              ReadStatus::NeedMore);
    EXPECT_FALSE(r.failed());
}

TEST(ReassemblerNegative, TrailingBytesRemainBuffered) {
    Reassembler r;
    const std::vector<uint8_t> bytes = negative_frame("negative/udp_trailing_bytes");
    const ReadResult first = first_result(r, bytes);
    ASSERT_EQ(first.status, ReadStatus::Frame);
    EXPECT_EQ(first.frame_type(), FrameType::KeepAlive);
    EXPECT_EQ(first.payload.size(), 0x55u);
    EXPECT_EQ(r.next().status, ReadStatus::NeedMore);
    EXPECT_EQ(r.buffered(), 2u);
}

// Framing accepts these; decryption / dialect policy judge them later.
TEST(ReassemblerNegative, FramingLevelAccepts) {
    const std::pair<const char*, FrameType> cases[] = {
        {"negative/type5_on_HEAD", FrameType::PeerUpdate},
        {"negative/retyped_keepalive_as_handshake", FrameType::Handshake},
        {"negative/tampered_tag", FrameType::KeepAlive},
        {"negative/tampered_ciphertext", FrameType::KeepAlive},
        {"negative/aead_payload_shorter_than_28", FrameType::KeepAlive},
        {"negative/HEAD_handshake_to_dbde974_parser", FrameType::Handshake},
    };
    for (const auto& [id, type] : cases) {
        SCOPED_TRACE(id);
        Reassembler r;
        const ReadResult res = first_result(r, negative_frame(id));
        ASSERT_EQ(res.status, ReadStatus::Frame);
        EXPECT_EQ(res.frame_type(), type);
        EXPECT_EQ(r.next().status, ReadStatus::NeedMore);
    }
}

}  // namespace
}  // namespace rustun
