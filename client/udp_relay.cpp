#include "udp_relay.hpp"

#include <sys/random.h>
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

UdpRelay::UdpRelay(std::string identity, uint64_t keepalive_interval_ms, const Clock& clock, FrameSealer& sealer,
                   Counters& ctr, const AdvertisedAddress& self, GatewayEvents& events)
    : identity_(std::move(identity)),
      interval_ms_(keepalive_interval_ms),
      clock_(clock),
      sealer_(sealer),
      ctr_(ctr),
      self_(self),
      events_(events) {}

UdpRelay::~UdpRelay() {
    if (fd_ >= 0) ::close(fd_);
}

Status UdpRelay::open(const std::string& host, uint16_t port, Poller& poller) {
    socklen_t len = 0;
    auto a = resolve(host, port, SOCK_DGRAM, len);
    if (!a) return make_error("--udp-relay: " + a.error());
    fd_ = ::socket(a->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a.value()), len) != 0)
        return make_error("--udp-relay: " + std::string(strerror(errno)));
    text_ = sockaddr_text(a.value(), V4Mapped::AsIpv4);
    rx_buf_.resize(kMaxFrameSize + 64);
    poller.add(fd_, Source::Relay, EPOLLIN);
    // Counter nonces: a random salt keeps clients of one cluster (one key) apart; the counter
    // starts at the Unix time in ns, so that a restarted client continues above its old counters.
    if (getrandom(nonce_salt_, sizeof nonce_salt_, 0) != (ssize_t)sizeof nonce_salt_) {
        const uint64_t t = clock_.unix_us();
        std::memcpy(nonce_salt_, &t, sizeof nonce_salt_);
    }
    data_ctr_ = clock_.unix_ns();
    LOG_INFO("UDP relay mode: gateway UDP endpoint %s (TCP fallback)", text_.c_str());
    return {};
}

Status UdpRelay::retarget(const std::string& host, uint16_t port, Poller& poller) {
    if (fd_ >= 0) {
        poller.del(fd_);
        ::close(fd_);
        fd_ = -1;
    }
    last_reply_ms_ = 0;
    was_bound_ = false;
    cookie_.clear();
    next_keepalive_ms_ = 0;
    return open(host, port, poller);
}

bool UdpRelay::bound(uint64_t now) const {
    return fd_ >= 0 && last_reply_ms_ != 0 && now - last_reply_ms_ < kUdpRelayValidMs;
}

bool UdpRelay::send_data(const uint8_t* pkt, size_t len) {
    if (fd_ < 0) return false;
    uint8_t nonce[12];
    const bool counted = sealer_.prefix_len() == sizeof nonce;  // AEAD: salt || counter
    if (counted) {
        std::memcpy(nonce, nonce_salt_, 4);
        const uint64_t c = ++data_ctr_;
        for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(c >> (56 - 8 * i));
    }
    auto frame = sealer_.seal(FrameType::Data, pkt, len, counted ? nonce : nullptr);
    return !frame.empty() && send_datagram(fd_, AF_UNSPEC, frame.data(), frame.size(), nullptr);
}

void UdpRelay::send_keepalive() {
    KeepAlive ka;
    ka.identity = identity_;
    ka.ipv6 = self_.ip;
    ka.port = self_.ip.empty() ? 0 : self_.port;
    last_seq_ = std::max(last_seq_ + 1, clock_.unix_us());  // strictly increasing
    ka.seq = last_seq_;
    if (!cookie_.empty()) ka.cookie = cookie_;
    if (sealer_.prefix_len() == 12) ka.replay = data_ctr_ + 1;  // opt in: nothing older follows
    std::string body;
    encode_keepalive(ka, Shape::Old, body);
    // Not bound yet: the nonce carries our key's hint tag (the gateway does not know this
    // endpoint); bound: a fully random nonce (the gateway finds us by the endpoint).
    uint8_t nonce[12];
    const bool hinted = !bound(clock_.mono_ms()) && sealer_.hint_nonce(nonce);
    auto frame = sealer_.seal(FrameType::KeepAlive, reinterpret_cast<const uint8_t*>(body.data()), body.size(),
                              hinted ? nonce : nullptr);
    if (!frame.empty() && send_datagram(fd_, AF_UNSPEC, frame.data(), frame.size(), nullptr))
        ctr_.inc(Ctr::udp_keepalive_tx);
}

void UdpRelay::on_readable() {
    for (int i = 0; i < 64; ++i) {
        ssize_t n = ::recv(fd_, rx_buf_.data(), rx_buf_.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        handle_datagram(rx_buf_.data(), (size_t)n);
    }
}

void UdpRelay::handle_datagram(uint8_t* buf, size_t n) {
    FrameHeader h;
    if (decode_header(std::span<const uint8_t>(buf, n), h) != HeaderStatus::Ok || h.frame_size() > n) return;
    OpenItem it;
    if (!sealer_.open(buf + kFrameHeaderSize, h.payload_length, it)) return;
    if (h.frame_type() == FrameType::KeepAlive) {
        ctr_.inc(Ctr::udp_keepalive_rx);
        auto ka = decode_keepalive(std::string_view(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len),
                                   DecodeMode::Lenient);
        if (!ka) return;
        if (ka->cookie) {
            // A challenge: the gateway has not verified this endpoint (new, or our NAT mapping
            // changed). Echo the cookie at once; not bound until a plain reply.
            ctr_.inc(Ctr::udp_challenges_rx);
            const bool fresh = cookie_ != *ka->cookie;
            cookie_ = *ka->cookie;
            if (fresh) send_keepalive();
            return;
        }
        last_reply_ms_ = clock_.mono_ms();
        cookie_.clear();  // this endpoint is verified
        if (ka->has_peer_details) events_.on_peer_details(ka->peer_details);
    } else if (h.frame_type() == FrameType::Data) {
        if (!is_ipv4_packet(it.plaintext, it.plaintext_len)) return;
        ctr_.inc(Ctr::udp_relay_data_rx);
        events_.on_relay_data(it.plaintext, it.plaintext_len);
    }
}

void UdpRelay::tick(uint64_t now, bool session_established) {
    if (fd_ < 0) return;
    if (session_established && now >= next_keepalive_ms_) {
        send_keepalive();
        // Re-bind quickly while the UDP path is down, otherwise every interval.
        next_keepalive_ms_ = now + (bound(now) ? interval_ms_ : std::min<uint64_t>(interval_ms_, kUdpRebindMs));
    }
    const bool ok = bound(now);
    if (ok != was_bound_) {
        if (ok)
            LOG_INFO("UDP relay %s bound: relayed data goes over UDP", text_.c_str());
        else
            LOG_WARN("UDP relay %s silent for 15 s: relayed data falls back to TCP", text_.c_str());
        was_bound_ = ok;
    }
}

void UdpRelay::write_status_members(JsonWriter& w, uint64_t now) const {
    if (fd_ >= 0) {
        w.member("udp_endpoint", text_);
        w.member_bool("udp_bound", bound(now));
        w.member_uint("udp_last_reply_ms_ago", last_reply_ms_ ? now - last_reply_ms_ : 0);
    }
    w.member("in_use", bound(now) ? "udp" : "tcp");
}

}  // namespace rustun::client
