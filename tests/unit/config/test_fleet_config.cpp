// The `fleet:` section (lib/config/fleet_reader.cpp, docs/configuration.md): defaults, every key
// read, and errors that name the file, line and key.
#include <gtest/gtest.h>

#include <string>

#include "config/fleet_reader.hpp"
#include "config/reload_policy.hpp"
#include "config/yaml_loader.hpp"

namespace rustun {
namespace {

constexpr const char* kBase = "listen: {tcp: 127.0.0.1:0}\ncrypto: plain\n";
constexpr const char* kLink = "  link: {listen: 127.0.0.1:7100, key: \"aes256:fleet-secret\"}\n";

Result<GatewayConfig> load(const std::string& fleet_body) {
    return load_config_string(std::string(kBase) + "fleet:\n" + fleet_body, "gw.yaml");
}

// The error of loading `fleet_body`, which must fail.
std::string error_of(const std::string& fleet_body) {
    auto r = load(fleet_body);
    EXPECT_FALSE(r.ok()) << fleet_body;
    return r.ok() ? std::string() : r.error();
}

TEST(FleetConfig, AbsentMeansOneGateway) {
    auto r = load_config_string(kBase, "gw.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_FALSE(r->fleet.has_value());
    auto empty = load_config_string(std::string(kBase) + "fleet:\n", "gw.yaml");
    ASSERT_TRUE(empty.ok()) << empty.error();
    EXPECT_FALSE(empty->fleet.has_value());
}

TEST(FleetConfig, Defaults) {
    auto r = load("  gateway_id: gw-1\n  etcd: [http://127.0.0.1:2379]\n" + std::string(kLink));
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_TRUE(r->fleet.has_value());
    const FleetConfig& f = *r->fleet;
    EXPECT_EQ(f.gateway_id, "gw-1");
    EXPECT_EQ(f.etcd, std::vector<std::string>{"http://127.0.0.1:2379"});
    EXPECT_EQ(f.prefix, "/rustun/v1");
    EXPECT_EQ(f.prefix, config_key("fleet.prefix").text);
    EXPECT_EQ(f.lease_ttl, std::chrono::seconds(10));
    EXPECT_EQ(config_key("fleet.lease_ttl").note, "`" + std::to_string(f.lease_ttl.count()) + "s`");
    EXPECT_FALSE(f.tls.has_value());
    EXPECT_EQ(f.link.listen, *parse_socket_address("127.0.0.1:7100"));
    EXPECT_EQ(f.link.key.method, CipherMethod::Aes256Gcm);
    EXPECT_EQ(f.link.key.key, "fleet-secret");
}

TEST(FleetConfig, EveryKey) {
    auto r = load(
        "  gateway_id: gw_2.east\n"
        "  etcd: [\"https://10.0.0.1:2379\", \"https://etcd-b:2379\", \"https://[fd00::3]:2379\"]\n"
        "  tls: {ca: /etc/rustun/etcd-ca.pem, cert: /etc/rustun/gw.pem, key: /etc/rustun/gw.key}\n"
        "  prefix: /prod/rustun\n"
        "  lease_ttl: 1m\n"
        "  link: {listen: \"[::]:7100\", key: \"chacha20:k\"}\n");
    ASSERT_TRUE(r.ok()) << r.error();
    const FleetConfig& f = *r->fleet;
    EXPECT_EQ(f.gateway_id, "gw_2.east");
    EXPECT_EQ(f.etcd.size(), 3u);
    ASSERT_TRUE(f.tls.has_value());
    EXPECT_EQ(f.tls->ca, "/etc/rustun/etcd-ca.pem");
    EXPECT_EQ(f.tls->cert, "/etc/rustun/gw.pem");
    EXPECT_EQ(f.tls->key, "/etc/rustun/gw.key");
    EXPECT_EQ(f.prefix, "/prod/rustun");
    EXPECT_EQ(f.lease_ttl, std::chrono::seconds(60));
    EXPECT_EQ(f.link.key.method, CipherMethod::ChaCha20Poly1305);
}

TEST(FleetConfig, LeaseTtlSyntax) {
    using config_yaml::parse_lease_ttl;
    EXPECT_EQ(*parse_lease_ttl("10s"), std::chrono::seconds(10));
    EXPECT_EQ(*parse_lease_ttl("10"), std::chrono::seconds(10));
    EXPECT_EQ(*parse_lease_ttl("2s"), std::chrono::seconds(2));
    EXPECT_EQ(*parse_lease_ttl("60m"), std::chrono::seconds(3600));
    for (const char* bad : {"", "s", "1s", "3601s", "61m", "1.5s", "10ms", "-3s", "10 s", "1h", "99999999999999999999"})
        EXPECT_FALSE(parse_lease_ttl(bad).ok()) << bad;
    EXPECT_EQ(parse_lease_ttl("1s").error(),
              "expected a whole number of seconds from 2s to 3600s such as 10s or 1m, got \"1s\"");
}

// Each bad value: the error names the file, the line and column, the key and what was expected.
TEST(FleetConfig, ErrorsNameFileLineAndKey) {
    const std::string etcd = "  etcd: [http://127.0.0.1:2379]\n";
    struct Case {
        std::string body;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {etcd + kLink, "gw.yaml: line 4, column 3: fleet.gateway_id: missing required key"},
        {"  gateway_id: \"gw 1\"\n" + etcd + kLink,
         "gw.yaml: line 4, column 15: fleet.gateway_id: expected 1..64 characters of A-Z a-z 0-9 . _ -"},
        {"  gateway_id: g\n" + std::string(kLink), "fleet.etcd: missing required key"},
        {"  gateway_id: g\n  etcd: []\n" + std::string(kLink),
         "gw.yaml: line 5, column 9: fleet.etcd: expected at least one etcd URL"},
        {"  gateway_id: g\n  etcd: [\"ftp://h:1\"]\n" + std::string(kLink),
         "line 5, column 10: fleet.etcd[0]: etcd endpoint \"ftp://h:1\": unsupported scheme"},
        {"  gateway_id: g\n  etcd: [\"http://h:99999\"]\n" + std::string(kLink),
         "fleet.etcd[0]: etcd endpoint \"http://h:99999\": port must be 1..65535"},
        {"  gateway_id: g\n  etcd: [\"http://h:1\", \"https://h:2\"]\n" + std::string(kLink),
         "fleet.etcd[1]: mixes http:// and https:// endpoints"},
        {"  gateway_id: g\n" + etcd + "  tls: {ca: /ca.pem}\n" + kLink,
         "line 6, column 8: fleet.tls: set, but fleet.etcd lists http:// endpoints"},
        {"  gateway_id: g\n  etcd: [\"https://h:1\"]\n  tls: {cert: /c.pem}\n" + std::string(kLink),
         "fleet.tls: a client certificate needs both cert and key (only cert is set)"},
        {"  gateway_id: g\n" + etcd + "  prefix: rustun/\n" + kLink,
         "line 6, column 11: fleet.prefix: expected a key prefix starting with '/'"},
        {"  gateway_id: g\n" + etcd + "  lease_ttl: 1s\n" + kLink,
         "line 6, column 14: fleet.lease_ttl: expected a whole number of seconds from 2s to 3600s"},
        {"  gateway_id: g\n" + etcd, "fleet.link: missing required key"},
        {"  gateway_id: g\n" + etcd + "  link: {key: \"aes256:k\"}\n", "fleet.link.listen: missing required key"},
        {"  gateway_id: g\n" + etcd + "  link: {listen: 127.0.0.1:1, key: plain}\n",
         "fleet.link.key: expected an AEAD (aes256:SECRET or chacha20:SECRET)"},
        {"  gateway_id: g\n" + etcd + "  link: {listen: 127.0.0.1:1, key: \"rot13:x\"}\n", "fleet.link.key: "},
        {"  gateway_id: g\n" + etcd + "  link: {listen: 127.0.0.1:1, key: \"aes256:\"}\n",
         "fleet.link.key: empty key"},
        {"  gateway_id: g\n" + etcd + "  link: {listen: 1.2.3:1, key: \"aes256:k\"}\n", "fleet.link.listen: "},
        {"  gateway_id: g\n" + etcd + "  color: blue\n" + kLink,
         "gw.yaml: line 6, column 3: fleet.color: unknown key \"color\" (expected one of: gateway_id, etcd, tls, "
         "prefix, lease_ttl, link)"},
    };
    for (const Case& c : cases) {
        std::string e = error_of(c.body);
        EXPECT_NE(e.find(c.expected), std::string::npos) << "got: " << e << "\nexpected: " << c.expected;
    }
}

TEST(FleetConfig, RestartOnly) {
    auto a = load("  gateway_id: gw-1\n  etcd: [http://127.0.0.1:2379]\n" + std::string(kLink));
    ASSERT_TRUE(a.ok()) << a.error();
    GatewayConfig b = *a;
    b.fleet->lease_ttl = std::chrono::seconds(20);
    EXPECT_EQ(restart_only_changes(*a, b), std::vector<std::string>{"fleet"});
    b.fleet.reset();
    EXPECT_EQ(restart_only_changes(*a, b), std::vector<std::string>{"fleet"});
}

}  // namespace
}  // namespace rustun
