#include "gateway.hpp"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/reload_policy.hpp"
#include "config/yaml_loader.hpp"
#include "log.hpp"
#include "dataplane_link.hpp"
#include "worker.hpp"

namespace rustun {

namespace {

Result<int> open_listener(const SocketAddress& a, uint16_t port) {
    sockaddr_storage ss{};
    socklen_t sl;
    int family = a.family == AddressFamily::V4 ? AF_INET : AF_INET6;
    if (family == AF_INET) {
        auto* s = reinterpret_cast<sockaddr_in*>(&ss);
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        std::memcpy(&s->sin_addr, a.bytes.data(), 4);
        sl = sizeof *s;
    } else {
        auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        std::memcpy(&s->sin6_addr, a.bytes.data(), 16);
        sl = sizeof *s;
    }
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(std::string("socket: ") + strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0 || ::listen(fd, 4096) < 0) {
        std::string err = strerror(errno);
        ::close(fd);
        return make_error("listen.tcp " + a.to_string() + ": " + err);
    }
    return fd;
}

uint16_t bound_port(int fd) {
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl);
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace

Gateway::Gateway(GatewayConfig cfg, std::string config_path) : cfg_(std::move(cfg)), config_path_(std::move(config_path)) {}

Gateway::~Gateway() {
    stop();
    if (stop_fd_ >= 0) ::close(stop_fd_);
}

void Gateway::apply_limits_locked() {
    const ControlPlaneConfig& c = cfg_.controlplane;
    limits.handshake_timeout = c.handshake_timeout;
    limits.idle_timeout = c.idle_timeout;
    limits.output_queue_bytes = c.output_queue_bytes;
    limits.max_peers_per_reply = c.max_peers_per_reply;
    limits.handshake_rate_per_source = c.handshake_rate_per_source;
    limits.handshake_pending_max = c.handshake_pending_max;
    limits.handshake_pending_per_source = c.handshake_pending_per_source;
    limits.handshake_pending_per_prefix6 = c.handshake_pending_per_prefix6;
    limits.first_byte_timeout = c.first_byte_timeout;
    // One keep-alive interval: a reader that is merely slow drains its queue below half the
    // bound well within that; one that stopped reading does not.
    limits.slow_client_timeout = c.keepalive_interval;
}

Status Gateway::start() {
    auto m = Membership::build(cfg_);
    if (!m) return make_error(m.error());
    {
        std::lock_guard<std::mutex> lk(mu);
        members = std::move(m.value());
        apply_limits_locked();
    }
    started_at_ = config_loaded_at_ = unix_now();
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
    uint16_t port = cfg_.listen.tcp.port;
    for (uint32_t i = 0; i < cfg_.controlplane.workers; ++i) {
        auto fd = open_listener(cfg_.listen.tcp, port);
        if (!fd) return make_error(fd.error());
        if (i == 0) port = tcp_port_ = bound_port(fd.value());
        workers.push_back(std::make_unique<Worker>(*this, i, fd.value()));
        Status st = workers.back()->init();
        if (!st) return st;
    }
    for (auto& w : workers) w->start();
    if (cfg_.dataplane) {
        link = std::make_unique<DataplaneLink>(*this, cfg_.dataplane->channel);
        Status ls = link->start();
        if (!ls) return ls;
    }
    ControlSocketOptions copt;
    if (!cfg_.control_socket_group.empty()) {
        auto gid = ControlSocket::resolve_group(cfg_.control_socket_group);
        if (!gid) return make_error(gid.error());
        copt.group = gid.value();
    }
    Status st = control_.start(cfg_.control_socket, [this](const std::string& line) { return handle_command(line); },
                               copt);
    if (!st) return st;
    for (const std::string& w : shared_key_warnings(cfg_)) LOG_WARN("%s", w.c_str());
    LOG_INFO("listening on %s (TCP port %u), %u worker(s), %zu cluster(s), %zu client(s); control socket %s",
             cfg_.listen.tcp.to_string().c_str(), tcp_port_, cfg_.controlplane.workers, cfg_.clusters.size(),
             cfg_.total_clients(), cfg_.control_socket.c_str());
    return {};
}

void Gateway::run() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = sfd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    ev.data.fd = stop_fd_;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd_, &ev);
    for (bool running = true; running;) {
        epoll_event out[2];
        int n = ::epoll_wait(ep, out, 2, -1);
        for (int i = 0; i < n; ++i) {
            if (out[i].data.fd == stop_fd_) {
                running = false;
                break;
            }
            signalfd_siginfo si;
            if (::read(sfd, &si, sizeof si) != sizeof si) continue;
            if (si.ssi_signo == SIGHUP) {
                LOG_INFO("SIGHUP: reloading %s", config_path_.c_str());
                auto r = reload();
                if (!r) LOG_ERROR("reload failed, running configuration kept: %s", r.error().c_str());
            } else {
                LOG_INFO("signal %u: stopping", si.ssi_signo);
                running = false;
            }
        }
    }
    ::close(ep);
    ::close(sfd);
    stop();
}

void Gateway::stop() {
    control_.stop();
    if (link) link->stop();
    for (auto& w : workers) w->stop_and_join();
    if (stop_fd_ >= 0) {
        uint64_t one = 1;
        if (::write(stop_fd_, &one, sizeof one) < 0) {
        }
    }
}

void Gateway::request_close(const ConnectionPtr& c, CloseReason reason) {
    c->close_requested.store(reason);
    workers[c->worker]->request_close(c, reason);
}

uint64_t Gateway::counter(Counter c) const {
    uint64_t v = counters.get(c) + control_.counters.get(c);
    if (link) v += link->counters.get(c);
    for (auto& w : workers) v += w->counters.get(c);
    return v;
}

Result<ReloadReport> Gateway::reload() {
    auto next = load_config_file(config_path_);
    if (!next) return make_error(next.error());
    auto nm = Membership::build(next.value());
    if (!nm) return make_error(nm.error());
    Membership& fresh = *nm.value();
    ReloadReport rep;
    std::lock_guard<std::mutex> lk(mu);
    Membership& old = *members;
    rep.restart_only = restart_only_changes(cfg_, next.value());
    std::vector<bool> kept(old.clients.size(), false);
    for (ClientId nid = 0; nid < fresh.clients.size(); ++nid) {
        ClientEntry& ne = fresh.clients[nid];
        ClientId oid = old.find(ne.cfg.identity);
        if (oid == kNoClient) {
            rep.added.push_back(ne.cfg.identity);
            continue;
        }
        kept[oid] = true;
        ClientEntry& oe = old.clients[oid];
        ne.stats = oe.stats;  // counters survive a reload
        const bool rekeyed = old.clusters[oe.cluster].key->spec() != fresh.clusters[ne.cluster].key->spec() ||
                             old.clusters[oe.cluster].name != fresh.clusters[ne.cluster].name;
        if (rekeyed) {
            rep.rekeyed.push_back(ne.cfg.identity);
            if (oe.rt.conn) {
                oe.rt.conn->client = kNoClient;
                request_close(oe.rt.conn, CloseReason::Kicked);
                counters.inc(Counter::kicked);
            }
            continue;
        }
        if (ne.cfg.same_settings(oe.cfg)) ++rep.unchanged;
        else rep.changed.push_back(ne.cfg.identity);
        ne.rt = oe.rt;
        ne.udp = oe.udp;
        if (ne.rt.conn) {
            ne.rt.conn->client = nid;
            ne.rt.conn->cluster = ne.cluster;
        }
    }
    for (ClientId oid = 0; oid < old.clients.size(); ++oid) {
        if (kept[oid]) continue;
        ClientEntry& oe = old.clients[oid];
        rep.removed.push_back(oe.cfg.identity);
        if (oe.rt.conn) {
            oe.rt.conn->client = kNoClient;
            request_close(oe.rt.conn, CloseReason::Kicked);
            counters.inc(Counter::kicked);
        }
    }
    // Restart-only keys keep their running values.
    GatewayConfig applied = std::move(next.value());
    keep_restart_only_values(applied, cfg_);
    cfg_ = std::move(applied);
    members = std::move(nm.value());
    handshake_nonces.retain([&](const std::string& identity) { return members->find(identity) != kNoClient; });
    apply_limits_locked();
    config_loaded_at_ = unix_now();
    if (link) link->request_resync();  // client ids were renumbered
    if (!log_level_pinned_) set_log_level(cfg_.controlplane.log_level);
    malloc_trim(0);                    // return the parse's freed heap
    LOG_INFO("reloaded %s: %zu added, %zu removed, %zu changed, %zu re-keyed, %zu unchanged", config_path_.c_str(),
             rep.added.size(), rep.removed.size(), rep.changed.size(), rep.rekeyed.size(), rep.unchanged);
    for (const std::string& w : shared_key_warnings(cfg_)) LOG_WARN("reload: %s", w.c_str());
    for (const auto& k : rep.restart_only)
        LOG_WARN("reload: '%s' changed but is restart-only: the running value stays until a restart", k.c_str());
    return rep;
}

}  // namespace rustun
