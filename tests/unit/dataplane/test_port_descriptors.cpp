// choose_descriptors (dataplane/port_descriptors.hpp): dataplane.rx_descriptors / tx_descriptors
// against a port's desc_lim, with an error naming the key, the value, the port and the limits.
#include <gtest/gtest.h>

#include "port_descriptors.hpp"

using rustun::dp::choose_descriptors;
using rustun::dp::DescriptorLimits;

TEST(PortDescriptors, ZeroTakesTheBuildDefault) {
    auto r = choose_descriptors("dataplane.rx_descriptors", 0, 1024, DescriptorLimits{64, 512, 32}, "p");
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(*r, 1024u);  // the caller's rte_eth_dev_adjust_nb_rx_tx_desc clamps it
}

TEST(PortDescriptors, WithinTheLimitsIsKept) {
    for (uint32_t n : {64u, 128u, 4096u}) {
        auto r = choose_descriptors("dataplane.tx_descriptors", n, 1024, DescriptorLimits{64, 4096, 32}, "p");
        ASSERT_TRUE(r) << r.error();
        EXPECT_EQ(*r, n);
    }
    auto any = choose_descriptors("dataplane.tx_descriptors", 32768, 1024, DescriptorLimits{}, "net_pcap0");
    ASSERT_TRUE(any) << any.error();
    EXPECT_EQ(*any, 32768u);
}

TEST(PortDescriptors, OutsideTheLimitsIsRefusedWithBoth) {
    auto big = choose_descriptors("dataplane.rx_descriptors", 8192, 1024, DescriptorLimits{64, 4096, 32},
                                  "0000:01:00.0");
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error(),
              "dataplane.rx_descriptors: 8192 is outside the limits of port 0000:01:00.0: 64..4096 in multiples of 32");
    auto small = choose_descriptors("dataplane.tx_descriptors", 32, 1024, DescriptorLimits{64, 4096, 1}, "p");
    ASSERT_FALSE(small);
    EXPECT_EQ(small.error(), "dataplane.tx_descriptors: 32 is outside the limits of port p: 64..4096");
    auto unaligned = choose_descriptors("dataplane.rx_descriptors", 64, 1024, DescriptorLimits{0, 4096, 128}, "p");
    ASSERT_FALSE(unaligned);
    EXPECT_NE(unaligned.error().find("in multiples of 128"), std::string::npos);
}
