#include "rustunctl_print.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "counters.hpp"
#include "shm/dp_counters.hpp"

namespace rustun::ctl {

namespace {

std::string text(const rapidjson::Value& v) {
    if (v.IsString()) return v.GetString();
    if (v.IsNull()) return "-";
    if (v.IsBool()) return v.GetBool() ? "yes" : "no";
    if (v.IsUint64()) return std::to_string(v.GetUint64());
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    if (v.IsDouble()) {
        char b[32];
        std::snprintf(b, sizeof b, "%.1f", v.GetDouble());
        return b;
    }
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
    return sb.GetString();
}

std::string member(const rapidjson::Value& o, const char* name) {
    if (!o.IsObject()) return "-";
    auto it = o.FindMember(name);
    return it == o.MemberEnd() ? "-" : text(it->value);
}

uint64_t number(const rapidjson::Value& o, const char* name) {
    if (!o.IsObject()) return 0;
    auto it = o.FindMember(name);
    return it != o.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

bool is_unix_time_key(const std::string& k) {
    return k == "last_active" || k == "connected_since" || (k.size() > 3 && k.compare(k.size() - 3, 3, "_at") == 0);
}

// Column-aligned table on stdout; the last column is not padded.
void print_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
                 const std::string& indent = "") {
    std::vector<size_t> w(head.size());
    for (size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    auto line = [&](const std::vector<std::string>& r) {
        std::string s = indent;
        for (size_t i = 0; i < r.size(); ++i) {
            s += r[i];
            if (i + 1 < r.size()) s += std::string(w[i] - r[i].size() + 2, ' ');
        }
        while (!s.empty() && s.back() == ' ') s.pop_back();
        std::puts(s.c_str());
    };
    line(head);
    for (const auto& r : rows) line(r);
}

void print_cleared(const rapidjson::Value& result, uint64_t now_s) {
    if (uint64_t at = number(result, "cleared_at"))
        std::printf("(counts since clear-counters %s, Unix %llu)\n", ago_text(at, now_s).c_str(),
                    static_cast<unsigned long long>(at));
}

}  // namespace

std::string duration_text(uint64_t s) {
    char b[48];
    if (s < 60) std::snprintf(b, sizeof b, "%llus", static_cast<unsigned long long>(s));
    else if (s < 3600) std::snprintf(b, sizeof b, "%llum%02llus", static_cast<unsigned long long>(s / 60), static_cast<unsigned long long>(s % 60));
    else if (s < 86400) std::snprintf(b, sizeof b, "%lluh%02llum", static_cast<unsigned long long>(s / 3600), static_cast<unsigned long long>(s % 3600 / 60));
    else std::snprintf(b, sizeof b, "%llud%02lluh", static_cast<unsigned long long>(s / 86400), static_cast<unsigned long long>(s % 86400 / 3600));
    return b;
}

std::string ago_text(uint64_t unix_s, uint64_t now_s) {
    if (unix_s == 0) return "never";
    return duration_text(now_s > unix_s ? now_s - unix_s : 0) + " ago";
}

const char* counter_help(const std::string& section, const std::string& name) {
    if (section == "controlplane") {
        for (size_t i = 0; i < cp::kCounterCount; ++i) {
            const auto& info = cp::counter_info(static_cast<cp::Counter>(i));
            if (name == info.name) return info.help;
        }
    } else if (section == "dataplane") {
        for (const auto& info : shm::kDpCounterInfo)
            if (name == info.name) return info.help;
    }
    return "";
}

void print_kv(const rapidjson::Value& o, uint64_t now_s, const std::string& indent) {
    size_t w = 0;
    for (auto it = o.MemberBegin(); it != o.MemberEnd(); ++it) w = std::max<size_t>(w, it->name.GetStringLength());
    for (auto it = o.MemberBegin(); it != o.MemberEnd(); ++it) {
        const std::string name = it->name.GetString();
        if (it->value.IsObject()) {
            std::printf("%s%s:\n", indent.c_str(), name.c_str());
            print_kv(it->value, now_s, indent + "  ");
            continue;
        }
        std::string v = text(it->value);
        if (it->value.IsUint64() && is_unix_time_key(name)) {
            const uint64_t t = it->value.GetUint64();
            v = t ? v + " (" + ago_text(t, now_s) + ")" : "never";
        } else if (it->value.IsUint64() && name == "uptime_s") {
            v += " (" + duration_text(it->value.GetUint64()) + ")";
        }
        std::printf("%s%-*s  %s\n", indent.c_str(), static_cast<int>(w), name.c_str(), v.c_str());
    }
}

void print_clients(const rapidjson::Value& result, uint64_t now_s) {
    std::vector<std::vector<std::string>> rows;
    uint64_t online_shown = 0;
    for (const auto& c : result["clients"].GetArray()) {
        const bool on = c["online"].IsBool() && c["online"].GetBool();
        online_shown += on;
        rows.push_back({member(c, "identity"), member(c, "cluster"), member(c, "private_ip"), on ? "online" : "offline",
                        member(c, "dialect"), member(c, "tcp_peer"), member(c, "udp_endpoint"),
                        ago_text(number(c, "last_active"), now_s), member(c, "rx_frames"), member(c, "tx_frames"),
                        member(c, "drops")});
    }
    print_table({"IDENTITY", "CLUSTER", "PRIVATE_IP", "STATE", "DIALECT", "TCP_PEER", "UDP_ENDPOINT", "LAST_ACTIVE",
                 "RX", "TX", "DROPS"},
                rows);
    // An older gateway answers without the totals: count the rows.
    const uint64_t matched = result.HasMember("matched") ? number(result, "matched") : rows.size();
    const uint64_t online = result.HasMember("online") ? number(result, "online") : online_shown;
    std::printf("%llu clients, %llu online", static_cast<unsigned long long>(matched), static_cast<unsigned long long>(online));
    if (rows.size() < matched) std::printf(" (%zu shown: --limit)", rows.size());
    std::printf("\n");
    if (!result.HasMember("remote") || !result["remote"].IsArray()) return;
    rows.clear();
    for (const auto& c : result["remote"].GetArray())
        rows.push_back({member(c, "identity"), member(c, "cluster"), member(c, "private_ip"), member(c, "home"),
                        member(c, "home_link"), member(c, "dialect"), member(c, "udp_endpoint"),
                        ago_text(number(c, "last_active"), now_s)});
    std::printf("\nonline on other gateways%s:\n",
                result["remote_stale"].IsBool() && result["remote_stale"].GetBool() ? " (STALE: no etcd)" : "");
    print_table({"IDENTITY", "CLUSTER", "PRIVATE_IP", "HOME", "HOME_LINK", "DIALECT", "UDP_ENDPOINT", "UPDATED"}, rows);
    std::printf("%zu remote clients\n", rows.size());
}

void print_gateways(const rapidjson::Value& result, uint64_t now_s) {
    const auto& etcd = result["etcd"];
    std::printf("gateway %s, configuration %s; etcd %s (%s), lease %s, watch lag %s ms%s\n",
                member(result, "gateway").c_str(), member(result, "config_hash").c_str(),
                etcd["connected"].GetBool() ? "connected" : "NOT CONNECTED", member(etcd, "endpoint").c_str(),
                member(etcd, "lease").c_str(), member(etcd, "watch_lag_ms").c_str(),
                etcd["stale"].GetBool() ? ", view STALE" : "");
    std::vector<std::vector<std::string>> rows;
    for (const auto& g : result["gateways"].GetArray()) {
        std::string hash = member(g, "config_hash");
        if (g["config_differs"].GetBool()) hash += " DIFFERS";
        // UDP link: its dataplane takes link frames (docs/fleet.md, "UDP link through the dataplane").
        const bool udp_link = g.HasMember("udp_link") && g["udp_link"].IsBool() && g["udp_link"].GetBool();
        rows.push_back({member(g, "id") + (g["self"].GetBool() ? " (this)" : ""), member(g, "tcp"),
                        member(g, "udp") + (udp_link ? " +link" : ""), member(g, "link"), member(g, "clients"), ago_text(number(g, "last_seen"), now_s), hash,
                        member(g, "version")});
    }
    print_table({"ID", "TCP", "UDP", "LINK", "CLIENTS", "LAST_SEEN", "CONFIG_HASH", "VERSION"}, rows);
    if (number(result, "config_hashes") > 1)
        std::printf("warning: the gateways run %s different configurations (CONFIG_HASH)\n",
                    member(result, "config_hashes").c_str());
}

void print_stats(const rapidjson::Value& result, bool nonzero, uint64_t now_s) {
    for (const char* section : {"controlplane", "dataplane"}) {
        auto it = result.FindMember(section);
        if (it == result.MemberEnd()) continue;
        std::printf("%s:\n", section);
        if (!it->value.IsObject()) {
            std::printf("  (not attached)\n");
            continue;
        }
        std::vector<std::vector<std::string>> rows;
        for (auto c = it->value.MemberBegin(); c != it->value.MemberEnd(); ++c) {
            const std::string name = c->name.GetString();
            if (name == "sessions" || name == "session_capacity") continue;  // a gauge, below
            if (nonzero && c->value.IsUint64() && c->value.GetUint64() == 0) continue;
            rows.push_back({name, text(c->value), counter_help(section, name)});
        }
        if (rows.empty()) std::printf("  (every counter is 0)\n");
        else print_table({"COUNTER", "VALUE", "DESCRIPTION"}, rows, "  ");
        if (it->value.HasMember("sessions"))
            std::printf("  sessions %s of %s (endpoint bindings in the session table, dataplane.sessions)\n",
                        member(it->value, "sessions").c_str(), member(it->value, "session_capacity").c_str());
    }
    print_cleared(result, now_s);
}

void print_dataplane(const rapidjson::Value& result, bool all, uint64_t now_s) {
    std::printf("dataplane  %s\n", member(result, "dataplane").c_str());
    if (!result.HasMember("workers") || !result["workers"].IsArray()) return;
    std::printf("sessions   %s of %s\n", member(result, "sessions").c_str(), member(result, "session_capacity").c_str());
    const auto& workers = result["workers"].GetArray();
    std::vector<std::string> head{"COUNTER"};
    for (size_t w = 0; w < workers.Size(); ++w) {
        std::string col = std::to_string(w);
        col.insert(col.begin(), 'W');
        head.push_back(std::move(col));
    }
    head.push_back("TOTAL");
    std::vector<std::vector<std::string>> rows;
    if (workers.Size() > 0 && workers[0].IsObject())
        for (auto c = workers[0].MemberBegin(); c != workers[0].MemberEnd(); ++c) {
            std::vector<std::string> row{c->name.GetString()};
            uint64_t total = 0;
            for (const auto& w : workers) {
                const uint64_t v = number(w, c->name.GetString());
                total += v;
                row.push_back(std::to_string(v));
            }
            if (!all && total == 0) continue;
            row.push_back(std::to_string(total));
            rows.push_back(std::move(row));
        }
    if (rows.empty()) std::printf("(every worker counter is 0; --all shows them)\n");
    else print_table(head, rows);
    print_cleared(result, now_s);
}

CounterSample sample_counters(const rapidjson::Value& result) {
    CounterSample s;
    for (const char* section : {"controlplane", "dataplane"}) {
        auto it = result.FindMember(section);
        if (it == result.MemberEnd() || !it->value.IsObject()) continue;
        for (auto c = it->value.MemberBegin(); c != it->value.MemberEnd(); ++c)
            if (c->value.IsUint64()) s.emplace_back(std::string(section) + "." + c->name.GetString(), c->value.GetUint64());
    }
    return s;
}

void print_rates(const CounterSample& before, const CounterSample& after, double seconds) {
    std::map<std::string, uint64_t> old(before.begin(), before.end());
    std::vector<std::vector<std::string>> rows;
    for (const auto& [name, v] : after) {
        auto it = old.find(name);
        const uint64_t was = it == old.end() ? 0 : it->second;
        if (v == was) continue;
        // A counter that went down restarted (a new dataplane, clear-counters): its value is new.
        const uint64_t delta = v > was ? v - was : v;
        const bool gauge = name == "dataplane.sessions" || name == "dataplane.session_capacity";
        char rate[32];
        std::snprintf(rate, sizeof rate, "%.1f", static_cast<double>(delta) / seconds);
        rows.push_back({name, std::to_string(v), gauge ? "-" : rate});
    }
    if (rows.empty()) std::printf("  (no counter changed)\n");
    else print_table({"COUNTER", "VALUE", "PER_SECOND"}, rows, "  ");
}

// `runtime`: one row per worker and a total, as VPP's `show runtime` (cycles are TSC cycles per
// received packet; the stage columns are 0 with dataplane.stage_cycles: 0).
void print_runtime(const rapidjson::Value& result) {
    if (!result["workers"].IsArray()) {
        std::printf("dataplane: (not attached)\n");
        return;
    }
    auto num = [](const rapidjson::Value& v, const char* k) { return v.HasMember(k) && v[k].IsNumber() ? v[k].GetDouble() : 0.0; };
    auto f1 = [](double x) { char b[32]; std::snprintf(b, sizeof b, "%.1f", x); return std::string(b); };
    std::vector<std::string> head = {"WORKER", "PACKETS", "PKTS/BURST", "BUSY%", "CYC/PKT"};
    static const char* kStages[] = {"rx", "parse", "lookup", "crypto", "route", "tx", "other"};
    for (const char* s : kStages) head.push_back(s);
    head.insert(head.end(), {"IDLE_POLLS", "STALLED", "BURSTS 1/2-3/4-7/8-15/16-31/32+"});
    std::vector<std::vector<std::string>> rows;
    auto row = [&](const std::string& name, const rapidjson::Value& v) {
        std::vector<std::string> r = {name, std::to_string(number(v, "packets")), f1(num(v, "packets_per_burst")),
                                      f1(100 * num(v, "busy_share")), f1(num(v, "cycles_per_packet"))};
        for (const char* s : kStages) r.push_back(f1(num(v["stage_cycles_per_packet"], s)));
        r.push_back(std::to_string(number(v, "idle_polls")));
        r.push_back(std::to_string(number(v, "stalled_bursts")));
        std::string h;
        for (const char* b : {"1", "2-3", "4-7", "8-15", "16-31", "32+"}) {
            if (!h.empty()) h += '/';
            h += std::to_string(number(v["bursts"], b));
        }
        r.push_back(h);
        rows.push_back(std::move(r));
    };
    size_t i = 0;
    for (auto& w : result["workers"].GetArray()) row(std::to_string(i++), w);
    row("total", result["total"]);
    print_table(head, rows);
}

}  // namespace rustun::ctl
