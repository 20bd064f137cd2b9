#include "client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log.hpp"
#include "proto/json_writer.hpp"
#include "stun.hpp"

namespace rustun::client {

namespace {

enum Tag : uint32_t {
    TagTun = 1,
    TagTcp,
    TagP2p,
    TagRelay,
    TagStun,
    TagTimer,
    TagSignal,
    TagStatusUnix,
    TagHttpListen,
    TagHttpConn,
};
constexpr uint64_t tag(Tag t, uint32_t idx = 0) { return (uint64_t)t << 32 | idx; }

constexpr size_t kOutBufBytes = 1 << 20;  // TCP output buffer
constexpr uint64_t kConnectTimeoutMs = 10000;
constexpr uint64_t kHandshakeTimeoutMs = 20000;
constexpr uint64_t kBackoffMaxMs = 30000;
constexpr uint64_t kTickMs = 100;
constexpr uint64_t kHttpTimeoutMs = 5000;

uint32_t rd32(const uint8_t* p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

const char* state_name(int s) {
    static const char* n[] = {"backoff", "connecting", "handshaking", "established"};
    return n[s];
}

// Text form of an advertised endpoint for status and logs.
std::string endpoint_text(const std::string& ip, uint16_t port) {
    if (ip.empty()) return "";
    if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
    return ip + ":" + std::to_string(port);
}

void json_kv(std::string& o, const char* k, const std::string& v, bool comma = true) {
    if (comma) o += ',';
    json_append_string(o, k);
    o += ':';
    json_append_string(o, v);
}
void json_ku(std::string& o, const char* k, uint64_t v, bool comma = true) {
    if (comma) o += ',';
    json_append_string(o, k);
    o += ':';
    o += std::to_string(v);
}
void json_kb(std::string& o, const char* k, bool v, bool comma = true) {
    if (comma) o += ',';
    json_append_string(o, k);
    o += ':';
    o += v ? "true" : "false";
}
void json_counters(std::string& o, const char* k, const PathCounters& c) {
    o += ',';
    json_append_string(o, k);
    o += ":{";
    json_ku(o, "rx_packets", c.rx_packets, false);
    json_ku(o, "tx_packets", c.tx_packets);
    json_ku(o, "rx_bytes", c.rx_bytes);
    json_ku(o, "tx_bytes", c.tx_bytes);
    o += '}';
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// time

uint64_t Client::mono_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
uint64_t Client::unix_s() { return (uint64_t)::time(nullptr); }
uint64_t Client::unix_us() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

// ------------------------------------------------------------------------------------------------
// set-up

Client::Client(Options opts) : o_(std::move(opts)) {}

Client::~Client() {
    for (auto& h : http_conns_)
        if (h.fd >= 0) ::close(h.fd);
    for (int fd : {tcp_fd_, p2p_fd_, relay_fd_, timer_fd_, signal_fd_, status_fd_, http_fd_, ep_})
        if (fd >= 0) ::close(fd);
    if (stun_own_fd_ && stun_fd_ >= 0) ::close(stun_fd_);
}

void Client::epoll_add(int fd, uint64_t t, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = t;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
}
void Client::epoll_mod(int fd, uint64_t t, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = t;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
}

Status Client::init() {
    started_unix_ = unix_s();
    auto spec = CipherSpec::parse(o_.crypto);
    if (!spec) return make_error("-c/--crypto: " + spec.error());
    auto key = CipherKey::create(spec.value());
    if (!key) return make_error("-c/--crypto: " + key.error());
    key_ = std::move(key.value());
    auto eng = CryptoEngine::create();
    if (!eng) return make_error("crypto engine: " + eng.error());
    engine_ = std::move(eng.value());

    tun_buf_.resize(kMaxFrameSize + 64);
    rx_buf_.resize(kMaxFrameSize + 64);
    out_.resize(kOutBufBytes);

    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return make_error(std::string("epoll_create1: ") + strerror(errno));

    // Signals.
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGTERM);
    sigprocmask(SIG_BLOCK, &ss, nullptr);
    signal(SIGPIPE, SIG_IGN);
    signal_fd_ = ::signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) return make_error(std::string("signalfd: ") + strerror(errno));
    epoll_add(signal_fd_, tag(TagSignal), EPOLLIN);

    timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd_ < 0) return make_error(std::string("timerfd_create: ") + strerror(errno));
    itimerspec its{};
    its.it_value.tv_nsec = kTickMs * 1000000;
    its.it_interval.tv_nsec = kTickMs * 1000000;
    ::timerfd_settime(timer_fd_, 0, &its, nullptr);
    epoll_add(timer_fd_, tag(TagTimer), EPOLLIN);

    // TUN (configured once the first HandshakeReply arrives).
    Status st = tun_.open(o_.tun_name);
    if (!st) return make_error("--tun: " + st.error());
    epoll_add(tun_.fd(), tag(TagTun), EPOLLIN);
    CLOG_INFO("TUN device %s created (MTU %u, configured after the handshake)", tun_.name().c_str(), o_.mtu);

    // P2P socket: dual-stack [::]:port, IPv4-only if the host has no IPv6.
    if (o_.enable_p2p) {
        int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        bool ok = false;
        if (fd >= 0) {
            int zero = 0;
            ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
            sockaddr_in6 a{};
            a.sin6_family = AF_INET6;
            a.sin6_port = htons(o_.p2p_port);
            ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            if (!ok && errno == EADDRINUSE)
                return make_error("--p2p-port: UDP port " + std::to_string(o_.p2p_port) + " is in use");
            if (!ok) ::close(fd);
        }
        if (!ok) {
            fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(o_.p2p_port);
            if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
                return make_error("--p2p-port: cannot bind UDP port " + std::to_string(o_.p2p_port) + ": " +
                                  strerror(errno));
            p2p_family_ = AF_INET;
        }
        p2p_fd_ = fd;
        epoll_add(p2p_fd_, tag(TagP2p), EPOLLIN);
        CLOG_INFO("P2P enabled on UDP port %u (%s)", o_.p2p_port, p2p_family_ == AF_INET6 ? "dual-stack" : "IPv4 only");
    }

    // Public address source.
    if (o_.addr_source == AddrSource::Stun) {
        auto a = resolve(o_.stun_host, o_.stun_port, SOCK_DGRAM, stun_addr_len_);
        if (!a) return make_error("--public-addr-stun: " + a.error());
        stun_addr_ = a.value();
        if (p2p_fd_ >= 0) {
            stun_fd_ = p2p_fd_;
        } else {
            stun_fd_ = ::socket(stun_addr_.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (stun_fd_ < 0) return make_error(std::string("--public-addr-stun: socket: ") + strerror(errno));
            stun_own_fd_ = true;
            epoll_add(stun_fd_, tag(TagStun), EPOLLIN);
        }
    }
    rebuild_keepalive_body();
    start_address_check();

    if (o_.relay == RelayMode::Udp) {
        Status rs = open_relay_socket();
        if (!rs) return rs;
    }

    // Status endpoints.
    if (!o_.status_socket.empty()) {
        status_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_un su{};
        su.sun_family = AF_UNIX;
        snprintf(su.sun_path, sizeof su.sun_path, "%s", o_.status_socket.c_str());
        ::unlink(o_.status_socket.c_str());
        if (status_fd_ < 0 || ::bind(status_fd_, reinterpret_cast<sockaddr*>(&su), sizeof su) != 0 ||
            ::listen(status_fd_, 16) != 0)
            return make_error("--status-socket " + o_.status_socket + ": " + strerror(errno));
        epoll_add(status_fd_, tag(TagStatusUnix), EPOLLIN);
    }
    if (o_.http_port) {
        http_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(http_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(o_.http_port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (http_fd_ < 0 || ::bind(http_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(http_fd_, 16) != 0)
            return make_error("--http-port " + std::to_string(o_.http_port) + ": " + strerror(errno));
        epoll_add(http_fd_, tag(TagHttpListen), EPOLLIN);
        CLOG_INFO("status API on http://127.0.0.1:%u/status", o_.http_port);
    }
    next_connect_ms_ = mono_ms();
    return {};
}

// ------------------------------------------------------------------------------------------------
// loop

int Client::run() {
    epoll_event evs[64];
    while (running_) {
        int n = ::epoll_wait(ep_, evs, 64, 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            CLOG_ERROR("epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n && running_; ++i) {
            const uint64_t t = evs[i].data.u64;
            const uint32_t idx = (uint32_t)t;
            switch ((Tag)(t >> 32)) {
                case TagTun: on_tun(); break;
                case TagTcp: on_tcp(evs[i].events); break;
                case TagP2p: on_p2p(); break;
                case TagRelay: on_relay_udp(); break;
                case TagStun: on_stun_socket(); break;
                case TagTimer: {
                    uint64_t exp;
                    while (::read(timer_fd_, &exp, sizeof exp) > 0) {
                    }
                    on_tick();
                    break;
                }
                case TagSignal: {
                    signalfd_siginfo si;
                    if (::read(signal_fd_, &si, sizeof si) == (ssize_t)sizeof si)
                        CLOG_INFO("signal %u received: shutting down", si.ssi_signo);
                    running_ = false;
                    break;
                }
                case TagStatusUnix: on_status_unix(); break;
                case TagHttpListen: on_http_listen(); break;
                case TagHttpConn: on_http_conn(idx, evs[i].events); break;
            }
        }
    }
    remove_routes();
    if (!o_.status_socket.empty()) ::unlink(o_.status_socket.c_str());
    CLOG_INFO("stopped");
    return 0;
}

// ------------------------------------------------------------------------------------------------
// TCP relay session

void Client::start_connect() {
    socklen_t len = 0;
    auto addr = resolve(o_.server_host, o_.server_port, SOCK_STREAM, len);
    if (!addr) {
        tcp_fail(addr.error().c_str());
        return;
    }
    server_peer_text_ = sockaddr_text(addr.value());
    int fd = ::socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tcp_fail(strerror(errno));
        return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    tcp_fd_ = fd;
    tcp_state_ = TcpState::Connecting;
    state_deadline_ms_ = mono_ms() + kConnectTimeoutMs;
    CLOG_INFO("connecting to %s", server_peer_text_.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr.value()), len) < 0 && errno != EINPROGRESS) {
        tcp_fail(strerror(errno));
        return;
    }
    tcp_events_ = EPOLLOUT | EPOLLIN;
    epoll_add(fd, tag(TagTcp), tcp_events_);
}

void Client::tcp_fail(const char* why) {
    const bool was_up = tcp_state_ == TcpState::Established;
    if (tcp_fd_ >= 0) {
        ::epoll_ctl(ep_, EPOLL_CTL_DEL, tcp_fd_, nullptr);
        ::close(tcp_fd_);
        tcp_fd_ = -1;
    }
    last_error_ = why;
    reasm_.reset();
    out_head_ = out_tail_ = 0;
    tcp_state_ = TcpState::Backoff;
    if (was_up) backoff_ms_ = 1000;
    next_connect_ms_ = mono_ms() + backoff_ms_;
    CLOG_WARN("%s %s: %s; reconnecting in %llu s", was_up ? "lost connection to" : "cannot connect to",
              server_peer_text_.empty() ? o_.server_host.c_str() : server_peer_text_.c_str(), why,
              (unsigned long long)(backoff_ms_ / 1000));
    backoff_ms_ = std::min(backoff_ms_ * 2, kBackoffMaxMs);
    connected_since_unix_ = 0;
}

void Client::tcp_connected() {
    // Old-dialect Handshake {identity, ipv6, port}: the shape every gateway generation accepts.
    Handshake hs;
    hs.identity = o_.identity;
    hs.ipv6 = pub_ip_;
    hs.port = pub_ip_.empty() ? 0 : pub_port_;
    std::string body;
    encode_handshake(hs, Shape::Old, body);
    tcp_state_ = TcpState::Handshaking;
    state_deadline_ms_ = mono_ms() + kHandshakeTimeoutMs;
    if (!tcp_send_frame(FrameType::Handshake, reinterpret_cast<const uint8_t*>(body.data()), body.size()))
        tcp_fail("cannot send the Handshake");
}

void Client::tcp_update_epoll() {
    if (tcp_fd_ < 0) return;
    uint32_t want = EPOLLIN | (out_tail_ > out_head_ ? (uint32_t)EPOLLOUT : 0u);
    if (want != tcp_events_) {
        tcp_events_ = want;
        epoll_mod(tcp_fd_, tag(TagTcp), want);
    }
}

bool Client::tcp_flush() {
    while (out_head_ < out_tail_) {
        ssize_t w = ::send(tcp_fd_, out_.data() + out_head_, out_tail_ - out_head_, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            tcp_fail(strerror(errno));
            return false;
        }
        out_head_ += (size_t)w;
    }
    if (out_head_ == out_tail_) out_head_ = out_tail_ = 0;
    tcp_update_epoll();
    return true;
}

// Seals `plain` straight into the output buffer and flushes. False: buffer full (frame dropped)
// or the connection failed.
bool Client::tcp_send_frame(FrameType type, const uint8_t* plain, size_t len) {
    if (tcp_fd_ < 0) return false;
    const size_t need = kFrameHeaderSize + len + key_->overhead();
    if (need > kMaxFrameSize) return false;
    if (out_.size() - out_tail_ < need && out_head_ > 0) {
        std::memmove(out_.data(), out_.data() + out_head_, out_tail_ - out_head_);
        out_tail_ -= out_head_;
        out_head_ = 0;
    }
    if (out_.size() - out_tail_ < need) {
        ++c_.tcp_out_full;
        return false;
    }
    const size_t total = seal_into(out_.data() + out_tail_, need, type, plain, len);
    if (total == 0) return false;
    out_tail_ += total;
    return tcp_flush();
}

// Seals `plain` as a `type` frame into frame[0..need) (header, then payload); in place when
// `plain` already sits at frame + 8 + prefix. Returns the frame length, 0 on failure.
size_t Client::seal_into(uint8_t* frame, size_t need, FrameType type, const uint8_t* plain, size_t len,
                         const uint8_t* nonce) {
    SealItem it;
    it.nonce = nonce;
    it.key = key_.get();
    it.plaintext = plain;
    it.plaintext_len = (uint32_t)len;
    it.out = frame + kFrameHeaderSize;
    it.out_capacity = (uint32_t)(need - kFrameHeaderSize);
    if (engine_->seal(it) != CryptoStatus::Ok) return 0;
    if (!encode_header(type, it.out_len, std::span<uint8_t>(frame, kFrameHeaderSize))) return 0;
    return kFrameHeaderSize + it.out_len;
}

void Client::on_tcp(uint32_t events) {
    if (tcp_fd_ < 0) return;
    if (tcp_state_ == TcpState::Connecting) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t el = sizeof err;
        ::getsockopt(tcp_fd_, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
            tcp_fail(strerror(err));
            return;
        }
        tcp_events_ = EPOLLIN;
        epoll_mod(tcp_fd_, tag(TagTcp), tcp_events_);
        tcp_connected();
        return;
    }
    if (events & EPOLLOUT) {
        if (!tcp_flush()) return;
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    for (int round = 0; round < 16; ++round) {
        for (;;) {
            ReadResult r = reasm_.next();
            if (r.status == ReadStatus::NeedMore) break;
            if (r.status == ReadStatus::UnknownType) {
                CLOG_DEBUG("skipped a frame of unknown type %u from the gateway", r.type);
                continue;
            }
            if (r.status != ReadStatus::Frame) {
                tcp_fail(r.status == ReadStatus::BadMagic     ? "bad magic from the gateway"
                         : r.status == ReadStatus::BadVersion ? "bad version from the gateway"
                                                              : "frame length refused");
                return;
            }
            const int fd_before = tcp_fd_;
            handle_tcp_frame(r.type, const_cast<uint8_t*>(r.payload.data()), r.payload.size());
            if (tcp_fd_ != fd_before || tcp_fd_ < 0) return;  // the handler dropped the connection
        }
        auto area = reasm_.write_area();
        if (area.empty()) break;
        ssize_t n = ::recv(tcp_fd_, area.data(), area.size(), MSG_DONTWAIT);
        if (n == 0) {
            tcp_fail("connection closed by the gateway");
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            tcp_fail(strerror(errno));
            return;
        }
        reasm_.commit((size_t)n);
        last_rx_ms_ = mono_ms();
    }
}

void Client::handle_tcp_frame(uint8_t type, uint8_t* payload, size_t len) {
    OpenItem it;
    it.key = key_.get();
    it.payload = payload;
    it.payload_len = (uint32_t)len;
    if (engine_->open(it) != CryptoStatus::Ok) {
        tcp_fail("a frame from the gateway failed authentication (wrong -c key?)");
        return;
    }
    const uint8_t* pt = it.plaintext;
    const size_t pl = it.plaintext_len;
    std::string_view text(reinterpret_cast<const char*>(pt), pl);
    const uint64_t now = mono_ms();
    if (tcp_state_ == TcpState::Handshaking) {
        if (type != (uint8_t)FrameType::HandshakeReply) {
            CLOG_DEBUG("frame type %u before the HandshakeReply ignored", type);
            return;
        }
        // Try every reply shape: superset (ours), HEAD, dbde974.
        Result<HandshakeReply> r = decode_handshake_reply(text, ReplyShape::Superset);
        const char* shape = "superset";
        if (!r) {
            r = decode_handshake_reply(text, ReplyShape::New);
            shape = "new";
        }
        if (!r) {
            r = decode_handshake_reply(text, ReplyShape::Old);
            shape = "old";
        }
        if (!r) {
            tcp_fail(("unparseable HandshakeReply: " + r.error()).c_str());
            return;
        }
        tcp_state_ = TcpState::Established;
        backoff_ms_ = 1000;
        ++connects_;
        connected_since_unix_ = unix_s();
        last_rx_ms_ = now;
        CLOG_INFO("connected to %s as '%s' (%s reply): %s/%s, %zu peer(s)", server_peer_text_.c_str(),
                  o_.identity.c_str(), shape, r->private_ip.c_str(), r->mask.c_str(), r->peers.size());
        apply_handshake_reply(r.value());
        if (tcp_fd_ < 0) return;
        next_ka_ms_ = now;  // first KeepAlive right after the handshake
        next_udp_ka_ms_ = now;
        return;
    }
    if (tcp_state_ != TcpState::Established) return;
    switch ((FrameType)type) {
        case FrameType::Data: {
            if (pl < 20 || (pt[0] >> 4) != 4) return;
            ++c_.tcp_data_rx;
            if (Peer* p = peer_for_ip(rd32(pt + 12))) {
                ++p->relay.rx_packets;
                p->relay.rx_bytes += pl;
            }
            write_tun(pt, pl);
            return;
        }
        case FrameType::KeepAlive: {
            ++c_.keepalive_rx;
            auto ka = decode_keepalive(text, DecodeMode::Lenient);
            if (!ka) {
                CLOG_WARN("unparseable KeepAlive reply: %s", ka.error().c_str());
                return;
            }
            if (ka->has_peer_details) apply_peer_list(ka->peer_details, false);
            return;
        }
        case FrameType::PeerUpdate: {
            ++c_.peer_updates_rx;
            auto u = decode_peer_update(text);
            if (!u) {
                CLOG_WARN("unparseable PeerUpdate: %s", u.error().c_str());
                return;
            }
            apply_peer_update(u.value());
            return;
        }
        default: CLOG_DEBUG("frame type %u from the gateway ignored", type); return;
    }
}

void Client::send_keepalive() {
    ++c_.keepalive_tx;
    if (!tcp_send_frame(FrameType::KeepAlive, reinterpret_cast<const uint8_t*>(ka_body_.data()), ka_body_.size()) &&
        tcp_fd_ >= 0)
        CLOG_WARN("KeepAlive not sent: output buffer full");
}

void Client::apply_handshake_reply(const HandshakeReply& r) {
    auto ip = parse_ipv4(r.private_ip);
    auto mask = parse_ipv4(r.mask);
    auto plen = mask ? netmask_prefix_len(*mask) : std::nullopt;
    if (!ip || !plen) {
        tcp_fail("HandshakeReply carries an invalid private_ip or mask");
        return;
    }
    gateway_text_ = r.gateway;
    if (!tun_configured_ || ip->value != tun_addr_ || mask->value != tun_mask_) {
        Status st = tun_.configure(ip->value, mask->value, o_.mtu);
        if (!st) {
            CLOG_ERROR("cannot configure %s: %s", tun_.name().c_str(), st.error().c_str());
        } else {
            CLOG_INFO("%s %s: %s/%u, MTU %u, up", tun_.name().c_str(), tun_configured_ ? "re-addressed" : "configured",
                      r.private_ip.c_str(), (unsigned)*plen, o_.mtu);
            if (tun_configured_) routes_.clear();  // the kernel dropped them with the old address
            tun_addr_ = ip->value;
            tun_mask_ = mask->value;
            tun_configured_ = true;
        }
    }
    apply_peer_list(r.peers, true);
    if (o_.enable_p2p) probe_all(mono_ms());
}

// authoritative (HandshakeReply): the list replaces the table (peers missing from it are
// dropped); otherwise (KeepAlive reply) peers are added and updated, never removed.
void Client::apply_peer_list(const std::vector<PeerDetail>& list, bool authoritative) {
    bool changed_routes = false;
    std::vector<Peer> next;
    if (authoritative) next.reserve(list.size());
    for (const PeerDetail& d : list) {
        if (d.identity == o_.identity) continue;
        auto ip = parse_ipv4(d.private_ip);
        if (!ip) continue;
        auto it = std::find_if(peers_.begin(), peers_.end(), [&](const Peer& p) { return p.identity == d.identity; });
        Peer fresh;
        Peer* p;
        if (it != peers_.end()) {
            p = &*it;
        } else {
            fresh.identity = d.identity;
            p = &fresh;
            CLOG_INFO("peer '%s' (%s) added%s", d.identity.c_str(), d.private_ip.c_str(),
                      d.ipv6.empty() ? "" : (", advertised at " + endpoint_text(d.ipv6, d.port)).c_str());
        }
        p->name = d.name;
        p->gw_last_active = d.last_active;
        if (p->private_ip_text != d.private_ip || p->cider_texts != d.ciders) {
            p->private_ip_text = d.private_ip;
            p->private_ip = ip->value;
            p->cider_texts = d.ciders;
            p->ciders.clear();
            for (const auto& c : d.ciders)
                if (auto pc = parse_ipv4_cidr(c)) p->ciders.push_back(*pc);
            changed_routes = true;
        }
        // A non-empty advertised address that differs from the known one replaces it; an empty
        // one (peer offline or without an address source) leaves a learned address alone.
        if (!d.ipv6.empty() && (d.ipv6 != p->adv_ip || d.port != p->adv_port)) {
            const bool known = !p->adv_ip.empty();
            set_peer_advertised(*p, d.ipv6, d.port, known, known ? "address changed" : "address advertised");
        } else if (d.ipv6.empty()) {
            p->adv_ip.clear();
            p->adv_port = 0;
        }
        if (authoritative) {
            next.push_back(std::move(*p));
        } else if (p == &fresh) {
            peers_.push_back(std::move(fresh));
            changed_routes = true;
        }
    }
    if (authoritative) {
        for (const Peer& old : peers_) {
            if (std::none_of(next.begin(), next.end(), [&](const Peer& p) { return p.identity == old.identity; })) {
                CLOG_INFO("peer '%s' removed (not in the new HandshakeReply)", old.identity.c_str());
                changed_routes = true;
            }
        }
        if (next.size() != peers_.size()) changed_routes = true;
        peers_ = std::move(next);
    }
    if (changed_routes || authoritative) sync_routes();
}

void Client::apply_peer_update(const PeerUpdate& u) {
    auto it = std::find_if(peers_.begin(), peers_.end(), [&](const Peer& p) { return p.identity == u.identity; });
    if (it == peers_.end()) {
        CLOG_DEBUG("PeerUpdate for unknown peer '%s' ignored", u.identity.c_str());
        return;
    }
    CLOG_INFO("PeerUpdate: '%s' now at %s", u.identity.c_str(),
              u.ipv6.empty() ? "(no address)" : endpoint_text(u.ipv6, u.port).c_str());
    if (u.ipv6.empty()) {
        it->adv_ip.clear();
        it->adv_port = 0;
        return;
    }
    set_peer_advertised(*it, u.ipv6, u.port, true, "PeerUpdate");
}

// Records an advertised address. With force_reset (PeerUpdate, a changed address) the peer's
// P2P state starts over and it is probed at once.
void Client::set_peer_advertised(Peer& p, const std::string& ip, uint16_t port, bool force_reset, const char* why) {
    p.adv_ip = ip;
    p.adv_port = port;
    sockaddr_in6 a;
    if (port == 0 || !make_v6_sockaddr(ip, port, a)) {
        CLOG_WARN("peer '%s': advertised address \"%s\" port %u is not usable", p.identity.c_str(), ip.c_str(), port);
        return;
    }
    if (p2p_family_ == AF_INET && !IN6_IS_ADDR_V4MAPPED(&a.sin6_addr)) {
        CLOG_WARN("peer '%s': IPv6 address %s unusable on an IPv4-only P2P socket", p.identity.c_str(), ip.c_str());
        return;
    }
    // The P2P state starts over only when the address really moved: a PeerUpdate naming the
    // address we already have a path to (e.g. learned from the peer's own probe) just re-probes.
    const bool moved = !p.has_addr || !same_endpoint(p.addr, a);
    if (!moved && !force_reset) return;
    p.addr = a;
    p.has_addr = true;
    if (moved) {
        p.last_rx_ms = 0;
        p.last_answer_ms = 0;
    }
    if (o_.enable_p2p) {
        CLOG_INFO("peer '%s': P2P address %s (%s), probing", p.identity.c_str(), endpoint_text(ip, port).c_str(), why);
        probe(p, mono_ms());
    }
}

// ------------------------------------------------------------------------------------------------
// data path

Peer* Client::peer_for_ip(uint32_t ip) {
    Peer* best = nullptr;
    int best_len = -1;
    for (Peer& p : peers_) {
        if (p.private_ip == ip) return &p;
        for (const Ipv4Cidr& c : p.ciders)
            if (c.contains(Ipv4Addr{ip}) && (int)c.prefix_len > best_len) {
                best = &p;
                best_len = c.prefix_len;
            }
    }
    return best;
}

void Client::write_tun(const uint8_t* pkt, size_t len) {
    ssize_t w = ::write(tun_.fd(), pkt, len);
    if (w < 0)
        ++c_.tun_write_errors;
    else
        ++c_.tun_tx;
}

bool Client::path_valid(const Peer& p, uint64_t now) const {
    return o_.enable_p2p && p.has_addr && p.last_rx_ms != 0 && now - p.last_rx_ms < kP2pValidMs;
}

bool Client::udp_relay_ok(uint64_t now) const {
    return relay_fd_ >= 0 && udp_last_reply_ms_ != 0 && now - udp_last_reply_ms_ < kUdpRelayValidMs;
}

void Client::on_tun() {
    const size_t off = kFrameHeaderSize + key_->prefix_len();
    uint8_t* pkt = tun_buf_.data() + off;
    const size_t cap = std::min<size_t>(tun_buf_.size() - off - key_->overhead(), kMaxPayloadSize - key_->overhead());
    for (int i = 0; i < 64; ++i) {
        ssize_t n = ::read(tun_.fd(), pkt, cap);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // EAGAIN (or an error: nothing else to do)
        }
        if (n < 20 || (pkt[0] >> 4) != 4) continue;  // IPv4 only (the gateway relays nothing else)
        ++c_.tun_rx;
        const uint64_t now = mono_ms();
        Peer* p = peer_for_ip(rd32(pkt + 16));
        if (p && path_valid(*p, now)) {
            if (udp_send_frame(p2p_fd_, p2p_family_, FrameType::Data, pkt, (size_t)n, &p->addr)) {
                ++p->p2p.tx_packets;
                p->p2p.tx_bytes += (size_t)n;
            }
            continue;
        }
        bool sent = false;
        if (o_.relay == RelayMode::Udp && tcp_state_ == TcpState::Established && udp_relay_ok(now)) {
            sent = udp_send_frame(relay_fd_, relay_family_, FrameType::Data, pkt, (size_t)n, nullptr);
            if (sent) ++c_.udp_relay_data_tx;
        }
        if (!sent && tcp_state_ == TcpState::Established) {
            sent = tcp_send_frame(FrameType::Data, pkt, (size_t)n);
            if (sent) ++c_.tcp_data_tx;
        }
        if (!sent) {
            ++c_.no_path_drops;
            continue;
        }
        if (p) {
            ++p->relay.tx_packets;
            p->relay.tx_bytes += (size_t)n;
        }
    }
}

// Seals in tun_buf_/rx_buf_-independent scratch: `plain` must either lie at
// tun_buf_ + header + prefix (in place) or anywhere else (copied by the cipher).
bool Client::udp_send_frame(int fd, int family, FrameType type, const uint8_t* plain, size_t len,
                            const sockaddr_in6* to) {
    if (fd < 0) return false;
    const size_t need = kFrameHeaderSize + len + key_->overhead();
    if (need > kMaxFrameSize) return false;
    uint8_t* f = tun_buf_.data();
    const bool in_place = plain == f + kFrameHeaderSize + key_->prefix_len();
    uint8_t* frame = in_place ? f : rx_buf_.data() + (rx_buf_.size() - kMaxFrameSize);
    if (!in_place && plain >= frame && plain < frame + need) frame = f;  // never overlap the input
    // Relayed Data carries the replay-protection counter nonce (declared in our UDP KeepAlives).
    uint8_t nonce[12];
    const bool counted = fd == relay_fd_ && type == FrameType::Data && key_->prefix_len() == 12;
    if (counted) {
        std::memcpy(nonce, nonce_salt_, 4);
        const uint64_t c = ++data_ctr_;
        for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(c >> (56 - 8 * i));
    }
    const size_t total = seal_into(frame, need, type, plain, len, counted ? nonce : nullptr);
    if (total == 0) return false;
    ssize_t w;
    if (!to) {
        w = ::send(fd, frame, total, MSG_DONTWAIT);
    } else if (family == AF_INET6) {
        w = ::sendto(fd, frame, total, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(to), sizeof *to);
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = to->sin6_port;
        std::memcpy(&a.sin_addr, &to->sin6_addr.s6_addr[12], 4);
        w = ::sendto(fd, frame, total, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    }
    return w == (ssize_t)total;
}

// ------------------------------------------------------------------------------------------------
// P2P

void Client::probe(Peer& p, uint64_t) {
    if (!o_.enable_p2p || !p.has_addr) return;
    if (udp_send_frame(p2p_fd_, p2p_family_, FrameType::KeepAlive, reinterpret_cast<const uint8_t*>(ka_body_.data()),
                       ka_body_.size(), &p.addr))
        ++c_.p2p_probes_tx;
}

void Client::probe_all(uint64_t now) {
    for (Peer& p : peers_) probe(p, now);
    next_probe_ms_ = now + kP2pProbeIntervalMs;
}

void Client::on_p2p() {
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage from{};
        socklen_t fl = sizeof from;
        ssize_t n = ::recvfrom(p2p_fd_, rx_buf_.data(), rx_buf_.size(), MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&from), &fl);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        const uint8_t* b = rx_buf_.data();
        if (stun_fd_ == p2p_fd_ && stun_looks_like(b, (size_t)n)) {
            sockaddr_in6 mapped;
            if (stun_parse_response(b, (size_t)n, stun_txid_, mapped) && stun_tries_left_ >= 0) {
                sockaddr_storage ss{};
                std::memcpy(&ss, &mapped, sizeof mapped);
                std::string t = sockaddr_text(ss);
                std::string ip = t.substr(0, t.rfind(':'));
                if (!ip.empty() && ip[0] == '[') ip = ip.substr(1, ip.size() - 2);
                stun_tries_left_ = -1;
                set_public_address(ip, ntohs(mapped.sin6_port), "STUN");
            }
            continue;
        }
        FrameHeader h;
        if (decode_header(std::span<const uint8_t>(b, (size_t)n), h) != HeaderStatus::Ok ||
            h.frame_size() > (size_t)n) {
            ++c_.p2p_bad;
            continue;
        }
        OpenItem it;
        it.key = key_.get();
        it.payload = rx_buf_.data() + kFrameHeaderSize;
        it.payload_len = h.payload_length;
        if (engine_->open(it) != CryptoStatus::Ok) {
            ++c_.p2p_bad;
            continue;
        }
        const sockaddr_in6 src = to_v6(from);
        const uint64_t now = mono_ms();
        if (h.frame_type() == FrameType::Data) {
            const uint8_t* pt = it.plaintext;
            const size_t pl = it.plaintext_len;
            if (pl < 20 || (pt[0] >> 4) != 4) {
                ++c_.p2p_bad;
                continue;
            }
            Peer* by_src = peer_for_ip(rd32(pt + 12));
            Peer* by_addr = nullptr;
            for (Peer& p : peers_)
                if (p.has_addr && same_endpoint(p.addr, src)) {
                    by_addr = &p;
                    break;
                }
            if (!by_src) {
                ++c_.p2p_unknown;
                continue;
            }
            if (by_addr && by_addr != by_src) {  // a known peer's address sending another's source
                ++c_.p2p_spoofed;
                continue;
            }
            if (by_addr) {
                by_addr->last_rx_ms = now;
                by_addr->last_rx_unix = unix_s();
            }
            ++by_src->p2p.rx_packets;
            by_src->p2p.rx_bytes += pl;
            write_tun(pt, pl);
        } else if (h.frame_type() == FrameType::KeepAlive) {
            ++c_.p2p_probes_rx;
            auto ka = decode_keepalive(
                std::string_view(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len), DecodeMode::Lenient);
            if (!ka || ka->identity == o_.identity) {
                ++c_.p2p_bad;
                continue;
            }
            auto pit = std::find_if(peers_.begin(), peers_.end(), [&](const Peer& p) { return p.identity == ka->identity; });
            if (pit == peers_.end()) {
                ++c_.p2p_unknown;
                CLOG_DEBUG("P2P probe from unknown identity '%s' ignored", ka->identity.c_str());
                continue;
            }
            Peer& p = *pit;
            const bool was_valid = path_valid(p, now);
            if (!p.has_addr || !same_endpoint(p.addr, src)) {
                CLOG_INFO("peer '%s': P2P address %s learned from its probe", p.identity.c_str(),
                          sockaddr_text(from).c_str());
                p.addr = src;
                p.has_addr = true;
            }
            p.last_rx_ms = now;
            p.last_rx_unix = unix_s();
            // Answer so the prober learns of us at once; only while our own path was not yet
            // valid and at most once per second, so two clients never bounce replies forever.
            if (!was_valid && (p.last_answer_ms == 0 || now - p.last_answer_ms >= kProbeAnswerMinGapMs)) {
                p.last_answer_ms = now;
                if (udp_send_frame(p2p_fd_, p2p_family_, FrameType::KeepAlive,
                                   reinterpret_cast<const uint8_t*>(ka_body_.data()), ka_body_.size(), &p.addr))
                    ++c_.p2p_answers_tx;
            }
        } else {
            ++c_.p2p_bad;
        }
    }
}

// ------------------------------------------------------------------------------------------------
// UDP relay (docs/protocol-extensions.md: KeepAlive with "seq" binds the endpoint)

Status Client::open_relay_socket() {
    std::string host = o_.udp_relay_host.empty() ? o_.server_host : o_.udp_relay_host;
    uint16_t port = o_.udp_relay_port ? o_.udp_relay_port : o_.server_port;
    socklen_t len = 0;
    auto a = resolve(host, port, SOCK_DGRAM, len);
    if (!a) return make_error("--udp-relay: " + a.error());
    relay_family_ = a->ss_family;
    relay_fd_ = ::socket(relay_family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (relay_fd_ < 0 || ::connect(relay_fd_, reinterpret_cast<sockaddr*>(&a.value()), len) != 0)
        return make_error("--udp-relay: " + std::string(strerror(errno)));
    relay_text_ = sockaddr_text(a.value());
    epoll_add(relay_fd_, tag(TagRelay), EPOLLIN);
    // Counter nonces: a random salt keeps clients of one cluster (one key) apart; the counter
    // starts at the Unix time in ns, so that a restarted client continues above its old counters.
    if (getrandom(nonce_salt_, sizeof nonce_salt_, 0) != (ssize_t)sizeof nonce_salt_) {
        const uint64_t t = unix_us();
        std::memcpy(nonce_salt_, &t, sizeof nonce_salt_);
    }
    {
        timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        data_ctr_ = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    }
    CLOG_INFO("UDP relay mode: gateway UDP endpoint %s (TCP fallback)", relay_text_.c_str());
    return {};
}

void Client::send_udp_keepalive() {
    KeepAlive ka;
    ka.identity = o_.identity;
    ka.ipv6 = pub_ip_;
    ka.port = pub_ip_.empty() ? 0 : pub_port_;
    const uint64_t us = unix_us();
    last_seq_ = std::max(last_seq_ + 1, us);  // strictly increasing
    ka.seq = last_seq_;
    if (!udp_cookie_.empty()) ka.cookie = udp_cookie_;
    if (key_->prefix_len() == 12) ka.replay = data_ctr_ + 1;  // opt in: nothing older follows
    std::string body;
    encode_keepalive(ka, Shape::Old, body);
    if (udp_send_frame(relay_fd_, relay_family_, FrameType::KeepAlive, reinterpret_cast<const uint8_t*>(body.data()),
                       body.size(), nullptr))
        ++c_.udp_keepalive_tx;
}

void Client::on_relay_udp() {
    for (int i = 0; i < 64; ++i) {
        ssize_t n = ::recv(relay_fd_, rx_buf_.data(), rx_buf_.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        FrameHeader h;
        if (decode_header(std::span<const uint8_t>(rx_buf_.data(), (size_t)n), h) != HeaderStatus::Ok ||
            h.frame_size() > (size_t)n)
            continue;
        OpenItem it;
        it.key = key_.get();
        it.payload = rx_buf_.data() + kFrameHeaderSize;
        it.payload_len = h.payload_length;
        if (engine_->open(it) != CryptoStatus::Ok) continue;
        const uint64_t now = mono_ms();
        if (h.frame_type() == FrameType::KeepAlive) {
            ++c_.udp_keepalive_rx;
            auto ka = decode_keepalive(
                std::string_view(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len), DecodeMode::Lenient);
            if (!ka) continue;
            if (ka->cookie) {
                // A challenge: the gateway has not verified this endpoint (new, or our NAT
                // mapping changed). Echo the cookie at once; not bound until a plain reply.
                ++c_.udp_challenges_rx;
                const bool fresh = udp_cookie_ != *ka->cookie;
                udp_cookie_ = *ka->cookie;
                if (fresh) send_udp_keepalive();
                continue;
            }
            udp_last_reply_ms_ = now;
            udp_cookie_.clear();  // this endpoint is verified
            if (ka->has_peer_details) apply_peer_list(ka->peer_details, false);
        } else if (h.frame_type() == FrameType::Data) {
            const uint8_t* pt = it.plaintext;
            if (it.plaintext_len < 20 || (pt[0] >> 4) != 4) continue;
            ++c_.udp_relay_data_rx;
            if (Peer* p = peer_for_ip(rd32(pt + 12))) {
                ++p->relay.rx_packets;
                p->relay.rx_bytes += it.plaintext_len;
            }
            write_tun(pt, it.plaintext_len);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// public address

void Client::rebuild_keepalive_body() {
    KeepAlive ka;
    ka.identity = o_.identity;
    ka.ipv6 = pub_ip_;
    ka.port = pub_ip_.empty() ? 0 : pub_port_;
    ka_body_.clear();
    encode_keepalive(ka, Shape::Old, ka_body_);
}

void Client::set_public_address(const std::string& ip, uint16_t port, const char* source) {
    if (ip == pub_ip_ && port == pub_port_) return;
    CLOG_INFO("public P2P address %s -> %s (%s)", pub_ip_.empty() ? "(none)" : endpoint_text(pub_ip_, pub_port_).c_str(),
              ip.empty() ? "(none)" : endpoint_text(ip, port).c_str(), source);
    pub_ip_ = ip;
    pub_port_ = port;
    rebuild_keepalive_body();
    // Our peers learn the new source address from a probe at once (they answer if their path
    // to us was lost).
    if (o_.enable_p2p && !ip.empty()) probe_all(mono_ms());
    // The next KeepAlive carries it: send it now (the gateway then tells the peers).
    if (tcp_state_ == TcpState::Established) {
        send_keepalive();
        next_ka_ms_ = mono_ms() + (uint64_t)o_.keepalive_interval_s * 1000;
        if (relay_fd_ >= 0) send_udp_keepalive();
    }
}

void Client::start_address_check() {
    const uint64_t now = mono_ms();
    next_addr_check_ms_ = now + (uint64_t)o_.address_check_interval_s * 1000;
    // Without P2P nothing is advertised: peers could not reach us anyway.
    if (!o_.enable_p2p) return;
    switch (o_.addr_source) {
        case AddrSource::None: return;
        case AddrSource::Fixed:
            set_public_address(o_.public_addr, o_.p2p_port, "--public-addr");
            next_addr_check_ms_ = UINT64_MAX;
            return;
        case AddrSource::Command: {
            auto r = run_shell_first_line(o_.public_addr_cmd, 5);
            unsigned char buf[16];
            if (!r) {
                CLOG_WARN("--public-addr-cmd failed (%s); keeping %s", r.error().c_str(),
                          pub_ip_.empty() ? "no address" : pub_ip_.c_str());
            } else if (inet_pton(AF_INET, r->c_str(), buf) != 1 && inet_pton(AF_INET6, r->c_str(), buf) != 1) {
                CLOG_WARN("--public-addr-cmd printed \"%s\", not an IP address; keeping %s", r->c_str(),
                          pub_ip_.empty() ? "no address" : pub_ip_.c_str());
            } else {
                set_public_address(r.value(), o_.p2p_port, "--public-addr-cmd");
            }
            return;
        }
        case AddrSource::Stun: {
            if (getrandom(stun_txid_, sizeof stun_txid_, 0) != (ssize_t)sizeof stun_txid_)
                for (auto& b : stun_txid_) b = (uint8_t)rand();
            stun_tries_left_ = 3;
            stun_next_try_ms_ = now;
            return;
        }
    }
}

void Client::on_stun_socket() {
    for (;;) {
        ssize_t n = ::recv(stun_fd_, rx_buf_.data(), rx_buf_.size(), MSG_DONTWAIT);
        if (n < 0) return;
        sockaddr_in6 mapped;
        if (stun_tries_left_ >= 0 && stun_parse_response(rx_buf_.data(), (size_t)n, stun_txid_, mapped)) {
            sockaddr_storage ss{};
            std::memcpy(&ss, &mapped, sizeof mapped);
            std::string t = sockaddr_text(ss);
            std::string ip = t.substr(0, t.rfind(':'));
            if (!ip.empty() && ip[0] == '[') ip = ip.substr(1, ip.size() - 2);
            stun_tries_left_ = -1;
            set_public_address(ip, ntohs(mapped.sin6_port), "STUN");
        }
    }
}

// ------------------------------------------------------------------------------------------------
// timers

void Client::on_tick() {
    const uint64_t now = mono_ms();
    const uint64_t interval_ms = (uint64_t)o_.keepalive_interval_s * 1000;
    switch (tcp_state_) {
        case TcpState::Backoff:
            if (now >= next_connect_ms_) start_connect();
            break;
        case TcpState::Connecting:
            if (now >= state_deadline_ms_) tcp_fail("connect timed out");
            break;
        case TcpState::Handshaking:
            if (now >= state_deadline_ms_) tcp_fail("no HandshakeReply within 20 s");
            break;
        case TcpState::Established: {
            const uint64_t silent_limit = (uint64_t)(o_.keepalive_threshold - 1) * interval_ms;
            if (now - last_rx_ms_ > silent_limit) {
                char why[96];
                snprintf(why, sizeof why, "no frame from the gateway for %llu s",
                         (unsigned long long)((now - last_rx_ms_) / 1000));
                tcp_fail(why);
                break;
            }
            if (now >= next_ka_ms_) {
                send_keepalive();
                next_ka_ms_ = now + interval_ms;
            }
            if (relay_fd_ >= 0 && now >= next_udp_ka_ms_) {
                send_udp_keepalive();
                // Re-bind quickly while the UDP path is down, otherwise every interval.
                next_udp_ka_ms_ = now + (udp_relay_ok(now) ? interval_ms : std::min<uint64_t>(interval_ms, 2000));
            }
            break;
        }
    }
    if (relay_fd_ >= 0) {
        const bool ok = udp_relay_ok(now);
        if (ok != udp_was_ok_) {
            if (ok)
                CLOG_INFO("UDP relay %s bound: relayed data goes over UDP", relay_text_.c_str());
            else
                CLOG_WARN("UDP relay %s silent for 15 s: relayed data falls back to TCP", relay_text_.c_str());
            udp_was_ok_ = ok;
        }
    }
    if (o_.enable_p2p) {
        if (now >= next_probe_ms_) probe_all(now);
        for (Peer& p : peers_) {
            const bool v = path_valid(p, now);
            if (v != p.was_valid) {
                if (v)
                    CLOG_INFO("peer '%s': P2P path up via %s", p.identity.c_str(),
                              sockaddr_text(*reinterpret_cast<const sockaddr_storage*>(&p.addr)).c_str());
                else
                    CLOG_WARN("peer '%s': P2P path down (nothing received for 15 s): using the relay",
                              p.identity.c_str());
                p.was_valid = v;
            }
        }
    }
    if (now >= next_addr_check_ms_) start_address_check();
    if (stun_tries_left_ > 0 && now >= stun_next_try_ms_) {
        uint8_t req[kStunRequestLen];
        stun_build_request(stun_txid_, req);
        sockaddr_storage to = stun_addr_;
        socklen_t tl = stun_addr_len_;
        sockaddr_in6 v6;
        if (stun_fd_ == p2p_fd_ && p2p_family_ == AF_INET6 && to.ss_family == AF_INET) {
            v6 = to_v6(to);
            std::memcpy(&to, &v6, sizeof v6);
            tl = sizeof v6;
        }
        ::sendto(stun_fd_, req, sizeof req, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), tl);
        --stun_tries_left_;
        stun_next_try_ms_ = now + 1000;
    } else if (stun_tries_left_ == 0 && now >= stun_next_try_ms_) {
        CLOG_WARN("STUN server %s did not answer; keeping %s", o_.stun_host.c_str(),
                  pub_ip_.empty() ? "no address" : pub_ip_.c_str());
        stun_tries_left_ = -1;
    }
    // HTTP connections that never sent a complete request.
    for (auto& h : http_conns_)
        if (h.fd >= 0 && now - h.opened_ms > kHttpTimeoutMs) {
            ::close(h.fd);
            h.fd = -1;
        }
}

// ------------------------------------------------------------------------------------------------
// routes

void Client::sync_routes() {
    if (!tun_configured_) return;
    std::set<std::string> want;
    const uint32_t own_net = tun_addr_ & tun_mask_;
    for (const Peer& p : peers_) {
        for (const Ipv4Cidr& c : p.ciders) {
            std::string t = ipv4_text(c.network()) + "/" + std::to_string(c.prefix_len);
            want.insert(t);
        }
        if ((p.private_ip & tun_mask_) != own_net) want.insert(ipv4_text(p.private_ip) + "/32");
    }
    for (auto it = routes_.begin(); it != routes_.end();) {
        if (!want.count(*it)) {
            run_argv({"ip", "route", "del", *it, "dev", tun_.name()});
            CLOG_INFO("route %s dev %s removed", it->c_str(), tun_.name().c_str());
            it = routes_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& r : want) {
        if (routes_.count(r)) continue;
        if (run_argv({"ip", "route", "replace", r, "dev", tun_.name()}) == 0) {
            CLOG_INFO("route %s dev %s added", r.c_str(), tun_.name().c_str());
            routes_.insert(r);
        } else {
            CLOG_WARN("ip route replace %s dev %s failed", r.c_str(), tun_.name().c_str());
        }
    }
}

void Client::remove_routes() {
    for (const auto& r : routes_) {
        run_argv({"ip", "route", "del", r, "dev", tun_.name()});
        CLOG_INFO("route %s dev %s removed", r.c_str(), tun_.name().c_str());
    }
    routes_.clear();
}

// ------------------------------------------------------------------------------------------------
// status

std::string Client::status_json() {
    const uint64_t now = mono_ms();
    std::string o;
    o.reserve(1024 + peers_.size() * 400);
    o += '{';
    json_kv(o, "identity", o_.identity, false);
    json_ku(o, "uptime_s", unix_s() - started_unix_);
    o += ",\"server\":{";
    json_kv(o, "address", o_.server_host + ":" + std::to_string(o_.server_port), false);
    json_kv(o, "resolved", server_peer_text_);
    json_kv(o, "state", state_name((int)tcp_state_));
    json_kb(o, "connected", tcp_state_ == TcpState::Established);
    json_ku(o, "connected_since", connected_since_unix_);
    json_ku(o, "connects", connects_);
    json_kv(o, "last_error", last_error_);
    json_ku(o, "last_rx_ms_ago", last_rx_ms_ ? now - last_rx_ms_ : 0);
    o += '}';
    o += ",\"relay\":{";
    json_kv(o, "mode", o_.relay == RelayMode::Udp ? "udp" : "tcp", false);
    if (relay_fd_ >= 0) {
        json_kv(o, "udp_endpoint", relay_text_);
        json_kb(o, "udp_bound", udp_relay_ok(now));
        json_ku(o, "udp_last_reply_ms_ago", udp_last_reply_ms_ ? now - udp_last_reply_ms_ : 0);
    }
    json_kv(o, "in_use", (relay_fd_ >= 0 && udp_relay_ok(now)) ? "udp" : "tcp");
    o += '}';
    o += ",\"tun\":{";
    json_kv(o, "name", tun_.name(), false);
    json_kv(o, "address", tun_configured_ ? ipv4_text(tun_addr_) : "");
    json_kv(o, "mask", tun_configured_ ? ipv4_text(tun_mask_) : "");
    json_kv(o, "gateway", gateway_text_);
    json_ku(o, "mtu", o_.mtu);
    o += "},\"p2p\":{";
    json_kb(o, "enabled", o_.enable_p2p, false);
    json_ku(o, "port", o_.p2p_port);
    static const char* src[] = {"none", "fixed", "command", "stun"};
    json_kv(o, "address_source", src[(int)o_.addr_source]);
    json_kv(o, "public_address", endpoint_text(pub_ip_, pub_port_));
    o += "},\"peers\":[";
    bool first = true;
    for (const Peer& p : peers_) {
        if (!first) o += ',';
        first = false;
        o += '{';
        json_kv(o, "identity", p.identity, false);
        json_kv(o, "name", p.name);
        json_kv(o, "private_ip", p.private_ip_text);
        o += ",\"ciders\":[";
        for (size_t i = 0; i < p.cider_texts.size(); ++i) {
            if (i) o += ',';
            json_append_string(o, p.cider_texts[i]);
        }
        o += ']';
        json_kv(o, "path", path_valid(p, now) ? "p2p" : "relay");
        json_kv(o, "advertised_address", endpoint_text(p.adv_ip, p.adv_port));
        json_kv(o, "p2p_address",
                p.has_addr ? sockaddr_text(*reinterpret_cast<const sockaddr_storage*>(&p.addr)) : std::string());
        json_ku(o, "last_active", p.last_rx_unix);
        json_ku(o, "last_active_ms_ago", p.last_rx_ms ? now - p.last_rx_ms : 0);
        json_ku(o, "gateway_last_active", p.gw_last_active);
        json_counters(o, "p2p_counters", p.p2p);
        json_counters(o, "relay_counters", p.relay);
        o += '}';
    }
    o += "],\"counters\":{";
    json_ku(o, "tun_rx", c_.tun_rx, false);
    json_ku(o, "tun_tx", c_.tun_tx);
    json_ku(o, "tun_write_errors", c_.tun_write_errors);
    json_ku(o, "tcp_data_tx", c_.tcp_data_tx);
    json_ku(o, "tcp_data_rx", c_.tcp_data_rx);
    json_ku(o, "tcp_out_full", c_.tcp_out_full);
    json_ku(o, "udp_relay_data_tx", c_.udp_relay_data_tx);
    json_ku(o, "udp_relay_data_rx", c_.udp_relay_data_rx);
    json_ku(o, "no_path_drops", c_.no_path_drops);
    json_ku(o, "keepalive_tx", c_.keepalive_tx);
    json_ku(o, "keepalive_rx", c_.keepalive_rx);
    json_ku(o, "peer_updates_rx", c_.peer_updates_rx);
    json_ku(o, "udp_keepalive_tx", c_.udp_keepalive_tx);
    json_ku(o, "udp_keepalive_rx", c_.udp_keepalive_rx);
    json_ku(o, "udp_challenges_rx", c_.udp_challenges_rx);
    json_ku(o, "p2p_probes_tx", c_.p2p_probes_tx);
    json_ku(o, "p2p_probes_rx", c_.p2p_probes_rx);
    json_ku(o, "p2p_answers_tx", c_.p2p_answers_tx);
    json_ku(o, "p2p_bad", c_.p2p_bad);
    json_ku(o, "p2p_spoofed", c_.p2p_spoofed);
    json_ku(o, "p2p_unknown", c_.p2p_unknown);
    o += "}}\n";
    return o;
}

// Small responses on local sockets: written with a short blocking timeout.
void Client::serve_blocking(int fd, const std::string& data) {
    int fl = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    size_t off = 0;
    while (off < data.size()) {
        ssize_t w = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
    ::shutdown(fd, SHUT_WR);
}

void Client::on_status_unix() {
    for (;;) {
        int fd = ::accept4(status_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        serve_blocking(fd, status_json());
        ::close(fd);
    }
}

void Client::on_http_listen() {
    for (;;) {
        int fd = ::accept4(http_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        size_t idx = 0;
        while (idx < http_conns_.size() && http_conns_[idx].fd >= 0) ++idx;
        if (idx == http_conns_.size()) {
            if (http_conns_.size() >= 64) {
                ::close(fd);
                continue;
            }
            http_conns_.emplace_back();
        }
        http_conns_[idx].fd = fd;
        http_conns_[idx].opened_ms = mono_ms();
        http_conns_[idx].req.clear();
        epoll_add(fd, tag(TagHttpConn, (uint32_t)idx), EPOLLIN);
    }
}

void Client::on_http_conn(size_t idx, uint32_t) {
    if (idx >= http_conns_.size() || http_conns_[idx].fd < 0) return;
    HttpConn& h = http_conns_[idx];
    char buf[2048];
    ssize_t n = ::recv(h.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        ::close(h.fd);
        h.fd = -1;
        return;
    }
    h.req.append(buf, (size_t)n);
    if (h.req.find("\r\n\r\n") == std::string::npos && h.req.find("\n\n") == std::string::npos) {
        if (h.req.size() > 8192) {
            ::close(h.fd);
            h.fd = -1;
        }
        return;
    }
    std::string body, status = "200 OK";
    const bool get = h.req.rfind("GET ", 0) == 0;
    const size_t sp = h.req.find(' ', 4);
    std::string path = get && sp != std::string::npos ? h.req.substr(4, sp - 4) : "";
    if (!get) {
        status = "405 Method Not Allowed";
        body = "{\"error\":\"only GET\"}\n";
    } else if (path == "/status") {
        body = status_json();
    } else if (path == "/health") {
        body = std::string("{\"ok\":true,\"connected\":") + (tcp_state_ == TcpState::Established ? "true" : "false") + "}\n";
    } else {
        status = "404 Not Found";
        body = "{\"error\":\"not found: GET /status or /health\"}\n";
    }
    std::string resp = "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, h.fd, nullptr);
    serve_blocking(h.fd, resp);
    ::close(h.fd);
    h.fd = -1;
}

}  // namespace rustun::client
