// The configuration key table (lib/config/config_keys.hpp): well-formed, used by the loader (known
// keys, ranges, defaults) and the reload diff, and listed exactly by docs/configuration.md.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config_keys.hpp"
#include "config/reload_policy.hpp"
#include "config/yaml_loader.hpp"

namespace rustun {
namespace {

constexpr const char* kBase = "listen: {tcp: 127.0.0.1:0}\ncrypto: plain\n";
constexpr const char* kDataplaneBase = "port: p, address: 192.0.2.1";

// The loaded value of a numeric key (milliseconds for seconds); nullopt for a key this test does
// not know, which fails the tests below: a new numeric key needs its line here.
std::optional<uint64_t> loaded_number(const GatewayConfig& c, std::string_view path) {
    const ControlPlaneConfig& cp = c.controlplane;
    if (path == "controlplane.workers") return cp.workers;
    if (path == "controlplane.handshake_timeout") return cp.handshake_timeout.count();
    if (path == "controlplane.keepalive_interval") return cp.keepalive_interval.count();
    if (path == "controlplane.idle_timeout") return cp.idle_timeout.count();
    if (path == "controlplane.output_queue_bytes") return cp.output_queue_bytes;
    if (path == "controlplane.max_peers_per_reply") return cp.max_peers_per_reply;
    if (path == "controlplane.handshake_rate_per_source") return cp.handshake_rate_per_source;
    if (path == "controlplane.handshake_pending_max") return cp.handshake_pending_max;
    if (path == "controlplane.handshake_pending_per_source") return cp.handshake_pending_per_source;
    if (path == "controlplane.handshake_pending_per_prefix6") return cp.handshake_pending_per_prefix6;
    if (path == "controlplane.first_byte_timeout") return cp.first_byte_timeout.count();
    if (!c.dataplane) return std::nullopt;
    const DataplaneConfig& dp = *c.dataplane;
    if (path == "dataplane.workers") return dp.workers;
    if (path == "dataplane.burst") return dp.burst;
    if (path == "dataplane.sessions") return dp.sessions;
    if (path == "dataplane.mbufs") return dp.mbufs;
    if (path == "dataplane.rx_descriptors") return dp.rx_descriptors;
    if (path == "dataplane.tx_descriptors") return dp.tx_descriptors;
    if (path == "dataplane.mtu") return dp.mtu;
    if (path == "dataplane.idle_sleep_us") return dp.idle_sleep_us;
    if (path == "dataplane.stage_cycles") return dp.stage_cycles;
    return std::nullopt;
}

// A configuration that sets the key `k` (of controlplane or dataplane) to `value`.
std::string with_value(const ConfigKey& k, const std::string& value) {
    std::string section(k.parent());
    std::string extra = section == "dataplane" ? std::string(kDataplaneBase) + ", " : "";
    return std::string(kBase) + section + ": {" + extra + std::string(k.name()) + ": " + value +
           "}\n";
}

bool is_number(const ConfigKey& k) {
    return k.kind == KeyKind::Integer || k.kind == KeyKind::Seconds;
}

TEST(ConfigKeys, TableIsWellFormed) {
    std::set<std::string_view> paths;
    for (const ConfigKey& k : kConfigKeys) {
        SCOPED_TRACE(std::string(k.path));
        EXPECT_TRUE(paths.insert(k.path).second) << "key listed twice";
        EXPECT_FALSE(k.name().empty());
        // The parent is a mapping of the table, or the elements of a list of the table.
        std::string_view parent = k.parent();
        if (!parent.empty()) {
            bool element = parent.ends_with("[]");
            const ConfigKey* p =
                find_config_key(element ? parent.substr(0, parent.size() - 2) : parent);
            ASSERT_NE(p, nullptr) << "parent not in the table";
            if (element) {
                EXPECT_EQ(p->type, "list");
            } else {
                EXPECT_EQ(p->kind, KeyKind::Mapping);
            }
            // Keys of a restart-only section are restart-only.
            if (p->policy == ReloadPolicy::RestartOnly) {
                EXPECT_EQ(k.policy, ReloadPolicy::RestartOnly);
            }
        }
        switch (k.kind) {
            case KeyKind::Integer:
                EXPECT_LE(k.min, k.max);
                EXPECT_GE(k.number, k.min);
                EXPECT_LE(k.number, k.max);
                EXPECT_TRUE(k.type.empty());
                break;
            case KeyKind::Seconds:
                EXPECT_GT(k.number, 0u);
                EXPECT_LE(k.number, 86'400'000u);
                break;
            case KeyKind::Mapping:
            case KeyKind::Value:
                EXPECT_FALSE(k.type.empty());
                EXPECT_EQ(k.number, 0u);
                // Exactly one way of stating the default.
                EXPECT_NE(k.text.empty(), k.note.empty());
                break;
        }
    }
    EXPECT_EQ(config_keys().size(), kConfigKeys.size());
}

TEST(ConfigKeys, Names) {
    EXPECT_EQ(config_key("controlplane.workers").name(), "workers");
    EXPECT_EQ(config_key("controlplane.workers").parent(), "controlplane");
    EXPECT_EQ(config_key("clusters[].clients[].identity").parent(), "clusters[].clients[]");
    EXPECT_EQ(config_key("crypto").parent(), "");
    EXPECT_EQ(child_keys("listen").span().size(), 2u);
    EXPECT_EQ(find_config_key("controlplane.bogus"), nullptr);
    EXPECT_EQ(reload_policy_name(ReloadPolicy::Reloadable), std::string("reloadable"));
    EXPECT_EQ(reload_policy_name(ReloadPolicy::RestartOnly), std::string("restart-only"));
    EXPECT_EQ(reload_policy_name(ReloadPolicy::Identity), std::string("identity"));
}

TEST(ConfigKeys, DocumentedCells) {
    ConfigKeyDoc d = document_config_key(config_key("controlplane.workers"));
    EXPECT_EQ(d.key, "`controlplane.workers`");
    EXPECT_EQ(d.type, "integer 1..256");
    EXPECT_EQ(d.default_value, "`1`");
    EXPECT_EQ(d.reload, "restart-only");
    EXPECT_EQ(document_config_key(config_key("controlplane.handshake_timeout")).default_value, "`20`");
    EXPECT_EQ(document_config_key(config_key("controlplane.log_level")).default_value, "`info`");
    EXPECT_EQ(document_config_key(config_key("listen.tcp")).default_value, "required");
    ConfigKey half{.path = "x", .kind = KeyKind::Seconds, .type = "seconds",
                   .policy = ReloadPolicy::Reloadable, .number = 2'050};
    EXPECT_EQ(document_config_key(half).default_value, "`2.05`");
}

// Every mapping's "unknown key" error lists exactly the table's keys of that mapping.
TEST(ConfigKeys, LoaderKnowsExactlyTheTableKeys) {
    struct Case {
        std::string parent;
        std::string yaml;
    };
    const std::vector<Case> cases = {
        {"", std::string(kBase) + "bogus: 1\n"},
        {"listen", "listen: {tcp: 127.0.0.1:0, bogus: 1}\ncrypto: plain\n"},
        {"controlplane", std::string(kBase) + "controlplane: {bogus: 1}\n"},
        {"metrics", std::string(kBase) + "metrics: {listen: 127.0.0.1:9469, bogus: 1}\n"},
        {"log", std::string(kBase) + "log: {level: info, bogus: 1}\n"},
        {"dataplane", std::string(kBase) + "dataplane: {" + kDataplaneBase + ", bogus: 1}\n"},
        {"clusters[]", std::string(kBase) + "clusters: [{name: a, bogus: 1}]\n"},
        {"clusters[].clients[]",
         std::string(kBase) + "clusters: [{name: a, clients: [{identity: i, bogus: 1}]}]\n"},
        {"fleet", std::string(kBase) + "fleet: {gateway_id: g, bogus: 1}\n"},
        {"fleet.tls", std::string(kBase) + "fleet: {gateway_id: g, etcd: [https://e:1], tls: {bogus: 1}}\n"},
        {"fleet.link", std::string(kBase) + "fleet: {gateway_id: g, etcd: [e:1], link: {bogus: 1}}\n"},
    };
    std::set<std::string_view> listed;
    for (const Case& c : cases) {
        std::string expected;
        for (const ConfigKey& k : kConfigKeys) {
            if (k.parent() != c.parent) continue;
            expected += (expected.empty() ? "" : ", ") + std::string(k.name());
            listed.insert(k.path);
        }
        auto r = load_config_string(c.yaml, "gw.yaml");
        ASSERT_FALSE(r.ok()) << c.yaml;
        EXPECT_NE(r.error().find("unknown key \"bogus\" (expected one of: " + expected + ")"),
                  std::string::npos)
            << r.error();
    }
    // Every key of the table is in one of those mappings.
    for (const ConfigKey& k : kConfigKeys) EXPECT_TRUE(listed.count(k.path)) << k.path;
}

TEST(ConfigKeys, DefaultsAreTheTables) {
    auto r = load_config_string(std::string(kBase) + "dataplane: {" + kDataplaneBase + "}\n",
                                "gw.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    for (const ConfigKey& k : kConfigKeys) {
        if (!is_number(k)) continue;
        auto v = loaded_number(*r, k.path);
        ASSERT_TRUE(v.has_value()) << k.path << ": add it to loaded_number()";
        EXPECT_EQ(*v, k.number) << k.path;
    }
    // String and enum defaults.
    EXPECT_EQ(r->control_socket, config_key("control_socket").text);
    EXPECT_EQ(log_level_name(r->controlplane.log_level), config_key("controlplane.log_level").text);
    EXPECT_EQ(log_level_name(ControlPlaneConfig{}.log_level), config_key("controlplane.log_level").text);
    EXPECT_EQ(log_level_name(ControlPlaneConfig{}.log_level), config_key("log.level").text);
    EXPECT_EQ(r->dataplane->channel, config_key("dataplane.channel").text);
    EXPECT_EQ(r->dataplane->exception_iface, config_key("dataplane.exception_iface").text);
    EXPECT_EQ(config_key("dataplane.exception").text, "none");
    EXPECT_EQ(r->dataplane->exception, DataplaneConfig::Exception::None);
    EXPECT_EQ(DataplaneConfig{}.exception, DataplaneConfig::Exception::None);
}

// Each integer key accepts its bounds and refuses what lies beyond them, with the table's range in
// the error.
TEST(ConfigKeys, LoaderChecksTheTableRanges) {
    for (const ConfigKey& k : kConfigKeys) {
        if (k.kind != KeyKind::Integer) continue;
        SCOPED_TRACE(std::string(k.path));
        for (uint64_t v : {k.min, k.max}) {
            auto r = load_config_string(with_value(k, std::to_string(v)), "gw.yaml");
            ASSERT_TRUE(r.ok()) << r.error();
            EXPECT_EQ(loaded_number(*r, k.path), v);
        }
        std::string range = std::to_string(k.min) + ".." + std::to_string(k.max);
        std::vector<uint64_t> outside = {k.max + 1};
        if (k.min > 0) outside.push_back(k.min - 1);
        for (uint64_t v : outside) {
            auto r = load_config_string(with_value(k, std::to_string(v)), "gw.yaml");
            ASSERT_FALSE(r.ok()) << v;
            EXPECT_NE(r.error().find(std::string(k.path) + ": expected an integer " + range +
                                     ", got \"" + std::to_string(v) + "\""),
                      std::string::npos)
                << r.error();
        }
    }
    // Seconds keys: a value is read into its own field.
    for (const ConfigKey& k : kConfigKeys) {
        if (k.kind != KeyKind::Seconds) continue;
        auto r = load_config_string(with_value(k, "86400"), "gw.yaml");
        ASSERT_TRUE(r.ok()) << r.error();
        EXPECT_EQ(loaded_number(*r, k.path), 86'400'000u) << k.path;
    }
}

TEST(ConfigKeys, ReloadDiffCoversEveryRestartOnlyKey) {
    for (const ConfigKey& k : kConfigKeys) {
        EXPECT_EQ(restart_only_change_detected(k.path), k.policy == ReloadPolicy::RestartOnly)
            << k.path;
        EXPECT_EQ(reload_policy(k.path), k.policy);
    }
    EXPECT_EQ(reload_policy("clusters[].clients[].identity"), ReloadPolicy::Identity);
    EXPECT_EQ(reload_policy("clusters[].name"), ReloadPolicy::Identity);
    EXPECT_EQ(reload_policy("no.such.key"), ReloadPolicy::Reloadable);

    // Each compared key, changed alone, is reported alone.
    auto a = load_config_string(std::string(kBase) + "dataplane: {" + kDataplaneBase + "}\n", "a");
    ASSERT_TRUE(a.ok()) << a.error();
    GatewayConfig b = *a;
    b.control_socket = "/elsewhere";
    EXPECT_EQ(restart_only_changes(*a, b), std::vector<std::string>{"control_socket"});
    b = *a;
    b.listen.udp = a->listen.tcp;
    EXPECT_EQ(restart_only_changes(*a, b), std::vector<std::string>{"listen.udp"});
    b = *a;
    b.dataplane->burst = 7;
    EXPECT_EQ(restart_only_changes(*a, b), std::vector<std::string>{"dataplane"});
    b = *a;
    b.dataplane.reset();
    EXPECT_EQ(restart_only_changes(*a, b), std::vector<std::string>{"dataplane"});
    b = *a;
    b.clusters.push_back(ClusterConfig{.name = "new"});
    b.controlplane.log_level = LogLevel::Debug;
    EXPECT_TRUE(restart_only_changes(*a, b).empty());
}

// After keep_restart_only_values(), no restart-only change is left and the reloadable ones stay.
TEST(ConfigKeys, KeepRestartOnlyValues) {
    auto a = load_config_string(std::string(kBase) + "dataplane: {" + kDataplaneBase + "}\n", "a");
    ASSERT_TRUE(a.ok()) << a.error();
    auto b = load_config_string(
        "listen: {tcp: 127.0.0.1:1, udp: 192.0.2.9:2}\ncrypto: xor:k\ncontrol_socket: /x\n"
        "control_socket_group: g\ncontrolplane: {workers: 4, keepalive_interval: 5}\n"
        "dataplane: {port: q, address: 192.0.2.9}\n",
        "b");
    ASSERT_TRUE(b.ok()) << b.error();
    GatewayConfig next = *b;
    EXPECT_EQ(restart_only_changes(*a, next).size(), 6u);
    keep_restart_only_values(next, *a);
    EXPECT_TRUE(restart_only_changes(*a, next).empty());
    EXPECT_EQ(next.listen.tcp, a->listen.tcp);
    EXPECT_FALSE(next.listen.udp);
    EXPECT_EQ(next.controlplane.workers, 1u);
    EXPECT_EQ(next.controlplane.keepalive_interval, std::chrono::milliseconds(5'000));
    EXPECT_EQ(next.crypto, b->crypto);
}

// The "## Keys" table of docs/configuration.md: the first four cells of each row.
std::vector<std::vector<std::string>> documented_rows(const std::string& file) {
    std::ifstream in(file);
    EXPECT_TRUE(in.good()) << "cannot read " << file;
    std::vector<std::vector<std::string>> rows;
    std::string line;
    bool in_keys = false;
    while (std::getline(in, line)) {
        if (line.starts_with("## ")) in_keys = line == "## Keys";
        if (!in_keys || !line.starts_with("| `")) continue;
        std::vector<std::string> cells;
        std::string body = line.substr(2);  // after "| "
        for (size_t pos = 0; cells.size() < 4;) {
            size_t bar = body.find(" | ", pos);
            if (bar == std::string::npos) break;
            cells.push_back(body.substr(pos, bar - pos));
            pos = bar + 3;
        }
        rows.push_back(cells);
    }
    return rows;
}

TEST(ConfigKeys, DocsListTheTable) {
    const char* dir = getenv("RUSTUN_DOCS_DIR");
    ASSERT_NE(dir, nullptr) << "RUSTUN_DOCS_DIR is set by tests/unit/config/meson.build";
    std::string file = std::string(dir) + "/configuration.md";
    auto rows = documented_rows(file);
    std::ostringstream expected;  // what the table's first four columns must be
    for (const ConfigKey& k : kConfigKeys) {
        ConfigKeyDoc d = document_config_key(k);
        expected << "| " << d.key << " | " << d.type << " | " << d.default_value << " | "
                 << d.reload << " | ...\n";
    }
    bool same = rows.size() == kConfigKeys.size();
    for (size_t i = 0; same && i < rows.size(); ++i) {
        ConfigKeyDoc d = document_config_key(kConfigKeys[i]);
        same = rows[i] == std::vector<std::string>{d.key, d.type, d.default_value, d.reload};
        EXPECT_TRUE(same) << file << ": row " << i + 1 << " of the key table differs from "
                          << "lib/config/config_keys.hpp";
    }
    EXPECT_TRUE(same) << file << " must list these keys, in this order (key | type | default | "
                      << "reload | meaning):\n"
                      << expected.str();
}

// dataplane.mtu: 0 (the port's own) or 1280..2000; below 1280 is no IPv6-capable link.
TEST(ConfigKeys, DataplaneMtuIsZeroOrAtLeast1280) {
    const ConfigKey& k = config_key("dataplane.mtu");
    auto ok = load_config_string(with_value(k, "1600"), "gw.yaml");
    ASSERT_TRUE(ok.ok()) << ok.error();
    EXPECT_EQ(ok->dataplane->mtu, 1600u);
    auto bad = load_config_string(with_value(k, "1000"), "gw.yaml");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("dataplane.mtu: expected 0 (the port's own MTU) or 1280..2000 bytes, got 1000"),
              std::string::npos)
        << bad.error();
}

}  // namespace
}  // namespace rustun

