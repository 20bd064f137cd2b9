// lib/net: the Internet checksum and the outer headers the dataplane and the load generator
// write (known bytes; the dataplane's own tests parse them back: dataplane-packet).
#include <gtest/gtest.h>

#include <vector>

#include "net/checksum.hpp"
#include "net/packet_build.hpp"

namespace rustun {
namespace {

TEST(NetChecksum, Rfc1071ExampleAndChaining) {
    const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(csum_add(0, d, sizeof d), 0xddf2u);  // RFC 1071 section 3 (sum before complement)
    EXPECT_EQ(csum_add(csum_add(0, d, 4), d + 4, 4), 0xddf2u);  // chained over two pieces
    const uint8_t odd[] = {0x01, 0x02, 0x03};
    EXPECT_EQ(csum_fold(csum_add(0, odd, 3)), static_cast<uint16_t>(~(0x0102 + 0x0300)));
}

TEST(NetPacketBuild, Ipv4HeaderBytesAreTheContract) {
    OuterSource src{};
    const uint8_t smac[6] = {0x02, 0x6c, 0x67, 0, 0, 5};
    std::copy(smac, smac + 6, src.mac);
    const uint8_t a4[4] = {198, 51, 100, 6};
    std::copy(a4, a4 + 4, src.addr4);
    src.port = 40005;
    shm::Endpoint gw{};
    gw.family = 4;
    gw.port = 8080;
    const uint8_t g4[4] = {192, 0, 2, 1};
    std::copy(g4, g4 + 4, gw.addr);
    const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0xfe};
    std::vector<uint8_t> f(outer_header_len(4) + 10, 0xee);
    write_outer(f.data(), src, dmac, gw, 10, false, 0);
    const std::vector<uint8_t> want = {
        0x02, 0, 0, 0, 0, 0xfe, 0x02, 0x6c, 0x67, 0, 0, 5, 0x08, 0x00,  // Ethernet
        0x45, 0, 0, 38, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 6, 192, 0, 2, 1,  // IPv4 (checksum below)
        0x9c, 0x45, 0x1f, 0x90, 0, 18, 0, 0,  // UDP: 40005 -> 8080, length 18, no checksum
    };
    ASSERT_EQ(outer_header_len(4), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        if (i != 24 && i != 25) {
            EXPECT_EQ(f[i], want[i]) << "byte " << i;
        }
    }
    EXPECT_EQ(csum_fold(csum_add(0, f.data() + kEthLen, kIpv4Len)), 0);  // a valid header checksum
    EXPECT_EQ(f[outer_header_len(4)], 0xee);  // the payload is not touched
}

TEST(NetPacketBuild, Ipv6HasAValidUdpChecksum) {
    OuterSource src{};
    src.has_addr6 = true;
    src.addr6[0] = 0x20;
    src.addr6[1] = 0x01;
    src.addr6[15] = 1;
    src.port = 8080;
    shm::Endpoint to{};
    to.family = 6;
    to.port = 7000;
    to.addr[0] = 0x20;
    to.addr[1] = 0x01;
    to.addr[15] = 9;
    const uint8_t dmac[6] = {2, 0, 0, 0, 0, 1};
    std::vector<uint8_t> f(outer_header_len(6) + 5, 0x5a);
    write_outer(f.data(), src, dmac, to, 5, false, 0);
    EXPECT_EQ(f[12], 0x86);
    EXPECT_EQ(f[13], 0xdd);
    const uint8_t* ip = f.data() + kEthLen;
    uint32_t s = csum_add(0, ip + 8, 32) + kUdpLen + 5 + kProtoUdp;
    EXPECT_EQ(csum_fold(csum_add(s, ip + kIpv6Len, kUdpLen + 5)), 0);
}

}  // namespace
}  // namespace rustun
