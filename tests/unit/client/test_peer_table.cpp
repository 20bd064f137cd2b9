// The peer table: authoritative and additive lists, lookups by inner address, PeerUpdate.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "peer_table.hpp"

using namespace rustun;
using namespace rustun::client;

namespace {
PeerDetail detail(const std::string& id, const std::string& ip, std::vector<std::string> cidrs = {},
                  const std::string& adv = "", uint16_t port = 0) {
    PeerDetail d;
    d.identity = id;
    d.name = id + " name";
    d.private_ip = ip;
    d.ciders = std::move(cidrs);
    d.ipv6 = adv;
    d.port = port;
    return d;
}

struct RecordingSink final : PeerAddressSink {
    std::vector<std::string> calls;
    void set_advertised(Peer& p, const std::string& ip, uint16_t port, bool force_reset, const char* why) override {
        p.adv_ip = ip;
        p.adv_port = port;
        calls.push_back(p.identity + " " + ip + ":" + std::to_string(port) + (force_reset ? " reset " : " ") + why);
    }
};
}  // namespace

TEST(PeerTable, AuthoritativeListReplacesAndSkipsOwnAndInvalid) {
    PeerTable t("client-a");
    RecordingSink sink;
    EXPECT_TRUE(t.apply_list({detail("client-a", "10.0.1.2"), detail("client-b", "10.0.1.3", {"192.168.11.0/24"}),
                              detail("bad", "not-an-ip"), detail("client-c", "10.0.1.4", {}, "172.31.77.13", 51258)},
                             true, sink));
    ASSERT_EQ(t.peers().size(), 2u);
    EXPECT_EQ(t.peers()[0].identity, "client-b");
    EXPECT_EQ(sink.calls, (std::vector<std::string>{"client-c 172.31.77.13:51258 address advertised"}));
    t.find("client-b")->p2p.rx_packets = 7;  // state kept for peers that stay

    EXPECT_TRUE(t.apply_list({detail("client-b", "10.0.1.3", {"192.168.11.0/24"})}, true, sink));
    ASSERT_EQ(t.peers().size(), 1u);
    EXPECT_EQ(t.find("client-b")->p2p.rx_packets, 7u);
    EXPECT_EQ(t.find("client-c"), nullptr);
}

TEST(PeerTable, KeepAliveDetailsAddAndUpdateButNeverRemove) {
    PeerTable t("client-a");
    RecordingSink sink;
    (void)t.apply_list({detail("client-b", "10.0.1.3")}, true, sink);
    EXPECT_FALSE(t.apply_list({detail("client-b", "10.0.1.3")}, false, sink));  // nothing changed
    EXPECT_TRUE(t.apply_list({detail("client-c", "10.0.1.4")}, false, sink));   // added
    EXPECT_EQ(t.peers().size(), 2u);
    EXPECT_TRUE(t.apply_list({detail("client-b", "10.0.1.3", {"10.9.0.0/16"})}, false, sink));  // CIDRs changed
    EXPECT_EQ(t.peers().size(), 2u);
    // A changed advertised address is a reset; an empty one clears the advertised address only.
    (void)t.apply_list({detail("client-b", "10.0.1.3", {"10.9.0.0/16"}, "172.31.77.12", 51258)}, false, sink);
    (void)t.apply_list({detail("client-b", "10.0.1.3", {"10.9.0.0/16"}, "172.31.77.22", 51258)}, false, sink);
    EXPECT_EQ(sink.calls.back(), "client-b 172.31.77.22:51258 reset address changed");
    (void)t.apply_list({detail("client-b", "10.0.1.3", {"10.9.0.0/16"})}, false, sink);
    EXPECT_EQ(t.find("client-b")->adv_ip, "");
}

TEST(PeerTable, LookupByInnerAddressPrefersPrivateIpThenLongestCidr) {
    PeerTable t("client-a");
    RecordingSink sink;
    (void)t.apply_list({detail("client-b", "10.0.1.3", {"10.9.0.0/16"}), detail("client-c", "10.0.1.4", {"10.9.8.0/24"})},
                       true, sink);
    EXPECT_EQ(t.for_ip(0x0A000103)->identity, "client-b");
    EXPECT_EQ(t.for_ip(0x0A090101)->identity, "client-b");
    EXPECT_EQ(t.for_ip(0x0A090801)->identity, "client-c");
    EXPECT_EQ(t.for_ip(0x0B000001), nullptr);
}

TEST(PeerTable, PeerUpdate) {
    PeerTable t("client-a");
    RecordingSink sink;
    (void)t.apply_list({detail("client-b", "10.0.1.3", {}, "172.31.77.12", 51258)}, true, sink);
    t.apply_update(PeerUpdate{"client-b", "172.31.77.21", 51258}, sink);
    EXPECT_EQ(sink.calls.back(), "client-b 172.31.77.21:51258 reset PeerUpdate");
    t.apply_update(PeerUpdate{"client-b", "", 0}, sink);
    EXPECT_EQ(t.find("client-b")->adv_ip, "");
    const size_t n = sink.calls.size();
    t.apply_update(PeerUpdate{"nobody", "1.2.3.4", 5}, sink);
    EXPECT_EQ(sink.calls.size(), n);
}
