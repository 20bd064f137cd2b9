// The fleet registry's private model of etcd's fleet prefix (docs/fleet.md, "Design"): every
// gateway and client record as of the last listing and watch events, keyed by etcd key. Only the
// registry's thread touches it; it publishes immutable FleetSnapshots built from it (fleet_view.hpp).
//
// apply()/reset() report what changed for the peer lists: a remote client that appeared,
// changed its P2P endpoint or home, or vanished. Records homed on this gateway are kept (their
// mod_revision is what an ownership transaction compares) but never enter a snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "etcd/etcd_client.hpp"
#include "fleet_view.hpp"

namespace rustun::cp {

struct FleetChange {
    enum class Kind : uint8_t { Up, Moved, Down };
    Kind kind;
    RemoteClient client;  // the new record (Up, Moved) or the last one known (Down)
};

class FleetState {
public:
    FleetState(std::string prefix, std::string self_id);

    // Replaces everything with a full listing (first listing, resync after compaction).
    void reset(const etcd::RangeResult& listing, std::vector<FleetChange>& changes);
    // Applies watch events in revision order.
    void apply(const std::vector<etcd::WatchEvent>& events, std::vector<FleetChange>& changes);

    // The client record under `key` (any home), or null.
    const RemoteClient* client(const std::string& key) const {
        auto it = clients_.find(key);
        return it == clients_.end() ? nullptr : &it->second;
    }
    size_t remote_clients() const { return remote_; }
    int64_t revision() const { return revision_; }
    // Records that did not decode (each logged once, rate-limited, by the registry).
    uint64_t bad_records() const { return bad_records_; }
    std::string take_last_error() { return std::move(last_error_); }

    // An immutable snapshot of the remote part. Rebuilds the clusters whose records changed since
    // the last call (O(their records)) and shares the others with the previous snapshot; plus
    // O(clusters) for the cluster map.
    std::shared_ptr<const FleetSnapshot> build(bool stale, uint64_t stale_since);

private:
    // Applies one put or delete of `key`; appends the resulting change.
    void put(const etcd::KeyValue& kv, std::vector<FleetChange>& changes);
    void remove(const std::string& key, std::vector<FleetChange>& changes);
    bool is_remote(const RemoteClient& c) const { return c.home != self_id_; }
    // Keeps keys_by_cluster_ in step with clients_ and marks the clusters touched.
    void index_add(const std::string& cluster, const std::string& key);
    void index_remove(const std::string& cluster, const std::string& key);

    std::string gateways_prefix_, clients_prefix_, self_id_;
    std::map<std::string, FleetGateway> gateways_;  // etcd key -> record
    std::map<std::string, RemoteClient> clients_;   // etcd key -> record (every home)
    // Cluster name -> the etcd keys of its records in clients_ (every home).
    std::map<std::string, std::set<std::string>, std::less<>> keys_by_cluster_;
    std::set<std::string> dirty_clusters_;          // records changed since the last build()
    FleetClusterMap built_;                         // the last build's clusters (non-empty ones)
    size_t remote_ = 0;                              // clients_ with home != self
    int64_t revision_ = 0;
    uint64_t bad_records_ = 0;
    std::string last_error_;
};

}  // namespace rustun::cp
