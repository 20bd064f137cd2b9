#include "fleet_records.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "json_members.hpp"

namespace rustun::cp {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

using json::member;

// Reads members of a parsed object; the first problem is kept in `error`.
struct Reader {
    const rapidjson::Value& obj;
    const char* what;
    std::string error;
    bool str(const char* name, std::string& out) {
        auto it = obj.FindMember(name);
        if (it == obj.MemberEnd() || !it->value.IsString()) return fail(name, "a string");
        out.assign(it->value.GetString(), it->value.GetStringLength());
        return true;
    }
    bool u64(const char* name, uint64_t& out) {
        auto it = obj.FindMember(name);
        if (it == obj.MemberEnd() || !it->value.IsUint64()) return fail(name, "an unsigned integer");
        out = it->value.GetUint64();
        return true;
    }
    bool u16(const char* name, uint16_t& out) {
        uint64_t v = 0;
        if (!u64(name, v)) return false;
        if (v > 65535) return fail(name, "a port (0..65535)");
        out = static_cast<uint16_t>(v);
        return true;
    }
    bool fail(const char* name, const char* expected) {
        if (error.empty()) error = std::string(what) + ": member '" + name + "' missing or not " + expected;
        return false;
    }
};

Result<rapidjson::Document> parse_object(std::string_view json, const char* what) {
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject()) return make_error(std::string(what) + ": not a JSON object");
    return d;
}

}  // namespace

std::string fleet_key_segment(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        if (ch == '%') out += "%25";
        else if (ch == '/') out += "%2F";
        else out += ch;
    }
    return out;
}

std::string fleet_gateways_prefix(std::string_view prefix) { return std::string(prefix) + "/gateways/"; }
std::string fleet_clients_prefix(std::string_view prefix) { return std::string(prefix) + "/clients/"; }

std::string fleet_gateway_key(std::string_view prefix, std::string_view gateway_id) {
    return fleet_gateways_prefix(prefix) + fleet_key_segment(gateway_id);
}

std::string fleet_client_key(std::string_view prefix, std::string_view cluster, std::string_view identity) {
    return fleet_clients_prefix(prefix) + fleet_key_segment(cluster) + "/" + fleet_key_segment(identity);
}

std::string encode_gateway_record(const FleetGateway& g) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    member(w, "id", g.id);
    member(w, "tcp", g.tcp_listen);
    member(w, "udp", g.udp_listen);
    member(w, "link", g.link);
    if (g.udp_link) json::member_bool(w, "udp_link", true);
    member(w, "version", g.version);
    member(w, "config_hash", g.config_hash);
    member(w, "clients", g.clients);
    member(w, "started_at", g.started_at);
    member(w, "updated_at", g.updated_at);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

Result<FleetGateway> decode_gateway_record(std::string_view json) {
    auto d = parse_object(json, "gateway record");
    if (!d) return make_error(d.error());
    Reader r{d.value(), "gateway record", {}};
    FleetGateway g;
    r.str("id", g.id) && r.str("tcp", g.tcp_listen) && r.str("udp", g.udp_listen) && r.str("link", g.link) &&
        r.str("version", g.version) && r.str("config_hash", g.config_hash) && r.u64("clients", g.clients) &&
        r.u64("started_at", g.started_at) && r.u64("updated_at", g.updated_at);
    if (!r.error.empty()) return make_error(r.error);
    if (g.id.empty()) return make_error("gateway record: empty 'id'");
    // Optional (written since the UDP link exists; an older gateway's record has none).
    if (d.value().HasMember("udp_link")) {
        const rapidjson::Value& v = d.value()["udp_link"];
        if (!v.IsBool()) return make_error("gateway record: member 'udp_link' not a boolean");
        g.udp_link = v.GetBool();
    }
    return g;
}

std::string encode_client_record(const RemoteClient& c) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    member(w, "cluster", c.cluster);
    member(w, "identity", c.identity);
    member(w, "home", c.home);
    member(w, "epoch", c.epoch);
    member(w, "private_ip", c.private_ip.to_string());
    member(w, "ciders", c.ciders);
    member(w, "dialect", c.dialect == Dialect::Old ? "old" : "new");
    member(w, "ipv6", c.ipv6);
    member(w, "port", uint64_t{c.port});
    member(w, "stun_ip", c.stun_ip);
    member(w, "stun_port", uint64_t{c.stun_port});
    member(w, "udp", c.udp_endpoint);
    member(w, "updated_at", c.last_active);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

Result<RemoteClient> decode_client_record(std::string_view json) {
    auto d = parse_object(json, "client record");
    if (!d) return make_error(d.error());
    Reader r{d.value(), "client record", {}};
    RemoteClient c;
    std::string ip, dialect;
    r.str("cluster", c.cluster) && r.str("identity", c.identity) && r.str("home", c.home) &&
        r.u64("epoch", c.epoch) && r.str("private_ip", ip) && r.str("dialect", dialect) && r.str("ipv6", c.ipv6) &&
        r.u16("port", c.port) && r.str("stun_ip", c.stun_ip) && r.u16("stun_port", c.stun_port) &&
        r.str("udp", c.udp_endpoint) && r.u64("updated_at", c.last_active);
    if (!r.error.empty()) return make_error(r.error);
    auto pip = parse_ipv4(ip);
    if (!pip) return make_error("client record: 'private_ip' is not an IPv4 address: '" + ip + "'");
    c.private_ip = *pip;
    if (dialect != "old" && dialect != "new") return make_error("client record: 'dialect' is neither old nor new");
    c.dialect = dialect == "old" ? Dialect::Old : Dialect::New;
    const rapidjson::Value& doc = d.value();
    auto it = doc.FindMember("ciders");
    if (it == doc.MemberEnd() || !it->value.IsArray())
        return make_error("client record: member 'ciders' missing or not an array");
    for (const auto& v : it->value.GetArray()) {
        if (!v.IsString()) return make_error("client record: 'ciders' holds a non-string");
        auto cidr = parse_ipv4_cidr(std::string_view(v.GetString(), v.GetStringLength()));
        if (!cidr) return make_error(std::string("client record: 'ciders' holds a bad CIDR: '") + v.GetString() + "'");
        c.ciders.push_back(*cidr);
    }
    if (c.cluster.empty() || c.identity.empty() || c.home.empty())
        return make_error("client record: empty 'cluster', 'identity' or 'home'");
    return c;
}

}  // namespace rustun::cp
