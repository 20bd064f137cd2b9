// rustunctl's human-readable output: tables, key/value lists with readable times, counters with
// their descriptions (the X-macro tables of controlplane/counters.hpp and lib/shm/dp_counters.hpp,
// like VPP's `show errors`), per-second rates for `watch`.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rustun::ctl {

// "45s", "3m12s", "2h05m", "3d04h".
std::string duration_text(uint64_t seconds);
// "never" for 0, else "3m12s ago" (a time in the future counts as now).
std::string ago_text(uint64_t unix_s, uint64_t now_s);

// The description of counter `name` of `section` ("controlplane" or "dataplane"), or "".
const char* counter_help(const std::string& section, const std::string& name);

// Objects as "key  value" lines, nested objects indented; Unix times (keys *_at, last_active,
// connected_since) also as "(3m12s ago)", uptime_s as a duration.
void print_kv(const rapidjson::Value& o, uint64_t now_s, const std::string& indent = "");
// The local clients, then (clients --all) the clients online on other gateways of the fleet.
void print_clients(const rapidjson::Value& result, uint64_t now_s);
// rustunctl gateways: the fleet's gateways; a configuration hash unlike ours is marked "DIFFERS".
void print_gateways(const rapidjson::Value& result, uint64_t now_s);
// `stats`: per section, COUNTER VALUE DESCRIPTION; `nonzero`: only the counters that are not 0.
void print_stats(const rapidjson::Value& result, bool nonzero, uint64_t now_s);
// `dataplane`: sessions and one column per worker; `all`: also the counters 0 on every worker.
void print_dataplane(const rapidjson::Value& result, bool all, uint64_t now_s);
// `runtime`: the dataplane workers' cycles per packet by stage, burst sizes and polls, one row
// per worker and a total (docs/dataplane.md, "Runtime").
void print_runtime(const rapidjson::Value& result);

// `watch`: every counter of a `stats` answer as ("section.name", value), in answer order.
using CounterSample = std::vector<std::pair<std::string, uint64_t>>;
CounterSample sample_counters(const rapidjson::Value& stats_result);
// The counters that changed between two samples `seconds` apart, with their per-second rates.
void print_rates(const CounterSample& before, const CounterSample& after, double seconds);

}  // namespace rustun::ctl
