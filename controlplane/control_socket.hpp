// The control socket: a unix stream socket (mode 0600) speaking JSON lines. Each request is one
// line `{"cmd":"NAME", ...args}`; each answer is one line `{"ok":true,"result":...}` or
// `{"ok":false,"error":"..."}`. Served by one thread of its own, so a slow or stuck CLI never
// touches the relay workers. Requests are limited to 64 KiB; a connection idle for 5 s is closed.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "util/result.hpp"

namespace rustun {

class ControlSocket {
public:
    // handler(request_line) -> answer line (without the trailing newline).
    using Handler = std::function<std::string(const std::string& request)>;

    ControlSocket() = default;
    ~ControlSocket();

    // Creates the parent directory if missing, removes a stale socket file, binds, chmod 0600,
    // and starts the serving thread.
    Status start(const std::string& path, Handler handler);
    void stop();
    const std::string& path() const { return path_; }

private:
    void serve();
    void serve_client(int fd);

    std::string path_;
    Handler handler_;
    int listen_fd_ = -1;
    int wake_fd_ = -1;  // eventfd: stop() wakes the poll
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace rustun
