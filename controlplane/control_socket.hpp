// The control socket: a unix stream socket speaking JSON lines. Each request is one line
// `{"cmd":"NAME", ...args}`; each answer is one line `{"ok":true,"result":...}` or
// `{"ok":false,"error":"..."}`. Served by one thread of its own, so a slow or stuck CLI never
// touches the relay workers; that thread multiplexes every control connection with poll() over
// non-blocking sockets, so one slow client never holds up another (docs/controlplane.md):
//   * access: the socket file is mode 0600 (0660 and group `group` when configured), and each
//     connection's SO_PEERCRED (and SO_PEERGROUPS) must name root, the gateway's own uid, or a
//     member of `group`; anything else gets one error line and is closed (control_refused_peer);
//   * at most max_connections at once; one more is answered with an error and closed
//     (control_refused_busy);
//   * a request line is at most kControlRequestMaxBytes (control_request_too_large) and must be
//     complete within request_timeout of the connection or of the previous answer
//     (control_request_timeout; this also closes idle connections);
//   * one answer is buffered per connection; the client must take all of it within send_timeout
//     or it is dropped (control_send_timeout); no further request is read meanwhile.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "counters.hpp"
#include "util/result.hpp"

namespace rustun::cp {

struct ControlSocketOptions {
    std::optional<gid_t> group;  // control_socket_group: allowed peers and the file's group
    size_t max_connections = 16;
    std::chrono::milliseconds request_timeout{5000};
    std::chrono::milliseconds send_timeout{5000};
};

class ControlSocket {
public:
    // handler(request_line) -> answer line (without the trailing newline).
    using Handler = std::function<std::string(const std::string& request)>;

    ControlSocket() = default;
    ~ControlSocket();

    // Creates the parent directory if missing, removes a stale socket file, binds with mode 0600
    // (then group `options.group` and mode 0660 when set), and starts the serving thread.
    Status start(const std::string& path, Handler handler, ControlSocketOptions options = {});
    void stop();
    const std::string& path() const { return path_; }

    // Whether a peer with these credentials may use the socket: root, uid `self`, or (when
    // `group` is set) primary or supplementary group `group`.
    static bool peer_allowed(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, uid_t self,
                             std::optional<gid_t> group);
    // A group name or a decimal gid -> gid.
    static Result<gid_t> resolve_group(const std::string& name_or_gid);

    // control_* counters (refusals, timeouts); written by the serving thread only.
    const CounterBlock& counters() const { return counters_; }

private:
    struct Conn {
        int fd = -1;
        std::string in;       // bytes received, not yet handled
        std::string out;      // the pending answer
        size_t out_off = 0;   // bytes of `out` already sent
        std::chrono::steady_clock::time_point deadline;
        bool close_after_send = false;
        bool eof = false;     // the client shut its side down: answer what is complete, then close
    };

    void serve();
    void accept_all(std::chrono::steady_clock::time_point now);
    void refuse(int fd, const char* why);
    // Reads, handles complete lines and sends; returns false when the connection is to be closed.
    bool on_readable(Conn& c, std::chrono::steady_clock::time_point now);
    bool pump(Conn& c, std::chrono::steady_clock::time_point now);

    std::string path_;
    Handler handler_;
    ControlSocketOptions opt_;
    int listen_fd_ = -1;
    int wake_fd_ = -1;  // eventfd: stop() wakes the poll
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::vector<Conn> conns_;  // serving thread only
    CounterBlock counters_;
};

}  // namespace rustun::cp
