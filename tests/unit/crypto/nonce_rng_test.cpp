// NonceRng: uniqueness within a generator, across generators and across fork(); rough balance.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <random>
#include <thread>
#include <unordered_set>

#include "crypto_test_util.hpp"

namespace rustun {
namespace {

using Nonce = std::array<uint8_t, 12>;

struct NonceHash {
    size_t operator()(const Nonce& n) const {
        uint64_t a;
        uint32_t b;
        std::memcpy(&a, n.data(), 8);
        std::memcpy(&b, n.data() + 8, 4);
        return std::hash<uint64_t>()(a ^ (uint64_t{b} * 0x9e3779b97f4a7c15ULL));
    }
};
using NonceSet = std::unordered_set<Nonce, NonceHash>;

std::vector<Nonce> draw(NonceRng& rng, size_t n) {
    std::vector<Nonce> v(n);
    for (auto& x : v) rng.next(x.data());
    return v;
}

TEST(NonceRng, NoRepeatInOneGenerator) {
    auto e = test::make_engine();
    const size_t n = 1'000'000;  // ~7800 refills
    NonceSet seen;
    seen.reserve(n);
    for (const Nonce& x : draw(e->nonce_rng(), n)) ASSERT_TRUE(seen.insert(x).second);
}

TEST(NonceRng, PrepareConsumeAndNextShareOneSequence) {
    auto e = test::make_engine();
    NonceRng& rng = e->nonce_rng();
    std::mt19937_64 r(1);
    NonceSet seen;
    for (int round = 0; round < 5000; ++round) {
        const uint32_t n = 1 + static_cast<uint32_t>(r() % NonceRng::kBatch);
        const uint8_t* p = rng.prepare(n);
        EXPECT_EQ(rng.prepare(n), p) << "prepare without consume must not move";
        const uint32_t k = static_cast<uint32_t>(r() % (n + 1));
        for (uint32_t i = 0; i < k; ++i) {
            Nonce x;
            std::memcpy(x.data(), p + 12 * i, 12);
            ASSERT_TRUE(seen.insert(x).second);
        }
        rng.consume(k);
        Nonce y;
        rng.next(y.data());
        ASSERT_TRUE(seen.insert(y).second);
    }
}

TEST(NonceRng, GeneratorsOnThreadsHaveDistinctLanesAndNoCommonNonce) {
    constexpr int kThreads = 4;
    constexpr size_t kPer = 100'000;
    std::vector<std::vector<Nonce>> got(kThreads);
    std::vector<uint32_t> lanes(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([t, &got, &lanes] {
            auto e = test::make_engine();
            lanes[t] = e->nonce_rng().lane();
            got[t] = draw(e->nonce_rng(), kPer);
        });
    }
    for (auto& th : threads) th.join();
    NonceSet seen;
    for (int t = 0; t < kThreads; ++t) {
        for (int u = 0; u < t; ++u) EXPECT_NE(lanes[t], lanes[u]);
        for (const Nonce& x : got[t]) ASSERT_TRUE(seen.insert(x).second);
    }
}

TEST(NonceRng, BitsLookBalanced) {
    // A counter would leave the high bits constant; the permutation must not.
    auto e = test::make_engine();
    const size_t n = 200'000;
    std::array<size_t, 96> ones{};
    for (const Nonce& x : draw(e->nonce_rng(), n)) {
        for (int bit = 0; bit < 96; ++bit) ones[bit] += (x[bit / 8] >> (bit % 8)) & 1;
    }
    for (int bit = 0; bit < 96; ++bit) {
        // 200k fair coin flips: sigma ~ 224; 10 sigma bounds.
        EXPECT_NEAR(static_cast<double>(ones[bit]), n / 2.0, 2240.0) << "bit " << bit;
    }
}

TEST(NonceRng, ParentAndChildDoNotShareASequenceAfterFork) {
    auto e = test::make_engine();
    Nonce first;
    e->nonce_rng().next(first.data());  // leaves 127 buffered nonces that must not be reused
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    constexpr size_t kN = 1000;
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        std::vector<Nonce> v = draw(e->nonce_rng(), kN);
        const ssize_t want = static_cast<ssize_t>(v.size() * sizeof(Nonce));
        _exit(write(fds[1], v.data(), static_cast<size_t>(want)) == want ? 0 : 1);
    }
    close(fds[1]);
    std::vector<Nonce> parent = draw(e->nonce_rng(), kN);
    std::vector<Nonce> child(kN);
    size_t got = 0;
    auto* p = reinterpret_cast<uint8_t*>(child.data());
    while (got < kN * sizeof(Nonce)) {
        ssize_t r = read(fds[0], p + got, kN * sizeof(Nonce) - got);
        ASSERT_GT(r, 0);
        got += static_cast<size_t>(r);
    }
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    NonceSet seen{first};
    for (const Nonce& x : parent) ASSERT_TRUE(seen.insert(x).second);
    for (const Nonce& x : child) ASSERT_TRUE(seen.insert(x).second) << "child repeated a nonce";
}

}  // namespace
}  // namespace rustun
