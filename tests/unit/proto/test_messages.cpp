// Frame bodies: every JSON vector of vectors.json decodes with the decoder of its frame type and
// shape and re-encodes byte-identically; shape-specific strictness; our KeepAlive extension.
#include <gtest/gtest.h>

#include <string>

#include "proto/dialect.hpp"
#include "proto/messages.hpp"
#include "vectors.hpp"

namespace rustun {
namespace {

// Decodes `json` as (type, shape) strictly, re-encodes it in the same shape and returns the text;
// records a test failure (and returns "") when decoding fails.
std::string round_trip(unsigned type, const std::string& shape, const std::string& json) {
    std::string out;
    const bool old = shape == "dbde974";
    const bool compat = shape.rfind("compat", 0) == 0;
    auto fail = [&](const std::string& err) {
        ADD_FAILURE() << "decode failed: " << err;
        return std::string();
    };
    switch (static_cast<FrameType>(type)) {
        case FrameType::Handshake: {
            const auto m = decode_handshake(json, old ? DecodeMode::StrictOld : DecodeMode::StrictNew);
            if (!m) return fail(m.error());
            encode_handshake(*m, old ? Shape::Old : Shape::New, out);
            return out;
        }
        case FrameType::KeepAlive: {
            const auto m = decode_keepalive(json, old ? DecodeMode::StrictOld : DecodeMode::StrictNew);
            if (!m) return fail(m.error());
            encode_keepalive(*m, old ? Shape::Old : Shape::New, out);
            return out;
        }
        case FrameType::HandshakeReply: {
            const ReplyShape rs = compat ? ReplyShape::Superset : old ? ReplyShape::Old : ReplyShape::New;
            const auto m = decode_handshake_reply(json, rs);
            if (!m) return fail(m.error());
            encode_handshake_reply(*m, rs, out);
            return out;
        }
        case FrameType::PeerUpdate: {
            EXPECT_TRUE(old);
            const auto m = decode_peer_update(json);
            if (!m) return fail(m.error());
            encode_peer_update(*m, out);
            return out;
        }
        case FrameType::ProbeIPv6:
        case FrameType::ProbeHolePunch: {
            EXPECT_FALSE(old);
            const auto m = decode_probe(json);
            if (!m) return fail(m.error());
            encode_probe(*m, out);
            return out;
        }
        case FrameType::Data: break;
    }
    ADD_FAILURE() << "no body codec for type " << type;
    return out;
}

// Same with the lenient decoders our gateway uses, re-encoding in the detected shape.
std::string lenient_round_trip(unsigned type, const std::string& json) {
    std::string out;
    if (type == 1) {
        const auto m = decode_handshake(json);
        EXPECT_TRUE(m.ok()) << m.error();
        if (m) encode_handshake(*m, body_shape(detect_dialect(*m)), out);
    } else if (type == 2) {
        const auto m = decode_keepalive(json);
        EXPECT_TRUE(m.ok()) << m.error();
        if (m) encode_keepalive(*m, m->shape, out);
    }
    return out;
}

TEST(MessageVectors, EveryJsonBodyRoundTripsByteIdentical) {
    size_t bodies = 0;
    for (const auto& v : test::vectors()["vectors"].GetArray()) {
        const unsigned type = v["frame_type"].GetUint();
        const std::string id = test::str(v, "id");
        SCOPED_TRACE(id);
        if (type == 3) {  // Data: no JSON; the plaintext is the raw IP packet
            EXPECT_FALSE(v.HasMember("plaintext_json") && v["plaintext_json"].IsString());
            continue;
        }
        const std::string json = test::str(v, "plaintext_json");
        ASSERT_FALSE(json.empty());
        const std::string shape = test::str(v, "shape");
        EXPECT_EQ(round_trip(type, shape, json), json);
        if (type == 1 || type == 2) {
            EXPECT_EQ(lenient_round_trip(type, json), json);
        }
        // The plain cipher's payload is the plaintext itself.
        if (test::str(v, "cipher") == "plain") {
            const std::vector<uint8_t> payload = test::hex_bytes(v, "payload_hex");
            EXPECT_EQ(std::string(payload.begin(), payload.end()), json);
        }
        ++bodies;
    }
    EXPECT_EQ(bodies, 44u);  // 52 vectors minus 8 Data frames
}

const std::string& plain_json(const char* name) {
    static std::string s;
    s = test::str(test::by_id("vectors", std::string("plain/") + name), "plaintext_json");
    EXPECT_FALSE(s.empty()) << name;
    return s;
}

TEST(MessageVectors, CompatReplyDecodesAsOldAndAsNew) {
    const std::string json = plain_json("compat/handshake_reply_compat_superset");
    const auto as_old = decode_handshake_reply(json, ReplyShape::Old);
    const auto as_new = decode_handshake_reply(json, ReplyShape::New);
    const auto as_sup = decode_handshake_reply(json, ReplyShape::Superset);
    ASSERT_TRUE(as_old.ok()) << as_old.error();
    ASSERT_TRUE(as_new.ok()) << as_new.error();
    ASSERT_TRUE(as_sup.ok()) << as_sup.error();
    EXPECT_EQ(as_old->ipv6, "2001:db8::2");
    ASSERT_EQ(as_old->peers.size(), 2u);
    EXPECT_EQ(as_old->peers[0].identity, "client-b");
    EXPECT_EQ(as_old->peers[0].port, 51258);
    EXPECT_EQ(as_old->peers[0].name, "");  // RouteItem has no name
    EXPECT_EQ(as_new->name, "Client A");
    ASSERT_EQ(as_new->peers.size(), 2u);
    EXPECT_EQ(as_new->peers[1].name, "上海网关");
    EXPECT_EQ(as_new->peers[0].last_active, 1767225600u);
    EXPECT_EQ(as_sup->peers, as_new->peers);
    EXPECT_EQ(as_sup->ipv6, "2001:db8::2");

    // From the New decode plus the handshake ipv6, the Superset encoding is the vector.
    HandshakeReply reply = *as_new;
    reply.ipv6 = "2001:db8::2";
    std::string out;
    encode_handshake_reply(reply, ReplyShape::Superset, out);
    EXPECT_EQ(out, json);
}

TEST(MessageVectors, ReplyShapesAreMutuallyExclusive) {  // docs/protocol.md, "Compatibility table", row 5
    const std::string old_json = plain_json("dbde974/handshake_reply_2peers");
    const std::string new_json = plain_json("HEAD/handshake_reply_2peers");
    const auto a = decode_handshake_reply(old_json, ReplyShape::New);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error(), "HandshakeReply.name: missing required member");
    const auto b = decode_handshake_reply(new_json, ReplyShape::Old);
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.error(), "HandshakeReply.others: missing required member");
    EXPECT_FALSE(decode_handshake_reply(new_json, ReplyShape::Superset).ok());
    EXPECT_FALSE(decode_handshake_reply(old_json, ReplyShape::Superset).ok());
}

TEST(MessageVectors, OldReplyFromFullPeerDetailsWritesRouteItems) {
    const auto full = decode_handshake_reply(plain_json("HEAD/handshake_reply_2peers"), ReplyShape::New);
    ASSERT_TRUE(full.ok());
    HandshakeReply reply = *full;
    reply.ipv6 = "2001:db8::2";
    std::string out;
    encode_handshake_reply(reply, ReplyShape::Old, out);
    // The dbde974 vector has the same peers, but peer c has no CIDRs in both and peer b the
    // same CIDRs, so the projection is exactly the dbde974 vector.
    EXPECT_EQ(out, plain_json("dbde974/handshake_reply_2peers"));
}

TEST(MessageVectors, HeadHandshakeToOldParser) {
    // negative/HEAD_handshake_to_dbde974_parser: its plaintext is the HEAD Handshake.
    const std::string json = R"({"identity":"client-a"})";
    EXPECT_EQ(json, plain_json("HEAD/handshake"));
    const auto strict_old = decode_handshake(json, DecodeMode::StrictOld);
    ASSERT_FALSE(strict_old.ok());
    EXPECT_EQ(strict_old.error(), "Handshake.ipv6: missing required member");
    const auto lenient = decode_handshake(json, DecodeMode::Lenient);
    ASSERT_TRUE(lenient.ok()) << lenient.error();
    EXPECT_EQ(lenient->identity, "client-a");
    EXPECT_FALSE(lenient->has_ipv6);
    EXPECT_FALSE(lenient->has_port);
    EXPECT_TRUE(decode_handshake(json, DecodeMode::StrictNew).ok());
    // And the old Handshake is accepted by a HEAD parser (extra members ignored), "Compatibility table" row 4.
    const auto old_by_new = decode_handshake(plain_json("dbde974/handshake"), DecodeMode::StrictNew);
    ASSERT_TRUE(old_by_new.ok());
    EXPECT_EQ(old_by_new->identity, "client-a");
}

TEST(MessageVectors, LenientHandshakeRecordsMembers) {
    const auto m = decode_handshake(plain_json("dbde974/handshake"));
    ASSERT_TRUE(m.ok());
    EXPECT_TRUE(m->has_ipv6);
    EXPECT_TRUE(m->has_port);
    EXPECT_EQ(m->ipv6, "2001:db8::2");
    EXPECT_EQ(m->port, 51258);
    // Present members must have the right type even when optional.
    EXPECT_FALSE(decode_handshake(R"({"identity":"a","port":"51258"})").ok());
    EXPECT_FALSE(decode_handshake(R"({"ipv6":"","port":1})").ok());
}

TEST(MessageVectors, KeepAliveShapes) {  // docs/protocol.md, "Compatibility table", row 8
    const std::string old_json = plain_json("dbde974/keepalive");
    const std::string new_json = plain_json("HEAD/keepalive_reply_2peers");
    const auto new_as_old = decode_keepalive(new_json, DecodeMode::StrictOld);
    ASSERT_TRUE(new_as_old.ok()) << new_as_old.error();
    EXPECT_EQ(new_as_old->identity, "client-a");
    EXPECT_EQ(new_as_old->shape, Shape::Old);
    EXPECT_TRUE(new_as_old->peer_details.empty());  // not read in StrictOld
    const auto old_as_new = decode_keepalive(old_json, DecodeMode::StrictNew);
    ASSERT_FALSE(old_as_new.ok());
    EXPECT_EQ(old_as_new.error(), "KeepAlive.name: missing required member");

    const auto detected_old = decode_keepalive(old_json);
    ASSERT_TRUE(detected_old.ok());
    EXPECT_EQ(detected_old->shape, Shape::Old);
    EXPECT_FALSE(detected_old->has_name);
    const auto detected_new = decode_keepalive(new_json);
    ASSERT_TRUE(detected_new.ok());
    EXPECT_EQ(detected_new->shape, Shape::New);
    EXPECT_EQ(detected_new->peer_details.size(), 2u);
    EXPECT_EQ(detected_new->stun_port, 51259);

    // An intermediate client (docs/protocol.md, "Intermediate clients"): stun members but no name yet.
    const auto mid = decode_keepalive(
        R"({"identity":"a","ipv6":"","port":0,"stun_ip":"198.51.100.9","stun_port":1,"peer_details":[]})");
    ASSERT_TRUE(mid.ok()) << mid.error();
    EXPECT_EQ(mid->shape, Shape::Old);
    EXPECT_TRUE(mid->has_stun_ip);
    EXPECT_FALSE(mid->has_name);
}

TEST(KeepAliveExtension, SeqEncodedLastWhenSet) {
    auto m = decode_keepalive(plain_json("dbde974/keepalive"));
    ASSERT_TRUE(m.ok());
    EXPECT_FALSE(m->seq.has_value());
    m->seq = 42;
    std::string out;
    encode_keepalive(*m, Shape::Old, out);
    EXPECT_EQ(out, R"({"identity":"client-a","ipv6":"2001:db8::2","port":51258,"seq":42})");
    out.clear();
    m->name = "A";
    encode_keepalive(*m, Shape::New, out);
    EXPECT_EQ(out,
              R"({"name":"A","identity":"client-a","ipv6":"2001:db8::2","port":51258,)"
              R"("stun_ip":"","stun_port":0,"peer_details":[],"seq":42})");

    // Lenient decoding reads it back; the strict reference modes ignore it like references do.
    const auto back = decode_keepalive(out);
    ASSERT_TRUE(back.ok());
    ASSERT_TRUE(back->seq.has_value());
    EXPECT_EQ(*back->seq, 42u);
    EXPECT_EQ(back->shape, Shape::New);
    const auto ref_new = decode_keepalive(out, DecodeMode::StrictNew);
    ASSERT_TRUE(ref_new.ok());
    EXPECT_FALSE(ref_new->seq.has_value());
    EXPECT_TRUE(decode_keepalive(out, DecodeMode::StrictOld).ok());
    EXPECT_TRUE(decode_keepalive(R"({"identity":"a","ipv6":"","port":1,"seq":"x"})",
                                 DecodeMode::StrictOld).ok());
}

// Return-routability cookie and Data replay opt-in (docs/protocol-extensions.md): after "seq",
// read back leniently, ignored by the strict reference modes.
TEST(KeepAliveExtension, CookieAndReplayEncodedAfterSeq) {
    KeepAlive k;
    k.identity = "client-a";
    k.seq = 42;
    k.cookie = "0123456789abcdef";
    k.replay = 1764650000123456789ull;
    std::string out;
    encode_keepalive(k, Shape::Old, out);
    EXPECT_EQ(out, R"({"identity":"client-a","ipv6":"","port":0,"seq":42,"cookie":"0123456789abcdef",)"
                   R"("replay":1764650000123456789})");
    const auto back = decode_keepalive(out);
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(back->cookie, k.cookie);
    EXPECT_EQ(back->replay, k.replay);
    const auto ref = decode_keepalive(out, DecodeMode::StrictOld);
    ASSERT_TRUE(ref.ok());
    EXPECT_FALSE(ref->cookie.has_value());
    EXPECT_FALSE(ref->replay.has_value());
    EXPECT_FALSE(decode_keepalive(R"({"identity":"a","ipv6":"","port":1,"cookie":7})").ok());
    EXPECT_FALSE(decode_keepalive(R"({"identity":"a","ipv6":"","port":1,"replay":"x"})").ok());
}

TEST(KeepAliveExtension, UnknownExtraMembersIgnored) {
    const auto m = decode_keepalive(
        R"({"identity":"a","ipv6":"","port":1,"future":{"x":[1,2]},"flags":7})");
    ASSERT_TRUE(m.ok()) << m.error();
    std::string out;
    encode_keepalive(*m, Shape::Old, out);
    EXPECT_EQ(out, R"({"identity":"a","ipv6":"","port":1})");
}

TEST(HandshakeReplyCodec, CiderMappingOrder) {
    HandshakeReply r;
    r.name = "n";
    r.cider_mapping = {{"10.9.0.0/16", "192.168.0.0/16"}, {"10.1.0.0/16", "172.16.0.0/16"}};
    std::string out;
    encode_handshake_reply(r, ReplyShape::New, out);
    EXPECT_EQ(out,
              R"({"name":"n","private_ip":"","mask":"","gateway":"","ciders":[],"cider_mapping":)"
              R"({"10.9.0.0/16":"192.168.0.0/16","10.1.0.0/16":"172.16.0.0/16"},"peer_details":[]})");
    const auto back = decode_handshake_reply(out, ReplyShape::New);
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(back->cider_mapping, r.cider_mapping);
    EXPECT_EQ(*back, r);

    // Any order is accepted on decode.
    const auto reordered = decode_handshake_reply(
        R"({"peer_details":[],"cider_mapping":{"b":"2","a":"1"},"ciders":["x"],"gateway":"g",)"
        R"("mask":"m","private_ip":"p","name":"n"})",
        ReplyShape::New);
    ASSERT_TRUE(reordered.ok()) << reordered.error();
    EXPECT_EQ(reordered->cider_mapping, (CiderMapping{{"b", "2"}, {"a", "1"}}));
    EXPECT_EQ(reordered->gateway, "g");
}

TEST(HandshakeReplyCodec, SupersetEqualsBothListsAndEscapes) {
    HandshakeReply r;
    r.name = "quote\" and \\ and \x01";
    r.private_ip = "10.0.0.2";
    r.peers.push_back(PeerDetail{"p", "id", "10.0.0.3", {"1.0.0.0/8"}, "::1", 1, "s", 2, 3});
    r.ipv6 = "";
    std::string out;
    encode_handshake_reply(r, ReplyShape::Superset, out);
    const std::string peer =
        R"([{"name":"p","identity":"id","private_ip":"10.0.0.3","ciders":["1.0.0.0/8"],)"
        R"("ipv6":"::1","port":1,"stun_ip":"s","stun_port":2,"last_active":3}])";
    EXPECT_EQ(out, R"({"name":"quote\" and \\ and \u0001","private_ip":"10.0.0.2","mask":"",)"
                   R"("gateway":"","ciders":[],"cider_mapping":{},"peer_details":)" +
                       peer + R"(,"others":)" + peer + R"(,"ipv6":""})");
    const auto back = decode_handshake_reply(out, ReplyShape::Superset);
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(*back, r);
}

TEST(SmallBodies, PeerUpdateAndProbe) {
    const auto pu = decode_peer_update(plain_json("dbde974/peer_update"));
    ASSERT_TRUE(pu.ok());
    EXPECT_EQ(pu->identity, "client-b");
    EXPECT_EQ(pu->ipv6, "2001:db8::33");
    EXPECT_EQ(pu->port, 51258);
    const auto pr = decode_probe(plain_json("HEAD/probe_ipv6"));
    ASSERT_TRUE(pr.ok());
    EXPECT_EQ(pr->identity, "client-a");
    std::string out = "prefix";
    encode_probe(*pr, out);
    EXPECT_EQ(out, R"(prefix{"identity":"client-a"})");
}

}  // namespace
}  // namespace rustun
