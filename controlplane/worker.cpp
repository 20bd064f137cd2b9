#include "worker.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "block_pool.hpp"
#include "dataplane_link.hpp"
#include "fleet_link.hpp"
#include "fleet_view.hpp"
#include "frame_sender.hpp"
#include "proto/dialect.hpp"
#include "routing/inner_packet_policy.hpp"
#include "util/clock.hpp"
#include "util/endpoint_text.hpp"
#include "util/log.hpp"
#include "util/thread_name.hpp"

namespace rustun::cp {

static_assert(kOpenHeadLen >= kIpv4HeaderMin, "a head_only open must cover the inner IPv4 header");

namespace {

constexpr uint64_t kListenTag = 0;  // epoll data of the listener
constexpr uint64_t kWakeTag = 1;    // epoll data of the eventfd; connection ids start at 2
// The first frame must be a Handshake; a longer one is refused before it is buffered.
constexpr size_t kMaxHandshakePayload = 4096;
// Reads per connection per turn, so that one fast sender cannot monopolise a turn.
constexpr int kReadsPerTurn = 8;

std::string peer_ip_key(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        return std::string(reinterpret_cast<const char*>(&a->sin_addr), 4);
    }
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    return std::string(reinterpret_cast<const char*>(&a->sin6_addr), 16);
}

}  // namespace

Worker::Worker(SharedState& state, DataplaneLink* link, uint32_t index, int listen_fd)
    : state_(state), link_(link), index_(index), listen_fd_(listen_fd) {}

Worker::~Worker() {
    stop_and_join();
    for (auto& [id, c] : conns_) {
        MutexLock lk(c->out_mu);
        if (!c->closed) ::close(c->fd);
        c->closed = true;
        BlockPool::instance().put(c->pending);
        c->pending = nullptr;
    }
    if (epfd_ >= 0) ::close(epfd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status Worker::init() {
    auto eng = CryptoEngine::create();
    if (!eng) return make_error("worker " + std::to_string(index_) + ": crypto engine: " + eng.error());
    engine_ = std::move(eng.value());
    sender_ = std::make_unique<FrameSender>(*engine_, counters_);
    sender_->set_fleet(&state_.fleet_view());
    if (fleet_) {
        auto fs = fleet_->make_sender();
        if (!fs) return make_error("worker " + std::to_string(index_) + ": " + fs.error());
        fleet_sender_ = std::move(fs).value();
    }
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epfd_ < 0 || wake_fd_ < 0) return make_error(std::string("epoll/eventfd: ") + strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenTag;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev) < 0) return make_error("epoll_ctl listener");
    ev.data.u64 = kWakeTag;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev) < 0) return make_error("epoll_ctl eventfd");
    arena_.reset(new uint8_t[kArenaSize]);
    pt_arena_.reset(new uint8_t[kArenaSize]);
    batch_.reserve(4096);
    open_items_.reserve(4096);
    deliveries_.reserve(4096);
    limits_ = state_.limits_copy();
    return {};
}

void Worker::start() {
    thread_ = std::thread([this] { run(); });
    name_thread(thread_, "cp-worker-" + std::to_string(index_));
}

void Worker::stop_and_join() {
    if (!thread_.joinable()) return;
    stop_ = true;
    wake();
    thread_.join();
}

void Worker::wake() {
    uint64_t one = 1;
    if (::write(wake_fd_, &one, sizeof one) < 0) {
        // The counter is saturated only if nobody reads it: the loop will wake anyway.
    }
}

void Worker::request_close(const ConnectionPtr& c, CloseReason reason) {
    {
        MutexLock lk(close_mu_);
        close_requests_.emplace_back(c, reason);
    }
    wake();
}

void Worker::run() {
    epoll_event events[256];
    while (!stop_) {
        int n = ::epoll_wait(epfd_, events, 256, 250);
        for (int i = 0; i < n; ++i) {
            uint64_t tag = events[i].data.u64;
            if (tag == kListenTag) {
                accept_all();
                continue;
            }
            if (tag == kWakeTag) {
                uint64_t v;
                if (::read(wake_fd_, &v, sizeof v) < 0) {
                }
                continue;
            }
            auto it = conns_.find(tag);
            if (it == conns_.end()) continue;
            ConnectionPtr c = it->second;
            if (events[i].events & EPOLLOUT) on_writable(c);
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
                if (conns_.count(c->id)) on_readable(c);
            }
        }
        process_batch();
        flush_dirty();
        process_close_requests();
        if (std::chrono::steady_clock::now() >= next_timer_) timers();
        graveyard_.clear();
    }
    // Shutdown: close every connection of this worker.
    std::vector<ConnectionPtr> all;
    for (auto& [id, c] : conns_) all.push_back(c);
    for (auto& c : all) close_conn(c, CloseReason::Shutdown);
}

bool Worker::rate_allowed(const sockaddr_storage& peer) {
    uint32_t rate = limits_.handshake_rate_per_source;
    if (rate == 0) return true;
    auto now = std::chrono::steady_clock::now();
    auto [it, inserted] = rate_.try_emplace(peer_ip_key(peer), Bucket{(double)rate, now});
    Bucket& b = it->second;
    if (!inserted) {
        double dt = std::chrono::duration<double>(now - b.last).count();
        b.tokens = std::min<double>(rate, b.tokens + dt * rate);
        b.last = now;
    }
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
}

void Worker::accept_all() {
    for (int i = 0; i < 256; ++i) {
        sockaddr_storage ss{};
        socklen_t sl = sizeof ss;
        int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE)
                LOG_LIMITED(LogLevel::Error, "accept: %s (raise ulimit -n)", strerror(errno));
            return;
        }
        counters_.inc(Counter::conn_accepted);
        if (!rate_allowed(ss)) {
            counters_.inc(Counter::handshake_rate_limited);
            LOG_LIMITED(LogLevel::Warn, "refused %s: handshake rate limit (%u/s per source)",
                        sockaddr_text(ss).c_str(), limits_.handshake_rate_per_source);
            ::close(fd);
            counters_.inc(Counter::conn_closed);
            continue;
        }
        // Few addresses must not hold every slot of connections waiting for a Handshake.
        PendingSources::Admit adm =
            pending_sources_.admit(ss, limits_.handshake_pending_per_source, limits_.handshake_pending_per_prefix6);
        if (adm != PendingSources::Admit::Ok) {
            const bool src = adm == PendingSources::Admit::SourceFull;
            counters_.inc(src ? Counter::handshake_pending_source_full : Counter::handshake_pending_prefix_full);
            LOG_LIMITED(LogLevel::Warn, "refused %s: %u connections of this %s already wait for a handshake",
                        sockaddr_text(ss).c_str(),
                        src ? limits_.handshake_pending_per_source : limits_.handshake_pending_per_prefix6,
                        src ? "address" : "IPv6 /64");
            ::close(fd);
            counters_.inc(Counter::conn_closed);
            continue;
        }
        // When the worker's slots are all taken, the oldest waiting connection gives way: a flood
        // of idle connections delays new clients by at most one flood cycle, never locks them out.
        while (pending_.size() >= limits_.handshake_pending_max) {
            auto old = conns_.find(*pending_.begin());
            if (old == conns_.end()) {  // cannot happen: close_conn leaves pending_ too
                pending_.erase(pending_.begin());
                continue;
            }
            LOG_LIMITED(LogLevel::Warn, "%s: closed to admit %s: %zu connections are without a handshake",
                        old->second->peer_text.c_str(), sockaddr_text(ss).c_str(), pending_.size());
            close_conn(ConnectionPtr(old->second), CloseReason::Evicted);
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_shared<Connection>();
        c->fd = fd;
        c->id = state_.new_connection_id();  // > kWakeTag
        c->owner = this;
        c->peer = ss;
        c->peer_text = sockaddr_text(ss);
        c->accepted_at = c->last_rx = std::chrono::steady_clock::now();
        {
            MutexLock lk(c->out_mu);  // not shared yet: uncontended
            c->out.set_limit(limits_.output_queue_bytes);
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = c->id;
        if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
            pending_sources_.release(ss);
            ::close(fd);
            counters_.inc(Counter::conn_closed);
            continue;
        }
        c->in_epoll = true;
        conns_.emplace(c->id, c);
        pending_.insert(c->id);
        LOG_DEBUG("accepted %s (conn %llu, worker %u)", c->peer_text.c_str(), (unsigned long long)c->id, index_);
    }
}

void Worker::on_readable(const ConnectionPtr& c) {
    for (int reads = 0; reads < kReadsPerTurn; ++reads) {
        // Room for the pending partial frame plus at least one maximum frame.
        if (arena_used_ + c->pending_len + kMaxFrameSize + 1 > kArenaSize) {
            process_batch();  // releases the arena
            // process_batch() closes the senders of Data frames that failed authentication, `c`
            // among them perhaps: its fd is closed and its number may already be another
            // connection's (any thread may accept or open meanwhile). Never read it again.
            if (!conns_.count(c->id)) return;
        }
        uint8_t* base = arena_.get() + arena_used_;
        size_t room = kArenaSize - arena_used_ - c->pending_len;
        ssize_t r = ::read(c->fd, base + c->pending_len, room);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            LOG_LIMITED(LogLevel::Info, "%s: read: %s: closing", c->peer_text.c_str(), strerror(errno));
            close_conn(c, CloseReason::ReadError);
            return;
        }
        if (r == 0) {
            close_conn(c, CloseReason::PeerClosed);
            return;
        }
        c->got_bytes = true;
        if (c->pending_len) {
            std::memcpy(base, c->pending, c->pending_len);
            BlockPool::instance().put(c->pending);
            c->pending = nullptr;
        }
        size_t len = c->pending_len + (size_t)r;
        c->pending_len = 0;
        uint32_t off = static_cast<uint32_t>(arena_used_);
        arena_used_ += len;
        if (!parse_frames(c, off, len)) return;
        if ((size_t)r < room) return;  // the socket is drained
    }
}

bool Worker::parse_frames(const ConnectionPtr& c, uint32_t base, size_t len) {
    size_t pos = 0;
    while (len - pos >= kFrameHeaderSize) {
        uint8_t* p = arena_.get() + base + pos;
        FrameHeader h;
        HeaderStatus hs = decode_header(std::span<const uint8_t>(p, len - pos), h);
        if (hs == HeaderStatus::BadMagic) {
            close_conn(c, CloseReason::BadMagic);
            return false;
        }
        if (hs == HeaderStatus::BadVersion) {
            close_conn(c, CloseReason::BadVersion);
            return false;
        }
        if (!c->established && h.payload_length > kMaxHandshakePayload) {
            close_conn(c, CloseReason::LengthRefused);
            return false;
        }
        if (len - pos < h.frame_size()) break;  // partial frame
        pos += h.frame_size();
        // The idle timer is reset by authenticated frames only (handshake, KeepAlive, Data):
        // anyone on the path can inject unauthenticated ones.
        if (!is_known_type(h.type)) {
            counters_.inc(Counter::unknown_type_skipped);
            continue;
        }
        uint8_t* payload = p + kFrameHeaderSize;
        if (!c->established) {
            const uint64_t t0 = mono_ns();
            const bool ok = handle_handshake(c, h, payload);
            handshake_latency_.observe_ns(mono_ns() - t0);
            if (!ok) return false;
            continue;
        }
        if (h.frame_type() == FrameType::Data) {
            batch_.push_back(BatchItem{c.get(), static_cast<uint32_t>(p - arena_.get()),
                                       static_cast<uint32_t>(h.frame_size())});
            continue;
        }
        if (!handle_control(c, h, payload)) return false;
    }
    if (pos < len) {
        c->pending = BlockPool::instance().get();
        c->pending_len = len - pos;
        std::memcpy(c->pending, arena_.get() + base + pos, c->pending_len);
    }
    return true;
}

void Worker::process_batch() {
    if (batch_.empty()) {
        arena_used_ = 0;
        return;
    }
    open_items_.clear();
    for (const BatchItem& b : batch_) {
        OpenItem it;
        it.key = b.src->key.get();
        it.payload = arena_.get() + b.offset + kFrameHeaderSize;
        it.payload_len = b.len - static_cast<uint32_t>(kFrameHeaderSize);
        it.out = pt_arena_.get() + b.offset + kFrameHeaderSize;
        // Routing reads only the inner IPv4 header and the received bytes are forwarded: verify,
        // don't decrypt (docs/dataplane.md, "Verify, don't decrypt").
        it.head_only = true;
        open_items_.push_back(it);
    }
    engine_->open_burst(std::span<OpenItem>(open_items_));

    std::vector<uint64_t> bad;  // connection ids
    // One snapshot per batch, no lock; it also keeps the ClientStats of deliveries_ alive.
    std::shared_ptr<Membership> snap = state_.snapshot();
    deliveries_.clear();
    route_batch(snap, bad);
    deliver_batch();
    if (fleet_sender_) fleet_sender_->flush(counters_);  // the batch's frames for other gateways
    batch_holds_.clear();
    batch_.clear();
    arena_used_ = 0;
    for (uint64_t id : bad) {
        auto it = conns_.find(id);
        if (it == conns_.end()) continue;
        ConnectionPtr c = it->second;
        LOG_LIMITED(LogLevel::Warn, "%s: Data frame failed authentication: closing", c->peer_text.c_str());
        close_conn(c, CloseReason::DecryptFailed);
    }
    // Flush now: the arena is about to be reused, but queued bytes were copied; flushing here
    // keeps latency low when a turn is split by a full arena.
    flush_dirty();
}

bool Worker::sender_current(std::shared_ptr<Membership>& m, const Connection* src) {
    auto current = [&] {
        const ClientId id = src->client;
        return id != kNoClient && id < m->clients.size() && m->clients[id].rt.conn.get() == src;
    };
    if (current()) return true;
    // A reload between the snapshot and now renumbered the sender (a reload clears the
    // connections of the generation it replaces): the newest snapshot, or, while the reload is
    // still installing it, the mutex. Each snapshot used stays held until the batch is queued.
    batch_holds_.push_back(m);
    m = state_.snapshot();
    if (current()) return true;
    batch_holds_.push_back(m);
    MutexLock lk(state_.mu());
    m = state_.hold_members();
    return current();
}

bool Worker::remote_over_udp_link(std::string_view cluster, std::string_view identity) const {
    if (!fleet_ || !link_ || !link_->fleet_udp() || !link_->attached()) return false;
    const std::shared_ptr<const FleetSnapshot> s = state_.fleet_view().snapshot();
    const RemoteClient* rc = s->find(cluster, identity);
    const FleetGateway* home = rc ? s->home_gateway(*rc) : nullptr;
    return home && home->udp_link && !home->self && link_->member_slotted(rc->home);
}

void Worker::route_batch(std::shared_ptr<Membership>& snap, std::vector<uint64_t>& bad) {
    const SteadyTime now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < batch_.size(); ++i) {
        Connection* src = batch_[i].src;
        const OpenItem& it = open_items_[i];
        if (!sender_current(snap, src)) {
            // Closed, replaced or removed by a reload since its frames were read.
            counters_.inc(Counter::data_src_closed);
            continue;
        }
        Membership& m = *snap;
        const ClientId sid = src->client;
        ClientEntry& se = m.clients[sid];
        if (it.status != CryptoStatus::Ok) {
            bad.push_back(src->id);
            continue;
        }
        counters_.inc(Counter::data_rx);
        src->last_rx = now;
        se.stats->rx_frames.fetch_add(1, std::memory_order_relaxed);
        se.stats->rx_bytes.fetch_add(batch_[i].len, std::memory_order_relaxed);
        auto drop = [&](Counter why) {
            counters_.inc(why);
            se.stats->drops.fetch_add(1, std::memory_order_relaxed);
        };
        // it.plaintext holds at least the first min(plaintext_len, kOpenHeadLen) bytes: all the
        // policy reads (static_assert below).
        const InnerDecision d = route_inner_packet(m.routes, sid, se.cluster, it.plaintext, it.plaintext_len);
        switch (d.verdict) {
            case InnerVerdict::Forward: break;
            case InnerVerdict::NotIpv4: drop(Counter::data_not_ipv4); continue;
            case InnerVerdict::SpoofedSource: drop(Counter::data_spoofed_source); continue;
            case InnerVerdict::NoRoute:
            case InnerVerdict::CrossCluster: drop(Counter::data_no_route); continue;
        }
        ClientEntry& de = m.clients[d.dst];
        // Same cluster, hence the same key: the received bytes go out unchanged, over the
        // destination's live UDP endpoint if it has one (it chose the UDP relay), else TCP.
        if (link_ && de.udp.live(now)) {
            deliveries_.push_back(
                Delivery{nullptr, de.udp.endpoint.load(), de.stats.get(), se.stats.get(), batch_[i].offset, batch_[i].len});
            has_udp_deliveries_ = true;
            continue;
        }
        ConnectionPtr dst = de.rt.conn.load();
        if (!dst && link_ && remote_over_udp_link(m.clusters[de.cluster].name, de.cfg.identity)) {
            // Online on a member whose dataplane takes link frames: ours seals it for that member
            // (docs/fleet.md, "UDP link through the dataplane").
            Delivery dv{nullptr, {}, de.stats.get(), se.stats.get(), batch_[i].offset, batch_[i].len};
            dv.link_client = m.dp.client[d.dst];
            dv.link_dst_ip = load_be32(it.plaintext + 16);
            deliveries_.push_back(std::move(dv));
            has_udp_deliveries_ = true;
            continue;
        }
        if (!dst) {
            // Not here: online on another gateway of the fleet? The frame goes there unchanged.
            const FleetLink::Relay r =
                fleet_sender_ ? fleet_sender_->relay(m.clusters[de.cluster].name, de.cfg.identity,
                                                     de.cfg.private_ip.value,
                                                     std::span<const uint8_t>(arena_.get() + batch_[i].offset,
                                                                              batch_[i].len),
                                                     counters_)
                              : FleetLink::Relay::NotRemote;
            if (r == FleetLink::Relay::NotRemote) drop(Counter::data_dst_offline);
            else if (r == FleetLink::Relay::Dropped) se.stats->drops.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        deliveries_.push_back(Delivery{std::move(dst), {}, de.stats.get(), se.stats.get(), batch_[i].offset, batch_[i].len});
    }
}

void Worker::deliver_batch() {
    // Frames for UDP endpoints go to this worker's own TX ring, published once per batch.
    auto deliver = [&](DataplaneLink::TxProducer* tx) {
        for (Delivery& d : deliveries_) {
            if (!d.dst && d.link_client != kNoLinkClient) {
                if (tx && tx->send_link(d.link_client, d.link_dst_ip, arena_.get() + d.offset, d.len, counters_)) {
                    counters_.inc(Counter::fleet_link_udp_handed);
                } else {
                    d.dst_stats->drops.fetch_add(1, std::memory_order_relaxed);
                }
                continue;
            }
            if (!d.dst) {
                if (tx && tx->send(d.udp, arena_.get() + d.offset, d.len, counters_)) {
                    counters_.inc(Counter::tcp_to_udp);
                    d.dst_stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
                    d.dst_stats->tx_bytes.fetch_add(d.len, std::memory_order_relaxed);
                } else {
                    d.dst_stats->drops.fetch_add(1, std::memory_order_relaxed);
                }
                continue;
            }
            switch (sender_->bytes_to_conn(d.dst, arena_.get() + d.offset, d.len)) {
                case FrameSender::Queued::Closed:
                    counters_.inc(Counter::data_dst_offline);
                    d.src_stats->drops.fetch_add(1, std::memory_order_relaxed);
                    break;
                case FrameSender::Queued::Full:
                    counters_.inc(Counter::data_outq_full);
                    d.dst_stats->drops.fetch_add(1, std::memory_order_relaxed);
                    break;
                case FrameSender::Queued::Ok:
                    counters_.inc(Counter::data_relayed);
                    d.dst_stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
                    d.dst_stats->tx_bytes.fetch_add(d.len, std::memory_order_relaxed);
                    break;
            }
        }
    };
    if (link_ && has_udp_deliveries_) link_->with_worker_tx(index_, [&](DataplaneLink::TxProducer& tx) { deliver(&tx); });
    else deliver(nullptr);
    deliveries_.clear();
    has_udp_deliveries_ = false;
}

void Worker::flush_dirty() { sender_->flush(); }

void Worker::on_writable(const ConnectionPtr& c) { flush_connection(c); }

namespace {

// Bytes the kernel holds for `fd` that this worker has not read yet. A connection whose bytes
// wait in our own socket buffer is not silent: under overload (a reconnect storm on shared cores)
// this loop can reach a connection's readable event later than its first_byte_timeout or
// idle_timeout, and closing it then would punish the client for the gateway's own delay.
bool unread_bytes(int fd) {
    int n = 0;
    return fd >= 0 && ::ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

}  // namespace

void Worker::timers() {
    auto now = std::chrono::steady_clock::now();
    next_timer_ = now + std::chrono::milliseconds(250);
    limits_ = state_.limits_copy();
    std::vector<std::pair<ConnectionPtr, CloseReason>> expired;
    for (auto& [id, c] : conns_) {
        if (!c->established) {
            if (!c->got_bytes && now - c->accepted_at > limits_.first_byte_timeout) {
                if (!unread_bytes(c->fd)) expired.emplace_back(c, CloseReason::FirstByteTimeout);
            } else if (now - c->accepted_at > limits_.handshake_timeout) {
                expired.emplace_back(c, CloseReason::HandshakeTimeout);
            }
            continue;
        }
        if (now - c->last_rx > limits_.idle_timeout) {
            if (!unread_bytes(c->fd)) expired.emplace_back(c, CloseReason::IdleTimeout);
            continue;
        }
        MutexLock lk(c->out_mu);
        c->out.set_limit(limits_.output_queue_bytes);
        if (c->over_limit_since != SteadyTime{} && now - c->over_limit_since > limits_.keepalive_interval)
            expired.emplace_back(c, CloseReason::SlowClient);
    }
    for (auto& [c, r] : expired) {
        LOG_LIMITED(LogLevel::Info, "%s: %s: closing", c->peer_text.c_str(), close_reason_name(r));
        close_conn(c, r);
    }
    // Forget rate-limit buckets that are full again.
    if (rate_.size() > 4096) {
        for (auto it = rate_.begin(); it != rate_.end();) {
            if (now - it->second.last > std::chrono::seconds(2)) it = rate_.erase(it);
            else ++it;
        }
    }
}

void Worker::leave_pending(const Connection& c) {
    if (pending_.erase(c.id)) pending_sources_.release(c.peer);
}

void Worker::process_close_requests() {
    std::vector<std::pair<ConnectionPtr, CloseReason>> reqs;
    {
        MutexLock lk(close_mu_);
        reqs.swap(close_requests_);
    }
    for (auto& [c, r] : reqs)
        if (conns_.count(c->id)) close_conn(c, r);
}

void Worker::close_conn(const ConnectionPtr& c, CloseReason r) {
    if (!conns_.erase(c->id)) return;
    if (!c->established) leave_pending(*c);
    graveyard_.push_back(c);  // batch items of this turn may still point at it
    // Count before the fd closes: whoever sees the close may read the counters at once.
    counters_.inc(Counter::conn_closed);
    if (const Counter k = close_counter(r); k != Counter::kCount) counters_.inc(k);
    {
        MutexLock lk(c->out_mu);
        if (c->in_epoll) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
        c->in_epoll = false;
        c->closed = true;
        c->out.clear();
        ::close(c->fd);
    }
    BlockPool::instance().put(c->pending);
    c->pending = nullptr;
    c->pending_len = 0;
    MutexLock lk(state_.mu());
    Membership& m = state_.members();
    if (c->client != kNoClient && c->client < m.clients.size()) {
        ClientEntry& e = m.clients[c->client];
        if (e.rt.conn == c) {
            reset_runtime(e.rt);
            state_.fleet_changed(e.cfg.identity);
            if (r != CloseReason::Shutdown) {
                LOG_DEBUG_F(log_fields("IDENTITY", e.cfg.identity, "CLUSTER", m.clusters[e.cluster].name, "ENDPOINT",
                                      c->peer_text),
                           "'%s' offline (%s, %s)", e.cfg.identity.c_str(), c->peer_text.c_str(), close_reason_name(r));
                state_.events().add(EventSummary::Event::Disconnect);
            }
        }
    }
}

}  // namespace rustun::cp
