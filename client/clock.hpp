// The client's time source. Parts read the time through a Clock so that their state machines
// (P2P path validity, UDP relay binding, STUN retries, TCP back-off) run in unit tests on a
// FakeClock; the process uses SystemClock.
#pragma once

#include <cstdint>

namespace rustun::client {

class Clock {
public:
    virtual ~Clock() = default;
    virtual uint64_t mono_ms() const = 0;  // CLOCK_MONOTONIC, milliseconds
    virtual uint64_t unix_s() const = 0;   // CLOCK_REALTIME, seconds
    virtual uint64_t unix_us() const = 0;  // CLOCK_REALTIME, microseconds
    virtual uint64_t unix_ns() const = 0;  // CLOCK_REALTIME, nanoseconds
};

class SystemClock final : public Clock {
public:
    uint64_t mono_ms() const override;
    uint64_t unix_s() const override;
    uint64_t unix_us() const override;
    uint64_t unix_ns() const override;
};

// Settable time for tests: both clocks advance together with advance_ms().
class FakeClock final : public Clock {
public:
    uint64_t mono = 1'000'000;          // ms
    uint64_t unix_ns_now = 1'800'000'000'000'000'000ull;
    void advance_ms(uint64_t ms) {
        mono += ms;
        unix_ns_now += ms * 1'000'000;
    }
    uint64_t mono_ms() const override { return mono; }
    uint64_t unix_s() const override { return unix_ns_now / 1'000'000'000; }
    uint64_t unix_us() const override { return unix_ns_now / 1'000; }
    uint64_t unix_ns() const override { return unix_ns_now; }
};

}  // namespace rustun::client
