// FleetRegistry: publishing this gateway's online clients and taking their ownership
// (docs/fleet.md, "Key schema", "One identity, one home" and "Batched writes").
#include "fleet_records.hpp"
#include "fleet_registry.hpp"
#include "util/clock.hpp"
#include "util/endpoint_text.hpp"
#include "util/log.hpp"

namespace rustun::cp {

namespace {

// Attempts of one ownership transaction before the identity waits for the next turn (each may be
// an item of a batch).
constexpr int kOwnershipAttempts = 8;
// A batch is closed once its keys and values reach this size (etcd::kMaxBatchBytes is the hard
// limit of one Txn; the margin holds the record that crosses this mark).
constexpr size_t kBatchBytes = etcd::kMaxBatchBytes / 2;

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

void FleetRegistry::publish_all(std::set<std::string>& todo) {
    auto it = todo.begin();
    while (it != todo.end()) {
        // One batch: the next identities with something to write, read just before the write.
        std::vector<Pending> batch;
        size_t bytes = 0;
        for (; it != todo.end() && batch.size() < etcd::kMaxBatchItems && bytes < kBatchBytes; ++it) {
            auto p = plan_publish(*it);
            if (!p) continue;
            bytes += 2 * p->key.size() + p->value.size();
            batch.push_back(std::move(*p));
        }
        if (!write_batch(batch)) {
            dirty_.insert(it, todo.end());  // etcd failed: the rest waits for the next turn
            return;
        }
    }
}

std::optional<FleetRegistry::Pending> FleetRegistry::plan_publish(const std::string& identity) {
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
        if (local.rec.cluster.empty()) return std::nullopt;
    }
    Pending p;
    p.identity = identity;
    p.key = fleet_client_key(cfg_.prefix, local.rec.cluster, identity);
    if (!local.online) {
        auto own = own_rev_.find(p.key);
        published_.erase(p.key);
        if (own == own_rev_.end()) {  // not ours (or never written)
            counters_.inc(Counter::fleet_publish_gone);
            return std::nullopt;
        }
        // Deletes only our own write: a newer owner's record stays.
        p.remove = true;
        p.expected = own->second;
        return p;
    }
    p.unchanged = encode_client_record(local.rec);  // updated_at 0: for comparison
    auto pub = published_.find(p.key);
    if (pub != published_.end() && pub->second == p.unchanged && own_rev_.count(p.key)) return std::nullopt;
    p.rec = std::move(local.rec);
    p.rec.last_active = realtime_s();
    p.value = encode_client_record(p.rec);
    if (auto own = own_rev_.find(p.key); own != own_rev_.end()) {
        p.expected = own->second;
    } else if (const RemoteClient* known = model_.client(p.key)) {
        if (known->home != cfg_.gateway_id &&
            fleet_session_newer(known->epoch, known->home, p.rec.epoch, p.rec.home)) {
            // A newer session elsewhere holds the record we would compare against: the watch
            // event that brought it has closed our session or is closing it (the close is
            // asynchronous, so the session can still look online here). Writing now would put
            // the older session over the newer one, and our later delete would leave the
            // identity without any record.
            lose_ownership(p.key, *known);
            return std::nullopt;
        }
        p.expected = known->mod_revision;
        p.from_other = known->home != cfg_.gateway_id;
    }
    return p;
}

// Each round writes the open records: one alone with the plain ownership transaction (put_if /
// delete_if, as without batching), several in one etcd Txn (etcd::Client::write_if_batch). A
// record whose compare failed stays open with the revision it saw (settle) for the next round,
// at most kOwnershipAttempts rounds; the others of its batch are written regardless.
bool FleetRegistry::write_batch(std::vector<Pending>& batch) {
    std::vector<Pending*> open;
    open.reserve(batch.size());
    for (Pending& p : batch) open.push_back(&p);
    for (int attempt = 0; attempt < kOwnershipAttempts && !open.empty(); ++attempt) {
        if (attempt > 0) counters_.inc(Counter::fleet_ownership_retries, open.size());
        std::vector<etcd::TxnResult> results;
        std::optional<std::string> error;
        if (open.size() == 1) {
            const Pending& p = *open[0];
            auto r = p.remove ? etcd_->delete_if(p.key, p.expected) : etcd_->put_if(p.key, p.value, lease_, p.expected);
            if (r) {
                counters_.inc(Counter::fleet_publish_txns);
                results.push_back(std::move(r).value());
            } else {
                error = r.error();
            }
        } else {
            std::vector<etcd::CondWrite> ops;
            ops.reserve(open.size());
            for (const Pending* p : open)
                ops.push_back(etcd::CondWrite{.key = p->key, .value = p->value, .lease = p->remove ? 0 : lease_,
                                              .expected_mod_revision = p->expected, .remove = p->remove});
            auto r = etcd_->write_if_batch(ops);
            if (r) {
                counters_.inc(Counter::fleet_publish_txns, r.value().txns);
                results = std::move(r).value().items;
            } else {
                error = r.error();
            }
        }
        if (error) {
            for (const Pending* p : open) dirty_.insert(p->identity);
            return write_failed(*error);
        }
        std::vector<Pending*> next;
        for (size_t i = 0; i < open.size(); ++i) {
            Pending& p = *open[i];
            counters_.inc(Counter::fleet_publish_writes);
            if (p.remove) {
                // Deleted, or a newer owner's record is there now: either way ours is gone.
                own_rev_.erase(p.key);
                continue;
            }
            if (!settle(p, results[i])) next.push_back(&p);
        }
        open.swap(next);
    }
    for (const Pending* p : open) {
        LOG_LIMITED(LogLevel::Warn, "fleet: ownership of '%s' still contended after %d attempts; retrying",
                    p->rec.identity.c_str(), kOwnershipAttempts);
        dirty_.insert(p->identity);
    }
    return true;
}

// The answer of one ownership transaction of `p`. Settled (true): written; our own write whose
// answer was lost; or a newer session elsewhere wins and our local session is closed. Otherwise
// (false) p.expected is the key's revision now: a record of an older session (or an older one of
// ours, or an unreadable one) is overwritten by the next attempt.
bool FleetRegistry::settle(Pending& p, const etcd::TxnResult& r) {
    if (r.succeeded) {
        own_rev_[p.key] = r.revision;
        published_[p.key] = p.unchanged;
        if (p.from_other) {
            counters_.inc(Counter::fleet_ownership_taken);
            LOG_DEBUG("fleet: took ownership of '%s' (cluster '%s')", p.rec.identity.c_str(), p.rec.cluster.c_str());
        }
        return true;
    }
    const auto& cur = r.current;
    if (!cur) {  // deleted meanwhile (its lease expired, its session ended)
        p.expected = 0;
        p.from_other = false;
        return false;
    }
    p.expected = cur->mod_revision;
    auto other = decode_client_record(cur->value);
    if (!other) {
        counters_.inc(Counter::fleet_bad_records);
        return false;  // an unreadable record: ours replaces it
    }
    if (other.value().home == cfg_.gateway_id) {
        if (cur->value == p.value) {  // our own write whose answer was lost
            own_rev_[p.key] = cur->mod_revision;
            published_[p.key] = p.unchanged;
            return true;
        }
        return false;  // an older write of ours
    }
    if (fleet_session_newer(other.value().epoch, other.value().home, p.rec.epoch, p.rec.home)) {
        lose_ownership(p.key, other.value());
        return true;
    }
    p.from_other = true;  // an older session elsewhere: ours replaces it
    return false;
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
