// Merges the clusters imported from `clients_file` with the clusters defined inline in the YAML
// file, and applies the cross-client rules (check_unique_clients).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/client_checks.hpp"
#include "config/config.hpp"

namespace rustun {

// One `clusters[i]` element of the YAML file.
struct InlineCluster {
    std::string name;
    SourceRef name_at;
    std::optional<CipherSpec> crypto;  // the cluster's own `crypto`, if given
    std::vector<LocatedClient> clients;
};

// Result order: clusters of `imported` in order of first appearance, then inline clusters not
// present there, in YAML order. A cluster named in both gets the imported clients first, then the
// inline ones, and the inline crypto override. Every cluster without an override gets
// `default_crypto`. Errors: two inline clusters with one name; any check_unique_clients() error.
Result<std::vector<ClusterConfig>> merge_clusters(std::vector<LocatedClient> imported,
                                                  std::vector<InlineCluster> inline_clusters,
                                                  const CipherSpec& default_crypto);

}  // namespace rustun
