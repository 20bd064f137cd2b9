// The main lcore: control ring, TxFrames, the kernel exception path, heartbeat, generation
// reclamation, the telemetry snapshot and --stop-when-idle. Nothing here is per-packet hot, but
// it still never blocks a worker: everything crosses over SPSC rings.
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "dataplane.hpp"
#include "util/clock.hpp"
#include "util/endpoint_text.hpp"
#include "util/log.hpp"

namespace rustun::dp {

namespace {

using C = shm::DpCounter;

const char* outcome_name(StateManager::Outcome o) {
    switch (o) {
        case StateManager::Outcome::Applied: return "applied";
        case StateManager::Outcome::Flipped: return "flipped";
        case StateManager::Outcome::SyncApplied: return "sync applied";
        case StateManager::Outcome::Ignored: return "ignored";
        case StateManager::Outcome::Rejected: return "rejected";
        case StateManager::Outcome::SessionFull: return "session table full";
    }
    return "?";
}

void update_cp_alive(Runtime& rt, uint64_t now) {
    const uint64_t cp = rt.channel->header().cp_heartbeat_ns.load(std::memory_order_acquire);
    // A heartbeat from "the future" (clock read races) counts as fresh.
    const bool alive = cp != 0 && (now < cp || now - cp < 1'000'000'000ull);
    rt.cp_alive.store(alive, std::memory_order_relaxed);
}

// One slot, copied out of a ring before it is looked at (the control plane's messages are
// untrusted input too: it must not be able to change one between its validation and its use).
alignas(64) uint8_t g_msg_copy[shm::kSlotSize];

// Applies up to `max` control messages; returns how many.
unsigned poll_control(Runtime& rt, unsigned max) {
    uint64_t bad = 0;
    const unsigned n = shm::drain_ring(rt.channel->control(), max, g_msg_copy, [&](const uint8_t* copy) {
        shm::MsgHeader h;
        if (shm::parse_control_header(copy, h) != shm::MsgCheck::Ok) {
            ++bad;
            LOG_WARN("control message type %u rejected: len %u beyond the slot", h.type, h.len);
            return;
        }
        const auto o = rt.state->apply(h, shm::msg_body(copy), rte_rdtsc());
        if (o == StateManager::Outcome::Rejected) {
            ++bad;
            LOG_WARN("control message type %u rejected: %s", h.type, rt.state->last_error().c_str());
        }
        if (o == StateManager::Outcome::SessionFull) rt.count_main(C::drop_session_table_full, 1);
        if (o == StateManager::Outcome::SyncApplied) {
            const Generation* g = rt.state->current();
            rt.channel->header().dp_applied_cp_epoch.store(rt.state->applied_cp_epoch(), std::memory_order_release);
            LOG_INFO("sync cp_epoch %llu applied: %zu clusters, %u clients, %u endpoints (%s)",
                     static_cast<unsigned long long>(rt.state->applied_cp_epoch()), g->keys.size(), g->client_count,
                     g->sessions.size(), outcome_name(o));
            update_cp_alive(rt, mono_ns());  // before the first burst on the new state
            if (rt.first_sync_tsc == 0) rt.first_sync_tsc = rte_rdtsc();
            rt.rx_enabled.store(true, std::memory_order_release);
        }
    });
    if (bad) rt.count_main(C::drop_bad_control, bad);
    return n;
}

enum class LinkTxResult : uint8_t { Sent, NoMember, NoMbuf, Full };

// A LinkTx (the control plane's TCP relay, docs/fleet.md "UDP link through the dataplane"):
// sealed here as the workers seal Data for remote clients, then sent through worker 0.
LinkTxResult send_link_tx(Runtime& rt, const shm::LinkTxView& lt) {
    const Generation* g = rt.state->current();
    auto d = g->by_cp_id.find(lt.dst_client);
    if (!g->link || d == g->by_cp_id.end()) return LinkTxResult::NoMember;
    const uint16_t slot = g->remote_peer[d->second].load(std::memory_order_relaxed);
    if (slot == shm::kNoLinkPeer) return LinkTxResult::NoMember;
    const LinkPeer& peer = g->link->peers[slot];
    const uint32_t cluster = g->clients[d->second].cluster;
    if (peer.name.empty() || cluster >= g->cluster_names.size() || g->cluster_names[cluster].empty() ||
        (peer.to.family == 6 && !rt.src.has_addr6))
        return LinkTxResult::NoMember;
    fleet::LinkHeader h;
    h.sender = g->link->sender;
    h.cluster = g->cluster_names[cluster];
    h.dst_ip = lt.dst_ip;
    h.salt = rt.link_salt;
    h.seq = rt.link_seq.fetch_add(1, std::memory_order_relaxed);
    h.frame_len = lt.frame_len;
    static uint8_t buf[fleet::kLinkMaxFrameSize];  // main lcore only
    const size_t len = rt.main_link_auth->seal(*g->link->key, h, {lt.frame, lt.frame_len}, buf);
    if (len == 0 || len + 8u + (peer.to.family == 6 ? 40u : 20u) > rt.mtu) return LinkTxResult::NoMember;
    rte_mbuf* m = build_datagram(rt, peer.to, rt.mac_hint(peer.key), buf, static_cast<uint32_t>(len));
    if (m == nullptr) return LinkTxResult::NoMbuf;
    if (rte_ring_sp_enqueue(rt.main_tx, m) != 0) {
        rte_pktmbuf_free(m);
        return LinkTxResult::Full;
    }
    return LinkTxResult::Sent;
}

// Sends up to `max` TxFrames (and LinkTx) of TX ring `ring` through worker 0.
unsigned poll_tx_ring(Runtime& rt, uint32_t ring, unsigned max) {
    uint64_t sent = 0, bad = 0, nombuf = 0, full = 0;
    uint64_t link_sent = 0, link_refused = 0;
    const unsigned n = shm::drain_ring(rt.channel->tx(ring), max, g_msg_copy, [&](const uint8_t* copy) {
        if (shm::msg_header(copy).type == static_cast<uint16_t>(shm::MsgType::LinkTx)) {
            shm::LinkTxView lt;
            if (shm::parse_linktx(copy, lt) != shm::MsgCheck::Ok) {
                ++bad;
                return;
            }
            switch (send_link_tx(rt, lt)) {
                case LinkTxResult::Sent: ++link_sent; break;
                case LinkTxResult::NoMember: ++link_refused; break;
                case LinkTxResult::NoMbuf: ++nombuf; break;
                case LinkTxResult::Full: ++full; break;
            }
            return;
        }
        shm::TxFrameView msg;
        const bool ok = shm::parse_txframe(copy, msg) == shm::MsgCheck::Ok && (msg.to.family == 4 || rt.src.has_addr6);
        if (!ok) {
            ++bad;
        } else {
            const EndpointKey k = EndpointKey::from(msg.to);
            const shm::Endpoint to = k.to_endpoint();
            uint64_t mac = 0;
            const Generation* g = rt.state->current();
            const uint32_t s = g->sessions.lookup(k);
            if (s != kNoSession) mac = g->clients[s].mac.load(std::memory_order_relaxed);
            if (!(mac & kMacKnown)) mac = rt.mac_hint(k);
            rte_mbuf* m = build_datagram(rt, to, mac, msg.frame, msg.frame_len);
            if (m == nullptr) {
                ++nombuf;
            } else if (rte_ring_sp_enqueue(rt.main_tx, m) != 0) {
                rte_pktmbuf_free(m);
                ++full;
            } else {
                ++sent;
            }
        }
    });
    if (n) {
        rt.count_main(C::from_controlplane_tx, sent);
        rt.count_main(C::drop_bad_txframe, bad);
        rt.count_main(C::drop_no_mbuf, nombuf);
        rt.count_main(C::drop_tx_full, full);
        rt.count_main(C::link_tx, link_sent);
        rt.count_main(C::drop_link_tx_no_member, link_refused);
    }
    return n;
}

// Sends up to `max` TxFrames in all, from the control plane's TX rings (one per control-plane
// thread, channel version 7) in turn, starting one ring further each round: none starves.
unsigned poll_tx(Runtime& rt, unsigned max) {
    static uint32_t first = 0;  // main lcore only
    const uint32_t rings = rt.channel->tx_rings();
    unsigned n = 0;
    for (uint32_t i = 0; i < rings && n < max; ++i) n += poll_tx_ring(rt, (first + i) % rings, max - n);
    first = (first + 1) % rings;
    return n;
}

// Kernel exception path: workers' packets to the tap, the tap's packets to the uplink.
unsigned poll_exception(Runtime& rt) {
    if (rt.tap_port == 0xffff) return 0;
    unsigned work = 0;
    rte_mbuf* b[cap::kMaxBurst];
    for (auto& w : rt.workers) {
        const unsigned n = rte_ring_sc_dequeue_burst(w->to_kernel, reinterpret_cast<void**>(b), cap::kMaxBurst, nullptr);
        if (n == 0) continue;
        work += n;
        for (unsigned i = 0; i < n; ++i) b[i]->ol_flags = 0;
        const uint16_t sent = rte_eth_tx_burst(rt.tap_port, 0, b, static_cast<uint16_t>(n));
        if (sent < n) {
            rte_pktmbuf_free_bulk(b + sent, n - sent);
            rt.count_main(C::drop_exception_full, n - sent);
        }
    }
    const uint16_t n = rte_eth_rx_burst(rt.tap_port, 0, b, cap::kMaxBurst);
    if (n) {
        work += n;
        for (uint16_t i = 0; i < n; ++i) b[i]->ol_flags = 0;  // RX flags of the tap mean nothing on TX
        const unsigned q = rte_ring_sp_enqueue_burst(rt.main_tx, reinterpret_cast<void**>(b), n, nullptr);
        rt.count_main(C::exception_from_kernel, q);
        if (q < n) {
            rte_pktmbuf_free_bulk(b + q, n - q);
            rt.count_main(C::drop_exception_full, n - q);
        }
    }
    return work;
}

void refresh_snapshot(Runtime& rt) {
    const Generation* g = rt.state->current();
    std::vector<std::string> list;
    g->sessions.for_each(
        [&](const EndpointKey& k, uint32_t v) {
            char line[96];
            std::snprintf(line, sizeof line, "client %u %s", g->clients[v].cp_id, endpoint_text(k.to_endpoint()).c_str());
            list.emplace_back(line);
        },
        cap::kSnapshotSessions);
    std::lock_guard<std::mutex> lk(rt.snap_mu);
    rt.snap_sessions = g->sessions.size();
    rt.snap_clients = g->client_count;
    rt.snap_gen = g->id;
    rt.snap_list = std::move(list);
}

uint64_t tx_used(shm::Channel& ch) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < ch.tx_rings(); ++i) n += ch.tx(i).used();
    return n;
}

uint64_t activity(Runtime& rt) {
    return rt.channel->counter_total(C::rx_packets) + rt.channel->counter_total(C::tx_packets) +
           rt.channel->counter_total(C::drop_tx_full) + rt.channel->control().used() + tx_used(*rt.channel);
}

}  // namespace

uint64_t Runtime::mac_hint(const EndpointKey& k) const {
    const uint32_t h = endpoint_hash(k);
    for (const auto& w : workers)
        if (uint64_t m = w->macs.get(k, h)) return m;
    return 0;
}

// The port's own drop counters (absolute in ethdev) added to the named counters as deltas, once a
// second, so that drops the NIC makes (RX ring full, no mbuf) show beside ours (docs/architecture.md, "Every drop is counted").
void export_port_stats(Runtime& rt) {
    rte_eth_stats st{};
    if (rte_eth_stats_get(rt.port_id, &st) != 0) return;
    using C = shm::DpCounter;
    const uint64_t now[4] = {st.imissed, st.rx_nombuf, st.ierrors, st.oerrors};
    const C names[4] = {C::drop_port_rx_missed, C::drop_port_rx_nombuf, C::drop_port_rx_errors, C::drop_port_tx_errors};
    for (int i = 0; i < 4; ++i) {
        if (now[i] > rt.port_stats_seen[i]) rt.count_main(names[i], now[i] - rt.port_stats_seen[i]);
        rt.port_stats_seen[i] = now[i];
    }
    // net_af_packet: the kernel's drops on the PMD's sockets (reading PACKET_STATISTICS resets
    // them, so each read is a delta; the PMD itself never reads them).
    for (int fd : rt.kernel_ring_fds) {
        tpacket_stats ks{};
        socklen_t len = sizeof ks;
        if (::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0) rt.count_main(C::drop_port_kernel_ring, ks.tp_drops);
    }
    // net_tap: what the kernel could not queue to the PMD (the tap's queue full).
    for (auto& [iface, seen] : rt.kernel_tap_ifaces) {
        uint64_t now_dropped = 0;
        if (!kernel_tx_dropped(iface, now_dropped)) continue;
        if (now_dropped > seen) rt.count_main(C::drop_port_kernel_ring, now_dropped - seen);
        seen = now_dropped;
    }
}

void main_loop(Runtime& rt, const MainOptions& opt) {
    auto& hdr = rt.channel->header();
    uint64_t next_beat = 0, next_snap = 0, idle_since = 0, last_activity = ~0ull;
    uint32_t idle_rounds = 0;
    while (!rt.stop.load(std::memory_order_relaxed)) {
        unsigned work = poll_control(rt, cap::kControlPerRound);
        work += poll_tx(rt, cap::kTxFramesPerRound);
        work += poll_exception(rt);
        const uint64_t now = mono_ns();
        if (now >= next_beat) {
            next_beat = now + cap::kHeartbeatPeriodNs;
            hdr.dp_heartbeat_ns.store(now, std::memory_order_release);
            update_cp_alive(rt, now);
            rt.state->reclaim();
            hdr.sessions.store(rt.state->current()->sessions.size(), std::memory_order_relaxed);
            if (opt.stop_when_idle_ms && (!opt.wait_sync || rt.state->synced())) {
                const uint64_t a = activity(rt);
                if (a != last_activity) {
                    last_activity = a;
                    idle_since = now;
                } else if (now - idle_since >= opt.stop_when_idle_ms * 1'000'000ull) {
                    LOG_INFO("idle for %llu ms, stopping", static_cast<unsigned long long>(opt.stop_when_idle_ms));
                    break;
                }
            }
        }
        if (now >= next_snap) {
            next_snap = now + cap::kSnapshotPeriodNs;
            refresh_snapshot(rt);
            export_port_stats(rt);
        }
        if (work == 0) {
            if (++idle_rounds > cap::kMainIdleRounds) ::usleep(cap::kMainIdleSleepUs);  // the main lcore is not latency critical
        } else {
            idle_rounds = 0;
        }
    }
}

}  // namespace rustun::dp
