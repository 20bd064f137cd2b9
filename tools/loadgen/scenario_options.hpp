// The scenario options shared by rustun-loadgen and rustun-pcapgen (one table, one check):
// --clients, --clusters, --cipher, --size, --gw-ip, --gw-port, --gw-mac (lib/util/cli.hpp).
#pragma once

#include <vector>

#include "scenario.hpp"
#include "util/cli.hpp"
#include "util/result.hpp"

namespace rustun::loadgen {

// Appended to a tool's own option table.
const std::vector<cli::Option>& scenario_cli_options();

// The given scenario options into `so` (absent ones keep their value); the error names the option.
Status apply_scenario_options(const cli::Parsed& args, ScenarioOptions& so);

}  // namespace rustun::loadgen
