// The fleet's control-socket answers (docs/controlplane.md, "Control socket"; docs/fleet.md):
// `gateways` and the `remote` part of `clients --all`, written from a FleetSnapshot (no lock).
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>

#include "fleet_registry.hpp"
#include "fleet_view.hpp"

namespace rustun::cp {

// {"gateway": our id, "etcd": {...FleetStatus}, "gateways": [{id, tcp, udp, link, version,
//  config_hash, config_differs, clients, started_at, updated_at, last_seen, self}], "config_hashes": N}
void write_fleet_gateways(rapidjson::Writer<rapidjson::StringBuffer>& w, const FleetSnapshot& s,
                          const FleetStatus& st, const std::string& self_id, const std::string& self_hash);
// "remote": [{identity, cluster, home, home_link, epoch, private_ip, ciders, dialect, ipv6, port,
//  stun_ip, stun_port, udp_endpoint, last_active}], "remote_stale": bool. At most `limit` rows.
void write_remote_clients(rapidjson::Writer<rapidjson::StringBuffer>& w, const FleetSnapshot& s,
                          const std::string& cluster_filter, uint64_t limit);

}  // namespace rustun::cp
