// The dataplane link's UDP KeepAlive path (docs/protocol-extensions.md): a KeepAlive the dataplane
// punted is authenticated (trial_authenticate, outside the state mutex), checked against the
// identity's seq window and the return-routability cookie, bound to its source endpoint, applied
// to the membership and answered over UDP.
#include <algorithm>
#include <cstring>

#include "dataplane_link.hpp"
#include "net/udp_keepalive.hpp"
#include "trial_auth.hpp"
#include "util/clock.hpp"
#include "util/endpoint_text.hpp"
#include "util/log.hpp"

namespace rustun::cp {

namespace {

// A KeepAlive reply over UDP fits one datagram on a 1500-byte path: 1400 + 8 + 28 (UDP + IPv4).
constexpr size_t kUdpReplyPayload = 1400;

// How far a UDP KeepAlive's seq (Unix microseconds) may be from the gateway clock.
constexpr uint64_t kSeqWindowUs = 30'000'000;

// UDP KeepAlive replies (docs/protocol-extensions.md, "Rate limits"): per identity 5/s, bursts of
// 10; per source address (IPv6: /64) 50/s, bursts of 20.
constexpr auto kReplyIdInterval = std::chrono::milliseconds(200);
constexpr auto kReplyIdTolerance = kReplyIdInterval * 9;
constexpr auto kReplySrcInterval = std::chrono::milliseconds(20);
constexpr auto kReplySrcTolerance = kReplySrcInterval * 19;
constexpr size_t kReplySrcMax = 65536;  // tracked source addresses

// GCRA: true (and charges one) if a reply fits the bucket whose theoretical arrival time is `tat`.
template <typename D>
bool gcra(SteadyTime& tat, SteadyTime now, D interval, D tolerance) {
    const SteadyTime t = std::max(tat, now);
    if (t - now > tolerance) return false;
    tat = t + interval;
    return true;
}

}  // namespace

void DataplaneLink::handle_punt(const shm::PuntView& m) {
    // `m` is this thread's private copy of the slot (poll_rings): the dataplane cannot change it
    // between the checks below and its use.
    FrameHeader h;
    if (!punt_is_keepalive(m, h)) return;
    PuntOpened o;
    if (!open_punt(m, h, o)) return;
    ClientId id = kNoClient;
    uint64_t replay_floor = 0;
    bool bind;
    {
        MutexLock lk(state_.mu());
        bind = apply_punt(m, o, id, replay_floor);
        if (bind) id = state_.members().dp.client[id];  // the dataplane knows it by this id
    }
    // Outside the state mutex: pushing may wait for room in the control ring.
    if (bind) bind_endpoint(id, m.from, replay_floor);
}

// Cheap checks before the state mutex: a flood of other frame types never contends with the TCP
// workers.
bool DataplaneLink::punt_is_keepalive(const shm::PuntView& m, FrameHeader& h) {
    if (m.frame_len < kFrameHeaderSize || m.frame_len > shm::kMaxFrameInSlot ||
        decode_header(std::span<const uint8_t>(m.frame, m.frame_len), h) != HeaderStatus::Ok ||
        h.frame_size() > m.frame_len) {
        counters_.inc(Counter::udp_punt_rejected);
        return false;
    }
    if (h.frame_type() != FrameType::KeepAlive) {
        counters_.inc(Counter::udp_unexpected_type);
        return false;
    }
    return true;
}

// Trial decryption happens outside the state mutex, so that a flood of punted garbage costs this
// thread only and never stalls the TCP workers: the membership is taken under the mutex (one
// shared_ptr copy, whatever the number of keys), the frame is opened without it, and apply_punt
// re-checks under it. Hints first (docs/controlplane.md, "Authentication cost"): the nonce's key
// tag (our clients), the key of the client bound to the source endpoint (the dataplane's hint),
// the keys that authenticated from the source address lately (e.g. the client's TCP session);
// then every other key, none twice.
bool DataplaneLink::open_punt(const shm::PuntView& m, const FrameHeader& h, PuntOpened& out) {
    std::shared_ptr<Membership> snap;
    {
        MutexLock lk(state_.mu());
        snap = state_.hold_members();
    }
    const uint8_t* payload = m.frame + kFrameHeaderSize;
    TrialHints hints;
    add_tag_hints(snap->auth, payload, h.payload_length, hints);
    const bool bound = m.client_hint < snap->clients.size();
    const uint32_t bound_key = bound ? snap->auth.cluster_key[snap->clients[m.client_hint].cluster] : 0;
    if (bound) hints.add(bound_key);
    const AuthHints::Keys learnt = state_.auth_hints().lookup(AddrKey::of(m.from), snap->auth.generation);
    for (uint32_t i = 0; i < learnt.n; ++i) hints.add(learnt.idx[i]);
    auto t = trial_authenticate(*snap, hints, *engine_, payload, h.payload_length, scratch_.data(),
                                [](std::string_view body) { return decode_keepalive(body); });
    count_trial(counters_, t, hints);
    if (t.outcome != TrialOutcome::Accepted) {
        counters_.inc(Counter::udp_punt_rejected);
        LOG_LIMITED(LogLevel::Warn, "UDP frame from %s: no cluster key and identity accept it",
                    endpoint_text(m.from).c_str());
        return false;
    }
    if (bound && t.key_index == bound_key) counters_.inc(Counter::udp_punt_hint_first);
    out.ka = std::move(t.body);
    out.key = snap->trial_keys[t.key_index];
    out.key_index = static_cast<uint32_t>(t.key_index);
    out.generation = snap->auth.generation;
    out.frame_size = static_cast<uint32_t>(h.frame_size());
    return true;
}

bool DataplaneLink::apply_punt(const shm::PuntView& m, const PuntOpened& o, ClientId& id, uint64_t& replay_floor) {
    Membership& mem = state_.members();
    // A reload between the two locks may have removed or re-keyed the identity.
    id = mem.client_for(o.ka.identity, *o.key);
    if (id == kNoClient) {
        counters_.inc(Counter::udp_punt_rejected);
        return false;
    }
    ClientEntry& e = mem.clients[id];
    const uint64_t now_us = realtime_us();
    if (!punt_seq_ok(e, o.ka, m.from, now_us)) return false;
    // Authenticated and fresh (a replay never gets here): the next KeepAlive from this address
    // (e.g. the cookie echo after a challenge) or Handshake tries this key first.
    state_.auth_hints().learn(AddrKey::of(m.from), o.generation, o.key_index);
    const auto now = std::chrono::steady_clock::now();
    const bool same = e.udp.bound && std::memcmp(&e.udp.endpoint, &m.from, sizeof m.from) == 0;
    if (!same && !punt_endpoint_verified(e, o, m.from, now_us / 1'000'000, now)) return false;
    counters_.inc(Counter::udp_keepalive_ok);
    e.udp.last_seq = o.ka.seq.value_or(0);
    e.udp.last_rx = now;
    // Data replay protection: opt-in, AEAD clusters only (the counter is in the nonce).
    e.udp.replay_floor = o.ka.replay && o.key->is_aead() ? std::max<uint64_t>(1, *o.ka.replay) : 0;
    replay_floor = e.udp.replay_floor;
    if (!same) {
        e.udp.bound = true;
        e.udp.endpoint = m.from;
        counters_.inc(Counter::udp_endpoint_moved);
        state_.fleet_changed(e.cfg.identity);
        state_.events().add(EventSummary::Event::Binding);
        LOG_DEBUG_F(log_fields("IDENTITY", e.cfg.identity, "ENDPOINT", endpoint_text(m.from)),
                    "'%s' bound to UDP endpoint %s", e.cfg.identity.c_str(), endpoint_text(m.from).c_str());
    }
    e.stats->rx_frames.fetch_add(1, std::memory_order_relaxed);
    e.stats->rx_bytes.fetch_add(o.frame_size, std::memory_order_relaxed);
    if (mem.apply_keepalive(id, o.ka)) {
        sender_->peer_update(mem, id);
        state_.fleet_changed(e.cfg.identity);
    }
    if (reply_allowed(e.udp, m.from, now)) reply_punt(id, o, m.from);
    // Outside a sync, EndpointSet also tells the dataplane "authenticated just now": it (re)binds
    // and marks the endpoint live (docs/shm-channel.md). While a reload's renumbering waits to be
    // pushed (resync_ is set under the state mutex together with the new membership), the id
    // would be read in the old numbering: the coming full sync carries the binding instead.
    return !resync_.load();
}

// Replay protection of the UDP binding (docs/protocol-extensions.md). Nothing sent before this
// process started is accepted: a restarted control plane has lost the last accepted seq of every
// identity, and captured frames must not move a binding in that window (the dataplane keeps the
// bindings themselves).
bool DataplaneLink::punt_seq_ok(const ClientEntry& e, const KeepAlive& ka, const shm::Endpoint& from, uint64_t now_us) {
    const uint64_t seq = ka.seq.value_or(0);
    const char* who = e.cfg.identity.c_str();
    switch (check_keepalive_seq(ka.seq, e.udp.last_seq, start_us_, now_us, kSeqWindowUs)) {
        case SeqCheck::Ok: return true;
        case SeqCheck::Missing:
            counters_.inc(Counter::udp_keepalive_no_seq);
            LOG_LIMITED(LogLevel::Warn, "UDP KeepAlive for '%s' from %s without seq: not bound", who,
                        endpoint_text(from).c_str());
            return false;
        case SeqCheck::Replay:
            counters_.inc(Counter::udp_keepalive_replay);
            // Two causes: really not newer than the last accepted one, or only dated before this
            // process started (after a restart last_seq is 0: in-flight KeepAlives land here).
            if (seq <= e.udp.last_seq)
                LOG_LIMITED(LogLevel::Warn, "UDP KeepAlive for '%s' from %s replayed (seq %llu <= last accepted %llu): ignored",
                            who, endpoint_text(from).c_str(), (unsigned long long)seq,
                            (unsigned long long)e.udp.last_seq);
            else
                LOG_LIMITED(LogLevel::Warn,
                            "UDP KeepAlive for '%s' from %s dated before this control plane started "
                            "(seq %llu <= start %llu): ignored",
                            who, endpoint_text(from).c_str(), (unsigned long long)seq,
                            (unsigned long long)start_us_);
            return false;
        case SeqCheck::Stale:
            counters_.inc(Counter::udp_keepalive_stale);
            LOG_LIMITED(LogLevel::Warn, "UDP KeepAlive for '%s' from %s: seq %llu is more than 30 s off the clock", who,
                        endpoint_text(from).c_str(), (unsigned long long)seq);
            return false;
    }
    return false;
}

// Return routability (docs/protocol-extensions.md): the binding is made or moved only from an
// endpoint that echoed the cookie the gateway sent there; the same endpoint refreshes it without
// one. Anything else gets a challenge: a reply no larger than the request plus the cookie, and no
// state change (a spoofed source learns nothing and cannot raise last_seq or move the binding).
bool DataplaneLink::punt_endpoint_verified(ClientEntry& e, const PuntOpened& o, const shm::Endpoint& from,
                                           uint64_t now_s, SteadyTime now) {
    const auto* ep_bytes = reinterpret_cast<const uint8_t*>(&from);
    const bool cookie_ok = o.ka.cookie && cookie_.verify(*o.ka.cookie, e.cfg.identity, ep_bytes, sizeof from, now_s);
    if (o.ka.cookie && !cookie_ok) counters_.inc(Counter::udp_cookie_bad);
    if (cookie_ok) return true;
    counters_.inc(Counter::udp_keepalive_challenge);
    if (!reply_allowed(e.udp, from, now)) return false;
    KeepAlive r;
    r.identity = e.cfg.identity;
    r.ipv6 = o.ka.ipv6;
    r.port = o.ka.port;
    r.seq = o.ka.seq;
    r.cookie = cookie_.make(e.cfg.identity, ep_bytes, sizeof from, now_s);
    std::string body;
    encode_keepalive(r, Shape::Old, body);
    auto f = sender_->seal(FrameType::KeepAlive, body, *o.key);
    if (!f.empty() && f.size() <= shm::kMaxFrameInSlot) send_udp(from, f.data(), f.size(), counters_);
    return false;
}

void DataplaneLink::reply_punt(ClientId id, const PuntOpened& o, const shm::Endpoint& from) {
    const Membership& mem = state_.members();
    const ClientEntry& e = mem.clients[id];
    const std::string& body = sender_->reply_body(mem, id, FrameType::KeepAlive, &o.ka,
                                                  state_.limits().max_peers_per_reply, o.key->overhead(), kUdpReplyPayload);
    auto f = sender_->seal(FrameType::KeepAlive, body, *o.key);
    if (!f.empty() && f.size() <= shm::kMaxFrameInSlot && send_udp(from, f.data(), f.size(), counters_)) {
        e.stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
        e.stats->tx_bytes.fetch_add(f.size(), std::memory_order_relaxed);
    }
}

bool DataplaneLink::reply_allowed(UdpBinding& b, const shm::Endpoint& from, SteadyTime now) {
    if (!gcra(b.reply_tat, now, std::chrono::duration_cast<SteadyTime::duration>(kReplyIdInterval),
              std::chrono::duration_cast<SteadyTime::duration>(kReplyIdTolerance))) {
        counters_.inc(Counter::udp_reply_limited_identity);
        return false;
    }
    std::string k(1, static_cast<char>(from.family));
    k.append(reinterpret_cast<const char*>(from.addr), from.family == 6 ? 8 : 4);  // IPv6: the /64
    if (reply_src_tat_.size() >= kReplySrcMax) {
        std::erase_if(reply_src_tat_, [&](const auto& kv) { return kv.second <= now; });  // full buckets
        // Mostly active sources: forget them all rather than scan again at the next insertion.
        if (reply_src_tat_.size() >= kReplySrcMax / 4 * 3) reply_src_tat_.clear();
    }
    if (!gcra(reply_src_tat_[k], now, std::chrono::duration_cast<SteadyTime::duration>(kReplySrcInterval),
              std::chrono::duration_cast<SteadyTime::duration>(kReplySrcTolerance))) {
        counters_.inc(Counter::udp_reply_limited_source);
        return false;
    }
    return true;
}

}  // namespace rustun::cp
