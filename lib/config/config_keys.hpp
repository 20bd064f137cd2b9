// The one table of the gateway's configuration keys: path, type, range, default and reload policy.
//
// Used by the YAML loader (the known keys of each mapping, integer ranges), by the structs of
// config.hpp (their default member values), by the reload diff (reload_policy.hpp: which keys are
// restart-only) and by the config-keys test, which fails when the key table of
// docs/configuration.md does not list exactly these keys, in this order, with this type, default
// and reload policy. Adding a key: add its row here, read it in yaml_loader.cpp, document it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rustun {

// What a running gateway does with a changed value on reload.
enum class ReloadPolicy : uint8_t {
    Reloadable,   // live: applied by the reload
    RestartOnly,  // read at start-up only; a reload that changes it keeps the running value
    // Names an element: a reload matches running and new elements by it, so a changed value is a
    // different element (a removed client plus a new one; the clients of a renamed cluster are
    // re-keyed). Applied by the reload like a Reloadable key.
    Identity,
};
const char* reload_policy_name(ReloadPolicy p);  // "reloadable", "restart-only", "identity"

enum class KeyKind : uint8_t {
    Mapping,  // a mapping whose keys are rows of the table ("listen" -> "listen.tcp")
    Value,    // any other value; `type` says what the loader accepts
    Integer,  // a decimal integer in [min, max]
    Seconds,  // a number of seconds > 0 and <= 86400 with at most 3 decimals, kept in ms
};

struct ConfigKey {
    // Key path: "controlplane.workers"; a list's elements are "[]": "clusters[].clients[].identity".
    std::string_view path;
    KeyKind kind;
    std::string_view type;  // as documented; empty for Integer ("integer <min>..<max>")
    ReloadPolicy policy;
    uint64_t min = 0;  // Integer: inclusive range
    uint64_t max = 0;
    uint64_t number = 0;         // default of an Integer, of a Seconds key in milliseconds
    std::string_view text = {};  // default of a string key (a path, a name, an enum word)
    // The documented default when it is not `number` or `text`: "required", "none", "`[]`", ...
    std::string_view note = {};

    // The last component of the path, the key as written in its mapping ("workers").
    constexpr std::string_view name() const {
        size_t dot = path.rfind('.');
        return dot == std::string_view::npos ? path : path.substr(dot + 1);
    }
    // The path of the mapping holding the key ("controlplane", "clusters[]"; "" at the top).
    constexpr std::string_view parent() const {
        size_t dot = path.rfind('.');
        return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
    }
};

namespace config_keys_detail {

constexpr ReloadPolicy R = ReloadPolicy::Reloadable;
constexpr ReloadPolicy S = ReloadPolicy::RestartOnly;
constexpr ReloadPolicy I = ReloadPolicy::Identity;

constexpr ConfigKey mapping(std::string_view path, ReloadPolicy p, std::string_view note) {
    return {.path = path, .kind = KeyKind::Mapping, .type = "mapping", .policy = p, .note = note};
}
// A value whose default is documented in words (`note`).
constexpr ConfigKey value(std::string_view path, std::string_view type, ReloadPolicy p,
                          std::string_view note) {
    return {.path = path, .kind = KeyKind::Value, .type = type, .policy = p, .note = note};
}
// A string value with a default string.
constexpr ConfigKey text(std::string_view path, std::string_view type, ReloadPolicy p,
                         std::string_view default_text) {
    return {.path = path, .kind = KeyKind::Value, .type = type, .policy = p, .text = default_text};
}
constexpr ConfigKey integer(std::string_view path, ReloadPolicy p, uint64_t min, uint64_t max,
                            uint64_t default_value) {
    return {.path = path, .kind = KeyKind::Integer, .type = {}, .policy = p, .min = min, .max = max,
            .number = default_value};
}
constexpr ConfigKey seconds(std::string_view path, ReloadPolicy p, uint64_t default_ms,
                            std::string_view note = {}) {
    return {.path = path, .kind = KeyKind::Seconds, .type = "seconds", .policy = p,
            .number = default_ms, .note = note};
}

// Every key of the YAML file, in documentation order; the keys of one mapping are also in the
// order the loader lists them in an "unknown key" error.
inline constexpr ConfigKey kConfigKeys[] = {
    mapping("listen", S, "required"),
    value("listen.tcp", "socket address", S, "required"),
    value("listen.udp", "socket address", S, "none (no UDP relay)"),
    value("crypto", "cipher", R, "required"),
    text("control_socket", "path", S, "/run/rustun/control.sock"),
    value("control_socket_group", "group name or numeric gid", S, "none"),
    mapping("metrics", S, "absent (no metrics endpoint)"),
    value("metrics.listen", "socket address", S, "required"),
    mapping("log", R, "all defaults"),
    text("log.level", "`trace`, `debug`, `info`, `warn` (or `warning`), `error`, `off`", R, "info"),
    value("log.format", "`text`, `journal`, `json`", R, "`journal` when stderr is the journal, else `text`"),
    value("clients_file", "path", R, "none"),
    value("clusters", "list", R, "`[]`"),
    value("clusters[].name", "string", I, "required"),
    value("clusters[].crypto", "cipher", R, "the top-level `crypto`"),
    value("clusters[].clients", "list", R, "`[]`"),
    value("clusters[].clients[].identity", "string", I, "required"),
    value("clusters[].clients[].name", "string", R, "`\"\"`"),
    value("clusters[].clients[].private_ip", "IPv4", R, "required"),
    value("clusters[].clients[].mask", "IPv4 netmask", R, "required"),
    value("clusters[].clients[].gateway", "IPv4", R, "required"),
    value("clusters[].clients[].ciders", "list of CIDR", R, "`[]`"),
    value("clusters[].clients[].cider_mapping", "mapping CIDR → CIDR", R, "`{}`"),
    mapping("controlplane", R, "all defaults"),
    integer("controlplane.workers", S, 1, 256, 1),
    seconds("controlplane.handshake_timeout", R, 20'000),
    seconds("controlplane.keepalive_interval", R, 10'000),
    seconds("controlplane.idle_timeout", R, 30'000, "`3 × keepalive_interval`"),
    // At least one maximum frame: 8-byte header + 65535-byte payload; at most 1 GiB.
    integer("controlplane.output_queue_bytes", R, 8 + 65535, uint64_t{1} << 30, 1u << 20),
    integer("controlplane.max_peers_per_reply", R, 1, 10'000, 100),
    integer("controlplane.handshake_rate_per_source", R, 0, 1'000'000, 20),
    integer("controlplane.handshake_pending_max", R, 1, 1'000'000, 4096),
    integer("controlplane.handshake_pending_per_source", R, 0, 1'000'000, 32),
    integer("controlplane.handshake_pending_per_prefix6", R, 0, 1'000'000, 128),
    seconds("controlplane.first_byte_timeout", R, 3'000),
    text("controlplane.log_level", "`trace`, `debug`, `info`, `warn`, `error`, `off`", R, "info"),
    mapping("dataplane", S, "absent"),
    text("dataplane.channel", "path", S, "/run/rustun/dataplane.chan"),
    value("dataplane.eal_args", "list of strings", S, "`[]`"),
    value("dataplane.port", "string", S, "required"),
    integer("dataplane.workers", S, 1, 62, 1),
    integer("dataplane.burst", S, 1, 64, 32),
    integer("dataplane.sessions", S, 16, 16'777'216, 65536),
    integer("dataplane.mbufs", S, 1023, 16'777'215, 16383),
    // 0 = the build's default; else a power of two (yaml_loader.cpp), checked against the port's
    // limits when the port is set up (dataplane/port_descriptors.hpp).
    integer("dataplane.rx_descriptors", S, 0, 32768, 0),
    integer("dataplane.tx_descriptors", S, 0, 32768, 0),
    // 0 = the port's own MTU; else 1280..2000 (one mbuf per packet; yaml_loader.cpp).
    integer("dataplane.mtu", S, 0, 2000, 0),
    value("dataplane.address", "IPv4", S, "required"),
    value("dataplane.address6", "IPv6 (quoted)", S, "none"),
    text("dataplane.exception", "`none` or `tap`", S, "none"),
    text("dataplane.exception_iface", "interface name (1..15 chars)", S, "rustun0"),
    integer("dataplane.idle_sleep_us", S, 0, 1000, 20),
    integer("dataplane.stage_cycles", S, 0, 1, 1),
    value("dataplane.channel_group", "group name", S, "none"),
    // The fleet (docs/fleet.md); read by fleet_reader.cpp.
    mapping("fleet", S, "absent (a single gateway)"),
    value("fleet.gateway_id", "string of `A-Z a-z 0-9 . _ -` (1..64 chars)", S, "required"),
    value("fleet.etcd", "list of etcd URLs", S, "required"),
    mapping("fleet.tls", S, "absent (no TLS)"),
    value("fleet.tls.ca", "path", S, "none (the system's CA certificates)"),
    value("fleet.tls.cert", "path", S, "none"),
    value("fleet.tls.key", "path", S, "none"),
    text("fleet.prefix", "etcd key prefix", S, "/rustun/v1"),
    value("fleet.lease_ttl", "duration 2s..3600s", S, "`10s`"),
    mapping("fleet.link", S, "required"),
    value("fleet.link.listen", "socket address", S, "required"),
    value("fleet.link.key", "cipher (`aes256` or `chacha20`)", S, "required"),
};

}  // namespace config_keys_detail

inline constexpr std::span<const ConfigKey> kConfigKeys{config_keys_detail::kConfigKeys};

// The row of `path`; throws if there is none, which in a constant expression (config_key,
// the consteval defaults of config.hpp) means it does not compile.
constexpr const ConfigKey& config_key_row(std::string_view path) {
    for (const ConfigKey& k : kConfigKeys)
        if (k.path == path) return k;
    throw "not a key of the configuration key table (config_keys.hpp)";
}

// The row of `path`; a path that is not in the table does not compile.
consteval const ConfigKey& config_key(std::string_view path) { return config_key_row(path); }

// The row of `path` at run time; nullptr if there is none.
const ConfigKey* find_config_key(std::string_view path);

// The names of the keys of one mapping, in table order ("listen" -> {"tcp", "udp"}).
struct KeyNames {
    std::array<std::string_view, 24> names{};
    size_t size = 0;
    constexpr std::span<const std::string_view> span() const { return {names.data(), size}; }
};
consteval KeyNames child_keys(std::string_view parent) {
    KeyNames out;
    for (const ConfigKey& k : kConfigKeys) {
        if (k.parent() != parent) continue;
        if (out.size == out.names.size()) throw "more keys in one mapping than KeyNames holds";
        out.names[out.size++] = k.name();
    }
    if (out.size == 0) throw "no keys under this path in the configuration key table";
    return out;
}

// The documented cells of a row, as docs/configuration.md's key table writes them: type
// ("integer 1..256"), default ("`20`", "required") and reload policy ("restart-only").
struct ConfigKeyDoc {
    std::string key;  // "`controlplane.workers`"
    std::string type;
    std::string default_value;
    std::string reload;
};
ConfigKeyDoc document_config_key(const ConfigKey& k);

}  // namespace rustun
