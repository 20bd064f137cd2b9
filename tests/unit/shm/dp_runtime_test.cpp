// The runtime view (lib/shm/dp_runtime.hpp): the figures /rustun/runtime, `rustunctl runtime`
// and rustun-loadgen derive from a worker's rt_* counters.
#include "shm/dp_runtime.hpp"

#include <gtest/gtest.h>

#include <iterator>

namespace rustun::shm {
namespace {

uint64_t& at(CounterValues& v, DpCounter c) { return v[static_cast<size_t>(c)]; }

TEST(DpRuntime, BurstBucketsMatchTheirNames) {
    EXPECT_EQ(burst_bucket(1), DpCounter::rt_burst_1);
    EXPECT_EQ(burst_bucket(2), DpCounter::rt_burst_2_3);
    EXPECT_EQ(burst_bucket(3), DpCounter::rt_burst_2_3);
    EXPECT_EQ(burst_bucket(4), DpCounter::rt_burst_4_7);
    EXPECT_EQ(burst_bucket(7), DpCounter::rt_burst_4_7);
    EXPECT_EQ(burst_bucket(8), DpCounter::rt_burst_8_15);
    EXPECT_EQ(burst_bucket(15), DpCounter::rt_burst_8_15);
    EXPECT_EQ(burst_bucket(16), DpCounter::rt_burst_16_31);
    EXPECT_EQ(burst_bucket(31), DpCounter::rt_burst_16_31);
    EXPECT_EQ(burst_bucket(32), DpCounter::rt_burst_32_plus);
    EXPECT_EQ(burst_bucket(64), DpCounter::rt_burst_32_plus);
    // Each bucket's label names its counter.
    const char* want[] = {"rt_idle_polls", "rt_burst_1", "rt_burst_2_3", "rt_burst_4_7",
                          "rt_burst_8_15", "rt_burst_16_31", "rt_burst_32_plus"};
    ASSERT_EQ(kBurstBucketCount, std::size(want));
    for (size_t i = 0; i < kBurstBucketCount; ++i)
        EXPECT_STREQ(kDpCounterInfo[static_cast<size_t>(kBurstBuckets[i].counter)].name, want[i]) << kBurstBuckets[i].name;
}

TEST(DpRuntime, PerPacketFiguresLeaveStalledBurstsOut) {
    CounterValues v{};
    at(v, DpCounter::rx_packets) = 1000 + 64;  // 64 packets came in a burst that stalled
    at(v, DpCounter::rt_stalled_packets) = 64;
    at(v, DpCounter::rt_stalled_bursts) = 1;
    at(v, DpCounter::rt_cycles_stalled) = 9'000'000;
    at(v, DpCounter::rt_busy_polls) = 40;
    at(v, DpCounter::rt_idle_polls) = 10;
    at(v, DpCounter::rt_cycles_busy) = 400'000;
    at(v, DpCounter::rt_cycles_idle) = 100'000;
    at(v, DpCounter::rt_cycles_rx) = 50'000;
    at(v, DpCounter::rt_cycles_parse) = 60'000;
    at(v, DpCounter::rt_cycles_lookup) = 30'000;
    at(v, DpCounter::rt_cycles_crypto) = 100'000;
    at(v, DpCounter::rt_cycles_route) = 90'000;
    at(v, DpCounter::rt_cycles_tx) = 60'000;
    const RuntimeView r = RuntimeView::of(v);
    EXPECT_EQ(r.packets, 1000u);
    EXPECT_EQ(r.stalled_bursts, 1u);
    EXPECT_DOUBLE_EQ(r.cycles_per_packet, 400.0);
    const double want[] = {50, 60, 30, 100, 90, 60};
    for (size_t i = 0; i < kRuntimeStageCount; ++i) EXPECT_DOUBLE_EQ(r.stage_per_packet[i], want[i]) << kRuntimeStages[i].name;
    EXPECT_DOUBLE_EQ(r.other_per_packet, 10.0);
    EXPECT_DOUBLE_EQ(r.packets_per_burst, 25.0);
    EXPECT_DOUBLE_EQ(r.busy_share, 0.8);
}

TEST(DpRuntime, NoTrafficGivesZerosNotNaN) {
    const RuntimeView r = RuntimeView::of(CounterValues{});
    EXPECT_EQ(r.cycles_per_packet, 0.0);
    EXPECT_EQ(r.packets_per_burst, 0.0);
    EXPECT_EQ(r.busy_share, 0.0);
    EXPECT_EQ(r.other_per_packet, 0.0);
}

}  // namespace
}  // namespace rustun::shm
