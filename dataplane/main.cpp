// rustun-dataplane: the DPDK primary process (docs/dataplane.md).
//   rustun-dataplane --config FILE [options] [-- EAL args]   (cli_spec() below; --help)
// Exit codes: 0 clean stop (signal or idle), 1 configuration/EAL/port error (the message names
// the YAML key at fault), 2 usage error.
#include <rte_eal.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <grp.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "config/yaml_loader.hpp"
#include "config_check.hpp"
#include "dataplane.hpp"
#include "util/cli.hpp"
#include "util/log.hpp"
#include "util/sd_notify.hpp"
#include "util/version.hpp"

using namespace rustun;
using namespace rustun::dp;

namespace {

Runtime* g_runtime = nullptr;

// systemd (Type=notify, packaging/systemd/rustun-dataplane.service): a failed notification is
// logged, not fatal; without NOTIFY_SOCKET it is a no-op.
void notify_systemd(const std::string& state) {
    if (auto r = sd_notify_state(state); !r) LOG_WARN("systemd notification: %s", r.error().c_str());
}

void on_signal(int) {
    if (g_runtime) g_runtime->stop.store(true, std::memory_order_relaxed);
}

const cli::Spec& cli_spec() {
    static const cli::Spec spec{
        .program = "rustun-dataplane",
        .usage = "--config FILE [options] [-- EAL-ARGS]",
        .about = "The DPDK UDP relay of a rustun gateway (docs/dataplane.md). EAL arguments after --\n"
                 "are appended to dataplane.eal_args.",
        .options = {
            {"config", 'c', "FILE", "gateway YAML (sections listen.udp and dataplane are used)"},
            {"check-config", 0, nullptr,
             "validate the configuration and EAL lcores without starting EAL: every error (exit 1) or a summary and warnings (exit 0)"},
            {"wait-sync", 0, nullptr, "do not poll the uplink until the control plane's first SyncEnd"},
            {"stop-when-idle", 0, "MS", "after sync, exit 0 once nothing was received or sent for MS ms"},
            {"punt-ring-slots", 0, "N", "slots of each punt ring to the control plane (tests; default 4096)"},
            {"live-seconds", 0, "S", "liveness window of UDP endpoints (default 15; for tests)"},
            {"log-level", 0, "LEVEL", "trace, debug, info, warn, error, off (overrides the file's log.level)"},
            {"log-format", 0, "FORMAT", "text, journal, json (overrides the file's log.format)"},
        },
        .epilog = "Telemetry: /rustun/stats, /rustun/sessions, /rustun/drops (dpdk-telemetry.py -f PREFIX)\n"
                  "Exit codes: 0 clean stop (signal or idle), 1 configuration/EAL/port error, 2 usage error.",
        .eal_after_dashdash = true,
    };
    return spec;
}

int fail(const std::string& msg) {
    LOG_ERROR("%s", msg.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    set_log_process("rustun-dataplane");
    cli::Parsed args;
    if (auto code = cli::parse(cli_spec(), argc, argv, args)) return *code;
    const std::string config_path = args.value("config");
    if (config_path.empty()) return cli::usage_error(cli_spec(), "--config FILE is required");
    MainOptions opt;
    opt.wait_sync = args.has("wait-sync");
    auto idle = args.uint("stop-when-idle", 1, UINT64_MAX / 1000, 0);
    auto slots = args.uint("punt-ring-slots", 1, 65536, 0);
    auto live = args.uint("live-seconds", 1, 3600, kValidityWindowSeconds);
    for (const auto* r : {&idle, &slots, &live})
        if (!*r) return cli::usage_error(cli_spec(), r->error());
    if ((*slots & (*slots - 1)) != 0) return cli::usage_error(cli_spec(), "--punt-ring-slots: expected a power of two 1..65536");
    opt.stop_when_idle_ms = *idle;
    opt.punt_ring_slots = static_cast<uint32_t>(*slots);
    const uint64_t live_seconds = *live;
    const std::vector<std::string>& cli_eal = args.rest;
    if (args.has("check-config")) return check_config(config_path, cli_eal);
    std::optional<LogLevel> cli_level;
    std::optional<LogFormat> cli_format;
    set_log_format(default_log_format());
    if (args.has("log-level")) {
        LogLevel l;
        if (!log_level_from_string(args.value("log-level"), l))
            return cli::usage_error(cli_spec(), "--log-level: expected trace, debug, info, warn, error or off");
        cli_level = l;
    }
    if (args.has("log-format")) {
        LogFormat f;
        if (!log_format_from_string(args.value("log-format"), f))
            return cli::usage_error(cli_spec(), "--log-format: expected text, journal or json");
        cli_format = f;
    }
    // The clients come from the control plane over the channel: not read here (a million of
    // them would cost seconds and a second copy in memory).
    auto cfg = load_config_file(config_path, ConfigScope::Settings);
    if (!cfg) return fail(cfg.error());
    // The file's log section (read at start only), the command line over it.
    set_log_level(cli_level.value_or(cfg->controlplane.log_level));
    set_log_format(cli_format.value_or(cfg->log_format.value_or(default_log_format())));
    if (!cfg->dataplane) return fail(config_path + ": dataplane: missing section (needed by rustun-dataplane)");
    if (!cfg->listen.udp || cfg->listen.udp->port == 0)
        return fail(config_path + ": listen.udp: required with a non-zero port (it is the relay port)");

    static Runtime rt;  // lives until exit; workers and telemetry reference it
    rt.cfg = *cfg->dataplane;
    rt.relay_port = cfg->listen.udp->port;
    rt.src.port = rt.relay_port;
    for (int i = 0; i < 4; ++i) rt.src.addr4[i] = static_cast<uint8_t>(rt.cfg.address.value >> (24 - 8 * i));
    if (rt.cfg.address6) {
        std::memcpy(rt.src.addr6, rt.cfg.address6->data(), 16);
        rt.src.has_addr6 = true;
    }

    // ---- EAL ----
    std::vector<std::string> eal{argv[0]};
    eal.insert(eal.end(), rt.cfg.eal_args.begin(), rt.cfg.eal_args.end());
    eal.insert(eal.end(), cli_eal.begin(), cli_eal.end());
    std::vector<char*> eal_argv;
    for (auto& s : eal) eal_argv.push_back(s.data());
    eal_argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(eal.size()), eal_argv.data()) < 0)
        return fail("EAL init failed (dataplane.eal_args / command-line EAL args): " + std::string(rte_strerror(rte_errno)));
    g_runtime = &rt;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    auto cleanup_and = [&](int code) {
        uint16_t p;
        RTE_ETH_FOREACH_DEV(p) {
            rte_eth_dev_stop(p);
            rte_eth_dev_close(p);
        }
        if (rt.channel) ::unlink(rt.channel->path().c_str());
        rte_eal_cleanup();
        return code;
    };

    const uint32_t nw = rt.cfg.workers;
    if (rte_lcore_count() < nw + 1)
        return cleanup_and(fail("dataplane.workers: " + std::to_string(nw) + " workers need " + std::to_string(nw + 1) +
                                " lcores (main + workers), EAL has " + std::to_string(rte_lcore_count()) +
                                " (set -l in dataplane.eal_args)"));
    rt.tsc_hz = rte_get_tsc_hz();
    rt.live_tsc = rt.tsc_hz * live_seconds;
    rt.stall_tsc = rt.tsc_hz / 1000;
    rt.punt_interval = rt.tsc_hz / kPuntRate;
    rt.punt_tolerance = rt.punt_interval * (kPuntBurst - 1);
    rt.stun_interval = rt.tsc_hz / kStunRate;
    rt.stun_tolerance = rt.stun_interval * (kStunBurst - 1);
    if (Status s = setup_uplink(rt); !s) return cleanup_and(fail(s.error()));
    if (Status s = setup_tap(rt); !s) return cleanup_and(fail(s.error()));
    rt.main_tx = rte_ring_create("rustun_main_tx", cap::kMainTxRingSlots, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (rt.main_tx == nullptr) return cleanup_and(fail("cannot create the main TX ring"));

    shm::ChannelOptions co;
    co.workers = nw;
    co.software_version = rustun::kVersion;  // shown by `rustunctl status` (dataplane_version)
    if (opt.punt_ring_slots) co.dp_to_cp_slots = opt.punt_ring_slots;
    if (!rt.cfg.channel_group.empty()) {
        const group* gr = ::getgrnam(rt.cfg.channel_group.c_str());
        if (gr == nullptr) return cleanup_and(fail("dataplane.channel_group: no group named \"" + rt.cfg.channel_group + "\""));
        co.group = gr->gr_gid;
    }
    auto ch = shm::Channel::create(rt.cfg.channel, co);
    if (!ch) return cleanup_and(fail("dataplane.channel: " + ch.error()));
    rt.channel = std::move(*ch);
    rt.channel->header().session_capacity.store(rt.cfg.sessions, std::memory_order_relaxed);
    rt.state = std::make_unique<StateManager>(rt.cfg.sessions, nw, [](const EndpointKey& k) { return rt.mac_hint(k); });

    if (::getrandom(&rt.link_salt, sizeof rt.link_salt, 0) != sizeof rt.link_salt) rt.link_salt = static_cast<uint32_t>(rte_rdtsc());
    rt.link_salt |= 0x80000000u;
    if (auto la = fleet::LinkAuth::create()) rt.main_link_auth = std::move(*la);
    else return cleanup_and(fail("fleet link: " + la.error()));
    {
        timespec ts{};
        ::clock_gettime(CLOCK_REALTIME, &ts);
        rt.link_seq.store(uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec));
    }
    for (uint32_t w = 0; w < nw; ++w) {
        auto wk = std::make_unique<Worker>();
        wk->index = w;
        wk->queue = static_cast<uint16_t>(w);
        wk->rt = &rt;
        auto eng = CryptoEngine::create();
        if (!eng) return cleanup_and(fail("crypto engine: " + eng.error()));
        wk->engine = std::move(*eng);
        wk->scratch = std::make_unique<uint8_t[]>(cap::kMaxBurst * cap::kScratchPerItem);
        auto la = fleet::LinkAuth::create();
        if (!la) return cleanup_and(fail("fleet link: " + la.error()));
        wk->link_auth = std::move(*la);
        wk->link_windows = std::make_unique<Worker::LinkWindow[]>(shm::kMaxLinkPeers);
        wk->link_macs = std::make_unique<Worker::LinkMac[]>(shm::kMaxLinkPeers);
        wk->to_cp = &rt.channel->dp_to_cp(w);
        wk->to_cp_deliver = &rt.channel->deliver(w);
        wk->counters = rt.channel->counters(w);
        const std::string rn = "rustun_exc" + std::to_string(w);
        wk->to_kernel = rte_ring_create(rn.c_str(), cap::kExceptionRingSlots, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (wk->to_kernel == nullptr) return cleanup_and(fail("cannot create the exception ring"));
        rt.workers.push_back(std::move(wk));
    }
    register_telemetry(rt);
    rt.rx_enabled.store(!opt.wait_sync);

    unsigned lcore = rte_get_next_lcore(-1, 1, 0);
    for (uint32_t w = 0; w < nw; ++w, lcore = rte_get_next_lcore(lcore, 1, 0)) {
        rt.workers[w]->lcore = lcore;
        if (rte_eal_remote_launch(worker_main, rt.workers[w].get(), lcore) != 0)
            return cleanup_and(fail("cannot launch worker " + std::to_string(w) + " on lcore " + std::to_string(lcore)));
    }
    rt.channel->header().dp_state.store(static_cast<uint32_t>(shm::DpState::Running), std::memory_order_release);
    char mac[32];
    std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", rt.src.mac[0], rt.src.mac[1], rt.src.mac[2],
                  rt.src.mac[3], rt.src.mac[4], rt.src.mac[5]);
    LOG_INFO("%s: port %s (%s) relay %s:%u, %u worker(s), channel %s (dp_epoch %llx, channel version %u)%s, crypto %s",
             rustun::kVersion, rt.cfg.port.c_str(), mac, rt.cfg.address.to_string().c_str(), rt.relay_port, nw,
             rt.cfg.channel.c_str(), static_cast<unsigned long long>(rt.channel->dp_epoch()), shm::kChannelVersion,
             opt.wait_sync ? ", waiting for sync" : "", rt.workers[0]->engine->arch_name());
    // Ready: the port is started, the workers poll it and the channel exists for the control plane.
    notify_systemd("READY=1\nSTATUS=relaying on " + rt.cfg.address.to_string() + ":" + std::to_string(rt.relay_port) +
                   ", port " + rt.cfg.port + ", " + std::to_string(nw) + " worker(s)");

    main_loop(rt, opt);

    notify_systemd("STOPPING=1");
    rt.stop.store(true);
    rt.channel->header().dp_state.store(static_cast<uint32_t>(shm::DpState::Stopping), std::memory_order_release);
    rte_eal_mp_wait_lcore();
    // Drain what the main lcore queued for worker 0 (nothing may leak into the pool's audit).
    rte_mbuf* m = nullptr;
    while (rte_ring_dequeue(rt.main_tx, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    for (auto& w : rt.workers)
        while (rte_ring_dequeue(w->to_kernel, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    std::string summary;
    for (size_t c = 0; c < shm::kDpCounterCount; ++c)
        if (uint64_t v = rt.channel->counter_total(static_cast<shm::DpCounter>(c)))
            summary += " " + std::string(shm::kDpCounterInfo[c].name) + "=" + std::to_string(v);
    const double secs = rt.first_sync_tsc ? double(rte_rdtsc() - rt.first_sync_tsc) / double(rt.tsc_hz) : 0.0;
    char when[64] = "no sync applied";
    if (rt.first_sync_tsc) std::snprintf(when, sizeof when, "%.3f s after the first sync", secs);
    LOG_INFO("stopped %s; counters:%s", when, summary.empty() ? " (all zero)" : summary.c_str());
    return cleanup_and(0);
}
