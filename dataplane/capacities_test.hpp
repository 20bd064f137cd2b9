// The small variant of dataplane/capacities.hpp (same names, same units), for test builds
// (`meson setup -Dcapacities=test`): tables and rings that fill after a handful of packets, so
// that "full" paths run in short tests. Never shipped. Protocol-visible limits (the burst bound
// of dataplane.burst) keep their values.
#pragma once

#include <cstdint>

namespace rustun::dp::cap {

inline constexpr uint32_t kMaxBurst = 64;
inline constexpr uint32_t kScratchPerItem = 2048;
inline constexpr uint32_t kWorkerIdlePolls = 64;
inline constexpr uint32_t kMacCacheEntries = 64;
inline constexpr uint32_t kSourceLimiterSlots = 64;

inline constexpr uint32_t kSessionMaxProbe = 8;
inline constexpr uint32_t kSeqRetries = 16;

inline constexpr uint16_t kPortRxDescriptors = 256;
inline constexpr uint16_t kPortTxDescriptors = 256;
inline constexpr uint32_t kMbufCache = 32;
inline constexpr uint32_t kMainTxRingSlots = 256;
inline constexpr uint32_t kExceptionRingSlots = 64;

inline constexpr uint32_t kControlPerRound = 16;
inline constexpr uint32_t kTxFramesPerRound = 8;
inline constexpr uint32_t kMainIdleRounds = 8;
inline constexpr uint32_t kMainIdleSleepUs = 100;
inline constexpr uint64_t kHeartbeatPeriodNs = 10'000'000;
inline constexpr uint64_t kSnapshotPeriodNs = 1'000'000'000;

inline constexpr uint32_t kSnapshotSessions = 16;
inline constexpr uint32_t kTelemetrySessions = 8;

}  // namespace rustun::dp::cap
