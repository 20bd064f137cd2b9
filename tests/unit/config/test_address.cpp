// config-address: strict text forms of IPv4 addresses, netmasks, CIDRs and listen addresses.
#include <gtest/gtest.h>

#include "config/address.hpp"

namespace rustun {
namespace {

TEST(ConfigAddress, Ipv4) {
    EXPECT_EQ(parse_ipv4("10.0.1.2")->value, 0x0A000102u);
    EXPECT_EQ(parse_ipv4("0.0.0.0")->value, 0u);
    EXPECT_EQ(parse_ipv4("255.255.255.255")->value, 0xFFFFFFFFu);
    EXPECT_EQ(parse_ipv4("10.0.1.2")->to_string(), "10.0.1.2");
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4",
                            "1..3.4", "1.2.3.", "a.b.c.d", "-1.2.3.4", "+1.2.3.4", "1.2.3.0004",
                            "1.2.3.4/24"})
        EXPECT_FALSE(parse_ipv4(bad).has_value()) << bad;
}

TEST(ConfigAddress, Netmask) {
    EXPECT_EQ(netmask_prefix_len(*parse_ipv4("255.255.255.0")), 24);
    EXPECT_EQ(netmask_prefix_len(*parse_ipv4("255.255.255.255")), 32);
    EXPECT_EQ(netmask_prefix_len(*parse_ipv4("0.0.0.0")), 0);
    EXPECT_EQ(netmask_prefix_len(*parse_ipv4("255.128.0.0")), 9);
    EXPECT_FALSE(netmask_prefix_len(*parse_ipv4("255.0.255.0")));
    EXPECT_FALSE(netmask_prefix_len(*parse_ipv4("0.0.0.255")));
    EXPECT_FALSE(netmask_prefix_len(*parse_ipv4("255.255.255.254")) == std::nullopt);
}

TEST(ConfigAddress, Cidr) {
    auto c = parse_ipv4_cidr("192.168.11.7/24");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->to_string(), "192.168.11.7/24");  // host bits kept as written
    EXPECT_EQ(c->network(), 0xC0A80B00u);
    EXPECT_TRUE(c->contains(*parse_ipv4("192.168.11.255")));
    EXPECT_FALSE(c->contains(*parse_ipv4("192.168.12.0")));
    EXPECT_EQ(parse_ipv4_cidr("0.0.0.0/0")->mask(), 0u);
    EXPECT_EQ(parse_ipv4_cidr("1.2.3.4/32")->mask(), 0xFFFFFFFFu);
    for (const char* bad : {"1.2.3.4", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/024", "1.2.3/8", "1.2.3.4/8/8", "/8"})
        EXPECT_FALSE(parse_ipv4_cidr(bad).has_value()) << bad;
}

TEST(ConfigAddress, SocketAddress) {
    auto a = parse_socket_address("0.0.0.0:8080");
    ASSERT_TRUE(a.ok()) << a.error();
    EXPECT_EQ(a->family, AddressFamily::V4);
    EXPECT_EQ(a->port, 8080);
    EXPECT_EQ(a->to_string(), "0.0.0.0:8080");
    auto b = parse_socket_address("[::]:443");
    ASSERT_TRUE(b.ok()) << b.error();
    EXPECT_EQ(b->family, AddressFamily::V6);
    EXPECT_EQ(b->to_string(), "[::]:443");
    auto c = parse_socket_address("[2001:DB8:0:0::1]:65535");
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->to_string(), "[2001:db8::1]:65535");
    EXPECT_EQ(c->bytes[0], 0x20);
    for (const char* bad : {"", "0.0.0.0", "0.0.0.0:", ":80", "0.0.0.0:65536", "0.0.0.0:-1", "[::]", "[::]80",
                            "::1:80", "[::1:80", "[fe80::1%eth0]:80", "host:80", "1.2.3.4:08"})
        EXPECT_FALSE(parse_socket_address(bad).ok()) << bad;
}

}  // namespace
}  // namespace rustun
