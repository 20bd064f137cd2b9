#include "p2p.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/log.hpp"
#include "proto/json_writer.hpp"
#include "stun.hpp"
#include "sys.hpp"

namespace rustun::client {

P2p::P2p(bool enabled, std::string own_identity, const Clock& clock, FrameSealer& sealer, PeerTable& peers,
         Counters& ctr, const AdvertisedAddress& self, TunWriter& tun)
    : enabled_(enabled),
      own_identity_(std::move(own_identity)),
      clock_(clock),
      sealer_(sealer),
      peers_(peers),
      ctr_(ctr),
      self_(self),
      tun_(tun) {}

P2p::~P2p() {
    if (fd_ >= 0) ::close(fd_);
}

Status P2p::open(uint16_t port, Poller& poller) {
    if (!enabled_) return {};
    rx_buf_.resize(kMaxFrameSize + 64);
    int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    bool ok = false;
    if (fd >= 0) {
        int zero = 0;
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        if (!ok && errno == EADDRINUSE) {
            ::close(fd);
            return make_error("--p2p-port: UDP port " + std::to_string(port) + " is in use");
        }
        if (!ok) ::close(fd);
    }
    if (!ok) {
        fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            const std::string err = strerror(errno);
            if (fd >= 0) ::close(fd);
            return make_error("--p2p-port: cannot bind UDP port " + std::to_string(port) + ": " + err);
        }
        family_ = AF_INET;
    }
    fd_ = fd;
    poller.add(fd_, Source::P2p, EPOLLIN);
    LOG_INFO("P2P enabled on UDP port %u (%s)", bound_port(), family_ == AF_INET6 ? "dual-stack" : "IPv4 only");
    return {};
}

uint16_t P2p::bound_port() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    return ntohs(to_v6(ss).sin6_port);
}

bool P2p::path_valid(const Peer& p, uint64_t now) const {
    return enabled_ && p.has_addr && p.last_rx_ms != 0 && now - p.last_rx_ms < kP2pValidMs;
}

bool P2p::send_frame(FrameType type, const uint8_t* plain, size_t len, const sockaddr_in6& to) {
    if (fd_ < 0) return false;
    auto frame = sealer_.seal(type, plain, len);
    return !frame.empty() && send_datagram(fd_, family_, frame.data(), frame.size(), &to);
}

bool P2p::send_data(Peer& p, const uint8_t* pkt, size_t len) {
    if (!send_frame(FrameType::Data, pkt, len, p.addr)) return false;
    ++p.p2p.tx_packets;
    p.p2p.tx_bytes += len;
    return true;
}

void P2p::probe(Peer& p) {
    if (!enabled_ || !p.has_addr) return;
    const std::string& body = self_.keepalive_body;
    if (send_frame(FrameType::KeepAlive, reinterpret_cast<const uint8_t*>(body.data()), body.size(), p.addr))
        ctr_.inc(Ctr::p2p_probes_tx);
}

void P2p::probe_all(uint64_t now) {
    for (Peer& p : peers_.peers()) probe(p);
    next_probe_ms_ = now + kP2pProbeIntervalMs;
}

void P2p::set_advertised(Peer& p, const std::string& ip, uint16_t port, bool force_reset, const char* why) {
    p.adv_ip = ip;
    p.adv_port = port;
    sockaddr_in6 a;
    if (port == 0 || !make_v6_sockaddr(ip, port, a)) {
        LOG_WARN("peer '%s': advertised address \"%s\" port %u is not usable", p.identity.c_str(), ip.c_str(), port);
        return;
    }
    if (family_ == AF_INET && !IN6_IS_ADDR_V4MAPPED(&a.sin6_addr)) {
        LOG_WARN("peer '%s': IPv6 address %s unusable on an IPv4-only P2P socket", p.identity.c_str(), ip.c_str());
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
    if (enabled_) {
        LOG_INFO("peer '%s': P2P address %s (%s), probing", p.identity.c_str(), endpoint_text(ip, port).c_str(), why);
        probe(p);
    }
}

void P2p::on_readable() {
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage from{};
        socklen_t fl = sizeof from;
        ssize_t n = ::recvfrom(fd_, rx_buf_.data(), rx_buf_.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from),
                               &fl);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        handle_datagram(rx_buf_.data(), (size_t)n, from);
    }
}

void P2p::handle_datagram(uint8_t* b, size_t n, const sockaddr_storage& from) {
    if (stun_ && stun_looks_like(b, n)) {
        stun_->on_stun_datagram(b, n);
        return;
    }
    FrameHeader h;
    if (decode_header(std::span<const uint8_t>(b, n), h) != HeaderStatus::Ok || h.frame_size() > n) {
        ctr_.inc(Ctr::p2p_bad);
        return;
    }
    OpenItem it;
    if (!sealer_.open(b + kFrameHeaderSize, h.payload_length, it)) {
        ctr_.inc(Ctr::p2p_bad);
        return;
    }
    const sockaddr_in6 src = to_v6(from);
    const uint64_t now = clock_.mono_ms();
    if (h.frame_type() == FrameType::Data)
        handle_data(it.plaintext, it.plaintext_len, src, now);
    else if (h.frame_type() == FrameType::KeepAlive)
        handle_probe(it.plaintext, it.plaintext_len, src, from, now);
    else
        ctr_.inc(Ctr::p2p_bad);
}

// Data: the inner source must belong to a peer, and a known peer's address may only send its
// own sources. Only packets from the peer's own address refresh its path.
void P2p::handle_data(const uint8_t* pt, size_t pl, const sockaddr_in6& src, uint64_t now) {
    if (!is_ipv4_packet(pt, pl)) {
        ctr_.inc(Ctr::p2p_bad);
        return;
    }
    Peer* by_src = peers_.for_ip(ipv4_source(pt));
    Peer* by_addr = peers_.at_address(src);
    if (!by_src) {
        ctr_.inc(Ctr::p2p_unknown);
        return;
    }
    if (by_addr && by_addr != by_src) {
        ctr_.inc(Ctr::p2p_spoofed);
        return;
    }
    if (by_addr) {
        by_addr->last_rx_ms = now;
        by_addr->last_rx_unix = clock_.unix_s();
    }
    ++by_src->p2p.rx_packets;
    by_src->p2p.rx_bytes += pl;
    tun_.write_tun(pt, pl);
}

void P2p::handle_probe(const uint8_t* pt, size_t pl, const sockaddr_in6& src, const sockaddr_storage& from,
                       uint64_t now) {
    ctr_.inc(Ctr::p2p_probes_rx);
    auto ka = decode_keepalive(std::string_view(reinterpret_cast<const char*>(pt), pl), DecodeMode::Lenient);
    if (!ka || ka->identity == own_identity_) {
        ctr_.inc(Ctr::p2p_bad);
        return;
    }
    Peer* pp = peers_.find(ka->identity);
    if (!pp) {
        ctr_.inc(Ctr::p2p_unknown);
        LOG_DEBUG("P2P probe from unknown identity '%s' ignored", ka->identity.c_str());
        return;
    }
    Peer& p = *pp;
    const bool was_valid = path_valid(p, now);
    if (!p.has_addr || !same_endpoint(p.addr, src)) {
        LOG_INFO("peer '%s': P2P address %s learned from its probe", p.identity.c_str(), sockaddr_text(from, V4Mapped::AsIpv4).c_str());
        p.addr = src;
        p.has_addr = true;
    }
    p.last_rx_ms = now;
    p.last_rx_unix = clock_.unix_s();
    // Answer so the prober learns of us at once; only while our own path was not yet valid and
    // at most once per kProbeAnswerMinGapMs, so two clients never bounce replies forever.
    if (!was_valid && (p.last_answer_ms == 0 || now - p.last_answer_ms >= kProbeAnswerMinGapMs)) {
        p.last_answer_ms = now;
        const std::string& body = self_.keepalive_body;
        if (send_frame(FrameType::KeepAlive, reinterpret_cast<const uint8_t*>(body.data()), body.size(), p.addr))
            ctr_.inc(Ctr::p2p_answers_tx);
    }
}

void P2p::tick(uint64_t now) {
    if (!enabled_) return;
    if (now >= next_probe_ms_) probe_all(now);
    for (Peer& p : peers_.peers()) {
        const bool v = path_valid(p, now);
        if (v == p.was_valid) continue;
        if (v)
            LOG_INFO("peer '%s': P2P path up via %s", p.identity.c_str(),
                      address_text(p.addr).c_str());
        else
            LOG_WARN("peer '%s': P2P path down (nothing received for 15 s): using the relay", p.identity.c_str());
        p.was_valid = v;
    }
}

namespace {
void write_path_counters(JsonWriter& w, const char* name, const PathCounters& c) {
    w.key(name);
    w.begin_object();
    w.member_uint("rx_packets", c.rx_packets);
    w.member_uint("tx_packets", c.tx_packets);
    w.member_uint("rx_bytes", c.rx_bytes);
    w.member_uint("tx_bytes", c.tx_bytes);
    w.end_object();
}
}  // namespace

void P2p::write_peers(JsonWriter& w, uint64_t now) const {
    w.key("peers");
    w.begin_array();
    for (const Peer& p : peers_.peers()) {
        w.begin_object();
        w.member("identity", p.identity);
        w.member("name", p.name);
        w.member("private_ip", p.private_ip_text);
        w.key("ciders");
        w.begin_array();
        for (const auto& c : p.cider_texts) w.string(c);
        w.end_array();
        w.member("path", path_valid(p, now) ? "p2p" : "relay");
        w.member("advertised_address", endpoint_text(p.adv_ip, p.adv_port));
        w.member("p2p_address",
                 p.has_addr ? address_text(p.addr) : std::string());
        w.member_uint("last_active", p.last_rx_unix);
        w.member_uint("last_active_ms_ago", p.last_rx_ms ? now - p.last_rx_ms : 0);
        w.member_uint("gateway_last_active", p.gw_last_active);
        write_path_counters(w, "p2p_counters", p.p2p);
        write_path_counters(w, "relay_counters", p.relay);
        w.end_object();
    }
    w.end_array();
}

}  // namespace rustun::client
