// Limits told, not discovered (docs/operations.md, "A million connections"): every TCP session
// is a descriptor, so RLIMIT_NOFILE caps how many clients can be online at once. At start the
// control plane raises the soft limit to the hard one and warns, with the numbers, when the
// configuration has more clients than that allows; --check-config prints the same.
#pragma once

#include <cstdint>
#include <string>

namespace rustun::cp {

struct FdLimit {
    uint64_t soft = 0, hard = 0;  // after raising (RLIM_INFINITY as UINT64_MAX)
    uint64_t reserved = 0;        // descriptors the process needs besides TCP sessions
    uint64_t sessions = 0;        // TCP sessions that fit: soft - reserved
};

// Descriptors besides the sessions: listeners, epoll sets and eventfds per worker, the control
// socket and its 16 connections, metrics, the signalfd, the dataplane channel, log and stdio,
// with a margin.
uint64_t fd_reserve(uint32_t workers);

// Reads RLIMIT_NOFILE, raising the soft limit to the hard one if `raise`.
FdLimit read_fd_limit(uint32_t workers, bool raise);

// "" if `clients` sessions fit, else the warning, e.g. "config has 100000 clients; RLIMIT_NOFILE
// is 20000 (hard 20000); at most ~19900 TCP sessions can be open at once: raise LimitNOFILE= ...".
std::string fd_limit_warning(uint64_t clients, const FdLimit& l);

}  // namespace rustun::cp
