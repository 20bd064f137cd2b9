// The dataplane's runtime view (docs/dataplane.md, "Runtime"), computed from the rt_* counters of
// one counter block or a sum of blocks: busy TSC cycles per packet split by stage, packets per
// RX burst and busy/idle polls, as VPP's `show runtime`. Shared by the dataplane's
// `/rustun/runtime` telemetry, the control plane's `runtime` command and rustun-loadgen (which
// reads the blocks before and after its measured window). No DPDK here.
#pragma once

#include <array>
#include <cstdint>

#include "shm/dp_counters.hpp"

namespace rustun::shm {

// The stages a worker times, in pipeline order; cycles per packet of each = its rt_cycles_*
// counter / rx_packets.
struct RuntimeStage {
    const char* name;
    DpCounter cycles;
};
inline constexpr RuntimeStage kRuntimeStages[] = {
    {"rx", DpCounter::rt_cycles_rx},         {"parse", DpCounter::rt_cycles_parse},
    {"lookup", DpCounter::rt_cycles_lookup}, {"crypto", DpCounter::rt_cycles_crypto},
    {"route", DpCounter::rt_cycles_route},   {"tx", DpCounter::rt_cycles_tx},
};
inline constexpr size_t kRuntimeStageCount = sizeof(kRuntimeStages) / sizeof(kRuntimeStages[0]);

// Packets-per-burst histogram buckets (bucket "0" is rt_idle_polls).
struct BurstBucket {
    const char* name;
    DpCounter counter;
};
inline constexpr BurstBucket kBurstBuckets[] = {
    {"0", DpCounter::rt_idle_polls},         {"1", DpCounter::rt_burst_1},
    {"2-3", DpCounter::rt_burst_2_3},        {"4-7", DpCounter::rt_burst_4_7},
    {"8-15", DpCounter::rt_burst_8_15},      {"16-31", DpCounter::rt_burst_16_31},
    {"32+", DpCounter::rt_burst_32_plus},
};
inline constexpr size_t kBurstBucketCount = sizeof(kBurstBuckets) / sizeof(kBurstBuckets[0]);

// The histogram counter of a burst of n >= 1 packets.
constexpr DpCounter burst_bucket(uint32_t n) {
    return n >= 32 ? DpCounter::rt_burst_32_plus
           : n >= 16 ? DpCounter::rt_burst_16_31
           : n >= 8  ? DpCounter::rt_burst_8_15
           : n >= 4  ? DpCounter::rt_burst_4_7
           : n >= 2  ? DpCounter::rt_burst_2_3
                     : DpCounter::rt_burst_1;
}

// Counter values of one block (or a sum, or a difference of two snapshots), by DpCounter index.
using CounterValues = std::array<uint64_t, kDpCounterCount>;

struct RuntimeView {
    uint64_t packets = 0;      // rx_packets minus those of stalled bursts
    uint64_t stalled_bursts = 0;
    uint64_t busy_polls = 0;   // bursts
    uint64_t idle_polls = 0;
    uint64_t busy_cycles = 0;  // rt_cycles_busy
    uint64_t idle_cycles = 0;
    double cycles_per_packet = 0;                     // busy cycles / packets
    double stage_per_packet[kRuntimeStageCount] = {}; // per stage; 0 when stage timing is off
    double other_per_packet = 0;    // busy minus the stages (counter flush, loop overhead)
    double packets_per_burst = 0;
    double busy_share = 0;          // busy cycles / (busy + idle cycles)

    static RuntimeView of(const CounterValues& v) {
        auto at = [&](DpCounter c) { return v[static_cast<size_t>(c)]; };
        RuntimeView r;
        // Stalled bursts (descheduled for over 1 ms) are left out of the per-packet figures.
        const uint64_t rx = at(DpCounter::rx_packets), stalled = at(DpCounter::rt_stalled_packets);
        r.packets = rx > stalled ? rx - stalled : 0;
        r.stalled_bursts = at(DpCounter::rt_stalled_bursts);
        r.busy_polls = at(DpCounter::rt_busy_polls);
        r.idle_polls = at(DpCounter::rt_idle_polls);
        r.busy_cycles = at(DpCounter::rt_cycles_busy);
        r.idle_cycles = at(DpCounter::rt_cycles_idle);
        const double p = r.packets ? double(r.packets) : 1.0;
        r.cycles_per_packet = r.packets ? double(r.busy_cycles) / p : 0;
        double staged = 0;
        for (size_t i = 0; i < kRuntimeStageCount; ++i) {
            r.stage_per_packet[i] = r.packets ? double(at(kRuntimeStages[i].cycles)) / p : 0;
            staged += r.stage_per_packet[i];
        }
        r.other_per_packet = staged > 0 ? r.cycles_per_packet - staged : 0;
        r.packets_per_burst = r.busy_polls ? double(r.packets) / double(r.busy_polls) : 0;
        const uint64_t all = r.busy_cycles + r.idle_cycles;
        r.busy_share = all ? double(r.busy_cycles) / double(all) : 0;
        return r;
    }
};

}  // namespace rustun::shm
