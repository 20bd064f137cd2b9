// What `rustunctl clear-counters` recorded: the counters' values at the clear, so that `stats`
// and `dataplane` show the counts since then. Nothing is zeroed: the counters themselves stay
// monotonic (the metrics endpoint and rte_telemetry keep their totals), and the dataplane's live
// in shared memory that the dataplane owns. A dataplane baseline belongs to one dataplane
// (its dp_epoch): a new dataplane starts from zero, and its baseline is dropped. A value below
// its baseline (a counter that restarted) is shown whole.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "counters.hpp"
#include "shm/dp_counters.hpp"
#include "thread_annotations.hpp"

namespace rustun::cp {

using CpCounterValues = std::array<uint64_t, kCounterCount>;
using DpCounterValues = std::array<uint64_t, shm::kDpCounterCount>;

// The dataplane's counters at one instant: totals and per worker, of the dataplane `epoch`.
struct DpCounterSnapshot {
    uint64_t epoch = 0;
    DpCounterValues totals{};
    std::vector<DpCounterValues> workers;
};

class CounterBaseline {
public:
    // Records the current values (`dp` null: no dataplane attached) at Unix time `now_s`.
    void record(const CpCounterValues& cp, const DpCounterSnapshot* dp, uint64_t now_s) EXCLUDES(mu_);
    // Unix seconds of the last clear; 0 = never cleared.
    uint64_t cleared_at() const EXCLUDES(mu_);
    // In place: each value minus its baseline.
    void subtract(CpCounterValues& cp) const EXCLUDES(mu_);
    void subtract(DpCounterSnapshot& dp) const EXCLUDES(mu_);

private:
    mutable Mutex mu_;
    uint64_t cleared_at_ GUARDED_BY(mu_) = 0;
    CpCounterValues cp_ GUARDED_BY(mu_){};
    bool have_dp_ GUARDED_BY(mu_) = false;
    DpCounterSnapshot dp_ GUARDED_BY(mu_);
};

}  // namespace rustun::cp
