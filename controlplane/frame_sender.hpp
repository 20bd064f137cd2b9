// Building, sealing and queueing the frames the gateway originates (HandshakeReply, KeepAlive
// replies, PeerUpdate) and flushing connections. One FrameSender per thread that sends (each
// worker, the dataplane link): it owns that thread's scratch buffers; the CryptoEngine is the
// thread's own. Functions taking a Membership read or write its runtime part: the caller holds
// the state mutex (it got the Membership from SharedState::members(), which requires it).
#pragma once

#include <string>
#include <vector>

#include "connection.hpp"
#include "counters.hpp"
#include "crypto/crypto_engine.hpp"
#include "fleet_view.hpp"
#include "membership.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"
#include "thread_annotations.hpp"

namespace rustun::cp {

// Writes what `c` has queued (out_mu taken), arms EPOLLOUT on its owner while the socket is full,
// and asks the owner to close it on a write error. Any thread.
void flush_connection(const ConnectionPtr& c) EXCLUDES(c->out_mu);

class FrameSender {
public:
    FrameSender(CryptoEngine& engine, CounterBlock& counters);

    // Seals `pt` as a `type` frame with `key`; the frame (header + payload) stays valid until the
    // next call. Empty if it would exceed 65535 bytes (counted as payload_too_large).
    std::span<const uint8_t> seal(FrameType type, std::string_view pt, const CipherKey& key);

    // Seals and queues a frame to `c`, remembering `c` for flush(). False if not queued
    // (full: counted control_outq_full, or closed).
    bool to_conn(const ConnectionPtr& c, FrameType type, std::string_view pt, const CipherKey& key,
                 ClientStats* stats) EXCLUDES(c->out_mu);
    // Queues already-sealed frame bytes to `c` (relayed Data). Counts data_outq_full itself.
    enum class Queued { Ok, Full, Closed };
    Queued bytes_to_conn(const ConnectionPtr& c, const uint8_t* frame, size_t len) EXCLUDES(c->out_mu);
    // Flushes every connection queued to since the last flush.
    void flush();

    // The JSON body of `self`'s HandshakeReply (superset shape) or KeepAlive reply (HEAD shape,
    // answering `req`), with the peer list cut to fit `max_peers` and one frame of a
    // cipher with `overhead` bytes whose payload is at most `max_payload` bytes (one UDP datagram
    // for replies over the UDP relay). A KeepAlive reply echoes the request's `seq` if it had one.
    // Valid until the next call.
    const std::string& reply_body(const Membership& m, ClientId self, FrameType type, const KeepAlive* req,
                                  uint32_t max_peers, size_t overhead, size_t max_payload = kMaxPayloadSize);

    // Queues a PeerUpdate with `self`'s current (ipv6, port) to every online old-dialect peer of
    // its cluster (after Membership::apply_keepalive said they changed).
    void peer_update(const Membership& m, ClientId self);
    // Queues `pu` (a client online on another gateway: its new address, or "" / 0 when it went
    // away) to every online old-dialect client of `cluster` (docs/fleet.md, "Peer lists").
    void peer_update_remote(const Membership& m, ClusterId cluster, const PeerUpdate& pu);

    // Peer lists include the fleet's remote clients from `view` (set once, before use; null: none).
    void set_fleet(const FleetView* view) { fleet_ = view; }

private:
    CryptoEngine& engine_;
    CounterBlock& counters_;
    std::vector<uint8_t> frame_buf_;
    std::string json_, json2_;
    std::vector<PeerDetail> peers_;
    std::vector<ConnectionPtr> dirty_;
    const FleetView* fleet_ = nullptr;
};

}  // namespace rustun::cp
