#include "status_server.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/log.hpp"

namespace rustun::client {

bool http_request_complete(const std::string& req) {
    return req.find("\r\n\r\n") != std::string::npos || req.find("\n\n") != std::string::npos;
}

std::string http_response(const std::string& req, StatusSource& source) {
    std::string body, status = "200 OK";
    const bool get = req.rfind("GET ", 0) == 0;
    const size_t sp = req.find(' ', 4);
    const std::string path = get && sp != std::string::npos ? req.substr(4, sp - 4) : "";
    if (!get) {
        status = "405 Method Not Allowed";
        body = "{\"error\":\"only GET\"}\n";
    } else if (path == "/status") {
        body = source.status_json();
    } else if (path == "/health") {
        body = std::string("{\"ok\":true,\"connected\":") + (source.connected() ? "true" : "false") + "}\n";
    } else {
        status = "404 Not Found";
        body = "{\"error\":\"not found: GET /status or /health\"}\n";
    }
    return "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

StatusServer::StatusServer(const Clock& clock, Poller& poller, StatusSource& source)
    : clock_(clock), poller_(poller), source_(source) {}

StatusServer::~StatusServer() { close_all(); }

Status StatusServer::open_unix(const std::string& path) {
    unix_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un su{};
    su.sun_family = AF_UNIX;
    snprintf(su.sun_path, sizeof su.sun_path, "%s", path.c_str());
    ::unlink(path.c_str());
    if (unix_fd_ < 0 || ::bind(unix_fd_, reinterpret_cast<sockaddr*>(&su), sizeof su) != 0 ||
        ::listen(unix_fd_, 16) != 0)
        return make_error("--status-socket " + path + ": " + strerror(errno));
    unix_path_ = path;
    poller_.add(unix_fd_, Source::StatusUnix, EPOLLIN);
    return {};
}

Status StatusServer::open_http(uint16_t port) {
    http_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(http_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (http_fd_ < 0 || ::bind(http_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(http_fd_, 16) != 0)
        return make_error("--http-port " + std::to_string(port) + ": " + strerror(errno));
    poller_.add(http_fd_, Source::StatusHttp, EPOLLIN);
    LOG_INFO("status API on http://127.0.0.1:%u/status", http_port());
    return {};
}

uint16_t StatusServer::http_port() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (http_fd_ < 0 || ::getsockname(http_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
    return ntohs(a.sin_port);
}

int StatusServer::adopt(int fd, Phase phase) {
    size_t slot = 0;
    while (slot < conns_.size() && conns_[slot].phase != Phase::Free) ++slot;
    if (slot == conns_.size()) {
        if (conns_.size() >= kStatusMaxConnections) {
            ::close(fd);
            return -1;
        }
        conns_.emplace_back();
    }
    Conn& c = conns_[slot];
    c.fd = fd;
    c.phase = phase;
    c.deadline_ms = clock_.mono_ms() + kStatusDeadlineMs;
    c.in.clear();
    c.out.clear();
    c.sent = 0;
    poller_.add(fd, Source::StatusConn, phase == Phase::ReadingRequest ? EPOLLIN : EPOLLOUT, (uint32_t)slot);
    return (int)slot;
}

void StatusServer::on_unix_listener() {
    for (;;) {
        const int fd = ::accept4(unix_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        const int slot = adopt(fd, Phase::Writing);
        if (slot >= 0) start_writing((uint32_t)slot, source_.status_json());
    }
}

void StatusServer::on_http_listener() {
    for (;;) {
        const int fd = ::accept4(http_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        adopt(fd, Phase::ReadingRequest);
    }
}

void StatusServer::on_connection(uint32_t slot, uint32_t) {
    if (slot >= conns_.size()) return;
    switch (conns_[slot].phase) {
        case Phase::Free: return;
        case Phase::ReadingRequest: read_request(slot); return;
        case Phase::Writing: write_some(slot); return;
    }
}

void StatusServer::read_request(uint32_t slot) {
    Conn& c = conns_[slot];
    char buf[2048];
    for (;;) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
            close_conn(slot);
            return;
        }
        c.in.append(buf, (size_t)n);
        if (http_request_complete(c.in)) break;
        if (c.in.size() > kHttpMaxRequestBytes) {
            close_conn(slot);
            return;
        }
    }
    poller_.mod(c.fd, Source::StatusConn, EPOLLOUT, slot);
    start_writing(slot, http_response(c.in, source_));
}

void StatusServer::start_writing(uint32_t slot, std::string answer) {
    Conn& c = conns_[slot];
    c.phase = Phase::Writing;
    c.out = std::move(answer);
    c.sent = 0;
    write_some(slot);
}

// Writes what the socket takes now; the rest waits for EPOLLOUT. Done: FIN, close.
void StatusServer::write_some(uint32_t slot) {
    Conn& c = conns_[slot];
    while (c.sent < c.out.size()) {
        const ssize_t w = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (w <= 0) {
            close_conn(slot);
            return;
        }
        c.sent += (size_t)w;
    }
    ::shutdown(c.fd, SHUT_WR);
    close_conn(slot);
}

void StatusServer::close_conn(uint32_t slot) {
    Conn& c = conns_[slot];
    if (c.fd >= 0) {
        poller_.del(c.fd);
        ::close(c.fd);
    }
    c.fd = -1;
    c.phase = Phase::Free;
    c.in = std::string();
    c.out = std::string();
    c.sent = 0;
}

void StatusServer::tick(uint64_t now) {
    for (uint32_t i = 0; i < conns_.size(); ++i)
        if (conns_[i].phase != Phase::Free && now >= conns_[i].deadline_ms) close_conn(i);
}

void StatusServer::close_all() {
    for (uint32_t i = 0; i < conns_.size(); ++i)
        if (conns_[i].phase != Phase::Free) close_conn(i);
    for (int* fd : {&unix_fd_, &http_fd_})
        if (*fd >= 0) {
            poller_.del(*fd);
            ::close(*fd);
            *fd = -1;
        }
    if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
    unix_path_.clear();
}

size_t StatusServer::open_connections() const {
    size_t n = 0;
    for (const Conn& c : conns_) n += c.phase != Phase::Free;
    return n;
}

}  // namespace rustun::client
