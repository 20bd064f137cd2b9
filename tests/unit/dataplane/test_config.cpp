// The `dataplane:` YAML section (lib/config).
#include <gtest/gtest.h>

#include "config/reload_policy.hpp"
#include "config/yaml_loader.hpp"

using namespace rustun;

namespace {
const char* kBase = "listen: {tcp: 0.0.0.0:8080, udp: 0.0.0.0:8080}\ncrypto: plain\n";

Result<GatewayConfig> load(const std::string& dp) { return load_config_string(std::string(kBase) + dp, "gw.yaml"); }
}  // namespace

TEST(DataplaneConfig, AbsentAndDefaults) {
    auto none = load("");
    ASSERT_TRUE(none) << none.error();
    EXPECT_FALSE(none->dataplane);
    auto c = load("dataplane: {port: net_pcap0, address: 192.0.2.1}\n");
    ASSERT_TRUE(c) << c.error();
    ASSERT_TRUE(c->dataplane);
    const DataplaneConfig& d = *c->dataplane;
    EXPECT_EQ(d.channel, "/run/rustun/dataplane.chan");
    EXPECT_EQ(d.channel_group, "");
    EXPECT_EQ(d.workers, 1u);
    EXPECT_EQ(d.burst, 32u);
    EXPECT_EQ(d.sessions, 65536u);
    EXPECT_EQ(d.mbufs, 16383u);
    EXPECT_EQ(d.address.to_string(), "192.0.2.1");
    EXPECT_FALSE(d.address6);
    EXPECT_EQ(d.exception, DataplaneConfig::Exception::None);
    EXPECT_EQ(d.exception_iface, "rustun0");
}

TEST(DataplaneConfig, AllKeys) {
    auto c = load(
        "dataplane:\n"
        "  channel: /run/rustun/x\n"
        "  channel_group: rustun\n"
        "  eal_args: [--no-pci, --in-memory, -l, \"0-1\"]\n"
        "  port: 0000:01:00.0\n"
        "  workers: 2\n  burst: 64\n  sessions: 1000\n  mbufs: 4095\n"
        "  address: 192.0.2.1\n  address6: \"2001:db8::1\"\n"
        "  exception: tap\n  exception_iface: gw0\n");
    ASSERT_TRUE(c) << c.error();
    const DataplaneConfig& d = *c->dataplane;
    EXPECT_EQ(d.eal_args.size(), 4u);
    EXPECT_EQ(d.eal_args[3], "0-1");
    EXPECT_EQ(d.port, "0000:01:00.0");
    EXPECT_EQ(d.workers, 2u);
    ASSERT_TRUE(d.address6);
    EXPECT_EQ((*d.address6)[0], 0x20);
    EXPECT_EQ((*d.address6)[15], 1);
    EXPECT_EQ(d.exception, DataplaneConfig::Exception::Tap);
    EXPECT_EQ(d.exception_iface, "gw0");
    EXPECT_EQ(d.channel, "/run/rustun/x");
    EXPECT_EQ(d.channel_group, "rustun");
}

TEST(DataplaneConfig, ErrorsNameTheKey) {
    struct Case {
        const char* yaml;
        const char* key;
    } cases[] = {
        {"dataplane: {address: 192.0.2.1}\n", "dataplane.port: missing required key"},
        {"dataplane: {port: p}\n", "dataplane.address: missing required key"},
        {"dataplane: {port: p, address: 192.0.2.1, workers: 0}\n", "dataplane.workers"},
        {"dataplane: {port: p, address: 192.0.2.1, burst: 65}\n", "dataplane.burst"},
        {"dataplane: {port: p, address: 192.0.2.1, sessions: 1}\n", "dataplane.sessions"},
        {"dataplane: {port: p, address: 192.0.2.1, address6: 1.2.3.4}\n", "dataplane.address6"},
        {"dataplane: {port: p, address: 192.0.2.1, exception: kni}\n", "dataplane.exception"},
        {"dataplane: {port: p, address: 192.0.2.1, exception_iface: a/b}\n", "dataplane.exception_iface"},
        {"dataplane: {port: p, address: 192.0.2.1, eal_args: [[x]]}\n", "dataplane.eal_args[0]"},
        {"dataplane: {port: p, address: 192.0.2.1, channel_group: \"\"}\n", "dataplane.channel_group"},
        {"dataplane: {port: p, address: 192.0.2.1, bogus: 1}\n", "dataplane.bogus: unknown key"},
    };
    for (const Case& k : cases) {
        auto c = load(k.yaml);
        ASSERT_FALSE(c) << k.yaml;
        EXPECT_NE(c.error().find(k.key), std::string::npos) << c.error();
    }
}

TEST(DataplaneConfig, RestartOnly) {
    EXPECT_EQ(reload_policy("dataplane.workers"), ReloadPolicy::RestartOnly);
    EXPECT_EQ(reload_policy("dataplane.address6"), ReloadPolicy::RestartOnly);
    auto a = load("dataplane: {port: p, address: 192.0.2.1}\n");
    auto b = load("dataplane: {port: p, address: 192.0.2.2}\n");
    ASSERT_TRUE(a && b);
    auto ch = restart_only_changes(*a, *b);
    ASSERT_EQ(ch.size(), 1u);
    EXPECT_EQ(ch[0], "dataplane");
}

TEST(DataplaneConfig, DescriptorCountsArePowersOfTwo) {
    auto c = load("dataplane: {port: p, address: 192.0.2.1, rx_descriptors: 512, tx_descriptors: 4096}\n");
    ASSERT_TRUE(c) << c.error();
    EXPECT_EQ(c->dataplane->rx_descriptors, 512u);
    EXPECT_EQ(c->dataplane->tx_descriptors, 4096u);
    auto d = load("dataplane: {port: p, address: 192.0.2.1}\n");
    ASSERT_TRUE(d) << d.error();
    EXPECT_EQ(d->dataplane->rx_descriptors, 0u);  // the build's default, adjusted to the port
    auto bad = load("dataplane: {port: p, address: 192.0.2.1, rx_descriptors: 1000}\n");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().find("gw.yaml: line 3, column 58: dataplane.rx_descriptors: expected 0 (the build's default) "
                               "or a power of two up to 32768 such as 512 or 4096, got 1000"),
              std::string::npos)
        << bad.error();
    auto big = load("dataplane: {port: p, address: 192.0.2.1, tx_descriptors: 65536}\n");
    ASSERT_FALSE(big);
    EXPECT_NE(big.error().find("dataplane.tx_descriptors: expected an integer 0..32768"), std::string::npos) << big.error();
}
