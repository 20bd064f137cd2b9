#include "event_summary.hpp"

#include "util/log.hpp"

namespace rustun::cp {

std::string EventSummary::tick(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::duration interval) {
    if (next_ == std::chrono::steady_clock::time_point{}) next_ = now + interval;
    if (now < next_) return {};
    next_ = now + interval;
    uint64_t c[3];
    for (size_t i = 0; i < 3; ++i) c[i] = counts_[i].exchange(0, std::memory_order_relaxed);
    if (c[0] == 0 && c[1] == 0 && c[2] == 0) return {};
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(interval).count();
    char line[160];
    std::snprintf(line, sizeof line, "last %lld s: %llu connects, %llu disconnects, %llu UDP bindings", (long long)secs,
                  (unsigned long long)c[0], (unsigned long long)c[1], (unsigned long long)c[2]);
    LOG_INFO("%s", line);
    return line;
}

}  // namespace rustun::cp
