// Packet parsing, header building, checksums and the STUN responder.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <vector>

#include "frame_check.hpp"
#include "packet.hpp"
#include "stun.hpp"

using namespace rustun;
using namespace rustun::dp;

namespace {

shm::Endpoint ep(const char* a, uint16_t port) {
    shm::Endpoint e{};
    if (inet_pton(AF_INET, a, e.addr) == 1) {
        e.family = 4;
    } else {
        EXPECT_EQ(inet_pton(AF_INET6, a, e.addr), 1);
        e.family = 6;
    }
    e.port = port;
    return e;
}

OuterSource source() {
    OuterSource s{};
    const uint8_t mac[6] = {2, 0, 0, 0, 0, 0xfe};
    std::memcpy(s.mac, mac, 6);
    inet_pton(AF_INET, "192.0.2.1", s.addr4);
    inet_pton(AF_INET6, "2001:db8::1", s.addr6);
    s.has_addr6 = true;
    s.port = 8080;
    return s;
}

std::vector<uint8_t> build(const shm::Endpoint& to, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> f(outer_header_len(to.family) + payload.size());
    std::copy(payload.begin(), payload.end(), f.begin() + outer_header_len(to.family));
    const uint8_t dmac[6] = {2, 0, 0, 0, 0, 1};
    write_outer(f.data(), source(), dmac, to, static_cast<uint16_t>(payload.size()), false, 7);
    return f;
}

}  // namespace

// The checksum itself: tests/unit/net (net-packet-build).

TEST(Packet, BuildAndParseIpv4) {
    const std::vector<uint8_t> payload = {1, 2, 3, 4, 5};
    auto f = build(ep("198.51.100.2", 6000), payload);
    ASSERT_EQ(f.size(), 14u + 20 + 8 + 5);
    EXPECT_TRUE(outer_checksums_ok(f.data(), static_cast<uint32_t>(f.size())));
    ParsedUdp p;
    ASSERT_EQ(parse_udp(f.data(), static_cast<uint32_t>(f.size()), p), L3Kind::Udp);
    EXPECT_EQ(p.family, 4);
    EXPECT_EQ(p.src_port, 8080);
    EXPECT_EQ(p.dst_port, 6000);
    EXPECT_EQ(p.payload_off, 42);
    EXPECT_EQ(p.payload_len, 5);
    EXPECT_EQ(load_be16(f.data() + 14 + 6), 0x4000);  // DF
    EXPECT_EQ(load_be16(f.data() + 14 + 20 + 6), 0);  // UDP checksum 0 over IPv4
    shm::Endpoint src = source_endpoint(p);
    EXPECT_EQ(src.family, 4);
    EXPECT_EQ(src.port, 8080);
}

TEST(Packet, BuildAndParseIpv6WithUdpChecksum) {
    const std::vector<uint8_t> payload = {9, 8, 7};
    auto f = build(ep("2001:db8::9", 7000), payload);
    ASSERT_EQ(f.size(), 14u + 40 + 8 + 3);
    EXPECT_NE(load_be16(f.data() + 14 + 40 + 6), 0);
    EXPECT_TRUE(outer_checksums_ok(f.data(), static_cast<uint32_t>(f.size())));
    f.back() ^= 1;
    EXPECT_FALSE(outer_checksums_ok(f.data(), static_cast<uint32_t>(f.size())));
    ParsedUdp p;
    ASSERT_EQ(parse_udp(f.data(), static_cast<uint32_t>(f.size()), p), L3Kind::Udp);
    EXPECT_EQ(p.family, 6);
    EXPECT_EQ(p.payload_len, 3);
}

TEST(Packet, Ipv4ChecksumOffloadLeavesZero) {
    std::vector<uint8_t> f(42);
    const uint8_t dmac[6] = {};
    write_outer(f.data(), source(), dmac, ep("10.0.0.1", 1), 0, true, 0);
    EXPECT_EQ(load_be16(f.data() + 24), 0);
}

TEST(Packet, Classification) {
    auto f = build(ep("198.51.100.2", 6000), {1, 2, 3});
    ParsedUdp p;
    // Truncations anywhere are Malformed, never a crash.
    for (uint32_t n = 0; n < f.size(); ++n) EXPECT_NE(parse_udp(f.data(), n, p), L3Kind::Udp) << n;
    // Trailing Ethernet padding is allowed.
    auto padded = f;
    padded.resize(f.size() + 10);
    EXPECT_EQ(parse_udp(padded.data(), static_cast<uint32_t>(padded.size()), p), L3Kind::Udp);
    EXPECT_EQ(p.payload_len, 3);
    auto arp = f;
    store_be16(arp.data() + 12, 0x0806);
    EXPECT_EQ(parse_udp(arp.data(), static_cast<uint32_t>(arp.size()), p), L3Kind::NotIp);
    auto tcp = f;
    tcp[14 + 9] = 6;
    EXPECT_EQ(parse_udp(tcp.data(), static_cast<uint32_t>(tcp.size()), p), L3Kind::OtherIp);
    auto frag = f;
    store_be16(frag.data() + 14 + 6, 0x2000);  // MF
    EXPECT_EQ(parse_udp(frag.data(), static_cast<uint32_t>(frag.size()), p), L3Kind::OtherIp);
    auto badlen = f;
    store_be16(badlen.data() + 14 + 20 + 4, 200);  // UDP length beyond the datagram
    EXPECT_EQ(parse_udp(badlen.data(), static_cast<uint32_t>(badlen.size()), p), L3Kind::Malformed);
    auto opts = std::vector<uint8_t>(f.begin(), f.begin() + 34);  // IPv4 with 4 option bytes
    opts.insert(opts.end(), {1, 1, 1, 0});
    opts.insert(opts.end(), f.begin() + 34, f.end());
    opts[14] = 0x46;
    store_be16(opts.data() + 16, static_cast<uint16_t>(load_be16(opts.data() + 16) + 4));
    ASSERT_EQ(parse_udp(opts.data(), static_cast<uint32_t>(opts.size()), p), L3Kind::Udp);
    EXPECT_EQ(p.payload_off, 46);
}

TEST(Stun, BindingReplyIpv4AndIpv6) {
    std::vector<uint8_t> req(20, 0);
    store_be16(req.data(), 0x0001);
    store_be32(req.data() + 4, kStunMagicCookie);
    for (int i = 0; i < 12; ++i) req[8 + i] = static_cast<uint8_t>(0xa0 + i);
    ASSERT_TRUE(looks_like_stun(req.data(), 20));

    for (const char* a : {"203.0.113.7", "2001:db8::9"}) {
        const shm::Endpoint from = ep(a, 4000);
        uint8_t out[kStunMaxReplyLen];
        uint32_t n = 0;
        ASSERT_EQ(stun_binding_reply(req.data(), 20, from, out, n), StunResult::Reply);
        EXPECT_EQ(n, from.family == 4 ? 32u : 44u);
        EXPECT_EQ(load_be16(out), 0x0101);
        EXPECT_EQ(load_be16(out + 2), n - 20);
        EXPECT_EQ(load_be32(out + 4), kStunMagicCookie);
        EXPECT_EQ(0, std::memcmp(out + 8, req.data() + 8, 12));
        EXPECT_EQ(load_be16(out + 20), 0x0020);
        EXPECT_EQ(out[25], from.family == 4 ? 1 : 2);
        EXPECT_EQ(load_be16(out + 26) ^ 0x2112, 4000);
        uint8_t mask[16];
        store_be32(mask, kStunMagicCookie);
        std::memcpy(mask + 4, req.data() + 8, 12);
        for (int i = 0; i < (from.family == 4 ? 4 : 16); ++i) EXPECT_EQ(out[28 + i] ^ mask[i], from.addr[i]);
    }
    // In place (out aliases the request).
    std::vector<uint8_t> buf = req;
    buf.resize(kStunMaxReplyLen);
    uint32_t n = 0;
    EXPECT_EQ(stun_binding_reply(buf.data(), 20, ep("10.0.0.1", 1), buf.data(), n), StunResult::Reply);
    EXPECT_EQ(0, std::memcmp(buf.data() + 8, req.data() + 8, 12));
}

TEST(Stun, RejectsMalformedAndOtherMethods) {
    std::vector<uint8_t> req(28, 0);
    store_be16(req.data(), 0x0001);
    store_be16(req.data() + 2, 8);
    store_be32(req.data() + 4, kStunMagicCookie);
    store_be16(req.data() + 20, 0x8022);  // SOFTWARE, 4 bytes
    store_be16(req.data() + 22, 4);
    uint8_t out[kStunMaxReplyLen];
    uint32_t n;
    const shm::Endpoint from = ep("10.0.0.1", 1);
    EXPECT_EQ(stun_binding_reply(req.data(), 28, from, out, n), StunResult::Reply);
    EXPECT_EQ(stun_binding_reply(req.data(), 27, from, out, n), StunResult::Malformed);  // length beyond data
    auto bad = req;
    store_be16(bad.data() + 22, 9);  // attribute overruns the message
    EXPECT_EQ(stun_binding_reply(bad.data(), 28, from, out, n), StunResult::Malformed);
    auto ind = req;
    store_be16(ind.data(), 0x0011);  // Binding Indication
    EXPECT_EQ(stun_binding_reply(ind.data(), 28, from, out, n), StunResult::NotBindingRequest);
    const uint8_t rustun[8] = {0x91, 0x92, 0x93, 0x94, 1, 3, 0, 0};
    EXPECT_FALSE(looks_like_stun(rustun, 8));
}

// ---- check_frame: the relay port's frame checks (frame_check.hpp) ----
namespace {
std::vector<uint8_t> rustun_header(uint8_t type, uint16_t len, uint8_t version = 1) {
    std::vector<uint8_t> f(8u + len, 0xab);
    const uint8_t hdr[8] = {0x91, 0x92, 0x93, 0x94, version, type, static_cast<uint8_t>(len >> 8),
                            static_cast<uint8_t>(len)};
    std::copy(hdr, hdr + 8, f.begin());
    return f;
}
}  // namespace

TEST(FrameCheck, Verdicts) {
    using rustun::dp::check_frame;
    using rustun::dp::FrameVerdict;
    auto data = rustun_header(static_cast<uint8_t>(rustun::FrameType::Data), 40);
    auto fc = check_frame(data.data(), static_cast<uint32_t>(data.size()));
    EXPECT_EQ(fc.verdict, FrameVerdict::Data);
    EXPECT_EQ(fc.frame_len, 48u);
    auto ka = rustun_header(static_cast<uint8_t>(rustun::FrameType::KeepAlive), 10);
    EXPECT_EQ(check_frame(ka.data(), static_cast<uint32_t>(ka.size())).verdict, FrameVerdict::Control);
    // Trailing bytes after 8 + payload_length are ignored.
    data.insert(data.end(), 5, uint8_t{0});
    fc = check_frame(data.data(), static_cast<uint32_t>(data.size()));
    EXPECT_EQ(fc.verdict, FrameVerdict::Data);
    EXPECT_EQ(fc.frame_len, 48u);
    // Declared length beyond the datagram, fewer than 8 bytes, wrong magic or version.
    EXPECT_EQ(check_frame(data.data(), 47).verdict, FrameVerdict::Short);
    EXPECT_EQ(check_frame(data.data(), 7).verdict, FrameVerdict::Short);
    auto bad = data;
    bad[0] = 0x90;
    EXPECT_EQ(check_frame(bad.data(), static_cast<uint32_t>(bad.size())).verdict, FrameVerdict::BadMagic);
    auto v2 = rustun_header(1, 4, 2);
    EXPECT_EQ(check_frame(v2.data(), static_cast<uint32_t>(v2.size())).verdict, FrameVerdict::BadVersion);
}
