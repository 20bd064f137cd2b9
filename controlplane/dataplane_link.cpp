#include "dataplane_link.hpp"

#include <signal.h>

#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <new>
#include <optional>

#include "gateway.hpp"
#include "log.hpp"
#include "net/udp_keepalive.hpp"
#include "shm/control_push.hpp"
#include "shm/state_writer.hpp"

namespace rustun {

namespace {

using namespace std::chrono_literals;

uint64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t realtime_us() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000ull + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

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

DataplaneLink::DataplaneLink(Gateway& gw, std::string channel_path) : gw_(gw), path_(std::move(channel_path)) {
    scratch_.resize(kMaxFrameSize);
    msg_copy_.reset(new (std::align_val_t(64)) uint8_t[shm::kSlotSize]);
}

DataplaneLink::~DataplaneLink() { stop(); }

Status DataplaneLink::start() {
    auto eng = CryptoEngine::create();
    if (!eng) return make_error("dataplane link: " + eng.error());
    engine_ = std::move(eng.value());
    sender_ = std::make_unique<FrameSender>(gw_, *engine_, counters);
    start_us_ = realtime_us();
    if (::getrandom(&epoch_base_, sizeof epoch_base_, 0) != sizeof epoch_base_) epoch_base_ = mono_ns();
    epoch_base_ &= ~0xffffffffull;  // low 32 bits count the syncs of this process
    thread_ = std::thread([this] { run(); });
    return {};
}

void DataplaneLink::stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    std::lock_guard<std::mutex> lk(ch_mu_);
    ch_.reset();
    attached_ = false;
}

void DataplaneLink::run() {
    auto next_attach = std::chrono::steady_clock::now();
    auto next_check = next_attach;
    while (!stop_) {
        auto now = std::chrono::steady_clock::now();
        if (!ch_) {
            if (now >= next_attach) {
                next_attach = now + 200ms;
                if (try_attach() && !full_sync()) detach("full sync did not complete");
            }
            std::this_thread::sleep_for(20ms);
            continue;
        }
        ch_->header().cp_heartbeat_ns.store(mono_ns(), std::memory_order_release);
        if (now >= next_check) {
            next_check = now + 200ms;
            if (!ch_->still_current()) {
                detach("its channel was removed or replaced (dataplane restarted?)");
                continue;
            }
            if (ch_->header().dp_state.load() == static_cast<uint32_t>(shm::DpState::Stopping)) {
                detach("it is stopping");
                continue;
            }
            if (dataplane_gone(*ch_)) {
                detach("its process is gone (killed?); its channel file stays until a dataplane starts");
                continue;
            }
        }
        if (resync_.exchange(false) && !full_sync()) {
            detach("full sync did not complete");
            continue;
        }
        poll_rings();
    }
}

std::string DataplaneLink::last_error() const {
    std::lock_guard<std::mutex> lk(err_mu_);
    return last_error_;
}

void DataplaneLink::set_error(const std::string& e, shm::AttachFailure why) {
    const bool loud = why == shm::AttachFailure::Unsafe || why == shm::AttachFailure::Layout;
    bool changed;
    {
        std::lock_guard<std::mutex> lk(err_mu_);
        changed = e != last_error_;
        last_error_ = e;
    }
    if (!loud) {
        LOG_LIMITED(LogLevel::Debug, "dataplane not attached: %s", e.c_str());
        return;
    }
    counters.inc(Counter::dataplane_refused);
    // Attach is retried every 200 ms: log a refusal when its reason changes, else once a minute.
    const auto now = std::chrono::steady_clock::now();
    if (changed || now - last_error_logged_ >= 60s) {
        last_error_logged_ = now;
        LOG_WARN("dataplane channel refused (no state is sent to it): %s", e.c_str());
    }
}

bool DataplaneLink::try_attach() {
    shm::AttachFailure why = shm::AttachFailure::None;
    auto ch = shm::Channel::attach(path_, &why);
    if (!ch) {
        set_error(ch.error(), why);
        return false;
    }
    if (ch.value()->header().dp_state.load() == static_cast<uint32_t>(shm::DpState::Stopping)) {
        // A dataplane on its way out still has its segment for a moment: wait for the next one.
        set_error("channel " + path_ + ": its dataplane is stopping", shm::AttachFailure::NotReady);
        return false;
    }
    if (dataplane_gone(*ch.value())) {
        // The file a killed dataplane left behind: never push state into a corpse.
        set_error("channel " + path_ + ": its dataplane (pid " + std::to_string(ch.value()->dp_pid()) +
                      ") is not running (killed?)",
                  shm::AttachFailure::NotReady);
        return false;
    }
    {
        std::lock_guard<std::mutex> lk(ch_mu_);
        ch_ = std::shared_ptr<shm::Channel>(std::move(ch.value()));
    }
    ch_->header().cp_pid.store(static_cast<uint32_t>(::getpid()));
    ch_->header().cp_heartbeat_ns.store(mono_ns(), std::memory_order_release);
    attached_ = true;
    {
        std::lock_guard<std::mutex> lk(err_mu_);
        last_error_.clear();
    }
    counters.inc(Counter::dataplane_attached);
    LOG_INFO("dataplane attached: %s (pid %u, %u worker(s), epoch %016llx)", path_.c_str(), ch_->dp_pid(),
             ch_->workers(), (unsigned long long)ch_->dp_epoch());
    return true;
}

// A dataplane is gone when its heartbeat is more than 1 s old AND its process does not exist.
// Both: a stopped (SIGSTOP) or busy dataplane has an old heartbeat but a process; a dataplane in
// another PID namespace has a process we cannot see but a fresh heartbeat. dp_pid was copied at
// attach; a wrong one (the segment is untrusted) can only make us wait, never attach elsewhere.
bool DataplaneLink::dataplane_gone(shm::Channel& ch) {
    const uint64_t beat = ch.header().dp_heartbeat_ns.load(std::memory_order_acquire);
    const uint64_t now = mono_ns();
    if (beat != 0 && now - beat < 1'000'000'000ull) return false;
    const pid_t pid = static_cast<pid_t>(ch.dp_pid());
    return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

void DataplaneLink::detach(const char* why) {
    LOG_WARN("dataplane detached: %s; TCP sessions continue, UDP relay paused", why);
    counters.inc(Counter::dataplane_lost);
    std::lock_guard<std::mutex> lk(ch_mu_);
    ch_.reset();
    attached_ = false;
}

bool DataplaneLink::push_control(shm::MsgType type, const void* body, uint32_t len) {
    // Waits at most 2 s for room (keeping our heartbeat fresh), never past stop().
    const shm::PushWait wait{std::chrono::seconds(2), std::chrono::microseconds(50), true, &stop_};
    return shm::push_control(*ch_, wait, type, body, len);
}

bool DataplaneLink::full_sync() {
    // Snapshot under the state mutex, push outside it: a slow dataplane never stalls the workers.
    shm::FullState st;
    {
        std::lock_guard<std::mutex> lk(gw_.mu);
        const Membership& m = *gw_.members;
        st.clusters.resize(m.clusters.size());
        for (uint32_t i = 0; i < m.clusters.size(); ++i) {
            shm::ClusterState& c = st.clusters[i];
            c.id = i;
            c.method = static_cast<uint8_t>(m.clusters[i].key->method());
            c.key = m.clusters[i].key->spec().derived_key();  // empty for plain
            if (c.key.size() > shm::ClusterSetMsg::kMaxKey)
                LOG_ERROR("cluster '%s': XOR key longer than %u bytes cannot be given to the dataplane",
                          m.clusters[i].name.c_str(), shm::ClusterSetMsg::kMaxKey);
        }
        st.clients.resize(m.clients.size());
        const auto now = std::chrono::steady_clock::now();
        for (uint32_t i = 0; i < m.clients.size(); ++i) {
            const ClientEntry& e = m.clients[i];
            shm::ClientState& c = st.clients[i];
            c.id = i;
            c.cluster_id = e.cluster;
            c.private_ip = e.cfg.private_ip.value;
            c.cidrs.reserve(e.cfg.ciders.size());
            for (const auto& cidr : e.cfg.ciders) c.cidrs.push_back(shm::Cidr{cidr.network(), cidr.prefix_len, {}});
            if (e.udp.bound) {
                // Liveness comes from KeepAlives here: tell a (restarted) dataplane which
                // bindings were confirmed within the live window, and who opted into Data replay
                // protection with which floor.
                shm::EndpointState ep;
                ep.client_id = i;
                ep.endpoint = e.udp.endpoint;
                ep.live = e.udp.live(now);
                if (e.udp.replay_floor) ep.replay_floor = e.udp.replay_floor;
                st.endpoints.push_back(ep);
            }
        }
    }
    cp_epoch_ = epoch_base_ | ((cp_epoch_ + 1) & 0xffffffffull);
    st.cp_epoch = cp_epoch_;
    ch_->header().cp_epoch.store(cp_epoch_);
    shm::StateWriter writer([this](shm::MsgType t, const void* body, uint32_t len) { return push_control(t, body, len); });
    if (!writer.full_sync(st)) return false;
    counters.inc(Counter::dataplane_syncs);
    LOG_INFO("dataplane: full state pushed (epoch %016llx: %zu clusters, %zu clients, %zu UDP endpoints)",
             (unsigned long long)cp_epoch_, st.clusters.size(), st.clients.size(), st.endpoints.size());
    return true;
}

void DataplaneLink::poll_rings() {
    bool any = false;
    // Everything read from the rings is untrusted (docs/shm-channel.md "Validation"): each slot is
    // copied out first (drain_ring), so that the dataplane cannot change a message between its
    // validation and its use, then parsed. The worker count is this process's copy, taken and
    // checked at attach. TcpDeliver has its own rings, served first: punts cannot starve it.
    const uint32_t workers = ch_->workers();
    auto rejected = [&](shm::MsgCheck c) {
        counters.inc(Counter::dp_msg_rejected);
        LOG_LIMITED(LogLevel::Warn, "dataplane message refused: %s", shm::msg_check_name(c));
    };
    for (uint32_t w = 0; w < workers; ++w) {
        any |= shm::drain_ring(ch_->deliver(w), 256, msg_copy_.get(), [&](const uint8_t* copy) {
            shm::DeliverView v;
            if (shm::MsgCheck c = shm::parse_deliver(copy, v); c != shm::MsgCheck::Ok) return rejected(c);
            handle_deliver(v);
        }) != 0;
    }
    for (uint32_t w = 0; w < workers; ++w) {
        any |= shm::drain_ring(ch_->dp_to_cp(w), 256, msg_copy_.get(), [&](const uint8_t* copy) {
            shm::PuntView v;
            if (shm::MsgCheck c = shm::parse_punt(copy, v); c != shm::MsgCheck::Ok) return rejected(c);
            handle_punt(v);
        }) != 0;
    }
    sender_->flush();
    if (!any) std::this_thread::sleep_for(100us);
}

void DataplaneLink::bind_endpoint(uint32_t client_id, const shm::Endpoint& ep, uint64_t replay_floor) {
    shm::EndpointSetMsg m{};
    m.client_id = client_id;
    m.endpoint = ep;
    if (replay_floor) {
        m.flags = shm::kEndpointReplay;
        m.replay_floor_hi = static_cast<uint32_t>(replay_floor >> 32);
    }
    if (!push_control(shm::MsgType::EndpointSet, &m, sizeof m)) LOG_WARN("dataplane: EndpointSet not delivered");
}

void DataplaneLink::handle_punt(const shm::PuntView& m) {
    // `m` is this thread's private copy of the slot (poll_rings): the dataplane cannot change it
    // between the checks below and its use.
    if (m.frame_len < kFrameHeaderSize || m.frame_len > shm::kMaxFrameInSlot) {
        counters.inc(Counter::udp_punt_rejected);
        return;
    }
    // Cheap checks before the state mutex (open_udp_keepalive repeats them): a flood of other
    // frame types never contends with the TCP workers.
    FrameHeader h;
    if (decode_header(std::span<const uint8_t>(m.frame, m.frame_len), h) != HeaderStatus::Ok ||
        h.frame_size() > m.frame_len) {
        counters.inc(Counter::udp_punt_rejected);
        return;
    }
    if (h.frame_type() != FrameType::KeepAlive) {
        counters.inc(Counter::udp_unexpected_type);
        return;
    }
    // Trial decryption happens outside the state mutex, so that a flood of punted garbage costs
    // this thread only and never stalls the TCP workers: take the keys (and the membership they
    // belong to) under the mutex, open without it, and re-check under it.
    std::shared_ptr<Membership> snap;
    std::vector<std::shared_ptr<const CipherKey>> keys;
    {
        std::lock_guard<std::mutex> lk(gw_.mu);
        snap = gw_.members;
        if (m.client_hint < snap->clients.size()) keys.push_back(snap->clusters[snap->clients[m.client_hint].cluster].key);
        keys.insert(keys.end(), snap->trial_keys.begin(), snap->trial_keys.end());
    }
    std::vector<const CipherKey*> raw(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) raw[i] = keys[i].get();
    UdpKeepAliveOpened opened;
    const auto opened_status = open_udp_keepalive(
        m.frame, m.frame_len, raw, *engine_, scratch_.data(),
        [&](const KeepAlive& body, size_t k) {
            const ClientId cand = snap->find(body.identity);
            return cand != kNoClient && snap->clusters[snap->clients[cand].cluster].key->spec() == keys[k]->spec();
        },
        opened);
    if (opened_status == UdpKeepAliveOpen::NotKeepAlive) {
        counters.inc(Counter::udp_unexpected_type);
        return;
    }
    if (opened_status != UdpKeepAliveOpen::Ok) {
        counters.inc(Counter::udp_punt_rejected);
        if (opened_status == UdpKeepAliveOpen::Rejected)
            LOG_LIMITED(LogLevel::Warn, "UDP frame from %s: no cluster key and identity accept it",
                        endpoint_to_string(m.from).c_str());
        return;
    }
    // The key of the client bound to the source endpoint is tried first: a bound client's
    // KeepAlive costs one decryption however many clusters there are.
    if (opened.key_index == 0 && m.client_hint < snap->clients.size()) counters.inc(Counter::udp_punt_hint_first);
    std::optional<KeepAlive> ka = std::move(opened.ka);
    const std::shared_ptr<const CipherKey> key = keys[opened.key_index];
    const uint32_t frame_size = opened.frame_size;
    bool bind = false;
    bool return_reply = true;
    uint64_t replay_floor = 0;
    ClientId id = kNoClient;
    {
        std::lock_guard<std::mutex> lk(gw_.mu);
        Membership& mem = *gw_.members;
        id = mem.find(ka->identity);
        // A reload between the two locks may have removed or re-keyed the identity.
        if (id == kNoClient || mem.clusters[mem.clients[id].cluster].key->spec() != key->spec()) {
            counters.inc(Counter::udp_punt_rejected);
            return;
        }
        ClientEntry& e = mem.clients[id];
        // Replay protection of the UDP binding (docs/protocol-extensions.md). Nothing sent before
        // this process started is accepted: a restarted control plane has lost the last accepted
        // seq of every identity, and captured frames must not move a binding in that window (the
        // dataplane keeps the bindings themselves).
        const uint64_t now_us = realtime_us();
        const uint64_t seq = ka->seq.value_or(0);
        switch (check_keepalive_seq(ka->seq, e.udp.last_seq, start_us_, now_us, kSeqWindowUs)) {
            case SeqCheck::Ok: break;
            case SeqCheck::Missing:
                counters.inc(Counter::udp_keepalive_no_seq);
                LOG_LIMITED(LogLevel::Warn, "UDP KeepAlive for '%s' from %s without seq: not bound", e.cfg.identity.c_str(),
                            endpoint_to_string(m.from).c_str());
                return;
            case SeqCheck::Replay:
                counters.inc(Counter::udp_keepalive_replay);
                // Two causes: really not newer than the last accepted one, or only dated before this
                // process started (after a restart last_seq is 0: in-flight KeepAlives land here).
                if (seq <= e.udp.last_seq)
                    LOG_LIMITED(LogLevel::Warn,
                                "UDP KeepAlive for '%s' from %s replayed (seq %llu <= last accepted %llu): ignored",
                                e.cfg.identity.c_str(), endpoint_to_string(m.from).c_str(), (unsigned long long)seq,
                                (unsigned long long)e.udp.last_seq);
                else
                    LOG_LIMITED(LogLevel::Warn,
                                "UDP KeepAlive for '%s' from %s dated before this control plane started "
                                "(seq %llu <= start %llu): ignored",
                                e.cfg.identity.c_str(), endpoint_to_string(m.from).c_str(), (unsigned long long)seq,
                                (unsigned long long)start_us_);
                return;
            case SeqCheck::Stale:
                counters.inc(Counter::udp_keepalive_stale);
                LOG_LIMITED(LogLevel::Warn, "UDP KeepAlive for '%s' from %s: seq %llu is more than 30 s off the clock",
                            e.cfg.identity.c_str(), endpoint_to_string(m.from).c_str(), (unsigned long long)seq);
                return;
        }
        // Return routability (docs/protocol-extensions.md): the binding is made or moved only
        // from an endpoint that echoed the cookie the gateway sent there; the same endpoint
        // refreshes it without one. Anything else gets a challenge: a reply no larger than the
        // request plus the cookie, and no state change (a spoofed source learns nothing and
        // cannot raise last_seq or move the binding).
        const uint64_t now_s = now_us / 1'000'000;
        const auto now = std::chrono::steady_clock::now();
        const auto* ep_bytes = reinterpret_cast<const uint8_t*>(&m.from);
        const bool same = e.udp.bound && std::memcmp(&e.udp.endpoint, &m.from, sizeof m.from) == 0;
        if (!same) {
            const bool cookie_ok =
                ka->cookie && cookie_.verify(*ka->cookie, e.cfg.identity, ep_bytes, sizeof m.from, now_s);
            if (ka->cookie && !cookie_ok) counters.inc(Counter::udp_cookie_bad);
            if (!cookie_ok) {
                counters.inc(Counter::udp_keepalive_challenge);
                if (!reply_allowed(e.udp, m.from, now)) return;
                KeepAlive r;
                r.identity = e.cfg.identity;
                r.ipv6 = ka->ipv6;
                r.port = ka->port;
                r.seq = ka->seq;
                r.cookie = cookie_.make(e.cfg.identity, ep_bytes, sizeof m.from, now_s);
                std::string body;
                encode_keepalive(r, Shape::Old, body);
                auto f = sender_->seal(FrameType::KeepAlive, body, *key);
                if (!f.empty() && f.size() <= shm::kMaxFrameInSlot) send_udp(m.from, f.data(), f.size(), counters);
                return;
            }
        }
        counters.inc(Counter::udp_keepalive_ok);
        e.udp.last_seq = seq;
        e.udp.last_rx = now;
        // Data replay protection: opt-in, AEAD clusters only (the counter is in the nonce).
        e.udp.replay_floor = ka->replay && key->is_aead() ? std::max<uint64_t>(1, *ka->replay) : 0;
        replay_floor = e.udp.replay_floor;
        if (!same) {
            e.udp.bound = true;
            e.udp.endpoint = m.from;
            counters.inc(Counter::udp_endpoint_moved);
            LOG_INFO("'%s' bound to UDP endpoint %s", e.cfg.identity.c_str(), endpoint_to_string(m.from).c_str());
        }
        // Outside a sync, EndpointSet also tells the dataplane "authenticated just now": it
        // (re)binds and marks the endpoint live (docs/shm-channel.md). While a reload's
        // renumbering waits to be pushed (resync_ is set under the state mutex together with the
        // new membership), the id would be read in the old numbering: the coming full sync
        // carries the binding instead.
        bind = !resync_.load();
        e.stats->rx_frames.fetch_add(1, std::memory_order_relaxed);
        e.stats->rx_bytes.fetch_add(frame_size, std::memory_order_relaxed);
        sender_->apply_keepalive_locked(mem, id, ka.value());
        if (!reply_allowed(e.udp, m.from, now)) return_reply = false;
        if (return_reply) {
            const std::string& body = sender_->reply_body_locked(mem, id, FrameType::KeepAlive, &ka.value(), gw_.limits,
                                                                 key->overhead(), kUdpReplyPayload);
            auto f = sender_->seal(FrameType::KeepAlive, body, *key);
            if (!f.empty() && f.size() <= shm::kMaxFrameInSlot && send_udp(m.from, f.data(), f.size(), counters)) {
                e.stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
                e.stats->tx_bytes.fetch_add(f.size(), std::memory_order_relaxed);
            }
        }
    }
    // Outside the state mutex: pushing may wait for room in the control ring.
    if (bind) bind_endpoint(id, m.from, replay_floor);
}

bool DataplaneLink::reply_allowed(UdpBinding& b, const shm::Endpoint& from, SteadyTime now) {
    if (!gcra(b.reply_tat, now, std::chrono::duration_cast<SteadyTime::duration>(kReplyIdInterval),
              std::chrono::duration_cast<SteadyTime::duration>(kReplyIdTolerance))) {
        counters.inc(Counter::udp_reply_limited_identity);
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
        counters.inc(Counter::udp_reply_limited_source);
        return false;
    }
    return true;
}

void DataplaneLink::handle_deliver(const shm::DeliverView& m) {
    std::lock_guard<std::mutex> lk(gw_.mu);
    // Client ids are only meaningful in the epoch they were pushed in: a message routed by an
    // older state (before a reload or a restart of this process), or one that arrives while a
    // reload's renumbering has not been pushed yet, could name another client. Drop it.
    if (m.cp_epoch != cp_epoch_ || resync_.load()) {
        counters.inc(Counter::udp_deliver_stale);
        return;
    }
    Membership& mem = *gw_.members;
    if (m.dst_client >= mem.clients.size() || m.frame_len > shm::kMaxFrameInSlot) {
        counters.inc(Counter::udp_deliver_stale);
        return;
    }
    ClientEntry& de = mem.clients[m.dst_client];
    if (!de.rt.conn) {
        counters.inc(Counter::data_dst_offline);
        return;
    }
    switch (sender_->bytes_to_conn(de.rt.conn, m.frame, m.frame_len)) {
        case FrameSender::Queued::Ok:
            counters.inc(Counter::udp_to_tcp);
            de.stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
            de.stats->tx_bytes.fetch_add(m.frame_len, std::memory_order_relaxed);
            break;
        case FrameSender::Queued::Full:
            counters.inc(Counter::data_outq_full);
            de.stats->drops.fetch_add(1, std::memory_order_relaxed);
            break;
        case FrameSender::Queued::Closed: counters.inc(Counter::data_dst_offline); break;
    }
}

bool DataplaneLink::send_udp(const shm::Endpoint& to, const uint8_t* frame, size_t len, CounterBlock& ctr) {
    std::lock_guard<std::mutex> lk(ch_mu_);
    if (!ch_ || len > shm::kMaxFrameInSlot) return false;
    shm::SpscRing& r = ch_->tx();
    uint8_t* slot = r.reserve();
    if (!slot) {
        ctr.inc(Counter::udp_tx_ring_full);
        return false;
    }
    shm::MsgHeader hdr{static_cast<uint16_t>(shm::MsgType::TxFrame), 0,
                       static_cast<uint32_t>(offsetof(shm::TxFrameMsg, frame) + len)};
    std::memcpy(slot, &hdr, sizeof hdr);
    auto* body = reinterpret_cast<shm::TxFrameMsg*>(slot + sizeof hdr);
    body->to = to;
    body->frame_len = static_cast<uint16_t>(len);
    std::memcpy(body->frame, frame, len);
    r.commit();
    return true;
}

bool DataplaneLink::dataplane_counters(std::vector<uint64_t>& values, uint64_t& sessions, uint64_t& capacity,
                                       uint64_t& epoch) {
    std::shared_ptr<shm::Channel> ch;
    {
        std::lock_guard<std::mutex> lk(ch_mu_);
        ch = ch_;
    }
    if (!ch) return false;
    values.resize(shm::kDpCounterCount);
    for (size_t i = 0; i < shm::kDpCounterCount; ++i) values[i] = ch->counter_total(static_cast<shm::DpCounter>(i));
    sessions = ch->header().sessions.load();
    capacity = ch->header().session_capacity.load();
    epoch = ch->dp_epoch();
    return true;
}

}  // namespace rustun
