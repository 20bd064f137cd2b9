// Routes to the peers: the rtnetlink requests byte for byte (as `ip route replace|del CIDR dev
// IF` sends them), the ACK parser, the wanted set and the diff. No root needed: nothing is sent.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "netlink_route.hpp"
#include "routes.hpp"

using namespace rustun;
using namespace rustun::client;

namespace {
// Little-endian host (x86, arm64): u16/u32 fields as they appear in memory.
std::vector<uint8_t> le32(uint32_t v) { return {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)}; }
std::vector<uint8_t> le16(uint16_t v) { return {(uint8_t)v, (uint8_t)(v >> 8)}; }
void add(std::vector<uint8_t>& m, const std::vector<uint8_t>& b) { m.insert(m.end(), b.begin(), b.end()); }
}  // namespace

TEST(NetlinkRoute, ReplaceRequestBytes) {
    // ip route replace 10.0.2.0/24 dev <ifindex 7>
    const auto got = build_route_request(RouteOp::Replace, 0x01020304, 0x0A000200, 24, 7);
    std::vector<uint8_t> want;
    add(want, le32(44));          // nlmsg_len
    add(want, le16(24));          // RTM_NEWROUTE
    add(want, le16(0x0001 | 0x0004 | 0x0400 | 0x0100));  // REQUEST | ACK | CREATE | REPLACE
    add(want, le32(0x01020304));  // seq
    add(want, le32(0));           // pid: the kernel fills it
    add(want, {2, 24, 0, 0, 254, 3, 253, 1});  // AF_INET, /24, src 0, tos 0, main, boot, link, unicast
    add(want, le32(0));           // rtm_flags
    add(want, le16(8));           // RTA_DST
    add(want, le16(1));
    add(want, {10, 0, 2, 0});
    add(want, le16(8));           // RTA_OIF
    add(want, le16(4));
    add(want, le32(7));
    EXPECT_EQ(got, want);
}

TEST(NetlinkRoute, DeleteRequestBytes) {
    // ip route del 192.168.11.7/32 dev <ifindex 300>
    const auto got = build_route_request(RouteOp::Delete, 9, 0xC0A80B07, 32, 300);
    std::vector<uint8_t> want;
    add(want, le32(44));
    add(want, le16(25));  // RTM_DELROUTE
    add(want, le16(0x0001 | 0x0004));
    add(want, le32(9));
    add(want, le32(0));
    add(want, {2, 32, 0, 0, 254, 0, 255, 0});  // protocol unspec, scope nowhere, type unspec
    add(want, le32(0));
    add(want, le16(8));
    add(want, le16(1));
    add(want, {192, 168, 11, 7});
    add(want, le16(8));
    add(want, le16(4));
    add(want, le32(300));
    EXPECT_EQ(got, want);
}

namespace {
std::vector<uint8_t> error_message(uint32_t seq, int error) {
    std::vector<uint8_t> m(NLMSG_LENGTH(sizeof(nlmsgerr)));
    nlmsghdr h{};
    h.nlmsg_len = (uint32_t)m.size();
    h.nlmsg_type = NLMSG_ERROR;
    h.nlmsg_seq = seq;
    nlmsgerr e{};
    e.error = error;
    std::memcpy(m.data(), &h, sizeof h);
    std::memcpy(m.data() + NLMSG_LENGTH(0), &e, sizeof e);
    return m;
}
}  // namespace

TEST(NetlinkRoute, AckParsing) {
    EXPECT_EQ(parse_route_ack(error_message(5, 0), 5), 0);
    EXPECT_EQ(parse_route_ack(error_message(5, -EEXIST), 5), -EEXIST);
    EXPECT_EQ(parse_route_ack(error_message(4, 0), 5), -EBADMSG);  // another request's answer
    auto two = error_message(4, -ENODEV);
    auto second = error_message(5, 0);
    two.insert(two.end(), second.begin(), second.end());
    EXPECT_EQ(parse_route_ack(two, 5), 0);
    EXPECT_EQ(parse_route_ack({}, 5), -EBADMSG);
    auto truncated = error_message(5, 0);
    truncated.resize(10);
    EXPECT_EQ(parse_route_ack(truncated, 5), -EBADMSG);
}

namespace {
Peer peer(uint32_t ip, std::vector<std::pair<uint32_t, uint8_t>> cidrs = {}) {
    Peer p;
    p.private_ip = ip;
    for (auto [net, len] : cidrs) {
        auto c = parse_ipv4_cidr(Route{net, len}.text());
        EXPECT_TRUE(c.has_value());
        p.ciders.push_back(*c);
    }
    return p;
}

struct RecordingInstaller final : RouteInstaller {
    std::vector<std::string> log;
    bool fail_next = false;
    bool replace(const Route& r, const std::string& ifname) override {
        log.push_back("replace " + r.text() + " " + ifname);
        const bool ok = !fail_next;
        fail_next = false;
        return ok;
    }
    void remove(const Route& r, const std::string& ifname) override { log.push_back("del " + r.text() + " " + ifname); }
};
}  // namespace

TEST(Routes, WantedSetHasCidrsAndOffSubnetPeers) {
    const uint32_t tun = 0x0A000102, mask = 0xFFFFFF00;  // 10.0.1.2/24
    std::vector<Peer> peers = {peer(0x0A000103, {{0xC0A80B00, 24}}),  // same subnet, one LAN
                               peer(0x0A000905)};                     // another subnet
    const auto want = wanted_routes(peers, tun, mask);
    std::vector<std::string> texts;
    for (const Route& r : want) texts.push_back(r.text());
    EXPECT_EQ(texts, (std::vector<std::string>{"10.0.9.5/32", "192.168.11.0/24"}));
}

TEST(Routes, SyncDiffsAgainstInstalled) {
    RecordingInstaller inst;
    RouteSync sync(inst);
    const uint32_t tun = 0x0A000102, mask = 0xFFFFFF00;
    std::vector<Peer> peers = {peer(0x0A000103, {{0xC0A80B00, 24}, {0xAC100000, 12}})};
    sync.sync(peers, tun, mask, "rtun0");
    EXPECT_EQ(inst.log, (std::vector<std::string>{"replace 172.16.0.0/12 rtun0", "replace 192.168.11.0/24 rtun0"}));
    inst.log.clear();
    sync.sync(peers, tun, mask, "rtun0");  // nothing changed: nothing sent
    EXPECT_TRUE(inst.log.empty());
    peers[0].ciders.erase(peers[0].ciders.begin());  // 192.168.11.0/24 goes
    peers.push_back(peer(0x0A000905));
    sync.sync(peers, tun, mask, "rtun0");
    EXPECT_EQ(inst.log, (std::vector<std::string>{"del 192.168.11.0/24 rtun0", "replace 10.0.9.5/32 rtun0"}));
    EXPECT_EQ(sync.installed().size(), 2u);
    inst.log.clear();
    sync.remove_all("rtun0");
    EXPECT_EQ(inst.log, (std::vector<std::string>{"del 10.0.9.5/32 rtun0", "del 172.16.0.0/12 rtun0"}));
    EXPECT_TRUE(sync.installed().empty());
}

TEST(Routes, FailedReplaceIsRetriedAndForgetDropsTheRecord) {
    RecordingInstaller inst;
    RouteSync sync(inst);
    std::vector<Peer> peers = {peer(0x0A000905)};
    inst.fail_next = true;
    sync.sync(peers, 0x0A000102, 0xFFFFFF00, "rtun0");
    EXPECT_TRUE(sync.installed().empty());
    sync.sync(peers, 0x0A000102, 0xFFFFFF00, "rtun0");
    EXPECT_EQ(sync.installed().size(), 1u);
    sync.forget();  // re-addressed: the kernel dropped them, nothing to delete
    inst.log.clear();
    sync.remove_all("rtun0");
    EXPECT_TRUE(inst.log.empty());
}
