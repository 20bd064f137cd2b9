// Loads the gateway's YAML configuration (docs/configuration.md) into a validated GatewayConfig.
//
// Errors (never exceptions, never a crash, whatever the input) are one line:
//   "<file>: line L, column C: <key path>: <what was expected>"
// e.g. `gw.yaml: line 12, column 21: clusters[0].clients[1].private_ip: expected an IPv4 address
// a.b.c.d ..., got "10.0.1.300"`. Unknown keys and keys given twice are errors. Only the first
// error is reported.
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "util/result.hpp"

namespace rustun {

// Reads and loads `path`; `clients_file` is resolved against the directory of `path`.
Result<GatewayConfig> load_config_file(const std::string& path);

// Loads YAML text. `pseudo_filename` names the text in errors and GatewayConfig::source_file, and
// its directory is the base of a relative `clients_file` (the current directory if it has none).
Result<GatewayConfig> load_config_string(std::string_view text, std::string_view pseudo_filename);

}  // namespace rustun
