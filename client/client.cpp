#include "client.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/log.hpp"
#include "proto/json_writer.hpp"

namespace rustun::client {

Client::Client(Options opts)
    : o_(std::move(opts)),
      peers_(o_.identity),
      address_(o_, clock_, *this),
      p2p_(o_.enable_p2p, o_.identity, clock_, sealer_, peers_, ctr_, address_.current(), *this),
      relay_(o_.identity, (uint64_t)o_.keepalive_interval_s * 1000, clock_, sealer_, ctr_, address_.current(), *this),
      tcp_(TcpSessionConfig{o_.servers, o_.identity, (uint64_t)o_.keepalive_interval_s * 1000,
                            o_.keepalive_threshold},
           clock_, poller_, sealer_, ctr_, address_.current(), *this),
      routes_(route_installer_),
      status_(clock_, poller_, *this) {}

Client::~Client() {
    for (int fd : {timer_fd_, signal_fd_})
        if (fd >= 0) ::close(fd);
}

Status Client::open_signals_and_timer() {
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGTERM);
    sigprocmask(SIG_BLOCK, &ss, nullptr);
    signal(SIGPIPE, SIG_IGN);
    signal_fd_ = ::signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) return make_error(std::string("signalfd: ") + strerror(errno));
    poller_.add(signal_fd_, Source::Signal, EPOLLIN);

    timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd_ < 0) return make_error(std::string("timerfd_create: ") + strerror(errno));
    itimerspec its{};
    its.it_value.tv_nsec = kTickMs * 1000000;
    its.it_interval.tv_nsec = kTickMs * 1000000;
    ::timerfd_settime(timer_fd_, 0, &its, nullptr);
    poller_.add(timer_fd_, Source::Timer, EPOLLIN);
    return {};
}

Status Client::init() {
    started_unix_ = clock_.unix_s();
    Status st = sealer_.init(o_.crypto);
    if (!st) return st;
    if (!(st = poller_.open())) return st;
    if (!(st = open_signals_and_timer())) return st;

    // TUN (configured once the first HandshakeReply arrives).
    st = tun_.open(o_.tun_name);
    if (!st) return make_error("--tun: " + st.error());
    poller_.add(tun_.fd(), Source::Tun, EPOLLIN);
    LOG_INFO("TUN device %s created (MTU %u, configured after the handshake)", tun_.name().c_str(), o_.mtu);

    if (!(st = p2p_.open(o_.p2p_port, poller_))) return st;
    if (!(st = address_.open(p2p_.fd(), p2p_.family(), poller_))) return st;
    if (o_.addr_source == AddrSource::Stun && p2p_.fd() >= 0) p2p_.share_with_stun(&address_);

    if (o_.relay == RelayMode::Udp) {
        const ServerAddress& r = udp_relay_for(o_, 0);
        if (!(st = relay_.open(r.host, r.port, poller_))) return st;
    }
    if (!o_.status_socket.empty() && !(st = status_.open_unix(o_.status_socket))) return st;
    if (o_.http_port && !(st = status_.open_http(o_.http_port))) return st;
    return {};
}

int Client::run() {
    epoll_event evs[64];
    while (running_) {
        int n = poller_.wait(evs, 64, 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            LOG_ERROR("epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n && running_; ++i) {
            const uint64_t t = evs[i].data.u64;
            switch (Poller::source(t)) {
                case Source::Tun: on_tun(); break;
                case Source::Tcp: tcp_.on_events(evs[i].events); break;
                case Source::P2p: p2p_.on_readable(); break;
                case Source::Relay: relay_.on_readable(); break;
                case Source::Stun: address_.on_stun_readable(); break;
                case Source::Timer: {
                    uint64_t expirations;
                    while (::read(timer_fd_, &expirations, sizeof expirations) > 0) {
                    }
                    on_tick();
                    break;
                }
                case Source::Signal: {
                    signalfd_siginfo si;
                    if (::read(signal_fd_, &si, sizeof si) == (ssize_t)sizeof si)
                        LOG_INFO("signal %u received: shutting down", si.ssi_signo);
                    running_ = false;
                    break;
                }
                case Source::StatusUnix: status_.on_unix_listener(); break;
                case Source::StatusHttp: status_.on_http_listener(); break;
                case Source::StatusConn: status_.on_connection(Poller::index(t), evs[i].events); break;
            }
        }
    }
    routes_.remove_all(tun_.name());
    status_.close_all();
    LOG_INFO("stopped");
    return 0;
}

void Client::on_tick() {
    const uint64_t now = clock_.mono_ms();
    tcp_.tick(now);
    relay_.tick(now, tcp_.established());
    p2p_.tick(now);
    address_.tick(now);
    status_.tick(now);
}

// Packets from the TUN device, in order of preference: a valid P2P path to the destination's
// peer, the bound UDP relay, the TCP session; otherwise dropped (no_path_drops).
void Client::on_tun() {
    uint8_t* pkt = sealer_.packet_area();
    const size_t cap = sealer_.packet_capacity();
    for (int i = 0; i < 64; ++i) {
        const ssize_t r = ::read(tun_.fd(), pkt, cap);
        if (r < 0) {
            if (errno == EINTR) continue;
            return;  // EAGAIN (or an error: nothing else to do)
        }
        const size_t n = (size_t)r;
        if (!is_ipv4_packet(pkt, n)) continue;  // IPv4 only (the gateway relays nothing else)
        ctr_.inc(Ctr::tun_rx);
        const uint64_t now = clock_.mono_ms();
        Peer* p = peers_.for_ip(ipv4_destination(pkt));
        if (p && p2p_.path_valid(*p, now)) {
            p2p_.send_data(*p, pkt, n);
            continue;
        }
        bool sent = false;
        if (tcp_.established() && relay_.bound(now)) {
            sent = relay_.send_data(pkt, n);
            if (sent) ctr_.inc(Ctr::udp_relay_data_tx);
        }
        if (!sent && tcp_.established()) {
            sent = tcp_.send_frame(FrameType::Data, pkt, n);
            if (sent) ctr_.inc(Ctr::tcp_data_tx);
        }
        if (!sent) {
            ctr_.inc(Ctr::no_path_drops);
            continue;
        }
        if (p) {
            ++p->relay.tx_packets;
            p->relay.tx_bytes += n;
        }
    }
}

void Client::write_tun(const uint8_t* pkt, size_t len) {
    if (::write(tun_.fd(), pkt, len) < 0)
        ctr_.inc(Ctr::tun_write_errors);
    else
        ctr_.inc(Ctr::tun_tx);
}

void Client::on_relay_data(const uint8_t* pkt, size_t len) {
    if (Peer* p = peers_.for_ip(ipv4_source(pkt))) {
        ++p->relay.rx_packets;
        p->relay.rx_bytes += len;
    }
    write_tun(pkt, len);
}

// The HandshakeReply addresses the TUN (again, when the address changed: the kernel then drops
// our routes), replaces the peer table and starts a probe round.
void Client::on_handshake_reply(const HandshakeReply& r, const char* /*shape*/) {
    auto ip = parse_ipv4(r.private_ip);
    auto mask = parse_ipv4(r.mask);
    auto plen = mask ? netmask_prefix_len(*mask) : std::nullopt;
    if (!ip || !plen) {
        tcp_.fail("HandshakeReply carries an invalid private_ip or mask");
        return;
    }
    gateway_text_ = r.gateway;
    if (!tun_configured_ || ip->value != tun_addr_ || mask->value != tun_mask_) {
        Status st = tun_.configure(ip->value, mask->value, o_.mtu);
        if (!st) {
            LOG_ERROR("cannot configure %s: %s", tun_.name().c_str(), st.error().c_str());
        } else {
            LOG_INFO("%s %s: %s/%u, MTU %u, up", tun_.name().c_str(), tun_configured_ ? "re-addressed" : "configured",
                      r.private_ip.c_str(), (unsigned)*plen, o_.mtu);
            if (tun_configured_) routes_.forget();  // the kernel dropped them with the old address
            tun_addr_ = ip->value;
            tun_mask_ = mask->value;
            tun_configured_ = true;
        }
    }
    if (peers_.apply_list(r.peers, true, p2p_)) sync_routes();
    // Failed over to another gateway: bind at that gateway's UDP relay (its dataplane has never
    // seen us; the old one's binding is of no use).
    if (o_.relay == RelayMode::Udp && tcp_.server_index() != relay_server_) {
        const ServerAddress& ur = udp_relay_for(o_, tcp_.server_index());
        if (Status st = relay_.retarget(ur.host, ur.port, poller_); st)
            relay_server_ = tcp_.server_index();
        else
            LOG_WARN("UDP relay of %s: %s; relayed data goes over TCP", tcp_.server().text().c_str(), st.error().c_str());
    }
    const uint64_t now = clock_.mono_ms();
    if (o_.enable_p2p) p2p_.probe_all(now);
    relay_.keepalive_now(now);
}

void Client::on_peer_details(const std::vector<PeerDetail>& list) {
    if (peers_.apply_list(list, false, p2p_)) sync_routes();
}

void Client::on_peer_update(const PeerUpdate& u) { peers_.apply_update(u, p2p_); }

void Client::sync_routes() {
    if (tun_configured_) routes_.sync(peers_.peers(), tun_addr_, tun_mask_, tun_.name());
}

// Peers learn our new source address from a probe round at once; the gateway from a KeepAlive
// sent now (it then tells the peers).
void Client::on_public_address_changed() {
    if (o_.enable_p2p && !address_.current().ip.empty()) p2p_.probe_all(clock_.mono_ms());
    if (tcp_.established()) {
        tcp_.send_keepalive_now();
        if (relay_.active()) relay_.send_keepalive();
    }
}

std::string Client::status_json() {
    const uint64_t now = clock_.mono_ms();
    std::string o;
    o.reserve(1024 + peers_.peers().size() * 400);
    JsonWriter w(o);
    w.begin_object();
    w.member("identity", o_.identity);
    w.member_uint("uptime_s", clock_.unix_s() - started_unix_);
    w.key("server");
    w.begin_object();
    tcp_.write_status_members(w, now);
    w.end_object();
    w.key("relay");
    w.begin_object();
    w.member("mode", o_.relay == RelayMode::Udp ? "udp" : "tcp");
    relay_.write_status_members(w, now);
    w.end_object();
    w.key("tun");
    w.begin_object();
    w.member("name", tun_.name());
    w.member("address", tun_configured_ ? ipv4_text(tun_addr_) : "");
    w.member("mask", tun_configured_ ? ipv4_text(tun_mask_) : "");
    w.member("gateway", gateway_text_);
    w.member_uint("mtu", o_.mtu);
    w.end_object();
    w.key("p2p");
    w.begin_object();
    w.member_bool("enabled", o_.enable_p2p);
    w.member_uint("port", o_.p2p_port);
    address_.write_status_members(w);
    w.end_object();
    p2p_.write_peers(w, now);
    w.key("counters");
    w.begin_object();
    ctr_.write_members(w);
    w.end_object();
    w.end_object();
    o += '\n';
    return o;
}

}  // namespace rustun::client
