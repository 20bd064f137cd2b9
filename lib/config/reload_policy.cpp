#include "config/reload_policy.hpp"

namespace rustun {

namespace {

// A compared restart-only key: whether it differs, and how the running value is kept.
struct ComparedKey {
    std::string_view path;
    bool (*differs)(const GatewayConfig& running, const GatewayConfig& next);
    void (*keep)(GatewayConfig& next, const GatewayConfig& running);
};

// `field` is the key's member expression in GatewayConfig.
#define RUSTUN_COMPARED_KEY(path, field)                                                         \
    ComparedKey {                                                                                \
        path, [](const GatewayConfig& a, const GatewayConfig& b) { return !(a.field == b.field); }, \
            [](GatewayConfig& next, const GatewayConfig& running) { next.field = running.field; }  \
    }

// Every path is a restart-only row of the table (checked at compile time below); the config-keys
// test checks that every restart-only row is compared (restart_only_change_detected()).
constexpr ComparedKey kCompared[] = {
    RUSTUN_COMPARED_KEY("listen.tcp", listen.tcp),
    RUSTUN_COMPARED_KEY("listen.udp", listen.udp),
    RUSTUN_COMPARED_KEY("control_socket", control_socket),
    RUSTUN_COMPARED_KEY("control_socket_group", control_socket_group),
    RUSTUN_COMPARED_KEY("metrics", metrics_listen),
    RUSTUN_COMPARED_KEY("controlplane.workers", controlplane.workers),
    RUSTUN_COMPARED_KEY("dataplane", dataplane),
    RUSTUN_COMPARED_KEY("fleet", fleet),
};

#undef RUSTUN_COMPARED_KEY

consteval bool compared_keys_are_restart_only() {
    for (const ComparedKey& c : kCompared)
        if (config_key(c.path).policy != ReloadPolicy::RestartOnly) return false;
    return true;
}
static_assert(compared_keys_are_restart_only());

const ComparedKey* compared(std::string_view path) {
    for (const ComparedKey& c : kCompared)
        if (c.path == path) return &c;
    return nullptr;
}

}  // namespace

std::span<const ConfigKey> config_keys() {
    return kConfigKeys;
}

ReloadPolicy reload_policy(std::string_view key) {
    const ConfigKey* k = find_config_key(key);
    return k != nullptr ? k->policy : ReloadPolicy::Reloadable;
}

std::vector<std::string> restart_only_changes(const GatewayConfig& running,
                                              const GatewayConfig& next) {
    std::vector<std::string> out;
    for (const ConfigKey& k : kConfigKeys) {
        if (k.policy != ReloadPolicy::RestartOnly) continue;
        const ComparedKey* c = compared(k.path);
        if (c != nullptr && c->differs(running, next)) out.emplace_back(k.path);
    }
    return out;
}

void keep_restart_only_values(GatewayConfig& next, const GatewayConfig& running) {
    for (const ComparedKey& c : kCompared) c.keep(next, running);
}

bool restart_only_change_detected(std::string_view path) {
    if (compared(path) != nullptr) return true;
    // Through a section that holds it.
    for (std::string_view p = path; p.rfind('.') != std::string_view::npos;) {
        p = p.substr(0, p.rfind('.'));
        if (compared(p) != nullptr) return true;
    }
    // Through all the keys of its mapping.
    bool any = false;
    for (const ConfigKey& k : kConfigKeys) {
        if (k.parent() != path) continue;
        if (!restart_only_change_detected(k.path)) return false;
        any = true;
    }
    return any;
}

}  // namespace rustun
