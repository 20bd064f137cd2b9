// The dataplane's forwarding state and how it changes while workers run (docs/dataplane.md).
//
// A Generation is everything a worker needs for one burst: the route table, one CipherKey per
// cluster, one ClientLive record per client and the endpoint -> client session table. Workers
// load the current generation pointer once per burst and publish the id they loaded
// (`QuiescentIds`); the main lcore builds a new generation for SyncEnd and Commit, flips the
// pointer and frees the old one once every worker has published a newer id.
//
// Cheap in-place updates (no new generation): EndpointSet/EndpointClear change the current
// generation's session table (per-slot seqlock, session_table.hpp) and the client's endpoint
// (per-client seqlock); workers write only `mac` and `last_rx_tsc` of the client they received
// from (relaxed stores; a lost race costs one refresh).
//
// StateManager is used by the main lcore only and does no DPDK calls (unit-tested without a NIC).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/cipher_key.hpp"
#include "fleet/link_auth.hpp"
#include "routing/route_table.hpp"
#include "util/replay_bitmap.hpp"
#include "session_table.hpp"
#include "shm/channel_layout.hpp"
#include "util/seqlock.hpp"

namespace rustun::dp {

// Per-client record, one cache line. Immutable fields are set before the generation is published.
struct alignas(64) ClientLive {
    Seqlock ep_lock;                  // over ep[] (writer: the main lcore)
    std::atomic<uint32_t> ep[5]{};    // EndpointKey words; family byte 0 = no endpoint
    // Written by workers through a const Generation (hence mutable): relaxed stores, one value each.
    mutable std::atomic<uint64_t> mac{0};          // next-hop MAC of the endpoint, bit 48 set when known
    mutable std::atomic<uint64_t> last_rx_tsc{0};  // TSC of the last authenticated packet from it
    const CipherKey* key = nullptr;        // its cluster's key (owned by the generation)
    uint32_t cluster = 0;                  // dense ClusterId in `routes`
    uint32_t cp_id = 0;                    // the control plane's client id
    // Data replay protection (docs/protocol-extensions.md): 0 = the client did not opt in; else
    // the lowest Data counter accepted (>= 1). Written by the main lcore, read by workers.
    std::atomic<uint64_t> replay_floor{0};

    // Consistent copy of the endpoint; false if the client has none (or, after kSeqRetries
    // attempts, if the main lcore is stuck in the middle of changing it).
    // `out` is written with one 16-byte store and one 4-byte store: its readers load words 0..3
    // as one vector (to_endpoint, write_outer), which five 4-byte stores would make wait (a
    // store-forwarding stall on every relayed packet). The words are five scalars, not an array:
    // g++ kept an array on the stack, stored it word by word in the retry loop and then loaded
    // it as one vector for _mm_set_epi32 — the same stall one step earlier (perf, 2026-12-04).
    bool endpoint(EndpointKey& out) const {
        uint32_t v0 = 0, v1 = 0, v2 = 0, v3 = 0, v4 = 0;
        const bool consistent = ep_lock.read([&] {
            v0 = ep[0].load(std::memory_order_relaxed);
            v1 = ep[1].load(std::memory_order_relaxed);
            v2 = ep[2].load(std::memory_order_relaxed);
            v3 = ep[3].load(std::memory_order_relaxed);
            v4 = ep[4].load(std::memory_order_relaxed);
        }, kSeqRetries);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out.w), _mm_set_epi32(static_cast<int>(v3), static_cast<int>(v2),
                                                                         static_cast<int>(v1), static_cast<int>(v0)));
        out.w[4] = v4;
        return consistent && (v0 & 0xff) != 0;
    }
    void set_endpoint(const EndpointKey& k) {  // main lcore only
        ep_lock.write([&] {
            for (int i = 0; i < 5; ++i) ep[i].store(k.w[i], std::memory_order_relaxed);
        });
    }
};
static_assert(sizeof(ClientLive) == 64);

// RFC 6479 anti-replay window over a sender's Data counter (lib/util/replay_bitmap.hpp):
// kReplayWords 64-bit blocks, the newest counter `top`; a counter more than kReplayWindow below
// top, or already seen, is a replay. One per (worker, client): a worker owns its windows (no
// atomics, a few cycles).
inline constexpr uint32_t kReplayWords = 8;  // power of two
inline constexpr uint64_t kReplayWindow = ReplayBitmap<kReplayWords>::kWindow;  // 448 counters of reordering
struct ReplayWindow {
    ReplayBitmap<kReplayWords> bitmap;
    // True (and records it) if `ctr` is new; false for a replay or a counter too old.
    bool check_and_update(uint64_t ctr) { return bitmap.check_and_update(ctr) == ReplayVerdict::New; }
};

inline constexpr uint64_t kMacKnown = uint64_t{1} << 48;
inline uint64_t pack_mac(const uint8_t* m) {
    uint64_t v = kMacKnown;
    for (int i = 0; i < 6; ++i) v |= uint64_t{m[i]} << (8 * i);
    return v;
}
inline void unpack_mac(uint64_t v, uint8_t* m) {
    for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v >> (8 * i));
}

// The fleet's UDP link (docs/fleet.md, "UDP link through the dataplane"): the fleet key, our
// gateway id and the members' dataplane addresses, immutable within a generation.
struct LinkPeer {
    std::string name;          // its gateway id ("" = an empty slot)
    shm::Endpoint to{};        // its dataplane's UDP relay address
    EndpointKey key{};         // the same as a key (MAC cache)
    uint32_t version = 0;      // new whenever the slot is given to another name: a new replay window
};
struct LinkState {
    std::shared_ptr<const fleet::LinkKey> key;
    std::string sender;  // our gateway id
    std::array<LinkPeer, shm::kMaxLinkPeers> peers;
    // The slot of member `name`, or -1 (at most kMaxLinkPeers compares).
    int peer_of(std::string_view name) const {
        for (uint32_t i = 0; i < peers.size(); ++i)
            if (!peers[i].name.empty() && peers[i].name == name) return static_cast<int>(i);
        return -1;
    }
};

struct Generation {
    explicit Generation(uint32_t session_capacity) : sessions(session_capacity) {}
    uint64_t id = 0;
    uint64_t cp_epoch = 0;
    RouteTable routes;
    // Every cluster's prefixes (private IPs as /32, CIDRs) merged into one cluster 0: consulted
    // only after `routes` missed, to tell a destination owned by another cluster
    // (drop_cross_cluster) from nobody's (drop_no_route). Never used to forward.
    RouteTable any_cluster;
    std::vector<std::shared_ptr<const CipherKey>> keys;  // by dense ClusterId
    // By dense ClusterId: cache lines of keys[c] the packet path reads (CipherKey::hot_bytes / 64):
    // the worker prefetches that many without first reading the key's method from a cold line.
    std::vector<uint8_t> key_lines;
    HugeArray<ClientLive> clients;                       // by dense ClientId (huge pages, huge_array.hpp)
    uint32_t client_count = 0;
    SessionTable sessions;
    std::unordered_map<uint32_t, uint32_t> by_cp_id;  // cp client id -> dense id (main lcore only)
    // Replay windows, worker w's of client d at [w * client_count + d]; each written only by its
    // worker (carried into the next generation by endpoint, like liveness).
    std::unique_ptr<ReplayWindow[]> replay;
    ReplayWindow& window(uint32_t worker, uint32_t d) const { return replay[size_t{worker} * client_count + d]; }

    // The fleet's UDP link; null without one (link frames are dropped, Data never sent over it).
    std::unique_ptr<const LinkState> link;
    std::vector<std::string> cluster_names;  // by dense ClusterId ("" if the control plane sent none)
    // (name, dense ClusterId) sorted by name, views into cluster_names: a link frame's cluster.
    std::vector<std::pair<std::string_view, uint32_t>> cluster_by_name;
    // The dense ClusterId named `name`, or -1.
    int64_t cluster_of(std::string_view name) const {
        auto it = std::lower_bound(cluster_by_name.begin(), cluster_by_name.end(), name,
                                   [](const auto& e, std::string_view n) { return e.first < n; });
        return it != cluster_by_name.end() && it->first == name ? int64_t{it->second} : -1;
    }
    // By dense ClientId: the link slot of the member the client is online on (kNoLinkPeer: none).
    // Written in place by the main lcore (RemoteHomeSet), read by workers (relaxed).
    std::unique_ptr<std::atomic<uint16_t>[]> remote_peer;
};

// Per-worker "I no longer use generations older than this id", one cache line each.
struct alignas(64) QuiescentId {
    std::atomic<uint64_t> id{0};
};

class StateManager {
public:
    // `mac_hint`: the MAC last seen from an endpoint (0 if unknown), used when binding.
    StateManager(uint32_t session_capacity, uint32_t workers,
                 std::function<uint64_t(const EndpointKey&)> mac_hint = {});
    ~StateManager();

    enum class Outcome : uint8_t {
        Applied,       // state changed (or a sync message staged)
        Flipped,       // a new generation was published (SyncEnd, Commit)
        SyncApplied,   // a SyncEnd: the first one ends --wait-sync
        Ignored,       // harmless (e.g. EndpointClear of an unbound client, Commit of nothing)
        Rejected,      // malformed message; `last_error()` says why
        SessionFull,   // an EndpointSet refused: the session table is full
    };
    // Applies one CpToDpControl message (header + body as read from the ring). `now_tsc`: an
    // EndpointSet outside a sync means "an authenticated packet just came from there" and
    // marks the client live as of now_tsc.
    Outcome apply(const shm::MsgHeader& h, const uint8_t* body, uint64_t now_tsc);

    const Generation* current() const { return cur_.load(std::memory_order_relaxed); }
    const std::atomic<const Generation*>& current_ptr() const { return cur_; }
    QuiescentId* quiescent() { return seen_.get(); }
    // Frees retired generations that no worker can still use; returns how many remain.
    size_t reclaim();
    bool synced() const { return applied_epoch_ != 0; }
    uint64_t applied_cp_epoch() const { return applied_epoch_; }
    bool syncing() const { return staging_ != nullptr; }
    const std::string& last_error() const { return error_; }
    uint64_t session_full_events() const { return session_full_; }

private:
    struct ClusterModel {
        uint8_t method = 0;
        std::vector<uint8_t> key;
        std::shared_ptr<const CipherKey> cipher;
        std::string name;
    };
    struct LinkModel {
        std::shared_ptr<const fleet::LinkKey> key;  // null: no UDP link
        std::string sender;
        std::array<std::string, shm::kMaxLinkPeers> peer_name;
        std::array<shm::Endpoint, shm::kMaxLinkPeers> peer_ep{};
    };
    struct ClientModel {
        uint32_t cluster_id = 0;
        uint32_t private_ip = 0;
        std::vector<Ipv4Cidr> cidrs;
    };
    struct Model {
        uint64_t cp_epoch = 0;
        std::map<uint32_t, ClusterModel> clusters;
        std::map<uint32_t, ClientModel> clients;
        std::unordered_map<uint32_t, shm::Endpoint> endpoints;  // cp client id -> endpoint
        std::unordered_map<uint32_t, uint64_t> replay_floor;     // cp client id -> floor (opted in)
        std::unordered_map<uint32_t, bool> live;                 // within a sync: kEndpointLive
        LinkModel link;
        std::unordered_map<uint32_t, uint16_t> remote;           // cp client id -> link slot
    };

    Outcome apply_to(Model& m, bool live, const shm::MsgHeader& h, const uint8_t* body,
                     uint64_t now_tsc);
    Outcome reject(std::string why);
    std::unique_ptr<Generation> build(Model& m);
    void carry_bindings(Model& next) const;
    // The CipherKey of another cluster with the same method and key bytes, if one is alive:
    // clusters that share a key share its expanded form. O(1) (a sync of K clusters was O(K²)).
    std::shared_ptr<const CipherKey> find_cipher(uint8_t method, const std::vector<uint8_t>& key);
    void publish(std::unique_ptr<Generation> g);
    Outcome bind_in_place(uint32_t cp_id, const shm::Endpoint& ep, uint64_t floor, uint64_t now_tsc);
    Outcome apply_link(Model& m, bool live, const shm::MsgHeader& h, const uint8_t* body);
    void build_link(const Model& m, Generation& g, const Generation* old);
    void clear_in_place(uint32_t cp_id);

    uint32_t capacity_;
    uint32_t workers_;
    std::function<uint64_t(const EndpointKey&)> mac_hint_;
    Model model_;                     // committed + pending (ClientSet/Remove before Commit)
    std::unique_ptr<Model> staging_;  // between SyncBegin and SyncEnd
    bool dirty_ = false;              // ClientSet/ClientRemove since the last Commit
    std::atomic<const Generation*> cur_{nullptr};
    std::unique_ptr<Generation> owned_cur_;
    std::vector<std::unique_ptr<Generation>> retired_;
    std::unique_ptr<QuiescentId[]> seen_;
    uint64_t next_id_ = 1;
    uint32_t next_peer_version_ = 1;
    uint64_t applied_epoch_ = 0;
    uint64_t now_tsc_ = 0;  // of the message being applied (liveness of a sync's kEndpointLive)
    uint64_t session_full_ = 0;
    std::string error_;
    // (method, key bytes) -> the key; weak: freed with the last generation or model using it
    // (expired entries are dropped at each SyncEnd).
    std::unordered_map<std::string, std::weak_ptr<const CipherKey>> ciphers_;
    std::string cipher_id_;  // scratch of find_cipher
};

}  // namespace rustun::dp
