#include "fd_limit.hpp"

#include <sys/resource.h>

#include <cstdio>

namespace rustun::cp {

namespace {
uint64_t limit_value(rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(v); }
std::string limit_text(uint64_t v) { return v == UINT64_MAX ? "unlimited" : std::to_string(v); }
}  // namespace

uint64_t fd_reserve(uint32_t workers) { return 64 + 4 * uint64_t{workers} + 16; }

FdLimit read_fd_limit(uint32_t workers, bool raise) {
    FdLimit l;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (raise && rl.rlim_cur < rl.rlim_max) {
            rlimit want = rl;
            want.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
        }
        l.soft = limit_value(rl.rlim_cur);
        l.hard = limit_value(rl.rlim_max);
    }
    l.reserved = fd_reserve(workers);
    l.sessions = l.soft > l.reserved ? l.soft - l.reserved : 0;
    return l;
}

std::string fd_limit_warning(uint64_t clients, const FdLimit& l) {
    if (clients <= l.sessions) return "";
    return "config has " + std::to_string(clients) + " clients; RLIMIT_NOFILE is " + limit_text(l.soft) + " (hard " +
           limit_text(l.hard) + "); at most ~" + std::to_string(l.sessions) +
           " TCP sessions can be open at once: raise the limit (systemd LimitNOFILE=, fs.nr_open; "
           "docs/operations.md, \"A million connections\")";
}

}  // namespace rustun::cp
