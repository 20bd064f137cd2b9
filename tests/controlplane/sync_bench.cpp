// rustun-sync-bench: the control plane's state sync to the dataplane at scale (issue 11, items 2
// and 7; docs/performance.md, "One gateway, a million clients"). Not a test.
//
// One process plays both sides: a real rustun::cp::Gateway (workers, control socket, dataplane
// link) on a generated configuration of N clients in K clusters (one aes256 key per cluster),
// and a stand-in dataplane: the channel (shm::Channel::create) and a thread that applies every
// control message to the real dp::StateManager, as rustun-dataplane's main lcore does. Measures
//   * the full sync: attach to SyncEnd applied (ms), messages, and the RSS each side adds
//     (control plane: the running Gateway over the baseline; dataplane: the StateManager's
//     state after the sync over the control plane's);
//   * a reload that changes one client: messages the dataplane receives, the state mutex hold
//     time the reload reports, the time until the dataplane applied the Commit;
//   * the dataplane's side of binding every client: N EndpointSets (as the control plane sends
//     one per accepted UDP KeepAlive) applied to the StateManager, per second;
//   * the peak RSS of the process (VmHWM).
// One result line (or --json). Every wait is bounded.
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <filesystem>
#include <thread>

#include "config/yaml_loader.hpp"
#include "gateway.hpp"
#include "shm/channel.hpp"
#include "shm/messages.hpp"
#include "state.hpp"
#include "util/cli.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

using namespace rustun;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "rustun-sync-bench: %s\n", m.c_str());
    std::exit(1);
}

// kB of a /proc/self/status field (VmRSS, VmHWM).
uint64_t status_kb(const char* field) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const size_t n = std::strlen(field);
    while (std::getline(f, line))
        if (line.compare(0, n, field) == 0 && line[n] == ':') return std::strtoull(line.c_str() + n + 1, nullptr, 10);
    return 0;
}

// CPU seconds (user + system) of the whole process so far: on a shared machine the wall time
// of a step depends on the load, its CPU time much less.
double cpu_s() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string ipv4(uint32_t v) {
    char b[20];
    std::snprintf(b, sizeof b, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
    return b;
}

// The configuration: clients c0000000.. (private IP 10.0.0.0 + index + 1), K clusters k00000..
// of consecutive clients, one aes256 key per cluster. `extra_cidr_client` gets one CIDR more.
// With `json` (non-null) the clients go there as a routes.json (clients_file) and the YAML keeps
// one key per cluster (docs/configuration.md, "Large configurations").
std::string config_text(uint64_t n, uint64_t k, const std::string& dir, int64_t extra_cidr_client,
                        std::string* json = nullptr) {
    std::string out;
    out.reserve(n * 80 + k * 60 + 1024);
    out += "listen:\n  tcp: 127.0.0.1:0\ncrypto: chacha20:bench\ncontrol_socket: " + dir + "/control.sock\n";
    out += "controlplane:\n  workers: 1\n  log_level: warn\n";
    out += "dataplane:\n  channel: " + dir + "/run/dataplane.chan\n  port: net_null0\n  address: 192.0.2.1\n";
    if (json != nullptr) out += "clients_file: clients.json\n";
    out += "clusters:\n";
    char line[240];
    if (json != nullptr) {
        json->clear();
        json->reserve(n * 170 + 4);
        *json += "[\n";
        for (uint64_t c = 0; c < k; ++c) {
            std::snprintf(line, sizeof line, "  - {name: k%05" PRIu64 ", crypto: \"aes256:key%05" PRIu64 "\"}\n", c, c);
            out += line;
            for (uint64_t i = c * n / k; i < (c + 1) * n / k; ++i) {
                std::snprintf(line, sizeof line,
                              "%s{\"cluster\": \"k%05" PRIu64 "\", \"identity\": \"c%07" PRIu64 "\", \"private_ip\": \"%s\", "
                              "\"mask\": \"255.0.0.0\", \"gateway\": \"10.255.255.254\", \"ciders\": [%s]}\n",
                              i == 0 ? "" : ",", c, i, ipv4(0x0A000000u + static_cast<uint32_t>(i) + 1).c_str(),
                              static_cast<int64_t>(i) == extra_cidr_client ? "\"172.16.0.0/16\"" : "");
                *json += line;
            }
        }
        *json += "]\n";
        return out;
    }
    for (uint64_t c = 0; c < k; ++c) {
        std::snprintf(line, sizeof line, "  - name: k%05" PRIu64 "\n    crypto: aes256:key%05" PRIu64 "\n    clients:\n", c, c);
        out += line;
        for (uint64_t i = c * n / k; i < (c + 1) * n / k; ++i) {
            std::snprintf(line, sizeof line, "      - {identity: c%07" PRIu64 ", private_ip: %s, mask: 255.0.0.0, gateway: 10.255.255.254%s}\n",
                          i, ipv4(0x0A000000u + static_cast<uint32_t>(i) + 1).c_str(),
                          static_cast<int64_t>(i) == extra_cidr_client ? ", ciders: [172.16.0.0/16]" : "");
            out += line;
        }
    }
    return out;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::trunc);
    f << text;
    if (!f) die("cannot write " + path);
}

// The stand-in dataplane's main lcore: applies control messages, counts them, acknowledges
// SyncEnd in the header (as rustun-dataplane does).
struct Dataplane {
    std::unique_ptr<shm::Channel> ch;
    dp::StateManager sm{1u << 20, 2};
    std::atomic<uint64_t> messages{0}, commits{0}, syncs{0};
    std::atomic<int64_t> first_msg_ns{0}, sync_end_ns{0}, commit_ns{0};
    // Within the first sync: when the last ClusterSet and the SyncEnd arrived (before applying).
    std::atomic<int64_t> clusters_done_ns{0}, sync_end_arrived_ns{0};
    std::atomic<bool> stop{false};
    std::thread thread;
    std::unique_ptr<uint8_t[]> copy{new uint8_t[shm::kSlotSize]};

    void run(Clock::time_point t0) {
        auto ns = [&] { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(); };
        while (!stop.load()) {
            ch->header().dp_heartbeat_ns.store(mono_ns());
            const unsigned n = shm::drain_ring(ch->control(), 4096, copy.get(), [&](const uint8_t* c) {
                shm::MsgHeader h;
                if (shm::parse_control_header(c, h) != shm::MsgCheck::Ok) return;
                if (messages.fetch_add(1) == 0) first_msg_ns = ns();
                if (syncs.load() == 0) {
                    if (h.type == static_cast<uint16_t>(shm::MsgType::ClusterSet)) clusters_done_ns = ns();
                    if (h.type == static_cast<uint16_t>(shm::MsgType::SyncEnd)) sync_end_arrived_ns = ns();
                }
                const auto r = sm.apply(h, c + sizeof h, 1);
                if (r == dp::StateManager::Outcome::SyncApplied) {
                    ch->header().dp_applied_cp_epoch.store(sm.applied_cp_epoch());
                    sync_end_ns = ns();
                    syncs.fetch_add(1);
                }
                if (h.type == static_cast<uint16_t>(shm::MsgType::Commit)) {
                    commit_ns = ns();
                    commits.fetch_add(1);
                }
            });
            for (uint32_t w = 0; w < 2; ++w) sm.quiescent()[w].id.store(UINT64_MAX);
            sm.reclaim();
            if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
};

template <typename Pred>
bool wait_for(Pred p, double seconds) {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (!p()) {
        if (Clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t n = 100000, k = 10000;
    bool json = false, reload = true;
    double timeout = 600;
    static const cli::Spec spec{
        .program = "rustun-sync-bench",
        .usage = "[options]",
        .about = "Full sync of N clients in K clusters to a stand-in dataplane (the real StateManager),\n"
                 "then a reload that changes one client; prints time, messages and memory\n"
                 "(docs/performance.md, \"One gateway, a million clients\").",
        .options = {
            {"clients", 0, "N", "clients (default 100000)"},
            {"clusters", 0, "K", "clusters, clients split evenly (default 10000)"},
            {"timeout", 0, "S", "give up after S seconds (default 600)"},
            {"no-reload", 0, nullptr, "skip the one-client reload"},
            {"routes-json", 0, nullptr, "clients in a routes.json (clients_file), keys in the YAML\n"
                                        "(the loader's fast path; default: every client inline in the YAML)"},
            {"json", 0, nullptr, "one JSON object on stdout"},
        },
    };
    cli::Parsed args;
    if (auto code = cli::parse(spec, argc, argv, args)) return *code;
    auto n_r = args.uint("clients", 1, 16'000'000, 100000);
    auto k_r = args.uint("clusters", 1, 16'000'000, 10000);
    auto t_r = args.number("timeout", 1, 86400, 600);
    if (!n_r) return cli::usage_error(spec, n_r.error());
    if (!k_r) return cli::usage_error(spec, k_r.error());
    if (!t_r) return cli::usage_error(spec, t_r.error());
    n = *n_r;
    k = *k_r;
    timeout = *t_r;
    json = args.has("json");
    reload = !args.has("no-reload");
    const bool routes_json = args.has("routes-json");
    if (n == 0 || k == 0 || k > n || n > 16'000'000) die("need 1 <= --clusters <= --clients <= 16000000");
    set_log_level(LogLevel::Warn);
    char tmpl[] = "/tmp/rustun-sync-bench.XXXXXX";
    if (!::mkdtemp(tmpl)) die("mkdtemp failed");
    const std::string dir = tmpl;
    ::mkdir((dir + "/run").c_str(), 0700);
    const std::string cfg_path = dir + "/gateway.yaml";
    // Writes the configuration (and the routes.json beside it) for `extra_cidr_client`.
    auto write_config = [&](int64_t extra_cidr_client) {
        std::string clients_json;
        write_file(cfg_path, config_text(n, k, dir, extra_cidr_client, routes_json ? &clients_json : nullptr));
        if (routes_json) write_file(dir + "/clients.json", clients_json);
    };
    write_config(-1);
    ::malloc_trim(0);
    const uint64_t rss0 = status_kb("VmRSS");

    const auto l0 = Clock::now();
    const double lc0 = cpu_s();
    auto cfg = load_config_file(cfg_path);
    if (!cfg) die(cfg.error());
    const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - l0).count();
    const double load_cpu_s = cpu_s() - lc0;
    const uint64_t rss_loaded = status_kb("VmRSS");
    auto gw = std::make_unique<cp::Gateway>(std::move(cfg.value()), cfg_path);
    const auto s0 = Clock::now();
    const double sc0 = cpu_s();
    if (auto st = gw->start(); !st) die(st.error());
    const double start_ms = std::chrono::duration<double, std::milli>(Clock::now() - s0).count();
    const double start_cpu_s = cpu_s() - sc0;
    ::malloc_trim(0);  // as rustun-controlplane does after start-up: the parse's freed heap
    const uint64_t rss_cp = status_kb("VmRSS");

    Dataplane dp;
    auto ch = shm::Channel::create(dir + "/run/dataplane.chan", shm::ChannelOptions{});
    if (!ch) die(ch.error());
    dp.ch = std::move(ch.value());
    const auto t0 = Clock::now();
    const double yc0 = cpu_s();
    dp.thread = std::thread([&] { dp.run(t0); });
    if (!wait_for([&] { return dp.syncs.load() >= 1; }, timeout)) die("no full sync within the timeout");
    const double sync_cpu_s = cpu_s() - yc0;  // both sides (and the idle gateway's threads)
    const double sync_ms = dp.sync_end_ns.load() / 1e6;
    const double push_ms = (dp.sync_end_ns.load() - dp.first_msg_ns.load()) / 1e6;
    const uint64_t sync_msgs = dp.messages.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // retired generation freed
    ::malloc_trim(0);
    const uint64_t rss_dp = status_kb("VmRSS");
    const double clusters_ms = (dp.clusters_done_ns.load() - dp.first_msg_ns.load()) / 1e6;
    const double clients_ms = (dp.sync_end_arrived_ns.load() - dp.clusters_done_ns.load()) / 1e6;
    const double build_ms = (dp.sync_end_ns.load() - dp.sync_end_arrived_ns.load()) / 1e6;

    // A reload that changes one client (a CIDR more for the client in the middle). Skipped with
    // --no-reload (its second parse of the file would dominate the peak RSS of a big run).
    uint64_t reload_msgs = 0, mutex_us = 0;
    double reload_ms = 0;
    if (reload) {
        write_config(static_cast<int64_t>(n / 2));
        const uint64_t before = dp.messages.load(), commits = dp.commits.load();
        const auto r0 = Clock::now();
        auto rep = gw->reload();
        if (!rep) die("reload failed: " + rep.error());
        reload_ms = std::chrono::duration<double, std::milli>(Clock::now() - r0).count();
        mutex_us = rep->state_mutex_us;
        if (!wait_for([&] { return dp.commits.load() > commits; }, timeout)) die("no Commit after the reload");
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // anything else would arrive now
        reload_msgs = dp.messages.load() - before;
    }
    const uint64_t hwm = status_kb("VmHWM");

    gw->stop();
    dp.stop = true;
    dp.thread.join();

    // Binding every client on the dataplane's side (the control plane is stopped: nothing else
    // writes the StateManager now).
    const auto b0 = Clock::now();
    const dp::Generation* g = dp.sm.current();
    uint64_t bound = 0;
    for (uint32_t d = 0; d < g->client_count; ++d) {
        shm::EndpointSetMsg m{};
        m.client_id = g->clients[d].cp_id;
        m.endpoint.family = 4;
        m.endpoint.port = static_cast<uint16_t>(1024 + d % 60000);
        const uint32_t host = 0xC6120000u + d / 60000;  // 198.18.0.0/15
        m.endpoint.addr[0] = static_cast<uint8_t>(host >> 24);
        m.endpoint.addr[1] = static_cast<uint8_t>(host >> 16);
        m.endpoint.addr[2] = static_cast<uint8_t>(host >> 8);
        m.endpoint.addr[3] = static_cast<uint8_t>(host);
        const shm::MsgHeader h{static_cast<uint16_t>(shm::MsgType::EndpointSet), 0, sizeof m};
        bound += dp.sm.apply(h, reinterpret_cast<const uint8_t*>(&m), 2) == dp::StateManager::Outcome::Applied;
    }
    const double bind_s = std::chrono::duration<double>(Clock::now() - b0).count();
    std::filesystem::remove_all(dir);

    const double cp_mb = (rss_cp - rss0) / 1024.0, dp_mb = (rss_dp - rss_cp) / 1024.0;
    if (json)
        std::printf("{\"clients\":%" PRIu64 ",\"clusters\":%" PRIu64 ",\"full_sync_ms\":%.1f,\"full_sync_apply_ms\":%.1f,"
                    "\"full_sync_messages\":%" PRIu64 ",\"cp_rss_mb\":%.1f,\"dp_state_rss_mb\":%.1f,"
                    "\"cp_bytes_per_client\":%.0f,\"dp_bytes_per_client\":%.0f,\"peak_rss_mb\":%.1f,"
                    "\"reload_messages\":%" PRIu64 ",\"reload_state_mutex_us\":%" PRIu64 ",\"reload_ms\":%.1f,"
                    "\"dp_bound\":%" PRIu64 ",\"dp_binds_per_s\":%.0f,\"sync_clusters_ms\":%.1f,"
                    "\"sync_clients_ms\":%.1f,\"sync_build_ms\":%.1f,\"config_load_ms\":%.1f,\"config_rss_mb\":%.1f,"
                    "\"cp_start_ms\":%.1f,\"routes_json\":%s,\"config_load_cpu_s\":%.2f,\"cp_start_cpu_s\":%.2f,"
                    "\"full_sync_cpu_s\":%.2f}\n",
                    n, k, sync_ms, push_ms, sync_msgs, cp_mb, dp_mb, cp_mb * 1048576 / n, dp_mb * 1048576 / n, hwm / 1024.0,
                    reload_msgs, mutex_us, reload_ms, bound, bound / bind_s, clusters_ms, clients_ms, build_ms, load_ms,
                    (rss_loaded - rss0) / 1024.0, start_ms, routes_json ? "true" : "false", load_cpu_s, start_cpu_s,
                    sync_cpu_s);
    else
        std::printf("clients %" PRIu64 " clusters %" PRIu64 ": full sync %.0f ms (%" PRIu64 " messages, first to SyncEnd %.0f ms); "
                    "control plane %.0f MB (%.0f B/client), dataplane state %.0f MB (%.0f B/client), peak RSS %.0f MB; "
                    "reload of one client: %" PRIu64 " messages, state mutex %" PRIu64 " us, reload %.0f ms; "
                    "dataplane bindings: %" PRIu64 " at %.0f/s; sync: clusters %.0f ms, clients %.0f ms, SyncEnd build %.0f ms; "
                    "config load %.0f ms (%s, +%.0f MB, CPU %.2f s), gateway start %.0f ms (CPU %.2f s), sync CPU %.2f s\n",
                    n, k, sync_ms, sync_msgs, push_ms, cp_mb, cp_mb * 1048576 / n, dp_mb, dp_mb * 1048576 / n, hwm / 1024.0,
                    reload_msgs, mutex_us, reload_ms, bound, bound / bind_s, clusters_ms, clients_ms, build_ms, load_ms,
                    routes_json ? "routes.json" : "YAML", (rss_loaded - rss0) / 1024.0, load_cpu_s, start_ms, start_cpu_s,
                    sync_cpu_s);
    return 0;
}
