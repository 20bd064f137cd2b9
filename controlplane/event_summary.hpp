// Logs that scale (docs/controlplane.md, "Logs"): per-client events (a handshake accepted, a
// client offline, a UDP binding made or moved) are logged at debug; at info a summary line every
// kSummaryInterval counts them, and only when one is non-zero:
//   "last 10 s: 812 connects, 790 disconnects, 1204 UDP bindings"
// so that a reconnect storm of a million clients writes a line per 10 s, not a million lines.
// Any thread counts (relaxed atomics); one thread (the gateway's signal loop) calls tick().
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace rustun::cp {

class EventSummary {
public:
    enum class Event : uint8_t { Connect, Disconnect, Binding };
    static constexpr std::chrono::seconds kSummaryInterval{10};

    void add(Event e) { counts_[static_cast<size_t>(e)].fetch_add(1, std::memory_order_relaxed); }

    // Every `interval` (the first call starts the clock): logs the line at info if a count is
    // non-zero, and returns it ("" when nothing was logged).
    std::string tick(std::chrono::steady_clock::time_point now,
                     std::chrono::steady_clock::duration interval = kSummaryInterval);

private:
    std::array<std::atomic<uint64_t>, 3> counts_{};
    std::chrono::steady_clock::time_point next_{};
};

}  // namespace rustun::cp
