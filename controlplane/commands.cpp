// Control-socket commands (docs/controlplane.md, "Control socket"): JSON in, JSON out.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <cstdlib>

#include "dataplane_link.hpp"
#include "fleet_commands.hpp"
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

// One client's runtime part, copied under the state mutex; the answer is written from it and
// the membership's configured part (held by shared_ptr) after the mutex is released, so that a
// long list never stalls the workers (they take that mutex to route).
struct ClientRow {
    ClientId id = kNoClient;
    bool online = false;
    Dialect dialect = Dialect::New;
    std::string tcp_peer;
    bool udp_bound = false;
    shm::Endpoint udp_endpoint{};
    uint64_t last_active = 0, connected_since = 0;
    uint64_t rx_frames = 0, rx_bytes = 0, tx_frames = 0, tx_bytes = 0, drops = 0;
    // Detail only (`client IDENTITY`).
    std::string ipv6, stun_ip;
    uint16_t port = 0, stun_port = 0;
};

ClientRow copy_row(ClientId id, const ClientEntry& e, bool detail) {
    ClientRow r;
    r.id = id;
    r.online = e.rt.conn != nullptr;
    r.dialect = e.rt.dialect;
    if (r.online) r.tcp_peer = e.rt.conn->peer_text;
    r.udp_bound = e.udp.bound;
    r.udp_endpoint = e.udp.endpoint;
    r.last_active = e.rt.last_active;
    r.connected_since = e.rt.connected_since;
    r.rx_frames = e.stats->rx_frames.load(std::memory_order_relaxed);
    r.rx_bytes = e.stats->rx_bytes.load(std::memory_order_relaxed);
    r.tx_frames = e.stats->tx_frames.load(std::memory_order_relaxed);
    r.tx_bytes = e.stats->tx_bytes.load(std::memory_order_relaxed);
    r.drops = e.stats->drops.load(std::memory_order_relaxed);
    if (detail) {
        r.ipv6 = e.rt.ipv6;
        r.port = e.rt.port;
        r.stun_ip = e.rt.stun_ip;
        r.stun_port = e.rt.stun_port;
    }
    return r;
}

// `m`: only its configured part is read (the caller may not hold the state mutex).
void write_client(JsonWriter& w, const Membership& m, const ClientRow& r, bool detail) {
    const ClientEntry& e = m.clients[r.id];
    w.StartObject();
    put(w, "identity", e.cfg.identity);
    put(w, "name", e.cfg.name);
    put(w, "cluster", m.clusters[e.cluster].name);
    put(w, "private_ip", e.cfg.private_ip.to_string());
    w.Key("online");
    w.Bool(r.online);
    if (r.online) put(w, "dialect", std::string(r.dialect == Dialect::Old ? "old" : "new"));
    else put_null(w, "dialect");
    if (r.online) put(w, "tcp_peer", r.tcp_peer);
    else put_null(w, "tcp_peer");
    if (r.udp_bound) put(w, "udp_endpoint", endpoint_text(r.udp_endpoint));
    else put_null(w, "udp_endpoint");
    put(w, "last_active", r.last_active);
    put(w, "rx_frames", r.rx_frames);
    put(w, "rx_bytes", r.rx_bytes);
    put(w, "tx_frames", r.tx_frames);
    put(w, "tx_bytes", r.tx_bytes);
    put(w, "drops", r.drops);
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
        put(w, "ipv6", r.ipv6);
        put(w, "port", r.port);
        put(w, "stun_ip", r.stun_ip);
        put(w, "stun_port", r.stun_port);
        put(w, "connected_since", r.connected_since);
        put(w, "origin", e.cfg.origin);
    }
    w.EndObject();
}

// {"name": value, ...} of a counter table (`info` gives each index its name).
template <typename Values, typename Info>
void write_counters(JsonWriter& w, const Values& v, Info&& info) {
    w.StartObject();
    for (size_t i = 0; i < v.size(); ++i) put(w, info(i), v[i]);
    w.EndObject();
}

const char* cp_name(size_t i) { return counter_info(static_cast<Counter>(i)).name; }
const char* dp_name(size_t i) { return shm::kDpCounterInfo[i].name; }

void write_list(JsonWriter& w, const char* k, const std::vector<std::string>& v) {
    w.Key(k);
    w.StartArray();
    for (const auto& s : v) w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    w.EndArray();
}

// The last reload and the restart-only changes waiting for a restart ("last_reload": null before
// the first reload). `rc`: a copy of Gateway::reloads_ (a private type, hence the template).
template <typename ReloadCounts>
void write_reload_status(JsonWriter& w, const ReloadCounts& rc) {
    if (rc.last_at_s == 0) {
        put_null(w, "last_reload");
    } else {
        w.Key("last_reload");
        w.StartObject();
        put(w, "at", rc.last_at_s);
        put(w, "result", std::string(rc.last_ok ? "ok" : "failed"));
        put(w, "trigger", rc.last_trigger);
        if (rc.last_ok) {
            put(w, "added", static_cast<uint64_t>(rc.added));
            put(w, "removed", static_cast<uint64_t>(rc.removed));
            put(w, "changed", static_cast<uint64_t>(rc.changed));
            put(w, "rekeyed", static_cast<uint64_t>(rc.rekeyed));
        } else {
            put(w, "error", rc.last_error);
        }
        w.EndObject();
    }
    write_list(w, "restart_pending", rc.restart_pending);
}

}  // namespace

std::string Gateway::handle_command(const std::string& line) {
    // Iterative and depth-limited (lib/proto/control_request.hpp): no input can exhaust the stack.
    auto req = parse_control_request(line);
    if (!req) return error_answer(req.error());
    const std::string& cmd = req->cmd;
    auto arg = [&](const char* name) { return req->arg(name); };
    if (cmd == "status") return command_status();
    if (cmd == "clients")
        return command_clients(arg("cluster"), arg("online") == "true", arg("limit"), arg("all") == "true");
    if (cmd == "gateways") return command_gateways();
    if (cmd == "client") return command_client(arg("identity"));
    if (cmd == "kick") return command_kick(arg("identity"));
    if (cmd == "reload") return command_reload();
    if (cmd == "stats") return command_stats();
    if (cmd == "dataplane") return command_dataplane();
    if (cmd == "clear-counters") return command_clear_counters();
    if (cmd == "runtime") return command_runtime();
    return error_answer("unknown command '" + cmd +
                        "' (status, clients, client, kick, reload, stats, dataplane, clear-counters, runtime, gateways)");
}

std::string Gateway::command_status() {
    const std::string dp_version = link_ ? link_->dataplane_version() : std::string();
    ReloadCounts reloads;
    {
        MutexLock rl(reload_mu_);
        reloads = reloads_;
    }
    MutexLock lk(state_.mu());
    const Membership& m = state_.members();
    const uint64_t loaded_at = config_loaded_at_;
    const std::string listen_tcp = cfg_.listen.tcp.to_string();
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        put(w, "version", std::string(kVersion));
        put(w, "channel_version", static_cast<uint64_t>(shm::kChannelVersion));  // the one it attaches to
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
            if (!dp_version.empty()) put(w, "dataplane_version", dp_version);
            // Same channel version, other builds: it works, but say so (docs/operations.md, "Upgrades").
            if (!dp_version.empty() && dp_version != kVersion)
                put(w, "version_warning", "the dataplane runs " + dp_version + ", the control plane " + kVersion);
        }
        write_reload_status(w, reloads);
        w.EndObject();
    });
}

std::string Gateway::command_gateways() {
    if (!fleet_) return error_answer("no fleet: this gateway has no `fleet:` section (docs/fleet.md)");
    std::string self_id;
    {
        MutexLock lk(state_.mu());
        self_id = cfg_.fleet->gateway_id;
    }
    const FleetStatus st = fleet_->status();
    const auto snap = state_.fleet_view().snapshot();
    return ok_answer([&](JsonWriter& w) { write_fleet_gateways(w, *snap, st, self_id, st.config_hash); });
}

std::string Gateway::command_clients(const std::string& cluster_filter, bool online_only,
                                     const std::string& limit_text, bool all) {
    uint64_t limit = UINT64_MAX;
    if (!limit_text.empty()) {
        char* end = nullptr;
        limit = std::strtoull(limit_text.c_str(), &end, 10);
        if (*end != '\0' || limit_text[0] == '-') return error_answer("limit: expected a number, got '" + limit_text + "'");
    }
    std::shared_ptr<Membership> held;
    std::vector<ClientRow> rows;
    uint64_t matched = 0, online = 0;
    {
        MutexLock lk(state_.mu());
        held = state_.hold_members();
        const Membership& m = *held;
        ClusterId only = 0;
        bool found = cluster_filter.empty();
        for (ClusterId c = 0; c < m.clusters.size(); ++c)
            if (m.clusters[c].name == cluster_filter) {
                only = c;
                found = true;
            }
        if (!found) return error_answer("no cluster named '" + cluster_filter + "'");
        for (ClientId id = 0; id < m.clients.size(); ++id) {
            const ClientEntry& e = m.clients[id];
            if (!cluster_filter.empty() && e.cluster != only) continue;
            const bool on = e.rt.conn != nullptr;
            online += on;
            if (online_only && !on) continue;
            ++matched;
            if (rows.size() < limit) rows.push_back(copy_row(id, e, false));
        }
    }
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        w.Key("clients");
        w.StartArray();
        for (const auto& r : rows) write_client(w, *held, r, false);
        w.EndArray();
        put(w, "matched", matched);  // before --limit: every client the filters select
        put(w, "online", online);    // online among the clients of the cluster filter
        if (all) write_remote_clients(w, *state_.fleet_view().snapshot(), cluster_filter, limit);
        w.EndObject();
    });
}

std::string Gateway::command_client(const std::string& identity) {
    std::shared_ptr<Membership> held;
    ClientRow row;
    {
        MutexLock lk(state_.mu());
        held = state_.hold_members();
        ClientId id = held->find(identity);
        if (id == kNoClient) return error_answer("no client with identity '" + identity + "'");
        row = copy_row(id, held->clients[id], true);
    }
    return ok_answer([&](JsonWriter& w) { write_client(w, *held, row, true); });
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
        put(w, "state_mutex_us", rep.state_mutex_us);
        put(w, "dataplane_messages", static_cast<uint64_t>(rep.dataplane_messages));
        w.Key("dataplane_full_sync");
        w.Bool(rep.dataplane_full_sync);
        w.EndObject();
    });
}

CpCounterValues Gateway::counter_values() const {
    CpCounterValues v{};
    for (size_t i = 0; i < kCounterCount; ++i) v[i] = counter(static_cast<Counter>(i));
    return v;
}

bool Gateway::dataplane_snapshot(DpCounterSnapshot& dp, uint64_t& sessions, uint64_t& capacity) {
    std::vector<uint64_t> totals;
    std::array<uint64_t, shm::kDpCounterCount> main_block{};
    if (!link_ || !link_->dataplane_counters(totals, sessions, capacity, dp.epoch)) return false;
    if (!link_->dataplane_counter_blocks(dp.workers, main_block, sessions, capacity)) return false;
    for (size_t i = 0; i < dp.totals.size() && i < totals.size(); ++i) dp.totals[i] = totals[i];
    return true;
}

std::string Gateway::command_stats() {
    CpCounterValues cp = counter_values();
    baseline_.subtract(cp);
    DpCounterSnapshot dp;
    uint64_t sessions = 0, capacity = 0;
    const bool attached = dataplane_snapshot(dp, sessions, capacity);
    if (attached) baseline_.subtract(dp);
    const uint64_t cleared_at = baseline_.cleared_at();
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        w.Key("controlplane");
        write_counters(w, cp, cp_name);
        if (attached) {
            w.Key("dataplane");
            w.StartObject();
            for (size_t i = 0; i < dp.totals.size(); ++i) put(w, dp_name(i), dp.totals[i]);
            put(w, "sessions", sessions);
            put(w, "session_capacity", capacity);
            w.EndObject();
        } else {
            put_null(w, "dataplane");  // no dataplane attached: nothing measured, nothing shown
        }
        if (cleared_at) put(w, "cleared_at", cleared_at);  // counts since this Unix time
        w.EndObject();
    });
}

std::string Gateway::command_dataplane() {
    DpCounterSnapshot dp;
    uint64_t sessions = 0, capacity = 0;
    const bool attached = dataplane_snapshot(dp, sessions, capacity);
    if (attached) baseline_.subtract(dp);
    const uint64_t cleared_at = baseline_.cleared_at();
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        put(w, "dataplane", std::string(!link_ ? "not configured" : attached ? "attached" : "not attached"));
        if (attached) {
            put(w, "sessions", sessions);
            put(w, "session_capacity", capacity);
            w.Key("workers");
            w.StartArray();
            for (const auto& block : dp.workers) write_counters(w, block, dp_name);
            w.EndArray();
        }
        if (cleared_at) put(w, "cleared_at", cleared_at);
        w.EndObject();
    });
}

std::string Gateway::command_clear_counters() {
    DpCounterSnapshot dp;
    uint64_t sessions = 0, capacity = 0;
    const bool attached = dataplane_snapshot(dp, sessions, capacity);
    const uint64_t now = realtime_s();
    baseline_.record(counter_values(), attached ? &dp : nullptr, now);
    return ok_answer([&](JsonWriter& w) {
        w.StartObject();
        put(w, "cleared_at", now);
        w.Key("dataplane");
        w.Bool(attached);
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
