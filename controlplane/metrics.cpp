// The Prometheus text endpoint (metrics.hpp; docs/operations.md, "Metrics for Prometheus").
#include "metrics.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/log.hpp"
#include "util/thread_name.hpp"

namespace rustun::cp {

namespace {

constexpr std::string_view kDataDropPrefix = "Data dropped: ";
constexpr std::string_view kDpDropPrefix = "drop_";

void help_type(std::string& o, std::string_view name, std::string_view help, const char* type) {
    o += "# HELP ";
    o += name;
    o += ' ';
    o += escape_help(help);
    o += "\n# TYPE ";
    o += name;
    o += ' ';
    o += type;
    o += '\n';
}

// One sample: name{labels} value. `labels` is already formatted (k="v",...) or empty.
void sample(std::string& o, std::string_view name, const std::string& labels, uint64_t v) {
    o += name;
    if (!labels.empty()) {
        o += '{';
        o += labels;
        o += '}';
    }
    o += ' ';
    o += std::to_string(v);
    o += '\n';
}

std::string label(std::string_view k, std::string_view v) {
    std::string s(k);
    s += "=\"";
    s += escape_label_value(v);
    s += '"';
    return s;
}

std::string join_labels(const std::string& a, const std::string& b) {
    if (a.empty()) return b;
    if (b.empty()) return a;
    return a + "," + b;
}

bool dp_is_drop(size_t i) { return std::string_view(shm::kDpCounterInfo[i].name).starts_with(kDpDropPrefix); }

// The dataplane's blocks with their `worker` label values: "0".."n-1", then "main".
struct DpBlock {
    std::string worker;
    const std::array<uint64_t, shm::kDpCounterCount>* v;
};

std::vector<DpBlock> dp_blocks(const MetricsSnapshot& s) {
    std::vector<DpBlock> out;
    for (size_t w = 0; w < s.dp_workers.size(); ++w) out.push_back({std::to_string(w), &s.dp_workers[w]});
    out.push_back({"main", &s.dp_main});
    return out;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
    std::string o;
    o.reserve(v.size());
    for (char c : v) {
        if (c == '\\') o += "\\\\";
        else if (c == '"') o += "\\\"";
        else if (c == '\n') o += "\\n";
        else o += c;
    }
    return o;
}

std::string escape_help(std::string_view v) {
    std::string o;
    o.reserve(v.size());
    for (char c : v) {
        if (c == '\\') o += "\\\\";
        else if (c == '\n') o += "\\n";
        else o += c;
    }
    return o;
}

bool cp_counter_is_data_drop(Counter c) {
    return std::string_view(counter_info(c).help).starts_with(kDataDropPrefix);
}

std::string format_metrics(const MetricsSnapshot& s) {
    std::string o;
    o.reserve(32 * 1024);

    help_type(o, "rustun_build_info", "rustun-controlplane version (always 1)", "gauge");
    sample(o, "rustun_build_info", label("version", s.version), 1);
    help_type(o, "rustun_start_time_seconds", "Unix time the control plane started", "gauge");
    sample(o, "rustun_start_time_seconds", "", s.start_time_s);
    help_type(o, "rustun_config_loaded_time_seconds", "Unix time the running configuration was loaded", "gauge");
    sample(o, "rustun_config_loaded_time_seconds", "", s.config_loaded_at_s);

    help_type(o, "rustun_reloads_total", "configuration reloads (SIGHUP or rustunctl reload), by result", "counter");
    sample(o, "rustun_reloads_total", label("result", "ok"), s.reloads.ok);
    sample(o, "rustun_reloads_total", label("result", "failed"), s.reloads.failed);
    help_type(o, "rustun_last_reload_success",
              "1 if the last reload applied the file (or none was tried), 0 if it failed and the running configuration was kept",
              "gauge");
    sample(o, "rustun_last_reload_success", "", s.reloads.last_ok ? 1 : 0);
    help_type(o, "rustun_last_reload_time_seconds", "Unix time of the last reload attempt (0: none yet)", "gauge");
    sample(o, "rustun_last_reload_time_seconds", "", s.reloads.last_at_s);

    help_type(o, "rustun_handshake_duration_seconds",
              "time a control-plane worker spent on one Handshake frame: authentication, admission and the reply "
              "queued (every outcome)",
              "histogram");
    {
        uint64_t cumulative = 0;
        for (size_t i = 0; i < kLatencyBucketsUs.size(); ++i) {
            cumulative += s.handshake_latency.buckets[i];
            char le[32];
            std::snprintf(le, sizeof le, "%g", static_cast<double>(kLatencyBucketsUs[i]) * 1e-6);
            sample(o, "rustun_handshake_duration_seconds_bucket", label("le", le), cumulative);
        }
        sample(o, "rustun_handshake_duration_seconds_bucket", label("le", "+Inf"), s.handshake_latency.count);
        char sum[48];
        std::snprintf(sum, sizeof sum, "%.9f", static_cast<double>(s.handshake_latency.sum_ns) * 1e-9);
        o += "rustun_handshake_duration_seconds_sum ";
        o += sum;
        o += '\n';
        sample(o, "rustun_handshake_duration_seconds_count", "", s.handshake_latency.count);
    }

    help_type(o, "rustun_metrics_requests_total",
              "requests to this metrics endpoint, by result (ok = answered GET /metrics, not_found = any other request, "
              "too_large = a request head over 8 KiB)",
              "counter");
    sample(o, "rustun_metrics_requests_total", label("result", "ok"), s.server.scrapes);
    sample(o, "rustun_metrics_requests_total", label("result", "not_found"), s.server.not_found);
    sample(o, "rustun_metrics_requests_total", label("result", "too_large"), s.server.too_large);
    help_type(o, "rustun_metrics_connections_dropped_total",
              "connections to this metrics endpoint closed unanswered, by reason (full = 8 already open, timeout = "
              "request or answer not done within 5 s)",
              "counter");
    sample(o, "rustun_metrics_connections_dropped_total", label("reason", "full"), s.server.refused_full);
    sample(o, "rustun_metrics_connections_dropped_total", label("reason", "timeout"), s.server.timed_out);

    help_type(o, "rustun_controlplane_connections_open", "TCP connections open (accepted minus closed)", "gauge");
    sample(o, "rustun_controlplane_connections_open", "", s.connections_open);

    // Control-plane counters: Data drops as one family with a reason label, the others one each.
    {
        std::string help = "Data frames dropped by the control plane, by reason:";
        for (size_t i = 0; i < kCounterCount; ++i) {
            const Counter c = static_cast<Counter>(i);
            if (!cp_counter_is_data_drop(c)) continue;
            help += std::string(" ") + counter_info(c).name + " = " +
                    std::string(std::string_view(counter_info(c).help).substr(kDataDropPrefix.size())) + ";";
        }
        help.pop_back();
        help_type(o, "rustun_controlplane_data_drops_total", help, "counter");
        for (size_t i = 0; i < kCounterCount; ++i) {
            const Counter c = static_cast<Counter>(i);
            if (cp_counter_is_data_drop(c))
                sample(o, "rustun_controlplane_data_drops_total", label("reason", counter_info(c).name), s.cp[i]);
        }
    }
    for (size_t i = 0; i < kCounterCount; ++i) {
        const Counter c = static_cast<Counter>(i);
        if (cp_counter_is_data_drop(c)) continue;
        const std::string name = std::string("rustun_controlplane_") + counter_info(c).name + "_total";
        help_type(o, name, counter_info(c).help, "counter");
        sample(o, name, "", s.cp[i]);
    }

    // Per cluster.
    struct ClusterMetric {
        const char* name;
        const char* help;
        const char* type;
        uint64_t MetricsSnapshot::Cluster::*field;
    };
    static constexpr ClusterMetric kClusterMetrics[] = {
        {"rustun_cluster_clients_configured", "clients configured in the cluster", "gauge",
         &MetricsSnapshot::Cluster::configured},
        {"rustun_cluster_clients_online", "clients of the cluster with a TCP connection", "gauge",
         &MetricsSnapshot::Cluster::online},
        {"rustun_cluster_clients_udp_bound", "clients of the cluster with a UDP endpoint bound", "gauge",
         &MetricsSnapshot::Cluster::udp_bound},
        {"rustun_cluster_rx_frames_total", "frames received from the cluster's clients (their clients configured now)",
         "counter", &MetricsSnapshot::Cluster::rx_frames},
        {"rustun_cluster_rx_bytes_total", "bytes received from the cluster's clients (their clients configured now)",
         "counter", &MetricsSnapshot::Cluster::rx_bytes},
        {"rustun_cluster_tx_frames_total", "frames queued to the cluster's clients (their clients configured now)",
         "counter", &MetricsSnapshot::Cluster::tx_frames},
        {"rustun_cluster_tx_bytes_total", "bytes queued to the cluster's clients (their clients configured now)",
         "counter", &MetricsSnapshot::Cluster::tx_bytes},
        {"rustun_cluster_drops_total", "frames from or to the cluster's clients that were dropped", "counter",
         &MetricsSnapshot::Cluster::drops},
    };
    for (const ClusterMetric& m : kClusterMetrics) {
        help_type(o, m.name, m.help, m.type);
        for (const auto& c : s.clusters) sample(o, m.name, label("cluster", c.name), c.*m.field);
    }

    // Fleet.
    if (s.fleet.configured) {
        help_type(o, "rustun_fleet_etcd_connected", "1 while the gateway holds its etcd lease and record", "gauge");
        sample(o, "rustun_fleet_etcd_connected", "", s.fleet.connected ? 1 : 0);
        help_type(o, "rustun_fleet_view_stale", "1 while the remote view is stale (no etcd for 3 x lease_ttl)", "gauge");
        sample(o, "rustun_fleet_view_stale", "", s.fleet.stale ? 1 : 0);
        help_type(o, "rustun_fleet_remote_clients", "clients online on the fleet's other gateways", "gauge");
        sample(o, "rustun_fleet_remote_clients", "", s.fleet.remote_clients);
        help_type(o, "rustun_fleet_gateways", "gateways registered in the fleet, this one included", "gauge");
        sample(o, "rustun_fleet_gateways", "", s.fleet.gateways);
        help_type(o, "rustun_fleet_watch_lag_milliseconds", "time since the fleet watch last heard from etcd", "gauge");
        sample(o, "rustun_fleet_watch_lag_milliseconds", "", s.fleet.watch_lag_ms);
    }

    // Dataplane.
    help_type(o, "rustun_dataplane_configured", "1 if the configuration has a dataplane section", "gauge");
    sample(o, "rustun_dataplane_configured", "", s.dataplane_configured ? 1 : 0);
    help_type(o, "rustun_dataplane_attached", "1 if the control plane is attached to the dataplane's channel", "gauge");
    sample(o, "rustun_dataplane_attached", "", s.dataplane_attached ? 1 : 0);
    // The dataplane's families are always announced (HELP and TYPE), their samples only while
    // attached: a detached dataplane has no values, not zeros.
    const bool a = s.dataplane_attached;
    help_type(o, "rustun_dataplane_sessions", "endpoint bindings in the dataplane's session table", "gauge");
    if (a) sample(o, "rustun_dataplane_sessions", "", s.dp_sessions);
    help_type(o, "rustun_dataplane_session_capacity", "capacity of the dataplane's session table", "gauge");
    if (a) sample(o, "rustun_dataplane_session_capacity", "", s.dp_session_capacity);
    const std::vector<DpBlock> blocks = a ? dp_blocks(s) : std::vector<DpBlock>{};
    std::string help = "packets dropped by the dataplane, by worker (lcore; main = the main lcore) and reason:";
    for (size_t i = 0; i < shm::kDpCounterCount; ++i) {
        if (!dp_is_drop(i)) continue;
        help += std::string(" ") + std::string(std::string_view(shm::kDpCounterInfo[i].name).substr(kDpDropPrefix.size())) +
                " = " + shm::kDpCounterInfo[i].help + ";";
    }
    help.pop_back();
    help_type(o, "rustun_dataplane_drops_total", help, "counter");
    for (const DpBlock& b : blocks)
        for (size_t i = 0; i < shm::kDpCounterCount; ++i)
            if (dp_is_drop(i))
                sample(o, "rustun_dataplane_drops_total",
                       join_labels(label("worker", b.worker),
                                   label("reason", std::string_view(shm::kDpCounterInfo[i].name).substr(kDpDropPrefix.size()))),
                       (*b.v)[i]);
    for (size_t i = 0; i < shm::kDpCounterCount; ++i) {
        if (dp_is_drop(i)) continue;
        const std::string name = std::string("rustun_dataplane_") + shm::kDpCounterInfo[i].name + "_total";
        help_type(o, name, std::string(shm::kDpCounterInfo[i].help) + " (by worker lcore; main = the main lcore)",
                  "counter");
        for (const DpBlock& b : blocks) sample(o, name, label("worker", b.worker), (*b.v)[i]);
    }
    return o;
}

// ---- the HTTP listener ----

MetricsServer::~MetricsServer() { stop(); }

Status MetricsServer::start(const SocketAddress& a, Collect collect) {
    collect_ = std::move(collect);
    sockaddr_storage ss{};
    socklen_t sl;
    const int family = a.family == AddressFamily::V4 ? AF_INET : AF_INET6;
    if (family == AF_INET) {
        auto* s = reinterpret_cast<sockaddr_in*>(&ss);
        s->sin_family = AF_INET;
        s->sin_port = htons(a.port);
        std::memcpy(&s->sin_addr, a.bytes.data(), 4);
        sl = sizeof *s;
    } else {
        auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(a.port);
        std::memcpy(&s->sin6_addr, a.bytes.data(), 16);
        sl = sizeof *s;
    }
    listen_fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return make_error(std::string("metrics.listen: socket: ") + strerror(errno));
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), sl) < 0 || ::listen(listen_fd_, 64) < 0) {
        std::string err = strerror(errno);
        ::close(listen_fd_);
        listen_fd_ = -1;
        return make_error("metrics.listen " + a.to_string() + ": " + err);
    }
    sockaddr_storage bound{};
    socklen_t bl = sizeof bound;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bl);
    port_ = bound.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                                       : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return make_error(std::string("eventfd: ") + strerror(errno));
    stop_ = false;
    thread_ = std::thread([this] { serve(); });
    name_thread(thread_, "cp-metrics");
    return {};
}

MetricsSnapshot::Server MetricsServer::stats() const {
    constexpr auto r = std::memory_order_relaxed;
    return {scrapes_.load(r), not_found_.load(r), refused_full_.load(r), timed_out_.load(r), too_large_.load(r)};
}

void MetricsServer::stop() {
    if (thread_.joinable()) {
        stop_ = true;
        uint64_t one = 1;
        if (::write(wake_fd_, &one, sizeof one) < 0) {
        }
        thread_.join();
    }
    for (Conn& c : conns_) ::close(c.fd);
    conns_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    listen_fd_ = wake_fd_ = -1;
}

void MetricsServer::answer(Conn& c) {
    // Request line: METHOD SP TARGET SP VERSION.
    const size_t eol = c.in.find("\r\n");
    const std::string line = c.in.substr(0, eol);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
    std::string method, target;
    if (sp2 != std::string::npos) {
        method = line.substr(0, sp1);
        target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    }
    const std::string path = target.substr(0, target.find('?'));
    std::string body, status, type = "text/plain; charset=utf-8";
    if (method == "GET" && path == "/metrics") {
        status = "200 OK";
        body = format_metrics(collect_());  // collect_ locks briefly; formatting is outside the lock
        type = std::string(kMetricsContentType);
        scrapes_.fetch_add(1, std::memory_order_relaxed);
    } else {
        not_found_.fetch_add(1, std::memory_order_relaxed);
        status = "404 Not Found";
        body = "only GET /metrics is served here\n";
    }
    c.out = "HTTP/1.1 " + status + "\r\nContent-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: close\r\n\r\n" + body;
    c.out_off = 0;
    c.answering = true;
    c.in.clear();
}

void MetricsServer::serve() {
    std::vector<pollfd> pfds;
    while (!stop_.load()) {
        const auto now = std::chrono::steady_clock::now();
        // Drop the connections past their deadline.
        for (size_t i = 0; i < conns_.size();) {
            if (now >= conns_[i].deadline) {
                timed_out_.fetch_add(1, std::memory_order_relaxed);
                ::close(conns_[i].fd);
                conns_[i] = std::move(conns_.back());
                conns_.pop_back();
            } else {
                ++i;
            }
        }
        pfds.clear();
        pfds.push_back({wake_fd_, POLLIN, 0});
        pfds.push_back({listen_fd_, POLLIN, 0});
        int timeout_ms = -1;
        for (const Conn& c : conns_) {
            pfds.push_back({c.fd, static_cast<short>(c.answering ? POLLOUT : POLLIN), 0});
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count() + 1;
            if (timeout_ms < 0 || left < timeout_ms) timeout_ms = static_cast<int>(left);
        }
        int n = ::poll(pfds.data(), pfds.size(), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            LOG_ERROR("metrics: poll: %s", strerror(errno));
            return;
        }
        if (pfds[0].revents != 0) continue;  // stop() (checked at the top)
        std::vector<bool> closing(conns_.size(), false);
        for (size_t i = 0; i < conns_.size(); ++i) {
            const short re = pfds[i + 2].revents;
            if (re == 0) continue;
            Conn& c = conns_[i];
            if (!c.answering) {
                char buf[2048];
                ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
                if (r <= 0) {
                    if (r == 0 || (errno != EAGAIN && errno != EINTR)) closing[i] = true;
                    continue;
                }
                c.in.append(buf, static_cast<size_t>(r));
                if (c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos) answer(c);
                else if (c.in.size() > kMaxRequestBytes) {
                    too_large_.fetch_add(1, std::memory_order_relaxed);
                    closing[i] = true;
                }
            }
            if (c.answering) {
                while (c.out_off < c.out.size()) {
                    ssize_t w = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
                    if (w < 0) {
                        if (errno != EAGAIN && errno != EINTR) closing[i] = true;
                        break;
                    }
                    c.out_off += static_cast<size_t>(w);
                }
                if (c.out_off == c.out.size()) closing[i] = true;
            }
        }
        for (size_t i = conns_.size(); i-- > 0;) {
            if (!closing[i]) continue;
            ::close(conns_[i].fd);
            conns_[i] = std::move(conns_.back());
            conns_.pop_back();
        }
        if (pfds[1].revents != 0) {
            for (;;) {
                int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                if (conns_.size() >= kMaxConnections) {
                    refused_full_.fetch_add(1, std::memory_order_relaxed);
                    ::close(fd);  // bounded: a scraper retries at its next interval
                    continue;
                }
                conns_.push_back(Conn{fd, {}, {}, 0, false, std::chrono::steady_clock::now() + kDeadline});
            }
        }
    }
}

}  // namespace rustun::cp
