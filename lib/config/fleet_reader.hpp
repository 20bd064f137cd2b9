// Reads the `fleet:` section of the gateway's YAML (docs/configuration.md, docs/fleet.md) into a
// FleetConfig. Internal to lib/config (yaml_loader.cpp calls it).
#pragma once

#include <chrono>
#include <string_view>

#include "config/config.hpp"
#include "config/yaml_reader.hpp"
#include "util/result.hpp"

namespace rustun::config_yaml {

// `e` is the `fleet` entry of the top-level mapping. Errors name the file, line, column and key.
Result<FleetConfig> read_fleet(const YamlReader& r, const Fields::Entry& e);

// A lease TTL: whole seconds "10s", "1m" or "10", within FleetConfig's bounds. The error says what
// was expected (without location).
Result<std::chrono::seconds> parse_lease_ttl(std::string_view text);

}  // namespace rustun::config_yaml
