// The control socket under hostile or broken local clients (docs/controlplane.md, "Control
// socket"): several clients at once, deadlines, bounded answers, peer credentials.
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <string>

#include "control_socket.hpp"
#include "harness.hpp"

namespace rustun::cp::test {
namespace {

using Clock = std::chrono::steady_clock;

int unix_connect(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t w = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (w <= 0) return false;
        off += static_cast<size_t>(w);
    }
    return true;
}

// Reads one line within `ms`; "" on timeout, EOF or error.
std::string read_line(int fd, int ms) {
    std::string out;
    const auto end = Clock::now() + std::chrono::milliseconds(ms);
    char buf[65536];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
        if (left <= 0) return "";
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) return "";
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) return "";
        out.append(buf, static_cast<size_t>(r));
        auto nl = out.find('\n');
        if (nl != std::string::npos) return out.substr(0, nl);
    }
}

// True when the peer closed the connection within `ms` (data before the close is skipped).
bool wait_closed(int fd, int ms) {
    const auto end = Clock::now() + std::chrono::milliseconds(ms);
    char buf[65536];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) return true;
    }
}

class ControlSocketTest : public GatewayFixture {};

// A client that connects and never sends, and one that sends half a line, must not hold up
// `status` for another client (the old server served one connection at a time, 5 s per read).
TEST_F(ControlSocketTest, SilentAndHalfLineClientsDoNotBlockStatus) {
    start();
    int silent = unix_connect(socket_path_);
    ASSERT_GE(silent, 0);
    int half = unix_connect(socket_path_);
    ASSERT_GE(half, 0);
    ASSERT_TRUE(send_all(half, "{\"cmd\":\"sta"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (int i = 0; i < 3; ++i) {
        const auto t0 = Clock::now();
        int fd = unix_connect(socket_path_);
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_all(fd, "{\"cmd\":\"status\"}\n"));
        std::string ans = read_line(fd, 2000);  // the old server: 5 s per silent client
        EXPECT_NE(ans.find("\"ok\":true"), std::string::npos) << "answer: '" << ans << "'";
        EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(2000));
        ::close(fd);
    }
    ::close(silent);
    ::close(half);
}

// The default request deadline (5 s) closes a silent connection and counts it.
TEST_F(ControlSocketTest, SilentConnectionIsClosedAtTheRequestDeadline) {
    start();
    int fd = unix_connect(socket_path_);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "{\"cmd\":"));  // half a line, then nothing
    EXPECT_TRUE(wait_closed(fd, 7000));
    EXPECT_EQ(counter(Counter::control_request_timeout), 1u);
    ::close(fd);
}

// 65,000 nested '[' overflowed the stack of the recursive parser; now an error answer.
TEST_F(ControlSocketTest, DeepNestingIsAnErrorNotACrash) {
    start();
    int fd = unix_connect(socket_path_);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, std::string(65000, '[') + "\n"));
    EXPECT_EQ(read_line(fd, 3000), "{\"ok\":false,\"error\":\"request is not a JSON object\"}");
    ASSERT_TRUE(send_all(fd, "{\"cmd\":\"status\",\"x\":" + std::string(65000, '[') + "\n"));
    EXPECT_EQ(read_line(fd, 3000), "{\"ok\":false,\"error\":\"request nests deeper than 16 levels\"}");
    ASSERT_TRUE(send_all(fd, "{\"cmd\":\"status\"}\n"));
    EXPECT_NE(read_line(fd, 3000).find("\"ok\":true"), std::string::npos);
    ::close(fd);
    EXPECT_NE(command(std::string(65000, '{')).find("\"ok\":false"), std::string::npos);
}

TEST_F(ControlSocketTest, OversizeRequestIsRefusedAndClosed) {
    start();
    int fd = unix_connect(socket_path_);
    ASSERT_GE(fd, 0);
    send_all(fd, std::string(70000, ' '));
    EXPECT_EQ(read_line(fd, 3000), "{\"ok\":false,\"error\":\"request longer than 65536 bytes\"}");
    EXPECT_TRUE(wait_closed(fd, 3000));
    EXPECT_EQ(counter(Counter::control_request_too_large), 1u);
    ::close(fd);
}

// A ControlSocket on its own, with short deadlines and a handler that answers "big" with 16 MiB.
class BareControlSocket : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/rustun-ctl-test-XXXXXX";
        dir_ = mkdtemp(tmpl);
        path_ = dir_ + "/control.sock";
        set_log_level(LogLevel::Error);
    }
    void TearDown() override {
        sock_.stop();
        ::rmdir(dir_.c_str());
    }
    void start(ControlSocketOptions opt) {
        Status st = sock_.start(
            path_,
            [](const std::string& line) {
                if (line.find("big") != std::string::npos) return "{\"ok\":true,\"result\":\"" + std::string(16 << 20, 'x') + "\"}";
                return std::string("{\"ok\":true,\"result\":\"small\"}");
            },
            opt);
        ASSERT_TRUE(st.ok()) << st.error();
    }
    std::string dir_, path_;
    ControlSocket sock_;
};

// A client that asks for a large answer and never reads it is dropped after the send deadline;
// others are served meanwhile (the old server blocked in send() for as long as it did not read).
TEST_F(BareControlSocket, ClientThatNeverReadsIsDroppedAfterTheDeadline) {
    ControlSocketOptions opt;
    opt.send_timeout = std::chrono::milliseconds(4000);
    start(opt);
    int stuck = unix_connect(path_);
    ASSERT_GE(stuck, 0);
    int rcvbuf = 4096;
    ::setsockopt(stuck, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    ASSERT_TRUE(send_all(stuck, "{\"cmd\":\"big\"}\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (int i = 0; i < 3; ++i) {
        int fd = unix_connect(path_);
        ASSERT_GE(fd, 0);
        const auto t0 = Clock::now();
        ASSERT_TRUE(send_all(fd, "{\"cmd\":\"status\"}\n"));
        EXPECT_EQ(read_line(fd, 2000), "{\"ok\":true,\"result\":\"small\"}");
        EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(2000));
        ::close(fd);
    }
    EXPECT_EQ(sock_.counters().get(Counter::control_send_timeout), 0u);  // served while it was stuck
    std::this_thread::sleep_for(std::chrono::milliseconds(4500));
    EXPECT_EQ(sock_.counters().get(Counter::control_send_timeout), 1u);
    EXPECT_TRUE(wait_closed(stuck, 2000));  // what was sent, then the end
    ::close(stuck);
}

// Thousands of tiny pipelined requests are answered in order, one at a time (the loop that sends
// an answer and takes the next buffered line is iterative: no stack growth per request).
TEST_F(BareControlSocket, PipelinedTinyRequestsAreAllAnswered) {
    start({});
    int fd = unix_connect(path_);
    ASSERT_GE(fd, 0);
    const int kRequests = 30000;
    std::thread writer([fd] {
        std::string all;
        for (int i = 0; i < kRequests; ++i) all += "{}\n";
        send_all(fd, all);
    });
    size_t lines = 0;
    std::string buf;
    char tmp[65536];
    const auto end = Clock::now() + std::chrono::seconds(20);
    while (lines < static_cast<size_t>(kRequests) && Clock::now() < end) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) continue;
        ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0) break;
        for (ssize_t i = 0; i < r; ++i) lines += tmp[i] == '\n';
        if (buf.empty()) buf.assign(tmp, static_cast<size_t>(std::min<ssize_t>(r, 200)));
    }
    writer.join();
    EXPECT_EQ(lines, static_cast<size_t>(kRequests));
    EXPECT_EQ(buf.rfind("{\"ok\":true,\"result\":\"small\"}\n", 0), 0u) << buf;
    ::close(fd);
}

TEST_F(BareControlSocket, ConnectionCapRefusesTheNextOne) {
    ControlSocketOptions opt;
    opt.max_connections = 2;
    start(opt);
    int a = unix_connect(path_), b = unix_connect(path_);
    ASSERT_GE(a, 0);
    ASSERT_GE(b, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int c = unix_connect(path_);
    ASSERT_GE(c, 0);
    EXPECT_EQ(read_line(c, 2000), "{\"ok\":false,\"error\":\"too many control connections, try again\"}");
    EXPECT_EQ(sock_.counters().get(Counter::control_refused_busy), 1u);
    ::close(a);
    ::close(b);
    ::close(c);
}

TEST_F(BareControlSocket, RequestDeadlineCountsFromTheFirstByteNotTheLast) {
    ControlSocketOptions opt;
    opt.request_timeout = std::chrono::milliseconds(400);
    start(opt);
    int fd = unix_connect(path_);
    ASSERT_GE(fd, 0);
    const auto t0 = Clock::now();
    // One byte every 100 ms: each read is quick, the request never completes.
    bool closed = false;
    for (int i = 0; i < 20 && !closed; ++i) {
        if (!send_all(fd, "{")) closed = true;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) > 0) closed = true;
    }
    EXPECT_TRUE(closed);
    EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(1000));
    EXPECT_EQ(sock_.counters().get(Counter::control_request_timeout), 1u);
    ::close(fd);
}

TEST(ControlSocketPeer, Policy) {
    EXPECT_TRUE(ControlSocket::peer_allowed(0, 0, {}, 1000, std::nullopt));
    EXPECT_TRUE(ControlSocket::peer_allowed(1000, 1000, {}, 1000, std::nullopt));
    EXPECT_FALSE(ControlSocket::peer_allowed(1001, 1001, {4242}, 1000, std::nullopt));
    EXPECT_TRUE(ControlSocket::peer_allowed(1001, 4242, {}, 1000, gid_t{4242}));
    EXPECT_TRUE(ControlSocket::peer_allowed(1001, 1001, {7, 4242}, 1000, gid_t{4242}));
    EXPECT_FALSE(ControlSocket::peer_allowed(1001, 1001, {7}, 1000, gid_t{4242}));
    EXPECT_EQ(ControlSocket::resolve_group("4242").value(), 4242u);
    EXPECT_EQ(ControlSocket::resolve_group("root").value(), 0u);
    EXPECT_FALSE(ControlSocket::resolve_group("no-such-group-here").ok());
}

// In a child: drops to uid/gid 65534 with the given supplementary groups, connects, sends
// `status` and writes the first answer line (or "connect failed") to `out_fd`. Plain system
// calls only (the parent has threads).
void child_request(const std::string& path, const gid_t* groups, size_t ngroups, int out_fd) {
    if (::setgroups(ngroups, groups) < 0 || ::setresgid(65534, 65534, 65534) < 0 ||
        ::setresuid(65534, 65534, 65534) < 0)
        _exit(3);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        static const char msg[] = "connect failed";
        if (::write(out_fd, msg, sizeof msg - 1) < 0) _exit(4);
        _exit(0);
    }
    static const char req[] = "{\"cmd\":\"status\"}\n";
    // A refused peer may find the connection closed already: its answer is still to be read.
    if (::send(fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0) {
    }
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t r = ::recv(fd, buf + got, sizeof buf - got, 0);
        if (r <= 0) break;
        got += static_cast<size_t>(r);
        if (std::memchr(buf, '\n', got)) break;
    }
    if (got && ::write(out_fd, buf, got) < 0) _exit(6);
    _exit(0);
}

// Runs child_request in a forked child; returns what it wrote.
std::string as_nobody(const std::string& path, std::vector<gid_t> groups) {
    int pfd[2];
    if (::pipe(pfd) < 0) return "pipe failed";
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(pfd[0]);
        child_request(path, groups.data(), groups.size(), pfd[1]);
    }
    ::close(pfd[1]);
    std::string out;
    char buf[4096];
    ssize_t r;
    while ((r = ::read(pfd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(r));
    ::close(pfd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return "child failed: " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return out;
}

// A uid that is neither root nor ours, nor in control_socket_group, is refused by its
// SO_PEERCRED even when the file system would let it connect (socket file made 0666 here).
TEST_F(ControlSocketTest, PeerNotAllowedIsRefused) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (setresuid to nobody)";
    start();
    ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
    ASSERT_EQ(::chmod(socket_path_.c_str(), 0666), 0);
    std::string out = as_nobody(socket_path_, {});
    EXPECT_NE(out.find("\"ok\":false"), std::string::npos) << out;
    EXPECT_NE(out.find("permission denied"), std::string::npos) << out;
    EXPECT_EQ(out.find("\"version\""), std::string::npos) << out;
    EXPECT_EQ(counter(Counter::control_refused_peer), 1u);
}

// With control_socket_group, the socket file is 0660 in that group and a member (supplementary
// group here) is served; a non-member cannot connect at all.
TEST_F(ControlSocketTest, MemberOfTheConfiguredGroupIsAccepted) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (setresuid to nobody)";
    std::string y = scenario_yaml(socket_path_);
    y.insert(y.find("controlplane:"), "control_socket_group: 4242\n");
    write_config(y);
    auto cfg = load_config_file(config_path_);
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    EXPECT_EQ(cfg->control_socket_group, "4242");
    gw_ = std::make_unique<Gateway>(std::move(cfg.value()), config_path_);
    ASSERT_TRUE(gw_->start().ok());
    struct stat st;
    ASSERT_EQ(::stat(socket_path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    EXPECT_EQ(st.st_gid, 4242u);
    ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
    std::string member = as_nobody(socket_path_, {4242});
    EXPECT_NE(member.find("\"ok\":true"), std::string::npos) << member;
    EXPECT_NE(member.find("\"version\""), std::string::npos) << member;
    std::string stranger = as_nobody(socket_path_, {});
    EXPECT_EQ(stranger.find("\"ok\":true"), std::string::npos) << stranger;
    // Even with the file opened to everyone, the credentials check still refuses the stranger.
    ASSERT_EQ(::chmod(socket_path_.c_str(), 0666), 0);
    stranger = as_nobody(socket_path_, {});
    EXPECT_NE(stranger.find("permission denied"), std::string::npos) << stranger;
    EXPECT_EQ(counter(Counter::control_refused_peer), 1u);
}

}  // namespace
}  // namespace rustun::cp::test
