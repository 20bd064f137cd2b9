// The local view of the rest of the fleet (docs/fleet.md, "Design"): the gateways registered in
// etcd and the clients homed on them, as last seen through the watch of the fleet's prefix.
//
// One writer, many readers, RCU style (as SharedState::snapshot() publishes the membership):
//   * the fleet registry's thread (controlplane/fleet_registry.hpp) is the only writer; it
//     applies a batch of watch events to its private copy, builds a new immutable FleetSnapshot
//     and publishes it with one atomic store;
//   * readers (the TCP workers per Data batch or per reply, the fleet link, the control socket)
//     take FleetView::snapshot() once — an owning pointer, no lock — and read the immutable
//     snapshot as long as they hold it. Nothing is taken per frame; a reader never blocks the
//     writer nor another reader.
//
// A snapshot holds only *remote* clients: those whose record names another gateway as home.
// Clients homed here are the Membership's (SharedState); a record naming this gateway is not in
// the view. Strings are owned by the snapshot; pointers returned by lookups stay valid while the
// caller holds the snapshot's shared_ptr.
//
// Cost of a new snapshot (docs/fleet.md, "Snapshot cost"): the remote clients are grouped per
// cluster in immutable FleetClusters that consecutive snapshots share; a snapshot rebuilds only
// the clusters whose records changed since the last one, plus the cluster map itself (one pointer
// per cluster). A reconnect storm of 100,000 clients therefore costs per watch turn what the
// clusters it touched hold, not what the whole fleet holds.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/address.hpp"
#include "proto/dialect.hpp"

namespace rustun::cp {

// A gateway of the fleet: its record <prefix>/gateways/<id> (docs/fleet.md, "Key schema").
struct FleetGateway {
    std::string id;            // fleet.gateway_id, unique in the fleet
    std::string tcp_listen;    // "ip:port" clients connect to over TCP ("" if none)
    std::string udp_listen;    // "ip:port" of its UDP relay ("" without a dataplane)
    std::string link;          // "ip:port" of its inter-gateway link (fleet.link.listen; "" = none)
    bool udp_link = false;     // its dataplane takes link frames on udp_listen (docs/fleet.md, "UDP link through the dataplane")
    std::string version;       // its build's git description
    std::string config_hash;   // hash of its configuration (clusters, clients, keys), hex
    uint64_t clients = 0;      // its online clients, as it last wrote
    uint64_t started_at = 0;   // Unix seconds
    uint64_t updated_at = 0;   // Unix seconds of its last write of the record
    uint64_t last_seen = 0;    // Unix seconds at which our watch last saw its record (or a client of it) change
    int64_t lease = 0;         // its etcd lease id
    int64_t mod_revision = 0;  // etcd revision of the record
    bool self = false;         // this gateway's own record
};

// A client online on another gateway: its record <prefix>/clients/<cluster>/<identity>.
struct RemoteClient {
    std::string cluster;
    std::string identity;
    std::string home;              // gateway id of its home (the gateway holding its session)
    uint64_t epoch = 0;            // session epoch: Unix microseconds of the accepted Handshake; newest wins
    Ipv4Addr private_ip;
    std::vector<Ipv4Cidr> ciders;  // CIDRs behind it, as configured at its home
    Dialect dialect = Dialect::New;
    // The P2P endpoint it reported in its latest KeepAlive (docs/protocol.md): "" / 0 = unknown.
    std::string ipv6;
    uint16_t port = 0;
    std::string stun_ip;
    uint16_t stun_port = 0;
    std::string udp_endpoint;      // "ip:port" of its UDP relay binding at its home, "" if not bound
    uint64_t last_active = 0;      // Unix seconds of the record's last write (connect, endpoint change)
    int64_t mod_revision = 0;      // etcd revision of the record
};

// The remote clients of one cluster, immutable once built and shared by every snapshot until one
// of its records changes. Not copyable: the indexes point into `clients`.
struct FleetCluster {
    FleetCluster() = default;
    FleetCluster(const FleetCluster&) = delete;
    FleetCluster& operator=(const FleetCluster&) = delete;
    // Takes the records (any order), sorts them by identity and indexes them.
    static std::shared_ptr<const FleetCluster> build(std::vector<RemoteClient> clients);

    std::vector<RemoteClient> clients;                          // identity order
    std::unordered_map<std::string_view, uint32_t> by_identity;  // views of clients[i].identity
    std::unordered_map<uint32_t, uint32_t> by_ip;                // private IP (Ipv4Addr::value) -> index
};
using FleetClusterMap = std::map<std::string, std::shared_ptr<const FleetCluster>, std::less<>>;

// One immutable state of the view. Built by the registry thread, never changed once published.
class FleetSnapshot {
public:
    // Lookups: nullptr if the client is not online on another gateway (as far as the view knows).
    const RemoteClient* find(std::string_view cluster, std::string_view identity) const {
        const FleetCluster* c = cluster_of(cluster);
        if (c == nullptr) return nullptr;
        auto it = c->by_identity.find(identity);
        return it == c->by_identity.end() ? nullptr : &c->clients[it->second];
    }
    const RemoteClient* find_ip(std::string_view cluster, Ipv4Addr private_ip) const {
        const FleetCluster* c = cluster_of(cluster);
        if (c == nullptr) return nullptr;
        auto it = c->by_ip.find(private_ip.value);
        return it == c->by_ip.end() ? nullptr : &c->clients[it->second];
    }
    const FleetGateway* gateway(std::string_view id) const {
        for (const FleetGateway& g : gateways_)
            if (g.id == id) return &g;
        return nullptr;
    }
    // The registered gateway `c` is homed on, or null (not registered (yet)); its link address.
    const FleetGateway* home_gateway(const RemoteClient& c) const { return gateway(c.home); }
    std::string_view home_link(const RemoteClient& c) const {
        const FleetGateway* g = home_gateway(c);
        return g ? std::string_view(g->link) : std::string_view();
    }
    bool has_cluster(std::string_view cluster) const { return cluster_of(cluster) != nullptr; }
    // The remote clients of `cluster`, in identity order (none: f is not called).
    template <class F>
    void for_each_in_cluster(std::string_view cluster, F&& f) const {
        if (const FleetCluster* c = cluster_of(cluster))
            for (const RemoteClient& r : c->clients) f(r);
    }
    // Every remote client, by cluster name, then identity; stops when f returns false.
    template <class F>
    void for_each_client(F&& f) const {
        for (const auto& [name, c] : clusters_)
            for (const RemoteClient& r : c->clients)
                if (!f(r)) return;
    }
    size_t client_count() const { return client_count_; }  // every remote client
    const std::vector<FleetGateway>& gateways() const { return gateways_; }  // by id, ours included

    // True when the view could not be kept current for longer than the stale bound (docs/fleet.md,
    // "Failure": 3 x lease_ttl without etcd). Lookups still answer from the last known state.
    bool stale = false;
    uint64_t stale_since = 0;  // Unix seconds (0 = not stale)
    int64_t revision = 0;      // etcd revision the snapshot reflects
    uint64_t built_at = 0;     // Unix seconds

    // For the writer (fleet_state.cpp): the gateways, and the clusters (shared with the previous
    // snapshot where they did not change; none of them empty).
    static std::shared_ptr<const FleetSnapshot> build(std::vector<FleetGateway> gateways, FleetClusterMap clusters,
                                                      int64_t revision, bool stale, uint64_t stale_since);

private:
    const FleetCluster* cluster_of(std::string_view cluster) const {
        auto it = clusters_.find(cluster);
        return it == clusters_.end() ? nullptr : it->second.get();
    }
    std::vector<FleetGateway> gateways_;
    FleetClusterMap clusters_;
    size_t client_count_ = 0;
};

// Told by the threads that change a local client's session — Handshake accepted, connection
// closed, P2P endpoint or UDP binding changed — so that the registry re-publishes its record.
// Implemented by FleetRegistry; must not block (it queues the identity and wakes its thread).
class FleetNotify {
public:
    virtual ~FleetNotify() = default;
    virtual void client_changed(std::string_view identity) = 0;
};

// The published view. Without `fleet:` it stays empty (never stale) and costs one atomic load.
class FleetView {
public:
    FleetView() : snap_(FleetSnapshot::build({}, FleetClusterMap{}, 0, false, 0)), id_(next_id()) {}
    // Unique per FleetView of the process (never reused, unlike its address): a reader caching
    // a snapshot keys it by (id, version).
    uint64_t id() const { return id_; }
    // The current snapshot: any thread, no lock; hold it for as long as its pointers are used.
    std::shared_ptr<const FleetSnapshot> snapshot() const { return snap_.load(std::memory_order_acquire); }
    // Bumped by every publish: a reader that caches derived data can tell it is outdated.
    uint64_t version() const { return version_.load(std::memory_order_acquire); }
    // The writer (the registry thread only).
    void publish(std::shared_ptr<const FleetSnapshot> s) {
        snap_.store(std::move(s), std::memory_order_release);
        version_.fetch_add(1, std::memory_order_acq_rel);
    }

private:
    static uint64_t next_id() {
        static std::atomic<uint64_t> next{0};
        return next.fetch_add(1, std::memory_order_relaxed) + 1;
    }
    std::atomic<std::shared_ptr<const FleetSnapshot>> snap_;
    std::atomic<uint64_t> version_{0};
    const uint64_t id_;
};

}  // namespace rustun::cp
