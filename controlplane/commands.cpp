// Control-socket commands (docs/controlplane.md, "Control socket"): JSON in, JSON out.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include "dataplane_link.hpp"
#include "gateway.hpp"
#include "proto/control_request.hpp"
#include "shm/dp_runtime.hpp"
#include "util/clock.hpp"
#include "util/endpoint_text.hpp"
#include "util/version.hpp"
#include "worker.hpp"

namespace rustun::cp {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void put(JsonWriter& w, const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}
void put(JsonWriter& w, const char* k, uint64_t v) {
    w.Key(k);
    w.Uint64(v);
}
void put_null(JsonWriter& w, const char* k) {
    w.Key(k);
    w.Null();
}

std::string error_answer(const std::string& msg) {
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("ok");
    w.Bool(false);
    put(w, "error", msg);
    w.EndObject();
    return sb.GetString();
}

// Wraps a result object written by `body` into {"ok":true,"result":...}.
template <typename F>
std::string ok_answer(F&& body) {
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("ok");
    w.Bool(true);
    w.Key("result");
    body(w);
    w.EndObject();
    return sb.GetString();
}

void write_client(JsonWriter& w, const Membership& m, const ClientEntry& e, bool detail) {
    w.StartObject();
    put(w, "identity", e.cfg.identity);
    put(w, "name", e.cfg.name);
    put(w, "cluster", m.clusters[e.cluster].name);
    put(w, "private_ip", e.cfg.private_ip.to_string());
    const bool online = e.rt.conn != nullptr;
    w.Key("online");
    w.Bool(online);
    if (online) put(w, "dialect", std::string(e.rt.dialect == Dialect::Old ? "old" : "new"));
    else put_null(w, "dialect");
    if (online) put(w, "tcp_peer", e.rt.conn->peer_text);
    else put_null(w, "tcp_peer");
    if (e.udp.bound) put(w, "udp_endpoint", endpoint_text(e.udp.endpoint));
    else put_null(w, "udp_endpoint");
    put(w, "last_active", e.rt.last_active);
    put(w, "rx_frames", e.stats->rx_frames.load());
    put(w, "rx_bytes", e.stats->rx_bytes.load());
    put(w, "tx_frames", e.stats->tx_frames.load());
    put(w, "tx_bytes", e.stats->tx_bytes.load());
    put(w, "drops", e.stats->drops.load());
    if (detail) {
        put(w, "mask", e.cfg.mask.to_string());
        put(w, "gateway", e.cfg.gateway.to_string());
        w.Key("ciders");
        w.StartArray();
        for (const auto& c : e.cfg.ciders) {
            std::string s = c.to_string();
            w.String(s.c_str());
        }
        w.EndArray();
        put(w, "ipv6", e.rt.ipv6);
        put(w, "port", e.rt.port);
        put(w, "stun_ip", e.rt.stun_ip);
        put(w, "stun_port", e.rt.stun_port);
        put(w, "connected_since", e.rt.connected_since);
        put(w, "origin", e.cfg.origin);
    }
    w.EndObject();
}

void write_list(JsonWriter& w, const char* k, const std::vector<std::string>& v) {
    w.Key(k);
    w.StartArray();
    for (const auto& s : v) w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    w.EndArray();
}

}  // namespace

std::string Gateway::handle_command(const std::string& line) {
    // Iterative and depth-limited (lib/proto/control_request.hpp): no input can exhaust the stack.
    auto req = parse_control_request(line);
    if (!req) return error_answer(req.error());
    const std::string& cmd = req->cmd;
    auto arg = [&](const char* name) { return req->arg(name); };
    if (cmd == "status") return command_status();
    if (cmd == "clients") return command_clients(arg("cluster"));
    if (cmd == "client") return command_client(arg("identity"));
    if (cmd == "kick") return command_kick(arg("identity"));
    if (cmd == "reload") return command_reload();
    if (cmd == "stats") return command_stats();
    if (cmd == "runtime") return command_runtime();
    return error_answer("unknown command '" + cmd + "' (status, clients, client, kick, reload, stats, runtime)");
}

std::string Gateway::command_status() {
    MutexLock lk(state_.mu());
    const Membership& m = state_.members();
    const uint64_t loaded_at = config_loaded_at_;
    const std::string listen_tcp = cfg_.listen.tcp.to_string();
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        put(w, "version", std::string(kVersion));
        put(w, "pid", static_cast<uint64_t>(::getpid()));
        put(w, "uptime_s", realtime_s() - started_at_);
        put(w, "config_file", config_path_);
        put(w, "config_loaded_at", loaded_at);
        put(w, "listen_tcp", listen_tcp);
        put(w, "tcp_port", tcp_port_);
        put(w, "workers", static_cast<uint64_t>(workers_.size()));
        put(w, "clusters", static_cast<uint64_t>(m.clusters.size()));
        put(w, "clients_configured", static_cast<uint64_t>(m.clients.size()));
        put(w, "clients_online", static_cast<uint64_t>(m.online_count()));
        put(w, "connections_open", counter(Counter::conn_accepted) - counter(Counter::conn_closed));
        put(w, "dataplane", std::string(!link_ ? "not configured" : link_->attached() ? "attached" : "not attached"));
        if (link_) {
            put(w, "dataplane_channel", link_->channel_path());
            // Why the control plane is not attached: absent, not ready, or refused (unsafe).
            if (!link_->attached()) put(w, "dataplane_error", link_->last_error());
        }
        w.EndObject();
    });
}

std::string Gateway::command_clients(const std::string& cluster_filter) {
    MutexLock lk(state_.mu());
    const Membership& m = state_.members();
    if (!cluster_filter.empty()) {
        bool found = false;
        for (const auto& c : m.clusters) found |= c.name == cluster_filter;
        if (!found) return error_answer("no cluster named '" + cluster_filter + "'");
    }
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        w.Key("clients");
        w.StartArray();
        for (const auto& e : m.clients)
            if (cluster_filter.empty() || m.clusters[e.cluster].name == cluster_filter) write_client(w, m, e, false);
        w.EndArray();
        w.EndObject();
    });
}

std::string Gateway::command_client(const std::string& identity) {
    MutexLock lk(state_.mu());
    const Membership& m = state_.members();
    ClientId id = m.find(identity);
    if (id == kNoClient) return error_answer("no client with identity '" + identity + "'");
    return ok_answer([&](JsonWriter& w) { write_client(w, m, m.clients[id], true); });
}

std::string Gateway::command_kick(const std::string& identity) {
    MutexLock lk(state_.mu());
    Membership& m = state_.members();
    ClientId id = m.find(identity);
    if (id == kNoClient) return error_answer("no client with identity '" + identity + "'");
    ClientEntry& e = m.clients[id];
    const bool was_online = e.rt.conn != nullptr;
    if (was_online) ask_owner_to_close(e.rt.conn, CloseReason::Kicked);  // counted (kicked) when it closes
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        put(w, "identity", identity);
        w.Key("kicked");
        w.Bool(was_online);
        w.EndObject();
    });
}

std::string Gateway::command_reload() {
    auto r = reload();
    if (!r) return error_answer("reload failed, running configuration kept: " + r.error());
    const ReloadReport& rep = r.value();
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        write_list(w, "added", rep.added);
        write_list(w, "removed", rep.removed);
        write_list(w, "changed", rep.changed);
        write_list(w, "rekeyed", rep.rekeyed);
        put(w, "unchanged", static_cast<uint64_t>(rep.unchanged));
        write_list(w, "restart_only_not_applied", rep.restart_only);
        w.EndObject();
    });
}

std::string Gateway::command_stats() {
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        w.Key("controlplane");
        w.StartObject();
        for (size_t i = 0; i < kCounterCount; ++i) put(w, counter_info(static_cast<Counter>(i)).name, counter(static_cast<Counter>(i)));
        w.EndObject();
        std::vector<uint64_t> dp;
        uint64_t sessions = 0, capacity = 0, epoch = 0;
        if (link_ && link_->dataplane_counters(dp, sessions, capacity, epoch)) {
            w.Key("dataplane");
            w.StartObject();
            for (size_t i = 0; i < dp.size(); ++i) put(w, shm::kDpCounterInfo[i].name, dp[i]);
            put(w, "sessions", sessions);
            put(w, "session_capacity", capacity);
            w.EndObject();
        } else {
            put_null(w, "dataplane");  // no dataplane attached: nothing measured, nothing shown
        }
        w.EndObject();
    });
}

// The dataplane workers' runtime (docs/dataplane.md, "Runtime"), from their counter blocks in the
// channel: one object per worker, then "total"; null when no dataplane is attached.
std::string Gateway::command_runtime() {
    std::vector<shm::CounterValues> blocks;
    shm::CounterValues main{};
    uint64_t sessions = 0, capacity = 0;
    const bool attached = link_ && link_->dataplane_counter_blocks(blocks, main, sessions, capacity);
    auto view = [](JsonWriter& w, const shm::CounterValues& v) {
        const shm::RuntimeView r = shm::RuntimeView::of(v);
        w.StartObject();
        put(w, "packets", r.packets);
        put(w, "busy_polls", r.busy_polls);
        put(w, "idle_polls", r.idle_polls);
        put(w, "busy_cycles", r.busy_cycles);
        put(w, "stalled_bursts", r.stalled_bursts);
        put(w, "idle_cycles", r.idle_cycles);
        w.Key("busy_share");
        w.Double(r.busy_share);
        w.Key("packets_per_burst");
        w.Double(r.packets_per_burst);
        w.Key("cycles_per_packet");
        w.Double(r.cycles_per_packet);
        w.Key("stage_cycles_per_packet");
        w.StartObject();
        for (size_t i = 0; i < shm::kRuntimeStageCount; ++i) {
            w.Key(shm::kRuntimeStages[i].name);
            w.Double(r.stage_per_packet[i]);
        }
        w.Key("other");
        w.Double(r.other_per_packet);
        w.EndObject();
        w.Key("bursts");
        w.StartObject();
        for (const shm::BurstBucket& b : shm::kBurstBuckets) put(w, b.name, v[static_cast<size_t>(b.counter)]);
        w.EndObject();
        w.EndObject();
    };
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        if (!attached) {
            put_null(w, "workers");
        } else {
            shm::CounterValues total{};
            w.Key("workers");
            w.StartArray();
            for (const shm::CounterValues& b : blocks) {
                view(w, b);
                for (size_t c = 0; c < shm::kDpCounterCount; ++c) total[c] += b[c];
            }
            w.EndArray();
            w.Key("total");
            view(w, total);
        }
        w.EndObject();
    });
}

}  // namespace rustun::cp
