#include "control_socket.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "log.hpp"

namespace rustun {

ControlSocket::~ControlSocket() { stop(); }

Status ControlSocket::start(const std::string& path, Handler handler) {
    path_ = path;
    handler_ = std::move(handler);
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path)
        return make_error("control_socket: path '" + path + "' is longer than " +
                          std::to_string(sizeof addr.sun_path - 1) + " bytes");
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    ::unlink(path.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return make_error(std::string("control_socket: socket: ") + strerror(errno));
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    // Create the socket file with mode 0600 from the start (no window with wider permissions).
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
    if (::listen(listen_fd_, 16) < 0) return make_error(std::string("control_socket: listen: ") + strerror(errno));
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    stop_ = false;
    thread_ = std::thread([this] { serve(); });
    return {};
}

void ControlSocket::stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    uint64_t one = 1;
    if (::write(wake_fd_, &one, sizeof one) < 0) {
    }
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_fd_);
    listen_fd_ = wake_fd_ = -1;
    ::unlink(path_.c_str());
}

void ControlSocket::serve() {
    while (!stop_) {
        pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        int n = ::poll(p, 2, 1000);
        if (n <= 0) continue;
        if (p[1].revents) break;
        if (p[0].revents & POLLIN) {
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            serve_client(fd);
            ::close(fd);
        }
    }
}

// Serves requests on one client connection until it closes, sends junk or idles for 5 s.
void ControlSocket::serve_client(int fd) {
    std::string buf;
    char tmp[4096];
    for (;;) {
        size_t nl;
        while ((nl = buf.find('\n')) != std::string::npos) {
            std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            if (line.empty()) continue;
            std::string answer = handler_(line);
            answer.push_back('\n');
            size_t off = 0;
            while (off < answer.size()) {
                ssize_t w = ::send(fd, answer.data() + off, answer.size() - off, MSG_NOSIGNAL);
                if (w <= 0) return;
                off += (size_t)w;
            }
        }
        if (buf.size() > 65536) return;
        pollfd p[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        if (::poll(p, 2, 5000) <= 0 || p[1].revents) return;
        ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0) return;
        buf.append(tmp, (size_t)r);
    }
}

}  // namespace rustun
