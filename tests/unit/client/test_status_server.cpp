// The status endpoints never block the event loop: a reader that does not read gets its answer
// in pieces as it drains the socket, other connections are served meanwhile, and a connection
// not done within the deadline is closed. Unix socket in a temporary directory, HTTP on
// 127.0.0.1 (any port); no root needed.
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "client_test_util.hpp"
#include "status_server.hpp"

using namespace rustun;
using namespace rustun::client;
using rustun::client::test::FakeClock;

namespace {

struct FakeSource final : StatusSource {
    std::string doc = "{\"identity\":\"client-a\"}\n";
    bool up = false;
    int calls = 0;
    std::string status_json() override {
        ++calls;
        return doc;
    }
    bool connected() const override { return up; }
};

class StatusServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/rustun-status-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/status.sock";
        ASSERT_TRUE(poller_.open().ok());
    }
    void TearDown() override {
        server_.close_all();
        ::rmdir(dir_.c_str());
    }

    // Runs the server's share of an event loop for up to `ms` milliseconds (0: what is ready).
    void pump(int ms = 0) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        do {
            epoll_event evs[16];
            const int n = poller_.wait(evs, 16, ms ? 5 : 0);
            for (int i = 0; i < n; ++i) {
                const uint64_t t = evs[i].data.u64;
                switch (Poller::source(t)) {
                    case Source::StatusUnix: server_.on_unix_listener(); break;
                    case Source::StatusHttp: server_.on_http_listener(); break;
                    case Source::StatusConn: server_.on_connection(Poller::index(t), evs[i].events); break;
                    default: ADD_FAILURE() << "unexpected source";
                }
            }
        } while (std::chrono::steady_clock::now() < end);
    }

    int connect_unix() {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un su{};
        su.sun_family = AF_UNIX;
        snprintf(su.sun_path, sizeof su.sun_path, "%s", path_.c_str());
        EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&su), sizeof su), 0);
        return fd;
    }
    int connect_http() {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(server_.http_port());
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        return fd;
    }
    // Reads to EOF, pumping the server while waiting.
    std::string read_all(int fd) {
        std::string got;
        char buf[65536];
        for (int spins = 0; spins < 20000; ++spins) {
            pump();
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 2) <= 0) continue;
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            got.append(buf, (size_t)n);
        }
        ::close(fd);
        return got;
    }

    std::string dir_, path_;
    FakeClock clock_;
    Poller poller_;
    FakeSource source_;
    StatusServer server_{clock_, poller_, source_};
};

}  // namespace

TEST_F(StatusServerTest, UnixSocketServesTheDocument) {
    ASSERT_TRUE(server_.open_unix(path_).ok());
    const int fd = connect_unix();
    EXPECT_EQ(read_all(fd), source_.doc);
    EXPECT_EQ(server_.open_connections(), 0u);
}

TEST_F(StatusServerTest, SlowReaderDoesNotBlockTheLoop) {
    ASSERT_TRUE(server_.open_unix(path_).ok());
    source_.doc.assign(4 << 20, 'x');  // far more than a socket buffer
    source_.doc += '\n';
    const int slow = connect_unix();
    const auto t0 = std::chrono::steady_clock::now();
    pump();  // accepts and writes what fits
    const auto spent = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(spent, std::chrono::milliseconds(200)) << "the status server blocked the loop";
    EXPECT_EQ(server_.open_connections(), 1u);  // the rest is buffered

    // Another reader is served while the slow one still has its answer pending.
    source_.doc = "small\n";
    EXPECT_EQ(read_all(connect_unix()), "small\n");
    EXPECT_EQ(server_.open_connections(), 1u);

    const std::string got = read_all(slow);
    EXPECT_EQ(got.size(), (size_t)(4 << 20) + 1);
    EXPECT_EQ(got.find_first_not_of('x'), got.size() - 1);
    EXPECT_EQ(server_.open_connections(), 0u);
}

TEST_F(StatusServerTest, ReaderPastTheDeadlineIsClosed) {
    ASSERT_TRUE(server_.open_unix(path_).ok());
    source_.doc.assign(4 << 20, 'y');
    const int fd = connect_unix();
    pump();
    ASSERT_EQ(server_.open_connections(), 1u);
    clock_.advance_ms(kStatusDeadlineMs - 1);
    server_.tick(clock_.mono_ms());
    EXPECT_EQ(server_.open_connections(), 1u);
    clock_.advance_ms(1);
    server_.tick(clock_.mono_ms());
    EXPECT_EQ(server_.open_connections(), 0u);
    ::close(fd);
}

TEST_F(StatusServerTest, ConnectionsBeyondTheLimitAreClosed) {
    ASSERT_TRUE(server_.open_unix(path_).ok());
    source_.doc.assign(1 << 20, 'z');
    std::vector<int> fds;
    for (size_t i = 0; i < kStatusMaxConnections + 1; ++i) {
        fds.push_back(connect_unix());  // one at a time: the listen backlog is 16
        pump();
    }
    EXPECT_EQ(server_.open_connections(), kStatusMaxConnections);
    // The last one was closed at once: EOF without data.
    char c;
    pollfd p{fds.back(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 1000), 1);
    EXPECT_EQ(::recv(fds.back(), &c, 1, 0), 0);
    for (int fd : fds) ::close(fd);
}

TEST_F(StatusServerTest, HttpStatusWithARequestInPieces) {
    ASSERT_TRUE(server_.open_http(0).ok());
    ASSERT_NE(server_.http_port(), 0);
    const int fd = connect_http();
    const std::string part1 = "GET /status HTTP/1.1\r\nHost: x\r\n", part2 = "\r\n";
    ASSERT_EQ(::send(fd, part1.data(), part1.size(), 0), (ssize_t)part1.size());
    pump(20);
    EXPECT_EQ(source_.calls, 0);  // incomplete head: nothing answered yet
    ASSERT_EQ(::send(fd, part2.data(), part2.size(), 0), (ssize_t)part2.size());
    const std::string got = read_all(fd);
    EXPECT_EQ(got, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(source_.doc.size()) + "\r\nConnection: close\r\n\r\n" + source_.doc);
}

TEST_F(StatusServerTest, HttpSilentConnectionClosedAtTheDeadline) {
    ASSERT_TRUE(server_.open_http(0).ok());
    const int fd = connect_http();
    pump(20);
    EXPECT_EQ(server_.open_connections(), 1u);
    clock_.advance_ms(kStatusDeadlineMs);
    server_.tick(clock_.mono_ms());
    EXPECT_EQ(server_.open_connections(), 0u);
    ::close(fd);
}

TEST(HttpResponse, HealthNotFoundAndMethod) {
    FakeSource src;
    src.up = true;
    EXPECT_EQ(http_response("GET /health HTTP/1.0\r\n\r\n", src),
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 29\r\nConnection: "
              "close\r\n\r\n{\"ok\":true,\"connected\":true}\n");
    src.up = false;
    EXPECT_NE(http_response("GET /health HTTP/1.0\n\n", src).find("{\"ok\":true,\"connected\":false}\n"),
              std::string::npos);
    EXPECT_EQ(http_response("GET /nope HTTP/1.0\r\n\r\n", src).rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
    EXPECT_EQ(http_response("POST /status HTTP/1.0\r\n\r\n", src).rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
    EXPECT_EQ(src.calls, 0);
    EXPECT_FALSE(http_request_complete("GET / HTTP/1.0\r\n"));
    EXPECT_TRUE(http_request_complete("GET / HTTP/1.0\n\n"));
}
