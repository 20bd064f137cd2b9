// FleetRegistry: publishing this gateway's online clients and taking their ownership
// (docs/fleet.md, "Key schema" and "One identity, one home").
#include "fleet_records.hpp"
#include "fleet_registry.hpp"
#include "util/clock.hpp"
#include "util/endpoint_text.hpp"
#include "util/log.hpp"

namespace rustun::cp {

namespace {

// Attempts of one ownership transaction before the identity waits for the next turn.
constexpr int kOwnershipAttempts = 8;

}  // namespace

FleetRegistry::Local FleetRegistry::read_local(const std::string& identity) {
    Local l;
    MutexLock lk(state_.mu());
    const Membership& m = state_.members();
    const ClientId id = m.find(identity);
    if (id == kNoClient) return l;
    const ClientEntry& e = m.clients[id];
    l.rec.cluster = m.clusters[e.cluster].name;
    l.rec.identity = identity;
    if (!e.rt.conn) return l;
    l.online = true;
    l.rec.home = cfg_.gateway_id;
    l.rec.epoch = e.rt.epoch_us;
    l.rec.private_ip = e.cfg.private_ip;
    l.rec.ciders = e.cfg.ciders;
    l.rec.dialect = e.rt.dialect;
    l.rec.ipv6 = e.rt.ipv6;
    l.rec.port = e.rt.port;
    l.rec.stun_ip = e.rt.stun_ip;
    l.rec.stun_port = e.rt.stun_port;
    if (e.udp.bound.load()) l.rec.udp_endpoint = endpoint_text(e.udp.endpoint.load());
    return l;
}

bool FleetRegistry::publish(const std::string& identity) {
    Local local = read_local(identity);
    if (local.rec.cluster.empty()) {
        // No longer configured (a reload removed it): its record, if ours, is released below
        // under the key the model knows it by.
        for (auto it = own_rev_.begin(); it != own_rev_.end(); ++it) {
            const RemoteClient* r = model_.client(it->first);
            if (r && r->identity == identity) {
                local.rec.cluster = r->cluster;
                break;
            }
        }
        if (local.rec.cluster.empty()) return true;
    }
    const std::string key = fleet_client_key(cfg_.prefix, local.rec.cluster, identity);
    if (!local.online) {
        auto own = own_rev_.find(key);
        published_.erase(key);
        if (own == own_rev_.end()) {  // not ours (or never written)
            counters_.inc(Counter::fleet_publish_gone);
            return true;
        }
        // Deletes only our own write: a newer owner's record stays.
        auto r = etcd_->delete_if(key, own->second);
        if (!r) return write_failed(r.error());
        counters_.inc(Counter::fleet_publish_writes);
        own_rev_.erase(own);
        return true;
    }
    const std::string unchanged = encode_client_record(local.rec);  // updated_at 0: for comparison
    auto pub = published_.find(key);
    if (pub != published_.end() && pub->second == unchanged && own_rev_.count(key)) return true;
    if (!take_ownership(key, local)) return false;
    published_[key] = unchanged;
    return true;
}

// Writes our record of `local` iff the key is unchanged since we read it (its mod_revision),
// re-reading after a lost compare: a record of an older session (or our own) is overwritten, a
// newer session elsewhere wins and our local session is closed. False if etcd failed.
bool FleetRegistry::take_ownership(const std::string& key, const Local& local) {
    RemoteClient rec = local.rec;
    rec.last_active = realtime_s();
    const std::string value = encode_client_record(rec);
    int64_t expected = 0;
    bool from_other = false;
    if (auto own = own_rev_.find(key); own != own_rev_.end()) {
        expected = own->second;
    } else if (const RemoteClient* known = model_.client(key)) {
        expected = known->mod_revision;
        from_other = known->home != cfg_.gateway_id;
    }
    for (int attempt = 0; attempt < kOwnershipAttempts; ++attempt) {
        if (attempt > 0) counters_.inc(Counter::fleet_ownership_retries);
        auto r = etcd_->put_if(key, value, lease_, expected);
        if (!r) {
            return write_failed(r.error());
        }
        counters_.inc(Counter::fleet_publish_writes);
        if (r.value().succeeded) {
            own_rev_[key] = r.value().revision;
            if (from_other) {
                counters_.inc(Counter::fleet_ownership_taken);
                LOG_DEBUG("fleet: took ownership of '%s' (cluster '%s')", rec.identity.c_str(), rec.cluster.c_str());
            }
            return true;
        }
        const auto& cur = r.value().current;
        if (!cur) {  // deleted meanwhile (its lease expired, its session ended)
            expected = 0;
            from_other = false;
            continue;
        }
        expected = cur->mod_revision;
        auto other = decode_client_record(cur->value);
        if (!other) {
            counters_.inc(Counter::fleet_bad_records);
            continue;  // an unreadable record: ours replaces it
        }
        if (other.value().home == cfg_.gateway_id) {
            if (cur->value == value) {  // our own write whose answer was lost
                own_rev_[key] = cur->mod_revision;
                return true;
            }
            continue;  // an older write of ours
        }
        if (fleet_session_newer(other.value().epoch, other.value().home, rec.epoch, rec.home)) {
            lose_ownership(key, other.value());
            return true;
        }
        from_other = true;  // an older session elsewhere: ours replaces it
    }
    LOG_LIMITED(LogLevel::Warn, "fleet: ownership of '%s' still contended after %d attempts; retrying",
                rec.identity.c_str(), kOwnershipAttempts);
    dirty_.insert(rec.identity);
    return true;
}

// A newer session of the identity lives on another gateway: close ours (counted by the close
// reason as fleet_ownership_lost) unless it is newer than `newer` after all.
void FleetRegistry::lose_ownership(const std::string& key, const RemoteClient& newer) {
    own_rev_.erase(key);
    published_.erase(key);
    ConnectionPtr victim;
    {
        MutexLock lk(state_.mu());
        const Membership& m = state_.members();
        const ClientId id = m.find(newer.identity);
        if (id == kNoClient || m.clusters[m.clients[id].cluster].name != newer.cluster) return;
        const ClientEntry& e = m.clients[id];
        if (!e.rt.conn) return;
        if (fleet_session_newer(e.rt.epoch_us, cfg_.gateway_id, newer.epoch, newer.home)) return;
        victim = e.rt.conn.load();
    }
    LOG_DEBUG("fleet: '%s' has a newer session on gateway '%s': closing ours", newer.identity.c_str(),
              newer.home.c_str());
    ask_owner_to_close(victim, CloseReason::FleetOwnerElsewhere);
}

}  // namespace rustun::cp
