// Dialect detection (docs/protocol.md, "Dialect detection") and what a dialect may be sent.
#include <gtest/gtest.h>

#include "proto/dialect.hpp"
#include "vectors.hpp"

namespace rustun {
namespace {

std::string plain_json(const std::string& name) {
    return test::str(test::by_id("vectors", "plain/" + name), "plaintext_json");
}

TEST(Dialect, DetectedFromHandshake) {
    const auto old_hs = decode_handshake(plain_json("dbde974/handshake"));
    const auto new_hs = decode_handshake(plain_json("HEAD/handshake"));
    ASSERT_TRUE(old_hs.ok());
    ASSERT_TRUE(new_hs.ok());
    EXPECT_EQ(detect_dialect(*old_hs), Dialect::Old);
    EXPECT_EQ(detect_dialect(*new_hs), Dialect::New);
    // Only one of the two old members: not the dbde974 shape.
    const auto partial = decode_handshake(R"({"identity":"a","ipv6":""})");
    ASSERT_TRUE(partial.ok());
    EXPECT_EQ(detect_dialect(*partial), Dialect::New);
    EXPECT_EQ(dialect_name(Dialect::Old), "dbde974");
    EXPECT_EQ(dialect_name(Dialect::New), "HEAD");
}

TEST(Dialect, ConfirmedByKeepAlive) {
    const auto old_ka = decode_keepalive(plain_json("dbde974/keepalive"));
    const auto new_ka = decode_keepalive(plain_json("HEAD/keepalive_client"));
    ASSERT_TRUE(old_ka.ok());
    ASSERT_TRUE(new_ka.ok());
    EXPECT_EQ(dialect_of_keepalive(*old_ka), Dialect::Old);
    EXPECT_EQ(dialect_of_keepalive(*new_ka), Dialect::New);
    EXPECT_TRUE(keepalive_confirms(Dialect::Old, *old_ka));
    EXPECT_TRUE(keepalive_confirms(Dialect::New, *new_ka));
    EXPECT_FALSE(keepalive_confirms(Dialect::Old, *new_ka));
    EXPECT_FALSE(keepalive_confirms(Dialect::New, *old_ka));
    // Intermediate client: stun_ip without name is still the new generation.
    const auto mid = decode_keepalive(
        R"({"identity":"a","ipv6":"","port":0,"stun_ip":"","stun_port":0,"peer_details":[]})");
    ASSERT_TRUE(mid.ok());
    EXPECT_EQ(dialect_of_keepalive(*mid), Dialect::New);
}

TEST(Dialect, ShapesAndSendableTypes) {
    EXPECT_EQ(body_shape(Dialect::Old), Shape::Old);
    EXPECT_EQ(body_shape(Dialect::New), Shape::New);
    EXPECT_EQ(reply_shape(Dialect::Old), ReplyShape::Old);
    EXPECT_EQ(reply_shape(Dialect::New), ReplyShape::New);
    for (Dialect d : {Dialect::Old, Dialect::New}) {
        for (uint8_t t = 1; t <= 4; ++t) EXPECT_TRUE(may_send_on_tcp(d, t));
        EXPECT_FALSE(may_send_on_tcp(d, 6));
        EXPECT_FALSE(may_send_on_tcp(d, 7));
        EXPECT_FALSE(may_send_on_tcp(d, 0));
        EXPECT_FALSE(may_send_on_tcp(d, 8));
    }
    EXPECT_TRUE(may_send_on_tcp(Dialect::Old, 5));
    EXPECT_FALSE(may_send_on_tcp(Dialect::New, 5));
}

}  // namespace
}  // namespace rustun
