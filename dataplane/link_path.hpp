// The fleet's UDP link in a worker (docs/fleet.md, "UDP link through the dataplane"): Data for a
// client that is online on another member of the fleet leaves as a link frame to that member's
// dataplane, and link frames from other members' dataplanes are verified and their Rustun frame
// relayed to the local client, bytes unchanged. The formats and the fleet key are lib/fleet's,
// the same as the control plane's TCP link; what differs is the replay window (one per worker
// and member slot here: RSS keeps one member's frames on one queue) and the nonce's salt (top
// bit set here, clear in the control plane).
#pragma once

#include <cstdint>
#include <cstring>

#include "burst.hpp"
#include "fleet/link_frame.hpp"
#include "packet.hpp"

namespace rustun::dp {

// A UDP payload that is not a Rustun frame (check_frame said BadMagic) but a link frame's.
inline bool is_link_frame(const uint8_t* payload, uint32_t plen) {
    return plen >= fleet::kLinkFixedHeader && std::memcmp(payload, fleet::kLinkMagic, 4) == 0;
}

// What happened to a received link frame's mbuf.
enum class LinkRx : uint8_t {
    Tx,        // rewritten: its Rustun frame to the local client's live endpoint (link_rx)
    Consumed,  // copied to the control plane (TcpDeliver, link_to_controlplane_tcp) or dropped
               // (counted): the caller frees it
};

// At the start of every burst: the link sequences this worker reserved and did not use are
// dropped (a reservation lives for one burst: link_path.cpp, next_link_seq), and so are the
// members' MACs it looked up (Worker::link_macs).
inline void link_seq_reset(Worker& w) {
    w.link_seq_next = w.link_seq_end = 0;
    ++w.link_burst;
}

// Stage 1: `m` holds a link frame (is_link_frame) at p.payload_off. Checks, in this order: a
// fleet link is configured and the frame parses (drop_link_malformed), the sender holds a member
// slot (drop_link_unknown_sender: no crypto for strangers), the fleet-key tag
// (drop_link_bad_tag), the worker's window of that slot (drop_link_replay), the cluster and
// destination address have a client here (drop_link_no_route). Then the frame goes to the
// client's live endpoint, else to the control plane for its TCP connection (never over the link
// again: kFromFleetLink), else it is dropped (drop_dst_not_live, drop_deliver_ring_full,
// drop_oversize).
LinkRx link_receive(Worker& w, const Generation& g, rte_mbuf* m, const ParsedUdp& p, uint64_t src_mac, uint64_t now,
                    bool cp_alive, Counts& cnt, bool& deliver_pending);

// Stage 3b: the Data frame at m + payload_off (frame_len bytes, authenticated) is for a client of
// dense cluster `cluster` at inner address `dst_ip` (host order) that has no live endpoint here
// and is online on member slot `peer`. True: `m` is now the link frame to that member's
// dataplane, outer headers written (the caller transmits it and counts link_tx). False, with the
// frame's bytes untouched: it does not fit (MTU, headroom, tailroom), the cluster has no name or
// the slot is empty; the caller hands it to the control plane (link_fallback_tcp).
// To an IPv4 member the link tag is not written yet: `tag_job` says what to authenticate and where
// the tag goes, and the caller computes the burst's tags in one call (LinkAuth::tag_burst) before
// TX. To an IPv6 member it is (the UDP checksum covers it) and tag_job.tag is null.
bool link_send(Worker& w, const Generation& g, rte_mbuf* m, uint16_t payload_off, uint32_t frame_len, uint16_t peer,
               uint32_t cluster, uint32_t dst_ip, GmacJob& tag_job);

}  // namespace rustun::dp
