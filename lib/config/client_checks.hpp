// Validation shared by the YAML loader and the routes.json importer: one field's text to a typed
// value (with a located error), and the cross-client uniqueness rules.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/source_ref.hpp"
#include "util/result.hpp"

namespace rustun {

// A client with the places its key fields were read from (for errors naming both duplicates).
struct LocatedClient {
    std::string cluster;
    ClientConfig client;
    SourceRef cluster_at;
    SourceRef identity_at;
    SourceRef private_ip_at;
};

// Each returns the typed value, or an error "<at>: expected ..., got "<text>"".
Result<Ipv4Addr> check_ipv4_field(std::string_view text, const SourceRef& at);
Result<Ipv4Addr> check_netmask_field(std::string_view text, const SourceRef& at);
Result<Ipv4Cidr> check_cidr_field(std::string_view text, const SourceRef& at);
Result<CipherSpec> check_crypto_field(std::string_view text, const SourceRef& at);
// Identities and cluster names: non-empty (any other UTF-8 text is allowed, as the reference).
Status check_nonempty_field(std::string_view text, const SourceRef& at);

// Identities unique across all clients; private_ip unique within each cluster. The error is
// reported at the later client and names the earlier one's location.
Status check_unique_clients(std::span<const LocatedClient> clients);

}  // namespace rustun
