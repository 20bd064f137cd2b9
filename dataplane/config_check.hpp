// rustun-dataplane --check-config: validates the configuration and the EAL arguments the way a
// start would, without initialising EAL, touching hugepages or the NIC (docs/dataplane.md, the
// --check-config item of its first list). Every error on stderr ("rustun-dataplane: <file>: line L, column C:
// <key>: ..."), exit 1; or a summary and the warnings on stdout, exit 0.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace rustun::dp {

// The number of lcores EAL would get from `eal_args` (-l LIST, --lcores=MAP, -c MASK; the last
// one given counts), or nullopt when none is given (EAL then takes every CPU of the affinity
// mask) or the text is not understood.
std::optional<unsigned> eal_lcore_count(const std::vector<std::string>& eal_args);

// The check; `cli_eal` are the EAL arguments after `--` on the command line.
int check_config(const std::string& config_path, const std::vector<std::string>& cli_eal);

}  // namespace rustun::dp
