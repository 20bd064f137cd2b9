// Builds the route table of a loaded configuration.
#pragma once

#include <vector>

#include "config/config.hpp"
#include "routing/route_table.hpp"

namespace rustun {

// ClusterId = index in cfg.clusters; ClientId = position in the concatenation of every
// cluster's clients in cfg order (cluster 0's clients first). Conflicts are appended if wanted.
RouteTable build_route_table(const GatewayConfig& cfg,
                             std::vector<RouteConflict>* conflicts = nullptr);

}  // namespace rustun
