// FleetRegistry: its thread, the session with etcd (lease, gateway record, watch) and the stale
// bound. Publishing this gateway's clients: fleet_publish.cpp; applying the watch: fleet_apply.cpp.
#include "fleet_registry.hpp"

#include <algorithm>
#include <cinttypes>

#include "fleet_records.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/thread_name.hpp"

namespace rustun::cp {

namespace {

// The gateway record's client count is rewritten at most this often (it is informational).
constexpr auto kGatewayRecordInterval = std::chrono::seconds(1);
// Back-off between attempts to re-open a session with etcd.
constexpr auto kRetryInterval = std::chrono::milliseconds(500);

void fnv(uint64_t& h, std::string_view s) {
    for (unsigned char ch : s) {
        h ^= ch;
        h *= 1099511628211ull;
    }
    h ^= 0xff;  // field separator
    h *= 1099511628211ull;
}

}  // namespace

std::string fleet_config_hash(const GatewayConfig& cfg) {
    uint64_t h = 14695981039346656037ull;
    fnv(h, cfg.crypto.to_string());
    for (const ClusterConfig& cl : cfg.clusters) {
        fnv(h, cl.name);
        fnv(h, cl.crypto.to_string());
        for (const ClientConfig& c : cl.clients) {
            fnv(h, c.identity);
            fnv(h, c.name);
            fnv(h, c.private_ip.to_string());
            fnv(h, c.mask.to_string());
            fnv(h, c.gateway.to_string());
            for (const Ipv4Cidr& x : c.ciders) fnv(h, x.to_string());
            for (const CidrMapping& m : c.cider_mapping) fnv(h, m.virtual_cidr.to_string() + ">" + m.real_cidr.to_string());
        }
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, h);
    return buf;
}

FleetRegistry::FleetRegistry(FleetConfig cfg, FleetSelf self, SharedState& state)
    : cfg_(std::move(cfg)), self_(std::move(self)), state_(state), model_(cfg_.prefix, cfg_.gateway_id) {}

FleetRegistry::~FleetRegistry() { stop(); }

Status FleetRegistry::start() {
    etcd::Options o;
    o.endpoints = cfg_.etcd;
    if (cfg_.tls) {
        o.ca_file = cfg_.tls->ca;
        o.cert_file = cfg_.tls->cert;
        o.key_file = cfg_.tls->key;
    }
    auto c = etcd::Client::create(std::move(o));
    if (!c) return make_error("fleet.etcd: " + c.error());
    etcd_ = std::move(c.value());
    auto eng = CryptoEngine::create();
    if (!eng) return make_error("fleet registry: " + eng.error());
    engine_ = std::move(eng.value());
    sender_ = std::make_unique<FrameSender>(*engine_, counters_);
    started_at_ = realtime_s();
    state_.set_fleet_notify(this);
    thread_ = std::thread([this] { run(); });
    name_thread(thread_, "cp-fleet-reg");
    return {};
}

void FleetRegistry::stop() {
    if (!thread_.joinable()) return;
    state_.set_fleet_notify(nullptr);
    stop_.store(true);
    inbox_cv_.notify_all();
    thread_.join();
    watcher_.reset();
    if (keeper_) keeper_->stop();
    keeper_.reset();
    if (lease_ != 0 && etcd_) (void)etcd_->lease_revoke(lease_);  // our records vanish for the others now
    lease_ = 0;
}

void FleetRegistry::client_changed(std::string_view identity) {
    {
        MutexLock lk(inbox_mu_);
        inbox_.dirty.emplace(identity);
    }
    inbox_cv_.notify_one();
}

void FleetRegistry::config_changed(std::string hash) {
    {
        MutexLock lk(inbox_mu_);
        inbox_.config_hash = std::move(hash);
    }
    inbox_cv_.notify_one();
}

FleetStatus FleetRegistry::status() const {
    MutexLock lk(status_mu_);
    return status_;
}

void FleetRegistry::wait_for_work(std::chrono::milliseconds timeout) {
    MutexLock lk(inbox_mu_);
    const bool work = !inbox_.dirty.empty() || !inbox_.listings.empty() || !inbox_.batches.empty() ||
                      inbox_.lease_lost || inbox_.watch_down || inbox_.watch_up || !inbox_.config_hash.empty();
    if (!work && !stop_.load()) inbox_cv_.wait_for(inbox_mu_, timeout);
}

bool FleetRegistry::write_gateway_record() {
    FleetGateway g;
    g.id = cfg_.gateway_id;
    g.tcp_listen = self_.tcp_listen;
    g.udp_listen = self_.udp_listen;
    g.link = self_.link;
    g.udp_link = self_.udp_link;
    g.version = self_.version;
    g.config_hash = self_.config_hash;
    g.clients = own_rev_.size();
    g.started_at = started_at_;
    g.updated_at = realtime_s();
    auto r = etcd_->put(fleet_gateway_key(cfg_.prefix, cfg_.gateway_id), encode_gateway_record(g), lease_);
    gateway_written_ = std::chrono::steady_clock::now();
    if (!r) return write_failed(r.error());
    counters_.inc(Counter::fleet_publish_writes);
    published_count_ = g.clients;
    return true;
}

bool FleetRegistry::open_session() {
    auto lease = etcd_->lease_grant(cfg_.lease_ttl);
    if (!lease) {
        counters_.inc(Counter::fleet_etcd_errors);
        LOG_LIMITED(LogLevel::Warn, "fleet: etcd lease grant failed: %s (serving local clients; retrying)",
                    lease.error().c_str());
        MutexLock lk(status_mu_);
        status_.last_error = lease.error();
        return false;
    }
    lease_ = lease.value().id;
    if (!write_gateway_record()) {
        (void)etcd_->lease_revoke(lease_);
        lease_ = 0;
        return false;
    }
    keeper_ = std::make_unique<etcd::LeaseKeeper>(*etcd_, lease.value(), [this](const std::string& why) {
        {
            MutexLock lk(inbox_mu_);
            inbox_.lease_lost = true;
        }
        LOG_WARN("fleet: etcd lease lost: %s", why.c_str());
        inbox_cv_.notify_one();
    });
    if (!watcher_) {
        etcd::Watcher::Callbacks cb;
        cb.on_snapshot = [this](const etcd::RangeResult& r) {
            {
                MutexLock lk(inbox_mu_);
                inbox_.listings.push_back(r);
            }
            inbox_cv_.notify_one();
        };
        cb.on_events = [this](const std::vector<etcd::WatchEvent>& ev) {
            {
                MutexLock lk(inbox_mu_);
                inbox_.batches.push_back(ev);
            }
            inbox_cv_.notify_one();
        };
        cb.on_connection = [this](bool up) {
            {
                MutexLock lk(inbox_mu_);
                (up ? inbox_.watch_up : inbox_.watch_down) = true;
            }
            inbox_cv_.notify_one();
        };
        watcher_ = std::make_unique<etcd::Watcher>(*etcd_, cfg_.prefix + "/", 0, std::move(cb));
    }
    // A new lease: every record is written again under it (the old lease's are gone or going).
    published_.clear();
    mark_all_dirty();
    if (ever_connected_) {
        counters_.inc(Counter::fleet_etcd_reconnects);
        LOG_INFO("fleet: etcd back: lease %" PRId64 " granted, gateway '%s' registered again, re-publishing",
                 lease_, cfg_.gateway_id.c_str());
    } else {
        LOG_INFO("fleet: gateway '%s' registered (lease %" PRId64 ", ttl %llds)", cfg_.gateway_id.c_str(), lease_,
                 static_cast<long long>(cfg_.lease_ttl.count()));
    }
    ever_connected_ = session_ok_ = true;
    return true;
}

void FleetRegistry::close_session(const std::string& why) {
    if (!session_ok_) return;
    LOG_WARN("fleet: etcd session lost (%s): serving local clients, keeping the last remote view", why.c_str());
    session_ok_ = false;
    if (keeper_) keeper_->stop();
    keeper_.reset();
    lease_ = 0;
    if (etcd_lost_at_ == SteadyTime{}) etcd_lost_at_ = std::chrono::steady_clock::now();
}

void FleetRegistry::mark_all_dirty() {
    MutexLock lk(state_.mu());
    const Membership& m = state_.members();
    for (const ClientEntry& e : m.clients)
        if (e.rt.conn) dirty_.insert(e.cfg.identity);
    // Records of ours whose clients went offline meanwhile: publish_all() deletes what is still ours.
    for (const auto& [key, rev] : own_rev_) {
        const RemoteClient* r = model_.client(key);
        if (r) dirty_.insert(r->identity);
    }
}

void FleetRegistry::update_stale() {
    const auto now = std::chrono::steady_clock::now();
    const bool healthy = session_ok_ && watch_connected_;
    if (healthy) etcd_lost_at_ = SteadyTime{};
    else if (etcd_lost_at_ == SteadyTime{}) etcd_lost_at_ = now;
    const auto bound = 3 * cfg_.lease_ttl;
    const bool stale = !healthy && now - etcd_lost_at_ > bound;
    if (stale != stale_) {
        stale_ = stale;
        stale_since_ = stale ? realtime_s() : 0;
        view_dirty_ = true;
        if (stale) {
            counters_.inc(Counter::fleet_view_stale);
            LOG_WARN("fleet: no etcd for more than %llds: the remote view is stale (kept as last known)",
                     static_cast<long long>(bound.count()));
        } else {
            LOG_INFO("fleet: the remote view is current again");
        }
    }
    MutexLock lk(status_mu_);
    status_.connected = session_ok_;
    status_.lease = lease_;
    status_.stale = stale_;
    status_.watch_lag_ms = watcher_ ? static_cast<uint64_t>(watcher_->lag().count()) : 0;
    status_.remote_clients = model_.remote_clients();
    status_.revision = model_.revision();
    status_.endpoint = etcd_->current_endpoint();
    status_.config_hash = self_.config_hash;
}

void FleetRegistry::run() {
    while (!stop_.load()) {
        const auto now = std::chrono::steady_clock::now();
        if (!session_ok_ && now >= next_retry_) {
            if (!open_session()) next_retry_ = now + kRetryInterval;
        }
        // A snapshot left for later (maybe_publish_view) bounds the wait.
        auto wait = std::chrono::milliseconds(200);
        if (view_dirty_)
            wait = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(next_build_ - std::chrono::steady_clock::now()),
                              std::chrono::milliseconds(0), wait);
        wait_for_work(wait);
        if (stop_.load()) break;
        Inbox in;
        {
            MutexLock lk(inbox_mu_);
            std::swap(in, inbox_);
        }
        if (in.lease_lost) {
            counters_.inc(Counter::fleet_lease_lost);
            close_session("lease lost");
        }
        dirty_.merge(in.dirty);
        if (!in.config_hash.empty()) {
            self_.config_hash = std::move(in.config_hash);
            mark_all_dirty();
            published_count_ = UINT64_MAX;  // rewrite the gateway record (its hash)
        }
        apply_inbox(in);
        if (session_ok_) {
            std::set<std::string> todo;
            todo.swap(dirty_);
            publish_all(todo);
            if (session_ok_ && published_count_ != own_rev_.size() &&
                std::chrono::steady_clock::now() - gateway_written_ >= kGatewayRecordInterval)
                (void)write_gateway_record();
        }
        update_stale();
        maybe_publish_view();
    }
}

bool FleetRegistry::write_failed(const std::string& error) {
    counters_.inc(Counter::fleet_etcd_errors);
    counters_.inc(Counter::fleet_publish_failures);
    MutexLock lk(status_mu_);
    status_.last_error = error;
    return false;
}

}  // namespace rustun::cp
