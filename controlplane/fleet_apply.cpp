// FleetRegistry: applying the watch of the fleet's prefix to the remote view — publishing
// snapshots, closing local sessions that lost their ownership, telling old-dialect local peers
// about remote clients (docs/fleet.md, "Peer lists" and "One identity, one home").
#include "fleet_registry.hpp"
#include "fleet_records.hpp"
#include "util/log.hpp"

namespace rustun::cp {

void FleetRegistry::apply_inbox(Inbox& in) {
    if (in.watch_down) watch_connected_ = false;
    if (in.watch_up) watch_connected_ = true;
    std::vector<FleetChange>& changes = pending_changes_;
    for (const etcd::RangeResult& listing : in.listings) {
        model_.reset(listing, changes);
        counters_.inc(Counter::fleet_watch_resyncs);
        watch_connected_ = true;  // a listing is proof of a working watch
        view_dirty_ = true;
    }
    for (const auto& batch : in.batches) {
        model_.apply(batch, changes);
        counters_.inc(Counter::fleet_watch_events, batch.size());
        watch_connected_ = true;
        view_dirty_ = true;
    }
    if (const uint64_t bad = model_.bad_records(); bad != bad_seen_) {
        counters_.inc(Counter::fleet_bad_records, bad - bad_seen_);
        bad_seen_ = bad;
        const std::string err = model_.take_last_error();
        LOG_LIMITED(LogLevel::Warn, "fleet: ignoring a record that does not decode: %s", err.c_str());
    }
    maybe_publish_view();
}

void FleetRegistry::maybe_publish_view() {
    if (view_dirty_ && std::chrono::steady_clock::now() >= next_build_) publish_view();
}

void FleetRegistry::publish_view() {
    const SteadyTime t0 = std::chrono::steady_clock::now();
    state_.fleet_view().publish(model_.build(stale_, stale_since_));
    view_dirty_ = false;
    const SteadyTime t1 = std::chrono::steady_clock::now();
    next_build_ = t1 + kBuildSpacing * (t1 - t0);
    counters_.inc(Counter::fleet_view_builds);
    counters_.inc(Counter::fleet_view_build_usec,
                  static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
    // After the publication: PeerUpdates and replies built after them see the change.
    if (!pending_changes_.empty()) {
        std::vector<FleetChange> changes;
        changes.swap(pending_changes_);
        act_on_changes(changes);
    }
}

void FleetRegistry::act_on_changes(const std::vector<FleetChange>& changes) {
    std::vector<std::pair<std::string, RemoteClient>> lost;  // key, the newer record
    {
        MutexLock lk(state_.mu());
        const Membership& m = state_.members();
        for (const FleetChange& ch : changes) {
            const RemoteClient& r = ch.client;
            const ClientId id = m.find(r.identity);
            if (id == kNoClient || m.clusters[m.clients[id].cluster].name != r.cluster) continue;
            const ClientEntry& e = m.clients[id];
            if (ch.kind != FleetChange::Kind::Down && e.rt.conn &&
                !fleet_session_newer(e.rt.epoch_us, cfg_.gateway_id, r.epoch, r.home)) {
                // A newer session of a client connected here lives elsewhere: ours goes.
                lost.emplace_back(fleet_client_key(cfg_.prefix, r.cluster, r.identity), r);
                continue;
            }
            if (e.rt.conn) continue;  // its session is here: our own view of it is what peers get
            // dbde974 push model (docs/protocol.md, "Peer-address propagation"): the same
            // PeerUpdate a local client's address change triggers; "" / 0 when it went away.
            const bool going = ch.kind == FleetChange::Kind::Down;
            if (!going && r.port == 0 && r.ipv6.empty()) continue;  // no address yet
            sender_->peer_update_remote(m, e.cluster, PeerUpdate{r.identity, going ? "" : r.ipv6,
                                                                 going ? uint16_t{0} : r.port});
        }
    }
    sender_->flush();
    for (auto& [key, newer] : lost) lose_ownership(key, newer);
}

}  // namespace rustun::cp
