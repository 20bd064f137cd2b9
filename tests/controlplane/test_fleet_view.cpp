// The fleet registry's pure parts (docs/fleet.md): key schema and record JSON, the state model's
// changes from watch events and listings, the RCU snapshot's lookups, and peer lists that include
// remote clients.
#include <gtest/gtest.h>

#include "config/yaml_loader.hpp"
#include "fleet_records.hpp"
#include "fleet_state.hpp"
#include "membership.hpp"

namespace rustun::cp {
namespace {

RemoteClient record(const std::string& identity, const std::string& home, uint64_t epoch, const std::string& ip,
                    uint16_t port = 0) {
    RemoteClient c;
    c.cluster = "c1";
    c.identity = identity;
    c.home = home;
    c.epoch = epoch;
    c.private_ip = *parse_ipv4(ip);
    c.ciders = {*parse_ipv4_cidr("192.168.7.0/24")};
    c.dialect = Dialect::Old;
    c.ipv6 = port ? "2001:db8::7" : "";
    c.port = port;
    c.udp_endpoint = port ? "198.51.100.7:4000" : "";
    c.last_active = 1700000000;
    return c;
}

etcd::WatchEvent put_event(const std::string& key, const std::string& value, int64_t rev) {
    etcd::WatchEvent e;
    e.type = etcd::WatchEvent::Type::Put;
    e.kv.key = key;
    e.kv.value = value;
    e.kv.mod_revision = rev;
    return e;
}

etcd::WatchEvent delete_event(const std::string& key, int64_t rev) {
    etcd::WatchEvent e;
    e.type = etcd::WatchEvent::Type::Delete;
    e.kv.key = key;
    e.kv.mod_revision = rev;
    return e;
}

TEST(FleetRecords, KeysEscapeSlashAndPercent) {
    EXPECT_EQ(fleet_client_key("/rustun/v1", "a/b", "x%y"), "/rustun/v1/clients/a%2Fb/x%25y");
    EXPECT_EQ(fleet_gateway_key("/p", "gw-1"), "/p/gateways/gw-1");
}

TEST(FleetRecords, ClientRecordRoundTrips) {
    const RemoteClient c = record("alice", "gw-a", 123456789, "10.0.1.2", 40001);
    auto d = decode_client_record(encode_client_record(c));
    ASSERT_TRUE(d.ok()) << d.error();
    EXPECT_EQ(d.value().identity, "alice");
    EXPECT_EQ(d.value().home, "gw-a");
    EXPECT_EQ(d.value().epoch, 123456789u);
    EXPECT_EQ(d.value().private_ip, c.private_ip);
    EXPECT_EQ(d.value().ciders, c.ciders);
    EXPECT_EQ(d.value().dialect, Dialect::Old);
    EXPECT_EQ(d.value().port, 40001);
    EXPECT_EQ(d.value().udp_endpoint, "198.51.100.7:4000");
}

TEST(FleetRecords, GatewayRecordSaysWhetherItsDataplaneTakesLinkFrames) {
    FleetGateway g;
    g.id = "gw-a";
    g.udp_listen = "192.0.2.1:51258";
    auto plain = decode_gateway_record(encode_gateway_record(g));
    ASSERT_TRUE(plain.ok()) << plain.error();
    EXPECT_FALSE(plain.value().udp_link);
    EXPECT_EQ(encode_gateway_record(g).find("udp_link"), std::string::npos) << "absent unless set (older readers)";
    g.udp_link = true;
    auto with = decode_gateway_record(encode_gateway_record(g));
    ASSERT_TRUE(with.ok()) << with.error();
    EXPECT_TRUE(with.value().udp_link);
    auto bad = decode_gateway_record(R"({"id":"g","tcp":"","udp":"","link":"","version":"","config_hash":"",)"
                                     R"("clients":0,"started_at":0,"updated_at":0,"udp_link":1})");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("'udp_link'"), std::string::npos) << bad.error();
}

TEST(FleetRecords, BadRecordsNameTheMember) {
    auto d = decode_client_record(R"({"cluster":"c1","identity":"a","home":"g","epoch":"x"})");
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().find("'epoch'"), std::string::npos) << d.error();
    EXPECT_FALSE(decode_gateway_record("[1]").ok());
}

TEST(FleetRecords, NewestSessionWins) {
    EXPECT_TRUE(fleet_session_newer(2, "gw-a", 1, "gw-b"));
    EXPECT_FALSE(fleet_session_newer(1, "gw-b", 2, "gw-a"));
    EXPECT_TRUE(fleet_session_newer(5, "gw-b", 5, "gw-a"));  // a tie: the larger gateway id
}

TEST(FleetState, ChangesAndSnapshot) {
    FleetState st("/p", "gw-b");
    std::vector<FleetChange> ch;
    FleetGateway g;
    g.id = "gw-a";
    g.link = "127.0.0.1:7100";
    const std::string ka = fleet_client_key("/p", "c1", "alice"), kb = fleet_client_key("/p", "c1", "bob");
    st.apply({put_event(fleet_gateway_key("/p", "gw-a"), encode_gateway_record(g), 1),
              put_event(ka, encode_client_record(record("alice", "gw-a", 10, "10.0.1.2")), 2),
              put_event(kb, encode_client_record(record("bob", "gw-b", 11, "10.0.1.3")), 3)},
             ch);
    ASSERT_EQ(ch.size(), 1u);  // bob is ours: not a remote change
    EXPECT_EQ(ch[0].kind, FleetChange::Kind::Up);
    EXPECT_EQ(st.remote_clients(), 1u);

    auto snap = st.build(false, 0);
    const RemoteClient* a = snap->find("c1", "alice");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(snap->home_link(*a), "127.0.0.1:7100");
    EXPECT_EQ(snap->find_ip("c1", *parse_ipv4("10.0.1.2")), a);
    EXPECT_EQ(snap->find("c1", "bob"), nullptr);  // homed here: not in the remote view
    EXPECT_EQ(snap->find("c2", "alice"), nullptr);

    ch.clear();  // alice reports an endpoint, then moves here, then a listing without anything
    st.apply({put_event(ka, encode_client_record(record("alice", "gw-a", 10, "10.0.1.2", 40001)), 4)}, ch);
    ASSERT_EQ(ch.size(), 1u);
    EXPECT_EQ(ch[0].kind, FleetChange::Kind::Moved);
    ch.clear();
    st.apply({put_event(ka, encode_client_record(record("alice", "gw-b", 20, "10.0.1.2")), 5)}, ch);
    ASSERT_EQ(ch.size(), 1u);
    EXPECT_EQ(ch[0].kind, FleetChange::Kind::Down);
    EXPECT_EQ(st.remote_clients(), 0u);
    ch.clear();
    st.apply({put_event(ka, encode_client_record(record("alice", "gw-a", 30, "10.0.1.2")), 6)}, ch);
    etcd::RangeResult empty;
    empty.revision = 9;
    ch.clear();
    st.reset(empty, ch);  // the lease of gw-a expired while we were not watching
    ASSERT_EQ(ch.size(), 1u);
    EXPECT_EQ(ch[0].kind, FleetChange::Kind::Down);
    EXPECT_EQ(st.build(true, 5)->client_count(), 0u);
    EXPECT_EQ(st.revision(), 9);

    ch.clear();
    st.apply({put_event(kb, "not json", 10), delete_event(kb, 11)}, ch);
    EXPECT_EQ(st.bad_records(), 1u);
}

// A snapshot rebuilds only the clusters whose records changed; the others are the previous
// snapshot's (the same objects), and a published snapshot never changes afterwards.
TEST(FleetState, SnapshotsShareUnchangedClusters) {
    FleetState st("/p", "gw-b");
    std::vector<FleetChange> ch;
    const std::string ka = fleet_client_key("/p", "c1", "alice"), kb = fleet_client_key("/p", "c1", "bob"),
                      kc = fleet_client_key("/p", "c2", "carol");
    auto rec = [](const std::string& cluster, const std::string& id, const std::string& home, const std::string& ip,
                  uint16_t port = 0) {
        RemoteClient r = record(id, home, 10, ip, port);
        r.cluster = cluster;
        return encode_client_record(r);
    };
    st.apply({put_event(ka, rec("c1", "alice", "gw-a", "10.0.1.2"), 1),
              put_event(kb, rec("c1", "bob", "gw-a", "10.0.1.3"), 2),
              put_event(kc, rec("c2", "carol", "gw-c", "10.0.2.2"), 3)},
             ch);
    auto s1 = st.build(false, 0);
    ASSERT_EQ(s1->client_count(), 3u);
    const RemoteClient* carol1 = s1->find("c2", "carol");
    const RemoteClient* alice1 = s1->find("c1", "alice");
    ASSERT_NE(carol1, nullptr);
    ASSERT_NE(alice1, nullptr);

    // alice reports an endpoint: c1 is rebuilt, c2 is shared.
    st.apply({put_event(ka, rec("c1", "alice", "gw-a", "10.0.1.2", 40001), 4)}, ch);
    auto s2 = st.build(false, 0);
    EXPECT_EQ(s2->find("c2", "carol"), carol1) << "an unchanged cluster is the previous snapshot's";
    ASSERT_NE(s2->find("c1", "alice"), nullptr);
    EXPECT_EQ(s2->find("c1", "alice")->port, 40001);
    EXPECT_EQ(s1->find("c1", "alice")->port, 0) << "a published snapshot does not change";
    EXPECT_EQ(s2->find_ip("c1", *parse_ipv4("10.0.1.3")), s2->find("c1", "bob"));

    // bob comes home here and alice goes: c1 is left empty and leaves the view.
    st.apply({put_event(kb, rec("c1", "bob", "gw-b", "10.0.1.3"), 5), delete_event(ka, 6)}, ch);
    auto s3 = st.build(false, 0);
    EXPECT_FALSE(s3->has_cluster("c1"));
    EXPECT_EQ(s3->find("c1", "bob"), nullptr);
    EXPECT_EQ(s3->find("c2", "carol"), carol1);
    EXPECT_EQ(s3->client_count(), 1u);
    EXPECT_TRUE(s2->has_cluster("c1"));

    // Every remote client, by cluster, then identity; for_each_client stops on false.
    st.apply({put_event(ka, rec("c1", "alice", "gw-a", "10.0.1.2"), 7),
              put_event(fleet_client_key("/p", "c2", "abe"), rec("c2", "abe", "gw-c", "10.0.2.3"), 8)},
             ch);
    auto s4 = st.build(false, 0);
    std::vector<std::string> order;
    s4->for_each_client([&](const RemoteClient& r) {
        order.push_back(r.cluster + "/" + r.identity);
        return true;
    });
    EXPECT_EQ(order, (std::vector<std::string>{"c1/alice", "c2/abe", "c2/carol"}));
    size_t seen = 0;
    s4->for_each_client([&](const RemoteClient&) { return ++seen < 2; });
    EXPECT_EQ(seen, 2u);
}

TEST(FleetPeers, RemoteClientsAreOnlineInPeerLists) {
    auto cfg = load_config_string(R"(
listen: {tcp: "127.0.0.1:0"}
crypto: chacha20:k
clusters:
  - name: c1
    clients:
      - {identity: alice, private_ip: 10.0.1.2, mask: 255.255.255.0, gateway: 10.0.1.1, ciders: []}
      - {identity: bob, private_ip: 10.0.1.3, mask: 255.255.255.0, gateway: 10.0.1.1, ciders: []}
      - {identity: carol, private_ip: 10.0.1.4, mask: 255.255.255.0, gateway: 10.0.1.1, ciders: []}
)", "test.yaml");
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    auto m = Membership::build(cfg.value());
    ASSERT_TRUE(m.ok());
    FleetState st("/p", "gw-b");
    std::vector<FleetChange> ch;
    st.apply({put_event(fleet_client_key("/p", "c1", "carol"),
                        encode_client_record(record("carol", "gw-a", 1, "10.0.1.4", 40009)), 1),
              put_event(fleet_client_key("/p", "c1", "zed"),  // not in our configuration
                        encode_client_record(record("zed", "gw-a", 1, "10.0.1.9", 40010)), 2)},
             ch);
    auto snap = st.build(false, 0);
    std::vector<PeerDetail> peers;
    bool capped = false;
    const ClientId alice = m.value()->find("alice");
    m.value()->peers_of(alice, 100, peers, capped, snap.get());
    ASSERT_EQ(peers.size(), 3u);
    EXPECT_EQ(peers[0].identity, "carol");  // online (remote) first
    EXPECT_EQ(peers[0].port, 40009);
    EXPECT_EQ(peers[1].identity, "zed");
    EXPECT_EQ(peers[2].identity, "bob");  // offline everywhere
    EXPECT_EQ(peers[2].port, 0);
    m.value()->peers_of(alice, 1, peers, capped, snap.get());
    EXPECT_TRUE(capped);
    m.value()->peers_of(alice, 100, peers, capped, nullptr);  // no fleet: as one gateway
    EXPECT_EQ(peers[0].identity, "bob");
}

}  // namespace
}  // namespace rustun::cp
