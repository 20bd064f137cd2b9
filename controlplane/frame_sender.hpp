// Building, sealing and queueing the frames the gateway originates (HandshakeReply, KeepAlive
// replies, PeerUpdate) and flushing connections. One FrameSender per thread that sends (each
// worker, the dataplane link): it owns that thread's scratch buffers; the CryptoEngine is the
// thread's own. Functions ending in _locked need the gateway's state mutex.
#pragma once

#include <string>
#include <vector>

#include "connection.hpp"
#include "counters.hpp"
#include "crypto/crypto_engine.hpp"
#include "membership.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"

namespace rustun {

class Gateway;
struct Limits;

// Writes what `c` has queued (out_mu taken), arms EPOLLOUT on its owner while the socket is full,
// and asks the owner to close it on a write error. Any thread.
void flush_connection(Gateway& gw, const ConnectionPtr& c);

class FrameSender {
public:
    FrameSender(Gateway& gw, CryptoEngine& engine, CounterBlock& counters);

    // Seals `pt` as a `type` frame with `key`; the frame (header + payload) stays valid until the
    // next call. Empty if it would exceed 65535 bytes (counted as payload_too_large).
    std::span<const uint8_t> seal(FrameType type, std::string_view pt, const CipherKey& key);

    // Seals and queues a frame to `c`, remembering `c` for flush(). False if not queued
    // (full: counted control_outq_full, or closed).
    bool to_conn_locked(const ConnectionPtr& c, FrameType type, std::string_view pt, const CipherKey& key,
                        ClientStats* stats);
    // Queues already-sealed frame bytes to `c` (relayed Data). Counts data_outq_full itself.
    enum class Queued { Ok, Full, Closed };
    Queued bytes_to_conn(const ConnectionPtr& c, const uint8_t* frame, size_t len);
    // Flushes every connection queued to since the last flush.
    void flush();

    // The JSON body of `self`'s HandshakeReply (superset shape) or KeepAlive reply (HEAD shape,
    // answering `req`), with the peer list cut to fit max_peers_per_reply and one frame of a
    // cipher with `overhead` bytes whose payload is at most `max_payload` bytes (one UDP datagram
    // for replies over the UDP relay). A KeepAlive reply echoes the request's `seq` if it had one.
    // Valid until the next call.
    const std::string& reply_body_locked(const Membership& m, ClientId self, FrameType type, const KeepAlive* req,
                                         const Limits& limits, size_t overhead, size_t max_payload = kMaxPayloadSize);

    // Applies a KeepAlive to `self` (addresses from the body, identity from the caller) and, if
    // its (ipv6, port) changed, queues a PeerUpdate to every online old-dialect peer of its cluster.
    void apply_keepalive_locked(Membership& m, ClientId self, const KeepAlive& ka);

private:
    Gateway& gw_;
    CryptoEngine& engine_;
    CounterBlock& counters_;
    std::vector<uint8_t> frame_buf_;
    std::string json_, json2_;
    std::vector<PeerDetail> peers_;
    std::vector<ConnectionPtr> dirty_;
};

}  // namespace rustun
