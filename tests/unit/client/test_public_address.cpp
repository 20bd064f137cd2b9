// The advertised address: fixed, command and STUN sources on a fake clock (STUN against a
// loopback responder: 3 tries 1 s apart, then give up; a matching response sets the address).
#include <arpa/inet.h>

#include <cstring>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "client_test_util.hpp"
#include "public_address.hpp"

using namespace rustun;
using namespace rustun::client;
using namespace rustun::client::test;

namespace {

Options base_options() {
    Options o;
    o.identity = "client-a";
    o.enable_p2p = true;
    o.p2p_port = 51258;
    return o;
}

// A Binding Success Response with XOR-MAPPED-ADDRESS 198.51.100.7:40000 for `txid`.
std::vector<uint8_t> stun_success(const uint8_t* txid) {
    uint8_t m[32] = {0x01, 0x01, 0x00, 0x0C, 0x21, 0x12, 0xA4, 0x42};
    std::memcpy(m + 8, txid, 12);
    const uint16_t xport = 40000 ^ 0x2112;
    const uint8_t ip[4] = {198, 51, 100, 7}, cookie[4] = {0x21, 0x12, 0xA4, 0x42};
    const uint8_t attr[8] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x01, (uint8_t)(xport >> 8), (uint8_t)xport};
    std::memcpy(m + 20, attr, sizeof attr);
    for (int i = 0; i < 4; ++i) m[28 + i] = ip[i] ^ cookie[i];
    return std::vector<uint8_t>(m, m + sizeof m);
}

class PublicAddressTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(poller.open().ok()); }
    // Opens `pa` for options `o` (kept by reference: tests may change them later).
    PublicAddress& open(std::optional<uint16_t> stun_port = std::nullopt) {
        if (stun_port) {
            o.addr_source = AddrSource::Stun;
            o.stun_host = "127.0.0.1";
            o.stun_port = *stun_port;
        }
        pa.emplace(o, clock, ev);
        EXPECT_TRUE(pa->open(-1, AF_INET6, poller).ok());
        return *pa;
    }
    Options o = base_options();
    FakeClock clock;
    Poller poller;
    CountingAddressEvents ev;
    std::optional<PublicAddress> pa;
};

}  // namespace

TEST_F(PublicAddressTest, FixedIsAdvertisedOnceAndInTheKeepAliveBody) {
    o.addr_source = AddrSource::Fixed;
    o.public_addr = "203.0.113.9";
    PublicAddress before(o, clock, ev);
    EXPECT_EQ(before.current().keepalive_body, R"({"identity":"client-a","ipv6":"","port":0})");
    PublicAddress& a = open();
    EXPECT_EQ(a.current().ip, "203.0.113.9");
    EXPECT_EQ(a.current().port, 51258);
    EXPECT_EQ(a.current().keepalive_body, R"({"identity":"client-a","ipv6":"203.0.113.9","port":51258})");
    EXPECT_EQ(ev.changes, 1);
    clock.advance_ms(1000ull * 3600 * 24);
    a.tick(clock.mono_ms());  // never re-checked
    EXPECT_EQ(ev.changes, 1);
}

TEST_F(PublicAddressTest, NothingAdvertisedWithoutP2p) {
    o.enable_p2p = false;
    o.addr_source = AddrSource::Fixed;
    o.public_addr = "203.0.113.9";
    EXPECT_EQ(open().current().ip, "");
    EXPECT_EQ(ev.changes, 0);
}

TEST_F(PublicAddressTest, CommandOutputMustBeAnAddressAndIsRecheckedEachInterval) {
    o.addr_source = AddrSource::Command;
    o.public_addr_cmd = "echo '  192.0.2.44 '; echo second line";
    o.address_check_interval_s = 300;
    PublicAddress& a = open();
    EXPECT_EQ(a.current().ip, "192.0.2.44");
    EXPECT_EQ(ev.changes, 1);
    o.public_addr_cmd = "echo not-an-address";
    clock.advance_ms(300 * 1000 - 1);
    a.tick(clock.mono_ms());
    clock.advance_ms(1);
    a.tick(clock.mono_ms());  // re-run: output refused, address kept
    EXPECT_EQ(a.current().ip, "192.0.2.44");
    o.public_addr_cmd = "echo 2001:db8::5";
    clock.advance_ms(300 * 1000);
    a.tick(clock.mono_ms());
    EXPECT_EQ(a.current().ip, "2001:db8::5");
    EXPECT_EQ(ev.changes, 2);
}

TEST_F(PublicAddressTest, StunThreeTriesOneSecondApartThenGivesUp) {
    LoopbackUdp server;
    PublicAddress& a = open(server.port);
    ASSERT_GE(a.stun_fd(), 0);
    int requests = 0;
    for (int ms = 0; ms <= 5000; ms += 100) {
        a.tick(clock.mono_ms());
        while (auto d = server.recv(5)) {
            ASSERT_EQ(d->size(), 20u);
            EXPECT_EQ((*d)[1], 0x01);  // Binding Request
            ++requests;
            EXPECT_EQ(clock.mono_ms() % 1000, 0u) << "requests go 1 s apart";
        }
        clock.advance_ms(100);
    }
    EXPECT_EQ(requests, kStunTries);
    EXPECT_FALSE(a.stun_in_progress());
    EXPECT_EQ(a.current().ip, "");
}

TEST_F(PublicAddressTest, StunResponseSetsTheMappedAddress) {
    LoopbackUdp server;
    PublicAddress& a = open(server.port);
    a.tick(clock.mono_ms());
    sockaddr_storage client{};
    auto req = server.recv(500, &client);
    ASSERT_TRUE(req.has_value());
    uint8_t wrong[12] = {9, 9, 9};
    auto resp = stun_success(wrong);
    a.on_stun_datagram(resp.data(), resp.size());  // another transaction: ignored
    EXPECT_EQ(ev.changes, 0);
    server.send_to(stun_success(req->data() + 8), client);
    for (int i = 0; i < 100 && ev.changes == 0; ++i) {
        a.on_stun_readable();
        ::usleep(2000);
    }
    EXPECT_EQ(a.current().ip, "198.51.100.7");
    EXPECT_EQ(a.current().port, 40000);
    EXPECT_FALSE(a.stun_in_progress());
    EXPECT_EQ(ev.changes, 1);
}
