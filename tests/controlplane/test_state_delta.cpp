// Reload deltas and the streamed full sync (controlplane/dataplane_delta.hpp), fed into the real
// dataplane StateManager (dataplane/state.hpp): what a reload pushes, that the dataplane ends up
// with the same state a full sync would give it, and that a full sync allocates nothing per client.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "config/yaml_loader.hpp"
#include "dataplane_delta.hpp"
#include "membership.hpp"
#include "state.hpp"

// Allocations counted while `g_counting` is set (this test binary's own operator new).
static std::atomic<bool> g_counting{false};
static std::atomic<uint64_t> g_allocs{0};
void* operator new(std::size_t n) {
    if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace rustun::cp {
namespace {

// A configuration of `n` clients c0000.. in clusters of 100 (k0, k1, ...), one key per cluster.
// `edit(i, line)` may change client i's line (or return "" to leave it out).
template <typename Edit>
std::string config(size_t n, Edit edit, const std::string& extra_cluster = "") {
    std::string y = "listen:\n  tcp: 127.0.0.1:0\ncrypto: chacha20:gw\ncontrol_socket: /nonexistent/c.sock\nclusters:\n";
    for (size_t i = 0; i < n; ++i) {
        if (i % 100 == 0)
            y += "  - name: k" + std::to_string(i / 100) + "\n    crypto: aes256:key" + std::to_string(i / 100) +
                 "\n    clients:\n";
        std::string line = "      - {identity: c" + std::to_string(i) + ", private_ip: 10.1." + std::to_string(i / 250) +
                           "." + std::to_string(i % 250 + 1) + ", mask: 255.0.0.0, gateway: 10.0.0.1, ciders: []}\n";
        y += edit(i, line);
    }
    return y + extra_cluster;
}
std::string config(size_t n) {
    return config(n, [](size_t, const std::string& l) { return l; });
}

std::shared_ptr<Membership> build(const std::string& yaml) {
    auto cfg = load_config_string(yaml, "test.yaml");
    EXPECT_TRUE(cfg.ok()) << cfg.error();
    auto m = Membership::build(cfg.value());
    EXPECT_TRUE(m.ok()) << m.error();
    return std::shared_ptr<Membership>(std::move(m.value()));
}

// The reload's matching (Gateway::plan_carry_over does the same, plus runtime and report).
StateDelta delta(const Membership& old, Membership& fresh) {
    std::vector<ClientId> same(fresh.clients.size(), kNoClient);
    std::vector<bool> rekeyed(fresh.clients.size(), false);
    for (ClientId n = 0; n < fresh.clients.size(); ++n) {
        const ClientId o = old.find(fresh.clients[n].cfg.identity);
        same[n] = o;
        if (o != kNoClient)
            rekeyed[n] = old.clusters[old.clients[o].cluster].key->spec() != fresh.clusters[fresh.clients[n].cluster].key->spec() ||
                         old.clusters[old.clients[o].cluster].name != fresh.clusters[fresh.clients[n].cluster].name;
    }
    fresh.generation = old.generation + 1;
    return carry_dataplane_ids(old, fresh, same, rekeyed);
}

struct Recorded {
    shm::MsgType type;
    uint32_t id;  // client/cluster id (first body word)
};

// Plays the dataplane: every pushed message is recorded and applied to a StateManager.
struct Dataplane {
    dp::StateManager sm{4096, 1};
    std::vector<Recorded> msgs;
    uint64_t tsc = 1000;
    shm::StateWriter writer() {
        return shm::StateWriter([this](shm::MsgType t, const void* body, uint32_t len) {
            uint32_t id = 0;
            if (len >= 4) std::memcpy(&id, body, 4);
            msgs.push_back({t, id});
            shm::MsgHeader h{static_cast<uint16_t>(t), 0, len};
            return sm.apply(h, static_cast<const uint8_t*>(body), tsc) != dp::StateManager::Outcome::Rejected;
        });
    }
    void full_sync(const Membership& m, uint64_t epoch) {
        auto w = writer();
        ASSERT_TRUE(w.sync_begin(epoch, 0, 0));
        ASSERT_TRUE(push_configured(w, m));
        ASSERT_TRUE(w.sync_end(epoch, 0, 0));
        msgs.clear();
    }
    void bind(uint32_t dp_id, uint16_t port) {
        auto w = writer();
        ASSERT_TRUE(w.endpoint_set(shm::EndpointState{dp_id, ep(port), false, std::nullopt}));
        msgs.clear();
    }
    static shm::Endpoint ep(uint16_t port) {
        shm::Endpoint e{};
        e.family = 4;
        e.port = port;
        e.addr[0] = 198;
        e.addr[3] = 7;
        return e;
    }
    uint32_t session_of(uint16_t port) const {
        const dp::Generation& g = *sm.current();
        const uint32_t s = g.sessions.lookup(dp::EndpointKey::from(ep(port)));
        return s == dp::kNoSession ? dp::kNoSession : g.clients[s].cp_id;
    }
    // The dataplane's client (by dataplane id): its private IP routes to it in its cluster.
    bool routes(const Membership& m, ClientId c) const {
        const dp::Generation& g = *sm.current();
        auto d = g.by_cp_id.find(m.dp.client[c]);
        if (d == g.by_cp_id.end()) return false;
        return g.routes.lookup(g.clients[d->second].cluster, m.clients[c].cfg.private_ip.value) == d->second;
    }
};

TEST(StateDelta, AReloadThatChangesOneClientOf1000PushesItsClientSetAndCommit) {
    auto old = build(config(1000));
    Dataplane dp;
    dp.full_sync(*old, 7);
    auto fresh = build(config(1000, [](size_t i, const std::string& l) {
        if (i != 417) return l;
        std::string c = l;
        c.replace(c.find("ciders: []"), 10, "ciders: [192.168.4.0/24]");
        return c;
    }));
    const StateDelta d = delta(*old, *fresh);
    ASSERT_FALSE(d.full);
    EXPECT_EQ(d.messages(), 2u);
    auto w = dp.writer();
    ASSERT_TRUE(push_delta(w, *fresh, d));
    ASSERT_EQ(dp.msgs.size(), 2u);
    EXPECT_EQ(dp.msgs[0].type, shm::MsgType::ClientSet);
    EXPECT_EQ(dp.msgs[0].id, fresh->dp.client[417]);
    EXPECT_EQ(dp.msgs[1].type, shm::MsgType::Commit);
    // The dataplane routes the new CIDR to the client.
    const dp::Generation& g = *dp.sm.current();
    const uint32_t dense = g.by_cp_id.at(fresh->dp.client[417]);
    EXPECT_EQ(g.routes.lookup(g.clients[dense].cluster, 0xc0a80405u), dense);
    EXPECT_EQ(g.client_count, 1000u);
}

TEST(StateDelta, AnUnchangedReloadPushesNothing) {
    auto old = build(config(300));
    auto fresh = build(config(300));
    const StateDelta d = delta(*old, *fresh);
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(d.messages(), 0u);
    Dataplane dp;
    auto w = dp.writer();
    ASSERT_TRUE(push_delta(w, *fresh, d));
    EXPECT_TRUE(dp.msgs.empty());
}

TEST(StateDelta, ARemovedClientIsClientRemoveAndItsSessionIsGoneInTheDataplane) {
    auto old = build(config(300));
    Dataplane dp;
    dp.full_sync(*old, 7);
    dp.bind(old->dp.client[5], 5005);
    dp.bind(old->dp.client[250], 5250);
    ASSERT_EQ(dp.session_of(5005), old->dp.client[5]);
    // c5 removed: every later client has another ClientId now, but the same dataplane id.
    auto fresh = build(config(300, [](size_t i, const std::string& l) { return i == 5 ? std::string() : l; }));
    const StateDelta d = delta(*old, *fresh);
    ASSERT_FALSE(d.full);
    ASSERT_EQ(d.messages(), 2u);
    auto w = dp.writer();
    ASSERT_TRUE(push_delta(w, *fresh, d));
    ASSERT_EQ(dp.msgs.size(), 2u);
    EXPECT_EQ(dp.msgs[0].type, shm::MsgType::ClientRemove);
    EXPECT_EQ(dp.msgs[0].id, old->dp.client[5]);
    EXPECT_EQ(dp.msgs[1].type, shm::MsgType::Commit);
    EXPECT_EQ(dp.session_of(5005), dp::kNoSession);
    EXPECT_EQ(dp.sm.current()->by_cp_id.count(old->dp.client[5]), 0u);
    // c250 is ClientId 249 now, still known to the dataplane by its old id, still bound.
    const ClientId c250 = fresh->find("c250");
    EXPECT_EQ(c250, 249u);
    EXPECT_EQ(fresh->dp.client[c250], old->dp.client[250]);
    EXPECT_EQ(fresh->dp.to_client(old->dp.client[250]), c250);
    EXPECT_EQ(dp.session_of(5250), old->dp.client[250]);
    EXPECT_TRUE(dp.routes(*fresh, c250));
    EXPECT_EQ(dp.sm.current()->client_count, 299u);
}

TEST(StateDelta, ANewClientNeverGetsTheIdOfARemovedOne) {
    auto old = build(config(300));
    Dataplane dp;
    dp.full_sync(*old, 7);
    auto fresh = build(config(300, [](size_t i, const std::string& l) {
        if (i == 5) return std::string();
        if (i != 6) return l;
        return l + "      - {identity: newbie, private_ip: 10.9.9.9, mask: 255.0.0.0, gateway: 10.0.0.1, ciders: []}\n";
    }));
    const StateDelta d = delta(*old, *fresh);
    ASSERT_FALSE(d.full);
    const ClientId nb = fresh->find("newbie");
    EXPECT_EQ(fresh->dp.client[nb], 300u);  // after every id of the numbering
    EXPECT_EQ(fresh->dp.to_client(old->dp.client[5]), kNoClient);
    auto w = dp.writer();
    ASSERT_TRUE(push_delta(w, *fresh, d));
    EXPECT_EQ(d.messages(), 3u);  // ClientRemove, ClientSet, Commit
    EXPECT_TRUE(dp.routes(*fresh, nb));
    for (ClientId c = 0; c < fresh->clients.size(); ++c) ASSERT_TRUE(dp.routes(*fresh, c)) << c;
}

TEST(StateDelta, ARekeyedClusterIsClusterSetAndItsBindingsAreCleared) {
    auto old = build(config(300));
    Dataplane dp;
    dp.full_sync(*old, 7);
    dp.bind(old->dp.client[120], 6120);
    std::string y = config(300);
    y.replace(y.find("aes256:key1\n"), 12, "aes256:new1\n");
    auto fresh = build(y);
    const StateDelta d = delta(*old, *fresh);
    ASSERT_FALSE(d.full);
    EXPECT_EQ(d.cluster_sets.size(), 1u);
    EXPECT_EQ(d.endpoint_clears.size(), 100u);
    EXPECT_TRUE(d.client_sets.empty());
    auto w = dp.writer();
    ASSERT_TRUE(push_delta(w, *fresh, d));
    EXPECT_EQ(dp.msgs.front().type, shm::MsgType::ClusterSet);
    EXPECT_EQ(dp.session_of(6120), dp::kNoSession);
    const dp::Generation& g = *dp.sm.current();
    const uint32_t dense = g.by_cp_id.at(fresh->dp.client[120]);
    EXPECT_EQ(g.clients[dense].key->spec().derived_key(), fresh->clusters[1].key->spec().derived_key());
}

TEST(StateDelta, ANumberingGrownTooSparseAsksForAFullSync) {
    auto m = build(config(100));
    for (int round = 0; round < 40; ++round) {
        // Replace every client by a new identity: each round hands out 100 new ids.
        std::string tag = std::to_string(round);
        tag += 'r';
        auto fresh = build(config(100, [&](size_t, const std::string& l) {
            std::string c = l;
            c.replace(c.find("identity: c"), 11, "identity: " + tag + "c");
            return c;
        }));
        const StateDelta d = delta(*m, *fresh);
        if (d.full) {
            EXPECT_GT(round, 5);
            EXPECT_EQ(fresh->dp.client_of.size(), 100u);  // dense again
            return;
        }
        m = fresh;
    }
    FAIL() << "the numbering never got compacted";
}

// The full sync streams: allocations do not grow with the number of clients.
uint64_t allocations_of_a_full_sync(const Membership& m) {
    uint64_t messages = 0;
    shm::StateWriter w([&](shm::MsgType, const void*, uint32_t) { return ++messages, true; });
    g_allocs = 0;
    g_counting = true;
    const bool ok = push_configured(w, m);
    g_counting = false;
    EXPECT_TRUE(ok);
    EXPECT_EQ(messages, m.clusters.size() + m.clients.size());
    return g_allocs.load();
}

TEST(StateDelta, AFullSyncAllocatesNothingPerClient) {
    auto small = build(config(1000));
    auto big = build(config(20000));
    const uint64_t a_small = allocations_of_a_full_sync(*small);
    const uint64_t a_big = allocations_of_a_full_sync(*big);
    // One derived key per cluster (10 vs 200 clusters) and the CIDR scratch; nothing per client.
    EXPECT_LE(a_small, small->clusters.size() + 8);
    EXPECT_LE(a_big, big->clusters.size() + 8);
}

}  // namespace
}  // namespace rustun::cp
