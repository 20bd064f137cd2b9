#include <gtest/gtest.h>

#include "util/endian.hpp"

namespace rustun {
namespace {

TEST(Endian, LoadsAreBigEndianAndUnaligned) {
    const uint8_t b[] = {0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    EXPECT_EQ(load_be16(b + 1), 0x0102);
    EXPECT_EQ(load_be32(b + 1), 0x01020304u);
    EXPECT_EQ(load_be64(b + 1), 0x0102030405060708ull);
    EXPECT_EQ(load_be16(b), 0xff01);  // no sign extension
}

TEST(Endian, StoresRoundTrip) {
    uint8_t b[9] = {};
    store_be16(b + 1, 0xabcd);
    EXPECT_EQ(b[1], 0xab);
    EXPECT_EQ(b[2], 0xcd);
    store_be32(b + 1, 0x91929394u);
    EXPECT_EQ(load_be32(b + 1), 0x91929394u);
    EXPECT_EQ(b[1], 0x91);
    store_be64(b + 1, 0x1122334455667788ull);
    EXPECT_EQ(load_be64(b + 1), 0x1122334455667788ull);
    EXPECT_EQ(b[8], 0x88);
    EXPECT_EQ(b[0], 0);  // nothing written outside
}

static_assert([] {
    uint8_t b[4] = {};
    store_be32(b, 0x01020304u);
    return load_be32(b) == 0x01020304u && b[0] == 1;
}());

}  // namespace
}  // namespace rustun
