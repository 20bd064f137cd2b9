#include "fleet_state.hpp"

#include "fleet_records.hpp"
#include "util/clock.hpp"

namespace rustun::cp {

namespace {

bool same_endpoint(const RemoteClient& a, const RemoteClient& b) {
    return a.ipv6 == b.ipv6 && a.port == b.port && a.stun_ip == b.stun_ip && a.stun_port == b.stun_port &&
           a.home == b.home && a.udp_endpoint == b.udp_endpoint;
}

}  // namespace

FleetState::FleetState(std::string prefix, std::string self_id)
    : gateways_prefix_(fleet_gateways_prefix(prefix)), clients_prefix_(fleet_clients_prefix(prefix)),
      self_id_(std::move(self_id)) {}

void FleetState::put(const etcd::KeyValue& kv, std::vector<FleetChange>& changes) {
    if (kv.mod_revision > revision_) revision_ = kv.mod_revision;
    const uint64_t now = realtime_s();
    if (kv.key.starts_with(gateways_prefix_)) {
        auto g = decode_gateway_record(kv.value);
        if (!g) {
            ++bad_records_;
            last_error_ = kv.key + ": " + g.error();
            return;
        }
        g.value().lease = kv.lease;
        g.value().mod_revision = kv.mod_revision;
        g.value().last_seen = now;
        g.value().self = g.value().id == self_id_;
        gateways_[kv.key] = std::move(g.value());
        return;
    }
    if (!kv.key.starts_with(clients_prefix_)) return;
    auto c = decode_client_record(kv.value);
    if (!c) {
        ++bad_records_;
        last_error_ = kv.key + ": " + c.error();
        remove(kv.key, changes);  // an unreadable record: the client is not known to be anywhere
        return;
    }
    c.value().mod_revision = kv.mod_revision;
    for (auto& [key, g] : gateways_)
        if (g.id == c.value().home) g.last_seen = now;
    auto it = clients_.find(kv.key);
    if (it == clients_.end()) {
        if (is_remote(c.value())) {
            ++remote_;
            changes.push_back({FleetChange::Kind::Up, c.value()});
        }
        index_add(c.value().cluster, kv.key);
        clients_.emplace(kv.key, std::move(c.value()));
        return;
    }
    if (it->second.cluster != c.value().cluster) {  // not written by our gateways; keep the index true
        index_remove(it->second.cluster, kv.key);
        index_add(c.value().cluster, kv.key);
    }
    dirty_clusters_.insert(c.value().cluster);
    const bool was_remote = is_remote(it->second), now_remote = is_remote(c.value());
    remote_ += now_remote;
    remote_ -= was_remote;
    if (now_remote && (!was_remote || !same_endpoint(it->second, c.value())))
        changes.push_back({was_remote ? FleetChange::Kind::Moved : FleetChange::Kind::Up, c.value()});
    else if (was_remote && !now_remote)  // it came home here: no longer a remote peer
        changes.push_back({FleetChange::Kind::Down, it->second});
    it->second = std::move(c.value());
}

void FleetState::remove(const std::string& key, std::vector<FleetChange>& changes) {
    if (key.starts_with(gateways_prefix_)) {
        gateways_.erase(key);
        return;
    }
    auto it = clients_.find(key);
    if (it == clients_.end()) return;
    index_remove(it->second.cluster, key);
    if (is_remote(it->second)) {
        --remote_;
        changes.push_back({FleetChange::Kind::Down, std::move(it->second)});
    }
    clients_.erase(it);
}

void FleetState::apply(const std::vector<etcd::WatchEvent>& events, std::vector<FleetChange>& changes) {
    for (const etcd::WatchEvent& ev : events) {
        if (ev.kv.mod_revision > revision_) revision_ = ev.kv.mod_revision;
        if (ev.type == etcd::WatchEvent::Type::Put) put(ev.kv, changes);
        else remove(ev.kv.key, changes);
    }
}

void FleetState::reset(const etcd::RangeResult& listing, std::vector<FleetChange>& changes) {
    // Keys gone from the listing are deletes; the rest are puts (unchanged ones report nothing).
    std::map<std::string, const etcd::KeyValue*> listed;
    for (const etcd::KeyValue& kv : listing.kvs) listed.emplace(kv.key, &kv);
    std::vector<std::string> gone;
    for (const auto& [key, c] : clients_)
        if (!listed.count(key)) gone.push_back(key);
    for (const auto& [key, g] : gateways_)
        if (!listed.count(key)) gone.push_back(key);
    for (const std::string& key : gone) remove(key, changes);
    for (const etcd::KeyValue& kv : listing.kvs) put(kv, changes);
    revision_ = listing.revision;
}

void FleetState::index_add(const std::string& cluster, const std::string& key) {
    keys_by_cluster_[cluster].insert(key);
    dirty_clusters_.insert(cluster);
}

void FleetState::index_remove(const std::string& cluster, const std::string& key) {
    auto it = keys_by_cluster_.find(cluster);
    if (it != keys_by_cluster_.end()) {
        it->second.erase(key);
        if (it->second.empty()) keys_by_cluster_.erase(it);
    }
    dirty_clusters_.insert(cluster);
}

std::shared_ptr<const FleetSnapshot> FleetState::build(bool stale, uint64_t stale_since) {
    for (const std::string& name : dirty_clusters_) {
        std::vector<RemoteClient> remote;
        if (auto keys = keys_by_cluster_.find(name); keys != keys_by_cluster_.end()) {
            remote.reserve(keys->second.size());
            for (const std::string& key : keys->second) {
                const RemoteClient& c = clients_.at(key);
                if (is_remote(c)) remote.push_back(c);
            }
        }
        if (remote.empty()) built_.erase(name);
        else built_.insert_or_assign(name, FleetCluster::build(std::move(remote)));
    }
    dirty_clusters_.clear();
    std::vector<FleetGateway> gws;
    gws.reserve(gateways_.size());
    for (const auto& [key, g] : gateways_) gws.push_back(g);
    return FleetSnapshot::build(std::move(gws), built_, revision_, stale, stale_since);
}

}  // namespace rustun::cp
