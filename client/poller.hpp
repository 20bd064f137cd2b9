// The client's epoll set. Every registered fd carries a tag: its source (which part handles it)
// in the high 32 bits and an index (a status connection's slot) in the low 32 bits; Client::run
// dispatches on the source.
#pragma once

#include <sys/epoll.h>

#include <cstdint>

#include "util/result.hpp"

namespace rustun::client {

enum class Source : uint32_t {
    Tun = 1,
    Tcp,
    P2p,
    Relay,
    Stun,
    Timer,
    Signal,
    StatusUnix,   // status Unix socket listener
    StatusHttp,   // status HTTP listener
    StatusConn,   // one accepted status connection (index = slot)
};

class Poller {
public:
    Poller() = default;
    ~Poller();
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;

    Status open();
    void add(int fd, Source s, uint32_t events, uint32_t index = 0);
    void mod(int fd, Source s, uint32_t events, uint32_t index = 0);
    void del(int fd);
    // epoll_wait; -1 with errno on error.
    int wait(epoll_event* events, int max, int timeout_ms);

    static uint64_t tag(Source s, uint32_t index) { return (uint64_t)s << 32 | index; }
    static Source source(uint64_t tag) { return static_cast<Source>(tag >> 32); }
    static uint32_t index(uint64_t tag) { return static_cast<uint32_t>(tag); }

private:
    int ep_ = -1;
};

}  // namespace rustun::client
