#include "fleet_commands.hpp"

#include <set>

namespace rustun::cp {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void str(JsonWriter& w, const char* k, std::string_view v) {
    w.Key(k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void num(JsonWriter& w, const char* k, uint64_t v) {
    w.Key(k);
    w.Uint64(v);
}
void flag(JsonWriter& w, const char* k, bool v) {
    w.Key(k);
    w.Bool(v);
}

}  // namespace

void write_fleet_gateways(JsonWriter& w, const FleetSnapshot& s, const FleetStatus& st, const std::string& self_id,
                          const std::string& self_hash) {
    w.StartObject();
    str(w, "gateway", self_id);
    str(w, "config_hash", self_hash);
    w.Key("etcd");
    w.StartObject();
    flag(w, "connected", st.connected);
    str(w, "endpoint", st.endpoint);
    num(w, "lease", static_cast<uint64_t>(st.lease));
    num(w, "revision", static_cast<uint64_t>(st.revision));
    num(w, "watch_lag_ms", st.watch_lag_ms);
    flag(w, "stale", st.stale);
    str(w, "last_error", st.last_error);
    w.EndObject();
    std::set<std::string> hashes;
    w.Key("gateways");
    w.StartArray();
    for (const FleetGateway& g : s.gateways()) {
        hashes.insert(g.config_hash);
        w.StartObject();
        str(w, "id", g.id);
        str(w, "tcp", g.tcp_listen);
        str(w, "udp", g.udp_listen);
        str(w, "link", g.link);
        str(w, "version", g.version);
        str(w, "config_hash", g.config_hash);
        flag(w, "config_differs", g.config_hash != self_hash);
        num(w, "clients", g.clients);
        num(w, "started_at", g.started_at);
        num(w, "updated_at", g.updated_at);
        num(w, "last_seen", g.last_seen);
        flag(w, "self", g.self);
        w.EndObject();
    }
    w.EndArray();
    num(w, "config_hashes", hashes.size());  // > 1: the gateways do not run one configuration
    num(w, "remote_clients", s.clients().size());
    w.EndObject();
}

void write_remote_clients(JsonWriter& w, const FleetSnapshot& s, const std::string& cluster_filter, uint64_t limit) {
    w.Key("remote");
    w.StartArray();
    uint64_t n = 0;
    for (const RemoteClient& c : s.clients()) {
        if (!cluster_filter.empty() && c.cluster != cluster_filter) continue;
        if (n++ >= limit) break;
        w.StartObject();
        str(w, "identity", c.identity);
        str(w, "cluster", c.cluster);
        str(w, "home", c.home);
        str(w, "home_link", c.link());
        num(w, "epoch", c.epoch);
        str(w, "private_ip", c.private_ip.to_string());
        w.Key("ciders");
        w.StartArray();
        for (const Ipv4Cidr& x : c.ciders) {
            const std::string t = x.to_string();
            w.String(t.c_str(), static_cast<rapidjson::SizeType>(t.size()));
        }
        w.EndArray();
        str(w, "dialect", c.dialect == Dialect::Old ? "old" : "new");
        str(w, "ipv6", c.ipv6);
        num(w, "port", c.port);
        str(w, "stun_ip", c.stun_ip);
        num(w, "stun_port", c.stun_port);
        str(w, "udp_endpoint", c.udp_endpoint);
        num(w, "last_active", c.last_active);
        w.EndObject();
    }
    w.EndArray();
    flag(w, "remote_stale", s.stale);
}

}  // namespace rustun::cp
