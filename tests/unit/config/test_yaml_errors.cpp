// config-yaml-errors: every rejected configuration names the file, the line, the key path and
// what was expected; nothing throws.
#include <gtest/gtest.h>

#include "config/yaml_loader.hpp"
#include "test_helpers.hpp"

namespace rustun {
namespace {

using test::line_of;
using test::replace_once;

// Line numbers below are stated literally and cross-checked with line_of().
constexpr std::string_view kBase = R"(listen:
  tcp: 0.0.0.0:8080
  udp: "[::]:8081"
crypto: chacha20:rustun
clusters:
  - name: test
    crypto: aes256:otherkey
    clients:
      - identity: client-a
        name: Client A
        private_ip: 10.0.1.2
        mask: 255.255.255.0
        gateway: 10.0.1.254
        ciders: [192.168.11.0/24]
        cider_mapping: {}
      - identity: client-b
        private_ip: 10.0.1.3
        mask: 255.255.255.0
        gateway: 10.0.1.254
)";

// Loads `text` and returns the error message (fails the test if it loads).
std::string error_of(std::string_view text) {
    auto r = load_config_string(text, "gw.yaml");
    EXPECT_FALSE(r.ok()) << "unexpectedly accepted:\n" << text;
    return r.ok() ? std::string() : r.error();
}

#define EXPECT_HAS(haystack, needle) \
    EXPECT_NE((haystack).find(needle), std::string::npos) << "missing \"" << (needle) << "\" in: " << (haystack)

TEST(ConfigYamlErrors, BaseIsValid) {
    auto r = load_config_string(kBase, "gw.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->clusters.at(0).clients.size(), 2u);
}

TEST(ConfigYamlErrors, BadIp) {
    std::string text = replace_once(std::string(kBase), "10.0.1.3", "10.0.1.300");
    ASSERT_EQ(line_of(text, "10.0.1.300"), 17);
    std::string e = error_of(text);
    EXPECT_HAS(e, "gw.yaml: line 17, column 21: clusters[0].clients[1].private_ip: ");
    EXPECT_HAS(e, "expected an IPv4 address");
    EXPECT_HAS(e, "\"10.0.1.300\"");

    // Leading zeros and a gateway error.
    e = error_of(replace_once(std::string(kBase), "gateway: 10.0.1.254\n        ciders", "gateway: 10.0.01.254\n        ciders"));
    EXPECT_HAS(e, "line 13");
    EXPECT_HAS(e, "clusters[0].clients[0].gateway");
}

TEST(ConfigYamlErrors, BadMask) {
    std::string text = replace_once(std::string(kBase), "mask: 255.255.255.0\n        gateway: 10.0.1.254\n        ciders",
                                    "mask: 255.0.255.0\n        gateway: 10.0.1.254\n        ciders");
    ASSERT_EQ(line_of(text, "255.0.255.0"), 12);
    std::string e = error_of(text);
    EXPECT_HAS(e, "line 12");
    EXPECT_HAS(e, "clusters[0].clients[0].mask");
    EXPECT_HAS(e, "expected a contiguous netmask");
}

TEST(ConfigYamlErrors, BadCidr) {
    std::string text = replace_once(std::string(kBase), "[192.168.11.0/24]", "[192.168.11.0/24, 10.0.0.0/33]");
    std::string e = error_of(text);
    EXPECT_HAS(e, "line 14");
    EXPECT_HAS(e, "clusters[0].clients[0].ciders[1]");
    EXPECT_HAS(e, "expected an IPv4 CIDR a.b.c.d/n");
    EXPECT_HAS(e, "10.0.0.0/33");

    e = error_of(replace_once(std::string(kBase), "cider_mapping: {}", "cider_mapping: {192.168.11.0/24: 10.0.0.0}"));
    EXPECT_HAS(e, "line 15");
    EXPECT_HAS(e, "clusters[0].clients[0].cider_mapping[\"192.168.11.0/24\"]");
}

TEST(ConfigYamlErrors, UnknownKey) {
    std::string text = replace_once(std::string(kBase), "private_ip: 10.0.1.3", "privat_ip: 10.0.1.3");
    std::string e = error_of(text);
    EXPECT_HAS(e, "line 17");
    EXPECT_HAS(e, "clusters[0].clients[1].privat_ip");
    EXPECT_HAS(e, "unknown key \"privat_ip\"");
    EXPECT_HAS(e, "expected one of: identity, name, private_ip");

    e = error_of(std::string(kBase) + "controlplan:\n  workers: 2\n");
    EXPECT_HAS(e, "line 20");
    EXPECT_HAS(e, "unknown key \"controlplan\"");

    e = error_of(replace_once(std::string(kBase), "  udp:", "  udpp:"));
    EXPECT_HAS(e, "line 3");
    EXPECT_HAS(e, "listen.udpp");
}

TEST(ConfigYamlErrors, DuplicateKey) {
    std::string text = replace_once(std::string(kBase), "        name: Client A\n", "        name: Client A\n        name: B\n");
    std::string e = error_of(text);
    EXPECT_HAS(e, "line 11");
    EXPECT_HAS(e, "clusters[0].clients[0].name: key given twice");
}

TEST(ConfigYamlErrors, WrongType) {
    std::string e = error_of(replace_once(std::string(kBase), "mask: 255.255.255.0\n        gateway: 10.0.1.254\n        ciders",
                                          "mask: [255.255.255.0]\n        gateway: 10.0.1.254\n        ciders"));
    EXPECT_HAS(e, "line 12");
    EXPECT_HAS(e, "clusters[0].clients[0].mask: expected a netmask a.b.c.d, got a list");

    e = error_of(replace_once(std::string(kBase), "    clients:\n", "    clients: 5\n    x:\n"));
    EXPECT_HAS(e, "line 9");  // keys are checked before values: the unknown key is reported
    EXPECT_HAS(e, "clusters[0].x: unknown key \"x\"");
    e = error_of(replace_once(std::string(kBase), "    clients:\n", "    clients: 5\n    clientz:\n"));
    EXPECT_HAS(e, "unknown key \"clientz\"");
    e = error_of("listen: {tcp: 0.0.0.0:1}\ncrypto: plain\nclusters: [{name: a, clients: 5}]\n");
    EXPECT_HAS(e, "gw.yaml: line 3, column 31: clusters[0].clients: expected a list, got a scalar");

    e = error_of("listen: 0.0.0.0:8080\ncrypto: plain\n");
    EXPECT_HAS(e, "gw.yaml: line 1, column 9: listen: expected a mapping, got a scalar");

    e = error_of("listen: {tcp: 0.0.0.0:1}\ncrypto: plain\nclusters: {a: b}\n");
    EXPECT_HAS(e, "line 3");
    EXPECT_HAS(e, "clusters: expected a list, got a mapping");

    e = error_of("listen: {tcp: 0.0.0.0:1}\ncrypto: plain\ncontrolplane:\n  workers: two\n");
    EXPECT_HAS(e, "line 4");
    EXPECT_HAS(e, "controlplane.workers: expected an integer 1..256, got \"two\"");

    e = error_of("listen: {tcp: 0.0.0.0:1}\ncrypto: plain\ncontrolplane: {workers: 0}\n");
    EXPECT_HAS(e, "controlplane.workers: expected an integer 1..256, got \"0\"");

    e = error_of("listen: {tcp: 0.0.0.0:1}\ncrypto: plain\ncontrolplane: {handshake_timeout: 1.2345}\n");
    EXPECT_HAS(e, "controlplane.handshake_timeout: expected a number of seconds");

    e = error_of("listen: {tcp: 0.0.0.0:1}\ncrypto: plain\ncontrolplane: {keepalive_interval: 10, idle_timeout: 10}\n");
    EXPECT_HAS(e, "controlplane.idle_timeout: must be greater than keepalive_interval");

    e = error_of("listen: {tcp: 0.0.0.0:1}\ncrypto: plain\ncontrolplane: {output_queue_bytes: 1000}\n");
    EXPECT_HAS(e, "controlplane.output_queue_bytes: expected an integer 65543..");

    e = error_of("listen: {tcp: 0.0.0.0:1}\ncrypto: plain\ncontrolplane: {log_level: loud}\n");
    EXPECT_HAS(e, "controlplane.log_level: expected one of trace, debug, info, warn, error, off");
}

TEST(ConfigYamlErrors, BadListenAddress) {
    std::string e = error_of(replace_once(std::string(kBase), "0.0.0.0:8080", "0.0.0.0"));
    EXPECT_HAS(e, "gw.yaml: line 2, column 8: listen.tcp: ");
    EXPECT_HAS(e, "expected \"a.b.c.d:port\" or \"[ipv6]:port\"");

    e = error_of(replace_once(std::string(kBase), "0.0.0.0:8080", "0.0.0.0:65536"));
    EXPECT_HAS(e, "invalid port \"65536\"");
    e = error_of(replace_once(std::string(kBase), "\"[::]:8081\"", "\"[::g]:8081\""));
    EXPECT_HAS(e, "line 3");
    EXPECT_HAS(e, "listen.udp: invalid IPv6 address");
    e = error_of(replace_once(std::string(kBase), "0.0.0.0:8080", "localhost:8080"));
    EXPECT_HAS(e, "listen.tcp: invalid IPv4 address \"localhost\"");
}

// YAML reads an unquoted IPv6 address as syntax; every symptom's error ends with the hint.
TEST(ConfigYamlErrors, UnquotedIpv6GetsAQuoteHint) {
    const std::string kHint = "quote IPv6 addresses";
    // "[::]:8081" unquoted: a flow list followed by ":8081", a parse error on line 3.
    std::string e = error_of(replace_once(std::string(kBase), "udp: \"[::]:8081\"", "udp: [::]:8081"));
    EXPECT_HAS(e, "gw.yaml: line 3");
    EXPECT_HAS(e, "invalid YAML");
    EXPECT_HAS(e, kHint);
    // The same in a flow mapping.
    e = error_of(replace_once(std::string(kBase), "listen:\n  tcp: 0.0.0.0:8080\n  udp: \"[::]:8081\"",
                              "listen: {tcp: [fd00::1]:8080}"));
    EXPECT_HAS(e, kHint);
    // "[fd00::1]" alone: a list of one scalar.
    e = error_of(replace_once(std::string(kBase), "udp: \"[::]:8081\"", "udp: [fd00::1]"));
    EXPECT_HAS(e, "listen.udp: expected");
    EXPECT_HAS(e, "got a list");
    EXPECT_HAS(e, kHint);
    // "fd00::1:8081": IPv6 without brackets.
    e = error_of(replace_once(std::string(kBase), "udp: \"[::]:8081\"", "udp: fd00::1:8081"));
    EXPECT_HAS(e, "listen.udp: ");
    EXPECT_HAS(e, kHint);
    // "::" at a value start is a mapping indicator.
    e = error_of(replace_once(std::string(kBase), "crypto: chacha20:rustun", "crypto: chacha20:rustun\ndataplane: {port: p, address: 10.0.0.1, address6: ::}"));
    EXPECT_HAS(e, kHint);
    // Errors that have nothing to do with IPv6 get no hint.
    e = error_of(replace_once(std::string(kBase), "udp: \"[::]:8081\"", "udp: \"1.2.3.4:99999\""));
    EXPECT_EQ(e.find(kHint), std::string::npos) << e;
    e = error_of(replace_once(std::string(kBase), "ciders: [192.168.11.0/24]", "ciders: [192.168.11.0/24"));
    EXPECT_EQ(e.find(kHint), std::string::npos) << e;
    EXPECT_TRUE(load_config_string(replace_once(std::string(kBase), "udp: \"[::]:8081\"", "udp: '[fd00::1]:8081'"),
                                   "gw.yaml").ok());
}

TEST(ConfigYamlErrors, DuplicateIdentity) {
    std::string text = replace_once(std::string(kBase), "identity: client-b", "identity: client-a");
    std::string e = error_of(text);
    EXPECT_HAS(e, "gw.yaml: line 16, column 19: clusters[0].clients[1].identity: duplicate identity \"client-a\"");
    EXPECT_HAS(e, "first defined at gw.yaml: line 9, column 19: clusters[0].clients[0].identity");

    // Across clusters too.
    e = error_of(std::string(kBase) +
                 "  - name: other\n    clients:\n      - {identity: client-b, private_ip: 1.1.1.1, mask: 255.0.0.0, gateway: 1.0.0.1}\n");
    EXPECT_HAS(e, "line 22");
    EXPECT_HAS(e, "clusters[1].clients[0].identity: duplicate identity \"client-b\"");
    EXPECT_HAS(e, "line 16");
}

TEST(ConfigYamlErrors, DuplicatePrivateIpInCluster) {
    std::string e = error_of(replace_once(std::string(kBase), "private_ip: 10.0.1.3", "private_ip: 10.0.1.2"));
    EXPECT_HAS(e, "line 17");
    EXPECT_HAS(e, "clusters[0].clients[1].private_ip: private_ip 10.0.1.2 is already used in cluster \"test\" by identity \"client-a\"");
    EXPECT_HAS(e, "line 11");
}

TEST(ConfigYamlErrors, DuplicateClusterName) {
    std::string e = error_of(std::string(kBase) + "  - name: test\n");
    EXPECT_HAS(e, "line 20");
    EXPECT_HAS(e, "clusters[1].name: duplicate cluster name \"test\" (first defined at gw.yaml: line 6");
}

TEST(ConfigYamlErrors, BadCrypto) {
    std::string e = error_of(replace_once(std::string(kBase), "aes256:otherkey", "rot13:otherkey"));
    EXPECT_HAS(e, "gw.yaml: line 7, column 13: clusters[0].crypto: ");
    EXPECT_HAS(e, "rot13");  // the rest of the text is CipherSpec::parse's message

    e = error_of(replace_once(std::string(kBase), "chacha20:rustun", "chacha20"));
    EXPECT_HAS(e, "gw.yaml: line 4, column 9: crypto: ");

    e = error_of(replace_once(std::string(kBase), "chacha20:rustun", "xor:"));
    EXPECT_HAS(e, "line 4");
    e = error_of(replace_once(std::string(kBase), "chacha20:rustun", "{a: b}"));
    EXPECT_HAS(e, "gw.yaml: line 4, column 9: crypto: expected a cipher such as \"chacha20:KEY\", got a mapping");
}

TEST(ConfigYamlErrors, MissingRequiredKey) {
    std::string e = error_of(replace_once(std::string(kBase), "        private_ip: 10.0.1.3\n", ""));
    EXPECT_HAS(e, "line 16");
    EXPECT_HAS(e, "clusters[0].clients[1].private_ip: missing required key (expected an IPv4 address");

    e = error_of("listen: {tcp: 0.0.0.0:1}\n");
    EXPECT_HAS(e, "gw.yaml: line 1, column 1: crypto: missing required key");
    e = error_of("crypto: plain\nlisten: {udp: 0.0.0.0:1}\n");
    EXPECT_HAS(e, "line 2");
    EXPECT_HAS(e, "listen.tcp: missing required key");
    e = error_of(replace_once(std::string(kBase), "  - name: test\n    crypto", "  - crypto"));
    EXPECT_HAS(e, "clusters[0].name: missing required key");
    e = error_of(replace_once(std::string(kBase), "identity: client-b", "identity: \"\""));
    EXPECT_HAS(e, "line 16");
    EXPECT_HAS(e, "clusters[0].clients[1].identity: must not be empty");
}

TEST(ConfigYamlErrors, MissingClientsFile) {
    std::string text = replace_once(std::string(kBase), "clusters:\n", "clients_file: no-such-routes.json\nclusters:\n");
    auto r = load_config_string(text, "/nonexistent-dir/gw.yaml");
    ASSERT_FALSE(r.ok());
    const std::string& e = r.error();
    EXPECT_HAS(e, "/nonexistent-dir/gw.yaml: line 5, column 15: clients_file: cannot read");
    EXPECT_HAS(e, "/nonexistent-dir/no-such-routes.json");
    EXPECT_HAS(e, "No such file or directory");

    auto dir = load_config_string("listen: {tcp: 0.0.0.0:1}\ncrypto: plain\nclients_file: /\n", "x.yaml");
    ASSERT_FALSE(dir.ok());
    EXPECT_HAS(dir.error(), "not a regular file");
}

TEST(ConfigYamlErrors, SyntaxAndShape) {
    std::string e = error_of("listen:\n  tcp: [0.0.0.0:1\ncrypto: plain\n");
    EXPECT_HAS(e, "gw.yaml: line ");
    EXPECT_HAS(e, "invalid YAML");

    e = error_of("");
    EXPECT_HAS(e, "gw.yaml: empty document");
    e = error_of("- a\n- b\n");
    EXPECT_HAS(e, "gw.yaml: line 1, column 1: expected a mapping, got a list");
    e = error_of("? [a, b]\n: c\n");
    EXPECT_HAS(e, "expected a string key");
    // Unquoted IPv6 is a YAML flow sequence: the error says what was expected.
    e = error_of("listen: {tcp: [::]:8080}\ncrypto: plain\n");
    EXPECT_HAS(e, "gw.yaml: line 1");
}

TEST(ConfigYamlErrors, NoThrowOnDeepNesting) {
    std::string deep(100000, '[');
    auto r = load_config_string(deep, "deep.yaml");
    EXPECT_FALSE(r.ok());
    std::string deep_map;
    for (int i = 0; i < 5000; ++i) deep_map += "{a: ";
    r = load_config_string(deep_map, "deep.yaml");
    EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace rustun
