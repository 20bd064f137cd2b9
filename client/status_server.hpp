// The status endpoints (docs/client.md, "Status"): a Unix socket (connect, read the JSON to EOF)
// and HTTP on 127.0.0.1 (GET /status, GET /health). Never blocks the event loop: every socket is
// non-blocking, a request is read and an answer written in pieces as epoll reports readiness
// (the unsent rest stays buffered per connection), and a connection not finished within
// kStatusDeadlineMs of its accept is closed. At most kStatusMaxConnections are open at once;
// further ones are closed on accept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "clock.hpp"
#include "poller.hpp"

namespace rustun::client {

inline constexpr uint64_t kStatusDeadlineMs = 5000;
inline constexpr size_t kStatusMaxConnections = 64;
inline constexpr size_t kHttpMaxRequestBytes = 8192;

// What the endpoints serve.
class StatusSource {
public:
    virtual ~StatusSource() = default;
    virtual std::string status_json() = 0;  // the whole document, newline-terminated
    virtual bool connected() const = 0;     // the relay session is established
};

// The HTTP answer to a complete request head (method, path; headers ignored): 200 with the
// status JSON on GET /status, {"ok":true,"connected":BOOL} on GET /health, 404 on other paths,
// 405 on other methods. Always "Connection: close".
std::string http_response(const std::string& request, StatusSource& source);
// True when `request` holds a complete head (an empty line).
bool http_request_complete(const std::string& request);

class StatusServer {
public:
    StatusServer(const Clock& clock, Poller& poller, StatusSource& source);
    ~StatusServer();
    StatusServer(const StatusServer&) = delete;
    StatusServer& operator=(const StatusServer&) = delete;

    // Binds PATH (an existing file there is replaced); errors name the flag.
    Status open_unix(const std::string& path);
    // Binds 127.0.0.1:port (0: any free port, see http_port()).
    Status open_http(uint16_t port);
    uint16_t http_port() const;

    void on_unix_listener();
    void on_http_listener();
    void on_connection(uint32_t slot, uint32_t events);
    // Closes connections past their deadline.
    void tick(uint64_t now_ms);
    // Closes everything and removes the Unix socket file.
    void close_all();

    size_t open_connections() const;

private:
    enum class Phase : uint8_t { Free, ReadingRequest, Writing };
    struct Conn {
        int fd = -1;
        Phase phase = Phase::Free;
        uint64_t deadline_ms = 0;
        std::string in;   // HTTP request bytes so far
        std::string out;  // answer; [sent, size) still to write
        size_t sent = 0;
    };

    // A slot for an accepted fd, or -1 (fd closed) when all are busy.
    int adopt(int fd, Phase phase);
    void start_writing(uint32_t slot, std::string answer);
    void write_some(uint32_t slot);
    void read_request(uint32_t slot);
    void close_conn(uint32_t slot);

    const Clock& clock_;
    Poller& poller_;
    StatusSource& source_;
    int unix_fd_ = -1;
    int http_fd_ = -1;
    std::string unix_path_;
    std::vector<Conn> conns_;
};

}  // namespace rustun::client
