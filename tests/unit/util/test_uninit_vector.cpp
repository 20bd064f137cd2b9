// UninitBytes (lib/util/uninit_vector.hpp): a byte vector whose resize() does not zero what it
// adds. What it must keep from std::vector: the bytes already there survive growth and
// reallocation, insert() and explicit values still write, and it swaps and clears like a vector.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

#include "util/uninit_vector.hpp"

namespace rustun {
namespace {

TEST(UninitBytes, GrowthKeepsWrittenBytes) {
    UninitBytes v;
    for (size_t round = 0; round < 64; ++round) {  // many reallocations
        const size_t at = v.size();
        v.resize(at + 1000);
        for (size_t i = 0; i < 1000; ++i) v[at + i] = static_cast<uint8_t>(round * 7 + i);
    }
    ASSERT_EQ(v.size(), 64000u);
    for (size_t round = 0; round < 64; ++round)
        for (size_t i = 0; i < 1000; ++i) ASSERT_EQ(v[round * 1000 + i], static_cast<uint8_t>(round * 7 + i));
}

TEST(UninitBytes, ExplicitValuesAndInsertStillWrite) {
    UninitBytes v(16, 0xab);  // an explicit value is written, not skipped
    for (uint8_t b : v) EXPECT_EQ(b, 0xab);
    v.resize(32, 0x5c);
    for (size_t i = 16; i < 32; ++i) EXPECT_EQ(v[i], 0x5c);
    const uint8_t more[3] = {1, 2, 3};
    v.insert(v.end(), more, more + 3);
    ASSERT_EQ(v.size(), 35u);
    EXPECT_EQ(v[32], 1);
    EXPECT_EQ(v[34], 3);
    v.resize(20);  // shrinking keeps the prefix
    EXPECT_EQ(v[15], 0xab);
    EXPECT_EQ(v[19], 0x5c);
}

TEST(UninitBytes, SwapAndClearLikeAVector) {
    UninitBytes a(100), b;
    std::iota(a.begin(), a.end(), uint8_t{0});
    a.swap(b);
    EXPECT_TRUE(a.empty());
    ASSERT_EQ(b.size(), 100u);
    EXPECT_EQ(b[99], 99);
    const size_t cap = b.capacity();
    b.clear();
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.capacity(), cap);  // clear() keeps the allocation: no allocation per batch once warm
}

}  // namespace
}  // namespace rustun
