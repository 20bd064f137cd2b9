// routing-inner-policy: the checks both planes apply to a decrypted inner packet, in order.
#include <gtest/gtest.h>

#include <vector>

#include "config/address.hpp"
#include "routing/inner_packet_policy.hpp"

namespace rustun {
namespace {

Ipv4Addr addr(const char* s) { return *parse_ipv4(s); }
Ipv4Cidr cidr(const char* s) { return *parse_ipv4_cidr(s); }

// An IPv4 header (version/IHL 0x45) from `src` to `dst`, padded to `len` bytes.
std::vector<uint8_t> ipv4(const char* src, const char* dst, size_t len = 20) {
    std::vector<uint8_t> p(len, 0);
    p[0] = 0x45;
    store_be32(p.data() + 12, addr(src).value);
    store_be32(p.data() + 16, addr(dst).value);
    return p;
}

// Cluster 0: a = 10.0.0.2 (+ 192.168.1.0/24), b = 10.0.0.3. Cluster 1: c = 10.0.0.4.
struct Fixture : ::testing::Test {
    void SetUp() override {
        RouteTableBuilder rb, any;
        c0 = rb.add_cluster();
        any.add_cluster();
        std::vector<Ipv4Cidr> a_cidrs{cidr("192.168.1.0/24")};
        a = rb.add_client(addr("10.0.0.2"), a_cidrs);
        b = rb.add_client(addr("10.0.0.3"), {});
        c1 = rb.add_cluster();
        c = rb.add_client(addr("10.0.0.4"), {});
        any.add_client(addr("10.0.0.2"), a_cidrs);
        any.add_client(addr("10.0.0.3"), {});
        any.add_client(addr("10.0.0.4"), {});
        routes = rb.build();
        any_cluster = any.build();
    }
    InnerDecision decide(ClientId from, ClusterId cl, const std::vector<uint8_t>& p, bool with_any = true) {
        return route_inner_packet(routes, from, cl, p.data(), p.size(), with_any ? &any_cluster : nullptr);
    }
    RouteTable routes, any_cluster;
    ClusterId c0 = 0, c1 = 0;
    ClientId a = 0, b = 0, c = 0;
};

TEST_F(Fixture, ForwardsWithinTheCluster) {
    auto d = decide(a, c0, ipv4("10.0.0.2", "10.0.0.3"));
    EXPECT_EQ(d.verdict, InnerVerdict::Forward);
    EXPECT_EQ(d.dst, b);
    d = decide(a, c0, ipv4("192.168.1.77", "10.0.0.3", 1400));  // a source inside the sender's CIDR
    EXPECT_EQ(d.verdict, InnerVerdict::Forward);
    d = decide(b, c0, ipv4("10.0.0.3", "192.168.1.5"));  // a destination inside a's CIDR
    EXPECT_EQ(d.verdict, InnerVerdict::Forward);
    EXPECT_EQ(d.dst, a);
}

TEST_F(Fixture, NotIpv4) {
    auto p = ipv4("10.0.0.2", "10.0.0.3");
    EXPECT_EQ(decide(a, c0, std::vector<uint8_t>(p.begin(), p.begin() + 19)).verdict, InnerVerdict::NotIpv4);
    p[0] = 0x60;  // IPv6
    EXPECT_EQ(decide(a, c0, p).verdict, InnerVerdict::NotIpv4);
    EXPECT_EQ(decide(a, c0, {}).verdict, InnerVerdict::NotIpv4);
    p[0] = 0x4f;  // any IHL passes: only the version is checked
    EXPECT_EQ(decide(a, c0, p).verdict, InnerVerdict::Forward);
}

TEST_F(Fixture, SpoofedSourceBeforeRoute) {
    EXPECT_EQ(decide(a, c0, ipv4("10.0.0.3", "10.0.0.3")).verdict, InnerVerdict::SpoofedSource);
    EXPECT_EQ(decide(b, c0, ipv4("192.168.1.1", "10.9.9.9")).verdict, InnerVerdict::SpoofedSource);
    EXPECT_EQ(decide(a, c0, ipv4("192.168.2.1", "10.0.0.3")).verdict, InnerVerdict::SpoofedSource);
}

TEST_F(Fixture, NoRouteAndCrossCluster) {
    auto d = decide(a, c0, ipv4("10.0.0.2", "10.9.9.9"));
    EXPECT_EQ(d.verdict, InnerVerdict::NoRoute);
    EXPECT_EQ(d.dst, kNoClient);
    // 10.0.0.4 belongs to cluster 1: never forwarded from cluster 0.
    EXPECT_EQ(decide(a, c0, ipv4("10.0.0.2", "10.0.0.4")).verdict, InnerVerdict::CrossCluster);
    // Without the merged table (the control plane) the same miss is NoRoute.
    EXPECT_EQ(decide(a, c0, ipv4("10.0.0.2", "10.0.0.4"), false).verdict, InnerVerdict::NoRoute);
    // And the other way round.
    EXPECT_EQ(decide(c, c1, ipv4("10.0.0.4", "10.0.0.2")).verdict, InnerVerdict::CrossCluster);
}

TEST(InnerVerdictName, Names) {
    EXPECT_STREQ(inner_verdict_name(InnerVerdict::Forward), "forward");
    EXPECT_STREQ(inner_verdict_name(InnerVerdict::CrossCluster), "cross_cluster");
}

}  // namespace
}  // namespace rustun
