// The one writer of the control protocol (lib/shm/state_writer.hpp) and the control-ring push
// (lib/shm/control_push.hpp): message order, exact bodies and lengths, CIDR continuations, and
// that nothing is pushed after a failed push.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "shm/channel.hpp"
#include "shm/control_push.hpp"
#include "shm/state_writer.hpp"

namespace rustun::shm {
namespace {

struct Pushed {
    MsgType type;
    std::vector<uint8_t> body;
};

// A PushFn that records; fails from push number `fail_at` (0-based) on.
struct Recorder {
    std::vector<Pushed> msgs;
    size_t fail_at = SIZE_MAX;
    size_t calls = 0;
    PushFn fn() {
        return [this](MsgType t, const void* body, uint32_t len) {
            if (calls++ >= fail_at) return false;
            const auto* b = static_cast<const uint8_t*>(body);
            msgs.push_back({t, std::vector<uint8_t>(b, b + len)});
            return true;
        };
    }
};

template <typename T>
T body_as(const Pushed& p) {
    T v{};
    std::memcpy(&v, p.body.data(), std::min(sizeof v, p.body.size()));
    return v;
}

Endpoint ep4(uint8_t last, uint16_t port) {
    Endpoint e{};
    e.family = 4;
    e.port = port;
    e.addr[0] = 198;
    e.addr[1] = 51;
    e.addr[2] = 100;
    e.addr[3] = last;
    return e;
}

ClientState client_with_cidrs(uint32_t id, size_t n) {
    ClientState c{id, 2, 0x0a000002, {}};
    for (size_t i = 0; i < n; ++i) c.cidrs.push_back(Cidr{0xac100000u + static_cast<uint32_t>(i << 8), 24, {}});
    return c;
}

TEST(ShmStateWriter, FullSyncPushesEveryMessageInOrderWithItsExactLength) {
    FullState st;
    st.cp_epoch = 0x1122334455667788ull;
    st.clusters.push_back({0, 2, std::vector<uint8_t>(32, 0xab)});
    st.clusters.push_back({1, 0, {}});  // plain: no key bytes
    st.clients.push_back({0, 0, 0x0a000002, {Cidr{0xc0a80100, 24, {}}}});
    st.clients.push_back({1, 1, 0x0a000003, {}});
    st.endpoints.push_back({0, ep4(1, 5000), true, std::nullopt});
    Recorder r;
    StateWriter w(r.fn());
    ASSERT_TRUE(w.full_sync(st));
    ASSERT_EQ(r.msgs.size(), 7u);
    EXPECT_EQ(w.pushed(), 7u);
    const MsgType order[] = {MsgType::SyncBegin, MsgType::ClusterSet, MsgType::ClusterSet, MsgType::ClientSet,
                             MsgType::ClientSet, MsgType::EndpointSet, MsgType::SyncEnd};
    for (size_t i = 0; i < 7; ++i) EXPECT_EQ(r.msgs[i].type, order[i]) << i;

    for (size_t i : {size_t{0}, size_t{6}}) {
        ASSERT_EQ(r.msgs[i].body.size(), sizeof(SyncMsg));
        const auto s = body_as<SyncMsg>(r.msgs[i]);
        EXPECT_EQ(s.cp_epoch, st.cp_epoch);
        EXPECT_EQ(s.cluster_count, 2u);
        EXPECT_EQ(s.client_count, 2u);
    }
    // ClusterSet: 8 bytes + the key, nothing more.
    ASSERT_EQ(r.msgs[1].body.size(), 8u + 32u);
    const std::vector<uint8_t> c0 = {0, 0, 0, 0, 2, 0, 32, 0};
    EXPECT_TRUE(std::equal(c0.begin(), c0.end(), r.msgs[1].body.begin()));
    EXPECT_EQ(r.msgs[1].body.back(), 0xab);
    ASSERT_EQ(r.msgs[2].body.size(), 8u);
    // ClientSet: 16 bytes + 8 per CIDR, flags 0.
    ASSERT_EQ(r.msgs[3].body.size(), 16u + 8u);
    const auto cs = body_as<ClientSetMsg>(r.msgs[3]);
    EXPECT_EQ(cs.client_id, 0u);
    EXPECT_EQ(cs.private_ip, 0x0a000002u);
    EXPECT_EQ(cs.cidr_count, 1u);
    EXPECT_EQ(cs.flags, 0u);
    EXPECT_EQ(cs.cidrs[0].network, 0xc0a80100u);
    EXPECT_EQ(cs.cidrs[0].prefix_len, 24u);
    EXPECT_EQ(r.msgs[4].body.size(), 16u);
    // EndpointSet: the whole 32-byte body, live flag, no replay.
    ASSERT_EQ(r.msgs[5].body.size(), sizeof(EndpointSetMsg));
    const auto es = body_as<EndpointSetMsg>(r.msgs[5]);
    EXPECT_EQ(es.flags, kEndpointLive);
    EXPECT_EQ(es.replay_floor_hi, 0u);
    EXPECT_EQ(std::memcmp(&es.endpoint, &st.endpoints[0].endpoint, sizeof(Endpoint)), 0);
}

TEST(ShmStateWriter, ManyCidrsAreCarriedInContinuationsNotCut) {
    for (const size_t n : {size_t{250}, size_t{251}, size_t{500}, size_t{600}}) {
        Recorder r;
        StateWriter w(r.fn());
        const ClientState c = client_with_cidrs(9, n);
        ASSERT_TRUE(w.client_set(c));
        const size_t want = (n + ClientSetMsg::kMaxCidrs - 1) / ClientSetMsg::kMaxCidrs;
        ASSERT_EQ(r.msgs.size(), want) << n;
        size_t seen = 0;
        for (size_t i = 0; i < r.msgs.size(); ++i) {
            const auto m = body_as<ClientSetMsg>(r.msgs[i]);
            EXPECT_EQ(m.client_id, 9u);
            EXPECT_EQ(m.cluster_id, 2u);
            EXPECT_EQ(m.private_ip, 0x0a000002u);
            EXPECT_EQ(m.flags, i == 0 ? 0 : kClientSetAppendCidrs) << n << " #" << i;
            EXPECT_EQ(r.msgs[i].body.size(), 16u + 8u * m.cidr_count);
            for (uint16_t k = 0; k < m.cidr_count; ++k) EXPECT_EQ(m.cidrs[k].network, c.cidrs[seen + k].network);
            seen += m.cidr_count;
        }
        EXPECT_EQ(seen, n);
    }
}

TEST(ShmStateWriter, ReplayFloorAndIncrementalMessages) {
    Recorder r;
    StateWriter w(r.fn());
    ASSERT_TRUE(w.endpoint_set({3, ep4(2, 6000), false, 0}));  // opted in, floor 0
    ASSERT_TRUE(w.endpoint_set({4, ep4(3, 6001), false, (uint64_t{5} << 32) | 7}));
    ASSERT_TRUE(w.client_remove(5));
    ASSERT_TRUE(w.endpoint_clear(6));
    ASSERT_TRUE(w.commit());
    ASSERT_EQ(r.msgs.size(), 5u);
    EXPECT_EQ(body_as<EndpointSetMsg>(r.msgs[0]).flags, kEndpointReplay);
    EXPECT_EQ(body_as<EndpointSetMsg>(r.msgs[0]).replay_floor_hi, 0u);
    EXPECT_EQ(body_as<EndpointSetMsg>(r.msgs[1]).replay_floor_hi, 5u);
    EXPECT_EQ(r.msgs[2].type, MsgType::ClientRemove);
    EXPECT_EQ(r.msgs[2].body.size(), sizeof(ClientIdMsg));
    EXPECT_EQ(body_as<ClientIdMsg>(r.msgs[2]).client_id, 5u);
    EXPECT_EQ(r.msgs[3].type, MsgType::EndpointClear);
    EXPECT_EQ(body_as<ClientIdMsg>(r.msgs[3]).client_id, 6u);
    EXPECT_EQ(r.msgs[4].type, MsgType::Commit);
    EXPECT_TRUE(r.msgs[4].body.empty());
}

TEST(ShmStateWriter, NothingIsPushedAfterAFailedPush) {
    FullState st;
    st.cp_epoch = 1;
    for (uint32_t i = 0; i < 4; ++i) st.clients.push_back({i, 0, 0x0a000000 + i, {}});
    Recorder r;
    r.fail_at = 2;  // SyncBegin, one ClientSet, then the ring is "full"
    StateWriter w(r.fn());
    EXPECT_FALSE(w.full_sync(st));
    EXPECT_EQ(r.msgs.size(), 2u);
    EXPECT_EQ(r.calls, 3u);  // the failed one, and none after it
    EXPECT_EQ(w.pushed(), 2u);
    EXPECT_FALSE(w.commit());
    EXPECT_EQ(r.calls, 3u);
}

TEST(ShmStateWriter, APlainClustersEmptyKeyIsNeverCopiedFromNull) {
    ClusterSetMsg m;
    // (UBSan: memcpy from a null pointer, even of 0 bytes, is undefined.)
    EXPECT_EQ(make_cluster_set(m, 3, 0, nullptr, 0), offsetof(ClusterSetMsg, key));
    EXPECT_EQ(m.cluster_id, 3u);
    EXPECT_EQ(m.key_len, 0u);
    const std::vector<uint8_t> empty;
    EXPECT_EQ(make_cluster_set(m, 4, 0, empty.data(), empty.size()), 8u);
    std::vector<uint8_t> big(2000, 7);
    EXPECT_EQ(make_cluster_set(m, 5, 1, big.data(), big.size()), 8u + ClusterSetMsg::kMaxKey);
    EXPECT_EQ(m.key[ClusterSetMsg::kMaxKey - 1], 7);
}

struct TempChannel {
    std::string dir, path;
    std::unique_ptr<Channel> dp, cp;
    explicit TempChannel(uint32_t control_slots) {
        char tmpl[] = "/dev/shm/rustun-writer-XXXXXX";
        dir = ::mkdtemp(tmpl);
        path = dir + "/chan";
        ChannelOptions o;
        o.control_slots = control_slots;
        o.tx_slots = o.dp_to_cp_slots = o.deliver_slots = 2;
        dp = std::move(Channel::create(path, o).value());
        cp = std::move(Channel::attach(path).value());
    }
    ~TempChannel() { std::filesystem::remove_all(dir); }
};

TEST(ShmControlPush, WritesIntoTheRingAndGivesUpWhenItStaysFull) {
    TempChannel t(2);
    const PushWait quick{std::chrono::milliseconds(30), std::chrono::milliseconds(1), false, nullptr};
    const SyncMsg s{7, 0, 0};
    EXPECT_TRUE(push_control(*t.cp, quick, MsgType::SyncBegin, &s, sizeof s));
    EXPECT_TRUE(push_control(*t.cp, quick, MsgType::SyncEnd, &s, sizeof s));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(push_control(*t.cp, quick, MsgType::Commit, nullptr, 0));  // full: waited, then gave up
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(30));
    EXPECT_EQ(t.cp->header().cp_heartbeat_ns.load(), 0u);  // heartbeat: false
    const uint8_t* slot = t.dp->control().peek();
    ASSERT_NE(slot, nullptr);
    EXPECT_EQ(msg_header(slot).type, static_cast<uint16_t>(MsgType::SyncBegin));
    EXPECT_EQ(msg_header(slot).len, sizeof(SyncMsg));
    EXPECT_EQ(std::memcmp(msg_body(slot), &s, sizeof s), 0);
}

TEST(ShmControlPush, WaitingKeepsTheHeartbeatAndStopsWhenCancelled) {
    TempChannel t(1);
    std::atomic<bool> cancel{false};
    const PushWait wait{std::chrono::seconds(10), std::chrono::milliseconds(1), true, &cancel};
    EXPECT_TRUE(push_control(*t.cp, wait, MsgType::Commit, nullptr, 0));
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        cancel = true;
    });
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(push_control(*t.cp, wait, MsgType::Commit, nullptr, 0));
    stopper.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    EXPECT_NE(t.cp->header().cp_heartbeat_ns.load(), 0u);  // refreshed while it waited
}

}  // namespace
}  // namespace rustun::shm
