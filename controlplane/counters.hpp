// Control-plane counters: one X-macro table of named events, one counter each. Every drop or
// refusal has its own name (docs/architecture.md, "Every drop is counted"). Each worker thread owns one block
// (single writer, relaxed atomics); readers sum the blocks. Nothing here is synthesised: a
// counter is only ever incremented where the event happens.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace rustun::cp {

#define RUSTUN_CP_COUNTERS(X)                                                                  \
    X(conn_accepted, "TCP connections accepted")                                               \
    X(conn_closed, "TCP connections closed (any reason)")                                      \
    X(handshake_ok, "handshakes accepted")                                                     \
    X(handshake_unknown_identity, "handshakes refused: identity not configured (or not in the cluster whose key decrypted it)") \
    X(handshake_decrypt_failed, "first frames no cluster key could decrypt")                   \
    X(handshake_bad_json, "handshakes that decrypted but did not parse")                       \
    X(handshake_wrong_type, "first frames that were not a Handshake")                          \
    X(handshake_timeout, "connections closed: no handshake within handshake_timeout")          \
    X(handshake_rate_limited, "connections refused: handshake rate limit per source address")  \
    X(handshake_pending_source_full, "connections refused: handshake_pending_per_source connections of that address already wait for a handshake") \
    X(handshake_pending_prefix_full, "connections refused: handshake_pending_per_prefix6 connections of that IPv6 /64 already wait for a handshake") \
    X(handshake_pending_evicted, "connections without a handshake closed to admit a newer one (handshake_pending_max reached)") \
    X(first_byte_timeout, "connections closed: not a byte within first_byte_timeout")         \
    X(handshake_replayed, "handshakes refused: nonce already seen for that identity (replayed bytes)") \
    X(duplicate_identity_replaced, "older connections closed because the same identity connected again") \
    X(idle_timeout, "connections closed: silent for idle_timeout")                             \
    X(bad_magic, "connections closed: bad magic")                                              \
    X(bad_version, "connections closed: bad version")                                          \
    X(length_refused, "connections closed: declared payload length refused")                   \
    X(decrypt_failed, "connections closed: a frame failed authentication")                     \
    X(bad_json, "connections closed: a control frame did not parse")                           \
    X(unknown_type_skipped, "frames with a valid header and an unknown type, skipped")         \
    X(unexpected_type_ignored, "known frame types a client must not send (ignored)")           \
    X(keepalive_rx, "KeepAlive frames received")                                               \
    X(keepalive_identity_mismatch, "KeepAlives whose body named another identity (connection identity used)") \
    X(peer_update_tx, "PeerUpdate frames queued to old-dialect clients")                       \
    X(peer_list_capped, "replies whose peer list was cut to max_peers_per_reply or 65535 bytes") \
    X(data_rx, "Data frames received and authenticated")                                       \
    X(data_relayed, "Data frames delivered to a destination's queue")                          \
    X(data_not_ipv4, "Data dropped: shorter than 20 bytes or not IPv4")                        \
    X(data_spoofed_source, "Data dropped: inner source not the sender's private IP or CIDRs")   \
    X(data_no_route, "Data dropped: no client of the sender's cluster owns the destination")   \
    X(data_dst_offline, "Data dropped: destination client not connected")                      \
    X(data_outq_full, "Data dropped: destination output queue full")                           \
    X(data_src_closed, "Data dropped: its sender was closed, replaced or removed by a reload before the batch was routed") \
    X(control_outq_full, "control frames dropped: output queue full")                          \
    X(slow_client_disconnect, "connections closed: output queue stayed above half its bound for a keepalive_interval") \
    X(write_error, "connections closed: socket write error")                                   \
    X(read_error, "socket reads that failed (connection closed; e.g. reset by the peer)")      \
    X(kicked, "connections closed by rustunctl kick or reload")                                \
    X(payload_too_large, "frames not sent: payload would exceed 65535 bytes")                   \
    X(dataplane_attached, "times the control plane attached to a (new) dataplane channel")      \
    X(dataplane_syncs, "full state pushes to the dataplane")                                     \
    X(dataplane_fleet_updates, "messages telling the dataplane about fleet members and remote clients (UDP link)") \
    X(dataplane_lost, "times the dataplane went away (segment gone or replaced)")               \
    X(udp_keepalive_ok, "UDP KeepAlives accepted (endpoint bound or refreshed)")                \
    X(udp_endpoint_moved, "UDP bindings created or moved to a new endpoint")                    \
    X(udp_keepalive_replay, "UDP KeepAlives refused: seq not above the last accepted one or the start") \
    X(udp_keepalive_stale, "UDP KeepAlives refused: seq more than 30 s from the gateway clock") \
    X(udp_keepalive_no_seq, "UDP KeepAlives refused: no seq member (replay protection)")        \
    X(udp_punt_rejected, "punted UDP frames refused: bad frame, no key opens it, bad JSON or unknown identity") \
    X(udp_unexpected_type, "punted UDP frames of a type the gateway does not take over UDP")     \
    X(udp_to_tcp, "Data from UDP senders delivered over TCP")                                   \
    X(tcp_to_udp, "Data from TCP senders handed to the dataplane for UDP delivery")             \
    X(udp_tx_ring_full, "frames for the dataplane dropped: its TX ring was full")               \
    X(udp_deliver_stale, "TcpDeliver messages dropped: from an older state epoch")               \
    X(control_refused_peer, "control-socket connections refused: peer not root, our uid or in control_socket_group") \
    X(control_refused_busy, "control-socket connections refused: too many open at once")       \
    X(control_request_timeout, "control-socket connections closed: no complete request within the deadline") \
    X(control_request_too_large, "control-socket connections closed: request line longer than 64 KiB") \
    X(control_send_timeout, "control-socket connections dropped: answer not taken within the deadline") \
    X(dataplane_refused, "attach attempts refused: unsafe channel (owner, mode, symlink, directory) or bad layout") \
    X(dp_msg_rejected, "messages from the dataplane refused: bad type or length, or TcpDeliver not exactly one Data frame") \
    X(udp_keepalive_challenge, "UDP KeepAlives from an unverified endpoint: cookie sent, not bound") \
    X(udp_cookie_bad, "UDP KeepAlives whose return-routability cookie did not verify")          \
    X(udp_reply_limited_identity, "UDP KeepAlive replies not sent: per-identity rate limit")   \
    X(udp_reply_limited_source, "UDP KeepAlive replies not sent: per-source-address rate limit") \
    X(udp_punt_hint_first, "punted KeepAlives opened by the key of the client bound to the source endpoint (the dataplane's hint)") \
    X(auth_hint_hit, "Handshakes and punted KeepAlives accepted by a hinted key (nonce tag, bound endpoint, source address)") \
    X(auth_hint_miss, "Handshakes and punted KeepAlives that had hints, none of which accepted them (full trial followed)") \
    X(auth_no_hint, "Handshakes and punted KeepAlives without any hint (full trial)") \
    X(auth_trial_opens, "decryptions attempted by trial authentication (at most one per distinct key and frame)") \
    X(fleet_ownership_taken, "fleet: client records taken over from another gateway (a newer session here)") \
    X(fleet_ownership_lost, "fleet: local sessions closed because a newer session of the identity lives on another gateway") \
    X(fleet_ownership_retries, "fleet: ownership transactions retried after a lost revision compare") \
    X(fleet_etcd_reconnects, "fleet: lease re-granted and records re-published after etcd was lost") \
    X(fleet_etcd_errors, "fleet: etcd calls that failed (the local gateway goes on serving)") \
    X(fleet_lease_lost, "fleet: our lease expired or could not be renewed (records re-published on a new one)") \
    X(fleet_publish_writes, "fleet: client and gateway records written or deleted in etcd") \
    X(fleet_publish_txns, "fleet: etcd transactions that wrote or deleted client records (one carries up to 64)") \
    X(fleet_publish_failures, "fleet: record writes that failed (retried)") \
    X(fleet_publish_gone, "fleet: queued clients offline by their turn with no record of ours to delete (nothing written)") \
    X(fleet_watch_events, "fleet: watch events applied to the remote view") \
    X(fleet_watch_resyncs, "fleet: full listings applied to the remote view (first listing, after a compaction)") \
    X(fleet_view_builds, "fleet: snapshots of the remote view built and published (at most one per watch turn)") \
    X(fleet_view_build_usec, "fleet: microseconds spent building remote-view snapshots (changed clusters rebuilt, the others shared)") \
    X(fleet_bad_records, "fleet: records under the prefix that did not decode (ignored)") \
    X(fleet_view_stale, "fleet: times the remote view turned stale (no etcd for 3 x lease_ttl)") \
    X(fleet_link_queued, "Data for a client homed on another gateway queued to the fleet link") \
    X(fleet_link_udp_handed, "Data from a TCP sender for a client homed on another gateway handed to our dataplane for the UDP link (LinkTx)") \
    X(fleet_link_tx, "link frames written to another gateway's link connection") \
    X(fleet_link_unknown_gateway, "link frames not sent: the home gateway has no link address in the fleet view (or is this gateway)") \
    X(fleet_link_queue_full, "link frames not sent: the peer gateway's queue was full") \
    X(fleet_link_peer_down, "link frames not sent: the peer gateway could not be connected (back-off)") \
    X(fleet_link_conn_lost, "link frames not sent: the link connection broke before they were written") \
    X(fleet_link_bad_destination, "link frames not sent: a cluster name or identity over 255 bytes") \
    X(fleet_link_connects, "link connections established to other gateways") \
    X(fleet_link_connect_failed, "link connection attempts to other gateways that failed") \
    X(fleet_link_rx, "link frames received and verified (fleet key, member, replay window)") \
    X(fleet_link_delivered, "relayed frames from other gateways delivered to a local client (TCP queue or UDP TX ring)") \
    X(fleet_link_rx_bad_format, "link frames refused: bad magic, version, lengths, or not one Data frame (connection closed)") \
    X(fleet_link_rx_bad_tag, "link frames refused: the fleet key's tag did not verify (connection closed)") \
    X(fleet_link_rx_unknown_sender, "link frames refused: the sender is not a gateway of the fleet view (connection closed)") \
    X(fleet_link_rx_former_member, "link frames accepted from a gateway that left the fleet view less than 10 minutes ago (etcd outage)") \
    X(fleet_link_rx_replay, "link frames refused: sequence already received from that gateway") \
    X(fleet_link_rx_too_old, "link frames refused: sequence below the sender's replay window") \
    X(fleet_link_rx_no_client, "link frames dropped: no client of that cluster, identity or address is configured here") \
    X(fleet_link_rx_dst_offline, "link frames dropped: the destination is not connected here") \
    X(fleet_link_rx_outq_full, "link frames dropped: the destination's output queue was full") \
    X(fleet_link_inbound_refused, "inbound link connections refused: too many open")

enum class Counter : uint16_t {
#define X(name, help) name,
    RUSTUN_CP_COUNTERS(X)
#undef X
        kCount
};

constexpr size_t kCounterCount = static_cast<size_t>(Counter::kCount);

struct CounterInfo {
    const char* name;
    const char* help;
};
const CounterInfo& counter_info(Counter c);

// One block per writer thread, on its own cache lines.
struct alignas(64) CounterBlock {
    std::array<std::atomic<uint64_t>, kCounterCount> v{};
    void inc(Counter c, uint64_t n = 1) {
        auto& a = v[static_cast<size_t>(c)];
        a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    uint64_t get(Counter c) const { return v[static_cast<size_t>(c)].load(std::memory_order_relaxed); }
};

}  // namespace rustun::cp
