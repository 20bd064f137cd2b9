// routing-scale: 10k clusters x 10 clients build and answer correctly (every cluster reuses the
// same private addresses, so any cross-cluster leak would show).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "config/routes_json.hpp"
#include "routing/route_table.hpp"
#include "routing/route_table_from_config.hpp"

namespace rustun {
namespace {

constexpr uint32_t kClusters = 10'000;

// Concatenation by append: `"literal" + std::to_string(...)` trips a GCC 12 -O3 false -Wrestrict.
template <typename... Parts>
std::string cat(const Parts&... parts) {
    std::string s;
    (s.append(parts), ...);
    return s;
}
std::string num(uint32_t v) { return std::to_string(v); }
constexpr uint32_t kClientsPerCluster = 10;

// Client k of every cluster: private 10.0.0.(k+2), CIDR 192.168.k.0/24; client 0 also 172.16.0.0/12.
GatewayConfig make_config() {
    GatewayConfig cfg;
    cfg.clusters.resize(kClusters);
    for (uint32_t c = 0; c < kClusters; ++c) {
        cfg.clusters[c].name = cat("cluster-", num(c));
        for (uint32_t k = 0; k < kClientsPerCluster; ++k) {
            ClientConfig cl;
            cl.identity = cat("c", num(c), "-", num(k));
            cl.private_ip = Ipv4Addr{0x0A000002u + k};
            cl.ciders.push_back(Ipv4Cidr{Ipv4Addr{0xC0A80000u | k << 8}, 24});
            if (k == 0) cl.ciders.push_back(Ipv4Cidr{Ipv4Addr{0xAC100000u}, 12});
            cfg.clusters[c].clients.push_back(std::move(cl));
        }
    }
    return cfg;
}

TEST(RoutingScale, TenThousandClustersOfTenClients) {
    GatewayConfig cfg = make_config();
    auto t0 = std::chrono::steady_clock::now();
    RouteTable t = build_route_table(cfg);
    auto t1 = std::chrono::steady_clock::now();
    ASSERT_EQ(t.cluster_count(), kClusters);
    ASSERT_EQ(t.client_count(), kClusters * kClientsPerCluster);

    uint64_t checked = 0;
    for (uint32_t c = 0; c < kClusters; ++c) {
        const ClientId base = c * kClientsPerCluster;
        ASSERT_EQ(t.first_client(c), base);
        for (uint32_t k = 0; k < kClientsPerCluster; ++k) {
            ASSERT_EQ(t.lookup(c, 0x0A000002u + k), base + k);
            ASSERT_EQ(t.lookup(c, 0xC0A80000u | k << 8 | 77), base + k);
            ASSERT_TRUE(t.source_allowed(base + k, 0xC0A80000u | k << 8 | 1));
            ASSERT_FALSE(t.source_allowed(base + k, 0xC0A80000u | (k + 1) << 8 | 1));
            checked += 4;
        }
        ASSERT_EQ(t.lookup(c, 0xAC1F0001u), base);            // 172.31.0.1 in client 0's /12
        ASSERT_EQ(t.lookup(c, 0x0A000001u), kNoClient);       // 10.0.0.1: nobody
        ASSERT_EQ(t.lookup(c, 0xC0A86401u), kNoClient);       // 192.168.100.1: nobody
    }
    EXPECT_EQ(t.lookup(kClusters, 0x0A000002u), kNoClient);

    // Informational: build time, size and lookup cost on this machine (not asserted).
    std::vector<uint32_t> dsts(1 << 16);
    for (size_t i = 0; i < dsts.size(); ++i) dsts[i] = 0x0A000000u + static_cast<uint32_t>(i % 16);
    auto t2 = std::chrono::steady_clock::now();
    uint64_t sum = 0;
    constexpr int kRounds = 64;
    for (int r = 0; r < kRounds; ++r)
        for (size_t i = 0; i < dsts.size(); ++i)
            sum += t.lookup(static_cast<ClusterId>((i * 7919 + static_cast<size_t>(r)) % kClusters), dsts[i]);
    auto t3 = std::chrono::steady_clock::now();
    double ns = std::chrono::duration<double, std::nano>(t3 - t2).count() / (double(dsts.size()) * kRounds);
    std::printf("build %.1f ms, %zu ranges, %zu bytes, lookup %.1f ns (checksum %llu, %llu checks)\n",
                std::chrono::duration<double, std::milli>(t1 - t0).count(), t.range_count(),
                t.memory_bytes(), ns, static_cast<unsigned long long>(sum),
                static_cast<unsigned long long>(checked));
}

// The same shape through the routes.json importer: 100k entries load and validate.
TEST(RoutingScale, RoutesJsonWithHundredThousandClients) {
    std::string json = "[\n";
    for (uint32_t c = 0; c < kClusters; ++c)
        for (uint32_t k = 0; k < kClientsPerCluster; ++k) {
            json += cat("{\"cluster\":\"cl", num(c), "\",\"identity\":\"id", num(c), "-", num(k),
                        "\",\"private_ip\":\"10.0.0.", num(k + 2),
                        "\",\"mask\":\"255.255.255.0\",\"gateway\":\"10.0.0.1\",\"ciders\":[\"192.168.",
                        num(k), ".0/24\"]},\n");
        }
    json.resize(json.size() - 2);
    json += "\n]\n";
    auto t0 = std::chrono::steady_clock::now();
    auto r = parse_routes_json(json, "big.json");
    auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->size(), size_t{kClusters} * kClientsPerCluster);
    EXPECT_EQ(r->back().identity_pos.line, kClusters * kClientsPerCluster + 1);
    std::printf("parsed %zu bytes in %.1f ms\n", json.size(),
                std::chrono::duration<double, std::milli>(t1 - t0).count());
}

}  // namespace
}  // namespace rustun
