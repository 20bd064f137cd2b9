// dataplane-reframe: reframe() (dataplane/burst.hpp) moves a one-segment mbuf's data window onto
// the UDP payload plus room for new outer headers (and, for the fleet link, a header between
// them), on the mbuf's first cache line only, and refuses (leaving the mbuf as it was) when the
// headroom or the tailroom is too small. No EAL: the mbuf is a plain struct over a local buffer.
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "burst.hpp"

namespace rustun::dp {
namespace {

constexpr uint16_t kHeadroom = 128;
constexpr uint16_t kBufLen = 2048;

// rte_mbuf ends in a zero-size array: held by pointer (a member of that type is not ISO C++).
struct FreeMbuf {
    void operator()(rte_mbuf* p) const { std::free(p); }
};

struct TestMbuf {
    std::array<uint8_t, kBufLen> buf{};
    std::unique_ptr<rte_mbuf, FreeMbuf> owner{static_cast<rte_mbuf*>(std::aligned_alloc(64, sizeof(rte_mbuf)))};
    rte_mbuf& m = *owner;
    // A received packet: `udp_off` bytes of headers, then `payload` bytes, then `trailer` more.
    TestMbuf(uint16_t data_off, uint16_t udp_off, uint16_t payload, uint16_t trailer) {
        std::memset(&m, 0, sizeof m);
        m.buf_addr = buf.data();
        m.buf_len = kBufLen;
        m.data_off = data_off;
        m.nb_segs = 1;
        m.data_len = static_cast<uint16_t>(udp_off + payload + trailer);
        m.pkt_len = m.data_len;
        for (uint16_t i = 0; i < m.data_len; ++i) buf[data_off + i] = static_cast<uint8_t>(i * 7 + 1);
    }
};

TEST(Reframe, Ipv4KeepsThePayloadBytesAndDropsTheTrailer) {
    TestMbuf t(kHeadroom, 42, 100, 10);
    const std::array<uint8_t, kBufLen> before = t.buf;
    uint8_t* h = reframe(&t.m, 42, 100, 4);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h, rte_pktmbuf_mtod(&t.m, uint8_t*));
    EXPECT_EQ(t.m.data_off, kHeadroom + 42 - outer_header_len(4));
    EXPECT_EQ(t.m.data_len, outer_header_len(4) + 100);
    EXPECT_EQ(t.m.pkt_len, outer_header_len(4) + 100u);
    EXPECT_EQ(std::memcmp(h + outer_header_len(4), before.data() + kHeadroom + 42, 100), 0);
    EXPECT_EQ(t.m.l2_len, kEthLen);
    EXPECT_EQ(t.m.l3_len, kIpv4Len);
    EXPECT_EQ(t.m.nb_segs, 1);
}

TEST(Reframe, Ipv6TakesMoreHeadroom) {
    TestMbuf t(kHeadroom, 42, 64, 0);
    uint8_t* h = reframe(&t.m, 42, 64, 6);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(outer_header_len(6), 62u);
    EXPECT_EQ(t.m.data_off, kHeadroom + 42 - 62);
    EXPECT_EQ(t.m.data_len, 62 + 64);
    EXPECT_EQ(t.m.l3_len, kIpv6Len);
}

TEST(Reframe, GrowsIntoTheTailroom) {  // a STUN reply longer than its request
    TestMbuf t(kHeadroom, 42, 20, 0);
    uint8_t* h = reframe(&t.m, 42, 80, 4);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(t.m.data_len, outer_header_len(4) + 80);
    EXPECT_EQ(t.m.pkt_len, outer_header_len(4) + 80u);
}

TEST(Reframe, RefusesWithoutRoomAndLeavesTheMbufAlone) {
    {
        TestMbuf t(0, 42, 64, 0);  // no headroom: 42 header bytes are fewer than IPv6's 62
        std::array<uint8_t, sizeof(rte_mbuf)> before;
        std::memcpy(before.data(), &t.m, sizeof(rte_mbuf));
        EXPECT_EQ(reframe(&t.m, 42, 64, 6), nullptr);
        EXPECT_EQ(std::memcmp(before.data(), &t.m, sizeof(rte_mbuf)), 0);
        EXPECT_NE(reframe(&t.m, 42, 64, 4), nullptr);  // IPv4's 42 fit exactly
        EXPECT_EQ(t.m.data_off, 0);
    }
    {
        TestMbuf t(kHeadroom, 42, 64, 0);
        std::array<uint8_t, sizeof(rte_mbuf)> before;
        std::memcpy(before.data(), &t.m, sizeof(rte_mbuf));
        const uint32_t fits = kBufLen - kHeadroom - 42;  // the payload may end at the buffer's end
        EXPECT_EQ(reframe(&t.m, 42, fits + 1, 4), nullptr);
        EXPECT_EQ(std::memcmp(before.data(), &t.m, sizeof(rte_mbuf)), 0);
        ASSERT_NE(reframe(&t.m, 42, fits, 4), nullptr);
        EXPECT_EQ(t.m.data_off + t.m.data_len, kBufLen);
    }
}

TEST(Reframe, KeepsRoomBeforeThePayload) {  // the fleet link's header (link_path.cpp)
    TestMbuf t(kHeadroom, 42, 100, 0);
    const std::array<uint8_t, kBufLen> before = t.buf;
    uint8_t* h = reframe(&t.m, 42, 116, 4, 40);  // the frame and a 16-byte tag; a 40-byte header
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(t.m.data_off, kHeadroom + 42 - 40 - outer_header_len(4));
    EXPECT_EQ(t.m.data_len, outer_header_len(4) + 40 + 116);
    EXPECT_EQ(t.m.pkt_len, outer_header_len(4) + 40u + 116u);
    EXPECT_EQ(std::memcmp(h + outer_header_len(4) + 40, before.data() + kHeadroom + 42, 100), 0);
    TestMbuf tight(0, 42, 64, 0);  // 42 bytes of headroom: IPv4's 42 fit, not 42 + 1 more
    std::array<uint8_t, sizeof(rte_mbuf)> mb;
    std::memcpy(mb.data(), &tight.m, sizeof(rte_mbuf));
    EXPECT_EQ(reframe(&tight.m, 42, 64, 4, 1), nullptr);
    EXPECT_EQ(std::memcmp(mb.data(), &tight.m, sizeof(rte_mbuf)), 0);
}

}  // namespace
}  // namespace rustun::dp
