// Validation shared by the YAML loader and the routes.json importer: one field's text to a typed
// value (with a located error), and the cross-client uniqueness rules.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/source_ref.hpp"
#include "util/result.hpp"

namespace rustun {

// A line and column (1-based; 0 = not known) without the file and key path strings.
struct TextPos {
    uint32_t line = 0;
    uint32_t column = 0;
};

// A client with the places its key fields were read from (for errors naming both duplicates).
// The locations are kept as positions and indices, and turned into SourceRefs (strings) only for
// an error message: a million clients cost no allocation for their locations.
struct LocatedClient {
    static constexpr uint32_t kRoutesJson = UINT32_MAX;  // `yaml_cluster` of a routes.json entry

    std::string cluster;
    ClientConfig client;
    std::shared_ptr<const std::string> file;  // the file the client was read from
    // routes.json: kRoutesJson, the entry's path is "[index]", the cluster's "[index].cluster";
    // YAML: the cluster's index c, the entry's path is "clusters[c].clients[index]", the
    // cluster's "clusters[c].name".
    uint32_t yaml_cluster = kRoutesJson;
    uint32_t index = 0;
    TextPos cluster_pos;
    TextPos identity_pos;
    TextPos private_ip_pos;

    std::string entry_path() const;  // "[3]" or "clusters[0].clients[3]"
    SourceRef cluster_at() const;
    SourceRef identity_at() const;
    SourceRef private_ip_at() const;
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
