#include "sys.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netdb.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

extern char** environ;

namespace rustun::client {

Tun::~Tun() {
    if (fd_ >= 0) ::close(fd_);
}

Status Tun::open(const std::string& name) {
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return make_error(std::string("open /dev/net/tun: ") + strerror(errno));
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
        std::string e = strerror(errno);
        ::close(fd);
        return make_error("TUNSETIFF " + name + ": " + e);
    }
    fd_ = fd;
    name_ = ifr.ifr_name;
    return {};
}

Status Tun::configure(uint32_t addr_host, uint32_t mask_host, uint32_t mtu) {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return make_error(std::string("socket: ") + strerror(errno));
    auto fail = [&](const char* what) {
        std::string e = std::string(what) + " " + name_ + ": " + strerror(errno);
        ::close(s);
        return make_error(e);
    };
    ifreq ifr{};
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name_.c_str());
    auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(addr_host);
    if (::ioctl(s, SIOCSIFADDR, &ifr) < 0) return fail("SIOCSIFADDR");
    sin->sin_addr.s_addr = htonl(mask_host);
    if (::ioctl(s, SIOCSIFNETMASK, &ifr) < 0) return fail("SIOCSIFNETMASK");
    ifr.ifr_mtu = static_cast<int>(mtu);
    if (::ioctl(s, SIOCSIFMTU, &ifr) < 0) return fail("SIOCSIFMTU");
    if (::ioctl(s, SIOCGIFFLAGS, &ifr) < 0) return fail("SIOCGIFFLAGS");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) < 0) return fail("SIOCSIFFLAGS");
    ::close(s);
    return {};
}

int run_argv(const std::vector<std::string>& argv, std::string* output) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int pipefd[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (output) {
        if (::pipe2(pipefd, O_CLOEXEC) < 0) return -1;
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    }
    pid_t pid;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (output) ::close(pipefd[1]);
    if (rc != 0) {
        if (output) ::close(pipefd[0]);
        return -1;
    }
    if (output) {
        char buf[512];
        ssize_t n;
        while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
            if (n > 0 && output->size() < 65536) output->append(buf, (size_t)n);
        ::close(pipefd[0]);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

Result<std::string> run_shell_first_line(const std::string& cmd, int timeout_s) {
    std::string out;
    int rc = run_argv({"timeout", std::to_string(timeout_s), "sh", "-c", cmd}, &out);
    if (rc < 0) return make_error("could not start sh");
    if (rc != 0) return make_error("command exited with status " + std::to_string(rc));
    size_t nl = out.find('\n');
    if (nl != std::string::npos) out.resize(nl);
    size_t b = out.find_first_not_of(" \t\r");
    size_t e = out.find_last_not_of(" \t\r");
    if (b == std::string::npos) return std::string();
    return out.substr(b, e - b + 1);
}

Result<sockaddr_storage> resolve(const std::string& host, uint16_t port, int socktype, socklen_t& len) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (rc != 0 || !res) return make_error("resolve " + host + ": " + gai_strerror(rc));
    sockaddr_storage ss{};
    std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
    len = res->ai_addrlen;
    freeaddrinfo(res);
    return ss;
}

std::string endpoint_text(const std::string& ip, uint16_t port) {
    if (ip.empty()) return "";
    if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
    return ip + ":" + std::to_string(port);
}

std::string address_text(const sockaddr_in6& a) {
    sockaddr_storage ss{};
    std::memcpy(&ss, &a, sizeof a);
    return sockaddr_text(ss, V4Mapped::AsIpv4);
}

bool make_v6_sockaddr(const std::string& ip, uint16_t port, sockaddr_in6& out) {
    out = sockaddr_in6{};
    out.sin6_family = AF_INET6;
    out.sin6_port = htons(port);
    in_addr v4;
    if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
        out.sin6_addr.s6_addr[10] = 0xff;
        out.sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(&out.sin6_addr.s6_addr[12], &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, ip.c_str(), &out.sin6_addr) == 1;
}

sockaddr_in6 to_v6(const sockaddr_storage& ss) {
    sockaddr_in6 out{};
    out.sin6_family = AF_INET6;
    if (ss.ss_family == AF_INET) {
        auto* s = reinterpret_cast<const sockaddr_in*>(&ss);
        out.sin6_port = s->sin_port;
        out.sin6_addr.s6_addr[10] = 0xff;
        out.sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(&out.sin6_addr.s6_addr[12], &s->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        auto* s = reinterpret_cast<const sockaddr_in6*>(&ss);
        out.sin6_port = s->sin6_port;
        out.sin6_addr = s->sin6_addr;
    }
    return out;
}

bool same_endpoint(const sockaddr_in6& a, const sockaddr_in6& b) {
    return a.sin6_port == b.sin6_port && std::memcmp(&a.sin6_addr, &b.sin6_addr, 16) == 0;
}

bool send_datagram(int fd, int family, const uint8_t* data, size_t len, const sockaddr_in6* to) {
    if (fd < 0) return false;
    ssize_t w;
    if (!to) {
        w = ::send(fd, data, len, MSG_DONTWAIT);
    } else if (family == AF_INET6) {
        w = ::sendto(fd, data, len, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(to), sizeof *to);
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = to->sin6_port;
        std::memcpy(&a.sin_addr, &to->sin6_addr.s6_addr[12], 4);
        w = ::sendto(fd, data, len, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    }
    return w == (ssize_t)len;
}

}  // namespace rustun::client
