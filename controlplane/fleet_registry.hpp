// The fleet registry (docs/fleet.md, "Design"): this gateway's membership in the fleet through
// etcd. With a `fleet:` section it
//   * grants a lease (fleet.lease_ttl) and registers <prefix>/gateways/<id> under it;
//   * publishes each online local client under the same lease — on connect, disconnect and
//     endpoint change only (SharedState::fleet_changed queues the identity; nothing per packet
//     or per KeepAlive that changes nothing), taking ownership with a revision-compare transaction
//     (newest session wins);
//   * watches the prefix and keeps the FleetView (SharedState::fleet_view()) current: closes a
//     local session when a newer one of the identity lives elsewhere, tells old-dialect local
//     peers about remote clients coming, moving and going (PeerUpdate);
//   * survives etcd trouble: keeps serving and keeps the last view (stale after 3 x lease_ttl),
//     re-grants, re-registers and re-publishes when etcd returns; every fallback is counted.
//
// Threads: all etcd work runs on the registry's own thread (plus the etcd client's lease and
// watch threads, whose callbacks only queue). TCP workers only call client_changed(), which takes
// a leaf mutex for a push. The registry takes the state mutex briefly to read a local client's
// session or to close it, never while it waits for etcd.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "counters.hpp"
#include "crypto/crypto_engine.hpp"
#include "etcd/etcd_client.hpp"
#include "fleet_state.hpp"
#include "fleet_view.hpp"
#include "frame_sender.hpp"
#include "shared_state.hpp"
#include "thread_annotations.hpp"

namespace rustun::cp {

// What this gateway publishes about itself besides its clients.
struct FleetSelf {
    std::string tcp_listen, udp_listen, link, version, config_hash;
    bool udp_link = false;  // a dataplane with the fleet's UDP link: link frames to udp_listen
};

// The hash of what must be equal on every gateway of a fleet (clusters, keys, clients, routes):
// FNV-1a 64 over a canonical text of them, hex. Not a cryptographic digest.
std::string fleet_config_hash(const GatewayConfig& cfg);

// For `status` and `gateways`: the registry's own state.
struct FleetStatus {
    bool connected = false;      // a lease is held and the gateway record written
    int64_t lease = 0;
    bool stale = false;
    uint64_t watch_lag_ms = 0;
    uint64_t remote_clients = 0;
    uint64_t gateways = 0;
    int64_t revision = 0;
    std::string endpoint;        // the etcd endpoint calls go to
    std::string config_hash;     // ours, as published
    std::string last_error;
};

class FleetRegistry final : public FleetNotify {
public:
    FleetRegistry(FleetConfig cfg, FleetSelf self, SharedState& state);
    ~FleetRegistry() override;
    FleetRegistry(const FleetRegistry&) = delete;
    FleetRegistry& operator=(const FleetRegistry&) = delete;

    // Checks the etcd options and starts the thread; etcd need not be reachable yet.
    Status start();
    // Revokes the lease (our records vanish at once for the others; bounded by the rpc timeout)
    // and joins the thread.
    void stop();

    void client_changed(std::string_view identity) override EXCLUDES(inbox_mu_);
    // After a reload: the new configuration hash; every online client's record is re-checked.
    void config_changed(std::string hash) EXCLUDES(inbox_mu_);

    const CounterBlock& counters() const { return counters_; }
    FleetStatus status() const EXCLUDES(status_mu_);

private:
    struct Inbox {
        std::set<std::string> dirty;  // identities to re-publish
        std::vector<etcd::RangeResult> listings;
        std::vector<std::vector<etcd::WatchEvent>> batches;
        bool lease_lost = false;
        bool watch_down = false, watch_up = false;
        std::string config_hash;  // non-empty: a reload installed this configuration
    };
    // A local client's session as the registry publishes it (read under the state mutex).
    struct Local {
        bool online = false;
        RemoteClient rec;  // home = us
    };
    // One identity's record write about to be sent (fleet_publish.cpp).
    struct Pending {
        std::string identity;
        std::string key;
        bool remove = false;      // delete our record (the client went offline)
        int64_t expected = 0;     // the key's mod_revision the write compares (0: absent)
        RemoteClient rec;         // puts: the record, last_active set
        std::string value;        // puts: rec encoded
        std::string unchanged;    // puts: rec encoded with updated_at 0 (kept in published_)
        bool from_other = false;  // puts: the key was last seen homed on another gateway
    };

    void run();
    // fleet_registry.cpp: the session with etcd.
    bool open_session();
    void close_session(const std::string& why);
    bool write_gateway_record();
    void mark_all_dirty() EXCLUDES(state_.mu());
    void update_stale();
    void wait_for_work(std::chrono::milliseconds timeout) EXCLUDES(inbox_mu_);
    // fleet_publish.cpp: this gateway's clients.
    Local read_local(const std::string& identity) EXCLUDES(state_.mu());
    // Writes the records of `todo` in batches of up to etcd::kMaxBatchItems (one etcd Txn each);
    // after an etcd failure the unwritten identities go back to dirty_ for the next turn.
    void publish_all(std::set<std::string>& todo);
    // What publishing `identity` has to write: nothing (nullopt: unchanged, not ours, offline
    // without a record of ours), a put or a delete.
    std::optional<Pending> plan_publish(const std::string& identity);
    // False if etcd failed (the identities not settled are back in dirty_).
    bool write_batch(std::vector<Pending>& batch);
    // Counts a failed etcd write and keeps its error for `rustunctl gateways`; returns false.
    bool write_failed(const std::string& error) EXCLUDES(status_mu_);
    bool settle(Pending& p, const etcd::TxnResult& r);
    void lose_ownership(const std::string& key, const RemoteClient& newer);
    // fleet_apply.cpp: the remote view.
    void apply_inbox(Inbox& in);
    void act_on_changes(const std::vector<FleetChange>& changes) EXCLUDES(state_.mu());
    // Builds and publishes a snapshot when the model changed and the spacing allows it now, then
    // acts on the changes it covers; otherwise leaves both for a later turn (next_build_).
    void maybe_publish_view();
    void publish_view();

    FleetConfig cfg_;
    FleetSelf self_;
    SharedState& state_;
    CounterBlock counters_;
    std::unique_ptr<etcd::Client> etcd_;
    std::unique_ptr<etcd::LeaseKeeper> keeper_;
    std::unique_ptr<etcd::Watcher> watcher_;
    std::unique_ptr<CryptoEngine> engine_;
    std::unique_ptr<FrameSender> sender_;
    std::thread thread_;
    std::atomic<bool> stop_{false};

    Mutex inbox_mu_;
    std::condition_variable_any inbox_cv_;
    Inbox inbox_ GUARDED_BY(inbox_mu_);

    // Registry thread only.
    FleetState model_;
    int64_t lease_ = 0;
    bool session_ok_ = false;
    bool ever_connected_ = false;
    bool watch_connected_ = false;
    std::set<std::string> dirty_;                    // identities waiting for a write
    std::map<std::string, int64_t> own_rev_;         // client key -> mod_revision of our last write
    std::map<std::string, std::string> published_;   // client key -> record as written (updated_at 0)
    uint64_t started_at_ = 0;
    uint64_t published_count_ = 0;                   // clients in the gateway record as last written
    SteadyTime gateway_written_{};
    SteadyTime etcd_lost_at_{};                      // when the session or the watch went down
    SteadyTime next_retry_{};
    bool stale_ = false;
    uint64_t stale_since_ = 0;
    bool view_dirty_ = true;
    // A snapshot build costs the changed clusters' records plus one entry per cluster (the map is
    // copied): the next one may start only kBuildSpacing x the last one's duration after it ended,
    // so that builds take at most 1 / (1 + kBuildSpacing) of this thread during a reconnect storm
    // (docs/fleet.md, "Snapshot cost"). With a few thousand remote clients the spacing is well
    // under a millisecond.
    static constexpr int kBuildSpacing = 4;
    SteadyTime next_build_{};
    std::vector<FleetChange> pending_changes_;       // applied to the model, not yet in a snapshot
    uint64_t bad_seen_ = 0;                          // model_.bad_records() already counted

    mutable Mutex status_mu_;
    FleetStatus status_ GUARDED_BY(status_mu_);
};

}  // namespace rustun::cp
