// P2P paths on a fake clock: probes, validity window, answer gating, learned addresses, Data
// source checks, PeerUpdate semantics. The P2P socket is real (any port) and the peer is a
// loopback UDP socket; received datagrams are fed in with handle_datagram().
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "client_test_util.hpp"
#include "p2p.hpp"
#include "proto/messages.hpp"
#include "stun.hpp"

using namespace rustun;
using namespace rustun::client;
using namespace rustun::client::test;

namespace {

std::string keepalive_body(const std::string& identity) {
    KeepAlive ka;
    ka.identity = identity;
    std::string out;
    encode_keepalive(ka, Shape::Old, out);
    return out;
}

struct StunRecorder final : StunDatagramSink {
    int seen = 0;
    void on_stun_datagram(const uint8_t*, size_t) override { ++seen; }
};

class P2pTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(sealer_.init(kTestCrypto).ok());
        ASSERT_TRUE(poller_.open().ok());
        self_.keepalive_body = keepalive_body("client-a");
        ASSERT_TRUE(p2p_.open(0, poller_).ok());
        PeerDetail b;
        b.identity = "client-b";
        b.private_ip = "10.0.1.3";
        b.ciders = {"192.168.12.0/24"};
        b.ipv6 = "127.0.0.1";
        b.port = peer_sock_.port;
        PeerDetail c;
        c.identity = "client-c";
        c.private_ip = "10.0.1.4";
        (void)peers_.apply_list({b, c}, true, p2p_);
    }
    Peer& b() { return *peers_.find("client-b"); }
    // Everything the peer socket received so far, opened.
    std::vector<OpenedFrame> drain() {
        std::vector<OpenedFrame> out;
        while (auto d = peer_sock_.recv(50))
            if (auto f = open_frame(sealer_, *d)) out.push_back(*f);
        return out;
    }
    void feed(const std::vector<uint8_t>& datagram, const sockaddr_storage& from) {
        std::vector<uint8_t> copy = datagram;
        p2p_.handle_datagram(copy.data(), copy.size(), from);
    }
    void feed_probe(const std::string& identity) {
        feed(seal_frame(sealer_, FrameType::KeepAlive, keepalive_body(identity)), loopback_v4(peer_sock_.port));
    }

    FakeClock clock_;
    Poller poller_;
    FrameSealer sealer_;
    PeerTable peers_{"client-a"};
    Counters ctr_;
    AdvertisedAddress self_;
    RecordingTun tun_;
    LoopbackUdp peer_sock_;
    P2p p2p_{true, "client-a", clock_, sealer_, peers_, ctr_, self_, tun_};
};

}  // namespace

TEST_F(P2pTest, AdvertisedPeerIsProbedAtOnce) {
    auto frames = drain();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].type, FrameType::KeepAlive);
    EXPECT_EQ(frames[0].plain, self_.keepalive_body);
    EXPECT_EQ(ctr_.get(Ctr::p2p_probes_tx), 1u);
    EXPECT_FALSE(p2p_.path_valid(b(), clock_.mono_ms()));  // sending alone validates nothing
}

TEST_F(P2pTest, ProbeValidatesThePathForFifteenSecondsAndIsAnsweredOnlyWhileInvalid) {
    drain();
    feed_probe("client-b");
    EXPECT_TRUE(p2p_.path_valid(b(), clock_.mono_ms()));
    EXPECT_EQ(ctr_.get(Ctr::p2p_probes_rx), 1u);
    EXPECT_EQ(ctr_.get(Ctr::p2p_answers_tx), 1u);
    EXPECT_EQ(drain().size(), 1u);  // the answer

    clock_.advance_ms(2000);
    feed_probe("client-b");  // path valid: not answered (no bouncing)
    EXPECT_EQ(ctr_.get(Ctr::p2p_answers_tx), 1u);

    clock_.advance_ms(kP2pValidMs - 1);
    EXPECT_TRUE(p2p_.path_valid(b(), clock_.mono_ms()));
    clock_.advance_ms(1);
    EXPECT_FALSE(p2p_.path_valid(b(), clock_.mono_ms()));
    feed_probe("client-b");  // invalid again: answered
    EXPECT_EQ(ctr_.get(Ctr::p2p_answers_tx), 2u);
}

TEST_F(P2pTest, AnswersAtMostOncePerSecond) {
    drain();
    feed_probe("client-b");
    ASSERT_EQ(ctr_.get(Ctr::p2p_answers_tx), 1u);
    b().last_rx_ms = 0;  // path invalid again (e.g. its state was reset)
    clock_.advance_ms(kProbeAnswerMinGapMs - 1);
    feed_probe("client-b");
    EXPECT_EQ(ctr_.get(Ctr::p2p_answers_tx), 1u);
    b().last_rx_ms = 0;
    clock_.advance_ms(1);
    feed_probe("client-b");
    EXPECT_EQ(ctr_.get(Ctr::p2p_answers_tx), 2u);
}

TEST_F(P2pTest, ProbeTeachesTheSourceAddress) {
    Peer& c = *peers_.find("client-c");
    EXPECT_FALSE(c.has_addr);
    LoopbackUdp c_sock;
    feed(seal_frame(sealer_, FrameType::KeepAlive, keepalive_body("client-c")), loopback_v4(c_sock.port));
    EXPECT_TRUE(c.has_addr);
    EXPECT_TRUE(p2p_.path_valid(c, clock_.mono_ms()));
    EXPECT_TRUE(c_sock.recv(500).has_value());  // answered at the learned address
}

TEST_F(P2pTest, ProbesFromUnknownOrOwnIdentityAreRefused) {
    feed_probe("stranger");
    EXPECT_EQ(ctr_.get(Ctr::p2p_unknown), 1u);
    feed_probe("client-a");
    EXPECT_EQ(ctr_.get(Ctr::p2p_bad), 1u);
}

TEST_F(P2pTest, DataSourceChecks) {
    const sockaddr_storage from_b = loopback_v4(peer_sock_.port);
    // b's own source (its private IP, then its CIDR): delivered, refreshes b's path.
    feed(seal_frame(sealer_, FrameType::Data, ipv4_packet(0x0A000103, 0x0A000102)), from_b);
    feed(seal_frame(sealer_, FrameType::Data, ipv4_packet(0xC0A80C05, 0x0A000102)), from_b);
    EXPECT_EQ(tun_.packets.size(), 2u);
    EXPECT_EQ(b().p2p.rx_packets, 2u);
    EXPECT_TRUE(p2p_.path_valid(b(), clock_.mono_ms()));
    // b's address carrying c's source: spoofed.
    feed(seal_frame(sealer_, FrameType::Data, ipv4_packet(0x0A000104, 0x0A000102)), from_b);
    EXPECT_EQ(ctr_.get(Ctr::p2p_spoofed), 1u);
    // A source of no peer.
    feed(seal_frame(sealer_, FrameType::Data, ipv4_packet(0x0B000001, 0x0A000102)), from_b);
    EXPECT_EQ(ctr_.get(Ctr::p2p_unknown), 1u);
    // Not IPv4, a garbage datagram, another key, a frame type P2P does not carry.
    feed(seal_frame(sealer_, FrameType::Data, std::vector<uint8_t>(40, 0x60)), from_b);
    feed(std::vector<uint8_t>(30, 0x91), from_b);
    FrameSealer other;
    ASSERT_TRUE(other.init("chacha20:another-key").ok());
    feed(seal_frame(other, FrameType::Data, ipv4_packet(0x0A000103, 0x0A000102)), from_b);
    feed(seal_frame(sealer_, FrameType::PeerUpdate, std::string("{}")), from_b);
    EXPECT_EQ(ctr_.get(Ctr::p2p_bad), 4u);
    EXPECT_EQ(tun_.packets.size(), 2u);
}

TEST_F(P2pTest, SendDataSealsToThePeerAndCounts) {
    drain();
    const auto pkt = ipv4_packet(0x0A000102, 0x0A000103, 100);
    ASSERT_TRUE(p2p_.send_data(b(), pkt.data(), pkt.size()));
    auto frames = drain();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].type, FrameType::Data);
    EXPECT_EQ(std::vector<uint8_t>(frames[0].plain.begin(), frames[0].plain.end()), pkt);
    EXPECT_EQ(b().p2p.tx_packets, 1u);
    EXPECT_EQ(b().p2p.tx_bytes, pkt.size());
}

TEST_F(P2pTest, PeerUpdateToTheKnownAddressKeepsThePath) {
    feed_probe("client-b");
    const uint64_t last = b().last_rx_ms;
    drain();
    peers_.apply_update(PeerUpdate{"client-b", "127.0.0.1", peer_sock_.port}, p2p_);
    EXPECT_EQ(b().last_rx_ms, last);             // same address: state kept
    EXPECT_EQ(drain().size(), 1u);               // but re-probed
    peers_.apply_update(PeerUpdate{"client-b", "127.0.0.2", peer_sock_.port}, p2p_);
    EXPECT_EQ(b().last_rx_ms, 0u);               // moved: starts over
    EXPECT_FALSE(p2p_.path_valid(b(), clock_.mono_ms()));
}

TEST_F(P2pTest, UnusableAdvertisedAddressIsRecordedButNotUsed) {
    peers_.apply_update(PeerUpdate{"client-c", "not-an-address", 1234}, p2p_);
    EXPECT_EQ(peers_.find("client-c")->adv_ip, "not-an-address");
    EXPECT_FALSE(peers_.find("client-c")->has_addr);
}

TEST_F(P2pTest, ProbeRoundEveryTenSecondsAndTransitionsTracked) {
    drain();
    p2p_.tick(clock_.mono_ms());  // first round is due at once
    EXPECT_EQ(drain().size(), 1u);  // only b has an address
    clock_.advance_ms(kP2pProbeIntervalMs - 1);
    p2p_.tick(clock_.mono_ms());
    EXPECT_EQ(drain().size(), 0u);
    clock_.advance_ms(1);
    feed_probe("client-b");
    drain();
    p2p_.tick(clock_.mono_ms());
    EXPECT_EQ(drain().size(), 1u);
    EXPECT_TRUE(b().was_valid);
    clock_.advance_ms(kP2pValidMs);
    p2p_.tick(clock_.mono_ms());
    EXPECT_FALSE(b().was_valid);
}

TEST_F(P2pTest, StunResponsesOnTheSharedSocketGoToTheSink) {
    StunRecorder stun;
    p2p_.share_with_stun(&stun);
    const uint8_t txid[12] = {1, 2, 3};
    uint8_t req[kStunRequestLen];
    stun_build_request(txid, req);
    feed(std::vector<uint8_t>(req, req + sizeof req), loopback_v4(3478));
    EXPECT_EQ(stun.seen, 1);
    EXPECT_EQ(ctr_.get(Ctr::p2p_bad), 0u);
}

TEST(P2pDisabled, RecordsAddressesWithoutSocketOrProbes) {
    FakeClock clock;
    FrameSealer sealer;
    ASSERT_TRUE(sealer.init(kTestCrypto).ok());
    PeerTable peers("client-a");
    Counters ctr;
    AdvertisedAddress self;
    RecordingTun tun;
    P2p p2p(false, "client-a", clock, sealer, peers, ctr, self, tun);
    PeerDetail b;
    b.identity = "client-b";
    b.private_ip = "10.0.1.3";
    b.ipv6 = "127.0.0.1";
    b.port = 9;
    (void)peers.apply_list({b}, true, p2p);
    EXPECT_TRUE(peers.find("client-b")->has_addr);
    EXPECT_EQ(ctr.get(Ctr::p2p_probes_tx), 0u);
    peers.find("client-b")->last_rx_ms = clock.mono_ms();
    EXPECT_FALSE(p2p.path_valid(*peers.find("client-b"), clock.mono_ms()));
}
