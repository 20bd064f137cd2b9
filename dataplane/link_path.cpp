#include "link_path.hpp"

#include <rte_branch_prediction.h>

#include "crypto/secure_wipe.hpp"  // tag16_equal
#include "fleet/link_auth.hpp"

namespace rustun::dp {

namespace {

using C = shm::DpCounter;

// The next link sequence of this worker: kMaxBurst reserved at a time from the process-wide
// counter (one atomic add per burst that sends over the link, not per frame). A reservation
// lives for one burst only (process_burst drops what is left, link_seq_reset): a worker that
// seals rarely must not send, much later, sequences far below what the others have sent since
// (the receiver's window is 1984 wide). So frames of the workers interleave out of order by at
// most a burst each.
uint64_t next_link_seq(Worker& w) {
    if (w.link_seq_next == w.link_seq_end) {
        w.link_seq_next = w.rt->link_seq.fetch_add(cap::kMaxBurst, std::memory_order_relaxed);
        w.link_seq_end = w.link_seq_next + cap::kMaxBurst;
    }
    return w.link_seq_next++;
}

}  // namespace

LinkRx link_receive(Worker& w, const Generation& g, rte_mbuf* m, const ParsedUdp& p, uint64_t src_mac, uint64_t now,
                    bool cp_alive, Counts& cnt, bool& deliver_pending) {
    const Runtime& rt = *w.rt;
    uint8_t* payload = rte_pktmbuf_mtod(m, uint8_t*) + p.payload_off;
    fleet::LinkFrameView v;
    if (unlikely(!g.link) || fleet::parse_link_frame({payload, p.payload_len}, v) != fleet::LinkCheck::Ok) {
        cnt.add(C::drop_link_malformed);
        return LinkRx::Consumed;
    }
    const LinkState& link = *g.link;
    const int peer = link.peer_of(v.h.sender);
    if (peer < 0) {
        cnt.add(C::drop_link_unknown_sender);
        return LinkRx::Consumed;
    }
    uint8_t expect[fleet::kLinkTagLen];
    w.link_auth->tag(*link.key, v.nonce, payload, v.authenticated_len, expect);
    if (!tag16_equal(expect, v.tag)) {
        cnt.add(C::drop_link_bad_tag);
        return LinkRx::Consumed;
    }
    Worker::LinkWindow& lw = w.link_windows[peer];
    if (lw.version != link.peers[peer].version) lw = Worker::LinkWindow{link.peers[peer].version, {}};
    if (lw.window.check_and_update(v.h.seq) != fleet::LinkCheck::Ok) {
        cnt.add(C::drop_link_replay);
        return LinkRx::Consumed;
    }
    // Authentic and fresh: its source is the member's dataplane, whose next hop we now know.
    const EndpointKey from = EndpointKey::from(source_endpoint(p));
    w.macs.put(from, endpoint_hash(from), src_mac);
    const int64_t cluster = g.cluster_of(v.h.cluster);
    const ClientId dst = cluster < 0 || v.h.dst_ip == 0 ? kNoClient
                                                        : g.routes.lookup(static_cast<ClusterId>(cluster), v.h.dst_ip);
    if (dst == kNoClient) {
        cnt.add(C::drop_link_no_route);
        return LinkRx::Consumed;
    }
    const ClientLive& dc = g.clients[dst];
    const uint16_t frame_off = static_cast<uint16_t>(p.payload_off + (v.frame - payload));
    EndpointKey dk;
    if (live_endpoint(rt, dc, now, dk)) {
        shm::DpCounter why;
        if (!relay_to_endpoint(w, m, frame_off, v.h.frame_len, dc, dk, src_mac, why)) {
            cnt.add(why);
            return LinkRx::Consumed;
        }
        cnt.add(C::link_rx);
        return LinkRx::Tx;
    }
    // Never relayed on (kFromFleetLink): delivered here or dropped.
    cnt.add(deliver_to_controlplane(w, g, cp_alive, shm::kFromFleetLink, dc.cp_id, v.frame, v.h.frame_len,
                                    deliver_pending, C::link_to_controlplane_tcp));
    return LinkRx::Consumed;
}

bool link_send(Worker& w, const Generation& g, rte_mbuf* m, uint16_t payload_off, uint32_t frame_len, uint16_t peer,
               uint32_t cluster, uint32_t dst_ip, GmacJob& tag_job) {
    const Runtime& rt = *w.rt;
    const LinkState& link = *g.link;
    const LinkPeer& to_peer = link.peers[peer];
    if (to_peer.name.empty() || cluster >= g.cluster_names.size() || g.cluster_names[cluster].empty() ||
        (to_peer.to.family == 6 && !rt.src.has_addr6))
        return false;
    fleet::LinkHeader h;
    h.sender = link.sender;
    h.cluster = g.cluster_names[cluster];
    h.dst_ip = dst_ip;
    h.frame_len = frame_len;
    h.salt = rt.link_salt;
    const uint32_t header = static_cast<uint32_t>(fleet::link_header_size(h));
    const uint32_t total = header + frame_len + static_cast<uint32_t>(fleet::kLinkTagLen);
    const uint32_t outer = outer_header_len(to_peer.to.family);
    // Everything checked before the mbuf changes: on false its frame bytes must be intact
    // (reframe refuses without touching it). The new packet is [outer][link header][frame][tag]
    // around the frame where it lies.
    if (total + 8u + (to_peer.to.family == 6 ? 40u : 20u) > rt.mtu) return false;
    uint8_t* oh = reframe(m, payload_off, frame_len + static_cast<uint32_t>(fleet::kLinkTagLen), to_peer.to.family, header);
    if (oh == nullptr) return false;
    h.seq = next_link_seq(w);
    uint8_t* lh = oh + outer;
    fleet::encode_link_header(h, {lh, header});
    tag_job = GmacJob{lh + fleet::kLinkNonceOffset, lh, header + frame_len, lh + header + frame_len};
    if (to_peer.to.family == 6) {
        // IPv6's UDP checksum (write_outer) covers the tag: it must be there first.
        w.link_auth->tag(*link.key, tag_job.nonce, tag_job.aad, tag_job.aad_len, tag_job.tag);
        tag_job.tag = nullptr;
    }
    // The member's next hop as learned from its own link frames (link_receive); before the first
    // one, broadcast on the segment, as for the control plane's TxFrames (docs/fleet.md, "UDP link
    // through the dataplane": behind a router a member is reached once it has sent a frame).
    Worker::LinkMac& memo = w.link_macs[peer];
    if (memo.burst != w.link_burst) memo = Worker::LinkMac{w.link_burst, cached_mac(rt, to_peer.key)};
    const uint64_t mac = memo.mac;
    uint8_t dmac[6];
    if (mac & kMacKnown) unpack_mac(mac, dmac);
    else std::memset(dmac, 0xff, 6);
    write_outer(oh, rt.src, dmac, to_peer.to, static_cast<uint16_t>(total), rt.ipv4_cksum_offload, w.ip_id++);
    set_tx_offload(rt, m, to_peer.to.family);
    return true;
}

}  // namespace rustun::dp
