// SessionTable: single writer, lock-free readers.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "session_table.hpp"

using namespace rustun;
using namespace rustun::dp;

namespace {
EndpointKey key(uint32_t i, uint8_t family = 4) {
    shm::Endpoint e{};
    e.family = family;
    e.port = static_cast<uint16_t>(1000 + i % 50000);
    e.addr[0] = 10;
    e.addr[1] = static_cast<uint8_t>(i >> 16);
    e.addr[2] = static_cast<uint8_t>(i >> 8);
    e.addr[3] = static_cast<uint8_t>(i);
    if (family == 6) e.addr[15] = 1;
    return EndpointKey::from(e);
}
}  // namespace

TEST(SessionTable, InsertLookupEraseReplace) {
    SessionTable t(100);
    EXPECT_EQ(t.lookup(key(1)), kNoSession);
    EXPECT_EQ(t.insert(key(1), 5), SessionTable::Insert::Added);
    EXPECT_EQ(t.insert(key(2), 6), SessionTable::Insert::Added);
    EXPECT_EQ(t.lookup(key(1)), 5u);
    EXPECT_EQ(t.lookup(key(1, 6)), kNoSession);  // the family is part of the key
    EXPECT_EQ(t.insert(key(1), 9), SessionTable::Insert::Replaced);
    EXPECT_EQ(t.lookup(key(1)), 9u);
    EXPECT_EQ(t.size(), 2u);
    EXPECT_TRUE(t.erase(key(1)));
    EXPECT_FALSE(t.erase(key(1)));
    EXPECT_EQ(t.lookup(key(1)), kNoSession);
    EXPECT_EQ(t.lookup(key(2)), 6u);  // probing continues over the tombstone
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(t.tombstones(), 1u);
}

TEST(SessionTable, NormalisesEndpoints) {
    shm::Endpoint a{};
    a.family = 4;
    a.port = 5;
    a.addr[0] = 1;
    shm::Endpoint b = a;
    b.pad = 7;
    b.addr[9] = 3;  // garbage beyond the IPv4 address
    EXPECT_EQ(EndpointKey::from(a), EndpointKey::from(b));
}

// The worker keys a packet's source with EndpointKey::of (words built in registers); the
// control path with from(shm::Endpoint). Both must give the same key, or no session is found.
TEST(SessionTable, KeyFromFrameBytesSameAsFromEndpoint) {
    const uint8_t v4[4] = {192, 0, 2, 77};
    uint8_t v6[16];
    for (int i = 0; i < 16; ++i) v6[i] = static_cast<uint8_t>(0xf0 + i);
    for (uint16_t port : {uint16_t{1}, uint16_t{4500}, uint16_t{65535}}) {
        shm::Endpoint a{};
        a.family = 4;
        a.port = port;
        std::memcpy(a.addr, v4, 4);
        EXPECT_EQ(EndpointKey::of(4, port, v4), EndpointKey::from(a)) << port;
        EXPECT_EQ(endpoint_hash(EndpointKey::of(4, port, v4)), endpoint_hash(EndpointKey::from(a)));
        shm::Endpoint b{};
        b.family = 6;
        b.port = port;
        std::memcpy(b.addr, v6, 16);
        EXPECT_EQ(EndpointKey::of(6, port, v6), EndpointKey::from(b)) << port;
        const shm::Endpoint back = EndpointKey::of(6, port, v6).to_endpoint();
        EXPECT_EQ(back.family, 6);
        EXPECT_EQ(back.port, port);
        EXPECT_EQ(std::memcmp(back.addr, v6, 16), 0);
    }
}

TEST(SessionTable, CapacityIsEnforced) {
    SessionTable t(16);
    for (uint32_t i = 0; i < 16; ++i) EXPECT_EQ(t.insert(key(i), i), SessionTable::Insert::Added);
    EXPECT_EQ(t.insert(key(99), 99), SessionTable::Insert::Full);
    EXPECT_EQ(t.insert(key(3), 42), SessionTable::Insert::Replaced);  // replacing needs no room
    for (uint32_t i = 0; i < 16; ++i) EXPECT_EQ(t.lookup(key(i)), i == 3 ? 42u : i);
    std::vector<uint32_t> seen;
    t.for_each([&](const EndpointKey&, uint32_t v) { seen.push_back(v); });
    EXPECT_EQ(seen.size(), 16u);
}

TEST(SessionTable, ChurnRequestsRebuild) {
    SessionTable t(64);
    uint32_t i = 0;
    while (!t.needs_rebuild() && i < 100000) {
        ASSERT_NE(t.insert(key(i), i), SessionTable::Insert::Full);
        ASSERT_TRUE(t.erase(key(i)));
        ++i;
    }
    EXPECT_TRUE(t.needs_rebuild());
}

// A reader never sees a value that was never bound to the key it asked for.
TEST(SessionTable, ConcurrentReadersSeeConsistentEntries) {
    SessionTable t(1024);
    for (uint32_t i = 0; i < 512; ++i) t.insert(key(i), i);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> bad{0}, hits{0};
    std::thread reader([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            for (uint32_t i = 0; i < 1024; ++i) {
                const uint32_t v = t.lookup(key(i));
                if (v == kNoSession) continue;
                hits.fetch_add(1, std::memory_order_relaxed);
                if (v % 1024 != i) bad.fetch_add(1, std::memory_order_relaxed);  // values are i + 1024*n
            }
        }
    });
    for (uint32_t round = 1; round < 200; ++round) {
        for (uint32_t i = 0; i < 1024; ++i) {
            if ((i + round) % 3 == 0) t.erase(key(i));
            else t.insert(key(i), i + 1024 * (round % 4));
        }
        if (t.needs_rebuild()) break;  // the real owner would build a fresh generation here
    }
    stop = true;
    reader.join();
    EXPECT_EQ(bad.load(), 0u);
    EXPECT_GT(hits.load(), 0u);
}
