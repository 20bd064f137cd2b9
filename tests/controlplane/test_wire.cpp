// Handshakes, KeepAlive replies, PeerUpdate and relay, with clients of both generations.
#include "harness.hpp"

namespace rustun::cp::test {
namespace {

class Wire : public GatewayFixture {};

TEST_F(Wire, OldDialectHandshakeGetsAReplyBothGenerationsParse) {
    start();
    HandshakeReply r;
    auto a = join("client-a", Dialect::Old, &r, test_key(), "2001:db8::2");
    ASSERT_TRUE(a);
    EXPECT_EQ(r.private_ip, "10.0.1.2");
    EXPECT_EQ(r.mask, "255.255.255.0");
    EXPECT_EQ(r.gateway, "10.0.1.254");
    EXPECT_EQ(r.ipv6, "2001:db8::2");  // echo of the handshake's ipv6 (docs/protocol.md, "HandshakeReply")
    ASSERT_EQ(r.peers.size(), 2u);      // every other configured client of the cluster
    EXPECT_EQ(r.peers[0].identity, "client-b");
    EXPECT_EQ(r.peers[0].ciders, std::vector<std::string>{"192.168.1.0/24"});
    EXPECT_EQ(r.peers[0].port, 0);  // offline
    EXPECT_EQ(counter(Counter::handshake_ok), 1u);
    auto st = command("{\"cmd\":\"client\",\"identity\":\"client-a\"}");
    EXPECT_NE(st.find("\"dialect\":\"old\""), std::string::npos) << st;
}

TEST_F(Wire, NewDialectHandshakeGetsOwnCidersAndMapping) {
    start();
    HandshakeReply r;
    auto a = join("client-a", Dialect::New, &r);
    ASSERT_TRUE(a);
    EXPECT_EQ(r.name, "Client A");
    EXPECT_EQ(r.ciders, std::vector<std::string>{"192.168.11.0/24"});
    ASSERT_EQ(r.cider_mapping.size(), 1u);
    EXPECT_EQ(r.cider_mapping[0].second, "192.168.10.0/24");
    ASSERT_EQ(r.peers.size(), 2u);
    EXPECT_EQ(r.peers[0].name, "Client B");
    auto st = command("{\"cmd\":\"client\",\"identity\":\"client-a\"}");
    EXPECT_NE(st.find("\"dialect\":\"new\""), std::string::npos) << st;
}

TEST_F(Wire, KeepAliveReplyCarriesTheCurrentPeerList) {
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    keepalive(*b, "client-b", Dialect::New, "2001:db8::3");
    KeepAlive r = keepalive(*a, "client-a", Dialect::New, "2001:db8::2");
    EXPECT_EQ(r.identity, "client-a");
    EXPECT_EQ(r.name, "Client A");
    EXPECT_EQ(r.ipv6, "2001:db8::2");
    ASSERT_EQ(r.peer_details.size(), 2u);
    // Online peers first.
    EXPECT_EQ(r.peer_details[0].identity, "client-b");
    EXPECT_EQ(r.peer_details[0].ipv6, "2001:db8::3");
    EXPECT_EQ(r.peer_details[0].port, 51258);
    EXPECT_GT(r.peer_details[0].last_active, 0u);
    EXPECT_EQ(r.peer_details[1].identity, "client-c");
    EXPECT_EQ(r.peer_details[1].last_active, 0u);
    EXPECT_EQ(counter(Counter::keepalive_rx), 2u);
}

TEST_F(Wire, OldClientAcceptsTheHeadShapedKeepAliveReply) {
    start();
    auto a = join("client-a", Dialect::Old);
    ASSERT_TRUE(a);
    KeepAlive r = keepalive(*a, "client-a", Dialect::Old, "2001:db8::2");  // parsed StrictOld
    EXPECT_EQ(r.identity, "client-a");
    EXPECT_EQ(r.ipv6, "2001:db8::2");
}

TEST_F(Wire, KeepAliveBodyIdentityNeverOverridesTheConnection) {
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    // a claims to be b: the reply and the stored address are a's.
    KeepAlive r = keepalive(*a, "client-b", Dialect::New, "2001:db8::666");
    EXPECT_EQ(r.identity, "client-a");
    EXPECT_EQ(counter(Counter::keepalive_identity_mismatch), 1u);
    KeepAlive rb = keepalive(*b, "client-b", Dialect::New, "2001:db8::3");
    ASSERT_FALSE(rb.peer_details.empty());
    EXPECT_EQ(rb.peer_details[0].identity, "client-a");
    EXPECT_EQ(rb.peer_details[0].ipv6, "2001:db8::666");
}

TEST_F(Wire, PeerUpdateGoesToOldClientsOnly) {
    start();
    auto a = join("client-a", Dialect::Old);
    auto b = join("client-b", Dialect::New);
    auto c = join("client-c", Dialect::Old);
    ASSERT_TRUE(a && b && c);
    auto expect_peer_update = [](FrameStream& s, const char* identity, const char* ipv6) {
        auto f = s.recv(3000);
        ASSERT_TRUE(f.ok()) << f.error();
        ASSERT_EQ(f->frame_type(), FrameType::PeerUpdate);
        auto pu = decode_peer_update(f->text());
        ASSERT_TRUE(pu.ok());
        EXPECT_EQ(pu->identity, identity);
        EXPECT_EQ(pu->ipv6, ipv6);
        EXPECT_EQ(pu->port, 51258);
    };
    // c's first KeepAlive changes its address from ("", 0): a (old) is told, b (new) is not.
    keepalive(*c, "client-c", Dialect::Old, "2001:db8::4");
    expect_peer_update(*a, "client-c", "2001:db8::4");
    EXPECT_EQ(counter(Counter::peer_update_tx), 1u);
    // b's KeepAlive: both old clients are told, b itself gets only its reply.
    KeepAlive rb = keepalive(*b, "client-b", Dialect::New, "2001:db8::3");
    EXPECT_EQ(rb.identity, "client-b");
    expect_peer_update(*a, "client-b", "2001:db8::3");
    expect_peer_update(*c, "client-b", "2001:db8::3");
    EXPECT_EQ(counter(Counter::peer_update_tx), 3u);
    EXPECT_FALSE(b->recv(200).ok());  // never a type-5 frame on a new client's stream
    // The same address again: no PeerUpdate.
    keepalive(*c, "client-c", Dialect::Old, "2001:db8::4");
    EXPECT_FALSE(a->recv(200).ok());
    EXPECT_EQ(counter(Counter::peer_update_tx), 3u);
}

struct Mix {
    Dialect from, to;
};
class Relay : public GatewayFixture, public ::testing::WithParamInterface<Mix> {};

TEST_P(Relay, DataIsForwardedUnchanged) {
    start();
    auto a = join("client-a", GetParam().from);
    auto b = join("client-b", GetParam().to);
    ASSERT_TRUE(a && b);
    auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3");
    auto frame = a->seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size()));
    ASSERT_TRUE(frame.ok());
    ASSERT_TRUE(a->send_raw(frame->data(), frame->size()).ok());
    auto got = b->recv(3000);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(got->frame_type(), FrameType::Data);
    EXPECT_EQ(got->raw, frame.value());  // same key in the cluster: bytes unchanged
    EXPECT_EQ(got->plaintext, pkt);
    // And back, to a CIDR behind a.
    auto back = ipv4_packet("10.0.1.3", "192.168.11.7");
    ASSERT_TRUE(b->send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(back.data()), back.size())).ok());
    auto got2 = a->recv(3000);
    ASSERT_TRUE(got2.ok()) << got2.error();
    EXPECT_EQ(got2->plaintext, back);
    EXPECT_EQ(counter(Counter::data_relayed), 2u);
}

INSTANTIATE_TEST_SUITE_P(Dialects, Relay,
                         ::testing::Values(Mix{Dialect::Old, Dialect::Old}, Mix{Dialect::Old, Dialect::New},
                                           Mix{Dialect::New, Dialect::Old}, Mix{Dialect::New, Dialect::New}),
                         [](const auto& param_info) {
                             return std::string(dialect_name(param_info.param.from)) + "_to_" +
                                    std::string(dialect_name(param_info.param.to));
                         });

TEST_F(Wire, ManyFramesInOneWriteAreAllRelayed) {
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    std::vector<uint8_t> burst;
    const int n = 200;
    for (int i = 0; i < n; ++i) {
        auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3", 60 + i);
        auto f = a->seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size()));
        burst.insert(burst.end(), f->begin(), f->end());
    }
    ASSERT_TRUE(a->send_raw(burst.data(), burst.size()).ok());
    for (int i = 0; i < n; ++i) {
        auto got = b->recv(3000);
        ASSERT_TRUE(got.ok()) << i << ": " << got.error();
        ASSERT_EQ(got->plaintext.size(), 60u + i);  // in order
    }
}

TEST_F(Wire, ClustersNeverSeeEachOther) {
    start();
    HandshakeReply rx;
    auto a = join("client-a", Dialect::New);
    auto x = join("client-x", Dialect::New, &rx, other_key());
    ASSERT_TRUE(a && x);
    // x's peer list names only its own cluster.
    ASSERT_EQ(rx.peers.size(), 1u);
    EXPECT_EQ(rx.peers[0].identity, "client-y");
    // x sends to 10.0.1.3 (client-b's address in the other cluster): no route in x's cluster.
    auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3");
    ASSERT_TRUE(x->send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).ok());
    EXPECT_TRUE(wait_counter(Counter::data_no_route, 1));
    // A handshake for a "test" identity sealed with the other cluster's key is refused.
    auto wrong = connect(other_key());
    send_handshake(*wrong, "client-b");
    EXPECT_TRUE(wrong->wait_closed(3000));
    EXPECT_EQ(counter(Counter::handshake_unknown_identity), 1u);
    EXPECT_FALSE(a->recv(200).ok());  // nothing reached a
}

TEST_F(Wire, SpoofedInnerSourceIsDropped) {
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    auto pkt = ipv4_packet("10.0.1.4", "10.0.1.3");  // c's address, sent by a
    ASSERT_TRUE(a->send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).ok());
    EXPECT_TRUE(wait_counter(Counter::data_spoofed_source, 1));
    EXPECT_FALSE(b->recv(200).ok());
    // Inside a's CIDR is fine.
    auto ok = ipv4_packet("192.168.11.9", "10.0.1.3");
    ASSERT_TRUE(a->send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(ok.data()), ok.size())).ok());
    EXPECT_TRUE(b->recv(3000).ok());
}

TEST_F(Wire, OfflineDestinationAndNonIpv4AreCounted) {
    start();
    auto a = join("client-a", Dialect::New);
    ASSERT_TRUE(a);
    auto pkt = ipv4_packet("10.0.1.2", "10.0.1.4");  // client-c is offline
    ASSERT_TRUE(a->send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).ok());
    EXPECT_TRUE(wait_counter(Counter::data_dst_offline, 1));
    ASSERT_TRUE(a->send(FrameType::Data, std::string_view("short", 5)).ok());
    EXPECT_TRUE(wait_counter(Counter::data_not_ipv4, 1));
}

}  // namespace
}  // namespace rustun::cp::test

namespace rustun::cp::test {
namespace {

// A newer connection of an identity closes the older one whichever worker owns it: with four
// workers, eight successive connections of one identity land on different workers.
TEST_F(Wire, ReplacedConnectionIsClosedByItsOwnWorker) {
    start_with_workers(4);
    auto older = join("client-a", Dialect::New);
    ASSERT_TRUE(older);
    for (int i = 1; i < 8; ++i) {
        auto newer = join("client-a", Dialect::New);
        ASSERT_TRUE(newer);
        EXPECT_TRUE(older->wait_closed(3000)) << "connection " << i - 1 << " not closed";
        older = std::move(newer);
    }
    EXPECT_TRUE(wait_counter(Counter::duplicate_identity_replaced, 7));
    EXPECT_EQ(keepalive(*older, "client-a", Dialect::New).identity, "client-a");
}

// Two workers: SO_REUSEPORT spreads the connections, and frames cross between workers.
TEST_F(Wire, RelayAcrossTwoWorkers) {
    start_with_workers(2);
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::Old);
    auto c = join("client-c", Dialect::New);
    ASSERT_TRUE(a && b && c);
    const char* ips[] = {"10.0.1.2", "10.0.1.3", "10.0.1.4"};
    FrameStream* s[] = {a.get(), b.get(), c.get()};
    for (int round = 0; round < 20; ++round) {
        for (int from = 0; from < 3; ++from) {
            int to = (from + 1 + round % 2) % 3;
            auto pkt = ipv4_packet(ips[from], ips[to], 64 + round);
            ASSERT_TRUE(s[from]->send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).ok());
            auto got = s[to]->recv(3000);
            ASSERT_TRUE(got.ok()) << got.error();
            EXPECT_EQ(got->plaintext, pkt);
        }
    }
    EXPECT_EQ(counter(Counter::data_relayed), 60u);
}

}  // namespace
}  // namespace rustun::cp::test

namespace rustun::cp::test {
namespace {

// A cluster too large for one reply: the peer list is cut so the payload stays <= 65535 bytes.
TEST_F(Wire, PeerListsNeverExceedOneFrame) {
    std::string y = "listen:\n  tcp: 127.0.0.1:0\ncrypto: chacha20:rustun\ncontrol_socket: " + socket_path_ +
                    "\ncontrolplane:\n  max_peers_per_reply: 10000\n  handshake_rate_per_source: 0\n"
                    "clusters:\n  - name: big\n    clients:\n";
    for (int i = 0; i < 1200; ++i) {
        char line[256];
        snprintf(line, sizeof line,
                 "      - {identity: client-%04d, name: \"A rather long display name %04d\", private_ip: 10.1.%d.%d, "
                 "mask: 255.255.0.0, gateway: 10.1.0.1, ciders: [172.16.%d.0/24]}\n",
                 i, i, i / 250, i % 250 + 2, i % 250);
        y += line;
    }
    write_config(y);
    auto cfg = load_config_file(config_path_);
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    gw_ = std::make_unique<Gateway>(std::move(cfg.value()), config_path_);
    ASSERT_TRUE(gw_->start().ok());
    auto s = connect();
    send_handshake(*s, "client-0000");
    auto f = s->recv(5000);
    ASSERT_TRUE(f.ok()) << f.error();
    EXPECT_LE(f->raw.size(), kMaxFrameSize);
    auto r = decode_handshake_reply(f->text(), ReplyShape::New);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_GT(r->peers.size(), 50u);
    EXPECT_LT(r->peers.size(), 1199u);
    EXPECT_EQ(counter(Counter::peer_list_capped), 1u);
    EXPECT_EQ(counter(Counter::payload_too_large), 0u);
}

}  // namespace
}  // namespace rustun::cp::test
