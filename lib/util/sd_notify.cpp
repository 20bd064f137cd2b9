#include "util/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rustun {

Result<bool> sd_notify_state(std::string_view state) {
    const char* env = std::getenv("NOTIFY_SOCKET");
    if (env == nullptr || *env == '\0') return false;
    const std::string name = env;
    if (name[0] != '/' && name[0] != '@') return make_error("NOTIFY_SOCKET \"" + name + "\": neither an absolute path nor @abstract");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (name.size() >= sizeof addr.sun_path) return make_error("NOTIFY_SOCKET \"" + name + "\": longer than a Unix socket path");
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace: the length delimits the name
    const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '/' ? 1 : 0));

    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(std::string("NOTIFY_SOCKET: socket: ") + std::strerror(errno));
    const ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
    const int err = errno;
    ::close(fd);
    if (n < 0) return make_error("NOTIFY_SOCKET " + name + ": send: " + std::strerror(err));
    if (static_cast<size_t>(n) != state.size()) return make_error("NOTIFY_SOCKET " + name + ": short send");
    return true;
}

}  // namespace rustun
