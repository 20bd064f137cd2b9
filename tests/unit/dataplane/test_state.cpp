// StateManager: sync/commit generations, in-place endpoint updates, liveness carry-over,
// quiescence-based reclamation, malformed messages.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "crypto/cipher_spec.hpp"
#include "shm/state_writer.hpp"
#include "state.hpp"

using namespace rustun;
using namespace rustun::dp;

namespace {

struct Feed {
    StateManager& sm;
    uint64_t tsc = 1000;
    template <typename T>
    StateManager::Outcome send(shm::MsgType t, const T& body, uint32_t len = sizeof(T)) {
        shm::MsgHeader h{static_cast<uint16_t>(t), 0, len};
        return sm.apply(h, reinterpret_cast<const uint8_t*>(&body), tsc);
    }
    StateManager::Outcome sync(shm::MsgType t, uint64_t epoch) { return send(t, shm::SyncMsg{epoch, 0, 0}); }
    StateManager::Outcome cluster(uint32_t id, const char* spec) {
        shm::ClusterSetMsg m{};
        m.cluster_id = id;
        auto s = CipherSpec::parse(spec);
        m.method = static_cast<uint8_t>(s->method);
        auto k = s->derived_key();
        m.key_len = static_cast<uint16_t>(k.size());
        if (!k.empty()) std::memcpy(m.key, k.data(), k.size());  // plain: no key (never memcpy from null)
        return send(shm::MsgType::ClusterSet, m, 8 + m.key_len);
    }
    StateManager::Outcome client(uint32_t id, uint32_t cluster, const char* ip, const char* cidr = nullptr,
                                 uint8_t plen = 0) {
        shm::ClientSetMsg m{};
        m.client_id = id;
        m.cluster_id = cluster;
        in_addr a;
        inet_pton(AF_INET, ip, &a);
        m.private_ip = ntohl(a.s_addr);
        if (cidr) {
            inet_pton(AF_INET, cidr, &a);
            m.cidrs[0] = shm::Cidr{ntohl(a.s_addr), plen, {}};
            m.cidr_count = 1;
        }
        return send(shm::MsgType::ClientSet, m, 16 + 8 * m.cidr_count);
    }
    StateManager::Outcome bind(uint32_t id, uint16_t port) {
        shm::EndpointSetMsg m{};
        m.client_id = id;
        m.endpoint = ep(port);
        return send(shm::MsgType::EndpointSet, m);
    }
    StateManager::Outcome id_msg(shm::MsgType t, uint32_t id) { return send(t, shm::ClientIdMsg{id, 0}); }
    static shm::Endpoint ep(uint16_t port) {
        shm::Endpoint e{};
        e.family = 4;
        e.port = port;
        e.addr[0] = 198;
        e.addr[3] = 1;
        return e;
    }
};

uint32_t ip(const char* s) {
    in_addr a;
    inet_pton(AF_INET, s, &a);
    return ntohl(a.s_addr);
}

uint32_t session_cp(const Generation& g, uint16_t port) {
    const uint32_t s = g.sessions.lookup(EndpointKey::from(Feed::ep(port)));
    return s == kNoSession ? kNoSession : g.clients[s].cp_id;
}

void full_sync(Feed& f, uint64_t epoch) {
    ASSERT_EQ(f.sync(shm::MsgType::SyncBegin, epoch), StateManager::Outcome::Applied);
    ASSERT_EQ(f.cluster(1, "chacha20:rustun"), StateManager::Outcome::Applied);
    ASSERT_EQ(f.cluster(2, "aes256:other"), StateManager::Outcome::Applied);
    ASSERT_EQ(f.client(100, 1, "10.0.0.2", "192.168.1.0", 24), StateManager::Outcome::Applied);
    ASSERT_EQ(f.client(101, 1, "10.0.0.3"), StateManager::Outcome::Applied);
    ASSERT_EQ(f.client(200, 2, "10.0.0.2"), StateManager::Outcome::Applied);  // same IP, other cluster
    ASSERT_EQ(f.bind(100, 5000), StateManager::Outcome::Applied);
    ASSERT_EQ(f.bind(200, 6000), StateManager::Outcome::Applied);
}

}  // namespace

TEST(State, FullSyncBuildsAGenerationOnlyAtSyncEnd) {
    StateManager sm(64, 1);
    Feed f{sm};
    const Generation* empty = sm.current();
    ASSERT_NE(empty, nullptr);
    EXPECT_EQ(empty->client_count, 0u);
    full_sync(f, 7);
    EXPECT_EQ(sm.current(), empty);  // nothing changes before SyncEnd
    EXPECT_FALSE(sm.synced());
    EXPECT_EQ(f.sync(shm::MsgType::SyncEnd, 7), StateManager::Outcome::SyncApplied);
    EXPECT_TRUE(sm.synced());
    EXPECT_EQ(sm.applied_cp_epoch(), 7u);
    const Generation& g = *sm.current();
    EXPECT_EQ(g.client_count, 3u);
    EXPECT_EQ(g.sessions.size(), 2u);
    EXPECT_EQ(session_cp(g, 5000), 100u);
    EXPECT_EQ(session_cp(g, 6000), 200u);
    // Routing within the sender's cluster; source validation with CIDRs.
    const uint32_t a = g.by_cp_id.at(100), b = g.by_cp_id.at(101), c = g.by_cp_id.at(200);
    EXPECT_EQ(g.routes.lookup(g.clients[a].cluster, ip("10.0.0.3")), b);
    EXPECT_EQ(g.routes.lookup(g.clients[c].cluster, ip("10.0.0.3")), kNoClient);  // other tenant
    EXPECT_EQ(g.routes.lookup(g.clients[a].cluster, ip("192.168.1.9")), a);
    EXPECT_TRUE(g.routes.source_allowed(a, ip("192.168.1.9")));
    EXPECT_FALSE(g.routes.source_allowed(b, ip("192.168.1.9")));
    EXPECT_NE(g.clients[a].key, g.clients[c].key);
    EXPECT_EQ(g.clients[a].key, g.clients[b].key);
    EXPECT_EQ(g.clients[a].key->method(), CipherMethod::ChaCha20Poly1305);
    // Bindings made during a sync do not claim liveness.
    EXPECT_EQ(g.clients[a].last_rx_tsc.load(), 0u);
}

TEST(State, AnyClusterTableTellsCrossClusterFromNoRoute) {
    StateManager sm(64, 1);
    Feed f{sm};
    full_sync(f, 7);
    f.sync(shm::MsgType::SyncEnd, 7);
    const Generation& g = *sm.current();
    const uint32_t c = g.by_cp_id.at(200);  // cluster 2: only 10.0.0.2
    // Misses in the sender's cluster ...
    EXPECT_EQ(g.routes.lookup(g.clients[c].cluster, ip("10.0.0.3")), kNoClient);
    EXPECT_EQ(g.routes.lookup(g.clients[c].cluster, ip("192.168.1.9")), kNoClient);
    EXPECT_EQ(g.routes.lookup(g.clients[c].cluster, ip("10.77.0.1")), kNoClient);
    // ... owned by another cluster (private IP, CIDR) or by nobody.
    EXPECT_NE(g.any_cluster.lookup(0, ip("10.0.0.3")), kNoClient);
    EXPECT_NE(g.any_cluster.lookup(0, ip("192.168.1.9")), kNoClient);
    EXPECT_EQ(g.any_cluster.lookup(0, ip("10.77.0.1")), kNoClient);
    EXPECT_EQ(g.any_cluster.lookup(0, ip("192.168.2.1")), kNoClient);
    // A Commit rebuilds it too.
    f.client(102, 2, "10.5.0.1");
    EXPECT_EQ(f.send(shm::MsgType::Commit, shm::ClientIdMsg{}, 0), StateManager::Outcome::Flipped);
    EXPECT_NE(sm.current()->any_cluster.lookup(0, ip("10.5.0.1")), kNoClient);
}

TEST(State, LiveEndpointSetRefreshesTheMacFromTheHint) {
    uint64_t hint = 0;
    StateManager sm(64, 1, [&](const EndpointKey&) { return hint; });
    Feed f{sm};
    full_sync(f, 7);
    f.sync(shm::MsgType::SyncEnd, 7);
    const uint8_t m1[6] = {2, 0, 0, 0, 0xb, 1}, m2[6] = {2, 0, 0, 0, 0xb, 2};
    hint = pack_mac(m1);
    EXPECT_EQ(f.bind(101, 5001), StateManager::Outcome::Applied);
    const ClientLive& b = sm.current()->clients[sm.current()->by_cp_id.at(101)];
    EXPECT_EQ(b.mac.load(), pack_mac(m1));
    hint = pack_mac(m2);  // the confirmed KeepAlive came from a new next hop
    EXPECT_EQ(f.bind(101, 5001), StateManager::Outcome::Applied);
    EXPECT_EQ(b.mac.load(), pack_mac(m2));
    hint = 0;  // nothing cached: the known MAC stays
    EXPECT_EQ(f.bind(101, 5001), StateManager::Outcome::Applied);
    EXPECT_EQ(b.mac.load(), pack_mac(m2));
}

TEST(State, SyncEndForAnotherEpochIsRejected) {
    StateManager sm(64, 1);
    Feed f{sm};
    full_sync(f, 7);
    EXPECT_EQ(f.sync(shm::MsgType::SyncEnd, 8), StateManager::Outcome::Rejected);
    EXPECT_FALSE(sm.synced());
}

TEST(State, EndpointUpdatesInPlaceMarkLive) {
    StateManager sm(64, 1);
    Feed f{sm};
    full_sync(f, 7);
    f.sync(shm::MsgType::SyncEnd, 7);
    const Generation* g = sm.current();
    f.tsc = 5555;
    EXPECT_EQ(f.bind(101, 5001), StateManager::Outcome::Applied);
    EXPECT_EQ(sm.current(), g);  // no new generation
    EXPECT_EQ(session_cp(*g, 5001), 101u);
    EXPECT_EQ(g->clients[g->by_cp_id.at(101)].last_rx_tsc.load(), 5555u);
    // Moving 101 to another endpoint frees the old one.
    EXPECT_EQ(f.bind(101, 5002), StateManager::Outcome::Applied);
    EXPECT_EQ(session_cp(*g, 5001), kNoSession);
    EXPECT_EQ(session_cp(*g, 5002), 101u);
    // Another client taking the same endpoint: the newest binding wins.
    EXPECT_EQ(f.bind(100, 5002), StateManager::Outcome::Applied);
    EXPECT_EQ(session_cp(*g, 5002), 100u);
    EndpointKey k;
    EXPECT_FALSE(g->clients[g->by_cp_id.at(101)].endpoint(k));
    EXPECT_EQ(session_cp(*g, 5000), kNoSession);
    EXPECT_EQ(f.id_msg(shm::MsgType::EndpointClear, 100), StateManager::Outcome::Applied);
    EXPECT_EQ(session_cp(*g, 5002), kNoSession);
    EXPECT_EQ(g->sessions.size(), 1u);
}

TEST(State, CommitFlipsAndKeepsLivenessAndMac) {
    StateManager sm(64, 1);
    Feed f{sm};
    full_sync(f, 7);
    f.sync(shm::MsgType::SyncEnd, 7);
    f.tsc = 4242;
    f.bind(100, 5000);
    const Generation* g1 = sm.current();
    g1->clients[g1->by_cp_id.at(100)].mac.store(pack_mac((const uint8_t*)"\x02\x00\x00\x00\x00\x07"));
    EXPECT_EQ(f.client(102, 1, "10.0.0.4"), StateManager::Outcome::Applied);
    EXPECT_EQ(sm.current(), g1);  // pending until Commit
    EXPECT_EQ(f.id_msg(shm::MsgType::ClientRemove, 101), StateManager::Outcome::Applied);
    EXPECT_EQ(f.send(shm::MsgType::Commit, 0, 0), StateManager::Outcome::Flipped);
    const Generation* g2 = sm.current();
    ASSERT_NE(g2, g1);
    EXPECT_GT(g2->id, g1->id);
    EXPECT_EQ(g2->client_count, 3u);
    EXPECT_FALSE(g2->by_cp_id.count(101));
    const ClientLive& a = g2->clients[g2->by_cp_id.at(100)];
    EXPECT_EQ(a.last_rx_tsc.load(), 4242u);
    EXPECT_TRUE(a.mac.load() & kMacKnown);
    EXPECT_EQ(session_cp(*g2, 5000), 100u);
    EXPECT_EQ(f.send(shm::MsgType::Commit, 0, 0), StateManager::Outcome::Ignored);  // nothing pending
}

TEST(State, ResyncKeepsOldStateUntilSyncEndAndCarriesLiveness) {
    StateManager sm(64, 1);
    Feed f{sm};
    full_sync(f, 7);
    f.sync(shm::MsgType::SyncEnd, 7);
    f.tsc = 9999;
    f.bind(100, 5000);
    const Generation* g1 = sm.current();
    // A restarted control plane: new epoch, new client ids, same endpoint.
    f.sync(shm::MsgType::SyncBegin, 8);
    f.cluster(1, "chacha20:rustun");
    f.client(1, 1, "10.0.0.2");
    f.bind(1, 5000);
    EXPECT_EQ(sm.current(), g1);  // workers still forward on the old state
    EXPECT_EQ(session_cp(*g1, 5000), 100u);
    EXPECT_EQ(f.sync(shm::MsgType::SyncEnd, 8), StateManager::Outcome::SyncApplied);
    const Generation* g2 = sm.current();
    EXPECT_EQ(session_cp(*g2, 5000), 1u);
    EXPECT_EQ(g2->clients[g2->by_cp_id.at(1)].last_rx_tsc.load(), 9999u);
    EXPECT_EQ(session_cp(*g2, 6000), kNoSession);
    EXPECT_EQ(sm.applied_cp_epoch(), 8u);
}

TEST(State, ReclaimWaitsForEveryWorker) {
    StateManager sm(64, 2);
    Feed f{sm};
    full_sync(f, 7);
    sm.quiescent()[0].id.store(sm.current()->id);
    sm.quiescent()[1].id.store(sm.current()->id);
    f.sync(shm::MsgType::SyncEnd, 7);
    EXPECT_EQ(sm.reclaim(), 1u);  // workers still at the old generation
    sm.quiescent()[0].id.store(sm.current()->id);
    EXPECT_EQ(sm.reclaim(), 1u);  // worker 1 has not moved yet
    sm.quiescent()[1].id.store(sm.current()->id);
    EXPECT_EQ(sm.reclaim(), 0u);
}

TEST(State, SessionTableFullIsReported) {
    StateManager sm(16, 1);
    Feed f{sm};
    f.sync(shm::MsgType::SyncBegin, 1);
    f.cluster(1, "plain");
    for (uint32_t i = 0; i < 20; ++i) {
        char a[16];
        std::snprintf(a, sizeof a, "10.0.1.%u", i + 1);
        f.client(i, 1, a);
    }
    f.sync(shm::MsgType::SyncEnd, 1);
    uint32_t full = 0;
    for (uint32_t i = 0; i < 20; ++i) full += f.bind(i, static_cast<uint16_t>(1000 + i)) == StateManager::Outcome::SessionFull;
    EXPECT_EQ(full, 4u);
    EXPECT_EQ(sm.session_full_events(), 4u);
    EXPECT_EQ(sm.current()->sessions.size(), 16u);
}

TEST(State, MalformedMessagesAreRejected) {
    StateManager sm(16, 1);
    Feed f{sm};
    shm::MsgHeader h{static_cast<uint16_t>(shm::MsgType::ClientSet), 0, 8};
    uint8_t body[16] = {};
    EXPECT_EQ(sm.apply(h, body, 0), StateManager::Outcome::Rejected);
    shm::ClientSetMsg m{};
    m.cidr_count = 300;
    EXPECT_EQ(f.send(shm::MsgType::ClientSet, m), StateManager::Outcome::Rejected);
    shm::ClusterSetMsg c{};
    c.method = 9;
    EXPECT_EQ(f.send(shm::MsgType::ClusterSet, c), StateManager::Outcome::Rejected);
    c.method = 1;
    c.key_len = 0;
    EXPECT_EQ(f.send(shm::MsgType::ClusterSet, c, 8), StateManager::Outcome::Rejected);  // empty XOR key
    shm::EndpointSetMsg e{};
    e.endpoint.family = 5;
    EXPECT_EQ(f.send(shm::MsgType::EndpointSet, e), StateManager::Outcome::Rejected);
    EXPECT_EQ(f.sync(shm::MsgType::SyncEnd, 3), StateManager::Outcome::Rejected);
    EXPECT_EQ(f.send(shm::MsgType::TxFrame, e), StateManager::Outcome::Rejected);
}

// A restarted control plane knows no UDP bindings: a full sync without them keeps the bindings of
// clients it describes identically, and drops those whose address, cluster or key changed.
TEST(State, ControlPlaneRestartKeepsUnchangedBindings) {
    StateManager sm(64, 1);
    Feed f{sm};
    full_sync(f, 7);
    ASSERT_EQ(f.sync(shm::MsgType::SyncEnd, 7), StateManager::Outcome::SyncApplied);
    ASSERT_EQ(session_cp(*sm.current(), 5000), 100u);
    // The "restarted" control plane: same clients, no EndpointSet, except that client 200 moved
    // to another private IP.
    ASSERT_EQ(f.sync(shm::MsgType::SyncBegin, 8), StateManager::Outcome::Applied);
    f.cluster(1, "chacha20:rustun");
    f.cluster(2, "aes256:other");
    f.client(100, 1, "10.0.0.2", "192.168.1.0", 24);
    f.client(101, 1, "10.0.0.3");
    f.client(200, 2, "10.0.0.9");
    ASSERT_EQ(f.sync(shm::MsgType::SyncEnd, 8), StateManager::Outcome::SyncApplied);
    EXPECT_EQ(session_cp(*sm.current(), 5000), 100u);        // kept
    EXPECT_EQ(session_cp(*sm.current(), 6000), kNoSession);  // changed client: dropped
    // A re-keyed cluster drops its bindings too.
    ASSERT_EQ(f.sync(shm::MsgType::SyncBegin, 9), StateManager::Outcome::Applied);
    f.cluster(1, "chacha20:rotated");
    f.client(100, 1, "10.0.0.2", "192.168.1.0", 24);
    ASSERT_EQ(f.sync(shm::MsgType::SyncEnd, 9), StateManager::Outcome::SyncApplied);
    EXPECT_EQ(session_cp(*sm.current(), 5000), kNoSession);
}

// ---- Data replay protection (docs/protocol-extensions.md) ----

TEST(ReplayWindow, AcceptsNewRejectsSeenAndTooOld) {
    ReplayWindow w;
    EXPECT_TRUE(w.check_and_update(1000));
    EXPECT_FALSE(w.check_and_update(1000));  // replay
    EXPECT_TRUE(w.check_and_update(1002));
    EXPECT_TRUE(w.check_and_update(1001));   // reordered, within the window
    EXPECT_FALSE(w.check_and_update(1001));
    EXPECT_TRUE(w.check_and_update(5000));   // a jump clears the bitmap
    EXPECT_FALSE(w.check_and_update(5000 - kReplayWindow));  // too old, never seen
    EXPECT_TRUE(w.check_and_update(5000 - kReplayWindow + 1));
    EXPECT_FALSE(w.check_and_update(1002));
    EXPECT_FALSE(w.check_and_update(0));
    // Sliding across block boundaries, one counter at a time: each once.
    ReplayWindow v;
    for (uint64_t c = 1; c < 3000; ++c) ASSERT_TRUE(v.check_and_update(c)) << c;
    for (uint64_t c = 2999 - kReplayWindow + 1; c < 3000; ++c) ASSERT_FALSE(v.check_and_update(c)) << c;
    // Huge counters (the client starts at the Unix time in ns).
    ReplayWindow u;
    const uint64_t t = 1764650000000000000ull;
    EXPECT_TRUE(u.check_and_update(t));
    EXPECT_TRUE(u.check_and_update(t + 1));
    EXPECT_FALSE(u.check_and_update(t));
}

TEST(State, EndpointSetCarriesReplayFloorAndSyncLiveness) {
    StateManager sm(64, 2);
    Feed f{sm};
    f.tsc = 5555;
    full_sync(f, 7);
    shm::EndpointSetMsg m{};
    m.client_id = 101;
    m.endpoint = Feed::ep(5001);
    m.flags = shm::kEndpointLive | shm::kEndpointReplay;
    m.replay_floor_hi = 3;
    ASSERT_EQ(f.send(shm::MsgType::EndpointSet, m), StateManager::Outcome::Applied);
    ASSERT_EQ(f.sync(shm::MsgType::SyncEnd, 7), StateManager::Outcome::SyncApplied);
    const Generation& g = *sm.current();
    const ClientLive& a = g.clients[g.by_cp_id.at(100)];
    const ClientLive& b = g.clients[g.by_cp_id.at(101)];
    EXPECT_EQ(a.replay_floor.load(), 0u);          // not opted in
    EXPECT_EQ(a.last_rx_tsc.load(), 0u);           // a sync binding claims nothing by itself
    EXPECT_EQ(b.replay_floor.load(), uint64_t{3} << 32);
    EXPECT_EQ(b.last_rx_tsc.load(), 5555u);        // kEndpointLive: live as of the SyncEnd
    // A window per worker: worker 1 recording a counter does not affect worker 0.
    const uint32_t d = g.by_cp_id.at(101);
    EXPECT_TRUE(g.window(1, d).check_and_update(7));
    EXPECT_TRUE(g.window(0, d).check_and_update(7));
    // In place: a KeepAlive without opt-in turns it off; a Commit carries windows and floors.
    f.tsc = 6000;
    m.flags = shm::kEndpointReplay;
    m.replay_floor_hi = 0;  // opted in, floor 0 -> 1
    ASSERT_EQ(f.send(shm::MsgType::EndpointSet, m), StateManager::Outcome::Applied);
    EXPECT_EQ(b.replay_floor.load(), 1u);
    EXPECT_EQ(b.last_rx_tsc.load(), 6000u);
    f.client(102, 1, "10.0.0.9");
    ASSERT_EQ(f.send(shm::MsgType::Commit, shm::ClientIdMsg{}, 0), StateManager::Outcome::Flipped);
    const Generation& g2 = *sm.current();
    const uint32_t d2 = g2.by_cp_id.at(101);
    EXPECT_EQ(g2.clients[d2].replay_floor.load(), 1u);
    EXPECT_FALSE(g2.window(1, d2).check_and_update(7));  // carried: still seen
    EXPECT_FALSE(g2.window(0, d2).check_and_update(7));
    m.flags = 0;
    ASSERT_EQ(f.send(shm::MsgType::EndpointSet, m), StateManager::Outcome::Applied);
    EXPECT_EQ(g2.clients[d2].replay_floor.load(), 0u);
}

// The control plane routes every CIDR of a client; the dataplane must too (it used to get the
// first 250 only). The one writer (lib/shm/state_writer) carries them in continuations.
TEST(State, AClientWithMoreThan250CidrsIsRoutedByAllOfThem) {
    StateManager sm(64, 1);
    std::vector<std::pair<shm::MsgHeader, std::vector<uint8_t>>> msgs;
    shm::StateWriter w([&](shm::MsgType t, const void* body, uint32_t len) {
        const auto* b = static_cast<const uint8_t*>(body);
        msgs.push_back({shm::MsgHeader{static_cast<uint16_t>(t), 0, len}, std::vector<uint8_t>(b, b + len)});
        return true;
    });
    shm::FullState st;
    st.cp_epoch = 3;
    auto spec = CipherSpec::parse("chacha20:rustun");
    st.clusters.push_back({1, static_cast<uint8_t>(spec->method), spec->derived_key()});
    shm::ClientState big{100, 1, ip("10.0.0.2"), {}};
    for (uint32_t i = 0; i < 600; ++i) big.cidrs.push_back(shm::Cidr{ip("172.16.0.0") + (i << 8), 24, {}});
    st.clients.push_back(big);
    st.clients.push_back({101, 1, ip("10.0.0.3"), {}});
    ASSERT_TRUE(w.full_sync(st));
    for (auto& [h, body] : msgs) {
        const auto o = sm.apply(h, body.data(), 1);
        ASSERT_TRUE(o == StateManager::Outcome::Applied || o == StateManager::Outcome::SyncApplied) << sm.last_error();
    }
    const Generation& g = *sm.current();
    const uint32_t a = g.by_cp_id.at(100);
    const uint32_t b = g.by_cp_id.at(101);
    EXPECT_EQ(g.routes.lookup(g.clients[b].cluster, ip("172.16.0.9")), a);      // CIDR #0
    EXPECT_EQ(g.routes.lookup(g.clients[b].cluster, ip("172.16.249.9")), a);    // #249, the last one before
    EXPECT_EQ(g.routes.lookup(g.clients[b].cluster, ip("172.16.250.9")), a);    // #250, the first beyond
    EXPECT_EQ(g.routes.lookup(g.clients[b].cluster, ip("172.18.87.9")), a);     // #599
    EXPECT_EQ(g.routes.lookup(g.clients[b].cluster, ip("172.18.88.9")), kNoClient);
    EXPECT_TRUE(g.routes.source_allowed(a, ip("172.18.87.1")));
}

TEST(State, AppendedCidrsNeedTheirClientSetFirst) {
    StateManager sm(64, 1);
    Feed f{sm};
    ASSERT_EQ(f.sync(shm::MsgType::SyncBegin, 4), StateManager::Outcome::Applied);
    shm::ClientSetMsg m{};
    m.client_id = 7;
    m.cluster_id = 1;
    m.private_ip = ip("10.0.0.2");
    m.flags = shm::kClientSetAppendCidrs;
    m.cidr_count = 1;
    m.cidrs[0] = shm::Cidr{ip("172.16.0.0"), 24, {}};
    EXPECT_EQ(f.send(shm::MsgType::ClientSet, m, 24), StateManager::Outcome::Rejected);  // no such client
    ASSERT_EQ(f.client(7, 1, "10.0.0.2"), StateManager::Outcome::Applied);
    m.private_ip = ip("10.0.0.9");
    EXPECT_EQ(f.send(shm::MsgType::ClientSet, m, 24), StateManager::Outcome::Rejected);  // not the same client
    m.private_ip = ip("10.0.0.2");
    m.flags = 4;
    EXPECT_EQ(f.send(shm::MsgType::ClientSet, m, 24), StateManager::Outcome::Rejected);  // unknown flag
    m.flags = shm::kClientSetAppendCidrs;
    EXPECT_EQ(f.send(shm::MsgType::ClientSet, m, 24), StateManager::Outcome::Applied);
}

// ---- The fleet's UDP link (docs/fleet.md, "UDP link through the dataplane") ----

namespace {

// Pushes through the one writer of control messages (lib/shm/state_writer), so that its
// encodings are what these tests apply.
shm::StateWriter writer_for(StateManager& sm, std::vector<StateManager::Outcome>& outcomes) {
    return shm::StateWriter([&sm, &outcomes](shm::MsgType t, const void* body, uint32_t len) {
        shm::MsgHeader h{static_cast<uint16_t>(t), 0, len};
        outcomes.push_back(sm.apply(h, static_cast<const uint8_t*>(body), 1000));
        return true;
    });
}

shm::Endpoint peer_ep(uint8_t last) {
    shm::Endpoint e{};
    e.family = 4;
    e.port = 51258;
    e.addr[0] = 192;
    e.addr[2] = 2;
    e.addr[3] = last;
    return e;
}

std::array<uint8_t, 32> fleet_bytes(const char* spec) {
    auto k = fleet::LinkKey::derive(spec);
    EXPECT_TRUE(k.ok());
    return k.value().bytes;
}

}  // namespace

TEST(StateLink, ASyncCarriesTheKeyMembersRemoteHomesAndClusterNames) {
    StateManager sm(64, 2);
    std::vector<StateManager::Outcome> out;
    shm::StateWriter w = writer_for(sm, out);
    ASSERT_TRUE(w.sync_begin(3, 2, 3));
    auto ck = CipherSpec::parse("aes256:cluster-key")->derived_key();
    ASSERT_TRUE(w.cluster_set(1, static_cast<uint8_t>(CipherMethod::Aes256Gcm), ck, "tenant-b"));
    ASSERT_TRUE(w.cluster_set(2, static_cast<uint8_t>(CipherMethod::Aes256Gcm), ck, "tenant-a"));
    ASSERT_TRUE(w.client_set(10, 1, ip("10.0.0.2"), {}));
    ASSERT_TRUE(w.client_set(11, 1, ip("10.0.0.3"), {}));
    ASSERT_TRUE(w.client_set(20, 2, ip("10.0.0.2"), {}));
    ASSERT_TRUE(w.fleet_link_set(static_cast<uint8_t>(CipherMethod::Aes256Gcm), fleet_bytes("aes256:fleet"), "gw-1"));
    ASSERT_TRUE(w.link_peer_set(0, "gw-2", peer_ep(2)));
    ASSERT_TRUE(w.link_peer_set(5, "gw-3", peer_ep(3)));
    ASSERT_TRUE(w.remote_home_set(11, 5));
    ASSERT_TRUE(w.sync_end(3, 2, 3));
    for (size_t i = 0; i + 1 < out.size(); ++i) EXPECT_EQ(out[i], StateManager::Outcome::Applied) << "message " << i << ": " << sm.last_error();
    ASSERT_EQ(out.back(), StateManager::Outcome::SyncApplied);
    const Generation& g = *sm.current();
    ASSERT_NE(g.link, nullptr);
    EXPECT_EQ(g.link->sender, "gw-1");
    EXPECT_EQ(g.link->peer_of("gw-2"), 0);
    EXPECT_EQ(g.link->peer_of("gw-3"), 5);
    EXPECT_EQ(g.link->peer_of("gw-4"), -1);
    EXPECT_EQ(g.link->peers[5].to.addr[3], 3);
    // The key is the fleet key: a frame sealed with LinkKey::create of the same text verifies.
    auto auth = fleet::LinkAuth::create();
    auto same = fleet::LinkKey::create("aes256:fleet");
    uint8_t nonce[12] = {1}, t1[16], t2[16];
    const uint8_t aad[5] = {1, 2, 3, 4, 5};
    auth.value()->tag(*g.link->key, nonce, aad, sizeof aad, t1);
    auth.value()->tag(*same.value(), nonce, aad, sizeof aad, t2);
    EXPECT_EQ(std::memcmp(t1, t2, 16), 0);
    // Cluster names resolve to the dense ids the routes use.
    const uint32_t a = g.by_cp_id.at(10), r = g.by_cp_id.at(11), other = g.by_cp_id.at(20);
    ASSERT_GE(g.cluster_of("tenant-b"), 0);
    EXPECT_EQ(static_cast<uint32_t>(g.cluster_of("tenant-b")), g.clients[a].cluster);
    EXPECT_EQ(static_cast<uint32_t>(g.cluster_of("tenant-a")), g.clients[other].cluster);
    EXPECT_EQ(g.cluster_of("tenant-c"), -1);
    EXPECT_EQ(g.cluster_names[g.clients[a].cluster], "tenant-b");
    EXPECT_EQ(g.remote_peer[r].load(), 5);
    EXPECT_EQ(g.remote_peer[a].load(), shm::kNoLinkPeer);
    EXPECT_EQ(g.remote_peer[other].load(), shm::kNoLinkPeer);
}

TEST(StateLink, RemoteHomesChangeInPlaceMembersAtCommit) {
    StateManager sm(64, 1);
    std::vector<StateManager::Outcome> out;
    shm::StateWriter w = writer_for(sm, out);
    shm::FullState st;
    st.cp_epoch = 4;
    st.clusters.push_back({1, static_cast<uint8_t>(CipherMethod::ChaCha20Poly1305),
                           CipherSpec::parse("chacha20:k")->derived_key(), "c"});
    st.clients.push_back({10, 1, ip("10.0.0.2"), {}});
    st.clients.push_back({11, 1, ip("10.0.0.3"), {}});
    st.fleet = shm::FleetLinkState{};
    st.fleet->method = static_cast<uint8_t>(CipherMethod::ChaCha20Poly1305);
    st.fleet->key = fleet_bytes("chacha20:fleet");
    st.fleet->sender = "gw-1";
    st.fleet->peers.push_back({0, "gw-2", peer_ep(2)});
    ASSERT_TRUE(w.full_sync(st));
    const Generation* g1 = sm.current();
    const uint32_t r = g1->by_cp_id.at(11);
    const uint32_t v1 = g1->link->peers[0].version;
    EXPECT_NE(v1, 0u);
    // RemoteHomeSet: in place, no new generation.
    EXPECT_EQ(w.remote_home_set(11, 0) ? sm.current() : nullptr, g1);
    EXPECT_EQ(g1->remote_peer[r].load(), 0);
    ASSERT_TRUE(w.remote_home_set(11, shm::kNoLinkPeer));
    EXPECT_EQ(g1->remote_peer[r].load(), shm::kNoLinkPeer);
    ASSERT_TRUE(w.remote_home_set(11, 0));
    // LinkPeerSet waits for Commit; the remote homes survive the new generation.
    ASSERT_TRUE(w.link_peer_set(1, "gw-3", peer_ep(3)));
    EXPECT_EQ(sm.current(), g1);
    EXPECT_EQ(g1->link->peer_of("gw-3"), -1);
    ASSERT_TRUE(w.commit());
    EXPECT_EQ(out.back(), StateManager::Outcome::Flipped);
    const Generation* g2 = sm.current();
    ASSERT_NE(g2, g1);
    EXPECT_EQ(g2->link->peer_of("gw-3"), 1);
    EXPECT_EQ(g2->link->peers[0].version, v1) << "the same member in the same slot keeps its replay windows";
    EXPECT_EQ(g2->remote_peer[g2->by_cp_id.at(11)].load(), 0);
    // A slot given to another member gets a new version (a new replay window in every worker);
    // an emptied slot is no member at all.
    ASSERT_TRUE(w.link_peer_set(0, "gw-4", peer_ep(4)));
    ASSERT_TRUE(w.link_peer_set(1, "", {}));
    ASSERT_TRUE(w.commit());
    const Generation* g3 = sm.current();
    EXPECT_EQ(g3->link->peer_of("gw-4"), 0);
    EXPECT_NE(g3->link->peers[0].version, v1);
    EXPECT_EQ(g3->link->peer_of("gw-3"), -1);
    EXPECT_EQ(g3->link->peer_of("gw-2"), -1);
    // Method 0: no UDP link at all.
    ASSERT_TRUE(w.fleet_link_set(0, std::array<uint8_t, 32>{}, ""));
    ASSERT_TRUE(w.commit());
    EXPECT_EQ(sm.current()->link, nullptr);
}

TEST(StateLink, MalformedLinkMessagesAreRejected) {
    StateManager sm(64, 1);
    Feed f{sm};
    full_sync(f, 5);
    ASSERT_EQ(f.sync(shm::MsgType::SyncEnd, 5), StateManager::Outcome::SyncApplied);
    shm::FleetLinkMsg fl{};
    fl.method = static_cast<uint8_t>(CipherMethod::Xor);  // not an AEAD
    fl.sender_len = 4;
    std::memcpy(fl.sender, "gw-1", 4);
    EXPECT_EQ(f.send(shm::MsgType::FleetLinkSet, fl, 44), StateManager::Outcome::Rejected);
    fl.method = static_cast<uint8_t>(CipherMethod::Aes256Gcm);
    fl.sender_len = 0;  // no sender
    EXPECT_EQ(f.send(shm::MsgType::FleetLinkSet, fl, 40), StateManager::Outcome::Rejected);
    fl.sender_len = 9;  // beyond the body
    EXPECT_EQ(f.send(shm::MsgType::FleetLinkSet, fl, 44), StateManager::Outcome::Rejected);
    shm::LinkPeerMsg lp{};
    lp.peer = shm::kMaxLinkPeers;  // no such slot
    lp.name_len = 4;
    std::memcpy(lp.name, "gw-2", 4);
    lp.endpoint = peer_ep(2);
    EXPECT_EQ(f.send(shm::MsgType::LinkPeerSet, lp, 28), StateManager::Outcome::Rejected);
    lp.peer = 0;
    lp.endpoint.port = 0;  // a member without a port
    EXPECT_EQ(f.send(shm::MsgType::LinkPeerSet, lp, 28), StateManager::Outcome::Rejected);
    EXPECT_EQ(f.send(shm::MsgType::RemoteHomeSet, shm::RemoteHomeMsg{100, 64, 0}), StateManager::Outcome::Rejected);
    EXPECT_EQ(f.send(shm::MsgType::RemoteHomeSet, shm::RemoteHomeMsg{100, 0, 0}, 4), StateManager::Outcome::Rejected);
    shm::ClusterSetMsg cs{};
    cs.cluster_id = 9;
    cs.method = static_cast<uint8_t>(CipherMethod::Plain);
    cs.name_len = 10;  // a name the body does not hold
    EXPECT_EQ(f.send(shm::MsgType::ClusterSet, cs, 8), StateManager::Outcome::Rejected);
    EXPECT_EQ(sm.current()->link, nullptr);
}
