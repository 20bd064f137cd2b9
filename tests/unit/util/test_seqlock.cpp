// The seqlock's contract: a reader never returns a torn copy, gives up after its attempts while a
// write is stuck in the middle, and the writer keeps the sequence even between writes.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "util/seqlock.hpp"

namespace rustun {
namespace {

struct Guarded {
    Seqlock lock;
    std::atomic<uint32_t> w[5]{};
};

TEST(Seqlock, WriteThenReadQuiescent) {
    Guarded g;
    EXPECT_EQ(g.lock.sequence(), 0u);
    g.lock.write([&] {
        for (uint32_t i = 0; i < 5; ++i) g.w[i].store(i + 1, std::memory_order_relaxed);
    });
    EXPECT_EQ(g.lock.sequence(), 2u);
    uint32_t copy[5] = {};
    ASSERT_TRUE(g.lock.read([&] {
        for (int i = 0; i < 5; ++i) copy[i] = g.w[i].load(std::memory_order_relaxed);
    }, 1));
    for (uint32_t i = 0; i < 5; ++i) EXPECT_EQ(copy[i], i + 1);
}

TEST(Seqlock, ReaderGivesUpDuringAStuckWrite) {
    Guarded g;
    int runs = 0;
    bool inner_ok = true;
    g.lock.write([&] {
        // The writer is "preempted" here: a reader must not wait, and must not accept a copy.
        inner_ok = g.lock.read([&] { ++runs; }, 256);
        EXPECT_EQ(g.lock.sequence() & 1, 1u);
    });
    EXPECT_FALSE(inner_ok);
    EXPECT_EQ(runs, 0);  // an odd sequence is never copied from
    EXPECT_TRUE(g.lock.read([&] { ++runs; }, 1));
}

TEST(Seqlock, ReaderRetriesWhenAWriteSlipsIn) {
    Guarded g;
    int runs = 0;
    EXPECT_TRUE(g.lock.read([&] {
        if (runs++ == 0) g.lock.write([&] { g.w[0].store(7, std::memory_order_relaxed); });
    }, 4));
    EXPECT_EQ(runs, 2);  // the first copy overlapped a write and was thrown away
    EXPECT_FALSE(g.lock.read([&] { g.lock.write([] {}); }, 3));  // every attempt overlaps one
}

TEST(Seqlock, ConcurrentReadersNeverSeeATornCopy) {
    Guarded g;
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> torn{0}, good{0};
    std::thread reader([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            uint32_t c[5];
            if (!g.lock.read([&] {
                    for (int i = 0; i < 5; ++i) c[i] = g.w[i].load(std::memory_order_relaxed);
                }, 256))
                continue;
            bool same = true;
            for (int i = 1; i < 5; ++i) same = same && c[i] == c[0];
            (same ? good : torn).fetch_add(1, std::memory_order_relaxed);
        }
    });
    for (uint32_t v = 1; v <= 200'000; ++v)
        g.lock.write([&] {
            for (int i = 0; i < 5; ++i) g.w[i].store(v, std::memory_order_relaxed);
        });
    while (good.load() == 0) std::this_thread::yield();
    stop = true;
    reader.join();
    EXPECT_EQ(torn.load(), 0u);
    EXPECT_EQ(g.lock.sequence(), 400'000u);
}

}  // namespace
}  // namespace rustun
