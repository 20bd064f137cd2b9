// The fleet's inter-gateway link between two in-process control planes on loopback
// (docs/fleet.md, "Link"): Data between clients homed on different gateways, bytes unchanged,
// and every refusal and drop counted. The fleet view is a test directory here; the fleet tests
// (tests/fleet) run the same over etcd.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <new>
#include <thread>

#include "fleet/link_auth.hpp"
#include "fleet/link_replay.hpp"
#include "fleet_link.hpp"
#include "fleet_link_directory.hpp"
#include "fleet_harness.hpp"
#include "util/clock.hpp"
#include "util/endian.hpp"

namespace rustun::cp::test {
namespace {

std::unique_ptr<FrameStream> join(const Member& m, const std::string& identity) {
    auto s = FrameStream::connect(m.tcp(), test_key());
    EXPECT_TRUE(s.ok());
    if (!s.ok()) return nullptr;
    Handshake hs;
    hs.identity = identity;
    std::string body;
    encode_handshake(hs, Shape::New, body);
    EXPECT_TRUE(s.value()->send(FrameType::Handshake, body).ok());
    auto f = s.value()->recv(3000);
    EXPECT_TRUE(f.ok() && f->frame_type() == FrameType::HandshakeReply);
    return std::move(s).value();
}

std::vector<uint8_t> data_frame(FrameStream& s, const char* src, const char* dst, size_t len = 84) {
    const auto pkt = ipv4_packet(src, dst, len);
    return s.seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size()))
        .value();
}

// The next Data frame on `s` (skipping PeerUpdates and the like).
Result<ReceivedFrame> recv_data(FrameStream& s, int ms = 3000) {
    for (int i = 0; i < 10; ++i) {
        auto f = s.recv(ms);
        if (!f.ok() || f->frame_type() == FrameType::Data) return f;
    }
    return make_error("no Data frame");
}

class FleetLinkTest : public ::testing::Test {
protected:
    void SetUp() override {
        set_log_level(LogLevel::Error);
        g1_.start("gw-1");
        g2_.start("gw-2");
        for (Member* m : {&g1_, &g2_}) {
            m->directory.link("gw-1", g1_.link());
            m->directory.link("gw-2", g2_.link());
        }
        // client-a is homed on gw-1, client-b on gw-2.
        g1_.directory.home("client-b", "gw-2");
        g2_.directory.home("client-a", "gw-1");
    }
    Member g1_, g2_;
};

TEST_F(FleetLinkTest, DataBetweenGatewaysKeepsItsBytes) {
    auto a = join(g1_, "client-a");
    auto b = join(g2_, "client-b");
    ASSERT_TRUE(a && b);
    for (size_t len : {20u, 84u, 1400u, 60000u}) {
        const auto frame = data_frame(*a, "10.0.1.2", "10.0.1.3", len);
        ASSERT_TRUE(a->send_raw(frame.data(), frame.size()).ok());
        auto got = recv_data(*b);
        ASSERT_TRUE(got.ok()) << len << ": " << got.error();
        EXPECT_EQ(got->raw, frame) << len;
        EXPECT_TRUE(got->authentic);
    }
    // And back, from gw-2 to gw-1.
    const auto back = data_frame(*b, "10.0.1.3", "10.0.1.2");
    ASSERT_TRUE(b->send_raw(back.data(), back.size()).ok());
    auto got = recv_data(*a);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(got->raw, back);
    EXPECT_EQ(g1_.counter(Counter::fleet_link_queued), 4u);
    EXPECT_TRUE(g1_.wait_counter(Counter::fleet_link_tx, 4));
    EXPECT_EQ(g2_.counter(Counter::fleet_link_rx), 4u);
    EXPECT_EQ(g2_.counter(Counter::fleet_link_delivered), 4u);
    EXPECT_EQ(g1_.counter(Counter::fleet_link_delivered), 1u);
    EXPECT_EQ(g1_.counter(Counter::fleet_link_connects), 1u);
    EXPECT_EQ(g1_.counter(Counter::data_dst_offline), 0u);
}

TEST_F(FleetLinkTest, ManyFramesInOrder) {
    auto a = join(g1_, "client-a");
    auto b = join(g2_, "client-b");
    ASSERT_TRUE(a && b);
    std::vector<std::vector<uint8_t>> sent;
    for (int i = 0; i < 500; ++i) {
        sent.push_back(data_frame(*a, "10.0.1.2", "10.0.1.3", 100 + i));
        ASSERT_TRUE(a->send_raw(sent.back().data(), sent.back().size()).ok());
    }
    for (int i = 0; i < 500; ++i) {
        auto got = recv_data(*b);
        ASSERT_TRUE(got.ok()) << i << ": " << got.error();
        ASSERT_EQ(got->raw, sent[i]) << i;
    }
}

TEST_F(FleetLinkTest, DropsAreCounted) {
    auto a = join(g1_, "client-a");
    ASSERT_TRUE(a);
    // client-b is not online on gw-2, whatever gw-1's view says: dropped there.
    auto f = data_frame(*a, "10.0.1.2", "10.0.1.3");
    ASSERT_TRUE(a->send_raw(f.data(), f.size()).ok());
    EXPECT_TRUE(g2_.wait_counter(Counter::fleet_link_rx_dst_offline, 1));
    // client-c is online nowhere: dropped here as offline, nothing queued.
    f = data_frame(*a, "10.0.1.2", "10.0.1.4");
    ASSERT_TRUE(a->send_raw(f.data(), f.size()).ok());
    EXPECT_TRUE(g1_.wait_counter(Counter::data_dst_offline, 1));
    // Its home gateway has no link address: unknown gateway.
    g1_.directory.home("client-c", "gw-9");
    ASSERT_TRUE(a->send_raw(f.data(), f.size()).ok());
    EXPECT_TRUE(g1_.wait_counter(Counter::fleet_link_unknown_gateway, 1));
    // A gateway whose link port does not answer: connection refused, frames dropped, back-off.
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sl), 0);
    ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &sl);
    ::close(s);  // the port is free: nobody listens there
    g1_.directory.link("gw-9", "127.0.0.1:" + std::to_string(ntohs(sa.sin_port)));
    // (Frames sent while the back-off of the failure above runs are dropped as peer_down.)
    for (int i = 0; i < 100 && g1_.counter(Counter::fleet_link_connect_failed) == 0; ++i) {
        ASSERT_TRUE(a->send_raw(f.data(), f.size()).ok());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(g1_.wait_counter(Counter::fleet_link_connect_failed, 1));
    EXPECT_TRUE(g1_.wait_counter(Counter::fleet_link_peer_down, 1));
}

TEST_F(FleetLinkTest, ARefusedSenderIsCountedAndCutOff) {
    auto a = join(g1_, "client-a");
    auto b = join(g2_, "client-b");
    ASSERT_TRUE(a && b);
    g2_.directory.forget_link("gw-1");  // gw-1 is not a member for gw-2
    auto f = data_frame(*a, "10.0.1.2", "10.0.1.3");
    ASSERT_TRUE(a->send_raw(f.data(), f.size()).ok());
    EXPECT_TRUE(g2_.wait_counter(Counter::fleet_link_rx_unknown_sender, 1));
    EXPECT_EQ(g2_.counter(Counter::fleet_link_delivered), 0u);
    // gw-2 closed the connection; gw-1 notices and reconnects for the next frame once gw-1
    // is a member again.
    EXPECT_TRUE(g1_.wait_counter(Counter::fleet_link_conn_lost, 0));
    g2_.directory.link("gw-1", g1_.link());
    for (int i = 0; i < 50 && g2_.counter(Counter::fleet_link_delivered) == 0; ++i) {
        ASSERT_TRUE(a->send_raw(f.data(), f.size()).ok());
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_GE(g2_.counter(Counter::fleet_link_delivered), 1u);
    EXPECT_GE(g1_.counter(Counter::fleet_link_connects), 2u);
}

// Two threads with a Sender each (as two workers) seal frames for one peer gateway at once: one
// connection carries both, every frame arrives, each thread's frames in the order it sealed them,
// and the receiver's replay window refuses none (sequences are taken under the peer's mutex, so
// they only grow on the connection). Large writes also take the path where the socket is full and
// the link thread writes the rest on EPOLLOUT.
TEST_F(FleetLinkTest, SendersOnTwoThreadsShareOneConnectionInOrder) {
    auto a = join(g1_, "client-a");  // only seals the frames
    auto b = join(g2_, "client-b");
    ASSERT_TRUE(a && b);
    FleetLink* link = g1_.gw->fleet_link();
    ASSERT_NE(link, nullptr);
    constexpr int kPerThread = 1500;
    std::vector<std::vector<uint8_t>> frames[2];
    for (int t = 0; t < 2; ++t)
        for (int i = 0; i < kPerThread; ++i) frames[t].push_back(data_frame(*a, "10.0.1.2", "10.0.1.3", 1400));
    CounterBlock counters[2];
    std::atomic<int> dropped{0}, sealed{0}, received{0};
    auto sending = [&](int t) {
        auto sender = link->make_sender();
        ASSERT_TRUE(sender.ok()) << sender.error();
        for (int i = 0; i < kPerThread; ++i) {
            // At most 500 frames (≈ 720 KB) between the senders and client-b: its output queue on
            // gw-2 holds 1 MiB, and a frame dropped there would be the test's doing.
            if (sealed.load() - received.load() >= 500) {
                sender.value()->flush(counters[t]);
                for (int w = 0; w < 5000 && sealed.load() - received.load() >= 500; ++w)
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            for (;;) {
                const FleetLink::Relay r = sender.value()->relay("test", "client-b", 0x0a000103, frames[t][i], counters[t]);
                ASSERT_NE(r, FleetLink::Relay::NotRemote);
                if (r == FleetLink::Relay::Queued) {
                    sealed.fetch_add(1);
                    break;
                }
                // The peer's 4 MiB bound: wait for the writes to catch up (counted, not lost here).
                dropped.fetch_add(1);
                sender.value()->flush(counters[t]);
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            if (i % 200 == 199) sender.value()->flush(counters[t]);
        }
        sender.value()->flush(counters[t]);
    };
    std::thread t0(sending, 0), t1(sending, 1);
    size_t next[2] = {0, 0};
    bool in_order = true;
    while (received.load() < 2 * kPerThread) {
        auto got = recv_data(*b);
        if (!got.ok()) break;
        int from = -1;
        for (int t = 0; t < 2 && from < 0; ++t)
            if (next[t] < frames[t].size() && got->raw == frames[t][next[t]]) from = t;
        if (from < 0) {
            in_order = false;
            break;
        }
        ++next[from];
        received.fetch_add(1);
    }
    t0.join();
    t1.join();
    EXPECT_TRUE(in_order) << "frame " << received.load() << " out of its thread's order";
    EXPECT_EQ(received.load(), 2 * kPerThread);
    EXPECT_EQ(counters[0].get(Counter::fleet_link_queued) + counters[1].get(Counter::fleet_link_queued),
              2u * kPerThread);
    EXPECT_EQ(g2_.counter(Counter::fleet_link_rx_replay), 0u);
    EXPECT_EQ(g2_.counter(Counter::fleet_link_rx_too_old), 0u);
    EXPECT_EQ(g2_.counter(Counter::fleet_link_delivered), 2u * kPerThread);
    EXPECT_EQ(g1_.counter(Counter::fleet_link_connects), 1u);
    EXPECT_EQ(static_cast<uint64_t>(dropped.load()),
              counters[0].get(Counter::fleet_link_queue_full) + counters[1].get(Counter::fleet_link_queue_full));
}

TEST(FleetLinkKeys, AnotherFleetKeyIsRefused) {
    set_log_level(LogLevel::Error);
    Member g1, g2;
    g1.start("gw-1");
    g2.start("gw-2", "aes256:another-fleet");
    for (Member* m : {&g1, &g2}) {
        m->directory.link("gw-1", g1.link());
        m->directory.link("gw-2", g2.link());
    }
    g1.directory.home("client-b", "gw-2");
    auto a = join(g1, "client-a");
    auto b = join(g2, "client-b");
    ASSERT_TRUE(a && b);
    auto f = data_frame(*a, "10.0.1.2", "10.0.1.3");
    ASSERT_TRUE(a->send_raw(f.data(), f.size()).ok());
    EXPECT_TRUE(g2.wait_counter(Counter::fleet_link_rx_bad_tag, 1));
    EXPECT_EQ(g2.counter(Counter::fleet_link_delivered), 0u);
}

// A link frame made by hand (what an attacker with the fleet key's frames could replay).
std::vector<uint8_t> link_frame(const std::string& sender, uint64_t seq, const std::vector<uint8_t>& frame,
                                const char* key = kFleetKey) {
    auto k = fleet::LinkKey::create(key).value();
    auto auth = fleet::LinkAuth::create().value();
    fleet::LinkHeader h;
    h.sender = sender;
    h.cluster = "test";
    h.identity = "client-b";
    h.salt = 7;
    h.seq = seq;
    h.dst_ip = 0x0a000103;
    std::vector<uint8_t> out(4 + fleet::kLinkMaxFrameSize);
    const size_t n = auth->seal(*k, h, frame, std::span<uint8_t>(out.data() + 4, out.size() - 4));
    store_be32(out.data(), static_cast<uint32_t>(n));
    out.resize(4 + n);
    return out;
}

int connect_tcp(uint16_t port) {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    EXPECT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    return s;
}

TEST_F(FleetLinkTest, ReplayedLinkFramesAreRefused) {
    auto b = join(g2_, "client-b");
    ASSERT_TRUE(b);
    auto helper = FrameStream::connect(g1_.tcp(), test_key()).value();  // only to seal a Data frame
    const auto frame = data_frame(*helper, "10.0.1.2", "10.0.1.3");
    const uint64_t seq = realtime_ns();
    const auto lf = link_frame("gw-1", seq, frame);
    int s = connect_tcp(g2_.gw->fleet_link_port());
    ASSERT_EQ(::send(s, lf.data(), lf.size(), 0), static_cast<ssize_t>(lf.size()));
    auto got = recv_data(*b);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(got->raw, frame);
    ASSERT_EQ(::send(s, lf.data(), lf.size(), 0), static_cast<ssize_t>(lf.size()));  // the same again
    EXPECT_TRUE(g2_.wait_counter(Counter::fleet_link_rx_replay, 1));
    const auto old = link_frame("gw-1", seq - fleet::kLinkReplayWindow, frame);
    ASSERT_EQ(::send(s, old.data(), old.size(), 0), static_cast<ssize_t>(old.size()));
    EXPECT_TRUE(g2_.wait_counter(Counter::fleet_link_rx_too_old, 1));
    const auto next = link_frame("gw-1", seq + 1, frame);  // the connection is still served
    ASSERT_EQ(::send(s, next.data(), next.size(), 0), static_cast<ssize_t>(next.size()));
    got = recv_data(*b);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(g2_.counter(Counter::fleet_link_delivered), 2u);
    // Garbage: a bad format closes the connection.
    const uint8_t junk[8] = {0, 0, 0, 40, 'J', 'U', 'N', 'K'};
    ASSERT_EQ(::send(s, junk, sizeof junk, 0), 8);
    std::vector<uint8_t> pad(40, 0);
    (void)::send(s, pad.data(), pad.size(), MSG_NOSIGNAL);
    EXPECT_TRUE(g2_.wait_counter(Counter::fleet_link_rx_bad_format, 1));
    ::close(s);
}

TEST(FleetLinkConfig, TheFleetSectionStartsTheLink) {
    set_log_level(LogLevel::Error);
    char tmpl[] = "/tmp/rustun-fleet-cfg-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    const std::string path = dir + "/gateway.yaml";
    std::ofstream(path) << scenario_yaml(dir + "/control.sock") +
                               "fleet:\n  gateway_id: gw-7\n  etcd: [http://127.0.0.1:9]\n"
                               "  link:\n    listen: 127.0.0.1:0\n    key: aes256:fleet-secret\n";
    auto cfg = load_config_file(path);
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    {
        Gateway gw(std::move(cfg.value()), path);
        Status st = gw.start();
        ASSERT_TRUE(st.ok()) << st.error();
        EXPECT_NE(gw.fleet_link_port(), 0);
    }
    if (std::system(("rm -rf " + dir).c_str()) != 0) {
    }
}

// home_gateway() keeps the last snapshot per thread and loads it again only when the view's
// version moves: every publish is seen, and a new view is never answered from an old view's
// snapshot, not even one built at the same address with the same version.
TEST(FleetViewDirectory, ACachedSnapshotFollowsPublishesAndViews) {
    auto snapshot_with = [](const std::string& home) {
        RemoteClient b;
        b.cluster = "test";
        b.identity = "client-b";
        b.home = home;
        FleetClusterMap clusters;
        clusters.emplace("test", FleetCluster::build({b}));
        return FleetSnapshot::build({}, std::move(clusters), 1, false, 0);
    };
    alignas(FleetView) unsigned char storage[sizeof(FleetView)];
    auto* view = new (storage) FleetView;
    std::string gw;
    {
        FleetViewDirectory d(*view);
        view->publish(snapshot_with("gw-2"));
        ASSERT_TRUE(d.home_gateway("test", "client-b", gw));
        EXPECT_EQ(gw, "gw-2");
        view->publish(snapshot_with("gw-3"));  // the client moved
        ASSERT_TRUE(d.home_gateway("test", "client-b", gw));
        EXPECT_EQ(gw, "gw-3");
    }
    view->~FleetView();
    view = new (storage) FleetView;  // the same address; after two publishes the same version
    {
        FleetViewDirectory d(*view);
        view->publish(snapshot_with("gw-4"));
        view->publish(snapshot_with("gw-5"));
        ASSERT_TRUE(d.home_gateway("test", "client-b", gw));
        EXPECT_EQ(gw, "gw-5");
    }
    view->~FleetView();
}

TEST(FleetViewDirectory, AnswersFromTheRegistrysView) {
    FleetView view;
    FleetViewDirectory d(view);
    std::string gw;
    EXPECT_FALSE(d.home_gateway("test", "client-b", gw));
    FleetGateway self, two, nolink;
    self.id = "gw-1";
    self.link = "127.0.0.1:7100";
    self.self = true;
    two.id = "gw-2";
    two.link = "127.0.0.1:7200";
    nolink.id = "gw-3";
    RemoteClient b;
    b.cluster = "test";
    b.identity = "client-b";
    b.home = "gw-2";
    FleetClusterMap clusters;
    clusters.emplace("test", FleetCluster::build({b}));
    view.publish(FleetSnapshot::build({self, two, nolink}, std::move(clusters), 1, false, 0));
    ASSERT_TRUE(d.home_gateway("test", "client-b", gw));
    EXPECT_EQ(gw, "gw-2");
    EXPECT_FALSE(d.home_gateway("other", "client-b", gw));
    EXPECT_EQ(d.link_address("gw-2").value_or(""), "127.0.0.1:7200");
    EXPECT_FALSE(d.link_address("gw-1")) << "never to ourselves";
    EXPECT_FALSE(d.link_address("gw-3")) << "registered without a link address";
    EXPECT_FALSE(d.link_address("gw-9"));
}

}  // namespace
}  // namespace rustun::cp::test
