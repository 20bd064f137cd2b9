// route_overlap_warnings (lib/routing/route_overlaps.hpp): the route conflicts the checker and the
// gateway's log report, naming both clients, both prefixes and where each client is defined.
#include <gtest/gtest.h>

#include <string>

#include "config/yaml_loader.hpp"
#include "routing/route_overlaps.hpp"
#include "test_helpers.hpp"

namespace rustun {
namespace {

GatewayConfig load(const std::string& clients_a, const std::string& clients_b = "") {
    std::string text = "listen: {tcp: 127.0.0.1:0}\ncrypto: chacha20:k\nclusters:\n  - name: a\n    clients:\n" +
                       clients_a;
    if (!clients_b.empty()) text += "  - name: b\n    clients:\n" + clients_b;
    auto cfg = load_config_string(text, "gw.yaml");
    EXPECT_TRUE(cfg.ok()) << cfg.error();
    return cfg.ok() ? std::move(cfg).value() : GatewayConfig{};
}

std::string client(const std::string& id, const std::string& ip, const std::string& ciders = "") {
    return "      - {identity: " + id + ", private_ip: " + ip + ", mask: 255.255.255.0, gateway: 10.0.0.254" +
           (ciders.empty() ? "" : ", ciders: [" + ciders + "]") + "}\n";
}

TEST(RouteOverlaps, DisjointRoutesAreQuiet) {
    GatewayConfig cfg = load(client("i1", "10.0.0.1", "192.168.1.0/24") + client("i2", "10.0.0.2", "192.168.2.0/24"));
    RouteOverlapReport r = route_overlap_warnings(cfg);
    EXPECT_EQ(r.total, 0u);
    EXPECT_TRUE(r.lines.empty());
}

TEST(RouteOverlaps, SamePrefixNamesBothClientsAndTheOwner) {
    GatewayConfig cfg = load(client("i1", "10.0.0.1", "192.168.1.0/24") + client("i2", "10.0.0.2", "192.168.1.7/24"));
    RouteOverlapReport r = route_overlap_warnings(cfg);
    ASSERT_EQ(r.lines.size(), 1u);
    EXPECT_EQ(r.lines[0],
              "route conflict in cluster 'a': CIDR 192.168.1.7/24 of client 'i2' (gw.yaml: line 7, column 9: "
              "clusters[0].clients[1]) claims the same prefix as CIDR 192.168.1.0/24 of client 'i1' (gw.yaml: "
              "line 6, column 9: clusters[0].clients[0]); 'i1' is listed first and receives all of it, 'i2' none");
}

TEST(RouteOverlaps, NestedCidrAndPrivateIpInsideAnotherClientsCidr) {
    GatewayConfig cfg = load(client("wide", "10.0.0.1", "10.0.0.0/16") + client("narrow", "10.0.0.2", "10.0.5.0/24"));
    RouteOverlapReport r = route_overlap_warnings(cfg);
    ASSERT_EQ(r.total, 2u);
    EXPECT_NE(r.lines[0].find("private_ip 10.0.0.2 of client 'narrow' (gw.yaml: line 7"), std::string::npos) << r.lines[0];
    EXPECT_NE(r.lines[0].find("lies inside CIDR 10.0.0.0/16 of client 'wide' (gw.yaml: line 6"), std::string::npos);
    EXPECT_NE(r.lines[0].find("10.0.0.2/32 goes to 'narrow'"), std::string::npos);
    EXPECT_NE(r.lines[1].find("CIDR 10.0.5.0/24 of client 'narrow'"), std::string::npos) << r.lines[1];
    EXPECT_NE(r.lines[1].find("reference server"), std::string::npos);
}

TEST(RouteOverlaps, CidrEqualToAnotherClientsPrivateIp) {
    GatewayConfig cfg = load(client("i1", "10.0.0.1") + client("i2", "10.0.0.2", "10.0.0.1/32"));
    RouteOverlapReport r = route_overlap_warnings(cfg);
    ASSERT_EQ(r.lines.size(), 1u);
    EXPECT_NE(r.lines[0].find("CIDR 10.0.0.1/32 of client 'i2'"), std::string::npos) << r.lines[0];
    EXPECT_NE(r.lines[0].find("same prefix as private_ip 10.0.0.1 of client 'i1'"), std::string::npos);
}

TEST(RouteOverlaps, OwnPrefixesAndOtherClustersNeverConflict) {
    // One client's CIDR contains its own private IP; cluster b reuses cluster a's prefixes.
    GatewayConfig cfg = load(client("i1", "10.0.0.1", "10.0.0.0/24, 10.0.0.0/25"),
                             client("j1", "10.0.0.1", "10.0.0.0/24"));
    EXPECT_EQ(route_overlap_warnings(cfg).total, 0u);
}

TEST(RouteOverlaps, InnermostOwnerIsNamedAndLimitCountsTheRest) {
    // 0.0.0.0/0 (i1) contains 10.0.0.0/8 (i2) contains 10.1.0.0/16 (i3) and every private IP.
    GatewayConfig cfg = load(client("i1", "10.0.0.1", "0.0.0.0/0") + client("i2", "10.0.0.2", "10.0.0.0/8") +
                             client("i3", "10.0.0.3", "10.1.0.0/16"));
    RouteOverlapReport all = route_overlap_warnings(cfg);
    // i2's /8 in i1's /0; i1's, i2's (own /8 skipped: i1's /0) and i3's private IPs; i3's /16 in i2's /8.
    ASSERT_EQ(all.total, 5u);
    int innermost = 0;
    for (const std::string& l : all.lines) {
        if (l.find("CIDR 10.1.0.0/16 of client 'i3'") == std::string::npos) continue;
        ++innermost;
        EXPECT_NE(l.find("lies inside CIDR 10.0.0.0/8 of client 'i2'"), std::string::npos) << l;
    }
    EXPECT_EQ(innermost, 1);
    RouteOverlapReport two = route_overlap_warnings(cfg, 2);
    EXPECT_EQ(two.total, 5u);
    EXPECT_EQ(two.lines.size(), 2u);
}

}  // namespace
}  // namespace rustun
