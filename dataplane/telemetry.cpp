// rte_telemetry commands: /rustun/stats, /rustun/sessions, /rustun/drops, /rustun/runtime. Callbacks run on
// DPDK's telemetry thread: they read the shared-memory counters (atomics) and the session
// snapshot the main lcore refreshes every second, never a generation.
#include <rte_telemetry.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "dataplane.hpp"
#include "shm/dp_runtime.hpp"

namespace rustun::dp {

namespace {

Runtime* g_rt = nullptr;

int cmd_stats(const char*, const char*, rte_tel_data* d) {
    Runtime& rt = *g_rt;
    rte_tel_data_start_dict(d);
    for (size_t c = 0; c < shm::kDpCounterCount; ++c)
        rte_tel_data_add_dict_u64(d, shm::kDpCounterInfo[c].name, rt.channel->counter_total(static_cast<shm::DpCounter>(c)));
    // Then each block: workerN, and "main" (the main lcore's: TxFrames, exception path, port drops).
    for (uint32_t w = 0; w <= rt.channel->workers(); ++w) {
        const bool main = w == rt.channel->workers();
        const std::atomic<uint64_t>* block = main ? rt.channel->main_counters() : rt.channel->counters(w);
        rte_tel_data* wd = rte_tel_data_alloc();
        if (wd == nullptr) return -ENOMEM;
        rte_tel_data_start_dict(wd);
        for (size_t c = 0; c < shm::kDpCounterCount; ++c)
            rte_tel_data_add_dict_u64(wd, shm::kDpCounterInfo[c].name, block[c].load(std::memory_order_relaxed));
        const std::string name = main ? "main" : "worker" + std::to_string(w);
        rte_tel_data_add_dict_container(d, name.c_str(), wd, 0);
    }
    return 0;
}

int cmd_drops(const char*, const char*, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    for (size_t c = 0; c < shm::kDpCounterCount; ++c)
        if (std::strncmp(shm::kDpCounterInfo[c].name, "drop_", 5) == 0)
            rte_tel_data_add_dict_u64(d, shm::kDpCounterInfo[c].name,
                                      g_rt->channel->counter_total(static_cast<shm::DpCounter>(c)));
    return 0;
}

// One worker's (or the workers' summed) runtime, flat (DPDK 22.11's telemetry nests one level
// and has no doubles): raw counts, then derived values as decimal strings. Cycles are TSC cycles.
void add_runtime(rte_tel_data* d, const shm::CounterValues& v) {
    const shm::RuntimeView r = shm::RuntimeView::of(v);
    auto str = [&](const char* name, double x) {
        char b[32];
        std::snprintf(b, sizeof b, "%.1f", x);
        rte_tel_data_add_dict_string(d, name, b);
    };
    rte_tel_data_add_dict_u64(d, "packets", r.packets);
    rte_tel_data_add_dict_u64(d, "busy_polls", r.busy_polls);
    rte_tel_data_add_dict_u64(d, "idle_polls", r.idle_polls);
    rte_tel_data_add_dict_u64(d, "busy_cycles", r.busy_cycles);
    rte_tel_data_add_dict_u64(d, "stalled_bursts", r.stalled_bursts);
    rte_tel_data_add_dict_u64(d, "idle_cycles", r.idle_cycles);
    str("busy_percent", r.busy_share * 100);
    str("packets_per_burst", r.packets_per_burst);
    str("cycles_per_packet", r.cycles_per_packet);
    for (size_t i = 0; i < shm::kRuntimeStageCount; ++i)
        str((std::string("cycles_per_packet_") + shm::kRuntimeStages[i].name).c_str(), r.stage_per_packet[i]);
    str("cycles_per_packet_other", r.other_per_packet);
    for (const shm::BurstBucket& b : shm::kBurstBuckets)
        rte_tel_data_add_dict_u64(d, (std::string("bursts_") + b.name).c_str(), v[static_cast<size_t>(b.counter)]);
}

int cmd_runtime(const char*, const char*, rte_tel_data* d) {
    Runtime& rt = *g_rt;
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "tsc_hz", rt.tsc_hz);
    rte_tel_data_add_dict_u64(d, "stage_cycles", rt.cfg.stage_cycles);
    shm::CounterValues total{};
    for (uint32_t w = 0; w < rt.channel->workers(); ++w) {
        const std::atomic<uint64_t>* block = rt.channel->counters(w);
        shm::CounterValues v{};
        for (size_t c = 0; c < shm::kDpCounterCount; ++c) {
            v[c] = block[c].load(std::memory_order_relaxed);
            total[c] += v[c];
        }
        rte_tel_data* wd = rte_tel_data_alloc();
        if (wd == nullptr) return -ENOMEM;
        rte_tel_data_start_dict(wd);
        add_runtime(wd, v);
        rte_tel_data_add_dict_container(d, ("worker" + std::to_string(w)).c_str(), wd, 0);
    }
    rte_tel_data* td = rte_tel_data_alloc();
    if (td == nullptr) return -ENOMEM;
    rte_tel_data_start_dict(td);
    add_runtime(td, total);
    rte_tel_data_add_dict_container(d, "total", td, 0);
    return 0;
}

int cmd_sessions(const char*, const char*, rte_tel_data* d) {
    Runtime& rt = *g_rt;
    std::lock_guard<std::mutex> lk(rt.snap_mu);
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "count", rt.snap_sessions);
    rte_tel_data_add_dict_u64(d, "capacity", rt.cfg.sessions);
    rte_tel_data_add_dict_u64(d, "clients", rt.snap_clients);
    rte_tel_data_add_dict_u64(d, "generation", rt.snap_gen);
    rte_tel_data_add_dict_u64(d, "cp_epoch", rt.channel->header().dp_applied_cp_epoch.load(std::memory_order_relaxed));
    rte_tel_data* list = rte_tel_data_alloc();
    if (list == nullptr) return -ENOMEM;
    rte_tel_data_start_array(list, RTE_TEL_STRING_VAL);
    // A telemetry reply is bounded (16 KiB): list at most cap::kTelemetrySessions sessions.
    size_t n = 0;
    for (const std::string& s : rt.snap_list) {
        if (++n > cap::kTelemetrySessions) break;
        rte_tel_data_add_array_string(list, s.c_str());
    }
    rte_tel_data_add_dict_container(d, "list", list, 0);
    return 0;
}

}  // namespace

void register_telemetry(Runtime& rt) {
    g_rt = &rt;
    // Kept for the process's lifetime (DPDK may keep the pointer).
    static const std::string sessions_help = "Endpoint sessions: count, capacity and up to " +
                                             std::to_string(cap::kTelemetrySessions) + " entries. No parameters.";
    rte_telemetry_register_cmd("/rustun/stats", cmd_stats,
                               "Dataplane counters summed over all blocks, then per worker and the main lcore's. No parameters.");
    rte_telemetry_register_cmd("/rustun/sessions", cmd_sessions,
                               sessions_help.c_str());
    rte_telemetry_register_cmd("/rustun/drops", cmd_drops, "Only the drop_* counters, summed over workers.");
    rte_telemetry_register_cmd("/rustun/runtime", cmd_runtime,
                               "Per worker and total: busy TSC cycles per packet by stage, packets per burst "
                               "histogram, busy/idle polls and cycles. No parameters.");
}

}  // namespace rustun::dp
