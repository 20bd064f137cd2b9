// Latency histogram: 10 ns buckets up to 2 ms, one overflow bucket, exact max. Single writer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace rustun::loadgen {

class LatencyHistogram {
public:
    static constexpr uint32_t kBucketNs = 10;
    static constexpr uint32_t kBuckets = 200'000;  // 2 ms

    LatencyHistogram() : b_(kBuckets + 1, 0) {}
    void add(uint64_t ns) {
        b_[std::min<uint64_t>(ns / kBucketNs, kBuckets)]++;
        ++n_;
        max_ = std::max(max_, ns);
        sum_ += ns;
    }
    uint64_t count() const { return n_; }
    uint64_t max_ns() const { return max_; }
    double mean_ns() const { return n_ ? double(sum_) / double(n_) : 0.0; }
    // Upper edge of the bucket holding quantile q (0..1); the overflow bucket reports the max.
    double quantile_ns(double q) const {
        if (n_ == 0) return 0.0;
        const uint64_t want = std::max<uint64_t>(1, static_cast<uint64_t>(q * double(n_) + 0.5));
        uint64_t acc = 0;
        for (uint32_t i = 0; i < kBuckets; ++i) {
            acc += b_[i];
            if (acc >= want) return double(i + 1) * kBucketNs;
        }
        return double(max_);
    }
    void clear() {
        std::fill(b_.begin(), b_.end(), 0);
        n_ = max_ = sum_ = 0;
    }

private:
    std::vector<uint64_t> b_;
    uint64_t n_ = 0, max_ = 0, sum_ = 0;
};

}  // namespace rustun::loadgen
