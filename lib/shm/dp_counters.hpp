// The dataplane's named counters: one X-macro table shared by rustun-dataplane (the writer),
// rustun-controlplane (which shows them in `rustunctl stats`) and the telemetry commands.
// Every drop reason has its own counter (docs/architecture.md, "Every drop is counted"). The order is part of the
// shared-memory layout: append only, and bump kChannelVersion when it changes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rustun::shm {

#define RUSTUN_DP_COUNTERS(X)                                                                      \
    X(rx_packets, "packets received from the uplink")                                             \
    X(tx_packets, "packets transmitted to the uplink")                                            \
    X(relayed, "Data frames relayed UDP to UDP")                                                  \
    X(to_controlplane_tcp, "Data frames handed to the control plane for TCP delivery")            \
    X(punted, "frames punted to the control plane (KeepAlive, Handshake, other types)")           \
    X(from_controlplane_tx, "frames sent for the control plane (TCP sender to UDP receiver, replies)") \
    X(stun_replies, "STUN Binding Success responses sent")                                        \
    X(exception_to_kernel, "packets passed to the kernel exception path")                         \
    X(exception_from_kernel, "packets from the kernel exception path sent out of the uplink")     \
    X(drop_not_ip, "dropped: not IPv4/IPv6 and no exception path")                               \
    X(drop_not_for_us, "dropped: not the relay port and no exception path")                      \
    X(drop_short_frame, "dropped: UDP payload shorter than a frame header or its declared length") \
    X(drop_bad_magic, "dropped: bad magic")                                                       \
    X(drop_bad_version, "dropped: bad version")                                                   \
    X(drop_unknown_endpoint, "dropped: Data from an endpoint with no session")                    \
    X(drop_auth_failed, "dropped: AEAD authentication failed")                                    \
    X(drop_not_ipv4_inner, "dropped: inner packet shorter than 20 bytes or not IPv4")             \
    X(drop_spoofed_source, "dropped: inner source not the sender's private IP or CIDRs")           \
    X(drop_no_route, "dropped: no client of the sender's cluster owns the destination")           \
    X(drop_cross_cluster, "dropped: destination belongs to another cluster")                      \
    X(drop_dst_not_live, "dropped: destination has no live UDP endpoint and no control plane")    \
    X(drop_oversize, "dropped: frame larger than the dataplane's maximum datagram")               \
    X(drop_bad_stun, "dropped: malformed STUN message")                                          \
    X(drop_ring_full, "dropped: punt ring to the control plane full")                                 \
    X(drop_tx_full, "dropped: uplink TX queue full")                                             \
    X(drop_exception_full, "dropped: exception path full")                                       \
    X(drop_session_table_full, "endpoint bindings refused: session table full")                   \
    X(drop_no_mbuf, "dropped: mbuf pool empty")                                                   \
    X(drop_malformed, "dropped: truncated or inconsistent Ethernet/IP/UDP headers")               \
    X(drop_no_address6, "dropped: IPv6 destination endpoint but no dataplane.address6")            \
    X(drop_bad_txframe, "dropped: TxFrame with a bad endpoint or length")                       \
    X(drop_port_rx_missed, "dropped by the port: RX ring full (ethdev imissed)")                \
    X(drop_port_rx_nombuf, "dropped by the port: no mbuf for a received packet (ethdev rx_nombuf)") \
    X(drop_port_rx_errors, "dropped by the port: erroneous received packets (ethdev ierrors)")  \
    X(drop_port_tx_errors, "dropped by the port: failed transmissions (ethdev oerrors)")          \
    X(drop_deliver_ring_full, "dropped: TcpDeliver ring to the control plane full")              \
    X(drop_bad_control, "control messages refused: bad type, length or content") \
    X(drop_replay, "dropped: Data from a replay-protected sender replayed or older than its window") \
    X(drop_punt_rate_limited, "dropped: punts from one source address over its rate limit")       \
    X(drop_stun_rate_limited, "dropped: STUN requests from one source address over its rate limit") \
    X(drop_port_kernel_ring, "dropped by the kernel before a port read them: net_af_packet ring full (tp_drops), tap queue full (tx_dropped)") \
    X(rt_busy_polls, "runtime: RX polls that returned packets (bursts processed)")                \
    X(rt_idle_polls, "runtime: RX polls that returned nothing")                                  \
    X(rt_burst_1, "runtime: bursts of 1 packet")                                                  \
    X(rt_burst_2_3, "runtime: bursts of 2-3 packets")                                             \
    X(rt_burst_4_7, "runtime: bursts of 4-7 packets")                                             \
    X(rt_burst_8_15, "runtime: bursts of 8-15 packets")                                           \
    X(rt_burst_16_31, "runtime: bursts of 16-31 packets")                                         \
    X(rt_burst_32_plus, "runtime: bursts of 32 or more packets")                                  \
    X(rt_cycles_busy, "runtime: TSC cycles from the RX call of a non-empty burst to the end of its processing") \
    X(rt_cycles_idle, "runtime: TSC cycles in empty polls and idle naps")                        \
    X(rt_cycles_rx, "runtime: TSC cycles in rte_eth_rx_burst calls that returned packets")      \
    X(rt_cycles_parse, "runtime: TSC cycles parsing, STUN, frame checks and punts (stage timing)") \
    X(rt_cycles_lookup, "runtime: TSC cycles in session lookup, prefetch and grouping by key (stage timing)") \
    X(rt_cycles_crypto, "runtime: TSC cycles in CryptoEngine::open_burst (stage timing)")       \
    X(rt_cycles_route, "runtime: TSC cycles in inner checks, route, liveness and rewrite (stage timing)") \
    X(rt_cycles_tx, "runtime: TSC cycles in rte_eth_tx_burst, frees and ring publication (stage timing)") \
    X(rt_stalled_bursts, "runtime: bursts that took over 1 ms (the worker was descheduled): kept out of the cycle counters above") \
    X(rt_stalled_packets, "runtime: packets of those bursts")                                      \
    X(rt_cycles_stalled, "runtime: TSC cycles of those bursts")                                  \
    X(link_tx, "fleet link: Data frames sealed and sent to the member a destination is homed on")  \
    X(link_rx, "fleet link: link frames verified and relayed to a local client's UDP endpoint")     \
    X(link_to_controlplane_tcp, "fleet link: verified link frames handed to the control plane for TCP delivery") \
    X(link_fallback_tcp, "fleet link: Data for a remote client handed to the control plane (does not fit the MTU or the mbuf, or no member slot)") \
    X(drop_link_malformed, "dropped: a link frame that does not parse, or link frames without a fleet link configured") \
    X(drop_link_unknown_sender, "dropped: a link frame from a gateway that is not a fleet member") \
    X(drop_link_bad_tag, "dropped: a link frame whose fleet-key tag does not verify")             \
    X(drop_link_replay, "dropped: a link frame replayed or older than its sender's window")        \
    X(drop_link_no_route, "dropped: a link frame for a cluster or address that has no client here") \
    X(drop_link_tx_no_member, "dropped: a LinkTx for a client with no member slot (yet), or a link frame that does not fit")

enum class DpCounter : uint16_t {
#define X(name, help) name,
    RUSTUN_DP_COUNTERS(X)
#undef X
        kCount
};
inline constexpr size_t kDpCounterCount = static_cast<size_t>(DpCounter::kCount);

// Adds `n` to a counter of a block with exactly one writer, the calling lcore (each worker and
// the main lcore have their own block: Channel::counters, Channel::main_counters): a plain load
// and store, no locked read-modify-write. Readers in either process see whole values.
inline void add_owned(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct DpCounterInfo {
    const char* name;
    const char* help;
};
inline constexpr DpCounterInfo kDpCounterInfo[] = {
#define X(name, help) {#name, help},
    RUSTUN_DP_COUNTERS(X)
#undef X
};

}  // namespace rustun::shm
