// FleetLink: send(), Sender, the link thread, and the outbound connections to other gateways
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
#include "util/thread_name.hpp"

namespace rustun::cp {

namespace {

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

FleetLink::~FleetLink() {
    stop();
    for (int fd : {impl_->epfd, impl_->wake_fd})
        if (fd >= 0) ::close(fd);
}

Status FleetLink::start() {
    Impl& s = *impl_;
    auto auth = fleet::LinkAuth::create();
    if (!auth) return make_error("fleet link: " + auth.error());
    s.auth = std::move(auth).value();
    auto send_auth = fleet::LinkAuth::create();
    if (!send_auth) return make_error("fleet link: " + send_auth.error());
    {
        MutexLock lk(s.send_mu);
        s.send_auth = std::move(send_auth).value();
    }
    auto eng = CryptoEngine::create();
    if (!eng) return make_error("fleet link: " + eng.error());
    s.engine = std::move(eng).value();
    s.sender = std::make_unique<FrameSender>(*s.engine, s.counters);
    if (::getrandom(&s.salt, sizeof s.salt, 0) != sizeof s.salt) s.salt = static_cast<uint32_t>(mono_ns());
    s.salt &= 0x7fffffffu;  // top bit clear: the dataplane's UDP link sets it (never the same nonce as ours)
    s.next_seq.store(realtime_ns(), std::memory_order_relaxed);

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
    name_thread(s.thread, "cp-fleet-link");
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
    // Senders that still run after this find every peer Idle and in back-off: their frames are
    // dropped (fleet_link_peer_down), never written to a closed descriptor.
    std::vector<LinkPeer*> all;
    {
        MutexLock lk(s.peers_mu);
        all = s.peer_list;
    }
    for (LinkPeer* p : all) {
        MutexLock lk(p->mu);
        if (p->fd >= 0) {
            ::close(p->fd);
            p->fd = -1;
        }
        p->state = LinkPeer::State::Idle;
        p->want_write = false;
        p->next_try = SteadyTime::max();
    }
    if (s.listen_fd >= 0) {
        ::close(s.listen_fd);
        s.listen_fd = -1;
    }
    // epfd and wake_fd stay open until the destructor: workers that still run may touch them.
}

uint16_t FleetLink::listen_port() const { return impl_->port.load(); }
const CounterBlock& FleetLink::counters() const { return impl_->counters; }

LinkPeer* FleetLink::Impl::peer(std::string_view gateway_id, CounterBlock& ctr) {
    if (gateway_id.empty() || gateway_id.size() > fleet::kLinkMaxName || gateway_id == options.gateway_id) {
        ctr.inc(Counter::fleet_link_unknown_gateway);
        return nullptr;
    }
    MutexLock lk(peers_mu);
    auto it = peers.find(std::string(gateway_id));
    if (it == peers.end()) {
        auto np = std::make_unique<LinkPeer>();
        np->id = std::string(gateway_id);
        np->index = static_cast<uint32_t>(peer_list.size());
        peer_list.push_back(np.get());
        it = peers.emplace(np->id, std::move(np)).first;
        peer_count.store(peer_list.size(), std::memory_order_release);
    }
    return it->second.get();
}

bool FleetLink::Impl::seal_for(LinkPeer& p, fleet::LinkAuth& a, const LinkDestination& dst,
                               std::span<const uint8_t> frame, CounterBlock& ctr) {
    if (p.state == LinkPeer::State::Idle && p.next_try != SteadyTime{} &&
        std::chrono::steady_clock::now() < p.next_try) {
        // In back-off after a failure: dropped now, not delivered seconds late.
        ctr.inc(Counter::fleet_link_peer_down);
        return false;
    }
    fleet::LinkHeader h;
    h.dst_ip = dst.private_ip;
    h.cluster = dst.cluster;
    h.identity = dst.identity;
    h.sender = options.gateway_id;
    h.salt = salt;
    h.frame_len = static_cast<uint32_t>(frame.size());
    const size_t want = fleet::link_frame_size(h);
    if (p.out.size() - p.out_off + kLengthPrefix + want > options.peer_queue_bytes) {
        ctr.inc(Counter::fleet_link_queue_full);
        return false;
    }
    if (!p.unwritten()) {
        p.out.clear();
        p.ends.clear();
        p.out_off = p.ends_done = 0;
    }
    // Taken under p.mu: the sequences on one connection only grow, whichever thread seals.
    h.seq = next_seq.fetch_add(1, std::memory_order_relaxed);
    // Grow by exactly this frame's size, which seal() then writes in full (`out` does not
    // zero-fill; growing a zero-filling vector by the largest possible link frame, 66 KB, once
    // cost a 66 KB memset per relayed frame).
    const size_t at = p.out.size();
    p.out.resize(at + kLengthPrefix + want);
    const size_t n = a.seal(*key, h, frame, std::span<uint8_t>(p.out.data() + at + kLengthPrefix, want));
    if (n == 0) {  // the caller checked the lengths: cannot happen
        p.out.resize(at);
        ctr.inc(Counter::fleet_link_bad_destination);
        return false;
    }
    store_be32(p.out.data() + at, static_cast<uint32_t>(n));
    p.out.resize(at + kLengthPrefix + n);
    p.ends.push_back(p.out.size());
    ctr.inc(Counter::fleet_link_queued);
    return true;
}

void FleetLink::Impl::kick(LinkPeer& p, bool write_here, CounterBlock& ctr) {
    if (!p.unwritten() || p.want_write) return;  // nothing to do, or EPOLLOUT will come
    if (p.state == LinkPeer::State::Up && write_here) {
        write_peer(p, ctr);
        return;
    }
    if (p.state != LinkPeer::State::Connecting) wake();  // connect (Idle), or write (Up)
}

namespace {

bool destination_ok(const LinkDestination& dst, std::span<const uint8_t> frame) {
    return !dst.cluster.empty() && dst.cluster.size() <= fleet::kLinkMaxName &&
           dst.identity.size() <= fleet::kLinkMaxName && (!dst.identity.empty() || dst.private_ip != 0) &&
           frame.size() >= fleet::kLinkMinFrame && frame.size() <= fleet::kLinkMaxFrame;
}

}  // namespace

bool FleetLink::send(std::string_view gateway_id, const LinkDestination& dst, std::span<const uint8_t> frame,
                     CounterBlock& counters) {
    Impl& s = *impl_;
    if (!destination_ok(dst, frame)) {
        counters.inc(Counter::fleet_link_bad_destination);
        return false;
    }
    LinkPeer* p = s.peer(gateway_id, counters);
    if (p == nullptr) return false;
    MutexLock slk(s.send_mu);
    if (!s.send_auth) {  // before start(): the link is not up yet
        counters.inc(Counter::fleet_link_peer_down);
        return false;
    }
    MutexLock lk(p->mu);
    if (!s.seal_for(*p, *s.send_auth, dst, frame, counters)) return false;
    // One frame at a time: the link thread writes (later frames ride on the same wake-up).
    s.kick(*p, false, counters);
    return true;
}

FleetLink::Relay FleetLink::relay(std::string_view cluster, std::string_view identity, uint32_t private_ip,
                                  std::span<const uint8_t> frame, CounterBlock& counters) {
    thread_local std::string gateway;  // reused: no allocation per frame
    if (!impl_->directory.home_gateway(cluster, identity, gateway)) return Relay::NotRemote;
    return send(gateway, LinkDestination{cluster, private_ip, identity}, frame, counters) ? Relay::Queued
                                                                                          : Relay::Dropped;
}

struct FleetLink::Sender::State {
    Impl& link;
    std::unique_ptr<fleet::LinkAuth> auth;
    std::string gateway;                                       // reused: no allocation per frame
    std::vector<std::pair<std::string, LinkPeer*>> peers;      // gateway id -> peer, a few entries
    std::vector<LinkPeer*> touched;                            // sealed into since the last flush()
};

FleetLink::Sender::Sender(std::unique_ptr<State> st) : st_(std::move(st)) {}
FleetLink::Sender::~Sender() = default;

Result<std::unique_ptr<FleetLink::Sender>> FleetLink::make_sender() {
    auto a = fleet::LinkAuth::create();
    if (!a) return make_error("fleet link: " + a.error());
    auto st = std::unique_ptr<Sender::State>(new Sender::State{*impl_, std::move(a).value(), {}, {}, {}});
    return std::unique_ptr<Sender>(new Sender(std::move(st)));
}

FleetLink::Relay FleetLink::Sender::relay(std::string_view cluster, std::string_view identity, uint32_t private_ip,
                                          std::span<const uint8_t> frame, CounterBlock& counters) {
    State& s = *st_;
    if (!s.link.directory.home_gateway(cluster, identity, s.gateway)) return Relay::NotRemote;
    const LinkDestination dst{cluster, private_ip, identity};
    if (!destination_ok(dst, frame)) {
        counters.inc(Counter::fleet_link_bad_destination);
        return Relay::Dropped;
    }
    LinkPeer* p = nullptr;
    for (const auto& [id, peer] : s.peers)
        if (id == s.gateway) p = peer;
    if (p == nullptr) {
        p = s.link.peer(s.gateway, counters);
        if (p == nullptr) return Relay::Dropped;
        s.peers.emplace_back(s.gateway, p);
    }
    {
        MutexLock lk(p->mu);
        if (!s.link.seal_for(*p, *s.auth, dst, frame, counters)) return Relay::Dropped;
    }
    if (std::find(s.touched.begin(), s.touched.end(), p) == s.touched.end()) s.touched.push_back(p);
    return Relay::Queued;
}

void FleetLink::Sender::flush(CounterBlock& counters) {
    State& s = *st_;
    for (LinkPeer* p : s.touched) {
        MutexLock lk(p->mu);
        s.link.kick(*p, true, counters);
    }
    s.touched.clear();
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

// Connects where frames wait, writes what the senders left to this thread.
void FleetLink::Impl::service_peers() {
    const SteadyTime now = std::chrono::steady_clock::now();
    for (LinkPeer* pp : peers_seen) {
        LinkPeer& p = *pp;
        MutexLock lk(p.mu);
        if (!p.unwritten()) continue;
        if (p.state == LinkPeer::State::Idle) {
            // In back-off: what waits is dropped now, not delivered seconds late.
            if (now < p.next_try) drop_out(p, Counter::fleet_link_peer_down, counters);
            else connect_peer(p);
        } else if (p.state == LinkPeer::State::Up && !p.want_write) {
            write_peer(p, counters);
        }
    }
}

void FleetLink::Impl::connect_peer(LinkPeer& p) {
    const std::optional<std::string> addr = directory.link_address(p.id);
    auto parsed = addr ? parse_socket_address(*addr) : Result<SocketAddress>(make_error("no link address"));
    if (!parsed) {
        LOG_LIMITED(LogLevel::Warn, "fleet link: gateway '%s': %s", p.id.c_str(),
                    addr ? ("bad link address '" + *addr + "': " + parsed.error()).c_str() : "not in the fleet view");
        drop_out(p, Counter::fleet_link_unknown_gateway, counters);
        p.backoff_ms = std::max(options.backoff_min_ms, std::min(options.backoff_max_ms, p.backoff_ms * 2));
        p.next_try = std::chrono::steady_clock::now() + std::chrono::milliseconds(p.backoff_ms);
        return;
    }
    sockaddr_storage ss;
    const socklen_t sl = to_sockaddr(parsed.value(), ss);
    p.fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p.fd < 0) {
        close_peer(p, Counter::fleet_link_peer_down, counters);
        return;
    }
    int one = 1;
    ::setsockopt(p.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(p.fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0 && errno != EINPROGRESS) {
        counters.inc(Counter::fleet_link_connect_failed);
        LOG_LIMITED(LogLevel::Warn, "fleet link: connect to '%s' at %s: %s", p.id.c_str(), addr->c_str(), strerror(errno));
        close_peer(p, Counter::fleet_link_peer_down, counters);
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
    MutexLock lk(p.mu);
    if (p.fd < 0) return;
    if (p.state == LinkPeer::State::Connecting) {
        int err = 0;
        socklen_t el = sizeof err;
        ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            counters.inc(Counter::fleet_link_connect_failed);
            LOG_LIMITED(LogLevel::Warn, "fleet link: connect to '%s': %s", p.id.c_str(), strerror(err ? err : ECONNREFUSED));
            close_peer(p, Counter::fleet_link_peer_down, counters);
            return;
        }
        if (!(events & EPOLLOUT)) return;
        p.state = LinkPeer::State::Up;
        p.backoff_ms = 0;
        p.next_try = SteadyTime{};
        counters.inc(Counter::fleet_link_connects);
        LOG_INFO("fleet link: connected to gateway '%s'", p.id.c_str());
        write_peer(p, counters);
        return;
    }
    // The peer never sends on our connection: readable means closed (or garbage: close).
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        LOG_LIMITED(LogLevel::Info, "fleet link: gateway '%s' closed the connection", p.id.c_str());
        close_peer(p, Counter::fleet_link_conn_lost, counters);
        return;
    }
    if (events & EPOLLOUT) write_peer(p, counters);
}

void FleetLink::Impl::write_peer(LinkPeer& p, CounterBlock& ctr) {
    while (p.out_off < p.out.size()) {
        const ssize_t w = ::send(p.fd, p.out.data() + p.out_off, p.out.size() - p.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            LOG_LIMITED(LogLevel::Info, "fleet link: write to '%s': %s", p.id.c_str(), strerror(errno));
            close_peer(p, Counter::fleet_link_conn_lost, ctr);
            return;
        }
        p.out_off += static_cast<size_t>(w);
    }
    size_t done = p.ends_done;
    while (done < p.ends.size() && p.ends[done] <= p.out_off) ++done;
    ctr.inc(Counter::fleet_link_tx, done - p.ends_done);
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
void FleetLink::Impl::drop_out(LinkPeer& p, Counter why, CounterBlock& ctr) {
    ctr.inc(why, p.ends.size() - p.ends_done);
    p.out.clear();
    p.ends.clear();
    p.out_off = p.ends_done = 0;
}

void FleetLink::Impl::close_peer(LinkPeer& p, Counter why, CounterBlock& ctr) {
    if (p.fd >= 0) {
        ::epoll_ctl(epfd, EPOLL_CTL_DEL, p.fd, nullptr);
        ::close(p.fd);
        p.fd = -1;
    }
    drop_out(p, why, ctr);
    p.state = LinkPeer::State::Idle;
    p.want_write = false;
    p.backoff_ms = std::max(options.backoff_min_ms, std::min(options.backoff_max_ms, p.backoff_ms * 2));
    p.next_try = std::chrono::steady_clock::now() + std::chrono::milliseconds(p.backoff_ms);
}

}  // namespace rustun::cp
