#include "proto/messages.hpp"

#include "proto/json_reader.hpp"
#include "proto/json_writer.hpp"

namespace rustun {

namespace {

// Returns the first failed status in argument order (all arguments are evaluated; each one
// only reads into its own output field, so the evaluation order does not matter).
template <typename... S>
Status first_error(S&&... statuses) {
    Status result;
    ((result.ok() && !statuses.ok() ? (void)(result = std::move(statuses)) : (void)0), ...);
    return result;
}

template <typename T>
Result<T> to_result(Status s, T&& value) {
    if (!s) return make_error(s.error());
    return Result<T>(std::forward<T>(value));
}

// Parses `json` and checks that its root is an object; calls fn(const JsonObject&) -> Status.
template <typename Fn>
Status with_root_object(std::string_view json, std::string_view label, Fn&& fn) {
    JsonDocument doc;
    if (Status s = doc.parse(json, label); !s) return s;
    const JsonPath root(label);
    Result<JsonObject> obj = JsonObject::from(doc.root(), root);
    if (!obj) return make_error(obj.error());
    return fn(*obj);
}

// ---- writers ----

void write_string_list(JsonWriter& w, const std::vector<std::string>& list) {
    w.begin_array();
    for (const std::string& s : list) w.string(s);
    w.end_array();
}

void write_cider_mapping(JsonWriter& w, const CiderMapping& mapping) {
    w.begin_object();
    for (const auto& [virtual_cidr, real_cidr] : mapping) w.member(virtual_cidr, real_cidr);
    w.end_object();
}

void write_peer_detail(JsonWriter& w, const PeerDetail& p) {
    w.begin_object();
    w.member("name", p.name);
    w.member("identity", p.identity);
    w.member("private_ip", p.private_ip);
    w.key("ciders");
    write_string_list(w, p.ciders);
    w.member("ipv6", p.ipv6);
    w.member_uint("port", p.port);
    w.member("stun_ip", p.stun_ip);
    w.member_uint("stun_port", p.stun_port);
    w.member_uint("last_active", p.last_active);
    w.end_object();
}

// dbde974 RouteItem: the projection of PeerDetail.
void write_route_item(JsonWriter& w, const PeerDetail& p) {
    w.begin_object();
    w.member("identity", p.identity);
    w.member("private_ip", p.private_ip);
    w.key("ciders");
    write_string_list(w, p.ciders);
    w.member("ipv6", p.ipv6);
    w.member_uint("port", p.port);
    w.end_object();
}

void write_peer_details(JsonWriter& w, std::string_view key, const std::vector<PeerDetail>& peers) {
    w.key(key);
    w.begin_array();
    for (const PeerDetail& p : peers) write_peer_detail(w, p);
    w.end_array();
}

// ---- readers ----

Status read_peer_detail(const JsonObject& o, PeerDetail& p) {
    return first_error(o.get_string("name", p.name), o.get_string("identity", p.identity),
                       o.get_string("private_ip", p.private_ip),
                       o.get_string_list("ciders", p.ciders), o.get_string("ipv6", p.ipv6),
                       o.get_u16("port", p.port), o.get_string("stun_ip", p.stun_ip),
                       o.get_u16("stun_port", p.stun_port),
                       o.get_u64("last_active", p.last_active));
}

Status read_route_item(const JsonObject& o, PeerDetail& p) {
    return first_error(o.get_string("identity", p.identity),
                       o.get_string("private_ip", p.private_ip),
                       o.get_string_list("ciders", p.ciders), o.get_string("ipv6", p.ipv6),
                       o.get_u16("port", p.port));
}

// Appends one element per array entry, decoded with `read` (read_peer_detail / read_route_item).
auto appender(std::vector<PeerDetail>& out, Status (*read)(const JsonObject&, PeerDetail&)) {
    out.clear();
    return [&out, read](const JsonObject& element) { return read(element, out.emplace_back()); };
}

}  // namespace

// ---- Handshake ----

void encode_handshake(const Handshake& msg, Shape shape, std::string& out) {
    JsonWriter w(out);
    w.begin_object();
    w.member("identity", msg.identity);
    if (shape == Shape::Old) {
        w.member("ipv6", msg.ipv6);
        w.member_uint("port", msg.port);
    }
    w.end_object();
}

Result<Handshake> decode_handshake(std::string_view json, DecodeMode mode) {
    Handshake msg;
    Status s = with_root_object(json, "Handshake", [&](const JsonObject& o) {
        switch (mode) {
            case DecodeMode::StrictOld:
                msg.has_ipv6 = msg.has_port = true;
                return first_error(o.get_string("identity", msg.identity),
                                   o.get_string("ipv6", msg.ipv6), o.get_u16("port", msg.port));
            case DecodeMode::StrictNew:
                return o.get_string("identity", msg.identity);
            case DecodeMode::Lenient:
                break;
        }
        return first_error(o.get_string("identity", msg.identity),
                           o.opt_string("ipv6", msg.ipv6, msg.has_ipv6),
                           o.opt_u16("port", msg.port, msg.has_port));
    });
    return to_result(std::move(s), std::move(msg));
}

// ---- HandshakeReply ----

void encode_handshake_reply(const HandshakeReply& msg, ReplyShape shape, std::string& out) {
    JsonWriter w(out);
    w.begin_object();
    if (shape != ReplyShape::Old) w.member("name", msg.name);
    w.member("private_ip", msg.private_ip);
    w.member("mask", msg.mask);
    w.member("gateway", msg.gateway);
    if (shape != ReplyShape::Old) {
        w.key("ciders");
        write_string_list(w, msg.ciders);
        w.key("cider_mapping");
        write_cider_mapping(w, msg.cider_mapping);
        write_peer_details(w, "peer_details", msg.peers);
    }
    if (shape == ReplyShape::Superset) write_peer_details(w, "others", msg.peers);
    if (shape == ReplyShape::Old) {
        w.key("others");
        w.begin_array();
        for (const PeerDetail& p : msg.peers) write_route_item(w, p);
        w.end_array();
    }
    if (shape != ReplyShape::New) w.member("ipv6", msg.ipv6);
    w.end_object();
}

Result<HandshakeReply> decode_handshake_reply(std::string_view json, ReplyShape shape) {
    HandshakeReply msg;
    Status s = with_root_object(json, "HandshakeReply", [&](const JsonObject& o) {
        Status common = first_error(o.get_string("private_ip", msg.private_ip),
                                    o.get_string("mask", msg.mask),
                                    o.get_string("gateway", msg.gateway));
        if (shape == ReplyShape::Old) {
            return first_error(std::move(common),
                               o.get_object_list("others", appender(msg.peers, read_route_item)),
                               o.get_string("ipv6", msg.ipv6));
        }
        Status head = first_error(
            o.get_string("name", msg.name), std::move(common),
            o.get_string_list("ciders", msg.ciders),
            o.get_string_map("cider_mapping", msg.cider_mapping),
            o.get_object_list("peer_details", appender(msg.peers, read_peer_detail)));
        if (shape == ReplyShape::New || !head) return head;
        // Superset: an old client reads `others` as RouteItem entries; check it would succeed.
        std::vector<PeerDetail> others;
        return first_error(o.get_object_list("others", appender(others, read_route_item)),
                           o.get_string("ipv6", msg.ipv6));
    });
    return to_result(std::move(s), std::move(msg));
}

// ---- KeepAlive ----

void encode_keepalive(const KeepAlive& msg, Shape shape, std::string& out) {
    JsonWriter w(out);
    w.begin_object();
    if (shape == Shape::New) w.member("name", msg.name);
    w.member("identity", msg.identity);
    w.member("ipv6", msg.ipv6);
    w.member_uint("port", msg.port);
    if (shape == Shape::New) {
        w.member("stun_ip", msg.stun_ip);
        w.member_uint("stun_port", msg.stun_port);
        write_peer_details(w, "peer_details", msg.peer_details);
    }
    if (msg.seq.has_value()) w.member_uint("seq", *msg.seq);
    if (msg.cookie.has_value()) w.member("cookie", *msg.cookie);
    if (msg.replay.has_value()) w.member_uint("replay", *msg.replay);
    w.end_object();
}

Result<KeepAlive> decode_keepalive(std::string_view json, DecodeMode mode) {
    KeepAlive msg;
    Status s = with_root_object(json, "KeepAlive", [&](const JsonObject& o) {
        Status common = first_error(o.get_string("identity", msg.identity),
                                    o.get_string("ipv6", msg.ipv6), o.get_u16("port", msg.port));
        switch (mode) {
            case DecodeMode::StrictOld:
                msg.shape = Shape::Old;
                return common;
            case DecodeMode::StrictNew:
                msg.shape = Shape::New;
                msg.has_name = msg.has_stun_ip = msg.has_stun_port = msg.has_peer_details = true;
                return first_error(
                    o.get_string("name", msg.name), std::move(common),
                    o.get_string("stun_ip", msg.stun_ip),
                    o.get_u16("stun_port", msg.stun_port),
                    o.get_object_list("peer_details",
                                      appender(msg.peer_details, read_peer_detail)));
            case DecodeMode::Lenient:
                break;
        }
        uint64_t seq = 0, replay = 0;
        bool has_seq = false, has_cookie = false, has_replay = false;
        std::string cookie;
        Status st = first_error(
            o.opt_string("name", msg.name, msg.has_name), std::move(common),
            o.opt_string("stun_ip", msg.stun_ip, msg.has_stun_ip),
            o.opt_u16("stun_port", msg.stun_port, msg.has_stun_port),
            o.opt_object_list("peer_details", appender(msg.peer_details, read_peer_detail),
                              msg.has_peer_details),
            o.opt_u64("seq", seq, has_seq), o.opt_string("cookie", cookie, has_cookie),
            o.opt_u64("replay", replay, has_replay));
        if (has_seq) msg.seq = seq;
        if (has_cookie) msg.cookie = std::move(cookie);
        if (has_replay) msg.replay = replay;
        msg.shape = msg.has_name && msg.has_stun_ip && msg.has_stun_port && msg.has_peer_details
                        ? Shape::New
                        : Shape::Old;
        return st;
    });
    return to_result(std::move(s), std::move(msg));
}

// ---- PeerUpdate ----

void encode_peer_update(const PeerUpdate& msg, std::string& out) {
    JsonWriter w(out);
    w.begin_object();
    w.member("identity", msg.identity);
    w.member("ipv6", msg.ipv6);
    w.member_uint("port", msg.port);
    w.end_object();
}

Result<PeerUpdate> decode_peer_update(std::string_view json) {
    PeerUpdate msg;
    Status s = with_root_object(json, "PeerUpdate", [&](const JsonObject& o) {
        return first_error(o.get_string("identity", msg.identity), o.get_string("ipv6", msg.ipv6),
                           o.get_u16("port", msg.port));
    });
    return to_result(std::move(s), std::move(msg));
}

// ---- ProbeIPv6 / ProbeHolePunch ----

void encode_probe(const Probe& msg, std::string& out) {
    JsonWriter w(out);
    w.begin_object();
    w.member("identity", msg.identity);
    w.end_object();
}

Result<Probe> decode_probe(std::string_view json) {
    Probe msg;
    Status s = with_root_object(json, "Probe", [&](const JsonObject& o) {
        return o.get_string("identity", msg.identity);
    });
    return to_result(std::move(s), std::move(msg));
}

}  // namespace rustun
