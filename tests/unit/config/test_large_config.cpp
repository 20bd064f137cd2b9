// config-large: a generated configuration of 50,000 clients (routes.json, the path for very large
// client lists; docs/configuration.md "Large configurations") and 5,000 inline clients load whole,
// a late error still names its file, line and key, and a settings-only load (the dataplane's)
// reads no client. Sizes are modest; there are no timing assertions (the 1M-client timings are
// scripts/bench-scale.sh's, docs/performance.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/yaml_loader.hpp"

namespace rustun {
namespace {

constexpr uint32_t kJsonClients = 50'000;
constexpr uint32_t kClusters = 5'000;  // 10 clients each, every cluster with its own key
constexpr uint32_t kInlineClients = 5'000;

std::string ipv4(uint32_t v) {
    char b[20];
    std::snprintf(b, sizeof b, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
    return b;
}

// routes.json: client i in cluster "k<i/10>", private IP 10.0.0.1 + i. `duplicate_last`: the
// last entry repeats the first one's identity.
std::string routes_json(bool duplicate_last) {
    std::string out = "[\n";
    for (uint32_t i = 0; i < kJsonClients; ++i) {
        const uint32_t id = duplicate_last && i == kJsonClients - 1 ? 0 : i;
        out.append(i == 0 ? "" : ",")
            .append(R"({"name": "", "cluster": "k)").append(std::to_string(i / 10))
            .append(R"(", "identity": "c)").append(std::to_string(id))
            .append(R"(", "private_ip": ")").append(ipv4(0x0A000001u + i))
            .append(R"(", "mask": "255.0.0.0", "gateway": "10.255.255.254", "ciders": []})").append("\n");
    }
    return out + "]\n";
}

// The gateway YAML: a key per cluster (inline clusters without clients), and one inline cluster
// "inline" of kInlineClients clients.
std::string gateway_yaml() {
    std::string y = "listen:\n  tcp: 127.0.0.1:1\ncrypto: aes256:default\nclients_file: big.json\nclusters:\n";
    for (uint32_t c = 0; c < kClusters; ++c)
        y.append("  - {name: k").append(std::to_string(c)).append(", crypto: aes256:key").append(std::to_string(c)).append("}\n");
    y += "  - name: inline\n    clients:\n";
    for (uint32_t i = 0; i < kInlineClients; ++i)
        y.append("      - {identity: inline").append(std::to_string(i)).append(", private_ip: ")
            .append(ipv4(0x0B000001u + i)).append(", mask: 255.0.0.0, gateway: 11.255.255.254}\n");
    return y;
}

class LargeConfig : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/rustun-config-large.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string& name, const std::string& text) {
        const std::string p = dir_ + "/" + name;
        std::ofstream(p) << text;
        return p;
    }
    std::string dir_;
};

TEST_F(LargeConfig, FiftyThousandClientsLoadWhole) {
    write("big.json", routes_json(false));
    const std::string path = write("gw.yaml", gateway_yaml());
    auto cfg = load_config_file(path);
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    EXPECT_EQ(cfg->total_clients(), kJsonClients + kInlineClients);
    ASSERT_EQ(cfg->clusters.size(), kClusters + 1);
    const ClusterConfig* last = cfg->find_cluster("k" + std::to_string(kClusters - 1));
    ASSERT_NE(last, nullptr);
    EXPECT_EQ(last->clients.size(), 10u);
    EXPECT_TRUE(last->crypto_overridden);
    EXPECT_EQ(last->clients.back().identity, "c" + std::to_string(kJsonClients - 1));
    EXPECT_EQ(last->clients.back().private_ip.value, 0x0A000000u + kJsonClients);
    // routes.json entry i is on line i + 2, after its separating comma.
    EXPECT_EQ(last->clients.back().origin,
              dir_ + "/big.json: line " + std::to_string(kJsonClients + 1) + ", column 2: [" +
                  std::to_string(kJsonClients - 1) + "]");
    const ClusterConfig* in = cfg->find_cluster("inline");
    ASSERT_NE(in, nullptr);
    EXPECT_EQ(in->clients.size(), kInlineClients);
    EXPECT_FALSE(in->crypto_overridden);
}

TEST_F(LargeConfig, ALateDuplicateNamesBothPlaces) {
    write("big.json", routes_json(true));
    const std::string path = write("gw.yaml", gateway_yaml());
    auto cfg = load_config_file(path);
    ASSERT_FALSE(cfg.ok());
    const std::string last = std::to_string(kJsonClients - 1);
    EXPECT_NE(cfg.error().find(dir_ + "/big.json: line " + std::to_string(kJsonClients + 1) + ", column "),
              std::string::npos) << cfg.error();
    EXPECT_NE(cfg.error().find("[" + last + "].identity: duplicate identity \"c0\" (first defined at " + dir_ +
                               "/big.json: line 2, column "),
              std::string::npos) << cfg.error();
}

TEST_F(LargeConfig, SettingsScopeReadsNoClient) {
    // No big.json at all: a settings-only load does not open clients_file.
    const std::string path = write("gw.yaml", gateway_yaml());
    auto cfg = load_config_file(path, ConfigScope::Settings);
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    EXPECT_TRUE(cfg->clusters.empty());
    EXPECT_EQ(cfg->listen.tcp.port, 1);
    EXPECT_FALSE(load_config_file(path).ok());  // the full load does
}

}  // namespace
}  // namespace rustun
