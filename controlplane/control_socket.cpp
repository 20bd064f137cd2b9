#include "control_socket.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "proto/control_request.hpp"
#include "util/log.hpp"
#include "util/thread_name.hpp"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59  // Linux >= 4.13
#endif

namespace rustun::cp {

namespace {

using Clock = std::chrono::steady_clock;

std::string error_line(const std::string& msg) {
    std::string out = "{\"ok\":false,\"error\":\"";
    for (char c : msg) {  // our own messages: ASCII without quotes or backslashes, kept safe anyway
        if (c == '"' || c == '\\') out.push_back('\\');
        if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
    }
    out += "\"}\n";
    return out;
}

// The peer's supplementary groups (SO_PEERGROUPS); empty when the kernel cannot tell.
std::vector<gid_t> peer_groups(int fd) {
    std::vector<gid_t> groups(64);
    for (int attempt = 0; attempt < 2; ++attempt) {
        socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
            groups.resize(len / sizeof(gid_t));
            return groups;
        }
        if (errno != ERANGE || len / sizeof(gid_t) > 65536) break;
        groups.resize(len / sizeof(gid_t));
    }
    return {};
}

}  // namespace

ControlSocket::~ControlSocket() { stop(); }

bool ControlSocket::peer_allowed(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, uid_t self,
                                 std::optional<gid_t> group) {
    if (uid == 0 || uid == self) return true;
    if (!group) return false;
    return gid == *group || std::find(groups.begin(), groups.end(), *group) != groups.end();
}

Result<gid_t> ControlSocket::resolve_group(const std::string& name) {
    if (name.empty()) return make_error("control_socket_group: empty group name");
    if (std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (name.size() > 9) return make_error("control_socket_group: gid '" + name + "' out of range");
        return static_cast<gid_t>(std::stoul(name));
    }
    std::vector<char> buf(16384);
    group gr{};
    group* found = nullptr;
    int rc = ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr)
        return make_error("control_socket_group: no group named '" + name + "'" +
                          (rc != 0 ? std::string(" (") + strerror(rc) + ")" : std::string()));
    return found->gr_gid;
}

Status ControlSocket::start(const std::string& path, Handler handler, ControlSocketOptions options) {
    path_ = path;
    handler_ = std::move(handler);
    opt_ = options;
    if (opt_.max_connections == 0) opt_.max_connections = 1;
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path)
        return make_error("control_socket: path '" + path + "' is longer than " +
                          std::to_string(sizeof addr.sun_path - 1) + " bytes");
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    ::unlink(path.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) return make_error(std::string("control_socket: socket: ") + strerror(errno));
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    // Create the socket file with mode 0600 from the start (no window with wider permissions);
    // the group and mode 0660 come after, in that order.
    mode_t old = ::umask(0177);
    int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::umask(old);
    if (rc < 0) {
        std::string err = strerror(errno);
        ::close(listen_fd_);
        listen_fd_ = -1;
        return make_error("control_socket: bind " + path + ": " + err);
    }
    ::chmod(path.c_str(), 0600);
    if (opt_.group) {
        if (::chown(path.c_str(), static_cast<uid_t>(-1), *opt_.group) < 0 || ::chmod(path.c_str(), 0660) < 0) {
            std::string err = strerror(errno);
            ::close(listen_fd_);
            listen_fd_ = -1;
            ::unlink(path.c_str());
            return make_error("control_socket: giving " + path + " to group " + std::to_string(*opt_.group) +
                              ": " + err);
        }
    }
    if (::listen(listen_fd_, 64) < 0) return make_error(std::string("control_socket: listen: ") + strerror(errno));
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    stop_ = false;
    thread_ = std::thread([this] { serve(); });
    name_thread(thread_, "cp-control");
    return {};
}

void ControlSocket::stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    uint64_t one = 1;
    if (::write(wake_fd_, &one, sizeof one) < 0) {
    }
    thread_.join();
    for (auto& c : conns_) ::close(c.fd);
    conns_.clear();
    ::close(listen_fd_);
    ::close(wake_fd_);
    listen_fd_ = wake_fd_ = -1;
    ::unlink(path_.c_str());
}

// One error line, best effort (non-blocking, never waited for), then close.
void ControlSocket::refuse(int fd, const char* why) {
    std::string line = error_line(why);
    if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    }
    ::close(fd);
}

void ControlSocket::accept_all(Clock::time_point now) {
    for (int i = 0; i < 64; ++i) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;  // EAGAIN, or a connection that went away meanwhile
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
            counters_.inc(Counter::control_refused_peer);
            LOG_LIMITED(LogLevel::Warn, "control socket: refused a connection: SO_PEERCRED: %s", strerror(errno));
            refuse(fd, "permission denied: peer credentials unavailable");
            continue;
        }
        std::vector<gid_t> groups;
        if (opt_.group && cred.uid != 0 && cred.uid != ::geteuid() && cred.gid != *opt_.group) groups = peer_groups(fd);
        if (!peer_allowed(cred.uid, cred.gid, groups, ::geteuid(), opt_.group)) {
            counters_.inc(Counter::control_refused_peer);
            LOG_LIMITED(LogLevel::Warn,
                        "control socket: refused a connection from pid %d uid %u gid %u: not root, not uid %u%s",
                        static_cast<int>(cred.pid), static_cast<unsigned>(cred.uid), static_cast<unsigned>(cred.gid),
                        static_cast<unsigned>(::geteuid()),
                        opt_.group ? (", not in group " + std::to_string(*opt_.group)).c_str() : " (no control_socket_group)");
            refuse(fd, "permission denied: the control socket takes root, the gateway's user and members of control_socket_group only");
            continue;
        }
        if (conns_.size() >= opt_.max_connections) {
            counters_.inc(Counter::control_refused_busy);
            LOG_LIMITED(LogLevel::Warn, "control socket: refused a connection from pid %d uid %u: %zu connections open",
                        static_cast<int>(cred.pid), static_cast<unsigned>(cred.uid), conns_.size());
            refuse(fd, "too many control connections, try again");
            continue;
        }
        Conn c;
        c.fd = fd;
        c.deadline = now + opt_.request_timeout;
        conns_.push_back(std::move(c));
    }
}

// Sends the pending answer as far as the socket takes it now, then handles the next buffered
// request line, and so on (a loop, not recursion: a client may pipeline thousands of tiny
// requests). Returns false when the connection is to be closed.
bool ControlSocket::pump(Conn& c, Clock::time_point now) {
    for (;;) {
        while (c.out_off < c.out.size()) {
            ssize_t w = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // POLLOUT later
            if (w <= 0) return false;
            c.out_off += static_cast<size_t>(w);
        }
        if (!c.out.empty()) {
            c.out.clear();
            c.out_off = 0;
            if (c.close_after_send) return false;
            c.deadline = now + opt_.request_timeout;  // the next request's clock starts now
        }
        const size_t nl = c.in.find('\n');
        if (nl == std::string::npos) {
            if (c.in.size() <= kControlRequestMaxBytes) return !c.eof;  // wait for the rest of the line
            counters_.inc(Counter::control_request_too_large);
            LOG_LIMITED(LogLevel::Warn, "control socket: request longer than %zu bytes, connection closed",
                        kControlRequestMaxBytes);
            c.out = error_line("request longer than " + std::to_string(kControlRequestMaxBytes) + " bytes");
            c.in.clear();
            c.close_after_send = true;
            c.deadline = now + opt_.send_timeout;
            continue;
        }
        std::string line = c.in.substr(0, nl);
        c.in.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        c.out = handler_(line);
        c.out.push_back('\n');
        c.deadline = now + opt_.send_timeout;  // the whole answer must be taken by then
    }
}

bool ControlSocket::on_readable(Conn& c, Clock::time_point now) {
    char tmp[16384];
    // Read at most one request's worth per turn: other connections get their turn too.
    for (size_t got = 0; got <= kControlRequestMaxBytes;) {
        ssize_t r = ::recv(c.fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (r < 0) return false;
        if (r == 0) {
            c.eof = true;
            break;
        }
        c.in.append(tmp, static_cast<size_t>(r));
        got += static_cast<size_t>(r);
        if (c.in.find('\n', c.in.size() - static_cast<size_t>(r)) != std::string::npos) break;
    }
    if (!pump(c, now)) return false;
    return !(c.eof && c.out.empty());
}

void ControlSocket::serve() {
    std::vector<pollfd> p;
    while (!stop_) {
        const auto now0 = Clock::now();
        auto next = now0 + std::chrono::seconds(1);
        p.clear();
        p.push_back({wake_fd_, POLLIN, 0});
        p.push_back({listen_fd_, POLLIN, 0});
        for (const auto& c : conns_) {
            p.push_back({c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
            next = std::min(next, c.deadline);
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now0).count() + 1;
        int n = ::poll(p.data(), p.size(), static_cast<int>(std::max<int64_t>(wait, 0)));
        if (n < 0 && errno != EINTR) break;
        if (p[0].revents) break;
        const auto now = Clock::now();
        // Existing connections first (pollfd i + 2 is conns_[i]); then new ones.
        std::vector<Conn> keep;
        keep.reserve(conns_.size());
        for (size_t i = 0; i < conns_.size(); ++i) {
            Conn& c = conns_[i];
            const short ev = n > 0 ? p[i + 2].revents : 0;
            bool alive = true;
            if (!c.out.empty()) {
                if (ev & (POLLOUT | POLLERR | POLLHUP)) alive = pump(c, now);
            } else if (ev & (POLLIN | POLLERR | POLLHUP)) {
                alive = on_readable(c, now);
            }
            if (alive && now >= c.deadline) {
                alive = false;
                if (!c.out.empty()) {
                    counters_.inc(Counter::control_send_timeout);
                    LOG_LIMITED(LogLevel::Warn,
                                "control socket: client took only %zu of a %zu-byte answer within %lld ms, dropped",
                                c.out_off, c.out.size(), static_cast<long long>(opt_.send_timeout.count()));
                } else {
                    counters_.inc(Counter::control_request_timeout);
                    LOG_LIMITED(LogLevel::Info, "control socket: no complete request within %lld ms (%zu bytes), closed",
                                static_cast<long long>(opt_.request_timeout.count()), c.in.size());
                }
            }
            if (alive) keep.push_back(std::move(c));
            else ::close(c.fd);
        }
        conns_ = std::move(keep);
        if (n > 0 && (p[1].revents & POLLIN)) accept_all(now);
    }
}

}  // namespace rustun::cp
