// The control plane's end of the shared-memory channel to rustun-dataplane (docs/shm-channel.md).
//
// One thread: attaches to the channel (retrying while the dataplane is absent), pushes the full
// state (SyncBegin .. SyncEnd) on every attach and after every reload, keeps the control-plane
// heartbeat, and serves the dataplane's rings: UDP KeepAlives (authenticated here, with the
// replay check of docs/protocol-extensions.md, then bound with EndpointSet and answered over UDP)
// and Data for clients without a live UDP endpoint (delivered over their TCP connection).
//
// docs/architecture.md, "The control plane survives a dataplane restart": TCP sessions never depend on the dataplane; when it restarts
// (its segment is replaced) the link re-attaches and re-pushes everything.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto/crypto_engine.hpp"
#include "crypto/rr_cookie.hpp"
#include "dataplane_delta.hpp"
#include "fleet/link_auth.hpp"
#include "frame_sender.hpp"
#include "shared_state.hpp"
#include "shm/channel.hpp"
#include "shm/messages.hpp"
#include "thread_annotations.hpp"

namespace rustun::cp {

class FleetLink;

class DataplaneLink {
public:
    DataplaneLink(SharedState& state, std::string channel_path);
    ~DataplaneLink();

    // The fleet's inter-gateway link (null: one gateway): Data the dataplane hands over for a
    // client that is online on another gateway goes there (docs/fleet.md, "Link"). Before start().
    void set_fleet_link(FleetLink* fleet) { fleet_ = fleet; }
    // The fleet's UDP link through the dataplane (docs/fleet.md, "UDP link through the
    // dataplane"): the dataplane seals Data for clients online on other members with the fleet
    // key `key_spec` under our `gateway_id`, and verifies the link frames they send. Before start().
    Status set_fleet_udp(std::string gateway_id, std::string_view key_spec);
    bool fleet_udp() const { return fleet_udp_.on; }  // immutable after start()
    // True if member `gateway_id` holds a slot in the attached dataplane (so that a LinkTx for its
    // clients can be sealed there; beyond 64 members the others keep the TCP link). Any thread.
    bool member_slotted(std::string_view gateway_id) const {
        const std::shared_ptr<const std::vector<std::string>> s = slotted_.load(std::memory_order_acquire);
        return s && std::binary_search(s->begin(), s->end(), gateway_id, std::less<>());
    }

    Status start();
    void stop();
    // A reload installed `fresh` (called under the state mutex, together with the install: the
    // punt path relies on it): the link pushes `delta` to the dataplane soon, in reload order, or
    // a full sync if the delta says so (docs/controlplane.md, "The dataplane link").
    void state_changed(std::shared_ptr<const Membership> fresh, StateDelta delta) EXCLUDES(push_mu_);

    // Hands a sealed frame to the dataplane for UDP delivery to `to`, on TX ring 0. The link
    // thread only (its punt replies). False if no dataplane is attached or the ring is full
    // (counted).
    bool send_udp(const shm::Endpoint& to, const uint8_t* frame, size_t len, CounterBlock& counters);

    // A control-plane worker's producer end of its TX ring for one batch (with_worker_tx).
    class TxProducer {
    public:
        // Queues one sealed frame for UDP delivery to `to`; false if no dataplane is attached or
        // the ring is full (counted as udp_tx_ring_full).
        bool send(const shm::Endpoint& to, const uint8_t* frame, size_t len, CounterBlock& counters);
        // Queues one Data frame for `dp_client` (a dataplane client id), online on another member
        // whose dataplane takes link frames: the dataplane seals it for that member (LinkTx,
        // docs/fleet.md "UDP link through the dataplane"). `dst_ip`: the inner destination.
        bool send_link(uint32_t dp_client, uint32_t dst_ip, const uint8_t* frame, size_t len, CounterBlock& counters);

    private:
        friend class DataplaneLink;
        shm::SpscRing* ring_ = nullptr;
        uint32_t queued_ = 0;
    };
    // Runs f(TxProducer&) on worker `worker`'s TX ring: the channel is loaded once per batch (an
    // atomic shared_ptr: no lock shared with other threads), the ring is the worker's own while
    // the dataplane has a ring per worker (1 + worker % (tx_rings - 1); its lock is then never
    // contended), and the batch's frames are published together at the end.
    template <typename F>
    void with_worker_tx(uint32_t worker, F&& f) {
        std::shared_ptr<shm::Channel> ch = published_.load(std::memory_order_acquire);
        TxProducer p;
        if (!ch) {
            f(p);
            return;
        }
        const uint32_t rings = ch->tx_rings();
        const uint32_t r = rings == 1 ? 0 : 1 + worker % (rings - 1);
        MutexLock lk(tx_mu_[r]);
        p.ring_ = &ch->tx(r);
        f(p);
        if (p.queued_) p.ring_->publish();
    }

    bool attached() const { return attached_.load(); }
    const std::string& channel_path() const { return path_; }
    // Why the last attach attempt failed ("" while attached or before the first attempt).
    std::string last_error() const EXCLUDES(err_mu_);
    // The attached dataplane's software version ("" when not attached or it wrote none).
    std::string dataplane_version() EXCLUDES(ch_mu_);
    // Dataplane counters and session numbers, or false if not attached (control-socket thread).
    bool dataplane_counters(std::vector<uint64_t>& values, uint64_t& sessions, uint64_t& capacity, uint64_t& epoch)
        EXCLUDES(ch_mu_);

    // The same per counter block: one per dataplane worker, then the main lcore's (metrics).
    bool dataplane_counter_blocks(std::vector<std::array<uint64_t, shm::kDpCounterCount>>& workers,
                                  std::array<uint64_t, shm::kDpCounterCount>& main, uint64_t& sessions,
                                  uint64_t& capacity) EXCLUDES(ch_mu_);

    // Written by the link thread only; any thread reads.
    const CounterBlock& counters() const { return counters_; }

private:
    void run();
    bool try_attach();
    void detach(const char* why);
    bool full_sync() EXCLUDES(state_.mu());
    // The UDP bindings of `snap`'s clients as EndpointSets, reading them under the state mutex
    // a few thousand clients at a time (never for the whole sync).
    bool push_bindings(shm::StateWriter& w, const Membership& snap) EXCLUDES(state_.mu());
    // Pushes the reloads' deltas queued by state_changed() (or a full sync); false if a push failed.
    bool push_pending() EXCLUDES(push_mu_);
    static bool dataplane_gone(shm::Channel& ch);
    // The fleet's UDP link (dataplane_link_fleet.cpp): the member slots and remote homes the
    // fleet view asks for (`remote`: dataplane client id -> slot); all of it within a full sync;
    // the differences since the last push otherwise (on a new view or membership).
    void fleet_desired(const Membership& m, std::unordered_map<uint32_t, uint16_t>& remote);
    bool push_fleet_sync(shm::StateWriter& w, const Membership& m);
    bool push_fleet_changes();
    bool push_control(shm::MsgType type, const void* body, uint32_t len);
    void poll_rings();
    void handle_deliver(const shm::DeliverView& m) EXCLUDES(state_.mu());
    void set_error(const std::string& e, shm::AttachFailure why) EXCLUDES(err_mu_);
    // EndpointSet for the client the dataplane knows as `dp_client_id` (Membership::dp).
    void bind_endpoint(uint32_t dp_client_id, const shm::Endpoint& ep, uint64_t replay_floor);

    // A UDP KeepAlive punted by the dataplane (dataplane_link_punt.cpp): frame checks, trial
    // authentication outside the state mutex, then under it the seq window, return
    // routability, the binding, and the reply.
    struct PuntOpened {
        KeepAlive ka;
        std::shared_ptr<const CipherKey> key;  // the key that opened it (its client's cluster's)
        uint32_t key_index = 0;                // ... its index in Membership::auth.keys
        uint64_t generation = 0;               // ... of this membership generation (AuthKeys)
        uint32_t frame_size = 0;
    };
    void handle_punt(const shm::PuntView& m) EXCLUDES(state_.mu());
    bool punt_is_keepalive(const shm::PuntView& m, FrameHeader& h);
    bool open_punt(const shm::PuntView& m, const FrameHeader& h, PuntOpened& out) EXCLUDES(state_.mu());
    // Applies an opened KeepAlive to its client; true if the dataplane must be told the binding
    // (EndpointSet, pushed by the caller outside the mutex) with `id` and `replay_floor`.
    bool apply_punt(const shm::PuntView& m, const PuntOpened& o, ClientId& id, uint64_t& replay_floor)
        REQUIRES(state_.mu());
    bool punt_seq_ok(const ClientEntry& e, const KeepAlive& ka, const shm::Endpoint& from, uint64_t now_us)
        REQUIRES(state_.mu());
    // True if the binding may be made or moved to `from`: it is the bound endpoint already, or
    // the KeepAlive echoes a valid cookie. Else a challenge (with a cookie) is sent.
    bool punt_endpoint_verified(ClientEntry& e, const PuntOpened& o, const shm::Endpoint& from, uint64_t now_s,
                                SteadyTime now) REQUIRES(state_.mu());
    void reply_punt(ClientId id, const PuntOpened& o, const shm::Endpoint& from) REQUIRES(state_.mu());
    // Rate limits of UDP KeepAlive replies (per identity, per source address; counted).
    bool reply_allowed(UdpBinding& b, const shm::Endpoint& from, SteadyTime now) REQUIRES(state_.mu());

    SharedState& state_;
    FleetLink* fleet_ = nullptr;
    // The fleet's UDP link: set before start(), then the link thread's only.
    struct FleetUdp {
        bool on = false;
        std::string gateway_id;
        uint8_t method = 0;
        std::array<uint8_t, 32> key{};
    };
    FleetUdp fleet_udp_;
    struct Slot {
        std::string name;         // member gateway id ("" = free)
        shm::Endpoint ep{};       // its dataplane's UDP relay address
        uint64_t gone_since = 0;  // Unix s it left the view (0: in it)
        bool dirty = false;       // changed since pushed
    };
    std::array<Slot, shm::kMaxLinkPeers> slots_;
    // The names in slots_ as last pushed, sorted (member_slotted); null until the first push.
    std::atomic<std::shared_ptr<const std::vector<std::string>>> slotted_;
    void publish_slotted();
    std::unordered_map<uint32_t, uint16_t> remote_pushed_;  // dataplane client id -> slot, as pushed
    uint64_t fleet_view_pushed_ = 0;        // FleetView::version() last pushed
    uint64_t fleet_generation_pushed_ = 0;  // Membership::generation last pushed
    CounterBlock counters_;
    std::string path_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> resync_{false};
    std::atomic<bool> attached_{false};
    std::unique_ptr<CryptoEngine> engine_;
    std::unique_ptr<FrameSender> sender_;

    // Guards ch_ replacement. ch_ is written only by the link thread (under ch_mu_), which also
    // reads it without; other threads take it from published_ (an atomic shared_ptr, set with
    // ch_) or under ch_mu_ (the control socket's counters).
    Mutex ch_mu_;
    std::shared_ptr<shm::Channel> ch_;
    std::atomic<std::shared_ptr<shm::Channel>> published_;
    // One producer lock per TX ring: uncontended while each producer thread has a ring of its own.
    Mutex tx_mu_[shm::kMaxTxRings];
    uint64_t cp_epoch_ = 0;      // of the last full sync pushed
    // Reloads not yet pushed, in order (state_changed -> push_pending).
    struct PendingDelta {
        std::shared_ptr<const Membership> members;
        StateDelta delta;
    };
    Mutex push_mu_;
    std::deque<PendingDelta> pending_ GUARDED_BY(push_mu_);
    std::atomic<bool> has_pending_{false};
    // Link thread only: the generation the dataplane was last brought to (full sync or delta),
    // and that generation (its dataplane ids translate punt hints).
    uint64_t pushed_generation_ = 0;
    std::shared_ptr<const Membership> pushed_members_;
    uint64_t epoch_base_ = 0;    // random per process
    uint64_t start_us_ = 0;      // Unix microseconds at start: the floor of accepted seqs
    std::vector<uint8_t> scratch_;
    mutable Mutex err_mu_;
    std::string last_error_ GUARDED_BY(err_mu_);
    std::chrono::steady_clock::time_point last_error_logged_{};
    RrCookie cookie_;  // return-routability cookies (docs/protocol-extensions.md)
    // source address (IPv6: /64) -> GCRA; link thread only
    std::unordered_map<std::string, SteadyTime> reply_src_tat_;
    struct AlignedDelete {
        void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(64)); }
    };
    std::unique_ptr<uint8_t[], AlignedDelete> msg_copy_;  // one slot, copied out of the ring
};

}  // namespace rustun::cp
