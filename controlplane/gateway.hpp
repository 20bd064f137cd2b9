// The control-plane process: configuration, membership, worker threads, control socket, reload.
//
// Threads: N workers (epoll, one SO_REUSEPORT listener each), the control-socket thread, and the
// caller of run() (signals: SIGHUP reloads, SIGINT/SIGTERM stop). Shared state (membership,
// configuration, connection bindings) is guarded by `mu`; workers take it once per batch of
// Data frames and once per control frame, never while writing to a socket.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "admission.hpp"
#include "config/config.hpp"
#include "control_socket.hpp"
#include "counters.hpp"
#include "membership.hpp"
#include "util/result.hpp"

namespace rustun {

class Worker;
class DataplaneLink;

// Timers and bounds the workers apply; copied out of the configuration under `mu`.
struct Limits {
    std::chrono::milliseconds handshake_timeout{20'000};
    std::chrono::milliseconds idle_timeout{30'000};
    // A connection whose output queue stays at its bound this long is disconnected.
    std::chrono::milliseconds slow_client_timeout{5'000};
    uint64_t output_queue_bytes = 1u << 20;
    uint32_t max_peers_per_reply = 100;
    uint32_t handshake_rate_per_source = 20;
    uint32_t handshake_pending_max = 4096;
    uint32_t handshake_pending_per_source = 32;
    uint32_t handshake_pending_per_prefix6 = 128;
    std::chrono::milliseconds first_byte_timeout{3'000};
};

struct ReloadReport {
    std::vector<std::string> added, removed, changed, rekeyed;
    size_t unchanged = 0;
    std::vector<std::string> restart_only;  // restart-only keys that changed (not applied)
};

class Gateway {
public:
    explicit Gateway(GatewayConfig cfg, std::string config_path);
    ~Gateway();

    // Builds membership, opens listeners, starts workers and the control socket.
    Status start();
    // Blocks until SIGINT/SIGTERM (or stop()); SIGHUP reloads. Signals must be blocked in every
    // thread before start() (main() does that).
    void run();
    void stop();

    // Re-reads the configuration file; on error the running configuration stays.
    Result<ReloadReport> reload();
    // One control-socket request line -> one answer line.
    std::string handle_command(const std::string& line);

    // --log-level given on the command line: a reload does not change the log level.
    void pin_log_level() { log_level_pinned_ = true; }

    // The bound TCP port (useful when the configuration asked for port 0).
    uint16_t tcp_port() const { return tcp_port_; }
    uint64_t counter(Counter c) const;

    // --- for workers ---
    std::mutex mu;
    // Guarded by mu. shared_ptr: a worker holds the generation it routed a batch with until the
    // batch is queued, so a reload may replace it meanwhile.
    std::shared_ptr<Membership> members;
    Limits limits;                        // guarded by mu
    // Nonces of recently accepted Handshakes per identity (replay refusal); guarded by mu. Kept
    // across reloads for the identities that stay configured.
    HandshakeNonces handshake_nonces;
    std::vector<std::unique_ptr<Worker>> workers;
    // The channel to rustun-dataplane; null when the configuration has no `dataplane:` section.
    std::unique_ptr<DataplaneLink> link;
    CounterBlock counters;  // written by the control thread (kick, reload); guarded by mu
    std::atomic<uint64_t> next_conn_id{1};

    // Asks the owning worker to close `c` (any thread).
    void request_close(const ConnectionPtr& c, CloseReason reason);

private:
    void apply_limits_locked();
    std::string command_status();
    std::string command_clients(const std::string& cluster_filter);
    std::string command_client(const std::string& identity);
    std::string command_kick(const std::string& identity);
    std::string command_reload();
    std::string command_stats();

    GatewayConfig cfg_;  // guarded by mu
    std::string config_path_;
    ControlSocket control_;
    uint16_t tcp_port_ = 0;
    uint64_t started_at_ = 0;
    uint64_t config_loaded_at_ = 0;
    int stop_fd_ = -1;  // eventfd that ends run()
    bool log_level_pinned_ = false;
};

}  // namespace rustun
