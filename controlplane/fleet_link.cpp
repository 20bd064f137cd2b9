// FleetLink: send(), the link thread, and the outbound connections to other gateways
// (docs/fleet.md, "Link"). Inbound connections and delivery: fleet_link_rx.cpp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "config/address.hpp"
#include "fleet_link_impl.hpp"
#include "util/clock.hpp"
#include "util/endian.hpp"
#include "util/log.hpp"

namespace rustun::cp {

namespace {

constexpr size_t kRecordFixed = 10;  // u32 frame_len, u32 dst_ip, u8 cluster_len, u8 identity_len
constexpr size_t kLengthPrefix = 4;  // every link frame on TCP is preceded by its u32 length

socklen_t to_sockaddr(const SocketAddress& a, sockaddr_storage& ss) {
    ss = {};
    if (a.family == AddressFamily::V4) {
        auto* s = reinterpret_cast<sockaddr_in*>(&ss);
        s->sin_family = AF_INET;
        s->sin_port = htons(a.port);
        std::memcpy(&s->sin_addr, a.bytes.data(), 4);
        return sizeof *s;
    }
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(a.port);
    std::memcpy(&s->sin6_addr, a.bytes.data(), 16);
    return sizeof *s;
}

}  // namespace

FleetLinkOptions fleet_link_options(const FleetConfig& fleet) {
    FleetLinkOptions o;
    o.gateway_id = fleet.gateway_id;
    o.listen = fleet.link.listen.to_string();
    o.key = fleet.link.key.to_string();
    return o;
}

Result<std::unique_ptr<FleetLink>> FleetLink::create(SharedState& state, const FleetDirectory& directory,
                                                     FleetLinkOptions options, DataplaneLink* dataplane) {
    if (options.gateway_id.empty() || options.gateway_id.size() > fleet::kLinkMaxName)
        return make_error("fleet.gateway_id: 1..255 bytes needed for the link");
    auto key = fleet::LinkKey::create(options.key);
    if (!key) return make_error("fleet.link.key: " + key.error());
    if (auto a = parse_socket_address(options.listen); !a) return make_error("fleet.link.listen: " + a.error());
    auto impl = std::make_unique<Impl>(state, directory, std::move(options), dataplane);
    impl->key = key.value();
    return std::unique_ptr<FleetLink>(new FleetLink(std::move(impl)));
}

FleetLink::FleetLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FleetLink::~FleetLink() { stop(); }

Status FleetLink::start() {
    Impl& s = *impl_;
    auto auth = fleet::LinkAuth::create();
    if (!auth) return make_error("fleet link: " + auth.error());
    s.auth = std::move(auth).value();
    auto eng = CryptoEngine::create();
    if (!eng) return make_error("fleet link: " + eng.error());
    s.engine = std::move(eng).value();
    s.sender = std::make_unique<FrameSender>(*s.engine, s.counters);
    s.seal_buf.resize(fleet::kLinkMaxFrameSize);
    if (::getrandom(&s.salt, sizeof s.salt, 0) != sizeof s.salt) s.salt = static_cast<uint32_t>(mono_ns());
    s.salt &= 0x7fffffffu;  // top bit clear: the dataplane's UDP link sets it (never the same nonce as ours)
    s.next_seq = realtime_ns();

    const SocketAddress listen = parse_socket_address(s.options.listen).value();
    sockaddr_storage ss;
    const socklen_t sl = to_sockaddr(listen, ss);
    s.listen_fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s.listen_fd >= 0) ::setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s.listen_fd < 0 || ::bind(s.listen_fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0 ||
        ::listen(s.listen_fd, 256) < 0)
        return make_error("fleet.link.listen " + s.options.listen + ": " + strerror(errno));
    sockaddr_storage bound{};
    socklen_t bl = sizeof bound;
    ::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&bound), &bl);
    s.port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                              : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    s.epfd = ::epoll_create1(EPOLL_CLOEXEC);
    s.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s.epfd < 0 || s.wake_fd < 0) return make_error(std::string("fleet link: epoll/eventfd: ") + strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kLinkListenTag;
    ::epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.listen_fd, &ev);
    ev.data.u64 = kLinkWakeTag;
    ::epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.wake_fd, &ev);
    s.thread = std::thread([&s] { s.run(); });
    LOG_INFO("fleet link: gateway '%s' listening on %s (port %u)", s.options.gateway_id.c_str(),
             s.options.listen.c_str(), s.port.load());
    return {};
}

void FleetLink::stop() {
    Impl& s = *impl_;
    if (s.thread.joinable()) {
        s.stop = true;
        s.wake();
        s.thread.join();
    }
    for (auto& [id, c] : s.inbound) ::close(c.fd);
    s.inbound.clear();
    for (LinkPeer* p : s.peers_seen)
        if (p->fd >= 0) {
            ::close(p->fd);
            p->fd = -1;
        }
    for (int* fd : {&s.listen_fd, &s.epfd, &s.wake_fd})
        if (*fd >= 0) {
            ::close(*fd);
            *fd = -1;
        }
}

uint16_t FleetLink::listen_port() const { return impl_->port.load(); }
const CounterBlock& FleetLink::counters() const { return impl_->counters; }

bool FleetLink::send(std::string_view gateway_id, const LinkDestination& dst, std::span<const uint8_t> frame,
                     CounterBlock& counters) {
    Impl& s = *impl_;
    if (dst.cluster.empty() || dst.cluster.size() > fleet::kLinkMaxName || dst.identity.size() > fleet::kLinkMaxName ||
        (dst.identity.empty() && dst.private_ip == 0) || frame.size() < fleet::kLinkMinFrame ||
        frame.size() > fleet::kLinkMaxFrame) {
        counters.inc(Counter::fleet_link_bad_destination);
        return false;
    }
    if (gateway_id.empty() || gateway_id.size() > fleet::kLinkMaxName || gateway_id == s.options.gateway_id) {
        counters.inc(Counter::fleet_link_unknown_gateway);
        return false;
    }
    LinkPeer* p = nullptr;
    {
        MutexLock lk(s.peers_mu);
        auto it = s.peers.find(std::string(gateway_id));
        if (it == s.peers.end()) {
            auto np = std::make_unique<LinkPeer>();
            np->id = std::string(gateway_id);
            np->index = static_cast<uint32_t>(s.peer_list.size());
            s.peer_list.push_back(np.get());
            it = s.peers.emplace(np->id, std::move(np)).first;
            s.peer_count.store(s.peer_list.size(), std::memory_order_release);
        }
        p = it->second.get();
    }
    const size_t rec = kRecordFixed + dst.cluster.size() + dst.identity.size() + frame.size();
    bool first;
    {
        MutexLock lk(p->mu);
        if (p->pending.size() + rec > s.options.peer_queue_bytes) {
            counters.inc(Counter::fleet_link_queue_full);
            return false;
        }
        first = p->pending.empty();
        // Appended piece by piece (insert copies once; resize() would zero-fill the frame's
        // bytes first). `pending` and `taken` swap, so both keep their capacity once warm.
        uint8_t fixed[kRecordFixed];
        store_be32(fixed, static_cast<uint32_t>(frame.size()));
        store_be32(fixed + 4, dst.private_ip);
        fixed[8] = static_cast<uint8_t>(dst.cluster.size());
        fixed[9] = static_cast<uint8_t>(dst.identity.size());
        std::vector<uint8_t>& q = p->pending;
        q.insert(q.end(), fixed, fixed + kRecordFixed);
        q.insert(q.end(), dst.cluster.begin(), dst.cluster.end());
        q.insert(q.end(), dst.identity.begin(), dst.identity.end());
        q.insert(q.end(), frame.begin(), frame.end());
        ++p->pending_frames;
    }
    counters.inc(Counter::fleet_link_queued);
    if (first) s.wake();  // later frames ride on the same wake-up
    return true;
}

FleetLink::Relay FleetLink::relay(std::string_view cluster, std::string_view identity, uint32_t private_ip,
                                  std::span<const uint8_t> frame, CounterBlock& counters) {
    thread_local std::string gateway;  // reused: no allocation per frame
    if (!impl_->directory.home_gateway(cluster, identity, gateway)) return Relay::NotRemote;
    return send(gateway, LinkDestination{cluster, private_ip, identity}, frame, counters) ? Relay::Queued
                                                                                          : Relay::Dropped;
}

void FleetLink::Impl::wake() {
    uint64_t one = 1;
    if (::write(wake_fd, &one, sizeof one) < 0) {
        // Saturated only if nobody reads it: the thread wakes anyway.
    }
}

void FleetLink::Impl::run() {
    epoll_event events[64];
    while (!stop) {
        const int n = ::epoll_wait(epfd, events, 64, 50);
        if (peer_count.load(std::memory_order_acquire) != peers_seen.size()) {
            MutexLock lk(peers_mu);
            peers_seen = peer_list;
        }
        for (int i = 0; i < n; ++i) {
            const uint64_t tag = events[i].data.u64;
            if (tag == kLinkListenTag) {
                accept_inbound();
            } else if (tag == kLinkWakeTag) {
                uint64_t v;
                if (::read(wake_fd, &v, sizeof v) < 0) {
                }
            } else if ((tag & kTagKindMask) == kPeerTag) {
                const uint64_t idx = tag & ~kTagKindMask;
                if (idx < peers_seen.size()) on_peer_event(*peers_seen[idx], events[i].events);
            } else if ((tag & kTagKindMask) == kInboundTag) {
                auto it = inbound.find(tag & ~kTagKindMask);
                if (it != inbound.end() && !read_inbound(it->second)) close_inbound(it->first);
            }
        }
        sender->flush();
        service_peers();
    }
}

// Seals what senders queued, connects where needed, writes.
void FleetLink::Impl::service_peers() {
    const SteadyTime now = std::chrono::steady_clock::now();
    for (LinkPeer* pp : peers_seen) {
        LinkPeer& p = *pp;
        {
            MutexLock lk(p.mu);
            if (p.pending.empty()) {
                if (p.state == LinkPeer::State::Up && p.out_off < p.out.size() && !p.want_write) write_peer(p);
                continue;
            }
            // In back-off: what waits is dropped now, not delivered seconds late.
            if (p.state == LinkPeer::State::Idle && now < p.next_try) {
                counters.inc(Counter::fleet_link_peer_down, p.pending_frames);
                p.pending.clear();
                p.pending_frames = 0;
                continue;
            }
            // The peer's socket is behind by a whole queue: leave the records pending (senders
            // see fleet_link_queue_full once that fills too).
            if (p.out.size() - p.out_off > options.peer_queue_bytes) continue;
            p.taken.swap(p.pending);
            p.pending.clear();
            p.pending_frames = 0;
        }
        take_pending(p);
        if (p.state == LinkPeer::State::Idle) connect_peer(p);
        if (p.state == LinkPeer::State::Up) write_peer(p);
    }
}

// Seals every record of p.taken into p.out as a length-prefixed link frame.
void FleetLink::Impl::take_pending(LinkPeer& p) {
    if (p.out_off == p.out.size()) {
        p.out.clear();
        p.ends.clear();
        p.out_off = 0;
        p.ends_done = 0;
    }
    const uint8_t* r = p.taken.data();
    const uint8_t* end = r + p.taken.size();
    while (r + kRecordFixed <= end) {
        const uint32_t frame_len = load_be32(r);
        fleet::LinkHeader h;
        h.dst_ip = load_be32(r + 4);
        const size_t cl = r[8], il = r[9];
        const char* names = reinterpret_cast<const char*>(r + kRecordFixed);
        h.cluster = std::string_view(names, cl);
        h.identity = std::string_view(names + cl, il);
        h.sender = options.gateway_id;
        h.salt = salt;
        h.seq = next_seq++;
        const uint8_t* frame = r + kRecordFixed + cl + il;
        r = frame + frame_len;
        h.frame_len = frame_len;
        const size_t want = fleet::link_frame_size(h);
        // Grow by exactly this frame's size, which seal() then writes in full (`out` does not
        // zero-fill; growing a zero-filling vector by the largest possible link frame, 66 KB, once
        // cost a 66 KB memset per relayed frame).
        const size_t at = p.out.size();
        p.out.resize(at + kLengthPrefix + want);
        const size_t n = auth->seal(*key, h, std::span<const uint8_t>(frame, frame_len),
                                    std::span<uint8_t>(p.out.data() + at + kLengthPrefix, want));
        if (n == 0) {  // send() checked the lengths: cannot happen
            p.out.resize(at);
            counters.inc(Counter::fleet_link_bad_destination);
            continue;
        }
        store_be32(p.out.data() + at, static_cast<uint32_t>(n));
        p.out.resize(at + kLengthPrefix + n);
        p.ends.push_back(p.out.size());
    }
    p.taken.clear();
}

void FleetLink::Impl::connect_peer(LinkPeer& p) {
    const std::optional<std::string> addr = directory.link_address(p.id);
    auto parsed = addr ? parse_socket_address(*addr) : Result<SocketAddress>(make_error("no link address"));
    if (!parsed) {
        LOG_LIMITED(LogLevel::Warn, "fleet link: gateway '%s': %s", p.id.c_str(),
                    addr ? ("bad link address '" + *addr + "': " + parsed.error()).c_str() : "not in the fleet view");
        drop_out(p, Counter::fleet_link_unknown_gateway);
        p.backoff_ms = std::max(options.backoff_min_ms, std::min(options.backoff_max_ms, p.backoff_ms * 2));
        p.next_try = std::chrono::steady_clock::now() + std::chrono::milliseconds(p.backoff_ms);
        return;
    }
    sockaddr_storage ss;
    const socklen_t sl = to_sockaddr(parsed.value(), ss);
    p.fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p.fd < 0) {
        close_peer(p, Counter::fleet_link_peer_down);
        return;
    }
    int one = 1;
    ::setsockopt(p.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(p.fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0 && errno != EINPROGRESS) {
        counters.inc(Counter::fleet_link_connect_failed);
        LOG_LIMITED(LogLevel::Warn, "fleet link: connect to '%s' at %s: %s", p.id.c_str(), addr->c_str(), strerror(errno));
        close_peer(p, Counter::fleet_link_peer_down);
        return;
    }
    p.state = LinkPeer::State::Connecting;
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = kPeerTag | p.index;
    ::epoll_ctl(epfd, EPOLL_CTL_ADD, p.fd, &ev);
    p.want_write = true;
}

void FleetLink::Impl::on_peer_event(LinkPeer& p, uint32_t events) {
    if (p.fd < 0) return;
    if (p.state == LinkPeer::State::Connecting) {
        int err = 0;
        socklen_t el = sizeof err;
        ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            counters.inc(Counter::fleet_link_connect_failed);
            LOG_LIMITED(LogLevel::Warn, "fleet link: connect to '%s': %s", p.id.c_str(), strerror(err ? err : ECONNREFUSED));
            close_peer(p, Counter::fleet_link_peer_down);
            return;
        }
        if (!(events & EPOLLOUT)) return;
        p.state = LinkPeer::State::Up;
        p.backoff_ms = 0;
        counters.inc(Counter::fleet_link_connects);
        LOG_INFO("fleet link: connected to gateway '%s'", p.id.c_str());
        write_peer(p);
        return;
    }
    // The peer never sends on our connection: readable means closed (or garbage: close).
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        LOG_LIMITED(LogLevel::Info, "fleet link: gateway '%s' closed the connection", p.id.c_str());
        close_peer(p, Counter::fleet_link_conn_lost);
        return;
    }
    if (events & EPOLLOUT) write_peer(p);
}

void FleetLink::Impl::write_peer(LinkPeer& p) {
    while (p.out_off < p.out.size()) {
        const ssize_t w = ::send(p.fd, p.out.data() + p.out_off, p.out.size() - p.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            LOG_LIMITED(LogLevel::Info, "fleet link: write to '%s': %s", p.id.c_str(), strerror(errno));
            close_peer(p, Counter::fleet_link_conn_lost);
            return;
        }
        p.out_off += static_cast<size_t>(w);
    }
    size_t done = p.ends_done;
    while (done < p.ends.size() && p.ends[done] <= p.out_off) ++done;
    counters.inc(Counter::fleet_link_tx, done - p.ends_done);
    p.ends_done = done;
    if (p.out_off == p.out.size()) {
        p.out.clear();
        p.ends.clear();
        p.out_off = p.ends_done = 0;
    }
    set_peer_events(p, p.out_off < p.out.size());
}

void FleetLink::Impl::set_peer_events(LinkPeer& p, bool want) {
    if (p.want_write == want) return;
    p.want_write = want;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u);
    ev.data.u64 = kPeerTag | p.index;
    ::epoll_ctl(epfd, EPOLL_CTL_MOD, p.fd, &ev);
}

// Frames sealed but not completely written are lost: counted under `why`.
void FleetLink::Impl::drop_out(LinkPeer& p, Counter why) {
    counters.inc(why, p.ends.size() - p.ends_done);
    p.out.clear();
    p.ends.clear();
    p.out_off = p.ends_done = 0;
}

void FleetLink::Impl::close_peer(LinkPeer& p, Counter why) {
    if (p.fd >= 0) {
        ::epoll_ctl(epfd, EPOLL_CTL_DEL, p.fd, nullptr);
        ::close(p.fd);
        p.fd = -1;
    }
    drop_out(p, why);
    p.state = LinkPeer::State::Idle;
    p.want_write = false;
    p.backoff_ms = std::max(options.backoff_min_ms, std::min(options.backoff_max_ms, p.backoff_ms * 2));
    p.next_try = std::chrono::steady_clock::now() + std::chrono::milliseconds(p.backoff_ms);
}

}  // namespace rustun::cp
