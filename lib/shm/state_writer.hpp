// The one writer of the control protocol (docs/shm-channel.md "Messages", "Semantics"): the
// control plane's full sync and every stand-in control plane (the smoke driver, the load
// generator's `--bind shm`, the functional runner) build ClusterSet, ClientSet, EndpointSet,
// ClientRemove, EndpointClear, Commit and the SyncBegin/SyncEnd pair here, so that the bytes on
// the control ring have one definition. Encoding only: where the messages go (a control ring
// with a waiting policy, control_push.hpp, or a test's vector) is the PushFn's business.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shm/channel_layout.hpp"

namespace rustun::shm {

// Pushes one message (header type + `len` body bytes) onto the control ring; false if it could
// not (ring full past the caller's patience, or told to stop). Every later push is then skipped.
using PushFn = std::function<bool(MsgType type, const void* body, uint32_t len)>;

// One cluster's cipher: `method` a CipherMethod, `key` its derived key (empty for plain).
struct ClusterState {
    uint32_t id = 0;
    uint8_t method = 0;
    std::vector<uint8_t> key;  // at most ClusterSetMsg::kMaxKey bytes are sent (the caller logs more)
    std::string name;          // "" = none (only the fleet's link frames need it); at most 255 bytes sent
};

// One client: its ids in the current cp_epoch, private IP and CIDRs (host byte order). Any number
// of CIDRs: above ClientSetMsg::kMaxCidrs they continue in kClientSetAppendCidrs messages.
struct ClientState {
    uint32_t id = 0;
    uint32_t cluster_id = 0;
    uint32_t private_ip = 0;
    std::vector<Cidr> cidrs;
};

// One UDP binding. `live` (kEndpointLive) only means something inside a sync; `replay_floor`
// set = the client opted into Data replay protection (kEndpointReplay), whose floor the
// dataplane takes as (replay_floor >> 32) << 32, at least 1.
struct EndpointState {
    uint32_t client_id = 0;
    Endpoint endpoint{};
    bool live = false;
    std::optional<uint64_t> replay_floor;
};

// The fleet's UDP link within a sync (docs/fleet.md, "UDP link through the dataplane").
struct FleetLinkState {
    uint8_t method = 0;  // CipherMethod of the fleet key (0: none)
    std::array<uint8_t, 32> key{};
    std::string sender;  // our gateway id
    struct Peer {
        uint16_t slot = 0;
        std::string name;
        Endpoint endpoint{};
    };
    std::vector<Peer> peers;
    std::vector<std::pair<uint32_t, uint16_t>> remote;  // client id -> slot
};

// Everything one full sync carries.
struct FullState {
    uint64_t cp_epoch = 0;
    std::vector<ClusterState> clusters;
    std::vector<ClientState> clients;
    std::vector<EndpointState> endpoints;
    std::optional<FleetLinkState> fleet;
};

// The message bodies, exactly as pushed (also what the unit tests compare).
// A ClusterSet body; `key` may be null with key_len 0 (plain). Returns the body length to send
// (the fixed part + key bytes, or up to the name's end with a name); keys above kMaxKey and names
// above kMaxName are cut (the caller logs).
uint32_t make_cluster_set(ClusterSetMsg& m, uint32_t cluster_id, uint8_t method, const uint8_t* key, size_t key_len,
                          std::string_view name = {});
EndpointSetMsg make_endpoint_set(const EndpointState& e);
// The ClientSet body number `part` of a client (0: the client with its first kMaxCidrs CIDRs;
// k > 0: the kClientSetAppendCidrs continuation with CIDRs [k·kMaxCidrs, (k+1)·kMaxCidrs)).
// Returns the body length to send. A client has client_set_parts(cidrs) of them.
uint32_t make_client_set(ClientSetMsg& m, uint32_t id, uint32_t cluster_id, uint32_t private_ip,
                         std::span<const Cidr> cidrs, size_t part);
inline size_t client_set_parts(size_t cidrs) {
    return cidrs <= ClientSetMsg::kMaxCidrs ? 1 : (cidrs + ClientSetMsg::kMaxCidrs - 1) / ClientSetMsg::kMaxCidrs;
}

class StateWriter {
public:
    explicit StateWriter(PushFn push) : push_(std::move(push)) {}

    // SyncBegin, a ClusterSet per cluster, ClientSet(s) per client, an EndpointSet per binding,
    // SyncEnd: the dataplane switches to this state at SyncEnd (docs/shm-channel.md). For the
    // stand-ins' small states; rustun-controlplane streams its sync from its membership with
    // the calls below instead (no FullState of a million clients).
    bool full_sync(const FullState& s);

    bool sync_begin(uint64_t cp_epoch, uint32_t clusters, uint32_t clients);
    bool sync_end(uint64_t cp_epoch, uint32_t clusters, uint32_t clients);
    bool cluster_set(uint32_t id, uint8_t method, std::span<const uint8_t> key, std::string_view name = {});
    // The fleet's UDP link (docs/fleet.md): the key (method 0 = none) and our gateway id; a
    // member's dataplane address in peer slot `peer` (empty name: the slot is emptied); where a
    // client is online (kNoLinkPeer: not on a member we reach over UDP). FleetLinkSet and
    // LinkPeerSet take effect at Commit (or the sync's SyncEnd), RemoteHomeSet at once.
    bool fleet_link_set(uint8_t method, std::span<const uint8_t, 32> key, std::string_view sender);
    bool link_peer_set(uint16_t peer, std::string_view name, const Endpoint& endpoint);
    bool remote_home_set(uint32_t client_id, uint16_t peer);
    bool client_set(const ClientState& c) { return client_set(c.id, c.cluster_id, c.private_ip, c.cidrs); }
    // The same from its fields: each message is built in one reused buffer and pushed at once, so
    // a sync of N clients streams them without allocating anything per client.
    bool client_set(uint32_t id, uint32_t cluster_id, uint32_t private_ip, std::span<const Cidr> cidrs);
    bool endpoint_set(const EndpointState& e);
    // Incremental changes (outside a sync; ClientSet/ClientRemove take effect at Commit).
    bool client_remove(uint32_t client_id);
    bool endpoint_clear(uint32_t client_id);
    bool commit();
    // Any bytes, for tests that play a control plane gone wrong.
    bool raw(MsgType type, const void* body, uint32_t len) { return push(type, body, len); }

    // Messages pushed so far (a full sync counts each ClientSet continuation).
    uint64_t pushed() const { return pushed_; }

private:
    bool push(MsgType type, const void* body, uint32_t len);

    PushFn push_;
    ClientSetMsg client_msg_;  // reused by client_set(): one message at a time
    bool failed_ = false;
    uint64_t pushed_ = 0;
};

}  // namespace rustun::shm
