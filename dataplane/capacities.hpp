// Every fixed capacity and limit of rustun-dataplane in one place (as yanet's common/config.h):
// burst and scratch sizes, ring and table sizes, probe lengths, batch sizes per main-loop round,
// idle polls. What an operator sizes (sessions, mbufs, burst up to kMaxBurst, idle_sleep_us) is
// configuration (docs/configuration.md); what is fixed at build time is here. Units are in the
// comments; "slots"/"entries" are counts, sizes are bytes.
//
// Two variants with the same names: these, and capacities_test.hpp (small tables and rings that
// fill after a few packets), selected at build time by `meson setup -Dcapacities=test` (defines
// RUSTUN_CAPACITIES_TEST). The default build and every shipped binary use these.
#pragma once

#include <cstdint>

#ifdef RUSTUN_CAPACITIES_TEST
#include "capacities_test.hpp"
#else
namespace rustun::dp::cap {

// ---- workers ----
inline constexpr uint32_t kMaxBurst = 64;          // packets per RX burst (dataplane.burst: 1..kMaxBurst)
inline constexpr uint32_t kScratchPerItem = 2048;  // bytes of plaintext per burst item (one frame)
inline constexpr uint32_t kWorkerIdlePolls = 4096;  // empty RX polls before sleeping idle_sleep_us
inline constexpr uint32_t kMacCacheEntries = 4096;  // endpoint -> next-hop MAC, per worker (power of two)
inline constexpr uint32_t kSourceLimiterSlots = 2048;  // per-source rate-limit buckets, per worker (power of two)

// ---- tables shared by the lcores ----
inline constexpr uint32_t kSessionMaxProbe = 64;  // slots probed per session lookup/insert (linear probing)
inline constexpr uint32_t kSeqRetries = 256;      // seqlock read attempts before giving up (a miss)

// ---- port and DPDK rings ----
inline constexpr uint16_t kPortRxDescriptors = 1024;  // per RX queue (rounded by the PMD's limits)
inline constexpr uint16_t kPortTxDescriptors = 1024;  // per TX queue
inline constexpr uint32_t kMbufCache = 256;           // mbufs per lcore cache of the pool
inline constexpr uint32_t kMainTxRingSlots = 4096;    // main lcore -> worker 0 (TxFrames, kernel packets)
inline constexpr uint32_t kExceptionRingSlots = 1024;  // each worker -> main lcore (packets for the kernel)

// ---- the main lcore's loop ----
inline constexpr uint32_t kControlPerRound = 256;  // control messages applied per round
inline constexpr uint32_t kTxFramesPerRound = 64;  // TxFrames sent per round
inline constexpr uint32_t kMainIdleRounds = 64;    // idle rounds before each sleep
inline constexpr uint32_t kMainIdleSleepUs = 100;  // microseconds
// dp_heartbeat_ns, cp liveness, reclaim, the sessions gauge: nanoseconds (docs/shm-channel.md: "~10 ms")
inline constexpr uint64_t kHeartbeatPeriodNs = 10'000'000;
// telemetry snapshot and the port's drop counters: nanoseconds
inline constexpr uint64_t kSnapshotPeriodNs = 1'000'000'000;

// ---- telemetry ----
inline constexpr uint32_t kSnapshotSessions = 256;   // sessions copied into the 1 s snapshot
inline constexpr uint32_t kTelemetrySessions = 128;  // sessions per /rustun/sessions reply (16 KiB bound)

}  // namespace rustun::dp::cap
#endif

namespace rustun::dp::cap {
// What the code relies on, in either variant.
static_assert(kMaxBurst >= 1 && kMaxBurst <= 64, "burst arrays live on the stack; dataplane.burst allows 1..64");
static_assert(kScratchPerItem >= 2048, "one frame's plaintext must fit");
static_assert((kMacCacheEntries & (kMacCacheEntries - 1)) == 0 && (kSourceLimiterSlots & (kSourceLimiterSlots - 1)) == 0,
              "direct-mapped tables are indexed by hash & (size - 1)");
static_assert(kSessionMaxProbe >= 1 && kSeqRetries >= 1);
static_assert((kMainTxRingSlots & (kMainTxRingSlots - 1)) == 0 && (kExceptionRingSlots & (kExceptionRingSlots - 1)) == 0,
              "rte_ring sizes are powers of two");
static_assert(kMainTxRingSlots >= kMaxBurst && kExceptionRingSlots >= kMaxBurst);
static_assert(kTelemetrySessions <= kSnapshotSessions);
}  // namespace rustun::dp::cap
