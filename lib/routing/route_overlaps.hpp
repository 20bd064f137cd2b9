// Route overlaps between the clients of one cluster, for the configuration checker and the
// gateway's load/reload log (docs/configuration.md, "Routing"). Off the hot path; allocates.
//
// What lib/routing decides (route_table.hpp): the longest prefix wins; of two clients claiming
// the very same prefix the one listed first owns it. Each finding below is a place where that
// decision matters, said with both clients' identities, the prefixes and where each client was
// defined (ClientConfig::origin: file, line, column):
//  * Conflict: two clients claim the same prefix (a CIDR, or a CIDR /32 equal to another's
//    private_ip); the later one never receives traffic for it.
//  * Overlap: a client's prefix (a CIDR or its private_ip) lies inside another client's CIDR; the
//    more specific one receives that part. The reference server instead delivers to whichever
//    matching client connected first (docs/protocol.md, "Relay routing"), so such a configuration
//    routes differently there.
// Prefixes of one client never conflict with each other. Each prefix is reported against the
// innermost prefix of another client that contains it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace rustun {

struct RouteOverlapReport {
    std::vector<std::string> lines;  // one warning each, without a "warning: " prefix
    size_t total = 0;                // findings, including those beyond the limit
};

// Every finding of every cluster in config order, at most `limit` lines (total counts all).
RouteOverlapReport route_overlap_warnings(const GatewayConfig& cfg, size_t limit = SIZE_MAX);

}  // namespace rustun
