// Misbehaving clients: each gets the documented treatment while the others keep working.
#include "harness.hpp"

namespace rustun::cp::test {
namespace {

class Robust : public GatewayFixture {
protected:
    // a and b online; checks that a still reaches b.
    void expect_relay_still_works(FrameStream& a, FrameStream& b) {
        auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3");
        ASSERT_TRUE(a.send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).ok());
        auto got = b.recv(3000);
        ASSERT_TRUE(got.ok()) << got.error();
        EXPECT_EQ(got->plaintext, pkt);
    }
};

TEST_F(Robust, WrongKeyIsClosedAndCounted) {
    start();
    auto s = connect(spec("chacha20:not-the-key"));
    send_handshake(*s, "client-a");
    EXPECT_TRUE(s->wait_closed(3000));
    EXPECT_EQ(counter(Counter::handshake_decrypt_failed), 1u);
}

TEST_F(Robust, GarbageBadMagicAndBadVersionAreClosed) {
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    auto g = connect();
    const char junk[] = "GET / HTTP/1.1\r\n\r\n";
    ASSERT_TRUE(g->send_raw(junk, sizeof junk - 1).ok());
    EXPECT_TRUE(g->wait_closed(3000));
    EXPECT_EQ(counter(Counter::bad_magic), 1u);
    // An established client that sends a bad version is closed too.
    auto c = join("client-c", Dialect::New);
    const uint8_t badv[] = {0x91, 0x92, 0x93, 0x94, 0x02, 0x02, 0x00, 0x00};
    ASSERT_TRUE(c->send_raw(badv, sizeof badv).ok());
    EXPECT_TRUE(c->wait_closed(3000));
    EXPECT_EQ(counter(Counter::bad_version), 1u);
    expect_relay_still_works(*a, *b);
}

TEST_F(Robust, HugeFirstFrameIsRefusedBeforeBuffering) {
    start();
    auto s = connect();
    const uint8_t huge[] = {0x91, 0x92, 0x93, 0x94, 0x01, 0x01, 0xff, 0xff};
    ASSERT_TRUE(s->send_raw(huge, sizeof huge).ok());
    EXPECT_TRUE(s->wait_closed(3000));
    EXPECT_EQ(counter(Counter::length_refused), 1u);
}

TEST_F(Robust, FailedDataAuthenticationClosesTheSender) {
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3");
    auto f = a->seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size()));
    f->back() ^= 1;  // tag
    ASSERT_TRUE(a->send_raw(f->data(), f->size()).ok());
    EXPECT_TRUE(a->wait_closed(3000));
    EXPECT_EQ(counter(Counter::decrypt_failed), 1u);
    EXPECT_FALSE(b->recv(200).ok());
}

// A Data frame read in the same turn as a frame that closes its sender is dropped at routing,
// and counted (data_src_closed), not relayed.
TEST_F(Robust, DataOfASenderClosedInTheSameTurnIsCounted) {
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3");
    auto data = a->seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size()));
    auto bad_ka = a->seal_frame(FrameType::KeepAlive, "{}");
    ASSERT_TRUE(data.ok() && bad_ka.ok());
    bad_ka->back() ^= 1;  // tag: the KeepAlive fails authentication and closes the connection
    std::vector<uint8_t> both = *data;
    both.insert(both.end(), bad_ka->begin(), bad_ka->end());
    ASSERT_TRUE(a->send_raw(both.data(), both.size()).ok());  // one write: one read, one turn
    EXPECT_TRUE(a->wait_closed(3000));
    EXPECT_EQ(counter(Counter::decrypt_failed), 1u);
    // The batch is routed after the close, later in the same turn: wait for its counter.
    EXPECT_TRUE(wait_counter(Counter::data_src_closed, 1));
    EXPECT_EQ(counter(Counter::data_rx), 0u);
    EXPECT_FALSE(b->recv(200).ok());
}

TEST_F(Robust, UnknownTypeIsSkippedAndTheStreamGoesOn) {
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    const uint8_t unknown[] = {0x91, 0x92, 0x93, 0x94, 0x01, 0x08, 0x00, 0x03, 1, 2, 3};
    ASSERT_TRUE(a->send_raw(unknown, sizeof unknown).ok());
    expect_relay_still_works(*a, *b);
    EXPECT_EQ(counter(Counter::unknown_type_skipped), 1u);
}

TEST_F(Robust, UnknownIdentityIsClosedWithoutReply) {
    start();
    auto s = connect();
    send_handshake(*s, "mallory");
    auto f = s->recv(3000);
    EXPECT_FALSE(f.ok());
    EXPECT_EQ(counter(Counter::handshake_unknown_identity), 1u);
}

TEST_F(Robust, FirstFrameMustBeAHandshake) {
    start();
    auto s = connect();
    KeepAlive ka;
    ka.identity = "client-a";
    std::string body;
    encode_keepalive(ka, Shape::Old, body);
    ASSERT_TRUE(s->send(FrameType::KeepAlive, body).ok());
    EXPECT_TRUE(s->wait_closed(3000));
    EXPECT_EQ(counter(Counter::handshake_wrong_type), 1u);
}

TEST_F(Robust, DuplicateIdentityReplacesTheOlderConnection) {
    start();
    auto first = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    auto second = join("client-a", Dialect::Old);
    ASSERT_TRUE(first && second && b);
    EXPECT_TRUE(first->wait_closed(3000));
    EXPECT_EQ(counter(Counter::duplicate_identity_replaced), 1u);
    // Traffic to client-a reaches the newer connection.
    auto pkt = ipv4_packet("10.0.1.3", "10.0.1.2");
    ASSERT_TRUE(b->send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).ok());
    auto got = second->recv(3000);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(got->plaintext, pkt);
    auto st = command("{\"cmd\":\"client\",\"identity\":\"client-a\"}");
    EXPECT_NE(st.find("\"online\":true"), std::string::npos) << st;
}

TEST_F(Robust, SlowHandshakeTimesOut) {
    start("  handshake_timeout: 0.3\n");
    auto s = connect();
    auto a = join("client-a", Dialect::New);
    ASSERT_TRUE(a);
    EXPECT_TRUE(s->wait_closed(3000));
    EXPECT_EQ(counter(Counter::handshake_timeout), 1u);
    EXPECT_EQ(keepalive(*a, "client-a", Dialect::New).identity, "client-a");
}

TEST_F(Robust, SilentClientIsDroppedAfterTheIdleTimeout) {
    start("  keepalive_interval: 0.2\n  idle_timeout: 0.6\n");
    auto a = join("client-a", Dialect::New);
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->wait_closed(3000));
    EXPECT_EQ(counter(Counter::idle_timeout), 1u);
}

TEST_F(Robust, AClientThatNeverReadsIsDroppedWithoutSlowingOthers) {
    start("  output_queue_bytes: 131072\n  keepalive_interval: 1\n  idle_timeout: 60\n");
    auto slow = join("client-c", Dialect::New);
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(slow && a && b);
    // Shrink the slow client's receive buffer so the kernel fills up quickly.
    int small = 4096;
    setsockopt(slow->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    auto flood = ipv4_packet("10.0.1.2", "10.0.1.4", 1400);
    auto frame = a->seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(flood.data()), flood.size()));
    std::vector<uint8_t> many;
    for (int i = 0; i < 100; ++i) many.insert(many.end(), frame->begin(), frame->end());
    for (int round = 0; round < 60 && counter(Counter::slow_client_disconnect) == 0; ++round) {
        ASSERT_TRUE(a->send_raw(many.data(), many.size()).ok());
        // a keeps reaching b while c's queue is full.
        auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3");
        ASSERT_TRUE(a->send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).ok());
        auto got = b->recv(2000);
        ASSERT_TRUE(got.ok()) << "round " << round << ": " << got.error();
        EXPECT_EQ(got->plaintext, pkt);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_GT(counter(Counter::data_outq_full), 0u);
    EXPECT_TRUE(wait_counter(Counter::slow_client_disconnect, 1, 5000));
    auto st = command("{\"cmd\":\"client\",\"identity\":\"client-c\"}");
    EXPECT_NE(st.find("\"online\":false"), std::string::npos) << st;
}

TEST_F(Robust, HandshakeRateLimitPerSource) {
    start("  handshake_rate_per_source: 3\n");
    std::vector<std::unique_ptr<FrameStream>> conns;
    for (int i = 0; i < 10; ++i) conns.push_back(connect());
    EXPECT_TRUE(wait_counter(Counter::handshake_rate_limited, 5));
}

}  // namespace
}  // namespace rustun::cp::test
