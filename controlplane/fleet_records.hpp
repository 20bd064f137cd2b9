// The fleet's records in etcd (docs/fleet.md, "Key schema"): key names and JSON values of the
// gateway and client records. Pure functions; RapidJSON builds and parses the values.
//
//   <prefix>/gateways/<gateway id>           one per gateway, under that gateway's lease
//   <prefix>/clients/<cluster>/<identity>    one per online client, under its home's lease
//
// Key segments are escaped: '%' -> "%25", '/' -> "%2F" (a cluster name or identity may hold
// either); the value repeats every name verbatim, so a key is never parsed back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fleet_view.hpp"
#include "util/result.hpp"

namespace rustun::cp {

std::string fleet_key_segment(std::string_view s);
std::string fleet_gateways_prefix(std::string_view prefix);  // "<prefix>/gateways/"
std::string fleet_clients_prefix(std::string_view prefix);   // "<prefix>/clients/"
std::string fleet_gateway_key(std::string_view prefix, std::string_view gateway_id);
std::string fleet_client_key(std::string_view prefix, std::string_view cluster, std::string_view identity);

// {"id","tcp","udp","link","version","config_hash","clients","started_at","updated_at"}
std::string encode_gateway_record(const FleetGateway& g);
// Errors name the member ("gateway record: member 'id' missing or not a string").
Result<FleetGateway> decode_gateway_record(std::string_view json);

// {"cluster","identity","home","epoch","private_ip","ciders":[...],"dialect":"old"|"new",
//  "ipv6","port","stun_ip","stun_port","udp","updated_at"}
std::string encode_client_record(const RemoteClient& c);
Result<RemoteClient> decode_client_record(std::string_view json);

// Newest wins (docs/fleet.md, "One identity, one home"): a session is newer than another if its
// epoch (Unix µs of the Handshake) is larger, ties broken by the larger home gateway id.
inline bool fleet_session_newer(uint64_t epoch_a, std::string_view home_a, uint64_t epoch_b, std::string_view home_b) {
    return epoch_a != epoch_b ? epoch_a > epoch_b : home_a > home_b;
}

}  // namespace rustun::cp
