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
#pragma once

#include <atomic>
#include <cstdint>
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
    const FleetGateway* home_gw = nullptr;  // that gateway's record in the same snapshot, or null (not registered (yet))
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

    // The link address of its home gateway ("" if the home is not registered).
    std::string_view link() const { return home_gw ? std::string_view(home_gw->link) : std::string_view(); }
};

// One immutable state of the view. Built by the registry thread, never changed once published.
class FleetSnapshot {
public:
    // Lookups: nullptr if the client is not online on another gateway (as far as the view knows).
    const RemoteClient* find(std::string_view cluster, std::string_view identity) const {
        auto it = by_identity_.find(key(cluster, identity));
        return it == by_identity_.end() ? nullptr : &clients_[it->second];
    }
    const RemoteClient* find_ip(std::string_view cluster, Ipv4Addr private_ip) const {
        auto it = by_ip_.find(key(cluster, std::string_view(reinterpret_cast<const char*>(&private_ip.value), 4)));
        return it == by_ip_.end() ? nullptr : &clients_[it->second];
    }
    const FleetGateway* gateway(std::string_view id) const {
        for (const FleetGateway& g : gateways_)
            if (g.id == id) return &g;
        return nullptr;
    }
    bool has_cluster(std::string_view cluster) const { return by_cluster_.count(std::string(cluster)) != 0; }
    // The remote clients of `cluster`, in identity order (none: f is not called).
    template <class F>
    void for_each_in_cluster(std::string_view cluster, F&& f) const {
        auto it = by_cluster_.find(std::string(cluster));
        if (it == by_cluster_.end()) return;
        for (uint32_t i : it->second) f(clients_[i]);
    }
    const std::vector<RemoteClient>& clients() const { return clients_; }  // every remote client
    const std::vector<FleetGateway>& gateways() const { return gateways_; }  // by id, ours included

    // True when the view could not be kept current for longer than the stale bound (docs/fleet.md,
    // "Failure": 3 x lease_ttl without etcd). Lookups still answer from the last known state.
    bool stale = false;
    uint64_t stale_since = 0;  // Unix seconds (0 = not stale)
    int64_t revision = 0;      // etcd revision the snapshot reflects
    uint64_t built_at = 0;     // Unix seconds

    // For the writer (fleet_view.cpp): takes the records, indexes them, resolves home_gw.
    static std::shared_ptr<const FleetSnapshot> build(std::vector<FleetGateway> gateways,
                                                      std::vector<RemoteClient> clients, int64_t revision,
                                                      bool stale, uint64_t stale_since);

private:
    static std::string key(std::string_view cluster, std::string_view second) {
        std::string k;
        k.reserve(cluster.size() + 1 + second.size());
        k.append(cluster).push_back('\0');
        k.append(second);
        return k;
    }
    std::vector<FleetGateway> gateways_;
    std::vector<RemoteClient> clients_;
    std::unordered_map<std::string, uint32_t> by_identity_;  // cluster \0 identity -> index
    std::unordered_map<std::string, uint32_t> by_ip_;        // cluster \0 4 bytes of the IP -> index
    std::unordered_map<std::string, std::vector<uint32_t>> by_cluster_;
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
    FleetView() : snap_(FleetSnapshot::build({}, {}, 0, false, 0)) {}
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
    std::atomic<std::shared_ptr<const FleetSnapshot>> snap_;
    std::atomic<uint64_t> version_{0};
};

}  // namespace rustun::cp
