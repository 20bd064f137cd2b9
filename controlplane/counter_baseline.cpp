#include "counter_baseline.hpp"

namespace rustun::cp {

namespace {

template <size_t N>
void minus(std::array<uint64_t, N>& v, const std::array<uint64_t, N>& base) {
    for (size_t i = 0; i < N; ++i)
        if (v[i] >= base[i]) v[i] -= base[i];  // else: the counter restarted; its value is all new
}

}  // namespace

void CounterBaseline::record(const CpCounterValues& cp, const DpCounterSnapshot* dp, uint64_t now_s) {
    MutexLock lk(mu_);
    cleared_at_ = now_s;
    cp_ = cp;
    have_dp_ = dp != nullptr;
    if (dp) dp_ = *dp;
}

uint64_t CounterBaseline::cleared_at() const {
    MutexLock lk(mu_);
    return cleared_at_;
}

void CounterBaseline::subtract(CpCounterValues& cp) const {
    MutexLock lk(mu_);
    minus(cp, cp_);
}

void CounterBaseline::subtract(DpCounterSnapshot& dp) const {
    MutexLock lk(mu_);
    if (!have_dp_ || dp.epoch != dp_.epoch) return;  // another dataplane: its counters started at zero
    minus(dp.totals, dp_.totals);
    for (size_t w = 0; w < dp.workers.size() && w < dp_.workers.size(); ++w) minus(dp.workers[w], dp_.workers[w]);
}

}  // namespace rustun::cp
