// What the stages of a worker's burst share (dataplane/worker.cpp, dataplane/link_path.cpp):
// the per-burst counter accumulator and the mbuf rewrites. Internal to the worker; no state.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

#include "dataplane.hpp"
#include "shm/dp_counters.hpp"

namespace rustun::dp {

// Counters of one burst, added to the worker's block once at its end.
struct Counts {
    uint64_t v[shm::kDpCounterCount] = {};
    void add(shm::DpCounter c, uint64_t n = 1) { v[static_cast<size_t>(c)] += n; }
};

// Strips everything before the UDP payload, keeps `payload_len` bytes of it (growing the data if
// needed) and prepends room for new outer headers; returns the header start or nullptr (no
// headroom or tailroom for that; `m` is then unchanged). `before`: bytes of room kept between
// the outer headers and the payload (the fleet link's header, link_path.cpp); they start at the
// returned pointer + outer_header_len(family). Precondition: `m` is one segment (stage 1 drops
// chains as drop_oversize). Only the mbuf's first cache line is read and written:
// rte_pktmbuf_trim and rte_pktmbuf_append find the last segment through m->next, in the second
// line, which a zero-copy PMD's RX leaves cold (a miss per relayed packet in the route stage).
inline uint8_t* reframe(rte_mbuf* m, uint16_t payload_off, uint32_t payload_len, uint8_t family,
                        uint32_t before = 0) {
    const uint32_t hl = outer_header_len(family) + before;
    const uint32_t start = uint32_t{m->data_off} + payload_off;  // the payload's offset in the buffer
    if (start < hl || start + payload_len > m->buf_len) return nullptr;
    m->data_off = static_cast<uint16_t>(start - hl);
    m->data_len = static_cast<uint16_t>(hl + payload_len);
    m->pkt_len = hl + payload_len;
    // All 64 bits at once: l2_len/l3_len are bit-fields, and two narrow read-modify-writes made
    // the second wait on the first (a store-forwarding stall per packet).
    m->tx_offload = rte_mbuf_tx_offload(kEthLen, family == 4 ? kIpv4Len : kIpv6Len, 0, 0, 0, 0, 0);
    return rte_pktmbuf_mtod(m, uint8_t*);
}

inline void set_tx_offload(const Runtime& rt, rte_mbuf* m, uint8_t family) {
    m->ol_flags = 0;
    if (family == 4 && rt.ipv4_cksum_offload) m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
    else if (family == 6) m->ol_flags = RTE_MBUF_F_TX_IPV6;
}

// Any worker's cache, then 0.
inline uint64_t cached_mac(const Runtime& rt, const EndpointKey& k) { return rt.mac_hint(k); }

template <typename Msg>
inline uint8_t* reserve_msg(shm::SpscRing& r, shm::MsgType type, uint32_t frame_len) {
    uint8_t* slot = r.reserve();
    if (slot == nullptr) return nullptr;
    shm::MsgHeader h{static_cast<uint16_t>(type), 0, static_cast<uint32_t>(offsetof(Msg, frame) + frame_len)};
    std::memcpy(slot, &h, sizeof h);
    return slot + sizeof h;
}

// The destination's endpoint if it is live: bound, and an authenticated packet came from it
// within the validity window (rt.live_tsc). The difference is signed: another worker or the main
// lcore may have stored a TSC read after this burst's `now` (that is fresh, not 2^64 cycles old).
inline bool live_endpoint(const Runtime& rt, const ClientLive& dc, uint64_t now, EndpointKey& dk) {
    const uint64_t last_rx = dc.last_rx_tsc.load(std::memory_order_relaxed);
    return dc.endpoint(dk) && last_rx != 0 && static_cast<int64_t>(now - last_rx) < static_cast<int64_t>(rt.live_tsc);
}

// Rewrites `m` to carry the frame at payload_off (frame_len bytes, unchanged) to `dc`'s live
// endpoint `dk`, ready for TX. False, with the drop counter in `why`: no IPv6 source address,
// over the uplink's MTU (IPv4 -> IPv6 adds 20 bytes: never send one the link would drop), no room.
// `src_mac`: the sender's next hop, the MAC of last resort.
inline bool relay_to_endpoint(Worker& w, rte_mbuf* m, uint16_t payload_off, uint32_t frame_len, const ClientLive& dc,
                              const EndpointKey& dk, uint64_t src_mac, shm::DpCounter& why) {
    const Runtime& rt = *w.rt;
    const shm::Endpoint to = dk.to_endpoint();
    if (to.family == 6 && !rt.src.has_addr6) {
        why = shm::DpCounter::drop_no_address6;
        return false;
    }
    if (frame_len + 8u + (to.family == 6 ? 40u : 20u) > rt.mtu) {
        why = shm::DpCounter::drop_oversize;
        return false;
    }
    uint64_t mac = dc.mac.load(std::memory_order_relaxed);
    if (!(mac & kMacKnown)) mac = cached_mac(rt, dk);
    if (!(mac & kMacKnown)) mac = src_mac;  // same uplink next hop as the sender's
    uint8_t* h = reframe(m, payload_off, frame_len, to.family);
    if (h == nullptr) {
        why = shm::DpCounter::drop_oversize;
        return false;
    }
    uint8_t dmac[6];
    unpack_mac(mac, dmac);
    write_outer(h, rt.src, dmac, to, static_cast<uint16_t>(frame_len), rt.ipv4_cksum_offload, w.ip_id++);
    set_tx_offload(rt, m, to.family);
    return true;
}

// Hands `frame` (one Data frame, untouched) to the control plane for the TCP connection of the
// client `dst_cp` (TcpDeliver on the worker's own ring: a flood of punts never takes its room).
// Returns the counter to add: `ok`, or why it was dropped (no control plane, too large, ring full).
inline shm::DpCounter deliver_to_controlplane(Worker& w, const Generation& g, bool cp_alive, uint32_t src_cp,
                                              uint32_t dst_cp, const uint8_t* frame, uint32_t frame_len,
                                              bool& pending, shm::DpCounter ok) {
    if (!cp_alive) return shm::DpCounter::drop_dst_not_live;
    if (frame_len > shm::kMaxFrameInSlot) return shm::DpCounter::drop_oversize;
    uint8_t* b = reserve_msg<shm::TcpDeliverMsg>(*w.to_cp_deliver, shm::MsgType::TcpDeliver, frame_len);
    if (b == nullptr) return shm::DpCounter::drop_deliver_ring_full;
    auto* tm = reinterpret_cast<shm::TcpDeliverMsg*>(b);
    tm->src_client = src_cp;
    tm->dst_client = dst_cp;
    tm->frame_len = static_cast<uint16_t>(frame_len);
    std::memset(tm->pad, 0, sizeof tm->pad);
    std::memset(tm->pad2, 0, sizeof tm->pad2);
    tm->cp_epoch = g.cp_epoch;
    std::memcpy(tm->frame, frame, frame_len);
    w.to_cp_deliver->advance();
    pending = true;
    return ok;
}

}  // namespace rustun::dp
