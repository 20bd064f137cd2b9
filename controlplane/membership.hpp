// Who is configured and who is online: the control plane's membership state.
//
// Built from a GatewayConfig (clusters, clients, keys, route table). Its runtime part (rt, udp)
// is guarded by the state mutex (SharedState); its configured part never changes after build().
// A reload builds a new Membership and carries the runtime state of every identity that stays
// over to it (Gateway::carry_over). ClusterId/ClientId are the route table's dense ids
// (cluster order of the configuration; clients of cluster 0 first).
//
// This is also the state that the dataplane will receive: per client its cluster, key, private
// IP/CIDRs and endpoints; nothing in it points into another process.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth_keys.hpp"
#include "config/config.hpp"
#include "connection.hpp"
#include "crypto/cipher_key.hpp"
#include "fleet_view.hpp"
#include "proto/constants.hpp"
#include "proto/messages.hpp"
#include "routing/route_table.hpp"
#include "shm/channel_layout.hpp"

namespace rustun::cp {

// Counters of one identity; shared_ptr so they survive reconnects and reloads.
struct ClientStats {
    std::atomic<uint64_t> rx_frames{0}, rx_bytes{0};  // frames received from the client
    std::atomic<uint64_t> tx_frames{0}, tx_bytes{0};  // frames queued to the client
    std::atomic<uint64_t> drops{0};  // frames from or to this client that were dropped
};

// Per-connection state of an online client; reset when it goes offline.
struct ClientRuntime {
    RelayPtr<Connection> conn;   // null = offline; the TCP relay loads it without the mutex
    Dialect dialect = Dialect::New;
    std::string handshake_ipv6;  // old dialect: echoed in the HandshakeReply `ipv6`
    // From the client's latest KeepAlive on its current connection (docs/protocol.md, "KeepAlive handling").
    std::string ipv6;
    uint16_t port = 0;
    std::string stun_ip;
    uint16_t stun_port = 0;
    uint64_t last_active = 0;      // Unix seconds: handshake or latest KeepAlive; 0 = offline
    uint64_t connected_since = 0;  // Unix seconds
    // Session epoch (docs/fleet.md, "One identity, one home"): Unix microseconds of the accepted
    // Handshake; of two sessions of an identity on two gateways the newer one stays.
    uint64_t epoch_us = 0;
};

// The client's UDP relay binding (docs/protocol-extensions.md): set by an authenticated UDP
// KeepAlive whose `seq` is above the last accepted one. Independent of the TCP connection.
// `bound`, `endpoint` and `last_rx` are what the TCP relay reads without the state mutex.
struct UdpBinding {
    RelayValue<bool> bound{false};
    RelaySeq<shm::Endpoint> endpoint;
    uint64_t last_seq = 0;  // highest accepted KeepAlive seq (Unix microseconds)
    RelayValue<SteadyTime> last_rx{SteadyTime{}};  // last accepted UDP KeepAlive
    // Data replay protection: 0 = not opted in, else the counter floor the client declared.
    uint64_t replay_floor = 0;
    SteadyTime reply_tat{};  // rate limit of UDP KeepAlive replies to this identity (GCRA)
    // Live: a KeepAlive within 15 s (the P2P validity window, docs/protocol.md, "P2P in the old generation").
    bool live(SteadyTime now) const { return bound.load() && now - last_rx.load() < kValidityWindow; }
};

struct ClientEntry {
    ClientConfig cfg;
    UdpBinding udp;
    ClusterId cluster = 0;
    ClientRuntime rt;
    std::shared_ptr<ClientStats> stats = std::make_shared<ClientStats>();
};

struct ClusterEntry {
    std::string name;
    std::shared_ptr<const CipherKey> key;
    ClientId first = 0;  // clients of the cluster: [first, first + count)
    uint32_t count = 0;
};

// The ids the dataplane knows this generation's clients and clusters by (docs/shm-channel.md,
// "Semantics (what the dataplane does)"). Unlike ClientId/ClusterId (dense route-table ids, renumbered by every reload) they stay
// the same for an identity (a cluster name) across reloads, so that a reload reaches the
// dataplane as a delta (controlplane/dataplane_delta.hpp); a new client or cluster gets an id
// never used before in the numbering, so a message in flight can never name another client.
// Part of the configured part: set before the generation is installed, never changed after.
struct DataplaneIds {
    std::vector<uint32_t> client;     // ClientId -> dataplane client id
    std::vector<uint32_t> cluster;    // ClusterId -> dataplane cluster id
    std::vector<ClientId> client_of;  // dataplane client id -> ClientId (kNoClient: none here)
    uint32_t next_cluster = 0;        // cluster ids handed out in this numbering
    ClientId to_client(uint32_t dp_id) const { return dp_id < client_of.size() ? client_of[dp_id] : kNoClient; }
};

class Membership {
public:
    // Creates one CipherKey per distinct cipher spec (clusters sharing a spec share the key).
    static Result<std::unique_ptr<Membership>> build(const GatewayConfig& cfg);

    std::vector<ClusterEntry> clusters;
    std::vector<ClientEntry> clients;
    RouteTable routes;
    // Distinct keys in trial-decryption order: AEADs first (their tag decides), then XOR, then
    // plain (these "decrypt" anything; the JSON and the identity decide).
    std::vector<std::shared_ptr<const CipherKey>> trial_keys;
    // build(): dense (the ClientId/ClusterId themselves); a reload carries them over by identity.
    DataplaneIds dp;
    uint64_t generation = 0;  // +1 per reload: orders the deltas pushed to the dataplane
    // trial_keys indexed for hinted trials (auth_keys.hpp): raw pointers, cluster -> key, tags.
    AuthKeys auth;

    ClientId find(std::string_view identity) const;
    // The client `identity` names if `key` is its own cluster's key (compared by value: clusters
    // may share one), else kNoClient. The rule of trial_authenticate().
    ClientId client_for(std::string_view identity, const CipherKey& key) const;
    size_t online_count() const;

    // Applies an authenticated KeepAlive (over TCP or UDP) to `self`: its addresses from the body
    // (the identity is the caller's, never the body's), last_active = now. Returns true if its
    // (ipv6, port) changed: the caller then tells the old-dialect peers
    // (FrameSender::peer_update; docs/protocol.md, "Peer-address propagation").
    bool apply_keepalive(ClientId self, const KeepAlive& ka);
    // Calls f(id) for every online old-dialect client of `self`'s cluster other than `self`.
    template <class F>
    void for_each_old_dialect_peer(ClientId self, F&& f) const {
        const ClusterEntry& cl = clusters[clients[self].cluster];
        for (ClientId id = cl.first; id < cl.first + cl.count; ++id)
            if (id != self && clients[id].rt.conn && clients[id].rt.dialect == Dialect::Old) f(id);
    }

    // The peer list of `self` (docs/protocol.md, "HandshakeReply": peer_details/others): every other configured client of
    // its cluster, online ones first, each group in configuration order, at most `cap` entries.
    // `capped` tells whether entries were left out. With `fleet` (docs/fleet.md, "Peer lists"), a
    // peer offline here but online on another gateway counts as online, with the P2P endpoint its
    // home published, and remote clients of the cluster this gateway does not have configured
    // follow the online ones (a configuration that differs between gateways).
    void peers_of(ClientId self, uint32_t cap, std::vector<PeerDetail>& out, bool& capped,
                  const FleetSnapshot* fleet = nullptr) const;

private:
    std::unordered_map<std::string, ClientId> by_identity_;
};

// Groups of cluster names (configuration order) that share one cipher key, each of two clusters
// or more. Sharing is allowed (the reference has one key for all clusters): a client's identity
// alone decides its cluster. But a client of one cluster of a group can read and forge the frames
// of the others, so --check-config and the start-up log warn about it.
std::vector<std::vector<std::string>> clusters_sharing_a_key(const GatewayConfig& cfg);
// One line per group: "clusters 'a', 'b' share one key (chacha20): ..." (never the key itself).
std::vector<std::string> shared_key_warnings(const GatewayConfig& cfg);

// Clears the runtime of an identity going offline.
void reset_runtime(ClientRuntime& rt);


}  // namespace rustun::cp
