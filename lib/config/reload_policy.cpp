#include "config/reload_policy.hpp"

#include <array>

namespace rustun {

namespace {

constexpr ReloadPolicy R = ReloadPolicy::Reloadable;
constexpr ReloadPolicy S = ReloadPolicy::RestartOnly;

constexpr std::array<ConfigKeyInfo, 45> kKeys = {{
    {"listen", S},
    {"listen.tcp", S},
    {"listen.udp", S},
    {"crypto", R},
    {"control_socket", S},
    {"control_socket_group", S},
    {"clients_file", R},
    {"clusters", R},
    {"clusters[].name", R},
    {"clusters[].crypto", R},
    {"clusters[].clients", R},
    {"clusters[].clients[].identity", R},
    {"clusters[].clients[].name", R},
    {"clusters[].clients[].private_ip", R},
    {"clusters[].clients[].mask", R},
    {"clusters[].clients[].gateway", R},
    {"clusters[].clients[].ciders", R},
    {"clusters[].clients[].cider_mapping", R},
    {"controlplane", R},
    {"controlplane.workers", S},
    {"controlplane.handshake_timeout", R},
    {"controlplane.keepalive_interval", R},
    {"controlplane.idle_timeout", R},
    {"controlplane.output_queue_bytes", R},
    {"controlplane.max_peers_per_reply", R},
    {"controlplane.handshake_rate_per_source", R},
    {"controlplane.handshake_pending_max", R},
    {"controlplane.handshake_pending_per_source", R},
    {"controlplane.handshake_pending_per_prefix6", R},
    {"controlplane.first_byte_timeout", R},
    {"controlplane.log_level", R},
    {"dataplane", S},
    {"dataplane.channel", S},
    {"dataplane.channel_group", S},
    {"dataplane.eal_args", S},
    {"dataplane.port", S},
    {"dataplane.workers", S},
    {"dataplane.burst", S},
    {"dataplane.idle_sleep_us", S},
    {"dataplane.sessions", S},
    {"dataplane.mbufs", S},
    {"dataplane.address", S},
    {"dataplane.address6", S},
    {"dataplane.exception", S},
    {"dataplane.exception_iface", S},
}};

}  // namespace

std::span<const ConfigKeyInfo> config_keys() {
    return kKeys;
}

ReloadPolicy reload_policy(std::string_view key) {
    for (const ConfigKeyInfo& k : kKeys)
        if (k.key == key) return k.policy;
    return ReloadPolicy::Reloadable;
}

std::vector<std::string> restart_only_changes(const GatewayConfig& running,
                                              const GatewayConfig& next) {
    std::vector<std::string> out;
    if (!(running.listen.tcp == next.listen.tcp)) out.emplace_back("listen.tcp");
    if (running.listen.udp != next.listen.udp) out.emplace_back("listen.udp");
    if (running.control_socket != next.control_socket) out.emplace_back("control_socket");
    if (running.control_socket_group != next.control_socket_group) out.emplace_back("control_socket_group");
    if (running.controlplane.workers != next.controlplane.workers)
        out.emplace_back("controlplane.workers");
    if (running.dataplane != next.dataplane) out.emplace_back("dataplane");
    return out;
}

}  // namespace rustun
