// rustun-client's command line: --server in failover order (repeatable and comma-separated),
// --udp-relay one per server, and the errors naming the flag.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "options.hpp"

using namespace rustun::client;

namespace {

struct Argv {
    std::vector<std::string> s;
    std::vector<char*> p;
    explicit Argv(std::vector<std::string> args) : s(std::move(args)) {
        s.insert(s.begin(), "rustun-client");
        for (auto& a : s) p.push_back(a.data());
        p.push_back(nullptr);
    }
    int argc() const { return (int)s.size(); }
};

// nullopt on success; otherwise the exit code (stderr has the message).
std::optional<int> parse(std::vector<std::string> args, Options& o) {
    Argv a(std::move(args));
    return parse_options(a.argc(), a.p.data(), o);
}

std::vector<std::string> texts(const std::vector<ServerAddress>& v) {
    std::vector<std::string> out;
    for (const auto& a : v) out.push_back(a.text());
    return out;
}

}  // namespace

TEST(ClientOptions, OneServerAsBefore) {
    Options o;
    ASSERT_FALSE(parse({"-s", "172.31.77.1:7000", "-i", "client-a"}, o).has_value());
    ASSERT_EQ(o.servers.size(), 1u);
    EXPECT_EQ(o.servers[0].host, "172.31.77.1");
    EXPECT_EQ(o.servers[0].port, 7000);
    EXPECT_EQ(udp_relay_for(o, 0).text(), "172.31.77.1:7000");
}

TEST(ClientOptions, ServersRepeatedAndCommaSeparatedKeepTheirOrder) {
    Options o;
    ASSERT_FALSE(parse({"-s", "gw1.example:7000,[2001:db8::2]:7000", "--server", "10.0.0.3:7001", "-i", "a"}, o)
                     .has_value());
    EXPECT_EQ(texts(o.servers), (std::vector<std::string>{"gw1.example:7000", "[2001:db8::2]:7000", "10.0.0.3:7001"}));
}

TEST(ClientOptions, UdpRelayOnePerServer) {
    Options o;
    ASSERT_FALSE(parse({"-s", "10.0.0.1:7000,10.0.0.2:7000", "-i", "a", "--relay", "udp", "--udp-relay",
                        "10.0.1.1:7100,10.0.1.2:7100"},
                       o)
                     .has_value());
    EXPECT_EQ(udp_relay_for(o, 1).text(), "10.0.1.2:7100");
    Options d;
    ASSERT_FALSE(parse({"-s", "10.0.0.1:7000,10.0.0.2:7000", "-i", "a", "--relay", "udp"}, d).has_value());
    EXPECT_EQ(udp_relay_for(d, 1).text(), "10.0.0.2:7000");  // each server's own address
}

TEST(ClientOptions, BadListsAreUsageErrors) {
    Options o;
    EXPECT_EQ(parse({"-s", "10.0.0.1:7000,,10.0.0.2:7000", "-i", "a"}, o), 2);
    EXPECT_EQ(parse({"-s", "10.0.0.1:7000,10.0.0.2", "-i", "a"}, o), 2);
    EXPECT_EQ(parse({"-i", "a"}, o), 2);
    EXPECT_EQ(parse({"-s", "10.0.0.1:7000,10.0.0.2:7000", "-i", "a", "--relay", "udp", "--udp-relay", "10.0.1.1:7100"}, o),
              2);
}

TEST(ClientOptions, ListErrorsNameTheFlagAndTheList) {
    std::vector<ServerAddress> out;
    auto st = parse_address_list({"10.0.0.1:7000,"}, "--server", out);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().find("--server"), std::string::npos);
    EXPECT_NE(st.error().find("10.0.0.1:7000,"), std::string::npos);
}
