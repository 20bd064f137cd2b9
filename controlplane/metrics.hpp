// The Prometheus/OpenMetrics text endpoint (docs/operations.md, "Metrics for Prometheus").
//
// Two parts:
//   * format_metrics(): a pure function from a MetricsSnapshot to the text exposition format
//     (version 0.0.4): HELP and TYPE lines from the X-macro tables (counters.hpp,
//     shm/dp_counters.hpp), drop reasons as a `reason` label, dataplane counters per `worker`
//     (and `worker="main"` for the main lcore's block), cluster gauges per `cluster`;
//   * MetricsServer: one thread of its own with a non-blocking listener and poll(); never on
//     the relay's path. At most kMaxConnections at once (more are closed at accept), each must
//     send its request head within kDeadline and take the answer within the same deadline.
//     `GET /metrics` (any query string) is answered 200; anything else 404. The snapshot is
//     taken by the caller's `collect` (briefly under the state mutex), the text is formatted
//     outside it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/address.hpp"
#include "counters.hpp"
#include "latency_histogram.hpp"
#include "shm/dp_counters.hpp"
#include "util/result.hpp"

namespace rustun::cp {

struct MetricsSnapshot {
    std::string version;
    uint64_t start_time_s = 0;
    uint64_t config_loaded_at_s = 0;
    std::array<uint64_t, kCounterCount> cp{};  // summed over the control plane's threads
    LatencySnapshot handshake_latency;          // summed over the workers
    uint64_t connections_open = 0;

    struct Reloads {
        uint64_t ok = 0, failed = 0;
        uint64_t last_at_s = 0;    // 0: no reload yet
        bool last_ok = true;
    } reloads;

    struct Cluster {
        std::string name;
        uint64_t configured = 0, online = 0, udp_bound = 0;
        uint64_t rx_frames = 0, rx_bytes = 0, tx_frames = 0, tx_bytes = 0, drops = 0;
    };
    std::vector<Cluster> clusters;

    bool dataplane_configured = false;
    bool dataplane_attached = false;
    // Per worker block, then the main lcore's; filled only while attached.
    std::vector<std::array<uint64_t, shm::kDpCounterCount>> dp_workers;
    std::array<uint64_t, shm::kDpCounterCount> dp_main{};
    uint64_t dp_sessions = 0, dp_session_capacity = 0;

    // The fleet (docs/fleet.md): gauges of the registry; samples only with a `fleet:` section.
    struct Fleet {
        bool configured = false, connected = false, stale = false;
        uint64_t remote_clients = 0, gateways = 0, watch_lag_ms = 0;
    } fleet;

    // The metrics endpoint's own counters (MetricsServer::Stats).
    struct Server {
        uint64_t scrapes = 0, not_found = 0, refused_full = 0, timed_out = 0, too_large = 0;
    } server;
};

// A label value escaped for the text format: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);
// HELP text escaped: backslash and newline.
std::string escape_help(std::string_view v);
// Whether a control-plane counter is a Data drop (its help text starts with "Data dropped: "):
// those form rustun_controlplane_data_drops_total{reason=...}.
bool cp_counter_is_data_drop(Counter c);

std::string format_metrics(const MetricsSnapshot& s);

// The Content-Type of format_metrics()'s text.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

class MetricsServer {
public:
    using Collect = std::function<MetricsSnapshot()>;
    static constexpr size_t kMaxConnections = 8;
    static constexpr std::chrono::milliseconds kDeadline{5000};
    static constexpr size_t kMaxRequestBytes = 8192;

    MetricsServer() = default;
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    Status start(const SocketAddress& listen, Collect collect);
    void stop();
    uint16_t port() const { return port_; }
    uint64_t scrapes() const { return scrapes_.load(std::memory_order_relaxed); }
    // Its own counters (any thread): answered scrapes, other requests (404), connections closed
    // at accept because kMaxConnections were open, closed at their deadline, requests over
    // kMaxRequestBytes.
    MetricsSnapshot::Server stats() const;

private:
    struct Conn {
        int fd = -1;
        std::string in, out;
        size_t out_off = 0;
        bool answering = false;
        std::chrono::steady_clock::time_point deadline;
    };
    void serve();
    void answer(Conn& c);

    Collect collect_;
    int listen_fd_ = -1;
    int wake_fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> scrapes_{0}, not_found_{0}, refused_full_{0}, timed_out_{0}, too_large_{0};
    std::thread thread_;
    std::vector<Conn> conns_;  // serving thread only
};

}  // namespace rustun::cp
