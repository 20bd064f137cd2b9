// A fixed-bucket latency histogram with one writer and any number of readers (relaxed
// atomics, like CounterBlock): the worker that owns it observes, the metrics thread sums the
// workers' snapshots. Bucket bounds are upper bounds in microseconds, cumulative only when
// exported (Prometheus `le`); a sample above the last bound counts in +Inf only.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace rustun::cp {

// Upper bounds (µs) of the buckets: 10 µs .. 100 ms, roughly ×2.5 apart.
inline constexpr std::array<uint64_t, 10> kLatencyBucketsUs = {10, 25, 50, 100, 250, 500, 1000, 2500, 10000, 100000};

struct LatencySnapshot {
    std::array<uint64_t, kLatencyBucketsUs.size()> buckets{};  // per bucket, NOT cumulative
    uint64_t count = 0;                                        // all samples (includes > last bound)
    uint64_t sum_ns = 0;

    LatencySnapshot& operator+=(const LatencySnapshot& o) {
        for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
        count += o.count;
        sum_ns += o.sum_ns;
        return *this;
    }
};

class LatencyHistogram {
public:
    // Single writer.
    void observe_ns(uint64_t ns) {
        for (size_t i = 0; i < kLatencyBucketsUs.size(); ++i) {
            if (ns <= kLatencyBucketsUs[i] * 1000) {  // le: inclusive upper bound
                bump(buckets_[i], 1);
                break;
            }
        }
        bump(count_, 1);
        bump(sum_ns_, ns);
    }
    LatencySnapshot snapshot() const {
        LatencySnapshot s;
        for (size_t i = 0; i < buckets_.size(); ++i) s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
        s.count = count_.load(std::memory_order_relaxed);
        s.sum_ns = sum_ns_.load(std::memory_order_relaxed);
        return s;
    }

private:
    static void bump(std::atomic<uint64_t>& a, uint64_t v) {
        a.store(a.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
    }
    std::array<std::atomic<uint64_t>, kLatencyBucketsUs.size()> buckets_{};
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace rustun::cp
