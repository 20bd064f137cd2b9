// rte_telemetry commands: /rustun/stats, /rustun/sessions, /rustun/drops. Callbacks run on
// DPDK's telemetry thread: they read the shared-memory counters (atomics) and the session
// snapshot the main lcore refreshes every second, never a generation.
#include <rte_telemetry.h>

#include <cstring>
#include <string>

#include "dataplane.hpp"

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
}

}  // namespace rustun::dp
