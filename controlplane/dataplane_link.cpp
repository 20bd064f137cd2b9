#include "dataplane_link.hpp"

#include <signal.h>

#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <new>

#include "fleet_link.hpp"
#include "shm/control_push.hpp"
#include "shm/state_writer.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/thread_name.hpp"
#include "util/version.hpp"

namespace rustun::cp {

using namespace std::chrono_literals;

DataplaneLink::DataplaneLink(SharedState& state, std::string channel_path)
    : state_(state), path_(std::move(channel_path)) {
    scratch_.resize(kMaxFrameSize);
    msg_copy_.reset(new (std::align_val_t(64)) uint8_t[shm::kSlotSize]);
}

DataplaneLink::~DataplaneLink() { stop(); }

Status DataplaneLink::start() {
    auto eng = CryptoEngine::create();
    if (!eng) return make_error("dataplane link: " + eng.error());
    engine_ = std::move(eng.value());
    sender_ = std::make_unique<FrameSender>(*engine_, counters_);
    sender_->set_fleet(&state_.fleet_view());
    start_us_ = realtime_us();
    if (::getrandom(&epoch_base_, sizeof epoch_base_, 0) != sizeof epoch_base_) epoch_base_ = mono_ns();
    epoch_base_ &= ~0xffffffffull;  // low 32 bits count the syncs of this process
    thread_ = std::thread([this] { run(); });
    name_thread(thread_, "cp-dp-link");
    return {};
}

void DataplaneLink::stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    MutexLock lk(ch_mu_);
    ch_.reset();
    published_.store(nullptr);
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
        // A full sync first (it covers every reload queued before it), then the reloads' deltas.
        if (resync_.exchange(false) && !full_sync()) {
            detach("full sync did not complete");
            continue;
        }
        if (has_pending_.load() && !push_pending()) {
            detach("a reload's delta was not delivered");
            continue;
        }
        if (!push_fleet_changes()) {
            detach("the fleet's UDP link update was not delivered");
            continue;
        }
        poll_rings();
    }
}

std::string DataplaneLink::dataplane_version() {
    MutexLock lk(ch_mu_);
    return ch_ ? ch_->dp_version() : std::string();
}

std::string DataplaneLink::last_error() const {
    MutexLock lk(err_mu_);
    return last_error_;
}

void DataplaneLink::set_error(const std::string& e, shm::AttachFailure why) {
    const bool loud = why == shm::AttachFailure::Unsafe || why == shm::AttachFailure::Layout ||
                      why == shm::AttachFailure::Version;
    bool changed;
    {
        MutexLock lk(err_mu_);
        changed = e != last_error_;
        last_error_ = e;
    }
    if (!loud) {
        LOG_LIMITED(LogLevel::Debug, "dataplane not attached: %s", e.c_str());
        return;
    }
    counters_.inc(Counter::dataplane_refused);
    // Attach is retried every 200 ms: log a refusal when its reason changes, else once a minute.
    const auto now = std::chrono::steady_clock::now();
    if (changed || now - last_error_logged_ >= 60s) {
        last_error_logged_ = now;
        if (why == shm::AttachFailure::Version)
            LOG_WARN("dataplane of another release (control plane %s): %s; the UDP relay stays off, the TCP relay "
                     "serves every client (docs/operations.md, \"Upgrades\")",
                     kVersion, e.c_str());
        else
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
        MutexLock lk(ch_mu_);
        ch_ = std::shared_ptr<shm::Channel>(std::move(ch.value()));
        published_.store(ch_);
    }
    ch_->header().cp_pid.store(static_cast<uint32_t>(::getpid()));
    ch_->header().cp_heartbeat_ns.store(mono_ns(), std::memory_order_release);
    attached_ = true;
    {
        MutexLock lk(err_mu_);
        last_error_.clear();
    }
    counters_.inc(Counter::dataplane_attached);
    const std::string dpv = ch_->dp_version().empty() ? "unknown" : ch_->dp_version();
    LOG_INFO("dataplane attached: %s (pid %u, %u worker(s), epoch %016llx, version %s)", path_.c_str(), ch_->dp_pid(),
             ch_->workers(), (unsigned long long)ch_->dp_epoch(), dpv.c_str());
    if (dpv != kVersion)
        LOG_WARN("dataplane version %s differs from the control plane's %s (the channel version matches)", dpv.c_str(),
                 kVersion);
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
    counters_.inc(Counter::dataplane_lost);
    MutexLock lk(ch_mu_);
    ch_.reset();
    published_.store(nullptr);
    attached_ = false;
}

bool DataplaneLink::push_control(shm::MsgType type, const void* body, uint32_t len) {
    // Waits at most 2 s for room (keeping our heartbeat fresh), never past stop().
    const shm::PushWait wait{std::chrono::seconds(2), std::chrono::microseconds(50), true, &stop_};
    return shm::push_control(*ch_, wait, type, body, len);
}

void DataplaneLink::state_changed(std::shared_ptr<const Membership> fresh, StateDelta delta) {
    // Under the state mutex, with the install: resync_ is visible to the punt path together with
    // the membership whose numbering needs it.
    if (delta.full) resync_.store(true);
    MutexLock lk(push_mu_);
    if (!attached_.load()) {
        pending_.clear();  // the full sync at the next attach carries it
        return;
    }
    pending_.push_back(PendingDelta{std::move(fresh), std::move(delta)});
    has_pending_.store(true);
}

bool DataplaneLink::full_sync() {
    // The configured part of a generation never changes, so the sync streams it from a held
    // snapshot without the state mutex; only the UDP bindings are read under it, in chunks
    // (push_bindings). Nothing per client is built: each message goes to the ring as it is made.
    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<const Membership> snap;
    {
        MutexLock lk(state_.mu());
        snap = state_.hold_members();
    }
    cp_epoch_ = epoch_base_ | ((cp_epoch_ + 1) & 0xffffffffull);
    ch_->header().cp_epoch.store(cp_epoch_);
    shm::StateWriter writer([this](shm::MsgType t, const void* body, uint32_t len) { return push_control(t, body, len); });
    const auto clusters = static_cast<uint32_t>(snap->clusters.size());
    const auto clients = static_cast<uint32_t>(snap->clients.size());
    if (!writer.sync_begin(cp_epoch_, clusters, clients) || !push_configured(writer, *snap)) return false;
    const uint64_t configured = writer.pushed();
    if (!push_bindings(writer, *snap) || !push_fleet_sync(writer, *snap) ||
        !writer.sync_end(cp_epoch_, clusters, clients))
        return false;
    pushed_generation_ = snap->generation;
    pushed_members_ = snap;
    counters_.inc(Counter::dataplane_syncs);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    LOG_INFO("dataplane: full state pushed (epoch %016llx: %u clusters, %u clients, %llu UDP endpoints; %llu messages "
             "in %lld ms)",
             (unsigned long long)cp_epoch_, clusters, clients, (unsigned long long)(writer.pushed() - configured - 1),
             (unsigned long long)writer.pushed(), (long long)ms);
    return true;
}

bool DataplaneLink::push_bindings(shm::StateWriter& w, const Membership& snap) {
    constexpr ClientId kChunk = 4096;  // clients looked at per acquisition of the state mutex
    std::vector<shm::EndpointState> bound;
    for (ClientId base = 0; base < snap.clients.size(); base += kChunk) {
        bound.clear();
        {
            MutexLock lk(state_.mu());
            const auto now = std::chrono::steady_clock::now();
            const ClientId end = std::min<ClientId>(base + kChunk, static_cast<ClientId>(snap.clients.size()));
            for (ClientId i = base; i < end; ++i) {
                const UdpBinding& u = snap.clients[i].udp;
                if (!u.bound) continue;
                // Liveness comes from KeepAlives here: tell a (restarted) dataplane which bindings
                // were confirmed within the live window, and who opted into Data replay
                // protection with which floor.
                shm::EndpointState ep{snap.dp.client[i], u.endpoint, u.live(now), std::nullopt};
                if (u.replay_floor) ep.replay_floor = u.replay_floor;
                bound.push_back(ep);
            }
        }
        for (const shm::EndpointState& ep : bound)
            if (!w.endpoint_set(ep)) return false;
    }
    return true;
}

bool DataplaneLink::push_pending() {
    std::deque<PendingDelta> todo;
    {
        MutexLock lk(push_mu_);
        todo.swap(pending_);
        has_pending_.store(false);
    }
    shm::StateWriter writer([this](shm::MsgType t, const void* body, uint32_t len) { return push_control(t, body, len); });
    for (const PendingDelta& p : todo) {
        if (p.members->generation <= pushed_generation_) continue;  // a full sync carried it
        // A renumbering: the full sync it asked for (resync_) covers this and every later reload.
        if (p.delta.full) break;
        const uint64_t before = writer.pushed();
        if (!push_delta(writer, *p.members, p.delta)) return false;
        pushed_generation_ = p.members->generation;
        pushed_members_ = p.members;
        LOG_INFO("dataplane: reload pushed as a delta (%zu cluster(s) set, %zu client(s) set, %zu removed, %zu "
                 "binding(s) cleared: %llu messages)",
                 p.delta.cluster_sets.size(), p.delta.client_sets.size(), p.delta.removes.size(),
                 p.delta.endpoint_clears.size(), (unsigned long long)(writer.pushed() - before));
    }
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
        counters_.inc(Counter::dp_msg_rejected);
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
            // The hint is a dataplane id; the punt path wants a ClientId (of the generation last
            // pushed: a stale one only makes the first key tried a wrong one, never a binding).
            v.client_hint = pushed_members_ ? pushed_members_->dp.to_client(v.client_hint) : shm::kNoClientHint;
            handle_punt(v);
        }) != 0;
    }
    sender_->flush();
    if (!any) std::this_thread::sleep_for(100us);
}

void DataplaneLink::bind_endpoint(uint32_t dp_client_id, const shm::Endpoint& ep, uint64_t replay_floor) {
    // Outside a sync: "authenticated just now" (the dataplane marks it live itself).
    shm::EndpointState e{dp_client_id, ep, false, std::nullopt};
    if (replay_floor) e.replay_floor = replay_floor;
    const shm::EndpointSetMsg m = shm::make_endpoint_set(e);
    if (!push_control(shm::MsgType::EndpointSet, &m, sizeof m)) LOG_WARN("dataplane: EndpointSet not delivered");
}

void DataplaneLink::handle_deliver(const shm::DeliverView& m) {
    MutexLock lk(state_.mu());
    // Client ids are only meaningful in the epoch they were pushed in: a message routed by an
    // older state (before a reload or a restart of this process), or one that arrives while a
    // reload's renumbering has not been pushed yet, could name another client. Drop it.
    if (m.cp_epoch != cp_epoch_ || resync_.load()) {
        counters_.inc(Counter::udp_deliver_stale);
        return;
    }
    // dst_client is a dataplane id: stable across reloads and never handed out again within a
    // numbering, so a removed client's id finds nobody.
    Membership& mem = state_.members();
    const ClientId dst = mem.dp.to_client(m.dst_client);
    if (dst == kNoClient || m.frame_len > shm::kMaxFrameInSlot) {
        counters_.inc(Counter::udp_deliver_stale);
        return;
    }
    ClientEntry& de = mem.clients[dst];
    if (!de.rt.conn && m.src_client == shm::kFromFleetLink) {
        // It came over the fleet's UDP link: delivered here or nowhere (never relayed again, so
        // two gateways whose views disagree cannot pass it back and forth).
        counters_.inc(Counter::data_dst_offline);
        return;
    }
    if (!de.rt.conn) {
        // Online on another gateway of the fleet? The frame goes there unchanged.
        const FleetLink::Relay r =
            fleet_ ? fleet_->relay(mem.clusters[de.cluster].name, de.cfg.identity, de.cfg.private_ip.value,
                                   std::span<const uint8_t>(m.frame, m.frame_len), counters_)
                   : FleetLink::Relay::NotRemote;
        if (r == FleetLink::Relay::NotRemote) counters_.inc(Counter::data_dst_offline);
        return;
    }
    switch (sender_->bytes_to_conn(de.rt.conn, m.frame, m.frame_len)) {
        case FrameSender::Queued::Ok:
            counters_.inc(m.src_client == shm::kFromFleetLink ? Counter::fleet_link_delivered : Counter::udp_to_tcp);
            de.stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
            de.stats->tx_bytes.fetch_add(m.frame_len, std::memory_order_relaxed);
            break;
        case FrameSender::Queued::Full:
            counters_.inc(Counter::data_outq_full);
            de.stats->drops.fetch_add(1, std::memory_order_relaxed);
            break;
        case FrameSender::Queued::Closed: counters_.inc(Counter::data_dst_offline); break;
    }
}

namespace {

// One TxFrame into the next free slot of `r` (not yet published); false if the ring is full.
bool put_txframe(shm::SpscRing& r, const shm::Endpoint& to, const uint8_t* frame, size_t len) {
    uint8_t* slot = r.reserve();
    if (!slot) return false;
    shm::MsgHeader hdr{static_cast<uint16_t>(shm::MsgType::TxFrame), 0,
                       static_cast<uint32_t>(offsetof(shm::TxFrameMsg, frame) + len)};
    std::memcpy(slot, &hdr, sizeof hdr);
    auto* body = reinterpret_cast<shm::TxFrameMsg*>(slot + sizeof hdr);
    body->to = to;
    body->frame_len = static_cast<uint16_t>(len);
    std::memcpy(body->frame, frame, len);
    r.advance();
    return true;
}

}  // namespace

bool DataplaneLink::send_udp(const shm::Endpoint& to, const uint8_t* frame, size_t len, CounterBlock& ctr) {
    // The link thread writes ch_ itself: no lock to read it. Ring 0 is its own unless the
    // dataplane has a single TX ring, which the workers then share (hence the ring's lock).
    if (!ch_ || len > shm::kMaxFrameInSlot) return false;
    MutexLock lk(tx_mu_[0]);
    shm::SpscRing& r = ch_->tx(0);
    if (!put_txframe(r, to, frame, len)) {
        ctr.inc(Counter::udp_tx_ring_full);
        return false;
    }
    r.publish();
    return true;
}

bool DataplaneLink::TxProducer::send_link(uint32_t dp_client, uint32_t dst_ip, const uint8_t* frame, size_t len,
                                          CounterBlock& ctr) {
    if (!ring_ || len > shm::kMaxFrameInSlot) return false;
    uint8_t* slot = ring_->reserve();
    if (!slot) {
        ctr.inc(Counter::udp_tx_ring_full);
        return false;
    }
    shm::MsgHeader hdr{static_cast<uint16_t>(shm::MsgType::LinkTx), 0,
                       static_cast<uint32_t>(offsetof(shm::LinkTxMsg, frame) + len)};
    std::memcpy(slot, &hdr, sizeof hdr);
    auto* body = reinterpret_cast<shm::LinkTxMsg*>(slot + sizeof hdr);
    body->dst_client = dp_client;
    body->dst_ip = dst_ip;
    body->frame_len = static_cast<uint16_t>(len);
    std::memset(body->pad, 0, sizeof body->pad);
    std::memcpy(body->frame, frame, len);
    ring_->advance();
    ++queued_;
    return true;
}

bool DataplaneLink::TxProducer::send(const shm::Endpoint& to, const uint8_t* frame, size_t len, CounterBlock& ctr) {
    if (!ring_ || len > shm::kMaxFrameInSlot) return false;
    if (!put_txframe(*ring_, to, frame, len)) {
        ctr.inc(Counter::udp_tx_ring_full);
        return false;
    }
    ++queued_;
    return true;
}

bool DataplaneLink::dataplane_counters(std::vector<uint64_t>& values, uint64_t& sessions, uint64_t& capacity,
                                       uint64_t& epoch) {
    std::shared_ptr<shm::Channel> ch;
    {
        MutexLock lk(ch_mu_);
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

bool DataplaneLink::dataplane_counter_blocks(std::vector<std::array<uint64_t, shm::kDpCounterCount>>& workers,
                                             std::array<uint64_t, shm::kDpCounterCount>& main, uint64_t& sessions,
                                             uint64_t& capacity) {
    std::shared_ptr<shm::Channel> ch;
    {
        MutexLock lk(ch_mu_);
        ch = ch_;
    }
    if (!ch) return false;
    workers.assign(ch->workers(), {});
    for (uint32_t w = 0; w < ch->workers(); ++w) {
        const std::atomic<uint64_t>* b = ch->counters(w);
        for (size_t i = 0; i < shm::kDpCounterCount; ++i) workers[w][i] = b[i].load(std::memory_order_relaxed);
    }
    const std::atomic<uint64_t>* m = ch->main_counters();
    for (size_t i = 0; i < shm::kDpCounterCount; ++i) main[i] = m[i].load(std::memory_order_relaxed);
    sessions = ch->header().sessions.load();
    capacity = ch->header().session_capacity.load();
    return true;
}

}  // namespace rustun::cp
