// The TCP relay session against a loopback "gateway" on a fake clock: handshake, frames from the
// gateway, KeepAlive schedule, liveness, failures, the reconnect back-off and the failover across
// several server addresses.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "client_test_util.hpp"
#include "proto/messages.hpp"
#include "tcp_session.hpp"

using namespace rustun;
using namespace rustun::client;
using namespace rustun::client::test;

namespace {

// A TCP listener on 127.0.0.1 (any port) that accepts one connection and speaks frames.
struct FakeGateway {
    int listen_fd = -1, conn = -1;
    uint16_t port = 0;
    FakeGateway() {
        listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(listen_fd, 4), 0);
        socklen_t len = sizeof a;
        ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~FakeGateway() {
        if (conn >= 0) ::close(conn);
        ::close(listen_fd);
    }
    bool accept_one() {
        pollfd p{listen_fd, POLLIN, 0};
        if (::poll(&p, 1, 1000) != 1) return false;
        conn = ::accept(listen_fd, nullptr, nullptr);
        return conn >= 0;
    }
    void send(const std::vector<uint8_t>& frame) { ASSERT_EQ(::send(conn, frame.data(), frame.size(), 0), (ssize_t)frame.size()); }
    // Reads one frame (header + payload) within 1 s.
    std::optional<std::vector<uint8_t>> read_frame() {
        std::vector<uint8_t> buf;
        auto need = [&](size_t n) {
            while (buf.size() < n) {
                pollfd p{conn, POLLIN, 0};
                if (::poll(&p, 1, 200) != 1) return false;
                uint8_t tmp[4096];
                ssize_t r = ::recv(conn, tmp, std::min(sizeof tmp, n - buf.size()), 0);
                if (r <= 0) return false;
                buf.insert(buf.end(), tmp, tmp + r);
            }
            return true;
        };
        if (!need(kFrameHeaderSize)) return std::nullopt;
        FrameHeader h;
        if (decode_header(std::span<const uint8_t>(buf.data(), buf.size()), h) != HeaderStatus::Ok) return std::nullopt;
        if (!need(h.frame_size())) return std::nullopt;
        return buf;
    }
};

uint16_t closed_port() {
    FakeGateway g;
    return g.port;  // closed when g goes
}

class TcpSessionTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(sealer_.init(kTestCrypto).ok());
        ASSERT_TRUE(poller_.open().ok());
    }
    TcpSessionConfig config(uint16_t port) {
        return TcpSessionConfig{{ServerAddress{"127.0.0.1", port}}, "client-a", 10000, 5};
    }
    // Delivers the session's socket events for up to `ms`.
    void pump(TcpSession& s, int ms = 100) {
        for (int waited = 0; waited < ms; waited += 5) {
            epoll_event evs[4];
            const int n = poller_.wait(evs, 4, 5);
            for (int i = 0; i < n; ++i) {
                ASSERT_EQ(Poller::source(evs[i].data.u64), Source::Tcp);
                s.on_events(evs[i].events);
            }
        }
    }
    std::string body_of(const std::vector<uint8_t>& frame, FrameType want) {
        auto f = open_frame(sealer_, frame);
        EXPECT_TRUE(f.has_value());
        EXPECT_EQ(f->type, want);
        return f ? f->plain : "";
    }
    // Connects `s` to `gw` and completes the handshake.
    void establish(TcpSession& s, FakeGateway& gw) {
        s.tick(clock_.mono_ms());
        ASSERT_EQ(s.state(), TcpState::Connecting);
        ASSERT_TRUE(gw.accept_one());
        pump(s);
        ASSERT_EQ(s.state(), TcpState::Handshaking);
        auto hs = gw.read_frame();
        ASSERT_TRUE(hs.has_value());
        EXPECT_EQ(body_of(*hs, FrameType::Handshake), R"({"identity":"client-a","ipv6":"","port":0})");
        HandshakeReply r;
        r.private_ip = "10.0.1.2";
        r.mask = "255.255.255.0";
        r.gateway = "10.0.1.254";
        std::string body;
        encode_handshake_reply(r, ReplyShape::Old, body);
        gw.send(seal_frame(sealer_, FrameType::HandshakeReply, body));
        pump(s);
        ASSERT_EQ(s.state(), TcpState::Established);
    }

    FakeClock clock_;
    Poller poller_;
    FrameSealer sealer_;
    Counters ctr_;
    AdvertisedAddress self_{"", 0, R"({"identity":"client-a","ipv6":"","port":0})"};
    RecordingGateway events_;
};

}  // namespace

TEST_F(TcpSessionTest, HandshakeThenFramesFromTheGateway) {
    FakeGateway gw;
    TcpSession s(config(gw.port), clock_, poller_, sealer_, ctr_, self_, events_);
    establish(s, gw);
    ASSERT_EQ(events_.replies.size(), 1u);
    EXPECT_EQ(events_.replies[0].private_ip, "10.0.1.2");

    gw.send(seal_frame(sealer_, FrameType::Data, ipv4_packet(0x0A000103, 0x0A000102)));
    KeepAlive reply;
    reply.identity = "gw";
    reply.peer_details = {PeerDetail{}};
    reply.peer_details[0].identity = "client-b";
    reply.has_peer_details = true;
    std::string body;
    encode_keepalive(reply, Shape::New, body);
    gw.send(seal_frame(sealer_, FrameType::KeepAlive, body));
    body.clear();
    encode_peer_update(PeerUpdate{"client-b", "172.31.77.12", 51258}, body);
    gw.send(seal_frame(sealer_, FrameType::PeerUpdate, body));
    pump(s);
    EXPECT_EQ(events_.data.size(), 1u);
    EXPECT_EQ(ctr_.get(Ctr::tcp_data_rx), 1u);
    ASSERT_EQ(events_.details.size(), 1u);
    EXPECT_EQ(events_.details[0][0].identity, "client-b");
    ASSERT_EQ(events_.updates.size(), 1u);
    EXPECT_EQ(events_.updates[0].port, 51258);
}

TEST_F(TcpSessionTest, KeepAliveRightAfterTheHandshakeThenEveryInterval) {
    FakeGateway gw;
    TcpSession s(config(gw.port), clock_, poller_, sealer_, ctr_, self_, events_);
    establish(s, gw);
    s.tick(clock_.mono_ms());
    auto ka = gw.read_frame();
    ASSERT_TRUE(ka.has_value());
    EXPECT_EQ(body_of(*ka, FrameType::KeepAlive), self_.keepalive_body);
    clock_.advance_ms(9999);
    gw.send(seal_frame(sealer_, FrameType::KeepAlive, std::string(R"({"identity":"gw","ipv6":"","port":0})")));
    pump(s);  // liveness
    s.tick(clock_.mono_ms());
    EXPECT_FALSE(gw.read_frame().has_value());
    clock_.advance_ms(1);
    s.tick(clock_.mono_ms());
    EXPECT_TRUE(gw.read_frame().has_value());
    EXPECT_EQ(ctr_.get(Ctr::keepalive_tx), 2u);
    EXPECT_EQ(ctr_.get(Ctr::keepalive_rx), 1u);
}

TEST_F(TcpSessionTest, SilenceFailsTheSessionAndBackoffRestarts) {
    FakeGateway gw;
    TcpSession s(config(gw.port), clock_, poller_, sealer_, ctr_, self_, events_);
    establish(s, gw);
    // threshold 5, interval 10 s: silence for more than 40 s fails.
    clock_.advance_ms(40000);
    s.tick(clock_.mono_ms());
    EXPECT_EQ(s.state(), TcpState::Established);
    clock_.advance_ms(1);
    s.tick(clock_.mono_ms());
    EXPECT_EQ(s.state(), TcpState::Backoff);
    EXPECT_EQ(s.next_connect_ms(), clock_.mono_ms() + kBackoffStartMs);
}

TEST_F(TcpSessionTest, WrongKeyFailsTheSession) {
    FakeGateway gw;
    TcpSession s(config(gw.port), clock_, poller_, sealer_, ctr_, self_, events_);
    establish(s, gw);
    FrameSealer other;
    ASSERT_TRUE(other.init("chacha20:another-key").ok());
    gw.send(seal_frame(other, FrameType::Data, ipv4_packet(1, 2)));
    pump(s);
    EXPECT_EQ(s.state(), TcpState::Backoff);
    EXPECT_TRUE(events_.data.empty());
}

TEST_F(TcpSessionTest, HandshakeDeadline) {
    FakeGateway gw;
    TcpSession s(config(gw.port), clock_, poller_, sealer_, ctr_, self_, events_);
    s.tick(clock_.mono_ms());
    ASSERT_TRUE(gw.accept_one());
    pump(s);
    ASSERT_EQ(s.state(), TcpState::Handshaking);
    clock_.advance_ms(kHandshakeTimeoutMs - 1);
    s.tick(clock_.mono_ms());
    EXPECT_EQ(s.state(), TcpState::Handshaking);
    clock_.advance_ms(1);
    s.tick(clock_.mono_ms());
    EXPECT_EQ(s.state(), TcpState::Backoff);
}

TEST_F(TcpSessionTest, RefusedConnectsBackOffDoublingToTheCap) {
    TcpSession s(config(closed_port()), clock_, poller_, sealer_, ctr_, self_, events_);
    uint64_t expect_wait = kBackoffStartMs;
    for (int attempt = 0; attempt < 7; ++attempt) {
        s.tick(clock_.mono_ms());
        if (s.state() == TcpState::Connecting) pump(s);  // the refusal arrives as an event
        ASSERT_EQ(s.state(), TcpState::Backoff) << "attempt " << attempt;
        EXPECT_EQ(s.next_connect_ms(), clock_.mono_ms() + expect_wait);
        clock_.advance_ms(expect_wait - 1);
        s.tick(clock_.mono_ms());
        EXPECT_EQ(s.state(), TcpState::Backoff);  // not yet
        clock_.advance_ms(1);
        expect_wait = std::min(expect_wait * 2, kBackoffMaxMs);
    }
    EXPECT_EQ(expect_wait, kBackoffMaxMs);
}

// --server A,B: a refused first address moves on to the second after the back-off; a session lost
// there moves back to the first; the back-off doubles only when a whole round of addresses failed.
TEST_F(TcpSessionTest, FailsOverToTheNextAddressAndDoublesOnlyPerRound) {
    FakeGateway gw;
    const uint16_t dead = closed_port();
    TcpSessionConfig cfg{{ServerAddress{"127.0.0.1", dead}, ServerAddress{"127.0.0.1", gw.port}}, "client-a", 10000, 5};
    TcpSession s(std::move(cfg), clock_, poller_, sealer_, ctr_, self_, events_);
    EXPECT_EQ(s.server_index(), 0u);
    s.tick(clock_.mono_ms());
    if (s.state() == TcpState::Connecting) pump(s);
    ASSERT_EQ(s.state(), TcpState::Backoff);
    EXPECT_EQ(s.server_index(), 1u);
    EXPECT_EQ(s.failovers(), 1u);
    EXPECT_EQ(ctr_.get(Ctr::server_failovers), 1u);
    EXPECT_EQ(s.next_connect_ms(), clock_.mono_ms() + kBackoffStartMs);
    EXPECT_EQ(s.backoff_ms(), kBackoffStartMs);  // the round (A, B) is not over yet
    clock_.advance_ms(kBackoffStartMs);
    establish(s, gw);
    EXPECT_EQ(s.server().port, gw.port);

    // The gateway dies: the session moves to the first address after 1 s (a lost session resets
    // the back-off and starts a round at B); A refuses, B is next, 1 s later; the round is over.
    ::close(gw.conn);
    gw.conn = -1;
    pump(s);
    ASSERT_EQ(s.state(), TcpState::Backoff);
    EXPECT_EQ(s.server_index(), 0u);
    EXPECT_EQ(s.failovers(), 2u);
    EXPECT_EQ(s.next_connect_ms(), clock_.mono_ms() + kBackoffStartMs);
    clock_.advance_ms(kBackoffStartMs);
    s.tick(clock_.mono_ms());
    if (s.state() == TcpState::Connecting) pump(s);
    ASSERT_EQ(s.state(), TcpState::Backoff);
    EXPECT_EQ(s.server_index(), 1u);
    EXPECT_EQ(s.next_connect_ms(), clock_.mono_ms() + kBackoffStartMs);  // B is tried 1 s later
    EXPECT_EQ(s.backoff_ms(), 2 * kBackoffStartMs);                      // the round (A, B) is over
}

TEST_F(TcpSessionTest, KeepAliveSilenceFailsOver) {
    FakeGateway a, b;
    TcpSessionConfig cfg{{ServerAddress{"127.0.0.1", a.port}, ServerAddress{"127.0.0.1", b.port}}, "client-a", 10000, 5};
    TcpSession s(std::move(cfg), clock_, poller_, sealer_, ctr_, self_, events_);
    establish(s, a);
    clock_.advance_ms(40001);
    s.tick(clock_.mono_ms());
    ASSERT_EQ(s.state(), TcpState::Backoff);
    EXPECT_EQ(s.server_index(), 1u);
    clock_.advance_ms(kBackoffStartMs);
    establish(s, b);
    EXPECT_EQ(events_.replies.size(), 2u);  // the second gateway's reply is applied
    EXPECT_EQ(s.failovers(), 1u);
}

TEST_F(TcpSessionTest, OneAddressNeverCountsAFailover) {
    TcpSession s(config(closed_port()), clock_, poller_, sealer_, ctr_, self_, events_);
    s.tick(clock_.mono_ms());
    if (s.state() == TcpState::Connecting) pump(s);
    ASSERT_EQ(s.state(), TcpState::Backoff);
    EXPECT_EQ(s.failovers(), 0u);
    EXPECT_EQ(ctr_.get(Ctr::server_failovers), 0u);
}
