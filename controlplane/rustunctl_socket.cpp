#include "rustunctl_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "config/yaml_loader.hpp"

namespace rustun::ctl {

Result<std::string> find_socket(const std::string& socket_option, const std::string& config_file) {
    if (!socket_option.empty()) return socket_option;
    if (const char* env = std::getenv("RUSTUN_SOCKET"); env && *env) return std::string(env);
    if (!config_file.empty()) {
        auto cfg = load_config_file(config_file);
        if (!cfg) return make_error("--config: " + cfg.error());
        return cfg->control_socket;
    }
    return std::string(kDefaultSocket);
}

Result<std::string> request(const std::string& path, const std::string& line) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(std::string("socket: ") + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return make_error("socket path too long: " + path);
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        return make_error("cannot connect to " + path + ": " + std::strerror(errno) +
                          " (is rustun-controlplane running? see --socket, RUSTUN_SOCKET, --config)");
    const std::string out = line + "\n";
    if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size()))
        return make_error(std::string("send: ") + std::strerror(errno));
    std::string answer;
    char buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 30000) <= 0) return make_error("no answer within 30 s");
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) return make_error("connection closed before an answer");
        answer.append(buf, static_cast<size_t>(r));
        if (auto nl = answer.find('\n'); nl != std::string::npos) {
            answer.resize(nl);
            return answer;
        }
    }
}

}  // namespace rustun::ctl
