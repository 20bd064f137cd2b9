#include <gtest/gtest.h>

#include <sys/time.h>

#include <chrono>
#include <thread>

#include "util/clock.hpp"

namespace rustun {
namespace {

TEST(Clock, MonotonicAdvancesAndUnitsAgree) {
    const uint64_t a = mono_ns();
    const uint64_t ams = mono_ms();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const uint64_t b = mono_ns();
    EXPECT_GE(b - a, 20'000'000u);
    EXPECT_LT(b - a, 5'000'000'000u);
    EXPECT_GE(mono_ms(), ams + 20);
    EXPECT_NEAR(mono_seconds(), static_cast<double>(mono_ns()) * 1e-9, 0.5);
}

TEST(Clock, RealtimeIsUnixTime) {
    timeval tv;
    gettimeofday(&tv, nullptr);
    const uint64_t tod_us = static_cast<uint64_t>(tv.tv_sec) * 1'000'000ull + static_cast<uint64_t>(tv.tv_usec);
    const uint64_t us = realtime_us();
    EXPECT_GE(us, tod_us);
    EXPECT_LT(us - tod_us, 1'000'000u);
    const uint64_t ns = realtime_ns();
    EXPECT_GE(ns / 1000, us);
    EXPECT_LT(ns / 1000 - us, 1'000'000u);
    const uint64_t s = realtime_s();
    // time() reads the coarse clock, which may lag the precise one by a tick: either side of a
    // second boundary.
    EXPECT_LE(s > us / 1'000'000u ? s - us / 1'000'000u : us / 1'000'000u - s, 1u);
}

}  // namespace
}  // namespace rustun
