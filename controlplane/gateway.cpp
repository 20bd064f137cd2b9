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
#include <optional>

#include "config/reload_policy.hpp"
#include "config/yaml_loader.hpp"
#include "dataplane_delta.hpp"
#include "dataplane_link.hpp"
#include "fleet_link.hpp"
#include "fleet_link_directory.hpp"
#include "fleet_registry.hpp"
#include "routing/route_overlaps.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/version.hpp"
#include "worker.hpp"

namespace rustun::cp {

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

// The route conflicts of `cfg` for the log: the first 20, then how many more there are (a
// 0.0.0.0/0 in one client of a large cluster would otherwise log a line per client).
std::vector<std::string> route_log_lines(const GatewayConfig& cfg) {
    constexpr size_t kLogged = 20;
    RouteOverlapReport r = route_overlap_warnings(cfg, kLogged);
    if (r.total > r.lines.size())
        r.lines.push_back(std::to_string(r.total - r.lines.size()) +
                          " more route conflict(s) not logged; rustun-controlplane --check-config lists them all");
    return std::move(r.lines);
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

Status Gateway::start() {
    // What start() needs of the configuration, read under the state mutex (a reload from the
    // control socket may run as soon as that socket is up). All restart-only keys.
    SocketAddress listen;
    uint32_t nworkers = 0;
    std::optional<std::string> channel;
    std::optional<FleetConfig> fleet;
    std::string control_path, control_group;
    std::optional<SocketAddress> metrics_listen;
    std::vector<std::string> warnings;
    size_t nclusters = 0, nclients = 0;
    {
        MutexLock lk(state_.mu());
        auto m = Membership::build(cfg_);
        if (!m) return make_error(m.error());
        state_.replace_members(std::move(m.value()));
        state_.set_limits(cfg_.controlplane);
        listen = cfg_.listen.tcp;
        nworkers = cfg_.controlplane.workers;
        if (cfg_.dataplane) channel = cfg_.dataplane->channel;
        fleet = cfg_.fleet;
        control_path = cfg_.control_socket;
        control_group = cfg_.control_socket_group;
        metrics_listen = cfg_.metrics_listen;
        warnings = shared_key_warnings(cfg_);
        for (std::string& w : route_log_lines(cfg_)) warnings.push_back(std::move(w));
        nclusters = cfg_.clusters.size();
        nclients = cfg_.total_clients();
        started_at_ = config_loaded_at_ = realtime_s();
    }
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
    // The link exists before the workers (they hand it Data for UDP endpoints); its thread
    // starts after theirs.
    if (channel) link_ = std::make_unique<DataplaneLink>(state_, *channel);
    if (fleet && !fleet_link_options_) {
        fleet_view_directory_ = std::make_unique<FleetViewDirectory>(state_.fleet_view());
        Status fe = enable_fleet_link(fleet_link_options(*fleet), *fleet_view_directory_);
        if (!fe) return fe;
    }
    if (fleet_link_options_) {
        auto fl = FleetLink::create(state_, *fleet_directory_, *fleet_link_options_, link_.get());
        if (!fl) return make_error(fl.error());
        fleet_link_ = std::move(fl).value();
        if (link_) link_->set_fleet_link(fleet_link_.get());
    }
    uint16_t port = listen.port;
    for (uint32_t i = 0; i < nworkers; ++i) {
        auto fd = open_listener(listen, port);
        if (!fd) return make_error(fd.error());
        if (i == 0) port = tcp_port_ = bound_port(fd.value());
        workers_.push_back(std::make_unique<Worker>(state_, link_.get(), i, fd.value()));
        workers_.back()->set_fleet_link(fleet_link_.get());
        Status st = workers_.back()->init();
        if (!st) return st;
    }
    for (auto& w : workers_) w->start();
    if (fleet_link_) {
        Status fs = fleet_link_->start();
        if (!fs) return fs;
    }
    if (link_ && fleet_link_ && fleet) {
        // The dataplane carries the fleet's link over UDP too (docs/fleet.md, "UDP link through
        // the dataplane"); the TCP link stays for what does not fit and for members without one.
        Status us = link_->set_fleet_udp(fleet->gateway_id, fleet_link_options_->key);
        if (!us) return us;
    }
    if (link_) {
        Status ls = link_->start();
        if (!ls) return ls;
    }
    if (fleet) {
        FleetSelf self;
        SocketAddress bound = listen;
        bound.port = tcp_port_;
        self.tcp_listen = bound.to_string();
        self.version = kVersion;
        {
            MutexLock lk(state_.mu());
            if (cfg_.listen.udp) self.udp_listen = cfg_.listen.udp->to_string();
            self.udp_link = link_ && fleet_link_ && cfg_.listen.udp;
            // The link's bound address (its port chosen by the kernel when configured as 0).
            SocketAddress link_at = cfg_.fleet->link.listen;
            if (fleet_link_) link_at.port = fleet_link_->listen_port();
            if (link_at.port != 0) self.link = link_at.to_string();
            self.config_hash = fleet_config_hash(cfg_);
        }
        fleet_ = std::make_unique<FleetRegistry>(*fleet, std::move(self), state_);
        Status fs = fleet_->start();
        if (!fs) return fs;
    }
    ControlSocketOptions copt;
    if (!control_group.empty()) {
        auto gid = ControlSocket::resolve_group(control_group);
        if (!gid) return make_error(gid.error());
        copt.group = gid.value();
    }
    Status st = control_.start(control_path, [this](const std::string& line) { return handle_command(line); }, copt);
    if (!st) return st;
    if (metrics_listen) {
        Status ms = metrics_.start(*metrics_listen, [this] { return metrics_snapshot(); });
        if (!ms) return ms;
        LOG_INFO("metrics: http://%s/metrics (port %u)", metrics_listen->to_string().c_str(), metrics_.port());
    }
    for (const std::string& w : warnings) LOG_WARN("%s", w.c_str());
    LOG_INFO("listening on %s (TCP port %u), %u worker(s), %zu cluster(s), %zu client(s); control socket %s",
             listen.to_string().c_str(), tcp_port_, nworkers, nclusters, nclients, control_path.c_str());
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
        // Wakes every second for the per-client event summary (event_summary.hpp).
        int n = ::epoll_wait(ep, out, 2, 1000);
        state_.events().tick(std::chrono::steady_clock::now());
        for (int i = 0; i < n; ++i) {
            if (out[i].data.fd == stop_fd_) {
                running = false;
                break;
            }
            signalfd_siginfo si;
            if (::read(sfd, &si, sizeof si) != sizeof si) continue;
            if (si.ssi_signo == SIGHUP) {
                LOG_INFO("SIGHUP: reloading %s", config_path_.c_str());
                (void)reload("SIGHUP");  // logs its own result
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
    metrics_.stop();
    control_.stop();
    if (fleet_) fleet_->stop();  // revokes the lease: our clients vanish from the fleet at once
    if (link_) link_->stop();
    if (fleet_link_) fleet_link_->stop();
    for (auto& w : workers_) w->stop_and_join();
    if (stop_fd_ >= 0) {
        uint64_t one = 1;
        if (::write(stop_fd_, &one, sizeof one) < 0) {
        }
    }
}

MetricsSnapshot Gateway::metrics_snapshot() {
    MetricsSnapshot s;
    s.version = kVersion;
    s.start_time_s = started_at_;
    for (size_t i = 0; i < kCounterCount; ++i) s.cp[i] = counter(static_cast<Counter>(i));
    for (auto& w : workers_) s.handshake_latency += w->handshake_latency().snapshot();
    s.server = metrics_.stats();
    if (fleet_) {
        const FleetStatus fs = fleet_->status();
        s.fleet.configured = true;
        s.fleet.connected = fs.connected;
        s.fleet.stale = fs.stale;
        s.fleet.remote_clients = fs.remote_clients;
        s.fleet.gateways = state_.fleet_view().snapshot()->gateways().size();
        s.fleet.watch_lag_ms = fs.watch_lag_ms;
    }
    s.connections_open = s.cp[static_cast<size_t>(Counter::conn_accepted)] - s.cp[static_cast<size_t>(Counter::conn_closed)];
    {
        MutexLock lk(reload_mu_);
        s.reloads = {reloads_.ok, reloads_.failed, reloads_.last_at_s, reloads_.last_ok};
    }
    {
        // Brief: one pass over the clients, no formatting.
        MutexLock lk(state_.mu());
        s.config_loaded_at_s = config_loaded_at_;
        const Membership& m = state_.members();
        s.clusters.resize(m.clusters.size());
        for (size_t i = 0; i < m.clusters.size(); ++i) s.clusters[i].name = m.clusters[i].name;
        for (const ClientEntry& e : m.clients) {
            MetricsSnapshot::Cluster& c = s.clusters[e.cluster];
            ++c.configured;
            c.online += e.rt.conn != nullptr ? 1 : 0;
            c.udp_bound += e.udp.bound ? 1 : 0;
            c.rx_frames += e.stats->rx_frames.load(std::memory_order_relaxed);
            c.rx_bytes += e.stats->rx_bytes.load(std::memory_order_relaxed);
            c.tx_frames += e.stats->tx_frames.load(std::memory_order_relaxed);
            c.tx_bytes += e.stats->tx_bytes.load(std::memory_order_relaxed);
            c.drops += e.stats->drops.load(std::memory_order_relaxed);
        }
    }
    s.dataplane_configured = link_ != nullptr;
    if (link_)
        s.dataplane_attached = link_->dataplane_counter_blocks(s.dp_workers, s.dp_main, s.dp_sessions, s.dp_session_capacity);
    return s;
}

uint64_t Gateway::counter(Counter c) const {
    uint64_t v = control_.counters().get(c);
    if (link_) v += link_->counters().get(c);
    if (fleet_link_) v += fleet_link_->counters().get(c);
    if (fleet_) v += fleet_->counters().get(c);
    for (auto& w : workers_) v += w->counters().get(c);
    return v;
}

Status Gateway::enable_fleet_link(const FleetLinkOptions& options, const FleetDirectory& directory) {
    if (!workers_.empty()) return make_error("the fleet link must be enabled before start()");
    fleet_link_options_ = std::make_unique<FleetLinkOptions>(options);
    fleet_directory_ = &directory;
    return {};
}

uint16_t Gateway::fleet_link_port() const { return fleet_link_ ? fleet_link_->listen_port() : 0; }

Result<ReloadReport> Gateway::reload(std::string_view trigger) {
    auto r = reload_apply();
    if (r) {
        const ReloadReport& rep = r.value();
        LOG_INFO("reloaded %s (%.*s): %zu added, %zu removed, %zu changed, %zu re-keyed, %zu unchanged; state mutex "
                 "held %llu us, %zu message(s) to the dataplane%s",
                 config_path_.c_str(), static_cast<int>(trigger.size()), trigger.data(), rep.added.size(),
                 rep.removed.size(), rep.changed.size(), rep.rekeyed.size(), rep.unchanged,
                 (unsigned long long)rep.state_mutex_us, rep.dataplane_messages,
                 rep.dataplane_full_sync ? " (a full sync: ids renumbered)" : "");
    } else {
        LOG_ERROR("reload of %s (%.*s) failed, running configuration kept: %s", config_path_.c_str(),
                  static_cast<int>(trigger.size()), trigger.data(), r.error().c_str());
    }
    MutexLock lk(reload_mu_);
    ++(r ? reloads_.ok : reloads_.failed);
    reloads_.last_ok = r.ok();
    reloads_.last_at_s = realtime_s();
    reloads_.last_trigger = trigger;
    reloads_.last_error = r ? std::string() : r.error();
    if (r) {
        const ReloadReport& rep = r.value();
        reloads_.added = rep.added.size();
        reloads_.removed = rep.removed.size();
        reloads_.changed = rep.changed.size();
        reloads_.rekeyed = rep.rekeyed.size();
        reloads_.restart_pending = rep.restart_only;
    }
    return r;
}

Result<ReloadReport> Gateway::reload_apply() {
    // Reloads one at a time: the plan below is made against the membership they replace.
    MutexLock serial(reload_serial_mu_);
    auto next = load_config_file(config_path_);
    if (!next) return make_error(next.error());
    auto nm = Membership::build(next.value());
    if (!nm) return make_error(nm.error());
    std::shared_ptr<Membership> fresh = std::move(nm.value());
    const std::vector<std::string> key_warnings = shared_key_warnings(next.value());
    const std::vector<std::string> route_warnings = route_log_lines(next.value());
    std::shared_ptr<Membership> old;
    {
        MutexLock lk(state_.mu());
        old = state_.hold_members();
    }
    // Without the state mutex: match identities, share the per-client counters, number the
    // clients for the dataplane and compute its delta (configured parts only, both immutable).
    ReloadReport rep;
    ReloadPlan plan;
    plan_carry_over(*old, *fresh, rep, plan);
    fresh->generation = old->generation + 1;
    auto applied = std::make_unique<GatewayConfig>(std::move(next.value()));
    const std::string fleet_hash = fleet_ ? fleet_config_hash(*applied) : std::string();
    const auto locked_at = std::chrono::steady_clock::now();
    {
        // Under it only what is O(online clients) or O(changes): runtime state, kicks, install.
        MutexLock lk(state_.mu());
        rep.restart_only = restart_only_changes(cfg_, *applied);
        apply_carry_over(*old, *fresh, plan);
        // Restart-only keys keep their running values; the replaced configuration (and `old`)
        // are freed after unlocking.
        keep_restart_only_values(*applied, cfg_);
        std::swap(cfg_, *applied);
        state_.replace_members(fresh);
        for (const std::string& identity : rep.removed) state_.handshake_nonces().forget(identity);
        state_.set_limits(cfg_.controlplane);
        config_loaded_at_ = realtime_s();
        if (link_) link_->state_changed(fresh, std::move(plan.delta));
        if (!log_level_pinned_) set_log_level(cfg_.controlplane.log_level);
        if (!log_format_pinned_) set_log_format(cfg_.log_format.value_or(default_log_format()));
    }
    rep.state_mutex_us = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - locked_at).count());
    // Client records carry configured fields (private IP, CIDRs): the registry re-publishes.
    if (fleet_) fleet_->config_changed(fleet_hash);
    old.reset();
    applied.reset();
    malloc_trim(0);  // return the parse's (and the old generation's) freed heap
    for (const std::string& w : key_warnings) LOG_WARN("reload: %s", w.c_str());
    for (const std::string& w : route_warnings) LOG_WARN("reload: %s", w.c_str());
    for (const auto& k : rep.restart_only)
        LOG_WARN("reload: '%s' changed but is restart-only: the running value stays until a restart", k.c_str());
    return rep;
}

void Gateway::plan_carry_over(const Membership& old, Membership& fresh, ReloadReport& rep, ReloadPlan& plan) {
    std::vector<ClientId> same_identity(fresh.clients.size(), kNoClient);
    std::vector<bool> rekeyed(fresh.clients.size(), false);
    std::vector<bool> kept(old.clients.size(), false);
    plan.carry.assign(fresh.clients.size(), kNoClient);
    for (ClientId nid = 0; nid < fresh.clients.size(); ++nid) {
        ClientEntry& ne = fresh.clients[nid];
        const ClientId oid = old.find(ne.cfg.identity);
        if (oid == kNoClient) {
            rep.added.push_back(ne.cfg.identity);
            continue;
        }
        same_identity[nid] = oid;
        kept[oid] = true;
        const ClientEntry& oe = old.clients[oid];
        ne.stats = oe.stats;  // counters survive a reload (the pointer is configured, never reassigned)
        rekeyed[nid] = old.clusters[oe.cluster].key->spec() != fresh.clusters[ne.cluster].key->spec() ||
                       old.clusters[oe.cluster].name != fresh.clusters[ne.cluster].name;
        if (rekeyed[nid]) {
            rep.rekeyed.push_back(ne.cfg.identity);
            plan.kick.push_back(oid);
            continue;
        }
        if (ne.cfg.same_settings(oe.cfg)) ++rep.unchanged;
        else rep.changed.push_back(ne.cfg.identity);
        plan.carry[nid] = oid;
    }
    for (ClientId oid = 0; oid < old.clients.size(); ++oid) {
        if (kept[oid]) continue;
        rep.removed.push_back(old.clients[oid].cfg.identity);
        plan.kick.push_back(oid);
    }
    plan.delta = carry_dataplane_ids(old, fresh, same_identity, rekeyed);
    rep.dataplane_messages = plan.delta.full ? 0 : plan.delta.messages();
    rep.dataplane_full_sync = plan.delta.full;
}

void Gateway::apply_carry_over(Membership& old, Membership& fresh, const ReloadPlan& plan) {
    for (ClientId nid = 0; nid < fresh.clients.size(); ++nid) {
        const ClientId oid = plan.carry[nid];
        if (oid == kNoClient) continue;
        ClientEntry& oe = old.clients[oid];
        ClientEntry& ne = fresh.clients[nid];
        // Only what is not the default (most of a big gateway's clients are offline and unbound).
        if (oe.udp.bound || oe.udp.last_seq != 0) ne.udp = oe.udp;
        if (!oe.rt.conn) continue;  // offline: its runtime is the default one
        ne.rt = oe.rt;
        ne.rt.conn->client = nid;
        ne.rt.conn->cluster = ne.cluster;
        // The replaced generation forgets it: a relaying worker that still holds that snapshot
        // then takes the new one (Worker::sender_current) instead of routing by stale ids.
        oe.rt.conn = nullptr;
    }
    for (ClientId oid : plan.kick) {
        ClientEntry& oe = old.clients[oid];
        if (!oe.rt.conn) continue;
        oe.rt.conn->client = kNoClient;
        ask_owner_to_close(oe.rt.conn, CloseReason::Kicked);  // counted (kicked) when it closes
    }
}

}  // namespace rustun::cp
