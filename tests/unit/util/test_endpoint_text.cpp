#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "util/endpoint_text.hpp"

namespace rustun {
namespace {

shm::Endpoint ep(const char* ip, uint16_t port) {
    shm::Endpoint e{};
    e.port = port;
    if (inet_pton(AF_INET, ip, e.addr) == 1) e.family = 4;
    else if (inet_pton(AF_INET6, ip, e.addr) == 1) e.family = 6;
    return e;
}

TEST(EndpointText, Ipv4) {
    EXPECT_EQ(ipv4_text(0x0A000102), "10.0.1.2");
    EXPECT_EQ(ipv4_text(0xffffffff), "255.255.255.255");
    EXPECT_EQ(ipv4_text(0), "0.0.0.0");
    const uint8_t a[4] = {192, 0, 2, 1};
    EXPECT_EQ(ip_text(true, a), "192.0.2.1");
    EXPECT_EQ(ip_port_text(true, a, 65535), "192.0.2.1:65535");
}

TEST(EndpointText, ShmEndpoint) {
    EXPECT_EQ(endpoint_text(ep("198.18.0.1", 10000)), "198.18.0.1:10000");
    EXPECT_EQ(endpoint_text(ep("2001:db8::1", 4000)), "[2001:db8::1]:4000");
    EXPECT_EQ(endpoint_text(ep("::", 0)), "[::]:0");
    EXPECT_EQ(ip_text(false, ep("2001:db8:0:0:1:0:0:1", 1).addr), "2001:db8::1:0:0:1");  // RFC 5952
}

TEST(EndpointText, Sockaddr) {
    sockaddr_storage ss{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(443);
    inet_pton(AF_INET, "203.0.113.9", &v4->sin_addr);
    EXPECT_EQ(sockaddr_text(ss), "203.0.113.9:443");

    ss = {};
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(8080);
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &v6->sin6_addr);
    EXPECT_EQ(sockaddr_text(ss), "[::ffff:192.0.2.7]:8080");
    EXPECT_EQ(sockaddr_text(ss, V4Mapped::AsIpv4), "192.0.2.7:8080");
    inet_pton(AF_INET6, "fe80::2", &v6->sin6_addr);
    EXPECT_EQ(sockaddr_text(ss, V4Mapped::AsIpv4), "[fe80::2]:8080");

    ss = {};
    ss.ss_family = AF_UNIX;
    EXPECT_EQ(sockaddr_text(ss), "?");
}

}  // namespace
}  // namespace rustun
