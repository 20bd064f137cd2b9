// Denial-of-service and replay defences of the TCP side (docs/controlplane.md, "Connections
// without a Handshake" and "Handshake replay"), and clusters that share a key.
#include <arpa/inet.h>
#include <dirent.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "admission.hpp"
#include "harness.hpp"
#include "membership.hpp"

namespace rustun::cp::test {
namespace {

using namespace std::chrono_literals;

// A blocking TCP connection from `src_ip` (port chosen by the kernel) to 127.0.0.1:port; -1 on
// failure.
int connect_from(const char* src_ip, uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, src_ip, &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) < 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) < 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// True if the peer closed `fd` (EOF or reset) within `ms`.
bool closed_within(int fd, int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
        int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count());
        if (left < 0) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, left) <= 0) return false;
        char buf[4096];
        ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return true;
    }
}

bool send_all(int fd, const void* data, size_t len) {
    auto* p = static_cast<const uint8_t*>(data);
    while (len) {
        ssize_t w = ::send(fd, p, len, MSG_NOSIGNAL);
        if (w <= 0) return false;
        p += w;
        len -= static_cast<size_t>(w);
    }
    return true;
}

std::string_view as_text(const std::vector<uint8_t>& v) {
    return {reinterpret_cast<const char*>(v.data()), v.size()};
}

class Security : public GatewayFixture {
protected:
    // A client that handshakes with bytes we keep (to replay them).
    std::unique_ptr<FrameStream> join_keeping_bytes(const std::string& identity, std::vector<uint8_t>& hs_bytes) {
        auto s = connect();
        if (!s) return nullptr;
        Handshake hs;
        hs.identity = identity;
        std::string body;
        encode_handshake(hs, Shape::New, body);
        auto f = s->seal_frame(FrameType::Handshake, body);
        EXPECT_TRUE(f.ok());
        if (!f.ok()) return nullptr;
        hs_bytes = f.value();
        EXPECT_TRUE(s->send_raw(hs_bytes.data(), hs_bytes.size()).ok());
        auto r = s->recv(3000);
        EXPECT_TRUE(r.ok() && r->frame_type() == FrameType::HandshakeReply) << (r.ok() ? "" : r.error());
        return r.ok() ? std::move(s) : nullptr;
    }

    // Starts the gateway on a complete YAML text.
    void start_yaml(const std::string& yaml) {
        write_config(yaml);
        auto cfg = load_config_file(config_path_);
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        gw_ = std::make_unique<Gateway>(std::move(cfg.value()), config_path_);
        Status st = gw_->start();
        ASSERT_TRUE(st.ok()) << st.error();
    }

    // The gateway's side of the client connection `client_fd` (same process: search our fds).
    int server_fd_of(int client_fd) {
        sockaddr_storage local{};
        socklen_t ll = sizeof local;
        getsockname(client_fd, reinterpret_cast<sockaddr*>(&local), &ll);
        DIR* d = opendir("/proc/self/fd");
        int found = -1;
        while (dirent* e = readdir(d)) {
            int fd = atoi(e->d_name);
            if (fd == client_fd || e->d_name[0] == '.') continue;
            sockaddr_storage peer{};
            socklen_t pl = sizeof peer;
            if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0 || pl != ll) continue;
            if (std::memcmp(&peer, &local, ll) == 0) found = fd;
        }
        closedir(d);
        return found;
    }
};

// --- Item: a captured Handshake must not evict the real client ------------------------------

TEST_F(Security, ReplayedHandshakeNeverClosesTheSession) {
    start();
    std::vector<uint8_t> captured;
    auto a = join_keeping_bytes("client-a", captured);
    ASSERT_TRUE(a);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(b);
    for (int i = 0; i < 3; ++i) {
        // The captured bytes, sent from another address and connection.
        int fd = connect_from(("127.0.0." + std::to_string(2 + i)).c_str(), gw_->tcp_port());
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_all(fd, captured.data(), captured.size()));
        EXPECT_TRUE(closed_within(fd, 3000)) << "replay " << i << " was not refused";
        ::close(fd);
        EXPECT_TRUE(wait_counter(Counter::handshake_replayed, static_cast<uint64_t>(i + 1)));
        // The victim's session is untouched: its KeepAlive is answered, relay works both ways.
        EXPECT_EQ(keepalive(*a, "client-a", Dialect::New).identity, "client-a") << "after replay " << i;
        auto pkt = ipv4_packet("10.0.1.3", "10.0.1.2");
        ASSERT_TRUE(b->send(FrameType::Data, as_text(pkt)).ok());
        auto got = a->recv(3000);
        ASSERT_TRUE(got.ok()) << "after replay " << i << ": " << got.error();
        EXPECT_EQ(got->plaintext, pkt);
    }
    EXPECT_EQ(counter(Counter::handshake_replayed), 3u);
    EXPECT_EQ(counter(Counter::duplicate_identity_replaced), 0u);
    auto st = command("{\"cmd\":\"client\",\"identity\":\"client-a\"}");
    EXPECT_NE(st.find("\"online\":true"), std::string::npos) << st;
    // A genuine new Handshake (fresh nonce) still replaces the session: a client that lost its
    // connection can always come back.
    auto again = join("client-a", Dialect::New);
    ASSERT_TRUE(again);
    EXPECT_TRUE(a->wait_closed(3000));
    EXPECT_EQ(counter(Counter::duplicate_identity_replaced), 1u);
}

TEST_F(Security, ReplayCacheSurvivesAReloadAndIsBounded) {
    start();
    std::vector<uint8_t> captured;
    auto a = join_keeping_bytes("client-a", captured);
    ASSERT_TRUE(a);
    EXPECT_NE(command("{\"cmd\":\"reload\"}").find("\"ok\":true"), std::string::npos);
    auto r = connect();
    ASSERT_TRUE(r->send_raw(captured.data(), captured.size()).ok());
    EXPECT_TRUE(r->wait_closed(3000));
    EXPECT_EQ(counter(Counter::handshake_replayed), 1u);
    EXPECT_EQ(keepalive(*a, "client-a", Dialect::New).identity, "client-a");
    // The cache holds the configured identities that handshook, each with a bounded ring.
    HandshakeNonces n;
    HandshakeNonces::Nonce first{};
    first[0] = 1;
    n.record("x", first);
    EXPECT_TRUE(n.seen("x", first));
    EXPECT_FALSE(n.seen("y", first));
    for (size_t i = 0; i < HandshakeNonces::kPerIdentity; ++i) {
        HandshakeNonces::Nonce k{};
        k[1] = static_cast<uint8_t>(i + 1);
        n.record("x", k);
    }
    EXPECT_FALSE(n.seen("x", first));  // pushed out by kPerIdentity newer ones
    n.retain([](const std::string& id) { return id != "x"; });
    EXPECT_EQ(n.identities(), 0u);
}

TEST_F(Security, UnauthenticatedFramesDoNotExtendTheIdleTimeout) {
    start("  keepalive_interval: 0.2\n  idle_timeout: 0.6\n");
    auto a = join("client-a", Dialect::New);
    ASSERT_TRUE(a);
    // Frames anyone on the path could inject: an unknown type and a type a client never sends.
    const uint8_t unknown[] = {0x91, 0x92, 0x93, 0x94, 0x01, 0x08, 0x00, 0x03, 1, 2, 3};
    const uint8_t reply[] = {0x91, 0x92, 0x93, 0x94, 0x01, 0x04, 0x00, 0x03, 1, 2, 3};  // HandshakeReply
    bool closed = false;
    for (int i = 0; i < 30 && !closed; ++i) {  // 3 s of chatter, 5x the idle timeout
        if (!a->send_raw(i % 2 ? unknown : reply, sizeof unknown).ok()) break;
        closed = a->wait_closed(100);
    }
    EXPECT_TRUE(closed) << "the chatter kept the connection open";
    EXPECT_TRUE(wait_counter(Counter::idle_timeout, 1));
    EXPECT_GE(counter(Counter::unexpected_type_ignored), 1u);
    EXPECT_GE(counter(Counter::unknown_type_skipped), 1u);
}

TEST_F(Security, AuthenticatedFramesKeepTheConnectionAlive) {
    start("  keepalive_interval: 0.2\n  idle_timeout: 0.6\n");
    auto a = join("client-a", Dialect::New);
    ASSERT_TRUE(a);
    auto pkt = ipv4_packet("10.0.1.2", "10.0.1.77");  // no route: dropped, but authenticated
    for (int i = 0; i < 15; ++i) {
        ASSERT_TRUE(a->send(FrameType::Data, as_text(pkt)).ok());
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(keepalive(*a, "client-a", Dialect::New).identity, "client-a");
    EXPECT_EQ(counter(Counter::idle_timeout), 0u);
}

// --- Item: a few addresses must not lock out every new client --------------------------------

TEST_F(Security, IdleConnectionFloodFrom40SourcesDoesNotLockOutClients) {
    // Caps lowered so that 40 sources overflow the worker's slots quickly.
    start("  handshake_pending_max: 100\n  handshake_pending_per_source: 4\n"
          "  handshake_timeout: 60\n  first_byte_timeout: 60\n");
    const uint16_t port = gw_->tcp_port();
    std::vector<int> held;
    // One address alone gets handshake_pending_per_source slots, the rest is refused.
    for (int i = 0; i < 6; ++i) {
        int fd = connect_from("127.0.0.2", port);
        ASSERT_GE(fd, 0) << strerror(errno);
        held.push_back(fd);
    }
    EXPECT_TRUE(wait_counter(Counter::handshake_pending_source_full, 2));
    // 40 sources, 6 silent connections each: more than the 100 slots, so the oldest are evicted.
    for (int round = 0; round < 6; ++round) {
        for (int s = 0; s < 40; ++s) {
            int fd = connect_from(("127.0.0." + std::to_string(2 + s)).c_str(), port);
            ASSERT_GE(fd, 0) << strerror(errno);
            held.push_back(fd);
        }
    }
    EXPECT_TRUE(wait_counter(Counter::handshake_pending_evicted, 60));
    // The flood goes on while a legitimate client joins.
    std::atomic<bool> stop{false};
    std::thread flood([&] {
        std::deque<int> mine;
        for (int i = 0; !stop; ++i) {
            int fd = connect_from(("127.0.0." + std::to_string(2 + i % 40)).c_str(), port);
            if (fd >= 0) mine.push_back(fd);
            if (mine.size() > 200) {
                ::close(mine.front());
                mine.pop_front();
            }
            std::this_thread::sleep_for(200us);
        }
        for (int fd : mine) ::close(fd);
    });
    std::this_thread::sleep_for(100ms);
    for (int attempt = 0; attempt < 3; ++attempt) {
        auto t0 = std::chrono::steady_clock::now();
        auto a = join(attempt == 1 ? "client-b" : "client-a", Dialect::New);
        auto took = std::chrono::steady_clock::now() - t0;
        ASSERT_TRUE(a) << "attempt " << attempt;
        EXPECT_LT(took, 1s) << "attempt " << attempt;
        EXPECT_EQ(keepalive(*a, attempt == 1 ? "client-b" : "client-a", Dialect::New).peer_details.size(), 2u);
    }
    stop = true;
    flood.join();
    for (int fd : held) ::close(fd);
    EXPECT_GE(counter(Counter::handshake_ok), 3u);
}

TEST_F(Security, SilentConnectionsCloseAfterTheFirstByteTimeout) {
    start("  first_byte_timeout: 0.3\n  handshake_timeout: 20\n");
    int silent = connect_from("127.0.0.2", gw_->tcp_port());
    ASSERT_GE(silent, 0);
    // One that sent a partial Handshake is held to handshake_timeout instead.
    int partial = connect_from("127.0.0.3", gw_->tcp_port());
    ASSERT_GE(partial, 0);
    const uint8_t half[] = {0x91, 0x92, 0x93};
    ASSERT_TRUE(send_all(partial, half, sizeof half));
    EXPECT_TRUE(closed_within(silent, 3000));
    EXPECT_EQ(counter(Counter::first_byte_timeout), 1u);
    EXPECT_FALSE(closed_within(partial, 300));
    ::close(silent);
    ::close(partial);
}

TEST_F(Security, PendingSourcesCapsPerAddressAndPerIPv6Prefix) {
    auto v6 = [](const char* text) {
        sockaddr_storage ss{};
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, text, &a->sin6_addr);
        return ss;
    };
    auto v4 = [](const char* text) {
        sockaddr_storage ss{};
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        inet_pton(AF_INET, text, &a->sin_addr);
        return ss;
    };
    using A = PendingSources::Admit;
    PendingSources p;
    // Per address: 2.
    EXPECT_EQ(p.admit(v4("192.0.2.1"), 2, 3), A::Ok);
    EXPECT_EQ(p.admit(v4("192.0.2.1"), 2, 3), A::Ok);
    EXPECT_EQ(p.admit(v4("192.0.2.1"), 2, 3), A::SourceFull);
    // The IPv4-mapped form is the same address.
    EXPECT_EQ(p.admit(v6("::ffff:192.0.2.1"), 2, 3), A::SourceFull);
    EXPECT_EQ(p.admit(v4("192.0.2.2"), 2, 3), A::Ok);
    // Per /64: 3 whatever the interface identifiers.
    EXPECT_EQ(p.admit(v6("2001:db8:0:1::1"), 2, 3), A::Ok);
    EXPECT_EQ(p.admit(v6("2001:db8:0:1::2"), 2, 3), A::Ok);
    EXPECT_EQ(p.admit(v6("2001:db8:0:1:ffff::3"), 2, 3), A::Ok);
    EXPECT_EQ(p.admit(v6("2001:db8:0:1::4"), 2, 3), A::PrefixFull);
    EXPECT_EQ(p.admit(v6("2001:db8:0:2::4"), 2, 3), A::Ok);  // another /64
    p.release(v6("2001:db8:0:1::2"));
    EXPECT_EQ(p.admit(v6("2001:db8:0:1::4"), 2, 3), A::Ok);
    // 0 = no limit.
    for (int i = 0; i < 10; ++i) EXPECT_EQ(p.admit(v4("192.0.2.9"), 0, 0), A::Ok);
    EXPECT_EQ(p.count_of_source(v4("192.0.2.9")), 10u);
    for (int i = 0; i < 10; ++i) p.release(v4("192.0.2.9"));
    EXPECT_EQ(p.count_of_source(v4("192.0.2.9")), 0u);
    // Releasing everything leaves no entry behind.
    p.release(v4("192.0.2.1"));
    p.release(v4("192.0.2.1"));
    p.release(v4("192.0.2.2"));
    for (const char* a : {"2001:db8:0:1::1", "2001:db8:0:1:ffff::3", "2001:db8:0:1::4", "2001:db8:0:2::4"}) p.release(v6(a));
    EXPECT_EQ(p.sources(), 0u);
    EXPECT_EQ(p.prefixes(), 0u);
}

// --- Item: no read() on a descriptor closed in the middle of a turn --------------------------

// A client's read fills the worker's whole input arena; its first Data frame fails
// authentication, so the batch processed to free the arena closes the connection. The worker must
// not read that descriptor again (it is closed, and its number may already be another socket's).
TEST_F(Security, NoReadOnAConnectionClosedMidBatch) {
    start("  output_queue_bytes: 65543\n");
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    int srv = server_fd_of(a->fd());
    ASSERT_GE(srv, 0);
    // Room for more than the worker's 4 MiB arena in the gateway's receive buffer.
    int big = 32 << 20;
    if (setsockopt(srv, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
        setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(a->fd(), SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
    // One frame that fails authentication, then enough valid ones to fill the arena.
    auto pkt = ipv4_packet("10.0.1.2", "10.0.1.77", 16000);
    auto bad = a->seal_frame(FrameType::Data, as_text(pkt));
    ASSERT_TRUE(bad.ok());
    bad->back() ^= 1;
    std::vector<uint8_t> stream = bad.value();
    while (stream.size() < (6u << 20)) {
        auto f = a->seal_frame(FrameType::Data, as_text(pkt));
        stream.insert(stream.end(), f->begin(), f->end());
    }
    // Hold the worker (it takes the state mutex at least every 250 ms) while the bytes queue up.
    std::thread writer;
    int queued = 0;
    {
        MutexLock stall(gw_->state_mutex());
        std::this_thread::sleep_for(400ms);
        writer = std::thread([&] { send_all(a->fd(), stream.data(), stream.size()); });
        for (int i = 0; i < 300; ++i) {
            ioctl(srv, SIOCINQ, &queued);
            if (queued > (4 << 20) + (128 << 10)) break;
            std::this_thread::sleep_for(10ms);
        }
    }
    const bool arena_filled = queued > (4 << 20) + (128 << 10);
    if (arena_filled) {
        EXPECT_TRUE(wait_counter(Counter::decrypt_failed, 1));
        EXPECT_TRUE(a->wait_closed(3000));
        // A read on the closed descriptor would fail with EBADF (or take another socket's bytes).
        EXPECT_EQ(counter(Counter::read_error), 0u);
        EXPECT_EQ(keepalive(*b, "client-b", Dialect::New).identity, "client-b");
    }
    ::shutdown(a->fd(), SHUT_RDWR);  // ends the writer whatever happened
    writer.join();
    if (!arena_filled) GTEST_SKIP() << "could not queue 4 MiB in one socket (" << queued << " bytes)";
}

// --- Item: clusters that share a key ----------------------------------------------------------

// Three clusters on the reference's single key (one of them naming it explicitly): each client
// lands in the cluster of its identity and sees only that cluster's peers.
TEST_F(Security, ClustersSharingOneKeyAreDecidedByIdentity) {
    auto client = [](const char* id, const char* ip) {
        return std::string("      - {identity: ") + id + ", name: " + id + ", private_ip: " + ip +
               ", mask: 255.255.255.0, gateway: 10.0.1.254, ciders: []}\n";
    };
    std::string y = "listen:\n  tcp: 127.0.0.1:0\ncrypto: chacha20:rustun\ncontrol_socket: " + socket_path_ +
                    "\ncontrolplane:\n  workers: 1\n  handshake_rate_per_source: 0\nclusters:\n"
                    "  - name: one\n    clients:\n" + client("one-a", "10.0.1.2") + client("one-b", "10.0.1.3") +
                    "  - name: two\n    crypto: chacha20:rustun\n    clients:\n" + client("two-a", "10.0.1.2") +
                    client("two-b", "10.0.1.3") +
                    "  - name: three\n    clients:\n" + client("three-a", "10.0.1.2") + client("three-b", "10.0.1.3");
    start_yaml(y);
    for (const char* cl : {"one", "two", "three"}) {
        const std::string a_id = std::string(cl) + "-a", b_id = std::string(cl) + "-b";
        HandshakeReply ra;
        auto a = join(a_id, Dialect::New, &ra);
        auto b = join(b_id, Dialect::New);
        ASSERT_TRUE(a && b) << cl;
        ASSERT_EQ(ra.peers.size(), 1u) << cl;
        EXPECT_EQ(ra.peers[0].identity, b_id);
        auto st = command("{\"cmd\":\"client\",\"identity\":\"" + a_id + "\"}");
        EXPECT_NE(st.find("\"cluster\":\"" + std::string(cl) + "\""), std::string::npos) << st;
        KeepAlive k = keepalive(*b, b_id, Dialect::New);
        ASSERT_EQ(k.peer_details.size(), 1u) << cl;
        EXPECT_EQ(k.peer_details[0].identity, a_id);
        // 10.0.1.2 exists in every cluster: b's packet reaches its own cluster's a only.
        auto pkt = ipv4_packet("10.0.1.3", "10.0.1.2");
        ASSERT_TRUE(b->send(FrameType::Data, as_text(pkt)).ok());
        auto got = a->recv(3000);
        ASSERT_TRUE(got.ok()) << cl << ": " << got.error();
        EXPECT_EQ(got->plaintext, pkt);
    }
    // --check-config's warning names the clusters that share the key.
    auto cfg = load_config_file(config_path_);
    ASSERT_TRUE(cfg.ok());
    auto groups = clusters_sharing_a_key(cfg.value());
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0], (std::vector<std::string>{"one", "two", "three"}));
    auto lines = shared_key_warnings(cfg.value());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("'one', 'two', 'three'"), std::string::npos) << lines[0];
    EXPECT_EQ(lines[0].find("rustun"), std::string::npos) << "the key itself is never printed";
}

}  // namespace
}  // namespace rustun::cp::test
