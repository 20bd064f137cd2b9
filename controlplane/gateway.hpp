// The control-plane process: configuration, membership, worker threads, control socket, reload.
//
// Threads: N workers (epoll, one SO_REUSEPORT listener each), the control-socket thread, the
// metrics thread when `metrics.listen` is set (metrics.hpp), and the
// caller of run() (signals: SIGHUP reloads, SIGINT/SIGTERM stop). What they share is one
// SharedState (membership, limits, handshake nonces) behind one mutex; workers take it once per
// batch of Data frames and once per control frame, never while writing to a socket. The Gateway
// owns the threads and hands each the SharedState; no thread reaches into another's object.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "admission.hpp"
#include "config/config.hpp"
#include "control_socket.hpp"
#include "counter_baseline.hpp"
#include "counters.hpp"
#include "dataplane_delta.hpp"
#include "membership.hpp"
#include "metrics.hpp"
#include "shared_state.hpp"
#include "thread_annotations.hpp"
#include "util/result.hpp"

namespace rustun::cp {

class Worker;
class DataplaneLink;
class FleetDirectory;
class FleetLink;
struct FleetLinkOptions;
class FleetRegistry;

struct ReloadReport {
    std::vector<std::string> added, removed, changed, rekeyed;
    size_t unchanged = 0;
    std::vector<std::string> restart_only;  // restart-only keys that changed (not applied)
    uint64_t state_mutex_us = 0;     // how long the reload held the state mutex
    size_t dataplane_messages = 0;   // control messages of the delta for the dataplane
    bool dataplane_full_sync = false;  // instead of a delta: the ids were compacted
};

class Gateway {
public:
    explicit Gateway(GatewayConfig cfg, std::string config_path);
    ~Gateway();

    // Builds membership, opens listeners, starts workers and the control socket.
    Status start();
    // Relays Data for clients homed on other gateways over the fleet's link, and takes theirs
    // (docs/fleet.md, "Link"); `directory` names the home gateways and link addresses and must
    // outlive the gateway. Before start(). Errors name the `fleet.*` key. With a `fleet:`
    // section start() does this itself, over the registry's view (SharedState::fleet_view()).
    Status enable_fleet_link(const FleetLinkOptions& options, const FleetDirectory& directory);
    // The fleet link's port (0 without one).
    uint16_t fleet_link_port() const;
    // The fleet link (null without one): tests drive its Senders directly.
    FleetLink* fleet_link() const { return fleet_link_.get(); }
    // Blocks until SIGINT/SIGTERM (or stop()); SIGHUP reloads. Signals must be blocked in every
    // thread before start() (main() does that).
    void run();
    void stop();

    // Re-reads the configuration file; on error the running configuration stays. Counted
    // (rustun_reloads_total{result}), logged (an error with the reason, or the diff summary at
    // info; `trigger` names the path: "SIGHUP", "rustunctl reload") and kept for `status`.
    Result<ReloadReport> reload(std::string_view trigger = "rustunctl reload");
    // One control-socket request line -> one answer line.
    std::string handle_command(const std::string& line);

    // --log-level / --log-format given on the command line: a reload does not change them.
    void pin_log_level() { log_level_pinned_ = true; }
    void pin_log_format() { log_format_pinned_ = true; }

    // The bound TCP port (useful when the configuration asked for port 0).
    uint16_t tcp_port() const { return tcp_port_; }
    uint64_t counter(Counter c) const;
    // The port of the metrics endpoint (0 without a `metrics:` section).
    uint16_t metrics_port() const { return metrics_.port(); }
    // What the metrics endpoint shows: taken under the state mutex only for the membership part.
    MetricsSnapshot metrics_snapshot() EXCLUDES(state_.mu());
    // Per-client events for the info summary (ticked by run()'s loop; tests tick it themselves).
    EventSummary& event_summary() { return state_.events(); }
    // The state mutex, for tests that stall every worker by holding it.
    Mutex& state_mutex() RETURN_CAPABILITY(state_.mu()) { return state_.mu(); }

private:
    // A reload in two steps. Without the state mutex: match the identities of the running
    // membership `old` and `fresh` (report, shared counters, dataplane ids and delta). Under it:
    // carry the runtime state of every identity that stays (O(online clients) beyond a scan of
    // `carry`) and kick the connections of removed or re-keyed identities.
    struct ReloadPlan {
        std::vector<ClientId> carry;  // fresh ClientId -> old ClientId whose runtime it takes, or kNoClient
        std::vector<ClientId> kick;   // old ClientIds: removed or re-keyed
        StateDelta delta;
    };
    void plan_carry_over(const Membership& old, Membership& fresh, ReloadReport& rep, ReloadPlan& plan);
    void apply_carry_over(Membership& old, Membership& fresh, const ReloadPlan& plan) REQUIRES(state_.mu());
    Result<ReloadReport> reload_apply();
    std::string command_status();
    std::string command_clients(const std::string& cluster_filter, bool online_only, const std::string& limit,
                                bool all = false);
    std::string command_gateways();
    std::string command_client(const std::string& identity);
    std::string command_kick(const std::string& identity);
    std::string command_reload();
    std::string command_stats();
    std::string command_runtime();
    std::string command_dataplane();
    std::string command_clear_counters();
    // Every control-plane counter, summed over the threads.
    CpCounterValues counter_values() const;
    // The dataplane's counters (totals and per worker) and sessions; false if none is attached.
    bool dataplane_snapshot(DpCounterSnapshot& dp, uint64_t& sessions, uint64_t& capacity);

    SharedState state_;
    std::vector<std::unique_ptr<Worker>> workers_;
    // The channel to rustun-dataplane; null when the configuration has no `dataplane:` section.
    std::unique_ptr<DataplaneLink> link_;
    // The inter-gateway link; null for a single gateway. Created by enable_fleet_link(), started
    // by start() after the workers.
    std::unique_ptr<FleetLink> fleet_link_;
    const FleetDirectory* fleet_directory_ = nullptr;
    std::unique_ptr<FleetDirectory> fleet_view_directory_;  // over state_.fleet_view(), with `fleet:`
    std::unique_ptr<FleetLinkOptions> fleet_link_options_;
    // Membership in the fleet (docs/fleet.md); null without a `fleet:` section.
    std::unique_ptr<FleetRegistry> fleet_;
    GatewayConfig cfg_ GUARDED_BY(state_.mu());
    std::string config_path_;
    ControlSocket control_;
    MetricsServer metrics_;
    CounterBaseline baseline_;  // rustunctl clear-counters (stats and dataplane show deltas)
    struct ReloadCounts {
        uint64_t ok = 0, failed = 0, last_at_s = 0;  // last_at_s: Unix seconds, 0 = never
        bool last_ok = true;
        // The last reload, for `status`: its trigger, error (failed) or counts (ok), and the
        // restart-only keys whose file value differs from the running one (as of the last
        // successful reload: they wait for a restart).
        std::string last_trigger, last_error;
        size_t added = 0, removed = 0, changed = 0, rekeyed = 0;
        std::vector<std::string> restart_pending;
    };
    Mutex reload_serial_mu_;  // one reload at a time (taken before the state mutex)
    Mutex reload_mu_;
    ReloadCounts reloads_ GUARDED_BY(reload_mu_);
    uint16_t tcp_port_ = 0;
    uint64_t started_at_ = 0;
    uint64_t config_loaded_at_ GUARDED_BY(state_.mu()) = 0;
    int stop_fd_ = -1;  // eventfd that ends run()
    bool log_level_pinned_ = false;
    bool log_format_pinned_ = false;
};

}  // namespace rustun::cp
