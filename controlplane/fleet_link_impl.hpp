// The state of a FleetLink (controlplane/fleet_link.hpp), shared by its two sources:
// fleet_link.cpp (send(), the thread, the outbound connections to peers) and fleet_link_rx.cpp
// (inbound connections, verification, delivery to local clients).
//
// Ownership: `peers` and each LinkPeer are shared by the sending threads and the link thread,
// under the mutexes named; everything else is the link thread's own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto/crypto_engine.hpp"
#include "fleet/link_auth.hpp"
#include "fleet/link_replay.hpp"
#include "fleet_link.hpp"
#include "frame_sender.hpp"
#include "util/uninit_vector.hpp"

namespace rustun::cp {

// epoll tags: the listener, the eventfd, then peers (kPeerTag | index) and inbound connections
// (kInboundTag | id).
inline constexpr uint64_t kLinkListenTag = 0;
inline constexpr uint64_t kLinkWakeTag = 1;
inline constexpr uint64_t kPeerTag = uint64_t{1} << 62;
inline constexpr uint64_t kInboundTag = uint64_t{2} << 62;
inline constexpr uint64_t kTagKindMask = uint64_t{3} << 62;
// How long a gateway that left the fleet view stays accepted on the link (see member_seen).
inline constexpr std::chrono::seconds kFormerMemberGrace{600};
// How long a sender found in the fleet view is taken as a member without looking again (well
// under kFormerMemberGrace, which accepts it for ten minutes after it left the view anyway).
inline constexpr std::chrono::milliseconds kMemberRecheck{250};

// One gateway we send to. Everything but `id` and `index` is under `mu`: a sending thread
// (a worker's FleetLink::Sender, or send()) seals its frames into `out` and writes the connection
// itself when it is up; the link thread opens the connection, writes on EPOLLOUT and closes it.
// So a relayed frame's bytes are sealed and written by the thread that read them, in its own
// cache, and cross no queue between threads (docs/fleet.md, "TCP link between control planes").
struct LinkPeer {
    std::string id;
    uint32_t index = 0;  // in FleetLink::Impl::peer_list
    Mutex mu;
    enum class State : uint8_t { Idle, Connecting, Up };
    State state GUARDED_BY(mu) = State::Idle;
    int fd GUARDED_BY(mu) = -1;
    bool want_write GUARDED_BY(mu) = false;  // EPOLLOUT armed: the link thread writes the rest
    // Sealed, length-prefixed link frames not yet written (grown, then written in full), bounded
    // by peer_queue_bytes of unwritten bytes.
    UninitBytes out GUARDED_BY(mu);
    size_t out_off GUARDED_BY(mu) = 0;          // bytes of `out` written
    std::vector<size_t> ends GUARDED_BY(mu);    // end offset in `out` of each frame not yet completely written
    size_t ends_done GUARDED_BY(mu) = 0;        // entries of `ends` already written
    uint32_t backoff_ms GUARDED_BY(mu) = 0;     // 0: try at once
    SteadyTime next_try GUARDED_BY(mu){};
    bool unwritten() const REQUIRES(mu) { return out_off < out.size(); }
};

// One connection another gateway opened to our link port.
struct LinkInbound {
    uint64_t id = 0;
    int fd = -1;
    std::string peer_text;
    std::vector<uint8_t> buf;  // received bytes not yet processed
    size_t used = 0;
};

struct FleetLink::Impl {
    Impl(SharedState& s, const FleetDirectory& d, FleetLinkOptions o, DataplaneLink* dp)
        : state(s), directory(d), options(std::move(o)), dataplane(dp) {}

    SharedState& state;
    const FleetDirectory& directory;
    FleetLinkOptions options;
    DataplaneLink* dataplane;
    std::shared_ptr<const fleet::LinkKey> key;
    CounterBlock counters;  // the link thread's

    // --- link thread ---
    std::unique_ptr<fleet::LinkAuth> auth;
    std::unique_ptr<CryptoEngine> engine;  // FrameSender needs one; the link never seals Rustun frames
    std::unique_ptr<FrameSender> sender;   // queues delivered frames to local TCP connections
    int listen_fd = -1, epfd = -1, wake_fd = -1;
    std::atomic<uint16_t> port{0};
    std::thread thread;
    std::atomic<bool> stop{false};
    uint32_t salt = 0;                  // nonce prefix of this process
    std::atomic<uint64_t> next_seq{0};  // starts at CLOCK_REALTIME ns (docs/fleet.md, "Link")
    std::vector<LinkPeer*> peers_seen;  // copy of peer_list, refreshed when it grows
    std::unordered_map<uint64_t, LinkInbound> inbound;
    uint64_t next_inbound = 1;
    std::unordered_map<std::string, fleet::LinkReplayWindow> windows;  // per sender gateway
    std::string window_key;
    // Per sender gateway: when the directory last named it a member. A sender that left the
    // view (its lease expired: cut off from etcd, not necessarily dead) is still accepted for
    // kFormerMemberGrace after that, so relaying between gateways that still reach each other
    // survives an etcd outage (docs/fleet.md, "Failure"). The fleet key still authenticates it.
    std::unordered_map<std::string, SteadyTime> member_seen;
    bool known_sender(std::string_view gateway_id, SteadyTime at);
    // The last sender found a member, and when: a frame from it within kMemberRecheck is not
    // looked up again (per frame that was a snapshot load and a copy of its link address).
    std::string member_cached;
    SteadyTime member_cached_at{};
    // The last sender's replay window (a map node: its address is stable).
    std::string window_cached;
    fleet::LinkReplayWindow* window_cached_ptr = nullptr;
    // The membership snapshot deliver() uses, loaded once per read_inbound() call, not per frame.
    std::shared_ptr<Membership> rx_members;
    // Cluster name -> ClusterId of the membership snapshot `clusters_of`.
    std::shared_ptr<Membership> clusters_of;
    std::unordered_map<std::string, ClusterId> cluster_ids;

    // --- senders ---
    Mutex peers_mu;
    // Never erased: a LinkPeer* stays valid as long as the link (Senders cache them).
    std::unordered_map<std::string, std::unique_ptr<LinkPeer>> peers GUARDED_BY(peers_mu);
    std::vector<LinkPeer*> peer_list GUARDED_BY(peers_mu);
    std::atomic<size_t> peer_count{0};
    // send()'s own sealing state (any thread): FleetLink::send() is for callers without a Sender.
    Mutex send_mu;
    std::unique_ptr<fleet::LinkAuth> send_auth GUARDED_BY(send_mu);

    void run();
    void wake();
    // fleet_link.cpp: outbound. The functions taking a CounterBlock run on any thread and count
    // into the caller's block (one block per writer thread).
    // The peer for `gateway_id`, created on first use; null (counted) if it is not a valid
    // destination gateway.
    LinkPeer* peer(std::string_view gateway_id, CounterBlock& ctr);
    // Seals `frame` for `dst` into p.out; false if dropped (counted: queue full, back-off, ...).
    bool seal_for(LinkPeer& p, fleet::LinkAuth& auth, const LinkDestination& dst, std::span<const uint8_t> frame,
                  CounterBlock& ctr) REQUIRES(p.mu);
    // After sealing: writes p.out now if the connection is up and `write_here`; otherwise wakes
    // the link thread if it has something to do (connect, write).
    void kick(LinkPeer& p, bool write_here, CounterBlock& ctr) REQUIRES(p.mu);
    void service_peers();
    void connect_peer(LinkPeer& p) REQUIRES(p.mu);
    void on_peer_event(LinkPeer& p, uint32_t events);
    void write_peer(LinkPeer& p, CounterBlock& counters) REQUIRES(p.mu);
    void drop_out(LinkPeer& p, Counter why, CounterBlock& counters) REQUIRES(p.mu);
    void close_peer(LinkPeer& p, Counter why, CounterBlock& counters) REQUIRES(p.mu);
    void set_peer_events(LinkPeer& p, bool want_write) REQUIRES(p.mu);
    // fleet_link_rx.cpp: inbound
    void accept_inbound();
    // False if the connection was closed.
    bool read_inbound(LinkInbound& c);
    void close_inbound(uint64_t id);
    // Verifies and delivers one link frame; false if the connection must be closed.
    bool on_link_frame(const uint8_t* bytes, size_t len, const std::string& from);
    void deliver(const fleet::LinkFrameView& v);
};

}  // namespace rustun::cp
