// The configuration checker (check_config_string/file in lib/config/yaml_loader.hpp): every error
// with its location, warnings for weak ciphers, and listen.udp against dataplane.address.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/yaml_loader.hpp"
#include "test_helpers.hpp"

namespace rustun {
namespace {

constexpr const char* kMany = R"(listen: {tcp: 127.0.0.1:0}
crypto: chacha20:k
bogus: 1
controlplane:
  workers: 0
  log_level: loud
dataplane: {port: p, address: 192.0.2.1, burst: 65}
clusters:
  - name: a
    clients:
      - {identity: i1, private_ip: 10.0.0.300, mask: 255.255.255.0, gateway: 10.0.0.254}
      - {identity: i2, private_ip: 10.0.0.2, mask: 255.0.255.0, gateway: 10.0.0.254}
      - {identity: i3, private_ip: 10.0.0.3, mask: 255.255.255.0, gateway: 10.0.0.254}
  - name: b
    crypto: rot13:x
)";

TEST(ConfigCheck, ReportsEveryErrorInFileOrder) {
    ConfigCheck c = check_config_string(kMany, "gw.yaml");
    EXPECT_FALSE(c.config.has_value());
    const std::vector<std::string> expected = {
        "gw.yaml: line 3, column 1: bogus: unknown key",
        "gw.yaml: line 5, column 12: controlplane.workers: expected an integer 1..256",
        "gw.yaml: line 6, column 14: controlplane.log_level: expected one of",
        "gw.yaml: line 7, column 49: dataplane.burst: expected an integer 1..64",
        "gw.yaml: line 11, column 36: clusters[0].clients[0].private_ip: expected an IPv4 address",
        "gw.yaml: line 12, column 52: clusters[0].clients[1].mask: expected a contiguous netmask",
        "gw.yaml: line 15, column 13: clusters[1].crypto:",
    };
    ASSERT_EQ(c.errors.size(), expected.size()) << ::testing::PrintToString(c.errors);
    for (size_t i = 0; i < expected.size(); ++i)
        EXPECT_EQ(c.errors[i].rfind(expected[i], 0), 0u) << c.errors[i];
    // The first is the one a load reports.
    auto loaded = load_config_string(kMany, "gw.yaml");
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error(), c.errors[0]);
}

TEST(ConfigCheck, CrossClientErrorsAfterKeyErrors) {
    ConfigCheck c = check_config_string(R"(listen: {tcp: 127.0.0.1:0}
crypto: chacha20:k
controlplane: {first_byte_timeout: 0}
clusters:
  - name: a
    clients:
      - {identity: i1, private_ip: 10.0.0.1, mask: 255.255.255.0, gateway: 10.0.0.254}
      - {identity: i1, private_ip: 10.0.0.2, mask: 255.255.255.0, gateway: 10.0.0.254}
)",
                                        "gw.yaml");
    ASSERT_EQ(c.errors.size(), 2u) << ::testing::PrintToString(c.errors);
    EXPECT_NE(c.errors[0].find("controlplane.first_byte_timeout: expected a number of seconds"),
              std::string::npos);
    EXPECT_NE(c.errors[1].find("clusters[0].clients[1].identity: duplicate identity \"i1\""),
              std::string::npos);
}

TEST(ConfigCheck, CleanFileGivesTheConfigAndNoWarnings) {
    ConfigCheck c = check_config_string("listen: {tcp: 127.0.0.1:0}\ncrypto: aes256:k\n", "gw.yaml");
    EXPECT_TRUE(c.errors.empty());
    EXPECT_TRUE(c.warnings.empty());
    ASSERT_TRUE(c.config.has_value());
    EXPECT_EQ(c.config->listen.tcp.to_string(), "127.0.0.1:0");
}

TEST(ConfigCheck, WarnsAboutPlainXorAndEmptyKeys) {
    ConfigCheck c = check_config_string(R"(listen: {tcp: 127.0.0.1:0}
crypto: plain
clusters:
  - {name: x, crypto: "xor:k"}
  - {name: e, crypto: "chacha20:"}
  - {name: good, crypto: "aes256:k"}
)",
                                        "gw.yaml");
    EXPECT_TRUE(c.errors.empty()) << ::testing::PrintToString(c.errors);
    ASSERT_EQ(c.warnings.size(), 3u) << ::testing::PrintToString(c.warnings);
    EXPECT_EQ(c.warnings[0].rfind("gw.yaml: line 2, column 9: crypto: plain:", 0), 0u) << c.warnings[0];
    EXPECT_EQ(c.warnings[1].rfind("gw.yaml: line 4, column 23: clusters[0].crypto: xor is not encryption", 0), 0u)
        << c.warnings[1];
    EXPECT_EQ(c.warnings[2].rfind("gw.yaml: line 5, column 23: clusters[1].crypto: empty key", 0), 0u)
        << c.warnings[2];
    // A load does not warn; its result is the same configuration.
    EXPECT_TRUE(load_config_string("listen: {tcp: 127.0.0.1:0}\ncrypto: plain\n", "gw.yaml").ok());
}

TEST(ConfigCheck, ListenUdpMustBeTheDataplaneAddress) {
    auto config = [](const std::string& udp, const std::string& dp_extra) {
        return "listen: {tcp: 127.0.0.1:0, udp: \"" + udp + "\"}\ncrypto: aes256:k\n" +
               "dataplane: {port: p, address: 192.0.2.1" + dp_extra + "}\n";
    };
    for (const char* ok : {"192.0.2.1:8080", "0.0.0.0:8080", "[::]:8080"})
        EXPECT_TRUE(load_config_string(config(ok, ""), "gw.yaml").ok()) << ok;
    EXPECT_TRUE(load_config_string(config("[2001:db8::1]:8080", ", address6: \"2001:db8::1\""), "gw.yaml").ok());

    auto e = load_config_string(config("10.0.0.1:8080", ""), "gw.yaml");
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().rfind("gw.yaml: line 1, column 33: listen.udp: address differs from dataplane.address "
                              "192.0.2.1",
                              0),
              0u)
        << e.error();
    e = load_config_string(config("[2001:db8::1]:8080", ""), "gw.yaml");
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().find("listen.udp: an IPv6 address, but dataplane.address6 is not set"), std::string::npos)
        << e.error();
    e = load_config_string(config("[2001:db8::2]:8080", ", address6: \"2001:db8::1\""), "gw.yaml");
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().find("listen.udp: address differs from dataplane.address6"), std::string::npos) << e.error();
    // Without a dataplane section listen.udp may be anything (the control plane does not serve it).
    EXPECT_TRUE(load_config_string("listen: {tcp: 127.0.0.1:0, udp: 10.0.0.1:1}\ncrypto: plain\n", "gw.yaml").ok());
}

TEST(ConfigCheck, UnreadableFile) {
    test::TempDir dir;
    ConfigCheck c = check_config_file(dir.path() + "/missing.yaml");
    ASSERT_EQ(c.errors.size(), 1u);
    EXPECT_NE(c.errors[0].find("missing.yaml"), std::string::npos);
    EXPECT_FALSE(c.config.has_value());
    std::string path = dir.write("gw.yaml", "listen: {tcp: 127.0.0.1:0}\ncrypto: xor:k\n");
    c = check_config_file(path);
    EXPECT_TRUE(c.errors.empty());
    ASSERT_EQ(c.warnings.size(), 1u);
    EXPECT_EQ(c.warnings[0].rfind(path + ": line 2, column 9: crypto: xor", 0), 0u) << c.warnings[0];
}

}  // namespace
}  // namespace rustun
