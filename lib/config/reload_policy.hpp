// Which configuration keys a running gateway can apply on reload, and which need a restart
// (the same table as docs/configuration.md).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace rustun {

enum class ReloadPolicy : uint8_t {
    Reloadable,   // applied by a reload (new clients/clusters/keys/timers take effect)
    RestartOnly,  // read at start-up only; a reload that changes it keeps the running value
};

struct ConfigKeyInfo {
    std::string_view key;  // key path; "clusters[].clients[].*" stands for every element
    ReloadPolicy policy;
};

// Every key of the YAML file, in documentation order.
std::span<const ConfigKeyInfo> config_keys();

// Policy of `key` (exact key path from config_keys(), e.g. "listen.tcp"); Reloadable if unknown.
ReloadPolicy reload_policy(std::string_view key);

// Restart-only keys whose value differs between the running and the newly loaded configuration,
// e.g. {"listen.tcp", "controlplane.workers"}. Empty if a reload can apply everything; a reload
// should report these (they keep their running value until a restart).
std::vector<std::string> restart_only_changes(const GatewayConfig& running,
                                              const GatewayConfig& next);

}  // namespace rustun
