// sd_notify_state: the datagram systemd receives, for a path and an abstract NOTIFY_SOCKET, and
// the quiet no-op without one.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>

#include "util/sd_notify.hpp"

namespace {

// A bound datagram socket standing in for systemd's notification socket.
class Listener {
public:
    explicit Listener(const std::string& name) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path, name.data(), name.size());
        if (name[0] == '@') a.sun_path[0] = '\0';
        else path_ = name;
        const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '/' ? 1 : 0));
        bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0;
    }
    ~Listener() {
        if (fd_ >= 0) ::close(fd_);
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    bool bound() const { return bound_; }
    std::string receive() {
        char buf[512];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        return n < 0 ? std::string("<nothing>") : std::string(buf, static_cast<size_t>(n));
    }

private:
    int fd_ = -1;
    bool bound_ = false;
    std::string path_;
};

class SdNotify : public ::testing::Test {
protected:
    void TearDown() override { ::unsetenv("NOTIFY_SOCKET"); }
};

TEST_F(SdNotify, UnsetIsANoOp) {
    ::unsetenv("NOTIFY_SOCKET");
    auto r = rustun::sd_notify_state("READY=1");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(*r);
    ::setenv("NOTIFY_SOCKET", "", 1);
    r = rustun::sd_notify_state("READY=1");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(*r);
}

// Each state sent to NOTIFY_SOCKET=`name` arrives whole, as one datagram.
void expect_delivered(const std::string& name, std::initializer_list<const char*> states) {
    Listener l(name);
    ASSERT_TRUE(l.bound()) << name;
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
    for (const char* state : states) {
        auto r = rustun::sd_notify_state(state);
        ASSERT_TRUE(r.ok()) << r.error();
        EXPECT_TRUE(*r);
        EXPECT_EQ(l.receive(), state);
    }
}

TEST_F(SdNotify, PathSocketGetsTheWholeState) {
    expect_delivered("/tmp/rustun-sd-notify-test-" + std::to_string(::getpid()), {"READY=1\nSTATUS=relaying", "STOPPING=1"});
}

TEST_F(SdNotify, AbstractSocket) {
    expect_delivered("@rustun-sd-notify-test-" + std::to_string(::getpid()), {"READY=1"});
}

TEST_F(SdNotify, BadAddressesAreErrors) {
    ::setenv("NOTIFY_SOCKET", "relative/path", 1);
    auto r = rustun::sd_notify_state("READY=1");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("absolute"), std::string::npos) << r.error();
    ::setenv("NOTIFY_SOCKET", ("/" + std::string(200, 'x')).c_str(), 1);
    EXPECT_FALSE(rustun::sd_notify_state("READY=1").ok());
    // Nobody listens there: the send fails and says where.
    ::setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify", 1);
    r = rustun::sd_notify_state("READY=1");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("/nonexistent-dir/notify"), std::string::npos) << r.error();
}

}  // namespace
