#include "clock.hpp"

#include "util/clock.hpp"

namespace rustun::client {

uint64_t SystemClock::mono_ms() const { return rustun::mono_ms(); }
uint64_t SystemClock::unix_s() const { return realtime_s(); }
uint64_t SystemClock::unix_us() const { return realtime_us(); }
uint64_t SystemClock::unix_ns() const { return realtime_ns(); }

}  // namespace rustun::client
