// The worker hot loop: one RX/TX queue pair, run to completion, one stage at a time across the
// burst (docs/dataplane.md has the stage list and the cycle budget). No syscall, allocation,
// lock or log line per packet; counters are accumulated per burst and added once.
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <span>

#include "dataplane.hpp"
#include "burst.hpp"
#include "frame_check.hpp"
#include "link_path.hpp"
#include "shm/dp_runtime.hpp"
#include "proto/frame.hpp"
#include "routing/inner_packet_policy.hpp"
#include "stun.hpp"

namespace rustun::dp {

static_assert(kOpenHeadLen >= kIpv4HeaderMin, "a head_only open must cover the inner IPv4 header");

namespace {

using C = shm::DpCounter;

// Stage timing (docs/dataplane.md, "Runtime"): one rte_rdtsc per stage per burst, never per
// packet; the cycles since the previous lap go to the stage's rt_cycles_* counter. Off
// (dataplane.stage_cycles: 0): no reads at all, the stage counters stay 0.
struct StageClock {
    bool on;
    uint64_t last;
    void lap(Counts& cnt, C stage) {
        if (!on) return;
        const uint64_t t = rte_rdtsc();
        cnt.add(stage, t - last);
        last = t;
    }
};

// The drop counter of each refusal of the inner-packet policy (precondition: v != Forward).
inline C inner_drop_counter(InnerVerdict v) {
    switch (v) {
        case InnerVerdict::NotIpv4: return C::drop_not_ipv4_inner;
        case InnerVerdict::SpoofedSource: return C::drop_spoofed_source;
        case InnerVerdict::CrossCluster: return C::drop_cross_cluster;
        default: return C::drop_no_route;
    }
}

struct DataItem {
    rte_mbuf* m;
    uint8_t* frame;  // Rustun frame inside the mbuf
    uint16_t payload_off;
    uint16_t frame_len;
    uint32_t hash;
    uint32_t session;
    uint64_t src_mac;
    EndpointKey key;
    uint8_t group;       // stage 2b: index of its key among the burst's distinct keys
    uint8_t open;        // its crypto item: open[] is grouped by key, not in burst order
    InnerDecision inner; // stage 3a: the inner-packet policy's verdict (status Ok only)
};

// Prefetches the `lines` cache lines of a key the crypto may read (Generation::key_lines, known
// without touching the key): the first line (method, ChaCha20 key) alone for ChaCha20, XOR and
// plain; for AES-256-GCM also the 1 KB schedule after it and the verify path's GHASH powers
// (docs/dataplane.md, "Cycle budget"). Prefetching all 22 lines of every key, whatever its
// method, fetched 1.3 KB of unused AES schedule per cold ChaCha20 key.
inline void prefetch_key(const CipherKey* k, uint32_t lines) {
    const auto* p = reinterpret_cast<const uint8_t*>(k);
    for (uint32_t l = 0; l < lines; ++l) rte_prefetch0(p + 64 * l);
}

// Prefetches the lines of a Data packet after its first (requested with the whole burst's first
// lines), up to kPrefetchBytes: the crypto reads them two stages later. With a zero-copy PMD
// (memif's zero-copy client, a NIC's DMA) the bytes were written by another agent and are not in
// this core's cache; with a copying PMD they are and the prefetches are nearly free. Beyond
// kPrefetchBytes the hardware's stream prefetcher keeps up with the sequential read.
constexpr uint32_t kPrefetchBytes = 512;
inline void prefetch_frame(const uint8_t* d, uint32_t len) {
    const uintptr_t first = reinterpret_cast<uintptr_t>(d) & ~uintptr_t{63};
    const uintptr_t end = reinterpret_cast<uintptr_t>(d) + std::min(len, kPrefetchBytes);
    for (uintptr_t line = first + 64; line < end; line += 64) rte_prefetch0(reinterpret_cast<const void*>(line));
}

inline bool is_our_address(const Runtime& rt, const ParsedUdp& p) {
    if (p.family == 4) return std::memcmp(p.dst_addr, rt.src.addr4, 4) == 0;
    return rt.src.has_addr6 && std::memcmp(p.dst_addr, rt.src.addr6, 16) == 0;
}

// `t_poll`: TSC before the RX call that returned these n packets; `now`: TSC right after it.
void process_burst(Worker& w, const Generation& g, rte_mbuf** rx, uint16_t n, uint64_t t_poll, uint64_t now) {
    Runtime& rt = *w.rt;
    Counts cnt;
    cnt.add(C::rx_packets, n);
    cnt.add(C::rt_busy_polls);
    cnt.add(shm::burst_bucket(n));
    cnt.add(C::rt_cycles_rx, now - t_poll);
    StageClock clock{rt.cfg.stage_cycles != 0, now};
    const bool cp_alive = rt.cp_alive.load(std::memory_order_relaxed);

    rte_mbuf* tx[cap::kMaxBurst];
    uint16_t ntx = 0;
    rte_mbuf* exc[cap::kMaxBurst];
    uint16_t nexc = 0;
    rte_mbuf* drop[cap::kMaxBurst];
    uint16_t ndrop = 0;
    DataItem items[cap::kMaxBurst];
    uint16_t nitems = 0;
    bool to_cp_pending = false;
    bool deliver_pending = false;
    const bool exception = rt.tap_port != 0xffff;
    link_seq_reset(w);

    // ---- stage 1: parse, STUN, frame header checks, punts; collect Data ----
    // The first line of every packet of the burst is requested before the first is parsed: a
    // zero-copy PMD (memif's client, a NIC's DMA) leaves the bytes in another agent's cache, and
    // one packet of prefetch distance hid almost none of that latency (the Ethernet header load
    // was the hottest instruction of stage 1). The misses now overlap each other.
    for (uint16_t i = 0; i < n; ++i) rte_prefetch0(rte_pktmbuf_mtod(rx[i], void*));
    // Then each packet's session slot, from its source address and port (peek_udp_source: the
    // bytes parse_udp() reads them from), as soon as its first line is there: the slot's miss (DRAM
    // with many endpoints) overlaps the rest of the burst's parsing instead of starting after it.
    // pre_hash[i] is the packet's endpoint_hash, valid when pre_ok bit i is set; stage 1 uses it
    // only for a packet parse_udp() accepted, whose key comes from the same bytes.
    uint32_t pre_hash[cap::kMaxBurst];
    uint64_t pre_ok = 0;
    static_assert(cap::kMaxBurst <= 64);
    for (uint16_t i = 0; i < n; ++i) {
        uint8_t family;
        uint16_t port;
        const uint8_t* addr;
        if (!peek_udp_source(rte_pktmbuf_mtod(rx[i], const uint8_t*), rx[i]->data_len, family, port, addr)) continue;
        pre_hash[i] = endpoint_hash(EndpointKey::of(family, port, addr));
        pre_ok |= uint64_t{1} << i;
        g.sessions.prefetch(pre_hash[i]);
    }
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = rx[i];
        if (unlikely(m->nb_segs != 1)) {
            cnt.add(C::drop_oversize);
            drop[ndrop++] = m;
            continue;
        }
        uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
        ParsedUdp p;
        const L3Kind kind = parse_udp(d, m->data_len, p);
        if (unlikely(kind != L3Kind::Udp || p.dst_port != rt.relay_port || !is_our_address(rt, p))) {
            if (kind == L3Kind::Malformed) {
                cnt.add(C::drop_malformed);
                drop[ndrop++] = m;
            } else if (exception) {
                exc[nexc++] = m;
            } else {
                cnt.add(kind == L3Kind::NotIp ? C::drop_not_ip : C::drop_not_for_us);
                drop[ndrop++] = m;
            }
            continue;
        }
        uint8_t* payload = d + p.payload_off;
        const uint32_t plen = p.payload_len;
        const EndpointKey key = EndpointKey::of(p.family, p.src_port, p.src_addr);
        const uint64_t src_mac = pack_mac(p.src_mac);

        if (looks_like_stun(payload, plen)) {
            const shm::Endpoint from = key.to_endpoint();
            // Reflection: every reply goes to a source address nobody verified (docs/dataplane.md).
            if (!w.limiter.allow(SourceLimiter::source_key(from), SourceLimiter::Stun, now, rt.stun_interval,
                                 rt.stun_tolerance)) {
                cnt.add(C::drop_stun_rate_limited);
                drop[ndrop++] = m;
                continue;
            }
            uint8_t reply[kStunMaxReplyLen];
            uint32_t rlen = 0;
            if (stun_binding_reply(payload, plen, from, reply, rlen) != StunResult::Reply) {
                cnt.add(C::drop_bad_stun);
                drop[ndrop++] = m;
                continue;
            }
            if (from.family == 6 && !rt.src.has_addr6) {  // cannot happen: we matched address6
                cnt.add(C::drop_no_address6);
                drop[ndrop++] = m;
                continue;
            }
            uint8_t* h = reframe(m, p.payload_off, rlen, from.family);
            if (h == nullptr) {
                cnt.add(C::drop_oversize);
                drop[ndrop++] = m;
                continue;
            }
            std::memcpy(h + outer_header_len(from.family), reply, rlen);
            uint8_t mac[6];
            unpack_mac(src_mac, mac);
            write_outer(h, rt.src, mac, from, static_cast<uint16_t>(rlen), rt.ipv4_cksum_offload, w.ip_id++);
            set_tx_offload(rt, m, from.family);
            cnt.add(C::stun_replies);
            tx[ntx++] = m;
            continue;
        }
        // Header checks (frame_check.hpp); bytes after 8 + payload_length are ignored.
        const FrameCheck fc = check_frame(payload, plen);
        if (unlikely(fc.verdict == FrameVerdict::BadMagic && is_link_frame(payload, plen))) {
            // Another member's dataplane relays a frame to one of our clients (link_path.hpp).
            if (link_receive(w, g, m, p, src_mac, now, cp_alive, cnt, deliver_pending) == LinkRx::Tx) tx[ntx++] = m;
            else drop[ndrop++] = m;
            continue;
        }
        if (unlikely(fc.verdict != FrameVerdict::Data && fc.verdict != FrameVerdict::Control)) {
            cnt.add(fc.verdict == FrameVerdict::BadMagic     ? C::drop_bad_magic
                    : fc.verdict == FrameVerdict::BadVersion ? C::drop_bad_version
                                                             : C::drop_short_frame);
            drop[ndrop++] = m;
            continue;
        }
        const uint32_t flen = fc.frame_len;
        const uint32_t hash = (pre_ok >> i) & 1 ? pre_hash[i] : endpoint_hash(key);
        if (fc.verdict == FrameVerdict::Control) {
            if (flen > shm::kMaxFrameInSlot) {
                cnt.add(C::drop_oversize);
            } else if (!w.limiter.allow(SourceLimiter::source_key(key.to_endpoint()), SourceLimiter::Punt, now, rt.punt_interval,
                                        rt.punt_tolerance)) {
                // One source cannot fill the ring the control plane trial-decrypts from.
                cnt.add(C::drop_punt_rate_limited);
            } else if (uint8_t* b = reserve_msg<shm::PuntMsg>(*w.to_cp, shm::MsgType::Punt, flen)) {
                const uint32_t s = g.sessions.lookup(key, hash);
                shm::PuntMsg* pm = reinterpret_cast<shm::PuntMsg*>(b);
                pm->from = key.to_endpoint();
                pm->client_hint = s == kNoSession ? shm::kNoClientHint : g.clients[s].cp_id;
                pm->frame_len = static_cast<uint16_t>(flen);
                std::memset(pm->pad, 0, sizeof pm->pad);
                std::memcpy(pm->frame, payload, flen);
                w.to_cp->advance();
                to_cp_pending = true;
                w.macs.put(key, hash, src_mac);
                cnt.add(C::punted);
            } else {
                cnt.add(C::drop_ring_full);
            }
            drop[ndrop++] = m;  // consumed (copied into the ring) or dropped
            continue;
        }
        if (!((pre_ok >> i) & 1)) g.sessions.prefetch(hash);
        prefetch_frame(d, p.payload_off + flen);
        items[nitems++] = DataItem{m, payload, p.payload_off, static_cast<uint16_t>(flen), hash, kNoSession, src_mac, key, 0, 0, {}};
    }

    clock.lap(cnt, C::rt_cycles_parse);

    // ---- stage 2: session -> client -> key, each prefetched a pass ahead; one crypto call ----
    // 2a. The session slots were prefetched in stage 1: look them up, prefetch the client records.
    uint8_t sess[cap::kMaxBurst];  // indexes into items[] of the Data with a session, in burst order
    uint16_t nlive = 0;
    for (uint16_t i = 0; i < nitems; ++i) {
        DataItem& it = items[i];
        it.session = g.sessions.lookup(it.key, it.hash);
        if (it.session == kNoSession) {
            cnt.add(C::drop_unknown_endpoint);
            drop[ndrop++] = it.m;
            continue;
        }
        if (it.frame_len - kFrameHeaderSize > cap::kScratchPerItem) {
            cnt.add(C::drop_oversize);
            drop[ndrop++] = it.m;
            continue;
        }
        rte_prefetch0(&g.clients[it.session]);
        sess[nlive++] = static_cast<uint8_t>(i);
    }
    // 2b. Keys: each distinct key of the burst is prefetched once (an AES-GCM key is 21 lines, others 1) and
    // the crypto items are grouped by key (a key's schedule stays hot for its whole group). Only
    // the crypto call sees that order: stage 3 walks the burst in its received order.
    const CipherKey* keys[cap::kMaxBurst];
    uint8_t group_size[cap::kMaxBurst];
    uint16_t nkeys = 0;
    for (uint16_t j = 0; j < nlive; ++j) {
        DataItem& it = items[sess[j]];
        const ClientLive& c = g.clients[it.session];
        const CipherKey* k = c.key;
        uint16_t gi = 0;
        while (gi < nkeys && keys[gi] != k) ++gi;
        if (gi == nkeys) {
            keys[nkeys] = k;
            group_size[nkeys++] = 0;
            prefetch_key(k, g.key_lines[c.cluster]);
        }
        it.group = static_cast<uint8_t>(gi);
        ++group_size[gi];
    }
    uint8_t group_at[cap::kMaxBurst];  // first open[] index of each group
    for (uint16_t gi = 0, at = 0; gi < nkeys; at = static_cast<uint16_t>(at + group_size[gi++])) group_at[gi] = static_cast<uint8_t>(at);
    OpenItem open[cap::kMaxBurst];
    for (uint16_t j = 0; j < nlive; ++j) {
        DataItem& it = items[sess[j]];
        it.open = group_at[it.group]++;
        OpenItem& o = open[it.open];
        o = OpenItem{};
        o.key = keys[it.group];
        o.payload = it.frame + kFrameHeaderSize;
        o.payload_len = it.frame_len - kFrameHeaderSize;
        o.out = w.scratch.get() + uint32_t{it.open} * cap::kScratchPerItem;
        // The relay forwards the received bytes and routes on the inner IPv4 header only: verify
        // over the ciphertext, decrypt just the head (docs/dataplane.md, "Verify, don't decrypt").
        o.head_only = true;
    }
    clock.lap(cnt, C::rt_cycles_lookup);
    if (nlive) w.engine->open_burst(std::span<OpenItem>(open, nlive));
    clock.lap(cnt, C::rt_cycles_crypto);

    // ---- stage 3a: routes (no side effects), prefetch the destinations' records ----
    for (uint16_t j = 0; j < nlive; ++j) {
        DataItem& it = items[sess[j]];
        const OpenItem& o = open[it.open];
        if (o.status != CryptoStatus::Ok) continue;
        it.inner = route_inner_packet(g.routes, it.session, g.clients[it.session].cluster, o.plaintext, o.plaintext_len,
                                      &g.any_cluster);
        if (it.inner.verdict == InnerVerdict::Forward) rte_prefetch0(&g.clients[it.inner.dst]);
    }

    // ---- stage 3b: per packet in received order: replay, liveness; rewrite and TX, or hand to TCP ----
    GmacJob link_tags[cap::kMaxBurst];  // the link frames' tags, computed together after the loop
    uint16_t nlink = 0;
    for (uint16_t j = 0; j < nlive; ++j) {
        DataItem& it = items[sess[j]];
        const OpenItem& o = open[it.open];
        if (o.status != CryptoStatus::Ok) {
            // Includes an AEAD payload shorter than nonce + tag (CryptoStatus::TooShort): the
            // frame itself is complete, it just cannot authenticate. drop_short_frame is only for
            // datagrams shorter than a header or than the declared length (stage 1).
            cnt.add(C::drop_auth_failed);
            drop[ndrop++] = it.m;
            continue;
        }
        const ClientLive& src = g.clients[it.session];
        // Liveness only from a provably fresh frame: a sender that opted into replay protection
        // (counter nonce: bytes 4..11 of the AEAD nonce, big-endian) and whose counter is new to
        // this worker's window and not below its floor. Anything else authenticated may be a
        // replay (docs/protocol-extensions.md): it is relayed but refreshes nothing.
        if (const uint64_t floor = src.replay_floor.load(std::memory_order_relaxed);
            floor != 0 && src.key->prefix_len() >= 12) {
            const uint8_t* nonce = it.frame + kFrameHeaderSize + 4;
            const uint64_t ctr = load_be64(nonce);
            if (ctr < floor || !g.window(w.index, it.session).check_and_update(ctr)) {
                cnt.add(C::drop_replay);
                drop[ndrop++] = it.m;
                continue;
            }
            src.last_rx_tsc.store(now, std::memory_order_relaxed);
        }
        if (src.mac.load(std::memory_order_relaxed) != it.src_mac) src.mac.store(it.src_mac, std::memory_order_relaxed);
        // The inner-packet policy both planes share (IPv4, source, route within the cluster),
        // decided in stage 3a.
        const InnerDecision inner = it.inner;
        if (inner.verdict != InnerVerdict::Forward) {
            cnt.add(inner_drop_counter(inner.verdict));
            drop[ndrop++] = it.m;
            continue;
        }
        const ClientId dst = inner.dst;
        const ClientLive& dc = g.clients[dst];
        EndpointKey dk;
        // Live = a fresh authenticated packet from it (replay-checked Data here, or a KeepAlive
        // the control plane accepted and confirmed with an EndpointSet) within the validity window
        // (rt.live_tsc); 0 = never.
        const bool live = live_endpoint(rt, dc, now, dk);
        // Not live here but online on another member of the fleet: over the UDP link to its
        // dataplane (link_path.hpp); what does not fit goes to the control plane as before.
        uint16_t peer = shm::kNoLinkPeer;
        if (!live && g.link) peer = g.remote_peer[dst].load(std::memory_order_relaxed);
        if (unlikely(peer != shm::kNoLinkPeer)) {
            if (link_send(w, g, it.m, it.payload_off, it.frame_len, peer, src.cluster, load_be32(o.plaintext + 16),
                          link_tags[nlink])) {
                if (link_tags[nlink].tag != nullptr) ++nlink;
                cnt.add(C::link_tx);
                tx[ntx++] = it.m;
                continue;
            }
            cnt.add(C::link_fallback_tcp);
        }
        if (live) {
            C why;
            if (relay_to_endpoint(w, it.m, it.payload_off, it.frame_len, dc, dk, it.src_mac, why)) {
                cnt.add(C::relayed);
                tx[ntx++] = it.m;
            } else {
                cnt.add(why);
                drop[ndrop++] = it.m;
            }
            continue;
        }
        // The received bytes, untouched, for the destination's TCP connection.
        cnt.add(deliver_to_controlplane(w, g, cp_alive, src.cp_id, dc.cp_id, it.frame, it.frame_len, deliver_pending,
                                        C::to_controlplane_tcp));
        drop[ndrop++] = it.m;
    }
    if (nlink) w.link_auth->tag_burst(*g.link->key, link_tags, nlink);

    clock.lap(cnt, C::rt_cycles_route);

    // ---- stage 4: TX, exception hand-off, ring publication, counters ----
    if (ntx) {
        const uint16_t sent = rte_eth_tx_burst(rt.port_id, w.queue, tx, ntx);
        cnt.add(C::tx_packets, sent);
        if (unlikely(sent < ntx)) {
            cnt.add(C::drop_tx_full, ntx - sent);
            rte_pktmbuf_free_bulk(tx + sent, ntx - sent);
        }
    }
    if (nexc) {
        const unsigned q = rte_ring_sp_enqueue_burst(w.to_kernel, reinterpret_cast<void**>(exc), nexc, nullptr);
        cnt.add(C::exception_to_kernel, q);
        if (q < nexc) {
            cnt.add(C::drop_exception_full, nexc - q);
            rte_pktmbuf_free_bulk(exc + q, nexc - q);
        }
    }
    if (ndrop) rte_pktmbuf_free_bulk(drop, ndrop);
    if (to_cp_pending) w.to_cp->publish();
    if (deliver_pending) w.to_cp_deliver->publish();
    clock.lap(cnt, C::rt_cycles_tx);
    // Busy time of this burst, RX call included (the counter flush below is the only part not
    // counted: ~kDpCounterCount loads and compares). A burst that took over 1 ms was descheduled
    // (a shared core): its cycles would swamp the per-packet figures, so they are set apart.
    const uint64_t busy = rte_rdtsc() - t_poll;
    if (unlikely(busy > rt.stall_tsc)) {
        for (C c : {C::rt_cycles_rx, C::rt_cycles_parse, C::rt_cycles_lookup, C::rt_cycles_crypto, C::rt_cycles_route,
                    C::rt_cycles_tx})
            cnt.v[static_cast<size_t>(c)] = 0;
        cnt.add(C::rt_stalled_bursts);
        cnt.add(C::rt_stalled_packets, n);
        cnt.add(C::rt_cycles_stalled, busy);
    } else {
        cnt.add(C::rt_cycles_busy, busy);
    }
    for (size_t c = 0; c < shm::kDpCounterCount; ++c)
        if (cnt.v[c]) shm::add_owned(w.counters[c], cnt.v[c]);
}

// Worker 0 transmits what the main lcore built (TxFrames, kernel exception packets), so that the
// uplink needs no extra TX queue (net_pcap has one per tx_pcap file).
void drain_main_tx(Worker& w) {
    Runtime& rt = *w.rt;
    rte_mbuf* b[cap::kMaxBurst];
    const unsigned n = rte_ring_sc_dequeue_burst(rt.main_tx, reinterpret_cast<void**>(b), cap::kMaxBurst, nullptr);
    if (n == 0) return;
    const uint16_t sent = rte_eth_tx_burst(rt.port_id, w.queue, b, static_cast<uint16_t>(n));
    uint64_t drops = n - sent;
    if (drops) rte_pktmbuf_free_bulk(b + sent, static_cast<unsigned>(drops));
    shm::add_owned(w.counters[static_cast<size_t>(C::tx_packets)], sent);
    if (drops) shm::add_owned(w.counters[static_cast<size_t>(C::drop_tx_full)], drops);
}

}  // namespace

int worker_main(void* arg) {
    Worker& w = *static_cast<Worker*>(arg);
    Runtime& rt = *w.rt;
    const auto& gen_ptr = rt.state->current_ptr();
    QuiescentId& seen = rt.state->quiescent()[w.index];
    rte_mbuf* rx[cap::kMaxBurst];
    const uint16_t burst = static_cast<uint16_t>(rt.cfg.burst);
    uint32_t empty_polls = 0;
    // Idle polls and their cycles are kept here and added to the worker's block when traffic
    // resumes, before a nap, or every kIdleFlush polls (a store per poll would be wasted work).
    constexpr uint64_t kIdleFlush = 1024;
    uint64_t idle_polls = 0, idle_cycles = 0;
    uint64_t idle_from = 0;  // TSC of the last empty poll still to be accounted (0: none)
    auto flush_idle = [&] {
        if (idle_polls == 0) return;
        shm::add_owned(w.counters[static_cast<size_t>(C::rt_idle_polls)], idle_polls);
        shm::add_owned(w.counters[static_cast<size_t>(C::rt_cycles_idle)], idle_cycles);
        idle_polls = idle_cycles = 0;
    };
    while (!rt.stop.load(std::memory_order_relaxed)) {
        // The generation is read once per burst; publishing its id tells the main lcore that
        // this worker no longer uses any older one.
        const Generation* g = gen_ptr.load(std::memory_order_acquire);
        seen.id.store(g->id, std::memory_order_release);
        if (w.index == 0) drain_main_tx(w);
        uint16_t n = 0;
        const uint64_t t_poll = rte_rdtsc();
        if (idle_from) idle_cycles += t_poll - idle_from;  // the previous poll was empty: its time was idle
        idle_from = 0;
        if (rt.rx_enabled.load(std::memory_order_relaxed)) n = rte_eth_rx_burst(rt.port_id, w.queue, rx, burst);
        if (n) {
            empty_polls = 0;
            flush_idle();
            process_burst(w, *g, rx, n, t_poll, rte_rdtsc());
            continue;
        }
        if (rt.cfg.idle_sleep_us && ++empty_polls > cap::kWorkerIdlePolls) {
            // Idle: yield the core briefly (shared VMs); never while packets flow. A line-rate
            // burst arriving during the sleep waits in the RX ring (drop_port_rx_missed if it
            // overflows): set dataplane.idle_sleep_us: 0 on isolated cores.
            flush_idle();
            ::usleep(rt.cfg.idle_sleep_us);
        } else {
            rte_pause();
        }
        ++idle_polls;
        idle_from = t_poll;
        if (idle_polls >= kIdleFlush) flush_idle();
    }
    flush_idle();
    seen.id.store(~uint64_t{0}, std::memory_order_release);
    return 0;
}

}  // namespace rustun::dp
