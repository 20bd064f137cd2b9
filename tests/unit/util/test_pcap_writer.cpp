// The writer's files are the classic format the generators wrote by hand: a 24-byte header
// {a1b2c3d4, 2.4, 0, 0, 65535, 1} and 16-byte record headers {sec, usec, caplen, len}.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "net/pcap_writer.hpp"

namespace rustun {
namespace {

std::vector<uint8_t> slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(PcapWriter, BytesMatchTheHandWrittenFormat) {
    const std::string path = ::testing::TempDir() + "pcap_writer_test.pcap";
    const uint8_t a[] = {1, 2, 3}, b[] = {9, 8, 7, 6, 5};
    {
        PcapWriter w;
        ASSERT_TRUE(w.open(path).ok());
        w.write(a, sizeof a, 1'700'000'000'000'001ull);
        w.write(b, sizeof b, 2'000'000ull);
        ASSERT_TRUE(w.close().ok());
    }
    // 24 + (16 + 3) + (16 + 5) bytes, host-endian words as libpcap and the old writers wrote them.
    const uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    const uint32_t r1[4] = {1'700'000'000, 1, 3, 3};
    const uint32_t r2[4] = {2, 0, 5, 5};
    std::vector<uint8_t> want(24 + 16 + 3 + 16 + 5);
    uint8_t* o = want.data();
    std::memcpy(o, gh, 24);
    std::memcpy(o + 24, r1, 16);
    std::memcpy(o + 40, a, 3);
    std::memcpy(o + 43, r2, 16);
    std::memcpy(o + 59, b, 5);
    EXPECT_EQ(slurp(path), want);
    std::remove(path.c_str());
}

TEST(PcapWriter, OpenErrorNamesThePath) {
    PcapWriter w;
    Status st = w.open("/nonexistent-dir/x.pcap");
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().find("/nonexistent-dir/x.pcap"), std::string::npos);
    EXPECT_FALSE(w.is_open());
    EXPECT_TRUE(w.close().ok());
}

}  // namespace
}  // namespace rustun
