// dataplane/capacities.hpp is where the dataplane's limits come from, in both variants: this test
// is built twice, as the build is (dataplane-capacities) and with the small variant
// (dataplane-capacities-small: -DRUSTUN_CAPACITIES_TEST, session_table.cpp compiled with it).
#include <gtest/gtest.h>

#include <vector>

#include "capacities.hpp"
#include "mac_cache.hpp"
#include "session_table.hpp"

using namespace rustun;
using namespace rustun::dp;

namespace {

shm::Endpoint ep(uint32_t n) {
    shm::Endpoint e{};
    e.family = 4;
    e.port = static_cast<uint16_t>(1 + n % 60000);
    e.addr[0] = 198;
    e.addr[1] = 51;
    e.addr[2] = static_cast<uint8_t>(n / 60000);
    e.addr[3] = 1;
    return e;
}

}  // namespace

TEST(Capacities, TheSessionTableProbesAtMostTheConfiguredLength) {
    // Keys that all hash to the same home slot: the first kSessionMaxProbe fill the run, the next
    // one finds no slot within the probe length (the table is otherwise far from full).
    const uint32_t capacity = 4 * cap::kSessionMaxProbe + 64;
    SessionTable t(capacity);
    uint64_t slots = 16;
    while (slots < uint64_t{capacity} * 2) slots <<= 1;
    std::vector<EndpointKey> same_home;
    for (uint32_t n = 0; same_home.size() <= cap::kSessionMaxProbe && n < 50'000'000; ++n) {
        const EndpointKey k = EndpointKey::from(ep(n));
        if ((endpoint_hash(k) & (slots - 1)) == 7) same_home.push_back(k);
    }
    ASSERT_EQ(same_home.size(), cap::kSessionMaxProbe + 1u);
    for (uint32_t i = 0; i < cap::kSessionMaxProbe; ++i)
        EXPECT_EQ(t.insert(same_home[i], i), SessionTable::Insert::Added) << i;
    EXPECT_EQ(t.insert(same_home.back(), 99), SessionTable::Insert::Full);
    EXPECT_EQ(t.lookup(same_home.back()), kNoSession);
}

TEST(Capacities, TablesAreSizedFromTheHeader) {
    EXPECT_EQ(MacCache::kEntries, cap::kMacCacheEntries);
    EXPECT_EQ(SessionTable::kMaxProbe, cap::kSessionMaxProbe);
    EXPECT_EQ(kSeqRetries, cap::kSeqRetries);
#ifdef RUSTUN_CAPACITIES_TEST
    EXPECT_EQ(cap::kSessionMaxProbe, 8u);  // the small variant is the one compiled in
#endif
}
