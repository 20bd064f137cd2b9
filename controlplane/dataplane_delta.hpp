// What the dataplane is told about the configured state (docs/controlplane.md, "The dataplane
// link"; docs/shm-channel.md, "Messages"): the clusters and clients of a membership generation,
// streamed from it message by message (a full sync builds nothing per client), and after a
// reload only what changed (ClusterSet, ClientSet, ClientRemove, EndpointClear, then Commit).
//
// Everything here reads the configured part of a Membership only (immutable once built), so it
// runs without the state mutex; the runtime part (UDP bindings) is the link's business.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "membership.hpp"
#include "shm/state_writer.hpp"

namespace rustun::cp {

// Gives `m` dense dataplane ids (the ClientId/ClusterId themselves): Membership::build, and a
// reload whose carried numbering has grown too sparse (then a full sync follows).
void number_densely(Membership& m);

// What a reload changes in the dataplane's state.
struct StateDelta {
    bool full = false;                    // the numbering was compacted: push a full sync instead
    std::vector<ClusterId> cluster_sets;  // (new membership) clusters that are new or re-keyed
    std::vector<ClientId> client_sets;    // (new membership) new, or address/CIDRs/cluster changed
    std::vector<uint32_t> removes;        // dataplane ids of clients no longer configured
    std::vector<uint32_t> endpoint_clears;  // dataplane ids of re-keyed clients (must bind again)
    bool empty() const { return !full && cluster_sets.empty() && client_sets.empty() && removes.empty() &&
                                endpoint_clears.empty(); }
    // Messages push_delta() sends (a client with more than 250 CIDRs counts as one).
    size_t messages() const {
        return empty() ? 0 : cluster_sets.size() + client_sets.size() + removes.size() + endpoint_clears.size() + 1;
    }
};

// Gives `fresh` the dataplane ids of `old`: a client keeps its id when its identity stays
// (old_of_new[nid] = its ClientId in `old`, else kNoClient), a cluster when its name stays;
// new ones get ids never used in the numbering. `rekeyed[nid]`: the client's cluster key or
// cluster changed (its UDP binding is void). Returns what the dataplane must be told, or
// full = true (dense numbering) when the ids would grow beyond twice the configured count.
StateDelta carry_dataplane_ids(const Membership& old, Membership& fresh, std::span<const ClientId> old_of_new,
                               const std::vector<bool>& rekeyed);

// One cluster's ClusterSet / one client's ClientSet(s), by their ids in `m`, in dataplane ids.
// `cidrs` is the caller's scratch (reused: no allocation per client once it has grown).
bool push_cluster(shm::StateWriter& w, const Membership& m, ClusterId c);
bool push_client(shm::StateWriter& w, const Membership& m, ClientId c, std::vector<shm::Cidr>& cidrs);

// Every cluster, then every client of `m`, one message at a time (the body of a full sync).
bool push_configured(shm::StateWriter& w, const Membership& m);

// The delta's messages, then Commit (nothing at all for an empty delta).
bool push_delta(shm::StateWriter& w, const Membership& fresh, const StateDelta& d);

}  // namespace rustun::cp
