// JSON writer (serde_json::to_string byte-identity) and strict reader (docs/protocol.md, "JSON encoding").
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "proto/json_reader.hpp"
#include "proto/json_writer.hpp"
#include "proto/messages.hpp"
#include "vectors.hpp"

namespace rustun {
namespace {

using namespace std::string_literals;

std::string written(std::string_view s) {
    std::string out;
    json_append_string(out, s);
    return out;
}

// ---- writer ----

TEST(JsonWriter, EscapingTableFromVectors) {
    size_t n = 0;
    for (const auto& e : test::vectors()["json_escaping"].GetArray()) {
        const std::string in(e["string"].GetString(), e["string"].GetStringLength());
        EXPECT_EQ(written(in), test::str(e, "serde_json")) << in;
        ++n;
    }
    EXPECT_EQ(n, 8u);
}

TEST(JsonWriter, EveryControlCharacter) {
    for (unsigned c = 0; c < 0x20; ++c) {
        std::string expected;
        switch (c) {
            case 0x08: expected = "\\b"; break;
            case 0x09: expected = "\\t"; break;
            case 0x0A: expected = "\\n"; break;
            case 0x0C: expected = "\\f"; break;
            case 0x0D: expected = "\\r"; break;
            default: {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                expected = buf;
            }
        }
        EXPECT_EQ(written(std::string(1, static_cast<char>(c))), "\"" + expected + "\"") << c;
    }
    EXPECT_EQ(written("\x7f/\xe4\xb8\x8a"), "\"\x7f/\xe4\xb8\x8a\"");
    EXPECT_EQ(written(""), "\"\"");
}

TEST(JsonWriter, StructureAndIntegers) {
    std::string out = "HDR";  // existing content is kept
    JsonWriter w(out);
    w.begin_object();
    w.member_uint("a", 0);
    w.key("b");
    w.begin_array();
    w.uint(18446744073709551615u);
    w.begin_object();
    w.end_object();
    w.begin_array();
    w.end_array();
    w.string("x");
    w.end_array();
    w.key("c");
    w.begin_object();
    w.member("d", "e");
    w.end_object();
    w.member_uint("f", 65535);
    w.end_object();
    EXPECT_EQ(out, R"(HDR{"a":0,"b":[18446744073709551615,{},[],"x"],"c":{"d":"e"},"f":65535})");
}

TEST(JsonWriter, Booleans) {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.member_bool("t", true);
    w.member_bool("f", false);
    w.key("a");
    w.begin_array();
    w.boolean(false);
    w.boolean(true);
    w.end_array();
    w.end_object();
    EXPECT_EQ(out, R"({"t":true,"f":false,"a":[false,true]})");
}

// ---- reader ----

Status parse(std::string_view text) {
    JsonDocument doc;
    return doc.parse(text, "T");
}

Result<PeerUpdate> peer_update_with_port(const std::string& port) {
    return decode_peer_update(R"({"identity":"a","ipv6":"","port":)" + port + "}");
}

TEST(JsonReader, EscapingTableDecodes) {
    for (const auto& e : test::vectors()["json_escaping"].GetArray()) {
        const std::string in(e["string"].GetString(), e["string"].GetStringLength());
        const auto probe = decode_probe(R"({"identity":)" + test::str(e, "serde_json") + "}");
        ASSERT_TRUE(probe.ok()) << probe.error();
        EXPECT_EQ(probe->identity, in);
    }
}

TEST(JsonReader, U16Bounds) {
    for (const char* ok : {"0", "1", "51258", "65535", " 65535 "}) {
        const auto r = peer_update_with_port(ok);
        ASSERT_TRUE(r.ok()) << ok << ": " << r.error();
    }
    EXPECT_EQ(peer_update_with_port("65535")->port, 65535);
    for (const char* bad : {"65536", "-1", "1.0", "\"1\"", "1e2", "-0", "null", "true",
                            "18446744073709551616", "[1]", "{}"}) {
        const auto r = peer_update_with_port(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().find("PeerUpdate.port"), std::string::npos) << r.error();
    }
    for (const char* syntax : {"0x10", "01", "+1", ".5", "1."}) {
        EXPECT_FALSE(peer_update_with_port(syntax).ok()) << syntax;
    }
    EXPECT_NE(peer_update_with_port("65536").error().find("0..65535"), std::string::npos);
    EXPECT_NE(peer_update_with_port("65536").error().find("got 65536"), std::string::npos);
    EXPECT_NE(peer_update_with_port("\"1\"").error().find("got a string"), std::string::npos);
}

TEST(JsonReader, U64Bounds) {
    auto seq = [](const std::string& v) {
        return decode_keepalive(R"({"identity":"a","ipv6":"","port":1,"seq":)" + v + "}");
    };
    ASSERT_TRUE(seq("18446744073709551615").ok());
    EXPECT_EQ(*seq("18446744073709551615")->seq, 18446744073709551615u);
    EXPECT_EQ(*seq("0")->seq, 0u);
    for (const char* bad : {"18446744073709551616", "-1", "1.5", "1e3", "\"5\"", "null", "-0"}) {
        const auto r = seq(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().find("KeepAlive.seq"), std::string::npos) << r.error();
    }
}

TEST(JsonReader, MissingRequiredMember) {
    const auto r = decode_peer_update(R"({"identity":"a","ipv6":""})");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), "PeerUpdate.port: missing required member");
    const auto nested = decode_handshake_reply(
        R"({"private_ip":"","mask":"","gateway":"","others":[{"identity":"x","private_ip":"",)"
        R"("ciders":[],"ipv6":""}],"ipv6":""})",
        ReplyShape::Old);
    ASSERT_FALSE(nested.ok());
    EXPECT_EQ(nested.error(), "HandshakeReply.others[0].port: missing required member");
}

TEST(JsonReader, UnknownMembersIgnored) {
    const auto r = decode_peer_update(
        R"({"x":[1,{"y":null},-3.5e7],"identity":"a","ipv6":"","port":1,"z":{"identity":5}})");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->identity, "a");
}

TEST(JsonReader, DuplicateMemberRefused) {
    const auto r = decode_probe(R"({"identity":"a","identity":"b"})");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("duplicate member \"identity\""), std::string::npos) << r.error();
    // Also inside nested objects, including members we do not read.
    EXPECT_FALSE(decode_probe(R"({"identity":"a","x":{"k":1,"k":2}})").ok());
    EXPECT_FALSE(decode_probe(R"({"identity":"a","x":[{"k":1,"j":0,"k":2}]})").ok());
    const auto nested = decode_handshake_reply(
        R"({"private_ip":"","mask":"","gateway":"","others":[{"identity":"x","private_ip":"",)"
        R"("ciders":[],"ipv6":"","port":1,"port":2}],"ipv6":""})",
        ReplyShape::Old);
    ASSERT_FALSE(nested.ok());
    EXPECT_NE(nested.error().find("HandshakeReply.others[0]: duplicate member \"port\""),
              std::string::npos)
        << nested.error();
}

TEST(JsonReader, TrailingContent) {
    EXPECT_TRUE(parse("{} \t\r\n").ok());
    EXPECT_TRUE(parse(" \n{ \"a\" : [ 1 , 2 ] }\n").ok());
    EXPECT_FALSE(parse("{}x").ok());
    EXPECT_FALSE(parse("{}{}").ok());
    EXPECT_FALSE(parse("{},").ok());
    const Status nul = parse("{}\0"s);
    ASSERT_FALSE(nul.ok());
    EXPECT_NE(nul.error().find("trailing"), std::string::npos) << nul.error();
    EXPECT_FALSE(parse("{} \0"s).ok());
    EXPECT_FALSE(decode_probe("{\"identity\":\"a\"}\0"s).ok());
    EXPECT_FALSE(parse("\0{}"s).ok());
    EXPECT_FALSE(parse("{\"a\":\0}"s).ok());
    EXPECT_FALSE(parse("").ok());
    EXPECT_FALSE(parse("   ").ok());
    EXPECT_FALSE(parse("\xef\xbb\xbf{}").ok());  // BOM
}

TEST(JsonReader, InvalidUtf8Refused) {
    for (const char* bad : {"\xc3\x28", "\xc0\x80", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80",
                            "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xff",
                            "\x80", "\xe4\xb8", "\xf0\x9f\x98"}) {
        const Status s = parse("{\"identity\":\""s + bad + "\"}");
        EXPECT_FALSE(s.ok()) << to_hex(reinterpret_cast<const uint8_t*>(bad), std::strlen(bad));
        EXPECT_FALSE(parse("{\""s + bad + "\":1}").ok());  // in a member name too
    }
    const auto ok = decode_probe("{\"identity\":\"\xe4\xb8\x8a\xf0\x9f\x98\x80\xc3\xa9\x7f\"}");
    ASSERT_TRUE(ok.ok()) << ok.error();
    EXPECT_EQ(ok->identity, "\xe4\xb8\x8a\xf0\x9f\x98\x80\xc3\xa9\x7f");
}

TEST(JsonReader, RawControlCharacterInStringRefused) {
    EXPECT_FALSE(decode_probe("{\"identity\":\"a\tb\"}").ok());
    EXPECT_FALSE(decode_probe("{\"identity\":\"a\nb\"}").ok());
}

TEST(JsonReader, UnicodeEscapesDecoded) {
    auto identity = [](const std::string& json_string) {
        const auto r = decode_probe(R"({"identity":)" + json_string + "}");
        EXPECT_TRUE(r.ok()) << json_string << ": " << r.error();
        return r.ok() ? r->identity : std::string("<error>");
    };
    EXPECT_EQ(identity(R"("\u00e9\u00E9")"), "\xc3\xa9\xc3\xa9");
    EXPECT_EQ(identity(R"("\u4e0a\u6d77")"), "\xe4\xb8\x8a\xe6\xb5\xb7");
    EXPECT_EQ(identity(R"("\ud83d\ude00")"), "\xf0\x9f\x98\x80");
    EXPECT_EQ(identity(R"("\uDBFF\uDFFF")"), "\xf4\x8f\xbf\xbf");
    EXPECT_EQ(identity(R"("a\u0000b")"), "a\0b"s);
    EXPECT_EQ(identity(R"("\"\\\/\b\f\n\r\t")"), "\"\\/\b\f\n\r\t");
    // Member names are unescaped as well.
    EXPECT_TRUE(decode_probe(R"({"\u0069dentity":"a"})").ok());
}

TEST(JsonReader, LoneSurrogateRefused) {
    for (const char* bad : {R"("\ud800")", R"("\udbff")", R"("\udc00")", R"("\udfff")",
                            R"("\ud800\u0041")", R"("\ud800x")", R"("\udc00\ud800")",
                            R"("\ude00\ud83d")", R"("a\udc00b")"}) {
        const auto r = decode_probe(R"({"identity":)" + std::string(bad) + "}");
        EXPECT_FALSE(r.ok()) << bad;
        // Also in a member we ignore, and in a member name.
        EXPECT_FALSE(decode_probe(R"({"identity":"a","x":)" + std::string(bad) + "}").ok()) << bad;
        EXPECT_FALSE(decode_probe(R"({"identity":"a",)" + std::string(bad) + ":1}").ok()) << bad;
    }
    const auto r = decode_probe(R"({"identity":"\udc00"})");
    EXPECT_NE(r.error().find("surrogate"), std::string::npos) << r.error();
}

TEST(JsonReader, NullRefusedForStringAndList) {
    const auto s = decode_probe(R"({"identity":null})");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error(), "Probe.identity: expected a string, got null");
    const auto list = decode_handshake_reply(
        R"({"name":"","private_ip":"","mask":"","gateway":"","ciders":null,"cider_mapping":{},)"
        R"("peer_details":[]})",
        ReplyShape::New);
    ASSERT_FALSE(list.ok());
    EXPECT_NE(list.error().find("HandshakeReply.ciders: expected a list of strings, got null"),
              std::string::npos)
        << list.error();
    EXPECT_FALSE(decode_handshake_reply(
                     R"({"name":"","private_ip":"","mask":"","gateway":"","ciders":[null],)"
                     R"("cider_mapping":{},"peer_details":[]})",
                     ReplyShape::New)
                     .ok());
    EXPECT_FALSE(decode_handshake_reply(
                     R"({"name":"","private_ip":"","mask":"","gateway":"","ciders":[],)"
                     R"("cider_mapping":{"a":null},"peer_details":[]})",
                     ReplyShape::New)
                     .ok());
    EXPECT_FALSE(decode_handshake_reply(
                     R"({"name":"","private_ip":"","mask":"","gateway":"","ciders":[],)"
                     R"("cider_mapping":{},"peer_details":null})",
                     ReplyShape::New)
                     .ok());
}

TEST(JsonReader, RootMustBeObject) {
    const auto arr = decode_keepalive(R"(["client-a","",51258])");  // serde's array quirk
    ASSERT_FALSE(arr.ok());
    EXPECT_EQ(arr.error(), "KeepAlive: expected an object, got a list");
    EXPECT_FALSE(decode_probe(R"("client-a")").ok());
    EXPECT_FALSE(decode_probe("1").ok());
    EXPECT_FALSE(decode_probe("null").ok());
}

TEST(JsonReader, SyntaxErrorsReportOffset) {
    const Status s = parse(R"({"a":1,})");
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().find("T: invalid JSON at byte"), std::string::npos) << s.error();
    EXPECT_FALSE(parse("{'a':1}").ok());
    EXPECT_FALSE(parse("{\"a\":NaN}").ok());
    EXPECT_FALSE(parse("{\"a\":1 /*c*/}").ok());
    EXPECT_FALSE(parse("{\"a\":1e400}").ok());
}

TEST(JsonReader, NestingLimit) {
    auto nested = [](unsigned depth) {
        return R"({"identity":"a","x":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
    };
    EXPECT_TRUE(decode_probe(nested(kJsonMaxDepth - 1)).ok());  // root object + 127 arrays
    const auto r = decode_probe(nested(kJsonMaxDepth));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("nesting"), std::string::npos) << r.error();
    EXPECT_FALSE(decode_probe(nested(60000)).ok());
}

TEST(JsonReader, DocumentIsReusable) {
    JsonDocument doc;
    ASSERT_TRUE(doc.parse(R"({"a":"x"})", "T").ok());
    ASSERT_FALSE(doc.parse(R"({"a":"x"} y)", "T").ok());
    EXPECT_TRUE(doc.root().IsNull());
    ASSERT_TRUE(doc.parse(R"({"b":2})", "T").ok());
    const JsonPath root("T");
    const auto obj = JsonObject::from(doc.root(), root);
    ASSERT_TRUE(obj.ok());
    EXPECT_FALSE(obj->has("a"));
    uint16_t b = 0;
    ASSERT_TRUE(obj->get_u16("b", b).ok());
    EXPECT_EQ(b, 2);
}

}  // namespace
}  // namespace rustun
