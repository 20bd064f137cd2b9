// The gateway's typed, validated configuration (docs/configuration.md documents every key).
// Produced by load_config_file()/load_config_string() (yaml_loader.hpp); immutable by convention
// once loaded: a reload builds a new GatewayConfig and the owner swaps it.
//
// Invariants of a GatewayConfig returned by a loader:
//  * cluster names are unique and non-empty; identities are unique and non-empty across all
//    clusters; private_ip is unique within a cluster;
//  * every mask is a contiguous netmask; every CIDR has prefix_len <= 32;
//  * controlplane and dataplane values are inside the ranges of the key table (config_keys.hpp).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/address.hpp"
#include "config/config_keys.hpp"
#include "crypto/cipher_spec.hpp"

namespace rustun {

// The default of an integer key of the table (the config-keys test checks that each fits its
// member).
consteval uint64_t default_integer(std::string_view path) {
    const ConfigKey& k = config_key(path);
    if (k.kind != KeyKind::Integer) throw "not an integer key";
    return k.number;
}
// The default of a seconds key of the table.
consteval std::chrono::milliseconds default_ms(std::string_view path) {
    const ConfigKey& k = config_key(path);
    if (k.kind != KeyKind::Seconds) throw "not a seconds key";
    return std::chrono::milliseconds(static_cast<int64_t>(k.number));
}

// One `cider_mapping` entry: traffic for `virtual_cidr` (advertised to peers) is mapped to
// `real_cidr` on the client's LAN (Linux NETMAP on that client, docs/protocol.md, "HandshakeReply").
struct CidrMapping {
    Ipv4Cidr virtual_cidr;
    Ipv4Cidr real_cidr;
    bool operator==(const CidrMapping&) const = default;
};

struct ClientConfig {
    std::string identity;                 // the only credential (docs/protocol.md, "Known weaknesses"); unique, non-empty
    std::string name;                     // display name, may be empty
    Ipv4Addr private_ip;                  // the client's VPN address
    Ipv4Addr mask;                        // TUN netmask, contiguous
    Ipv4Addr gateway;                     // sent to the client as is
    std::vector<Ipv4Cidr> ciders;         // networks behind the client, in configured order
    std::vector<CidrMapping> cider_mapping;  // in configured order (the wire keeps it)
    // Diagnostics only, not a setting: where the client was defined, e.g.
    // "routes.json: line 3, column 1: [1]". Ignored by same_settings().
    std::string origin;

    // Equality of every setting (all fields but `origin`).
    bool same_settings(const ClientConfig& o) const;
};

struct ClusterConfig {
    std::string name;  // tenant name (docs/protocol.md, "The reference routes.json": `cluster`); unique, non-empty
    // Effective cipher of the cluster: its own `crypto` override, else the gateway default.
    CipherSpec crypto;
    bool crypto_overridden = false;  // true if the cluster set its own `crypto`
    // Clients of the cluster in configured order: clients_file entries first (file order), then
    // inline ones. The order is the reference's peer-list order (docs/protocol.md, "HandshakeReply": `others`).
    std::vector<ClientConfig> clients;
};

struct ListenConfig {
    SocketAddress tcp;                 // handshakes, keep-alives and the TCP relay
    std::optional<SocketAddress> udp;  // UDP relay port (dataplane); nullopt = no UDP relay
};

enum class LogLevel : uint8_t { Trace, Debug, Info, Warn, Error, Off };
const char* log_level_name(LogLevel level);  // "trace" .. "off"
// Line formats of the logger (util/log.hpp): plain text, journald `<N>` priority prefixes, JSON lines.
enum class LogFormat : uint8_t { Text, Journald, Json };
const char* log_format_name(LogFormat format);  // "text", "journal", "json"

// Defaults and ranges are the key table's (config_keys.hpp); the config-keys test checks the enum
// defaults (log_level, exception) against it.
struct ControlPlaneConfig {
    uint32_t workers = default_integer("controlplane.workers");  // epoll worker threads
    // All durations are > 0 and <= 1 day; configured in seconds (fractions allowed, ms precision).
    // The first frame must arrive within handshake_timeout.
    std::chrono::milliseconds handshake_timeout{default_ms("controlplane.handshake_timeout")};
    // The clients' KeepAlive period.
    std::chrono::milliseconds keepalive_interval{default_ms("controlplane.keepalive_interval")};
    // Silence after which a connection is dropped; 3 x keepalive_interval unless configured.
    // Invariant: idle_timeout > keepalive_interval.
    std::chrono::milliseconds idle_timeout{default_ms("controlplane.idle_timeout")};
    // Bound of one connection's output queue in bytes; at least one maximum frame.
    uint64_t output_queue_bytes = default_integer("controlplane.output_queue_bytes");
    // Cap on peers listed in one HandshakeReply/KeepAlive reply so that payloads stay
    // <= 65535 bytes (docs/protocol.md, "Payload size and peer-list cap"). The frame builder
    // still checks the size.
    uint32_t max_peers_per_reply = default_integer("controlplane.max_peers_per_reply");
    // Handshakes accepted per second from one source IP address; 0 = no limit.
    uint32_t handshake_rate_per_source =
        default_integer("controlplane.handshake_rate_per_source");
    // Connections of one worker still waiting for their Handshake (docs/controlplane.md,
    // "Connections without a Handshake"): at most handshake_pending_max (when full, the oldest is
    // closed to admit the new one), at most handshake_pending_per_source from one IP address and
    // handshake_pending_per_prefix6 from one IPv6 /64 (0 = no limit).
    uint32_t handshake_pending_max = default_integer("controlplane.handshake_pending_max");
    uint32_t handshake_pending_per_source =
        default_integer("controlplane.handshake_pending_per_source");
    uint32_t handshake_pending_per_prefix6 =
        default_integer("controlplane.handshake_pending_per_prefix6");
    // A connection that has sent no byte at all within this time is closed (seconds, like the
    // other durations). Only shortens handshake_timeout.
    std::chrono::milliseconds first_byte_timeout{default_ms("controlplane.first_byte_timeout")};
    LogLevel log_level = LogLevel::Info;

    bool operator==(const ControlPlaneConfig&) const = default;
};

// The `dataplane:` section: settings of rustun-dataplane (docs/dataplane.md). All restart-only.
struct DataplaneConfig {
    enum class Exception : uint8_t { None, Tap };

    // Shared-memory segment path, non-empty. Its directory must be writable only by the gateway's
    // user (docs/shm-channel.md "Where the channel lives"); the dataplane creates it if missing.
    std::string channel{config_key("dataplane.channel").text};
    // Group that may attach to the channel (directory 0750, file 0660 of that group); empty =
    // owner only (0700 / 0600).
    std::string channel_group;
    std::vector<std::string> eal_args;                  // DPDK EAL arguments, before the CLI's
    std::string port;                                   // uplink: vdev name or PCI address; required
    uint32_t workers = default_integer("dataplane.workers");  // RX/TX queue pairs = lcores
    uint32_t burst = default_integer("dataplane.burst");      // RX burst
    // Microseconds a worker sleeps after ~4096 empty polls; 0 = pure busy polling
    // (isolated cores on bare metal). The default yields the core on shared machines.
    uint32_t idle_sleep_us = default_integer("dataplane.idle_sleep_us");
    // 1: workers time each stage of a burst (one rdtsc per stage per burst, the rt_cycles_*
    // counters); 0: only busy/idle cycles and polls are counted.
    uint32_t stage_cycles = default_integer("dataplane.stage_cycles");
    uint32_t sessions = default_integer("dataplane.sessions");  // endpoint bindings
    uint32_t mbufs = default_integer("dataplane.mbufs");        // mbuf pool size (per NUMA socket in use)
    // Descriptors per RX / TX queue of the uplink. 0 = the build's default (dataplane/capacities.hpp),
    // adjusted to the port's limits; else a power of two <= 32768 that must lie within the port's
    // limits (rte_eth_dev_info desc_lim), or the dataplane refuses to start.
    uint32_t rx_descriptors = default_integer("dataplane.rx_descriptors");
    uint32_t tx_descriptors = default_integer("dataplane.tx_descriptors");
    // The uplink's IP MTU in bytes, set on the port before it starts; 0 = leave the port's own
    // (1500 on most). A fleet's UDP link wraps relayed frames in ~64 more bytes (docs/fleet.md).
    uint32_t mtu = default_integer("dataplane.mtu");
    Ipv4Addr address;                                   // gateway IPv4 on the uplink; required
    std::optional<std::array<uint8_t, 16>> address6;    // gateway IPv6 (network byte order)
    Exception exception = Exception::None;
    std::string exception_iface{config_key("dataplane.exception_iface").text};  // tap interface

    bool operator==(const DataplaneConfig&) const = default;
};

// The `fleet:` section (docs/fleet.md): several gateways sharing membership through etcd.
// Absent: a single gateway, exactly as without fleet support. All keys restart-only.
struct FleetTlsConfig {
    std::string ca;    // CA bundle verifying etcd's certificate; empty = the system roots
    std::string cert;  // client certificate file; set together with `key`, or neither
    std::string key;   // its private key file
    bool operator==(const FleetTlsConfig&) const = default;
};

struct FleetLinkConfig {
    SocketAddress listen;  // where other gateways send frames for this gateway's clients
    CipherSpec key;        // the fleet's link key ("aes256:..." or "chacha20:..."; AEAD only)
    bool operator==(const FleetLinkConfig&) const = default;
};

struct FleetConfig {
    std::string gateway_id;         // unique in the fleet: 1..64 of [A-Za-z0-9._-]
    std::vector<std::string> etcd;  // endpoints "http://host:port" / "https://host:port", >= 1
    std::optional<FleetTlsConfig> tls;  // absent: no TLS (every endpoint http://)
    // etcd key prefix of the fleet's records: starts with '/', no trailing '/'.
    std::string prefix{config_key("fleet.prefix").text};
    std::chrono::seconds lease_ttl{kDefaultLeaseTtl};  // whole seconds, 2..3600
    static constexpr std::chrono::seconds kDefaultLeaseTtl{10};  // docs: `10s`
    static constexpr std::chrono::seconds kMinLeaseTtl{2}, kMaxLeaseTtl{3600};
    FleetLinkConfig link;
    bool operator==(const FleetConfig&) const = default;
};

inline constexpr std::string_view kDefaultControlSocket = config_key("control_socket").text;

struct GatewayConfig {
    std::string source_file;  // the YAML file (or pseudo file name) this was loaded from
    ListenConfig listen;
    CipherSpec crypto;  // default cipher and key of every cluster without an override
    std::string control_socket{kDefaultControlSocket};
    // Group (name or gid) whose members may use the control socket besides root and the
    // gateway's own user; the socket file gets that group and mode 0660. Empty: mode 0600.
    std::string control_socket_group;
    // metrics.listen: the Prometheus text endpoint (docs/operations.md, "Metrics for Prometheus");
    // nullopt = no `metrics:` section, no endpoint.
    std::optional<SocketAddress> metrics_listen;
    // `log.format`; nullopt: journal when stderr is the journal (util/log.hpp default_log_format).
    // `log.level` is read into controlplane.log_level (the older spelling of the same key).
    std::optional<LogFormat> log_format;
    // The routes.json imported, resolved against the YAML file's directory; empty if none.
    std::string clients_file;
    ControlPlaneConfig controlplane;
    std::optional<DataplaneConfig> dataplane;  // absent: no `dataplane:` section
    std::optional<FleetConfig> fleet;          // absent: no `fleet:` section (one gateway)
    // Merged clusters (clients_file first, in order of first appearance, then new inline ones).
    // A cluster's index here is its ClusterId in the route table (routing/route_table_build.hpp).
    std::vector<ClusterConfig> clusters;

    const ClusterConfig* find_cluster(std::string_view name) const;
    size_t total_clients() const;
};

}  // namespace rustun
