#include "clock.hpp"

#include <time.h>

namespace rustun::client {

namespace {
uint64_t read_ns(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
}  // namespace

uint64_t SystemClock::mono_ms() const { return read_ns(CLOCK_MONOTONIC) / 1000000; }
uint64_t SystemClock::unix_s() const { return read_ns(CLOCK_REALTIME) / 1000000000; }
uint64_t SystemClock::unix_us() const { return read_ns(CLOCK_REALTIME) / 1000; }
uint64_t SystemClock::unix_ns() const { return read_ns(CLOCK_REALTIME); }

}  // namespace rustun::client
