// The client's time source. Parts read the time through a Clock so that their state machines
// (P2P path validity, UDP relay binding, STUN retries, TCP back-off) run in unit tests on a
// fake clock (tests/unit/client/client_test_util.hpp); the process uses SystemClock.
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

}  // namespace rustun::client
