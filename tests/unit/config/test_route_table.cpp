// routing-table: longest-prefix lookup per cluster, cluster isolation, source validation.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "config/yaml_loader.hpp"
#include "routing/route_table.hpp"
#include "routing/route_table_from_config.hpp"

namespace rustun {
namespace {

uint32_t ip(const char* s) { return parse_ipv4(s)->value; }
Ipv4Addr addr(const char* s) { return *parse_ipv4(s); }
Ipv4Cidr cidr(const char* s) { return *parse_ipv4_cidr(s); }

TEST(RoutingTable, LongestPrefixWins) {
    RouteTableBuilder b;
    ClusterId c = b.add_cluster();
    std::vector<Ipv4Cidr> a_ciders{cidr("10.0.0.0/16")};
    std::vector<Ipv4Cidr> b_ciders{cidr("10.0.5.0/24")};
    std::vector<Ipv4Cidr> c_ciders{cidr("10.0.5.7/32")};
    ClientId a = b.add_client(addr("10.1.0.1"), a_ciders);
    ClientId bb = b.add_client(addr("10.0.1.3"), b_ciders);
    ClientId cc = b.add_client(addr("10.2.0.1"), c_ciders);
    RouteTable t = b.build();

    EXPECT_EQ(t.lookup(c, ip("10.0.5.7")), cc);   // /32 beats /24 beats /16
    EXPECT_EQ(t.lookup(c, ip("10.0.5.8")), bb);   // /24 beats /16
    EXPECT_EQ(t.lookup(c, ip("10.0.5.0")), bb);
    EXPECT_EQ(t.lookup(c, ip("10.0.5.255")), bb);
    EXPECT_EQ(t.lookup(c, ip("10.0.6.0")), a);    // only the /16
    EXPECT_EQ(t.lookup(c, ip("10.0.4.255")), a);
    EXPECT_EQ(t.lookup(c, ip("10.0.0.0")), a);
    EXPECT_EQ(t.lookup(c, ip("10.0.255.255")), a);
    EXPECT_EQ(t.lookup(c, ip("10.0.1.3")), bb);   // B's private /32 inside A's /16
    EXPECT_EQ(t.lookup(c, ip("10.1.0.1")), a);    // private IPs
    EXPECT_EQ(t.lookup(c, ip("10.2.0.1")), cc);
    EXPECT_EQ(t.lookup(c, ip("10.1.0.2")), kNoClient);  // unknown destinations
    EXPECT_EQ(t.lookup(c, ip("9.255.255.255")), kNoClient);
    EXPECT_EQ(t.lookup(c, ip("0.0.0.0")), kNoClient);
    EXPECT_EQ(t.lookup(c, ip("255.255.255.255")), kNoClient);
    EXPECT_EQ(t.lookup(c + 1, ip("10.0.5.7")), kNoClient);  // no such cluster
}

TEST(RoutingTable, EdgesOfTheAddressSpace) {
    RouteTableBuilder b;
    b.add_cluster();
    std::vector<Ipv4Cidr> def{cidr("0.0.0.0/0")};
    std::vector<Ipv4Cidr> top{cidr("255.255.255.255/32"), cidr("128.0.0.0/1")};
    ClientId exit_node = b.add_client(addr("0.0.0.0"), def);
    ClientId high = b.add_client(addr("1.1.1.1"), top);
    RouteTable t = b.build();
    EXPECT_EQ(t.lookup(0, 0), exit_node);
    EXPECT_EQ(t.lookup(0, ip("8.8.8.8")), exit_node);
    EXPECT_EQ(t.lookup(0, ip("1.1.1.1")), high);
    EXPECT_EQ(t.lookup(0, ip("127.255.255.255")), exit_node);
    EXPECT_EQ(t.lookup(0, ip("128.0.0.0")), high);
    EXPECT_EQ(t.lookup(0, 0xFFFFFFFFu), high);
    EXPECT_EQ(t.lookup(0, 0xFFFFFFFEu), high);
}

TEST(RoutingTable, ClusterIsolation) {
    RouteTableBuilder b;
    ClusterId c0 = b.add_cluster();
    ClientId x0 = b.add_client(addr("10.0.1.2"), {});
    std::vector<Ipv4Cidr> only_in_c0{cidr("192.168.0.0/16")};
    ClientId y0 = b.add_client(addr("10.0.1.3"), only_in_c0);
    ClusterId c1 = b.add_cluster();
    ClientId x1 = b.add_client(addr("10.0.1.2"), {});
    ClientId z1 = b.add_client(addr("10.0.1.9"), {});
    ClusterId empty = b.add_cluster();
    RouteTable t = b.build();

    ASSERT_EQ(t.cluster_count(), 3u);
    ASSERT_EQ(t.client_count(), 4u);
    EXPECT_NE(x0, x1);
    EXPECT_EQ(t.lookup(c0, ip("10.0.1.2")), x0);  // same private IP, resolved per cluster
    EXPECT_EQ(t.lookup(c1, ip("10.0.1.2")), x1);
    EXPECT_EQ(t.lookup(c0, ip("10.0.1.9")), kNoClient);  // nothing across clusters
    EXPECT_EQ(t.lookup(c1, ip("10.0.1.3")), kNoClient);
    EXPECT_EQ(t.lookup(c1, ip("192.168.1.1")), kNoClient);
    EXPECT_EQ(t.lookup(c0, ip("192.168.1.1")), y0);
    EXPECT_EQ(t.lookup(c1, ip("10.0.1.9")), z1);
    EXPECT_EQ(t.lookup(empty, ip("10.0.1.2")), kNoClient);
    EXPECT_EQ(t.cluster_of(x0), c0);
    EXPECT_EQ(t.cluster_of(z1), c1);
    EXPECT_EQ(t.first_client(c1), x1);
    EXPECT_EQ(t.clients_in(c1), 2u);
    EXPECT_EQ(t.clients_in(empty), 0u);
}

TEST(RoutingTable, SourceValidation) {
    RouteTableBuilder b;
    b.add_cluster();
    std::vector<Ipv4Cidr> ciders{cidr("192.168.11.7/24"), cidr("172.16.0.0/12")};
    ClientId a = b.add_client(addr("10.0.1.2"), ciders);
    ClientId bb = b.add_client(addr("10.0.1.3"), {});
    RouteTable t = b.build();
    EXPECT_TRUE(t.source_allowed(a, ip("10.0.1.2")));       // its private IP
    EXPECT_TRUE(t.source_allowed(a, ip("192.168.11.200")));  // inside a CIDR (host bits ignored)
    EXPECT_TRUE(t.source_allowed(a, ip("172.31.255.255")));
    EXPECT_FALSE(t.source_allowed(a, ip("10.0.1.3")));       // another client's address
    EXPECT_FALSE(t.source_allowed(a, ip("192.168.12.1")));
    EXPECT_FALSE(t.source_allowed(a, ip("172.32.0.0")));
    EXPECT_TRUE(t.source_allowed(bb, ip("10.0.1.3")));
    EXPECT_FALSE(t.source_allowed(bb, ip("10.0.1.2")));
    EXPECT_FALSE(t.source_allowed(bb, ip("192.168.11.1")));
    EXPECT_FALSE(t.source_allowed(kNoClient, ip("10.0.1.2")));
    EXPECT_FALSE(t.source_allowed(7, ip("10.0.1.2")));
}

TEST(RoutingTable, SamePrefixTwiceFirstClientWinsAndIsReported) {
    RouteTableBuilder b;
    b.add_cluster();
    std::vector<Ipv4Cidr> same{cidr("192.168.1.0/24")};
    std::vector<Ipv4Cidr> same_host_bits{cidr("192.168.1.99/24"), cidr("192.168.1.0/24")};
    ClientId first = b.add_client(addr("10.0.0.1"), same);
    ClientId second = b.add_client(addr("10.0.0.2"), same_host_bits);
    std::vector<RouteConflict> conflicts;
    RouteTable t = b.build(&conflicts);
    EXPECT_EQ(t.lookup(0, ip("192.168.1.50")), first);
    ASSERT_EQ(conflicts.size(), 2u);  // one per duplicate claim by the second client
    EXPECT_EQ(conflicts[0].cluster, 0u);
    EXPECT_EQ(conflicts[0].prefix.to_string(), "192.168.1.0/24");
    EXPECT_EQ(conflicts[0].kept, first);
    EXPECT_EQ(conflicts[0].shadowed, second);
}

TEST(RoutingTable, EmptyTableAndEmptyBuilder) {
    RouteTable t;
    EXPECT_EQ(t.lookup(0, 1), kNoClient);
    EXPECT_FALSE(t.source_allowed(0, 1));
    RouteTable t2 = RouteTableBuilder{}.build();
    EXPECT_EQ(t2.cluster_count(), 0u);
    EXPECT_EQ(t2.lookup(0, 1), kNoClient);
}

// Brute force: the longest matching prefix (lowest client id on a tie) over random prefixes.
TEST(RoutingTable, MatchesBruteForceOnRandomPrefixes) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 50; ++round) {
        struct Route {
            Ipv4Cidr c;
            ClientId client;
        };
        std::vector<Route> routes;
        RouteTableBuilder b;
        b.add_cluster();
        int clients = 1 + static_cast<int>(rng() % 40);
        // Keep addresses in a small space so that prefixes overlap often.
        auto rand_addr = [&]() -> uint32_t { return 0x0A000000u | static_cast<uint32_t>(rng() & 0xFFFFu); };
        for (int i = 0; i < clients; ++i) {
            std::vector<Ipv4Cidr> ciders;
            int n = static_cast<int>(rng() % 4);
            for (int k = 0; k < n; ++k)
                ciders.push_back(Ipv4Cidr{Ipv4Addr{rand_addr()}, static_cast<uint8_t>(8 + rng() % 25)});
            Ipv4Addr priv{rand_addr()};
            ClientId id = b.add_client(priv, ciders);
            routes.push_back({Ipv4Cidr{priv, 32}, id});
            for (const auto& c : ciders) routes.push_back({c, id});
        }
        RouteTable t = b.build();
        for (int q = 0; q < 3000; ++q) {
            uint32_t dst = q % 3 == 0 ? static_cast<uint32_t>(rng()) : rand_addr();
            ClientId want = kNoClient;
            int best = -1;
            for (const Route& r : routes) {
                if (!r.c.contains(Ipv4Addr{dst})) continue;
                if (r.c.prefix_len > best || (r.c.prefix_len == best && r.client < want)) {
                    best = r.c.prefix_len;
                    want = r.client;
                }
            }
            ASSERT_EQ(t.lookup(0, dst), want) << "round " << round << " dst " << Ipv4Addr{dst}.to_string();
        }
    }
}

TEST(RoutingTable, FromConfig) {
    auto cfg = load_config_string(R"(listen: {tcp: 0.0.0.0:8080}
crypto: plain
clusters:
  - name: a
    clients:
      - {identity: a1, private_ip: 10.0.1.2, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: [192.168.11.0/24]}
      - {identity: a2, private_ip: 10.0.1.3, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: [192.168.0.0/16]}
  - name: b
    clients:
      - {identity: b1, private_ip: 10.0.1.2, mask: 255.255.255.0, gateway: 10.0.1.254}
)",
                                  "gw.yaml");
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    RouteTable t = build_route_table(*cfg);
    ASSERT_EQ(t.cluster_count(), 2u);
    EXPECT_EQ(t.lookup(0, ip("192.168.11.9")), 0u);
    EXPECT_EQ(t.lookup(0, ip("192.168.12.9")), 1u);
    EXPECT_EQ(t.lookup(0, ip("10.0.1.3")), 1u);
    EXPECT_EQ(t.lookup(1, ip("10.0.1.2")), 2u);
    EXPECT_EQ(t.lookup(1, ip("192.168.11.9")), kNoClient);
    EXPECT_TRUE(t.source_allowed(0, ip("192.168.11.200")));
    EXPECT_FALSE(t.source_allowed(2, ip("192.168.11.200")));
}

}  // namespace
}  // namespace rustun
