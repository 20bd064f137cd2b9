// config-yaml: the YAML loader accepts the documented configuration and fills every field.
#include <gtest/gtest.h>

#include "config/reload_policy.hpp"
#include "config/yaml_loader.hpp"
#include "test_helpers.hpp"

namespace rustun {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

constexpr std::string_view kFullExample = R"(listen:
  tcp: 0.0.0.0:8080            # TCP listener for handshakes, keep-alives and TCP relay
  udp: 0.0.0.0:8080            # optional: UDP relay port, served when the dataplane runs
crypto: chacha20:rustun        # default cipher and key, reference syntax
control_socket: /run/rustun/control.sock   # optional, this default
clusters:                      # optional: clusters defined inline
  - name: test
    crypto: aes256:otherkey    # optional per-cluster override
    clients:
      - identity: client-a
        name: Client A
        private_ip: 10.0.1.2
        mask: 255.255.255.0
        gateway: 10.0.1.254
        ciders: [192.168.11.0/24]
        cider_mapping: {}
)";

Ipv4Addr ip(const char* s) { return *parse_ipv4(s); }
Ipv4Cidr cidr(const char* s) { return *parse_ipv4_cidr(s); }

TEST(ConfigYaml, FullExampleParsesToExpectedStructures) {
    auto r = load_config_string(kFullExample, "gateway.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    const GatewayConfig& c = *r;
    EXPECT_EQ(c.source_file, "gateway.yaml");
    EXPECT_EQ(c.listen.tcp.family, AddressFamily::V4);
    EXPECT_EQ(c.listen.tcp.port, 8080);
    EXPECT_EQ(c.listen.tcp.to_string(), "0.0.0.0:8080");
    ASSERT_TRUE(c.listen.udp.has_value());
    EXPECT_EQ(c.listen.udp->to_string(), "0.0.0.0:8080");
    EXPECT_EQ(c.crypto.method, CipherMethod::ChaCha20Poly1305);
    EXPECT_EQ(c.crypto.key, "rustun");
    EXPECT_EQ(c.control_socket, "/run/rustun/control.sock");
    EXPECT_EQ(c.clients_file, "");
    EXPECT_EQ(c.controlplane, ControlPlaneConfig{});

    ASSERT_EQ(c.clusters.size(), 1u);
    const ClusterConfig& cl = c.clusters[0];
    EXPECT_EQ(cl.name, "test");
    EXPECT_TRUE(cl.crypto_overridden);
    EXPECT_EQ(cl.crypto.method, CipherMethod::Aes256Gcm);
    EXPECT_EQ(cl.crypto.key, "otherkey");
    ASSERT_EQ(cl.clients.size(), 1u);
    const ClientConfig& a = cl.clients[0];
    EXPECT_EQ(a.identity, "client-a");
    EXPECT_EQ(a.name, "Client A");
    EXPECT_EQ(a.private_ip, ip("10.0.1.2"));
    EXPECT_EQ(a.private_ip.value, 0x0A000102u);
    EXPECT_EQ(a.mask, ip("255.255.255.0"));
    EXPECT_EQ(a.gateway, ip("10.0.1.254"));
    ASSERT_EQ(a.ciders.size(), 1u);
    EXPECT_EQ(a.ciders[0].to_string(), "192.168.11.0/24");
    EXPECT_TRUE(a.cider_mapping.empty());
    EXPECT_NE(a.origin.find("gateway.yaml: line 10"), std::string::npos) << a.origin;
    EXPECT_EQ(c.find_cluster("test"), &cl);
    EXPECT_EQ(c.find_cluster("nope"), nullptr);
    EXPECT_EQ(c.total_clients(), 1u);
}

TEST(ConfigYaml, DefaultsAndOptionalKeys) {
    auto r = load_config_string("listen: {tcp: 127.0.0.1:0}\ncrypto: plain\n", "min.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->listen.tcp.to_string(), "127.0.0.1:0");
    EXPECT_FALSE(r->listen.udp.has_value());
    EXPECT_EQ(r->crypto.method, CipherMethod::Plain);
    EXPECT_EQ(r->control_socket, kDefaultControlSocket);
    EXPECT_TRUE(r->clusters.empty());
    const ControlPlaneConfig& cp = r->controlplane;
    EXPECT_EQ(cp.workers, 1u);
    EXPECT_EQ(cp.handshake_timeout, 20s);
    EXPECT_EQ(cp.keepalive_interval, 10s);
    EXPECT_EQ(cp.idle_timeout, 30s);
    EXPECT_EQ(cp.output_queue_bytes, 1u << 20);
    EXPECT_EQ(cp.max_peers_per_reply, 100u);
    EXPECT_EQ(cp.handshake_rate_per_source, 20u);
    EXPECT_EQ(cp.handshake_pending_max, 4096u);
    EXPECT_EQ(cp.handshake_pending_per_source, 32u);
    EXPECT_EQ(cp.handshake_pending_per_prefix6, 128u);
    EXPECT_EQ(cp.first_byte_timeout, 3s);
    EXPECT_EQ(cp.log_level, LogLevel::Info);
}

TEST(ConfigYaml, ControlSocketGroup) {
    auto r = load_config_string("listen: {tcp: 127.0.0.1:0}\ncrypto: plain\n", "min.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->control_socket_group, "");  // default: socket 0600, root and our uid only
    r = load_config_string("listen: {tcp: 127.0.0.1:0}\ncrypto: plain\ncontrol_socket_group: rustun-ctl\n", "g.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->control_socket_group, "rustun-ctl");
    r = load_config_string("listen: {tcp: 127.0.0.1:0}\ncrypto: plain\ncontrol_socket_group: 4242\n", "g.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->control_socket_group, "4242");
    EXPECT_FALSE(load_config_string("listen: {tcp: 127.0.0.1:0}\ncrypto: plain\ncontrol_socket_group: \"\"\n", "g.yaml").ok());
    EXPECT_FALSE(load_config_string("listen: {tcp: 127.0.0.1:0}\ncrypto: plain\ncontrol_socket_group: [a]\n", "g.yaml").ok());
    EXPECT_EQ(reload_policy("control_socket_group"), ReloadPolicy::RestartOnly);
    GatewayConfig b = *r;
    b.control_socket_group = "other";
    EXPECT_EQ(restart_only_changes(*r, b), std::vector<std::string>{"control_socket_group"});
}

// metrics: {listen: ...} (docs/operations.md, "Metrics for Prometheus"): absent by default.
// log: {level, format} (docs/operations.md, "Logs"); log.level is controlplane.log_level's new
// spelling, so giving both is an error rather than a silent precedence.
TEST(ConfigYaml, LogSection) {
    const std::string base = "listen: {tcp: 127.0.0.1:0}\ncrypto: plain\n";
    auto r = load_config_string(base, "min.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_FALSE(r->log_format.has_value());  // journal under systemd, else text
    EXPECT_EQ(r->controlplane.log_level, LogLevel::Info);
    r = load_config_string(base + "log: {level: warning, format: json}\n", "l.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->controlplane.log_level, LogLevel::Warn);
    ASSERT_TRUE(r->log_format.has_value());
    EXPECT_EQ(*r->log_format, LogFormat::Json);
    r = load_config_string(base + "log: {format: journal}\n", "l.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(*r->log_format, LogFormat::Journald);
    auto bad = load_config_string(base + "log: {format: syslog}\n", "l.yaml");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("log.format: expected one of text, journal, json; got \"syslog\""), std::string::npos)
        << bad.error();
    bad = load_config_string(base + "log: {level: loud}\n", "l.yaml");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("log.level: expected one of"), std::string::npos) << bad.error();
    bad = load_config_string(base + "controlplane: {log_level: debug}\nlog: {level: info}\n", "l.yaml");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("line 4"), std::string::npos) << bad.error();
    EXPECT_NE(bad.error().find("controlplane.log_level is set too"), std::string::npos) << bad.error();
    bad = load_config_string(base + "log: {colour: yes}\n", "l.yaml");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("colour"), std::string::npos) << bad.error();
    EXPECT_EQ(reload_policy("log.level"), ReloadPolicy::Reloadable);
    EXPECT_EQ(reload_policy("log.format"), ReloadPolicy::Reloadable);
}

TEST(ConfigYaml, MetricsSection) {
    const std::string base = "listen: {tcp: 127.0.0.1:0}\ncrypto: plain\n";
    auto r = load_config_string(base, "min.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_FALSE(r->metrics_listen.has_value());
    r = load_config_string(base + "metrics: {listen: 127.0.0.1:9469}\n", "m.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_TRUE(r->metrics_listen.has_value());
    EXPECT_EQ(r->metrics_listen->to_string(), "127.0.0.1:9469");
    r = load_config_string(base + "metrics: {listen: \"[::1]:9469\"}\n", "m.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->metrics_listen->to_string(), "[::1]:9469");
    auto bad = load_config_string(base + "metrics: {}\n", "m.yaml");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("metrics"), std::string::npos) << bad.error();
    bad = load_config_string(base + "metrics: {listen: localhost:9469}\n", "m.yaml");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("metrics.listen"), std::string::npos) << bad.error();
    EXPECT_EQ(reload_policy("metrics.listen"), ReloadPolicy::RestartOnly);
    GatewayConfig b = *r;
    b.metrics_listen->port = 9470;
    EXPECT_EQ(restart_only_changes(*r, b), std::vector<std::string>{"metrics"});
}

TEST(ConfigYaml, ControlPlaneSection) {
    auto r = load_config_string(R"(listen:
  tcp: "[::]:9000"
  udp: "[2001:db8::1]:9001"
crypto: xor:k
controlplane:
  workers: 4
  handshake_timeout: 5
  keepalive_interval: 2.5
  output_queue_bytes: 65543
  max_peers_per_reply: 50
  handshake_rate_per_source: 0
  handshake_pending_max: 64
  handshake_pending_per_source: 0
  handshake_pending_per_prefix6: 7
  first_byte_timeout: 0.5
  log_level: debug
)",
                                "cp.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->listen.tcp.family, AddressFamily::V6);
    EXPECT_EQ(r->listen.tcp.to_string(), "[::]:9000");
    EXPECT_EQ(r->listen.udp->to_string(), "[2001:db8::1]:9001");
    const ControlPlaneConfig& cp = r->controlplane;
    EXPECT_EQ(cp.workers, 4u);
    EXPECT_EQ(cp.handshake_timeout, 5s);
    EXPECT_EQ(cp.keepalive_interval, 2500ms);
    EXPECT_EQ(cp.idle_timeout, 7500ms);  // 3 x keepalive_interval
    EXPECT_EQ(cp.output_queue_bytes, 65543u);
    EXPECT_EQ(cp.max_peers_per_reply, 50u);
    EXPECT_EQ(cp.handshake_rate_per_source, 0u);
    EXPECT_EQ(cp.handshake_pending_max, 64u);
    EXPECT_EQ(cp.handshake_pending_per_source, 0u);
    EXPECT_EQ(cp.handshake_pending_per_prefix6, 7u);
    EXPECT_EQ(cp.first_byte_timeout, 500ms);
    EXPECT_EQ(cp.log_level, LogLevel::Debug);

    auto r2 = load_config_string(
        "listen: {tcp: 1.2.3.4:1}\ncrypto: plain\ncontrolplane:\n  idle_timeout: 45\n", "cp2.yaml");
    ASSERT_TRUE(r2.ok()) << r2.error();
    EXPECT_EQ(r2->controlplane.idle_timeout, 45s);

    // An empty section (all keys commented out) means all defaults.
    auto r3 = load_config_string("listen: {tcp: 1.2.3.4:1}\ncrypto: plain\ncontrolplane:\n  # workers: 2\n",
                                 "cp3.yaml");
    ASSERT_TRUE(r3.ok()) << r3.error();
    EXPECT_EQ(r3->controlplane, ControlPlaneConfig{});
}

TEST(ConfigYaml, ClientDefaultsAndCiderMappingOrder) {
    auto r = load_config_string(R"(listen: {tcp: 0.0.0.0:8080}
crypto: chacha20:rustun
clusters:
  - name: c1
  - name: c2
    clients:
      - identity: "123"
        private_ip: 10.0.0.1
        mask: 255.255.255.255
        gateway: 10.0.0.254
        cider_mapping:
          192.168.11.0/24: 192.168.10.0/24
          10.9.0.0/16: 172.16.0.0/16
          1.2.3.0/24: 5.6.7.0/24
)",
                                "d.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->clusters.size(), 2u);
    EXPECT_TRUE(r->clusters[0].clients.empty());
    EXPECT_FALSE(r->clusters[0].crypto_overridden);
    EXPECT_EQ(r->clusters[0].crypto, r->crypto);
    const ClientConfig& c = r->clusters[1].clients.at(0);
    EXPECT_EQ(c.identity, "123");
    EXPECT_EQ(c.name, "");
    EXPECT_TRUE(c.ciders.empty());
    ASSERT_EQ(c.cider_mapping.size(), 3u);
    EXPECT_EQ(c.cider_mapping[0].virtual_cidr, cidr("192.168.11.0/24"));
    EXPECT_EQ(c.cider_mapping[0].real_cidr, cidr("192.168.10.0/24"));
    EXPECT_EQ(c.cider_mapping[1].virtual_cidr, cidr("10.9.0.0/16"));
    EXPECT_EQ(c.cider_mapping[2].real_cidr, cidr("5.6.7.0/24"));
}

TEST(ConfigYaml, SamePrivateIpInTwoClustersIsAllowed) {
    auto r = load_config_string(R"(listen: {tcp: 0.0.0.0:8080}
crypto: plain
clusters:
  - name: a
    clients: [{identity: x, private_ip: 10.0.1.2, mask: 255.255.255.0, gateway: 10.0.1.1}]
  - name: b
    clients: [{identity: y, private_ip: 10.0.1.2, mask: 255.255.255.0, gateway: 10.0.1.1}]
)",
                                "two.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->total_clients(), 2u);
}

TEST(ConfigYaml, LoadConfigFileResolvesClientsFileAgainstItsDirectory) {
    TempDir dir;
    dir.write("routes.json",
              R"([{"cluster":"t","identity":"i1","private_ip":"10.0.0.1","mask":"255.0.0.0","gateway":"10.0.0.254","ciders":[]}])");
    std::string yaml = dir.write("gw.yaml", "listen: {tcp: 0.0.0.0:1}\ncrypto: plain\nclients_file: routes.json\n");
    auto r = load_config_file(yaml);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->source_file, yaml);
    EXPECT_EQ(r->clients_file, dir.path() + "/routes.json");
    ASSERT_EQ(r->clusters.size(), 1u);
    EXPECT_EQ(r->clusters[0].clients.at(0).identity, "i1");
    EXPECT_EQ(r->clusters[0].crypto.method, CipherMethod::Plain);

    auto missing = load_config_file(dir.path() + "/nope.yaml");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().find("nope.yaml"), std::string::npos) << missing.error();
    EXPECT_NE(missing.error().find("No such file"), std::string::npos) << missing.error();
}

TEST(ConfigYaml, ReloadPolicyTableAndRestartOnlyChanges) {
    EXPECT_EQ(reload_policy("listen.tcp"), ReloadPolicy::RestartOnly);
    EXPECT_EQ(reload_policy("listen.udp"), ReloadPolicy::RestartOnly);
    EXPECT_EQ(reload_policy("control_socket"), ReloadPolicy::RestartOnly);
    EXPECT_EQ(reload_policy("controlplane.workers"), ReloadPolicy::RestartOnly);
    EXPECT_EQ(reload_policy("crypto"), ReloadPolicy::Reloadable);
    EXPECT_EQ(reload_policy("clusters[].clients[].ciders"), ReloadPolicy::Reloadable);
    EXPECT_EQ(reload_policy("controlplane.idle_timeout"), ReloadPolicy::Reloadable);
    EXPECT_GE(config_keys().size(), 20u);

    auto a = load_config_string(kFullExample, "a.yaml");
    ASSERT_TRUE(a.ok()) << a.error();
    GatewayConfig b = *a;
    EXPECT_TRUE(restart_only_changes(*a, b).empty());
    b.crypto.key = "changed";
    b.controlplane.idle_timeout = 99s;
    EXPECT_TRUE(restart_only_changes(*a, b).empty());
    b.listen.tcp.port = 9;
    b.listen.udp.reset();
    b.controlplane.workers = 3;
    EXPECT_EQ(restart_only_changes(*a, b),
              (std::vector<std::string>{"listen.tcp", "listen.udp", "controlplane.workers"}));
}

}  // namespace
}  // namespace rustun
