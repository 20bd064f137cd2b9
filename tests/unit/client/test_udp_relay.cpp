// The UDP relay on a fake clock against a loopback "gateway" socket: KeepAlive schedule (every
// 2 s unbound, every interval bound), strictly increasing seq, cookie challenges, binding and
// its 15 s validity, counter nonces.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "client_test_util.hpp"
#include "proto/messages.hpp"
#include "udp_relay.hpp"

using namespace rustun;
using namespace rustun::client;
using namespace rustun::client::test;

namespace {

class UdpRelayTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(sealer_.init(kTestCrypto).ok());
        ASSERT_TRUE(poller_.open().ok());
        ASSERT_TRUE(relay_.open("127.0.0.1", gw_.port, poller_).ok());
    }
    // The next KeepAlive the gateway received (and where from), or nullopt.
    std::optional<KeepAlive> next_keepalive(sockaddr_storage* from = nullptr) {
        auto d = gw_.recv(100, from);
        if (!d) return std::nullopt;
        auto f = open_frame(sealer_, *d);
        EXPECT_TRUE(f.has_value());
        EXPECT_EQ(f->type, FrameType::KeepAlive);
        auto ka = decode_keepalive(f->plain, DecodeMode::Lenient);
        EXPECT_TRUE(ka.ok());
        return ka.value();
    }
    void reply(const std::optional<std::string>& cookie, std::vector<PeerDetail> details = {}) {
        KeepAlive ka;
        ka.identity = "client-a";
        if (!details.empty()) {
            ka.peer_details = std::move(details);
            ka.has_peer_details = true;
        }
        ka.cookie = cookie;
        std::string body;
        encode_keepalive(ka, ka.has_peer_details ? Shape::New : Shape::Old, body);
        auto frame = seal_frame(sealer_, FrameType::KeepAlive, body);
        relay_.handle_datagram(frame.data(), frame.size());
    }

    FakeClock clock_;
    Poller poller_;
    FrameSealer sealer_;
    Counters ctr_;
    AdvertisedAddress self_{"172.31.77.11", 51258, ""};
    RecordingGateway events_;
    LoopbackUdp gw_;
    UdpRelay relay_{"client-a", 10000, clock_, sealer_, ctr_, self_, events_};
};

}  // namespace

TEST_F(UdpRelayTest, KeepAliveCarriesSeqReplayAndAddress) {
    relay_.tick(clock_.mono_ms(), true);
    auto ka = next_keepalive();
    ASSERT_TRUE(ka.has_value());
    EXPECT_EQ(ka->identity, "client-a");
    EXPECT_EQ(ka->ipv6, "172.31.77.11");
    EXPECT_EQ(ka->port, 51258);
    EXPECT_EQ(ka->seq, clock_.unix_us());
    EXPECT_EQ(ka->replay, relay_.data_counter() + 1);  // AEAD: opts into replay protection
    EXPECT_FALSE(ka->cookie.has_value());
    EXPECT_EQ(ctr_.get(Ctr::udp_keepalive_tx), 1u);
}

TEST_F(UdpRelayTest, NoKeepAliveWithoutTheTcpSession) {
    relay_.tick(clock_.mono_ms(), false);
    EXPECT_FALSE(next_keepalive().has_value());
}

TEST_F(UdpRelayTest, RebindsEveryTwoSecondsWhileUnboundThenEveryInterval) {
    relay_.tick(clock_.mono_ms(), true);
    const uint64_t seq1 = next_keepalive()->seq.value();
    clock_.advance_ms(kUdpRebindMs - 1);
    relay_.tick(clock_.mono_ms(), true);
    EXPECT_FALSE(next_keepalive().has_value());
    clock_.advance_ms(1);
    relay_.tick(clock_.mono_ms(), true);
    EXPECT_GT(next_keepalive()->seq.value(), seq1);

    reply(std::nullopt);  // bound
    EXPECT_TRUE(relay_.bound(clock_.mono_ms()));
    clock_.advance_ms(kUdpRebindMs);
    relay_.tick(clock_.mono_ms(), true);  // due (scheduled while unbound), next one an interval later
    EXPECT_TRUE(next_keepalive().has_value());
    clock_.advance_ms(kUdpRebindMs);
    relay_.tick(clock_.mono_ms(), true);
    EXPECT_FALSE(next_keepalive().has_value());
    clock_.advance_ms(10000 - kUdpRebindMs);
    relay_.tick(clock_.mono_ms(), true);
    EXPECT_TRUE(next_keepalive().has_value());
}

TEST_F(UdpRelayTest, SeqStrictlyIncreasesOnAFrozenClock) {
    relay_.send_keepalive();
    relay_.send_keepalive();
    const uint64_t a = next_keepalive()->seq.value();
    const uint64_t b = next_keepalive()->seq.value();
    EXPECT_EQ(b, a + 1);
}

TEST_F(UdpRelayTest, ChallengeIsEchoedOnceAndOnlyAPlainReplyBinds) {
    reply(std::string("c00k1e"));
    EXPECT_EQ(ctr_.get(Ctr::udp_challenges_rx), 1u);
    EXPECT_FALSE(relay_.bound(clock_.mono_ms()));
    auto echo = next_keepalive();
    ASSERT_TRUE(echo.has_value());
    EXPECT_EQ(echo->cookie, std::optional<std::string>("c00k1e"));
    reply(std::string("c00k1e"));  // the same cookie again: not echoed again
    EXPECT_FALSE(next_keepalive().has_value());

    PeerDetail d;
    d.identity = "client-b";
    d.private_ip = "10.0.1.3";
    reply(std::nullopt, {d});
    EXPECT_TRUE(relay_.bound(clock_.mono_ms()));
    EXPECT_TRUE(relay_.cookie().empty());
    ASSERT_EQ(events_.details.size(), 1u);
    EXPECT_EQ(events_.details[0][0].identity, "client-b");
    EXPECT_EQ(ctr_.get(Ctr::udp_keepalive_rx), 3u);

    clock_.advance_ms(kUdpRelayValidMs - 1);
    EXPECT_TRUE(relay_.bound(clock_.mono_ms()));
    clock_.advance_ms(1);
    EXPECT_FALSE(relay_.bound(clock_.mono_ms()));
}

TEST_F(UdpRelayTest, DataUsesSaltAndIncreasingCounterNonces) {
    const uint64_t start = relay_.data_counter();
    EXPECT_EQ(start, clock_.unix_ns());
    const auto pkt = ipv4_packet(0x0A000102, 0x0A000103);
    ASSERT_TRUE(relay_.send_data(pkt.data(), pkt.size()));
    ASSERT_TRUE(relay_.send_data(pkt.data(), pkt.size()));
    std::vector<std::vector<uint8_t>> nonces;
    for (int i = 0; i < 2; ++i) {
        auto d = gw_.recv(100);
        ASSERT_TRUE(d.has_value());
        auto f = open_frame(sealer_, *d);
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->type, FrameType::Data);
        EXPECT_EQ(std::vector<uint8_t>(f->plain.begin(), f->plain.end()), pkt);
        nonces.emplace_back(f->payload.begin(), f->payload.begin() + 12);
    }
    EXPECT_TRUE(std::equal(nonces[0].begin(), nonces[0].begin() + 4, nonces[1].begin()));  // one salt per run
    auto counter = [](const std::vector<uint8_t>& n) {
        uint64_t c = 0;
        for (int i = 4; i < 12; ++i) c = c << 8 | n[i];
        return c;
    };
    EXPECT_EQ(counter(nonces[0]), start + 1);
    EXPECT_EQ(counter(nonces[1]), start + 2);
}

TEST_F(UdpRelayTest, DataFromTheGatewayIsDelivered) {
    auto frame = seal_frame(sealer_, FrameType::Data, ipv4_packet(0x0A000103, 0x0A000102));
    relay_.handle_datagram(frame.data(), frame.size());
    auto bad = seal_frame(sealer_, FrameType::Data, std::vector<uint8_t>(10, 0x45));
    relay_.handle_datagram(bad.data(), bad.size());
    EXPECT_EQ(events_.data.size(), 1u);
    EXPECT_EQ(ctr_.get(Ctr::udp_relay_data_rx), 1u);
}

// After a failover the relay binds at the new gateway: the old binding does not count, the next
// KeepAlive goes to the new address at once, and no cookie of the old gateway is echoed.
TEST_F(UdpRelayTest, RetargetUnbindsAndKeepAlivesGoToTheNewGateway) {
    relay_.tick(clock_.mono_ms(), true);
    ASSERT_TRUE(next_keepalive().has_value());
    reply(std::string("old-cookie"));
    ASSERT_TRUE(next_keepalive().has_value());  // the echo
    reply(std::nullopt);
    ASSERT_TRUE(relay_.bound(clock_.mono_ms()));

    LoopbackUdp second;
    ASSERT_TRUE(relay_.retarget("127.0.0.1", second.port, poller_).ok());
    EXPECT_FALSE(relay_.bound(clock_.mono_ms()));
    EXPECT_TRUE(relay_.cookie().empty());
    relay_.tick(clock_.mono_ms(), true);
    auto d = second.recv(200);
    ASSERT_TRUE(d.has_value());
    auto f = open_frame(sealer_, *d);
    ASSERT_TRUE(f.has_value());
    auto ka = decode_keepalive(f->plain, DecodeMode::Lenient);
    ASSERT_TRUE(ka.ok());
    EXPECT_FALSE(ka->cookie.has_value());
    EXPECT_FALSE(gw_.recv(50).has_value());  // nothing more to the old gateway
}
