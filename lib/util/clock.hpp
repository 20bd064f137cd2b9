// The process clocks, read the same way everywhere. clock_gettime goes through the vDSO (no
// system call), so these are cheap enough for a control loop, but not per packet: the dataplane's
// hot path uses the TSC.
//
//   mono_*      CLOCK_MONOTONIC: intervals, deadlines, heartbeats (never jumps; not shared
//               between machines). The shm channel's heartbeats are mono_ns() values.
//   realtime_*  CLOCK_REALTIME: wall-clock time on the wire (KeepAlive seq in Unix
//               microseconds, status timestamps). May jump when the clock is set.
#pragma once

#include <cstdint>
#include <ctime>

namespace rustun {

inline uint64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
inline uint64_t mono_ms() { return mono_ns() / 1'000'000ull; }
// Seconds as a double (benchmarks: rates over an interval).
inline double mono_seconds() { return static_cast<double>(mono_ns()) * 1e-9; }

// Unix time in nanoseconds (the client's initial Data counter) and microseconds.
inline uint64_t realtime_ns() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
inline uint64_t realtime_us() { return realtime_ns() / 1000; }
// Unix time in whole seconds (same as ::time(nullptr)).
inline uint64_t realtime_s() { return static_cast<uint64_t>(::time(nullptr)); }

}  // namespace rustun
