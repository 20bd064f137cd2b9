#include "worker.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "block_pool.hpp"
#include "dataplane_link.hpp"
#include "frame_sender.hpp"
#include "log.hpp"
#include "proto/dialect.hpp"

namespace rustun {

namespace {

constexpr uint64_t kListenTag = 0;  // epoll data of the listener
constexpr uint64_t kWakeTag = 1;    // epoll data of the eventfd; connection ids start at 2
// The first frame must be a Handshake; a longer one is refused before it is buffered.
constexpr size_t kMaxHandshakePayload = 4096;
// Reads per connection per turn, so that one fast sender cannot monopolise a turn.
constexpr int kReadsPerTurn = 8;

std::string peer_to_string(const sockaddr_storage& ss) {
    char ip[INET6_ADDRSTRLEN] = "?";
    char out[INET6_ADDRSTRLEN + 16];
    if (ss.ss_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(out, sizeof out, "%s:%u", ip, ntohs(a->sin_port));
    } else {
        auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(out, sizeof out, "[%s]:%u", ip, ntohs(a->sin6_port));
    }
    return out;
}

std::string peer_ip_key(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        return std::string(reinterpret_cast<const char*>(&a->sin_addr), 4);
    }
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    return std::string(reinterpret_cast<const char*>(&a->sin6_addr), 16);
}

Counter counter_for(CloseReason r) {
    switch (r) {
        case CloseReason::HandshakeTimeout: return Counter::handshake_timeout;
        case CloseReason::IdleTimeout: return Counter::idle_timeout;
        case CloseReason::BadMagic: return Counter::bad_magic;
        case CloseReason::BadVersion: return Counter::bad_version;
        case CloseReason::LengthRefused: return Counter::length_refused;
        case CloseReason::DecryptFailed: return Counter::decrypt_failed;
        case CloseReason::BadJson: return Counter::bad_json;
        case CloseReason::SlowClient: return Counter::slow_client_disconnect;
        case CloseReason::WriteError: return Counter::write_error;
        case CloseReason::Replaced: return Counter::duplicate_identity_replaced;
        case CloseReason::Kicked: return Counter::kicked;
        case CloseReason::Evicted: return Counter::handshake_pending_evicted;
        case CloseReason::FirstByteTimeout: return Counter::first_byte_timeout;
        case CloseReason::HandshakeReplay: return Counter::handshake_replayed;
        default: return Counter::kCount;
    }
}

}  // namespace

const char* close_reason_name(CloseReason r) {
    switch (r) {
        case CloseReason::None: return "none";
        case CloseReason::PeerClosed: return "closed by peer";
        case CloseReason::ReadError: return "read error";
        case CloseReason::WriteError: return "write error";
        case CloseReason::HandshakeTimeout: return "no handshake in time";
        case CloseReason::IdleTimeout: return "idle timeout";
        case CloseReason::BadMagic: return "bad magic";
        case CloseReason::BadVersion: return "bad version";
        case CloseReason::LengthRefused: return "frame length refused";
        case CloseReason::DecryptFailed: return "authentication failed";
        case CloseReason::BadJson: return "unparseable control frame";
        case CloseReason::WrongFirstFrame: return "first frame not a Handshake";
        case CloseReason::UnknownIdentity: return "unknown identity";
        case CloseReason::Replaced: return "replaced by a newer connection of the same identity";
        case CloseReason::Kicked: return "kicked";
        case CloseReason::SlowClient: return "output queue stayed full (client not reading)";
        case CloseReason::RateLimited: return "handshake rate limit";
        case CloseReason::Shutdown: return "shutdown";
        case CloseReason::Evicted: return "evicted: too many connections without a handshake";
        case CloseReason::FirstByteTimeout: return "nothing sent within first_byte_timeout";
        case CloseReason::HandshakeReplay: return "replayed Handshake";
    }
    return "?";
}

Worker::Worker(Gateway& gw, uint32_t index, int listen_fd) : gw_(gw), index_(index), listen_fd_(listen_fd) {}

Worker::~Worker() {
    stop_and_join();
    for (auto& [id, c] : conns_) {
        std::lock_guard<std::mutex> lk(c->out_mu);
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
    sender_ = std::make_unique<FrameSender>(gw_, *engine_, counters);
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
    {
        std::lock_guard<std::mutex> lk(gw_.mu);
        limits_ = gw_.limits;
    }
    return {};
}

void Worker::start() {
    thread_ = std::thread([this] { run(); });
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
        std::lock_guard<std::mutex> lk(close_mu_);
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
        counters.inc(Counter::conn_accepted);
        if (!rate_allowed(ss)) {
            counters.inc(Counter::handshake_rate_limited);
            LOG_LIMITED(LogLevel::Warn, "refused %s: handshake rate limit (%u/s per source)",
                        peer_to_string(ss).c_str(), limits_.handshake_rate_per_source);
            ::close(fd);
            counters.inc(Counter::conn_closed);
            continue;
        }
        // Few addresses must not hold every slot of connections waiting for a Handshake.
        PendingSources::Admit adm =
            pending_sources_.admit(ss, limits_.handshake_pending_per_source, limits_.handshake_pending_per_prefix6);
        if (adm != PendingSources::Admit::Ok) {
            const bool src = adm == PendingSources::Admit::SourceFull;
            counters.inc(src ? Counter::handshake_pending_source_full : Counter::handshake_pending_prefix_full);
            LOG_LIMITED(LogLevel::Warn, "refused %s: %u connections of this %s already wait for a handshake",
                        peer_to_string(ss).c_str(),
                        src ? limits_.handshake_pending_per_source : limits_.handshake_pending_per_prefix6,
                        src ? "address" : "IPv6 /64");
            ::close(fd);
            counters.inc(Counter::conn_closed);
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
                        old->second->peer_text.c_str(), peer_to_string(ss).c_str(), pending_.size());
            close_conn(ConnectionPtr(old->second), CloseReason::Evicted);
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_shared<Connection>();
        c->fd = fd;
        c->id = gw_.next_conn_id.fetch_add(1) + 1;  // > kWakeTag
        c->worker = index_;
        c->peer = ss;
        c->peer_text = peer_to_string(ss);
        c->accepted_at = c->last_rx = std::chrono::steady_clock::now();
        c->out.set_limit(limits_.output_queue_bytes);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = c->id;
        if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
            pending_sources_.release(ss);
            ::close(fd);
            counters.inc(Counter::conn_closed);
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
            counters.inc(Counter::read_error);
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
            counters.inc(Counter::unknown_type_skipped);
            continue;
        }
        uint8_t* payload = p + kFrameHeaderSize;
        if (!c->established) {
            if (!handle_handshake(c, h, payload)) return false;
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

bool Worker::handle_handshake(const ConnectionPtr& c, const FrameHeader& h, uint8_t* payload) {
    if (h.frame_type() != FrameType::Handshake) {
        counters.inc(Counter::handshake_wrong_type);
        LOG_LIMITED(LogLevel::Warn, "%s: first frame is %s, not a Handshake: closing", c->peer_text.c_str(),
                    std::string(frame_type_name(h.frame_type())).c_str());
        close_conn(c, CloseReason::WrongFirstFrame);
        return false;
    }
    std::unique_lock<std::mutex> lk(gw_.mu);
    Membership& m = *gw_.members;
    bool verified = false, parsed = false;
    std::string unknown;
    uint8_t* pt = pt_arena_.get() + (payload - arena_.get());
    for (const auto& key : m.trial_keys) {
        OpenItem it;
        it.key = key.get();
        it.payload = payload;
        it.payload_len = h.payload_length;
        it.out = pt;
        if (engine_->open(it) != CryptoStatus::Ok) continue;
        if (key->is_aead()) verified = true;
        auto hs = decode_handshake(std::string_view(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len));
        if (!hs) continue;
        parsed = true;
        ClientId id = m.find(hs->identity);
        // The identity alone decides the cluster; it is accepted only if its own cluster's key is
        // the one that opened the frame. Keys are compared by value: clusters may share one.
        if (id == kNoClient || m.clusters[m.clients[id].cluster].key->spec() != key->spec()) {
            if (unknown.empty()) unknown = hs->identity;
            continue;
        }
        ClientEntry& e = m.clients[id];
        // An AEAD payload starts with a fresh random nonce: one already seen for this identity
        // means replayed bytes. Refused before anything happens to the identity's live session.
        if (key->is_aead() && h.payload_length >= HandshakeNonces::kNonceSize) {
            HandshakeNonces::Nonce nonce;
            std::memcpy(nonce.data(), payload, nonce.size());
            if (gw_.handshake_nonces.seen(e.cfg.identity, nonce)) {
                lk.unlock();
                LOG_LIMITED(LogLevel::Warn, "%s: replayed Handshake of '%s' refused: closing", c->peer_text.c_str(),
                            hs->identity.c_str());
                close_conn(c, CloseReason::HandshakeReplay);
                return false;
            }
            gw_.handshake_nonces.record(e.cfg.identity, nonce);
        }
        // Accepted.
        if (e.rt.conn && e.rt.conn != c) {
            LOG_INFO("%s: identity '%s' connected again from %s: closing the older connection",
                     e.rt.conn->peer_text.c_str(), e.cfg.identity.c_str(), c->peer_text.c_str());
            gw_.request_close(e.rt.conn, CloseReason::Replaced);
        }
        reset_runtime(e.rt);
        e.rt.conn = c;
        e.rt.dialect = detect_dialect(hs.value());
        e.rt.handshake_ipv6 = hs->ipv6;
        e.rt.last_active = e.rt.connected_since = unix_now();
        c->client = id;
        c->cluster = e.cluster;
        c->dialect = e.rt.dialect;
        c->key = m.clusters[e.cluster].key;  // the identity's own cluster's key object
        leave_pending(*c);
        c->established = true;
        c->last_rx = std::chrono::steady_clock::now();
        e.stats->rx_frames.fetch_add(1, std::memory_order_relaxed);
        e.stats->rx_bytes.fetch_add(h.frame_size(), std::memory_order_relaxed);
        counters.inc(Counter::handshake_ok);
        LOG_INFO("handshake: '%s' (cluster '%s', %s dialect) from %s", e.cfg.identity.c_str(),
                 m.clusters[e.cluster].name.c_str(), std::string(dialect_name(c->dialect)).c_str(),
                 c->peer_text.c_str());
        const std::string& body = sender_->reply_body_locked(m, id, FrameType::HandshakeReply, nullptr, limits_, c->key->overhead());
        sender_->to_conn_locked(c, FrameType::HandshakeReply, body, *c->key, e.stats.get());
        return true;
    }
    lk.unlock();
    CloseReason reason;
    if (!unknown.empty()) {
        counters.inc(Counter::handshake_unknown_identity);
        LOG_LIMITED(LogLevel::Warn, "%s: unknown identity '%s': closing", c->peer_text.c_str(), unknown.c_str());
        reason = CloseReason::UnknownIdentity;
    } else if (verified || parsed) {
        counters.inc(Counter::handshake_bad_json);
        LOG_LIMITED(LogLevel::Warn, "%s: Handshake body does not parse: closing", c->peer_text.c_str());
        reason = CloseReason::BadJson;
    } else {
        counters.inc(Counter::handshake_decrypt_failed);
        LOG_LIMITED(LogLevel::Warn, "%s: no cluster key decrypts the Handshake: closing", c->peer_text.c_str());
        reason = CloseReason::DecryptFailed;
    }
    close_conn(c, reason);
    return false;
}

bool Worker::handle_control(const ConnectionPtr& c, const FrameHeader& h, uint8_t* payload) {
    if (h.frame_type() != FrameType::KeepAlive) {
        // Handshake again, HandshakeReply, PeerUpdate, probes: nothing a client sends us on TCP.
        counters.inc(Counter::unexpected_type_ignored);
        return true;
    }
    OpenItem it;
    it.key = c->key.get();
    it.payload = payload;
    it.payload_len = h.payload_length;
    it.out = pt_arena_.get() + (payload - arena_.get());
    if (engine_->open(it) != CryptoStatus::Ok) {
        LOG_LIMITED(LogLevel::Warn, "%s: KeepAlive failed authentication: closing", c->peer_text.c_str());
        close_conn(c, CloseReason::DecryptFailed);
        return false;
    }
    auto ka = decode_keepalive(std::string_view(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len));
    if (!ka) {
        LOG_LIMITED(LogLevel::Warn, "%s: KeepAlive does not parse (%s): closing", c->peer_text.c_str(),
                    ka.error().c_str());
        close_conn(c, CloseReason::BadJson);
        return false;
    }
    counters.inc(Counter::keepalive_rx);
    c->last_rx = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lk(gw_.mu);
    if (c->client == kNoClient) return true;  // kicked by a reload meanwhile
    ClientEntry& e = gw_.members->clients[c->client];
    e.stats->rx_frames.fetch_add(1, std::memory_order_relaxed);
    e.stats->rx_bytes.fetch_add(h.frame_size(), std::memory_order_relaxed);
    if (e.rt.conn != c) return true;
    handle_keepalive_locked(c, ka.value());
    return true;
}

void Worker::handle_keepalive_locked(const ConnectionPtr& c, const KeepAlive& ka) {
    Membership& m = *gw_.members;
    ClientEntry& e = m.clients[c->client];
    if (ka.identity != e.cfg.identity) {
        // docs/protocol.md, "Known weaknesses": the body identity is never trusted; the connection's identity is used.
        counters.inc(Counter::keepalive_identity_mismatch);
        LOG_LIMITED(LogLevel::Warn, "'%s' sent a KeepAlive naming '%s': using the connection's identity",
                    e.cfg.identity.c_str(), ka.identity.c_str());
    }
    if (c->dialect == Dialect::Old && dialect_of_keepalive(ka) == Dialect::New) {
        // A client that sends HEAD-era members cannot parse PeerUpdate: never send it one.
        c->dialect = e.rt.dialect = Dialect::New;
    }
    sender_->apply_keepalive_locked(m, c->client, ka);
    const std::string& body = sender_->reply_body_locked(m, c->client, FrameType::KeepAlive, &ka, limits_, c->key->overhead());
    sender_->to_conn_locked(c, FrameType::KeepAlive, body, *c->key, e.stats.get());
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
        open_items_.push_back(it);
    }
    engine_->open_burst(std::span<OpenItem>(open_items_));

    std::vector<uint64_t> bad;  // connection ids
    std::shared_ptr<Membership> hold;  // keeps the ClientStats of deliveries_ alive (reload)
    deliveries_.clear();
    {
        std::lock_guard<std::mutex> lk(gw_.mu);
        hold = gw_.members;
        Membership& m = *hold;
        const SteadyTime now = std::chrono::steady_clock::now();
        for (size_t i = 0; i < batch_.size(); ++i) {
            Connection* src = batch_[i].src;
            const OpenItem& it = open_items_[i];
            if (src->client == kNoClient || m.clients[src->client].rt.conn.get() != src) continue;  // closed meanwhile
            ClientEntry& se = m.clients[src->client];
            if (it.status != CryptoStatus::Ok) {
                bad.push_back(src->id);
                continue;
            }
            counters.inc(Counter::data_rx);
            src->last_rx = now;
            se.stats->rx_frames.fetch_add(1, std::memory_order_relaxed);
            se.stats->rx_bytes.fetch_add(batch_[i].len, std::memory_order_relaxed);
            const uint8_t* ip = it.plaintext;
            if (it.plaintext_len < 20 || (ip[0] >> 4) != 4) {
                counters.inc(Counter::data_not_ipv4);
                se.stats->drops.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            uint32_t src_ip = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15];
            uint32_t dst_ip = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
            if (!m.routes.source_allowed(src->client, src_ip)) {
                counters.inc(Counter::data_spoofed_source);
                se.stats->drops.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            ClientId dst = m.routes.lookup(src->cluster, dst_ip);
            if (dst == kNoClient) {
                counters.inc(Counter::data_no_route);
                se.stats->drops.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            ClientEntry& de = m.clients[dst];
            // Same cluster, hence the same key: the received bytes go out unchanged, over the
            // destination's live UDP endpoint if it has one (it chose the UDP relay), else TCP.
            if (gw_.link && de.udp.live(now)) {
                deliveries_.push_back(
                    Delivery{nullptr, de.udp.endpoint, de.stats.get(), se.stats.get(), batch_[i].offset, batch_[i].len});
                continue;
            }
            if (!de.rt.conn) {
                counters.inc(Counter::data_dst_offline);
                se.stats->drops.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            deliveries_.push_back(Delivery{de.rt.conn, {}, de.stats.get(), se.stats.get(), batch_[i].offset, batch_[i].len});
        }
    }
    for (Delivery& d : deliveries_) {
        if (!d.dst) {
            if (d.len <= shm::kMaxFrameInSlot && gw_.link->send_udp(d.udp, arena_.get() + d.offset, d.len, counters)) {
                counters.inc(Counter::tcp_to_udp);
                d.dst_stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
                d.dst_stats->tx_bytes.fetch_add(d.len, std::memory_order_relaxed);
            } else {
                d.dst_stats->drops.fetch_add(1, std::memory_order_relaxed);
            }
            continue;
        }
        switch (sender_->bytes_to_conn(d.dst, arena_.get() + d.offset, d.len)) {
            case FrameSender::Queued::Closed:
                counters.inc(Counter::data_dst_offline);
                d.src_stats->drops.fetch_add(1, std::memory_order_relaxed);
                break;
            case FrameSender::Queued::Full:
                counters.inc(Counter::data_outq_full);
                d.dst_stats->drops.fetch_add(1, std::memory_order_relaxed);
                break;
            case FrameSender::Queued::Ok:
                counters.inc(Counter::data_relayed);
                d.dst_stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
                d.dst_stats->tx_bytes.fetch_add(d.len, std::memory_order_relaxed);
                break;
        }
    }
    deliveries_.clear();
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

void Worker::flush_dirty() { sender_->flush(); }

void Worker::on_writable(const ConnectionPtr& c) { flush_connection(gw_, c); }

void Worker::timers() {
    auto now = std::chrono::steady_clock::now();
    next_timer_ = now + std::chrono::milliseconds(250);
    {
        std::lock_guard<std::mutex> lk(gw_.mu);
        limits_ = gw_.limits;
    }
    std::vector<std::pair<ConnectionPtr, CloseReason>> expired;
    for (auto& [id, c] : conns_) {
        if (!c->established) {
            if (!c->got_bytes && now - c->accepted_at > limits_.first_byte_timeout)
                expired.emplace_back(c, CloseReason::FirstByteTimeout);
            else if (now - c->accepted_at > limits_.handshake_timeout)
                expired.emplace_back(c, CloseReason::HandshakeTimeout);
            continue;
        }
        if (now - c->last_rx > limits_.idle_timeout) {
            expired.emplace_back(c, CloseReason::IdleTimeout);
            continue;
        }
        std::lock_guard<std::mutex> lk(c->out_mu);
        c->out.set_limit(limits_.output_queue_bytes);
        if (c->over_limit_since != SteadyTime{} && now - c->over_limit_since > limits_.slow_client_timeout)
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
        std::lock_guard<std::mutex> lk(close_mu_);
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
    counters.inc(Counter::conn_closed);
    Counter k = counter_for(r);
    if (k != Counter::kCount) counters.inc(k);
    {
        std::lock_guard<std::mutex> lk(c->out_mu);
        if (c->in_epoll) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
        c->in_epoll = false;
        c->closed = true;
        c->out.clear();
        ::close(c->fd);
    }
    BlockPool::instance().put(c->pending);
    c->pending = nullptr;
    c->pending_len = 0;
    std::lock_guard<std::mutex> lk(gw_.mu);
    if (c->client != kNoClient && c->client < gw_.members->clients.size()) {
        ClientEntry& e = gw_.members->clients[c->client];
        if (e.rt.conn == c) {
            reset_runtime(e.rt);
            if (r != CloseReason::Shutdown)
                LOG_INFO("'%s' offline (%s, %s)", e.cfg.identity.c_str(), c->peer_text.c_str(), close_reason_name(r));
        }
    }
}

}  // namespace rustun
