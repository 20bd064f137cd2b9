#include "fleet_commands.hpp"

#include <set>

#include "json_members.hpp"

namespace rustun::cp {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

}  // namespace

void write_fleet_gateways(JsonWriter& w, const FleetSnapshot& s, const FleetStatus& st, const std::string& self_id,
                          const std::string& self_hash) {
    w.StartObject();
    json::member(w, "gateway", self_id);
    json::member(w, "config_hash", self_hash);
    w.Key("etcd");
    w.StartObject();
    json::member_bool(w, "connected", st.connected);
    json::member(w, "endpoint", st.endpoint);
    json::member(w, "lease", static_cast<uint64_t>(st.lease));
    json::member(w, "revision", static_cast<uint64_t>(st.revision));
    json::member(w, "watch_lag_ms", st.watch_lag_ms);
    json::member_bool(w, "stale", st.stale);
    json::member(w, "last_error", st.last_error);
    w.EndObject();
    std::set<std::string> hashes;
    w.Key("gateways");
    w.StartArray();
    for (const FleetGateway& g : s.gateways()) {
        hashes.insert(g.config_hash);
        w.StartObject();
        json::member(w, "id", g.id);
        json::member(w, "tcp", g.tcp_listen);
        json::member(w, "udp", g.udp_listen);
        json::member(w, "link", g.link);
        json::member_bool(w, "udp_link", g.udp_link);
        json::member(w, "version", g.version);
        json::member(w, "config_hash", g.config_hash);
        json::member_bool(w, "config_differs", g.config_hash != self_hash);
        json::member(w, "clients", g.clients);
        json::member(w, "started_at", g.started_at);
        json::member(w, "updated_at", g.updated_at);
        json::member(w, "last_seen", g.last_seen);
        json::member_bool(w, "self", g.self);
        w.EndObject();
    }
    w.EndArray();
    json::member(w, "config_hashes", hashes.size());  // > 1: the gateways do not run one configuration
    json::member(w, "remote_clients", s.client_count());
    w.EndObject();
}

void write_remote_clients(JsonWriter& w, const FleetSnapshot& s, const std::string& cluster_filter, uint64_t limit) {
    w.Key("remote");
    w.StartArray();
    uint64_t n = 0;
    auto one = [&](const RemoteClient& c) {
        if (n++ >= limit) return false;
        w.StartObject();
        json::member(w, "identity", c.identity);
        json::member(w, "cluster", c.cluster);
        json::member(w, "home", c.home);
        json::member(w, "home_link", s.home_link(c));
        json::member(w, "epoch", c.epoch);
        json::member(w, "private_ip", c.private_ip.to_string());
        json::member(w, "ciders", c.ciders);
        json::member(w, "dialect", c.dialect == Dialect::Old ? "old" : "new");
        json::member(w, "ipv6", c.ipv6);
        json::member(w, "port", c.port);
        json::member(w, "stun_ip", c.stun_ip);
        json::member(w, "stun_port", c.stun_port);
        json::member(w, "udp_endpoint", c.udp_endpoint);
        json::member(w, "last_active", c.last_active);
        w.EndObject();
        return true;
    };
    if (cluster_filter.empty()) {
        s.for_each_client(one);
    } else {
        bool more = true;
        s.for_each_in_cluster(cluster_filter, [&](const RemoteClient& c) { more = more && one(c); });
    }
    w.EndArray();
    json::member_bool(w, "remote_stale", s.stale);
}

}  // namespace rustun::cp
