// Loads the gateway's YAML configuration (docs/configuration.md) into a validated GatewayConfig.
//
// Errors (never exceptions, never a crash, whatever the input) are one line:
//   "<file>: line L, column C: <key path>: <what was expected>"
// e.g. `gw.yaml: line 12, column 21: clusters[0].clients[1].private_ip: expected an IPv4 address
// a.b.c.d ..., got "10.0.1.300"`. Unknown keys and keys given twice are errors. A load reports
// the first error; a check (check_config_*) reports every error, and warnings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "util/result.hpp"

namespace rustun {

// What a load reads. Settings: everything but the clients (`clients_file` is neither read nor
// checked, `clusters` is left empty and unchecked): for rustun-dataplane, which receives the
// clients from the control plane and would otherwise hold a second copy of a million of them.
enum class ConfigScope : uint8_t { Everything, Settings };

// Reads and loads `path`; `clients_file` is resolved against the directory of `path`.
Result<GatewayConfig> load_config_file(const std::string& path, ConfigScope scope = ConfigScope::Everything);

// Loads YAML text. `pseudo_filename` names the text in errors and GatewayConfig::source_file, and
// its directory is the base of a relative `clients_file` (the current directory if it has none).
Result<GatewayConfig> load_config_string(std::string_view text, std::string_view pseudo_filename,
                                         ConfigScope scope = ConfigScope::Everything);

// Everything a configuration checker says about one file, in the order the loader meets it (a
// mapping's unknown or repeated keys first, then its values in table order).
struct ConfigCheck {
    // Every error, each in the format above; the first is the one load_config_*() reports.
    // Granularity: each key of the top level and of the controlplane and dataplane sections, each
    // cluster (name, crypto) and each client entry (its first error); then the first error of the
    // checks across clients (duplicate identities or addresses).
    std::vector<std::string> errors;
    // Located warnings about values that load but are weak: `plain` and `xor` ciphers, empty
    // keys ("<file>: line L, column C: <key path>: warning text").
    std::vector<std::string> warnings;
    std::optional<GatewayConfig> config;  // the loaded configuration; set iff `errors` is empty
};

ConfigCheck check_config_file(const std::string& path);
ConfigCheck check_config_string(std::string_view text, std::string_view pseudo_filename);

}  // namespace rustun
