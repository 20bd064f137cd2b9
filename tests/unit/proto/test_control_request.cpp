// Control-socket request parsing (lib/proto/control_request.hpp): iterative, depth-limited.
#include <gtest/gtest.h>

#include <string>

#include "proto/control_request.hpp"

namespace rustun {
namespace {

TEST(ControlRequest, CommandAndStringArguments) {
    auto r = parse_control_request(R"({"cmd":"clients","cluster":"test","n":5,"x":{"cmd":"no"}} )");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->cmd, "clients");
    EXPECT_EQ(r->arg("cluster"), "test");
    EXPECT_EQ(r->arg("n"), "");  // not a string: ignored
    EXPECT_EQ(r->arg("missing"), "");
    EXPECT_EQ(r->args.size(), 1u);
}

TEST(ControlRequest, Refusals) {
    EXPECT_EQ(parse_control_request("not json").error().rfind("request is not valid JSON", 0), 0u);
    EXPECT_EQ(parse_control_request("[1]").error(), "request is not a JSON object");
    EXPECT_EQ(parse_control_request("\"status\"").error(), "request is not a JSON object");
    EXPECT_EQ(parse_control_request("{\"cmd\":5}").error(), "request has no \"cmd\" string");
    EXPECT_EQ(parse_control_request("{}").error(), "request has no \"cmd\" string");
    EXPECT_EQ(parse_control_request(R"({"cmd":"a","cmd":"b"})").error(), "request has a repeated member name");
    EXPECT_FALSE(parse_control_request(R"({"cmd":"status"} x)").ok());
    EXPECT_FALSE(parse_control_request("{\"cmd\":\"\xff\"}").ok());  // not UTF-8
    // Found by fuzz_control_request: RapidJSON turns a lone low surrogate escape into non-UTF-8.
    EXPECT_FALSE(parse_control_request(R"({"cmd":"a\ude83"})").ok());
    EXPECT_FALSE(parse_control_request(R"({"cmd":"a","\udc00":"x"})").ok());
    EXPECT_EQ(parse_control_request(R"({"cmd":"\u00e9\ud83d\ude00"})")->cmd, "\xc3\xa9\xf0\x9f\x98\x80");
    EXPECT_FALSE(parse_control_request(std::string(kControlRequestMaxBytes + 1, ' ')).ok());
}

TEST(ControlRequest, DepthLimit) {
    std::string ok = "{\"cmd\":\"status\",\"a\":" + std::string(kControlRequestMaxDepth - 1, '[') +
                     std::string(kControlRequestMaxDepth - 1, ']') + "}";
    EXPECT_TRUE(parse_control_request(ok).ok()) << parse_control_request(ok).error();
    std::string deep = "{\"cmd\":\"status\",\"a\":" + std::string(kControlRequestMaxDepth, '[') +
                       std::string(kControlRequestMaxDepth, ']') + "}";
    EXPECT_EQ(parse_control_request(deep).error(), "request nests deeper than 16 levels");
}

// 65,000 nested '[' overflowed the stack of the recursive parser.
TEST(ControlRequest, SixtyFiveThousandBracketsAreAnErrorNotACrash) {
    auto r = parse_control_request(std::string(65000, '['));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), "request is not a JSON object");
    auto r2 = parse_control_request("{\"cmd\":\"status\",\"a\":" + std::string(65000, '['));
    ASSERT_FALSE(r2.ok());
    EXPECT_EQ(r2.error(), "request nests deeper than 16 levels");
    auto r3 = parse_control_request("{\"a\":" + std::string(32000, '{') );
    ASSERT_FALSE(r3.ok());
}

}  // namespace
}  // namespace rustun
