// Which configuration keys a running gateway can apply on reload, and which need a restart: the
// policy column of the key table (config_keys.hpp, documented in docs/configuration.md).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/config_keys.hpp"

namespace rustun {

// Every key of the YAML file, in documentation order (the table of config_keys.hpp).
std::span<const ConfigKey> config_keys();

// Policy of `key` (exact key path from config_keys(), e.g. "listen.tcp"); Reloadable if unknown.
ReloadPolicy reload_policy(std::string_view key);

// Restart-only keys whose value differs between the running and the newly loaded configuration,
// e.g. {"listen.tcp", "controlplane.workers"}, in table order. Empty if a reload can apply
// everything; a reload should report these (they keep their running value until a restart).
// The `dataplane` section is compared whole and reported as "dataplane".
std::vector<std::string> restart_only_changes(const GatewayConfig& running,
                                              const GatewayConfig& next);

// Gives `next` the running value of every restart-only key: what a reload applies. (The
// `dataplane` section is kept whole; only rustun-dataplane reads it, at start.)
void keep_restart_only_values(GatewayConfig& next, const GatewayConfig& running);

// Whether restart_only_changes() compares the restart-only key `path`: itself, or through the
// section holding it ("dataplane.workers" through "dataplane"), or through all the keys of its
// mapping ("listen" through "listen.tcp" and "listen.udp"). True for every restart-only key of
// the table (checked by the config-keys test).
bool restart_only_change_detected(std::string_view path);

}  // namespace rustun
