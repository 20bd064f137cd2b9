#include "tcp_session.hpp"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/log.hpp"
#include "proto/json_writer.hpp"
#include "proto/messages.hpp"
#include "sys.hpp"

namespace rustun::client {

const char* tcp_state_name(TcpState s) {
    static const char* const kNames[] = {"backoff", "connecting", "handshaking", "established"};
    return kNames[static_cast<int>(s)];
}

TcpSession::TcpSession(TcpSessionConfig cfg, const Clock& clock, Poller& poller, FrameSealer& sealer, Counters& ctr,
                       const AdvertisedAddress& self, GatewayEvents& events)
    : cfg_(std::move(cfg)),
      clock_(clock),
      poller_(poller),
      sealer_(sealer),
      ctr_(ctr),
      self_(self),
      events_(events),
      out_(kOutBufBytes) {}

TcpSession::~TcpSession() {
    if (fd_ >= 0) ::close(fd_);
}

void TcpSession::start_connect() {
    socklen_t len = 0;
    const ServerAddress& server = cfg_.servers[current_];
    auto addr = resolve(server.host, server.port, SOCK_STREAM, len);
    if (!addr) {
        fail(addr.error().c_str());
        return;
    }
    peer_text_ = sockaddr_text(addr.value(), V4Mapped::AsIpv4);
    int fd = ::socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(strerror(errno));
        return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
    state_ = TcpState::Connecting;
    state_deadline_ms_ = clock_.mono_ms() + kConnectTimeoutMs;
    LOG_INFO("connecting to %s", peer_text_.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr.value()), len) < 0 && errno != EINPROGRESS) {
        fail(strerror(errno));
        return;
    }
    epoll_events_ = EPOLLOUT | EPOLLIN;
    poller_.add(fd, Source::Tcp, epoll_events_);
}

void TcpSession::fail(const char* why) {
    const bool was_up = state_ == TcpState::Established;
    if (fd_ >= 0) {
        poller_.del(fd_);
        ::close(fd_);
        fd_ = -1;
    }
    last_error_ = why;
    reasm_.reset();
    out_head_ = out_tail_ = 0;
    state_ = TcpState::Backoff;
    const size_t failed = current_;
    if (was_up) {
        backoff_ms_ = kBackoffStartMs;
        round_first_ = failed;
    }
    const std::string failed_text = peer_text_.empty() ? cfg_.servers[failed].text() : peer_text_;
    current_ = (current_ + 1) % cfg_.servers.size();
    next_connect_ms_ = clock_.mono_ms() + backoff_ms_;
    if (current_ != failed) {
        ++failovers_;
        ctr_.inc(Ctr::server_failovers);
        peer_text_.clear();
        LOG_WARN("%s %s: %s; failing over to %s in %llu s", was_up ? "lost connection to" : "cannot connect to",
                  failed_text.c_str(), why, cfg_.servers[current_].text().c_str(),
                  (unsigned long long)(backoff_ms_ / 1000));
    } else {
        LOG_WARN("%s %s: %s; reconnecting in %llu s", was_up ? "lost connection to" : "cannot connect to",
                  failed_text.c_str(), why, (unsigned long long)(backoff_ms_ / 1000));
    }
    // A whole round of addresses failed: wait longer before the next round.
    if (current_ == round_first_) backoff_ms_ = std::min(backoff_ms_ * 2, kBackoffMaxMs);
    connected_since_unix_ = 0;
}

void TcpSession::connected() {
    // Old-dialect Handshake {identity, ipv6, port}: the shape every gateway generation accepts.
    Handshake hs;
    hs.identity = cfg_.identity;
    hs.ipv6 = self_.ip;
    hs.port = self_.ip.empty() ? 0 : self_.port;
    std::string body;
    encode_handshake(hs, Shape::Old, body);
    state_ = TcpState::Handshaking;
    state_deadline_ms_ = clock_.mono_ms() + kHandshakeTimeoutMs;
    // The nonce carries our key's hint tag: the gateway tries our cluster's key first.
    uint8_t nonce[12];
    const bool hinted = sealer_.hint_nonce(nonce);
    if (!send_frame(FrameType::Handshake, reinterpret_cast<const uint8_t*>(body.data()), body.size(),
                    hinted ? nonce : nullptr))
        fail("cannot send the Handshake");
}

void TcpSession::update_epoll() {
    if (fd_ < 0) return;
    const uint32_t want = EPOLLIN | (out_tail_ > out_head_ ? (uint32_t)EPOLLOUT : 0u);
    if (want != epoll_events_) {
        epoll_events_ = want;
        poller_.mod(fd_, Source::Tcp, want);
    }
}

bool TcpSession::flush() {
    while (out_head_ < out_tail_) {
        ssize_t w = ::send(fd_, out_.data() + out_head_, out_tail_ - out_head_, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            fail(strerror(errno));
            return false;
        }
        out_head_ += (size_t)w;
    }
    if (out_head_ == out_tail_) out_head_ = out_tail_ = 0;
    update_epoll();
    return true;
}

bool TcpSession::send_frame(FrameType type, const uint8_t* plain, size_t len, const uint8_t* nonce) {
    if (fd_ < 0) return false;
    const size_t need = kFrameHeaderSize + len + sealer_.overhead();
    if (need > kMaxFrameSize) return false;
    if (out_.size() - out_tail_ < need && out_head_ > 0) {
        std::memmove(out_.data(), out_.data() + out_head_, out_tail_ - out_head_);
        out_tail_ -= out_head_;
        out_head_ = 0;
    }
    if (out_.size() - out_tail_ < need) {
        ctr_.inc(Ctr::tcp_out_full);
        return false;
    }
    const size_t total = sealer_.seal_into(out_.data() + out_tail_, need, type, plain, len, nonce);
    if (total == 0) return false;
    out_tail_ += total;
    return flush();
}

void TcpSession::send_keepalive() {
    ctr_.inc(Ctr::keepalive_tx);
    const std::string& body = self_.keepalive_body;
    if (!send_frame(FrameType::KeepAlive, reinterpret_cast<const uint8_t*>(body.data()), body.size()) && fd_ >= 0)
        LOG_WARN("KeepAlive not sent: output buffer full");
}

void TcpSession::send_keepalive_now() {
    if (!established()) return;
    send_keepalive();
    next_keepalive_ms_ = clock_.mono_ms() + cfg_.keepalive_interval_ms;
}

void TcpSession::on_events(uint32_t events) {
    if (fd_ < 0) return;
    if (state_ == TcpState::Connecting) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t el = sizeof err;
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
            fail(strerror(err));
            return;
        }
        epoll_events_ = EPOLLIN;
        poller_.mod(fd_, Source::Tcp, epoll_events_);
        connected();
        return;
    }
    if ((events & EPOLLOUT) && !flush()) return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_frames();
}

void TcpSession::read_frames() {
    for (int round = 0; round < 16; ++round) {
        for (;;) {
            ReadResult r = reasm_.next();
            if (r.status == ReadStatus::NeedMore) break;
            if (r.status == ReadStatus::UnknownType) {
                LOG_DEBUG("skipped a frame of unknown type %u from the gateway", r.type);
                continue;
            }
            if (r.status != ReadStatus::Frame) {
                fail(r.status == ReadStatus::BadMagic     ? "bad magic from the gateway"
                     : r.status == ReadStatus::BadVersion ? "bad version from the gateway"
                                                          : "frame length refused");
                return;
            }
            const int fd_before = fd_;
            handle_frame(r.type, const_cast<uint8_t*>(r.payload.data()), r.payload.size());
            if (fd_ != fd_before || fd_ < 0) return;  // the handler dropped the connection
        }
        auto area = reasm_.write_area();
        if (area.empty()) break;
        ssize_t n = ::recv(fd_, area.data(), area.size(), MSG_DONTWAIT);
        if (n == 0) {
            fail("connection closed by the gateway");
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            fail(strerror(errno));
            return;
        }
        reasm_.commit((size_t)n);
        last_rx_ms_ = clock_.mono_ms();
    }
}

void TcpSession::handle_handshake_reply(std::string_view text) {
    // Every reply shape: superset (ours), HEAD, dbde974; the first that parses.
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
        fail(("unparseable HandshakeReply: " + r.error()).c_str());
        return;
    }
    const uint64_t now = clock_.mono_ms();
    state_ = TcpState::Established;
    backoff_ms_ = kBackoffStartMs;
    ++connects_;
    connected_since_unix_ = clock_.unix_s();
    last_rx_ms_ = now;
    LOG_INFO("connected to %s as '%s' (%s reply): %s/%s, %zu peer(s)", peer_text_.c_str(), cfg_.identity.c_str(),
              shape, r->private_ip.c_str(), r->mask.c_str(), r->peers.size());
    events_.on_handshake_reply(r.value(), shape);
    if (fd_ < 0) return;
    next_keepalive_ms_ = now;  // first KeepAlive right after the handshake
}

void TcpSession::handle_frame(uint8_t type, uint8_t* payload, size_t len) {
    OpenItem it;
    if (!sealer_.open(payload, len, it)) {
        fail("a frame from the gateway failed authentication (wrong -c key?)");
        return;
    }
    const uint8_t* pt = it.plaintext;
    const size_t pl = it.plaintext_len;
    std::string_view text(reinterpret_cast<const char*>(pt), pl);
    if (state_ == TcpState::Handshaking) {
        if (type != (uint8_t)FrameType::HandshakeReply) {
            LOG_DEBUG("frame type %u before the HandshakeReply ignored", type);
            return;
        }
        handle_handshake_reply(text);
        return;
    }
    if (state_ != TcpState::Established) return;
    switch ((FrameType)type) {
        case FrameType::Data:
            if (!is_ipv4_packet(pt, pl)) return;
            ctr_.inc(Ctr::tcp_data_rx);
            events_.on_relay_data(pt, pl);
            return;
        case FrameType::KeepAlive: {
            ctr_.inc(Ctr::keepalive_rx);
            auto ka = decode_keepalive(text, DecodeMode::Lenient);
            if (!ka) {
                LOG_WARN("unparseable KeepAlive reply: %s", ka.error().c_str());
                return;
            }
            if (ka->has_peer_details) events_.on_peer_details(ka->peer_details);
            return;
        }
        case FrameType::PeerUpdate: {
            ctr_.inc(Ctr::peer_updates_rx);
            auto u = decode_peer_update(text);
            if (!u) {
                LOG_WARN("unparseable PeerUpdate: %s", u.error().c_str());
                return;
            }
            events_.on_peer_update(u.value());
            return;
        }
        default: LOG_DEBUG("frame type %u from the gateway ignored", type); return;
    }
}

void TcpSession::tick(uint64_t now) {
    switch (state_) {
        case TcpState::Backoff:
            if (now >= next_connect_ms_) start_connect();
            return;
        case TcpState::Connecting:
            if (now >= state_deadline_ms_) fail("connect timed out");
            return;
        case TcpState::Handshaking:
            if (now >= state_deadline_ms_) fail("no HandshakeReply within 20 s");
            return;
        case TcpState::Established: {
            const uint64_t silent_limit = (uint64_t)(cfg_.keepalive_threshold - 1) * cfg_.keepalive_interval_ms;
            if (now - last_rx_ms_ > silent_limit) {
                char why[96];
                snprintf(why, sizeof why, "no frame from the gateway for %llu s",
                         (unsigned long long)((now - last_rx_ms_) / 1000));
                fail(why);
                return;
            }
            if (now >= next_keepalive_ms_) {
                send_keepalive();
                next_keepalive_ms_ = now + cfg_.keepalive_interval_ms;
            }
            return;
        }
    }
}

void TcpSession::write_status_members(JsonWriter& w, uint64_t now) const {
    w.member("address", cfg_.servers[current_].text());
    w.member("resolved", peer_text_);
    w.member("state", tcp_state_name(state_));
    w.member_bool("connected", established());
    w.member_uint("connected_since", connected_since_unix_);
    w.member_uint("connects", connects_);
    w.member("last_error", last_error_);
    w.member_uint("last_rx_ms_ago", last_rx_ms_ ? now - last_rx_ms_ : 0);
    w.key("servers");
    w.begin_array();
    for (const ServerAddress& a : cfg_.servers) w.string(a.text());
    w.end_array();
    w.member_uint("server_index", current_);
    w.member_uint("failovers", failovers_);
}

}  // namespace rustun::client
