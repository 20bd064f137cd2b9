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
// needed) and prepends room for new outer headers; returns the header start or nullptr.
inline uint8_t* reframe(rte_mbuf* m, uint16_t payload_off, uint32_t payload_len, uint8_t family) {
    rte_pktmbuf_adj(m, payload_off);
    if (payload_len <= m->data_len) {
        rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - payload_len));
    } else if (rte_pktmbuf_append(m, static_cast<uint16_t>(payload_len - m->data_len)) == nullptr) {
        return nullptr;
    }
    const uint32_t hl = outer_header_len(family);
    auto* h = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, static_cast<uint16_t>(hl)));
    if (h == nullptr) return nullptr;
    m->l2_len = kEthLen;
    m->l3_len = family == 4 ? kIpv4Len : kIpv6Len;
    return h;
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

}  // namespace rustun::dp
