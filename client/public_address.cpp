#include "public_address.hpp"

#include <arpa/inet.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "util/log.hpp"
#include "proto/json_writer.hpp"
#include "proto/messages.hpp"
#include "stun.hpp"
#include "sys.hpp"

namespace rustun::client {

PublicAddress::PublicAddress(const Options& o, const Clock& clock, AddressEvents& events)
    : o_(o), clock_(clock), events_(events) {
    rebuild_keepalive_body();
}

PublicAddress::~PublicAddress() {
    if (stun_own_fd_ && stun_fd_ >= 0) ::close(stun_fd_);
}

Status PublicAddress::open(int p2p_fd, int p2p_family, Poller& poller) {
    p2p_family_ = p2p_family;
    if (o_.addr_source == AddrSource::Stun) {
        auto a = resolve(o_.stun_host, o_.stun_port, SOCK_DGRAM, stun_addr_len_);
        if (!a) return make_error("--public-addr-stun: " + a.error());
        stun_addr_ = a.value();
        if (p2p_fd >= 0) {
            stun_fd_ = p2p_fd;
        } else {
            stun_fd_ = ::socket(stun_addr_.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (stun_fd_ < 0) return make_error(std::string("--public-addr-stun: socket: ") + strerror(errno));
            stun_own_fd_ = true;
            poller.add(stun_fd_, Source::Stun, EPOLLIN);
        }
    }
    start_check(clock_.mono_ms());
    return {};
}

void PublicAddress::rebuild_keepalive_body() {
    KeepAlive ka;
    ka.identity = o_.identity;
    ka.ipv6 = cur_.ip;
    ka.port = cur_.ip.empty() ? 0 : cur_.port;
    cur_.keepalive_body.clear();
    encode_keepalive(ka, Shape::Old, cur_.keepalive_body);
}

void PublicAddress::set(const std::string& ip, uint16_t port, const char* source) {
    if (ip == cur_.ip && port == cur_.port) return;
    LOG_INFO("public P2P address %s -> %s (%s)", cur_.ip.empty() ? "(none)" : endpoint_text(cur_.ip, cur_.port).c_str(),
              ip.empty() ? "(none)" : endpoint_text(ip, port).c_str(), source);
    cur_.ip = ip;
    cur_.port = port;
    rebuild_keepalive_body();
    events_.on_public_address_changed();
}

void PublicAddress::start_check(uint64_t now) {
    next_check_ms_ = now + (uint64_t)o_.address_check_interval_s * 1000;
    // Without P2P nothing is advertised: peers could not reach us anyway.
    if (!o_.enable_p2p) return;
    switch (o_.addr_source) {
        case AddrSource::None: return;
        case AddrSource::Fixed:
            set(o_.public_addr, o_.p2p_port, "--public-addr");
            next_check_ms_ = UINT64_MAX;
            return;
        case AddrSource::Command: {
            auto r = run_shell_first_line(o_.public_addr_cmd, kAddressCommandTimeoutS);
            unsigned char buf[16];
            const char* keeping = cur_.ip.empty() ? "no address" : cur_.ip.c_str();
            if (!r)
                LOG_WARN("--public-addr-cmd failed (%s); keeping %s", r.error().c_str(), keeping);
            else if (inet_pton(AF_INET, r->c_str(), buf) != 1 && inet_pton(AF_INET6, r->c_str(), buf) != 1)
                LOG_WARN("--public-addr-cmd printed \"%s\", not an IP address; keeping %s", r->c_str(), keeping);
            else
                set(r.value(), o_.p2p_port, "--public-addr-cmd");
            return;
        }
        case AddrSource::Stun:
            if (getrandom(stun_txid_, sizeof stun_txid_, 0) != (ssize_t)sizeof stun_txid_)
                for (auto& b : stun_txid_) b = (uint8_t)rand();
            stun_tries_left_ = kStunTries;
            stun_next_try_ms_ = now;
            return;
    }
}

void PublicAddress::send_stun_request() {
    uint8_t req[kStunRequestLen];
    stun_build_request(stun_txid_, req);
    sockaddr_storage to = stun_addr_;
    socklen_t tl = stun_addr_len_;
    // The dual-stack P2P socket reaches an IPv4 server through its v4-mapped address.
    if (!stun_own_fd_ && p2p_family_ == AF_INET6 && to.ss_family == AF_INET) {
        const sockaddr_in6 v6 = to_v6(to);
        std::memcpy(&to, &v6, sizeof v6);
        tl = sizeof v6;
    }
    ::sendto(stun_fd_, req, sizeof req, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), tl);
}

void PublicAddress::tick(uint64_t now) {
    if (now >= next_check_ms_) start_check(now);
    if (stun_tries_left_ > 0 && now >= stun_next_try_ms_) {
        send_stun_request();
        --stun_tries_left_;
        stun_next_try_ms_ = now + kStunRetryMs;
    } else if (stun_tries_left_ == 0 && now >= stun_next_try_ms_) {
        LOG_WARN("STUN server %s did not answer; keeping %s", o_.stun_host.c_str(),
                  cur_.ip.empty() ? "no address" : cur_.ip.c_str());
        stun_tries_left_ = -1;
    }
}

void PublicAddress::on_stun_readable() {
    uint8_t buf[2048];
    for (;;) {
        ssize_t n = ::recv(stun_fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) return;
        on_stun_datagram(buf, (size_t)n);
    }
}

void PublicAddress::on_stun_datagram(const uint8_t* buf, size_t len) {
    sockaddr_in6 mapped;
    if (stun_tries_left_ < 0 || !stun_parse_response(buf, len, stun_txid_, mapped)) return;
    char text[INET6_ADDRSTRLEN];
    if (IN6_IS_ADDR_V4MAPPED(&mapped.sin6_addr))
        inet_ntop(AF_INET, &mapped.sin6_addr.s6_addr[12], text, sizeof text);
    else
        inet_ntop(AF_INET6, &mapped.sin6_addr, text, sizeof text);
    stun_tries_left_ = -1;
    set(text, ntohs(mapped.sin6_port), "STUN");
}

void PublicAddress::write_status_members(JsonWriter& w) const {
    static const char* const kSourceNames[] = {"none", "fixed", "command", "stun"};
    w.member("address_source", kSourceNames[(int)o_.addr_source]);
    w.member("public_address", endpoint_text(cur_.ip, cur_.port));
}

}  // namespace rustun::client
