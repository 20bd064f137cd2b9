// config-routes-json: the reference routes.json importer (docs/protocol.md, "The reference routes.json").
#include <gtest/gtest.h>

#include "config/routes_json.hpp"
#include "test_helpers.hpp"

namespace rustun {
namespace {

using test::replace_once;

// The 3-client example of the reference routes.json (docs/protocol.md, "The reference routes.json").
constexpr std::string_view kExample = R"([
  {"name":"Client A","cluster":"test","identity":"client-a","private_ip":"10.0.1.2","mask":"255.255.255.0","gateway":"10.0.1.254","ciders":["192.168.11.0/24"],"cider_mapping":{"192.168.11.0/24":"192.168.10.0/24"}},
  {"name":"Client B","cluster":"test","identity":"client-b","private_ip":"10.0.1.3","mask":"255.255.255.0","gateway":"10.0.1.254","ciders":["192.168.1.0/24"]},
  {"name":"上海网关","cluster":"test","identity":"client-c","private_ip":"10.0.1.4","mask":"255.255.255.0","gateway":"10.0.1.254","ciders":[]}
]
)";

#define EXPECT_HAS(haystack, needle) \
    EXPECT_NE((haystack).find(needle), std::string::npos) << "missing \"" << (needle) << "\" in: " << (haystack)

std::string error_of(std::string_view text) {
    auto r = parse_routes_json(text, "routes.json");
    EXPECT_FALSE(r.ok()) << "unexpectedly accepted:\n" << text;
    return r.ok() ? std::string() : r.error();
}

TEST(ConfigRoutesJson, WireExampleImports) {
    auto r = parse_routes_json(kExample, "routes.json");
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->size(), 3u);
    const auto& a = (*r)[0];
    EXPECT_EQ(a.cluster, "test");
    EXPECT_EQ(a.client.name, "Client A");
    EXPECT_EQ(a.client.identity, "client-a");
    EXPECT_EQ(a.client.private_ip.to_string(), "10.0.1.2");
    EXPECT_EQ(a.client.mask.to_string(), "255.255.255.0");
    EXPECT_EQ(a.client.gateway.to_string(), "10.0.1.254");
    ASSERT_EQ(a.client.ciders.size(), 1u);
    EXPECT_EQ(a.client.ciders[0].to_string(), "192.168.11.0/24");
    ASSERT_EQ(a.client.cider_mapping.size(), 1u);
    EXPECT_EQ(a.client.cider_mapping[0].virtual_cidr.to_string(), "192.168.11.0/24");
    EXPECT_EQ(a.client.cider_mapping[0].real_cidr.to_string(), "192.168.10.0/24");
    EXPECT_EQ(a.client.origin, "routes.json: line 2, column 3: [0]");
    EXPECT_EQ(a.identity_at().to_string(), "routes.json: line 2, column 50: [0].identity");

    const auto& b = (*r)[1];
    EXPECT_EQ(b.client.identity, "client-b");
    EXPECT_TRUE(b.client.cider_mapping.empty());
    EXPECT_EQ(b.client.ciders.at(0).to_string(), "192.168.1.0/24");

    const auto& c = (*r)[2];
    EXPECT_EQ(c.client.name, "上海网关");
    EXPECT_EQ(c.client.identity, "client-c");
    EXPECT_TRUE(c.client.ciders.empty());
    // Columns count characters: the four CJK characters count 4, not 12.
    EXPECT_EQ(c.identity_pos.column, 46u);
    EXPECT_EQ(c.identity_pos.line, 4u);
}

TEST(ConfigRoutesJson, OptionalAndUnknownMembers) {
    auto r = parse_routes_json(R"([{"cluster":"c","identity":"i","private_ip":"1.2.3.4","mask":"255.255.255.255",
        "gateway":"1.2.3.5","ciders":["10.0.0.1/8"],"extra":{"deep":[1,[2,{"x":null}],true]},"cider_mapping":
        {"10.0.0.0/8":"172.16.0.0/12","1.0.0.0/8":"2.0.0.0/8"},"last":3.5}])",
                               "r.json");
    ASSERT_TRUE(r.ok()) << r.error();
    const ClientConfig& c = r->at(0).client;
    EXPECT_EQ(c.name, "");
    EXPECT_EQ(c.ciders.at(0).to_string(), "10.0.0.1/8");  // host bits kept as written
    EXPECT_EQ(c.ciders.at(0).network(), 0x0A000000u);
    ASSERT_EQ(c.cider_mapping.size(), 2u);  // order kept
    EXPECT_EQ(c.cider_mapping[0].virtual_cidr.to_string(), "10.0.0.0/8");
    EXPECT_EQ(c.cider_mapping[1].virtual_cidr.to_string(), "1.0.0.0/8");

    auto empty = parse_routes_json(" [ ] ", "r.json");
    ASSERT_TRUE(empty.ok()) << empty.error();
    EXPECT_TRUE(empty->empty());
}

TEST(ConfigRoutesJson, BadValueNamesIndexMemberLineAndColumn) {
    std::string text = replace_once(std::string(kExample), "\"10.0.1.3\"", "\"10.0.1.256\"");
    std::string e = error_of(text);
    EXPECT_HAS(e, "routes.json: line 3, column 74: [1].private_ip: expected an IPv4 address");
    EXPECT_HAS(e, "\"10.0.1.256\"");

    e = error_of(replace_once(std::string(kExample), "\"192.168.1.0/24\"", "\"192.168.1.0/24\",\"192.168.1.0\""));
    EXPECT_HAS(e, "line 3");
    EXPECT_HAS(e, "[1].ciders[1]: expected an IPv4 CIDR");

    e = error_of(replace_once(std::string(kExample), "\"mask\":\"255.255.255.0\",\"gateway\":\"10.0.1.254\",\"ciders\":[]",
                              "\"mask\":\"255.255.0.255\",\"gateway\":\"10.0.1.254\",\"ciders\":[]"));
    EXPECT_HAS(e, "line 4");
    EXPECT_HAS(e, "[2].mask: expected a contiguous netmask");

    e = error_of(replace_once(std::string(kExample), "\"192.168.10.0/24\"", "\"192.168.10.0/99\""));
    EXPECT_HAS(e, "line 2");
    EXPECT_HAS(e, "[0].cider_mapping[\"192.168.11.0/24\"]: expected an IPv4 CIDR");
}

TEST(ConfigRoutesJson, WrongTypesAndMissingMembers) {
    std::string e = error_of(replace_once(std::string(kExample), "\"ciders\":[]", "\"ciders\":\"\""));
    EXPECT_HAS(e, "line 4");
    EXPECT_HAS(e, "[2].ciders: expected an array of CIDR strings");

    e = error_of(replace_once(std::string(kExample), "\"cluster\":\"test\",\"identity\":\"client-b\"",
                              "\"cluster\":7,\"identity\":\"client-b\""));
    EXPECT_HAS(e, "routes.json: line 3, column 32: [1].cluster: expected a string");

    e = error_of(replace_once(std::string(kExample), ",\"gateway\":\"10.0.1.254\",\"ciders\":[]}", ",\"ciders\":[]}"));
    EXPECT_HAS(e, "routes.json: line 4, column 3: [2]: missing member \"gateway\"");

    e = error_of(R"([{"cluster":"c","identity":"i","private_ip":"1.2.3.4","mask":"255.0.0.0","gateway":"1.2.3.5"}])");
    EXPECT_HAS(e, "[0]: missing member \"ciders\"");

    e = error_of(R"([{"cluster":"c","identity":"i","private_ip":"1.2.3.4","mask":"255.0.0.0","gateway":"1.2.3.5","ciders":[],"name":null}])");
    EXPECT_HAS(e, "[0].name: expected a string");
    e = error_of(R"([{"cluster":"c","identity":"i","private_ip":"1.2.3.4","mask":"255.0.0.0","gateway":"1.2.3.5","ciders":[[]]}])");
    EXPECT_HAS(e, "[0].ciders[0]: expected a CIDR string");
    e = error_of(R"([{"cluster":"c","identity":"i","private_ip":"1.2.3.4","mask":"255.0.0.0","gateway":"1.2.3.5","ciders":[],"cider_mapping":[]}])");
    EXPECT_HAS(e, "[0].cider_mapping: expected an object");
    e = error_of(R"([{"cluster":"","identity":"i","private_ip":"1.2.3.4","mask":"255.0.0.0","gateway":"1.2.3.5","ciders":[]}])");
    EXPECT_HAS(e, "[0].cluster: must not be empty");
    e = error_of(R"([{"cluster":"c","identity":"i","identity":"j","private_ip":"1.2.3.4","mask":"255.0.0.0","gateway":"1.2.3.5","ciders":[]}])");
    EXPECT_HAS(e, "line 1, column 32: [0].identity: member given twice");
    e = error_of(R"([{"cluster":"c","identity":"i","private_ip":"1.2.3.4","mask":"255.0.0.0","gateway":"1.2.3.5","ciders":[],"cider_mapping":{"1.0.0.0/8":"2.0.0.0/8","1.0.0.0/8":"3.0.0.0/8"}}])");
    EXPECT_HAS(e, "[0].cider_mapping: duplicate key \"1.0.0.0/8\"");

    e = error_of(R"({"cluster":"c"})");
    EXPECT_HAS(e, "routes.json: line 1, column 1: expected a JSON array of client objects");
    e = error_of("[1]");
    EXPECT_HAS(e, "routes.json: line 1, column 2: [0]: expected an object (one client)");
    e = error_of("[[]]");
    EXPECT_HAS(e, "[0]: expected an object");
}

TEST(ConfigRoutesJson, DuplicateIdentityNamesBothEntries) {
    std::string e = error_of(replace_once(std::string(kExample), "\"identity\":\"client-c\"", "\"identity\":\"client-a\""));
    EXPECT_HAS(e, "routes.json: line 4, column 46: [2].identity: duplicate identity \"client-a\"");
    EXPECT_HAS(e, "first defined at routes.json: line 2, column 50: [0].identity");

    e = error_of(replace_once(std::string(kExample), "\"10.0.1.4\"", "\"10.0.1.2\""));
    EXPECT_HAS(e, "[2].private_ip: private_ip 10.0.1.2 is already used in cluster \"test\" by identity \"client-a\"");
}

TEST(ConfigRoutesJson, SyntaxErrorsAndBadEncoding) {
    std::string e = error_of("[\n  {\"cluster\": \"c\",\n  }\n]");
    EXPECT_HAS(e, "routes.json: line 3, column 3: invalid JSON: ");
    e = error_of("");
    EXPECT_HAS(e, "routes.json: line 1, column 1: invalid JSON: The document is empty.");
    e = error_of("[] []");
    EXPECT_HAS(e, "invalid JSON");
    e = error_of("[{\"cluster\":\"\xff\"}]");
    EXPECT_HAS(e, "invalid JSON: Invalid encoding in string.");

    std::string deep = "[{\"cluster\":\"c\",\"x\":" + std::string(100000, '[');
    e = error_of(deep);
    EXPECT_HAS(e, "nests deeper than 64 levels");
    e = error_of(std::string(100000, '['));
    EXPECT_HAS(e, "[0]: expected an object");
}

TEST(ConfigRoutesJson, LoadFile) {
    test::TempDir dir;
    std::string p = dir.write("routes.json", kExample);
    auto r = load_routes_json_file(p);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->size(), 3u);
    EXPECT_EQ(r->at(1).identity_at().file, p);

    auto missing = load_routes_json_file(dir.path() + "/none.json");
    ASSERT_FALSE(missing.ok());
    EXPECT_HAS(missing.error(), "none.json: cannot read");
}

}  // namespace
}  // namespace rustun
