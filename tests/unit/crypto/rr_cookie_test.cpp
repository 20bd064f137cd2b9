// SipHash-2-4 against the reference vectors; return-routability cookies (docs/protocol-extensions.md).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "crypto/rr_cookie.hpp"

using namespace rustun;

TEST(SipHash, ReferenceVectors) {
    // Aumasson & Bernstein, appendix A: key 00..0f, message 00..0e -> a129ca6149be45e5;
    // the empty message -> 726fdb47dd0e0e31 (vectors.h, first entry).
    uint8_t key[16], msg[15];
    for (int i = 0; i < 16; ++i) key[i] = static_cast<uint8_t>(i);
    for (int i = 0; i < 15; ++i) msg[i] = static_cast<uint8_t>(i);
    EXPECT_EQ(siphash24(key, msg, 15), 0xa129ca6149be45e5ull);
    EXPECT_EQ(siphash24(key, msg, 0), 0x726fdb47dd0e0e31ull);
}

TEST(RrCookie, BoundToIdentityEndpointAndTime) {
    const uint8_t key[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
    RrCookie c(key);
    const uint8_t ep[20] = {4, 0, 0x40, 0x9c, 198, 51, 100, 7};
    uint8_t other[20];
    std::copy(ep, ep + 20, other);
    other[7] = 8;
    const uint64_t t = 1764650000;
    const std::string k = c.make("client-a", ep, sizeof ep, t);
    ASSERT_EQ(k.size(), RrCookie::kTextLen);
    EXPECT_EQ(k.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_TRUE(c.verify(k, "client-a", ep, sizeof ep, t));
    EXPECT_TRUE(c.verify(k, "client-a", ep, sizeof ep, t + RrCookie::kBucketSeconds));       // next bucket
    EXPECT_FALSE(c.verify(k, "client-a", ep, sizeof ep, t + 2 * RrCookie::kBucketSeconds));  // expired
    EXPECT_FALSE(c.verify(k, "client-a", other, sizeof other, t));
    EXPECT_FALSE(c.verify(k, "client-b", ep, sizeof ep, t));
    EXPECT_FALSE(c.verify(k.substr(1), "client-a", ep, sizeof ep, t));
    std::string flipped = k;
    flipped[0] = flipped[0] == '0' ? '1' : '0';
    EXPECT_FALSE(c.verify(flipped, "client-a", ep, sizeof ep, t));
    // Another process (another random key) does not accept it.
    RrCookie fresh;
    EXPECT_FALSE(fresh.verify(k, "client-a", ep, sizeof ep, t));
}
