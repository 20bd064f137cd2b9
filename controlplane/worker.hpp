// One control-plane worker thread: an epoll loop over its own SO_REUSEPORT listener and the
// connections it accepted.
//
// Per loop turn (docs/controlplane.md, "Threads and a worker's turn"):
//   1. read every readable socket into the worker's input arena (partial frames of a connection
//      wait in a pool block between turns, so idle connections hold no buffer);
//   2. handle control frames (Handshake, KeepAlive) at once, and collect Data frames;
//   3. authenticate all Data frames of the turn with one burst call (CryptoEngine::open_burst,
//      decrypting out of place so the received bytes stay intact), route them under the state
//      mutex, and queue the received bytes unchanged to each destination (same cluster = same key);
//   4. flush every connection that got output with one writev each.
// Timers (handshake, idle, slow client) run every 250 ms.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "admission.hpp"
#include "connection.hpp"
#include "counters.hpp"
#include "crypto/crypto_engine.hpp"
#include "fleet_link.hpp"
#include "frame_sender.hpp"
#include "latency_histogram.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"
#include "shared_state.hpp"
#include "thread_annotations.hpp"

namespace rustun::cp {

class DataplaneLink;
class FleetLink;

class Worker final : public ConnectionOwner {
public:
    // `link`: the dataplane link (null without a `dataplane:` section), for Data to clients on
    // the UDP relay; it outlives the worker.
    Worker(SharedState& state, DataplaneLink* link, uint32_t index, int listen_fd);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    Status init();
    // The fleet's inter-gateway link (null: one gateway), for Data to clients homed on another
    // gateway (docs/fleet.md, "Link"). Set before start(); it outlives the worker.
    void set_fleet_link(FleetLink* fleet) { fleet_ = fleet; }
    void start();
    void stop_and_join();
    // Wakes the loop (close requests are pending). Any thread.
    void wake();
    // Queues a close request for a connection of this worker. Any thread.
    void request_close(const ConnectionPtr& c, CloseReason reason) override EXCLUDES(close_mu_);

    int epoll_fd() const override { return epfd_; }
    uint32_t index() const { return index_; }
    // Written by this worker's thread only; any thread reads.
    const CounterBlock& counters() const { return counters_; }
    // Time this worker spent on each Handshake frame (authentication, admission, reply queued;
    // every outcome). Written by this worker's thread only.
    const LatencyHistogram& handshake_latency() const { return handshake_latency_; }

private:
    // Raw pointers are safe for one turn: a connection closed during the turn is kept in
    // graveyard_ until the turn ends, and the batch is always processed within its turn; the
    // stats live in the Membership snapshot(s) process_batch holds while it uses them.
    struct BatchItem {
        Connection* src;
        uint32_t offset;  // frame start in arena_
        uint32_t len;     // whole frame (header + payload)
    };
    struct Delivery {
        ConnectionPtr dst;  // null: UDP delivery through the dataplane to `udp`, or over its link
        shm::Endpoint udp;
        ClientStats* dst_stats;
        ClientStats* src_stats;
        uint32_t offset, len;
        // Not kNoLinkClient: the destination (this dataplane client id) is online on another
        // member with a UDP link: the dataplane seals it for that member (LinkTx).
        uint32_t link_client = kNoLinkClient;
        uint32_t link_dst_ip = 0;
    };
    static constexpr uint32_t kNoLinkClient = 0xffffffffu;

    void run();
    void accept_all();
    bool rate_allowed(const sockaddr_storage& peer);
    void on_readable(const ConnectionPtr& c);
    void on_writable(const ConnectionPtr& c);
    // Walks the complete frames in data[0..len); keeps a trailing partial frame as pending.
    // Returns false if the connection was closed.
    bool parse_frames(const ConnectionPtr& c, uint32_t base, size_t len);
    bool handle_handshake(const ConnectionPtr& c, const FrameHeader& h, uint8_t* payload);
    // True if the Handshake's AEAD nonce was already seen for client `id` (replayed bytes); else
    // records it.
    bool handshake_replayed(ClientId id, const FrameHeader& h, const uint8_t* payload, const CipherKey& key)
        REQUIRES(state_.mu());
    // Binds `c` to the client `id` a Handshake authenticated as (the older connection of that
    // identity is closed), and replies.
    void accept_handshake(const ConnectionPtr& c, const FrameHeader& h, ClientId id, const Handshake& hs)
        REQUIRES(state_.mu());
    bool handle_control(const ConnectionPtr& c, const FrameHeader& h, uint8_t* payload);
    void handle_keepalive(const ConnectionPtr& c, const KeepAlive& ka) REQUIRES(state_.mu());
    void process_batch();
    // Routes the authenticated frames of the batch into deliveries_ from the membership snapshot
    // `m` (no state mutex; controlplane/relay_view.hpp); collects the connections whose frames
    // failed authentication in `bad`.
    void route_batch(std::shared_ptr<Membership>& m, std::vector<uint64_t>& bad) EXCLUDES(state_.mu());
    // True if `src` is still the connection of the client it names in `m`; else tries a newer
    // snapshot, and as a last resort (a reload in progress) the state mutex.
    bool sender_current(std::shared_ptr<Membership>& m, const Connection* src) EXCLUDES(state_.mu());
    // True if the client is online on another member whose dataplane takes link frames and ours
    // carries the fleet's UDP link (attached): its Data goes as a LinkTx through our dataplane.
    bool remote_over_udp_link(std::string_view cluster, std::string_view identity) const;
    void deliver_batch();
    void flush_dirty();
    void timers();
    void process_close_requests();
    void close_conn(const ConnectionPtr& c, CloseReason r) EXCLUDES(state_.mu());

    SharedState& state_;
    DataplaneLink* link_;
    FleetLink* fleet_ = nullptr;
    // This worker's sealing state for the fleet link (with fleet_): frames for remote clients are
    // sealed and written by this thread, once per batch (FleetLink::Sender).
    std::unique_ptr<FleetLink::Sender> fleet_sender_;
    CounterBlock counters_;
    LatencyHistogram handshake_latency_;
    uint32_t index_;
    int listen_fd_;
    int epfd_ = -1;
    int wake_fd_ = -1;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::unique_ptr<CryptoEngine> engine_;
    std::unique_ptr<FrameSender> sender_;
    Limits limits_;  // copy refreshed by timers()

    std::unordered_map<uint64_t, ConnectionPtr> conns_;
    // Connections accepted but not yet established, by id (ids grow with time: begin() is the
    // oldest). Bounded by limits_.handshake_pending_max, the oldest giving way to a new one; each
    // may hold a partial first frame (a pool block) until handshake_timeout, so an address range
    // cannot pin unbounded memory. Also counted per source address and IPv6 /64.
    std::set<uint64_t> pending_;
    PendingSources pending_sources_;
    void leave_pending(const Connection& c);
    std::vector<ConnectionPtr> graveyard_;  // closed this turn; released at the end of the turn

    // Input arena: every socket read of a turn lands here; Data frames are referenced by offset
    // until the batch is processed, then the arena is reused from 0. pt_arena_ receives the
    // plaintexts at the same offsets (out-of-place decryption).
    static constexpr size_t kArenaSize = 4u << 20;
    std::unique_ptr<uint8_t[]> arena_, pt_arena_;
    size_t arena_used_ = 0;
    std::vector<BatchItem> batch_;
    std::vector<OpenItem> open_items_;
    std::vector<Delivery> deliveries_;
    bool has_udp_deliveries_ = false;  // some of deliveries_ go to the dataplane's TX ring
    std::vector<std::shared_ptr<Membership>> batch_holds_;  // older snapshots the batch used

    Mutex close_mu_;
    std::vector<std::pair<ConnectionPtr, CloseReason>> close_requests_ GUARDED_BY(close_mu_);

    struct Bucket {
        double tokens;
        SteadyTime last;
    };
    std::unordered_map<std::string, Bucket> rate_;  // by source IP bytes
    SteadyTime next_timer_{};
};

}  // namespace rustun::cp
