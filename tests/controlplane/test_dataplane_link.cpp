// The control plane's side of the dataplane channel, with the test playing the dataplane: it
// creates the segment, reads what the control plane pushes, and injects punted UDP frames.
// (The real rustun-dataplane is exercised by tests/dataplane/ and the namespace tests.)
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <functional>

#include "crypto/crypto_engine.hpp"
#include "harness.hpp"
#include "net/udp_keepalive.hpp"
#include "shm/channel.hpp"

namespace rustun::cp::test {
namespace {

using namespace std::chrono_literals;

uint64_t now_us() {
    timeval tv;
    gettimeofday(&tv, nullptr);
    return static_cast<uint64_t>(tv.tv_sec) * 1000000ull + static_cast<uint64_t>(tv.tv_usec);
}

shm::Endpoint v4_endpoint(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    shm::Endpoint e{};
    e.family = static_cast<uint8_t>(shm::AddrFamily::V4);
    e.port = port;
    e.addr[0] = a, e.addr[1] = b, e.addr[2] = c, e.addr[3] = d;
    return e;
}

class Link : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        // The channel's directory: ours, 0700 (never a world-writable one such as /dev/shm).
        chan_dir_ = dir_ + "/run";
        ::mkdir(chan_dir_.c_str(), 0700);
        chan_path_ = chan_dir_ + "/dataplane.chan";
    }
    void TearDown() override {
        GatewayFixture::TearDown();
        dp_.reset();
    }
    std::string dp_section() {
        return "dataplane:\n  channel: " + chan_path_ + "\n  port: net_null0\n  address: 192.0.2.1\n";
    }
    void start_with_dataplane(const std::string& plain_cluster = "") {
        std::string y = scenario_yaml(socket_path_);
        if (!plain_cluster.empty()) y.replace(y.find("aes256:other-tenant-key"), 23, plain_cluster);
        y.replace(y.find("clusters:"), 0, dp_section());
        write_config(y);
        auto cfg = load_config_file(config_path_);
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        gw_ = std::make_unique<Gateway>(std::move(cfg.value()), config_path_);
        ASSERT_TRUE(gw_->start().ok());
    }
    // Acts as a (re)started dataplane: a fresh segment.
    void dataplane_up() {
        auto ch = shm::Channel::create(chan_path_, shm::ChannelOptions{1, 1024, 256, 256});
        ASSERT_TRUE(ch.ok()) << ch.error();
        dp_ = std::move(ch.value());
    }
    // Reads control messages until a SyncEnd; records them and acknowledges the epoch.
    struct Sync {
        int clusters = 0, clients = 0;
        std::vector<shm::EndpointSetMsg> endpoints;
        uint64_t epoch = 0;
    };
    Sync read_sync(std::chrono::milliseconds limit = 5000ms) {
        Sync s;
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            const uint8_t* slot = dp_->control().peek();
            if (!slot) {
                std::this_thread::sleep_for(1ms);
                continue;
            }
            auto type = static_cast<shm::MsgType>(shm::msg_header(slot).type);
            const uint8_t* body = shm::msg_body(slot);
            if (type == shm::MsgType::ClusterSet) ++s.clusters;
            if (type == shm::MsgType::ClientSet) ++s.clients;
            if (type == shm::MsgType::EndpointSet) s.endpoints.push_back(*reinterpret_cast<const shm::EndpointSetMsg*>(body));
            bool end = type == shm::MsgType::SyncEnd;
            if (end) s.epoch = reinterpret_cast<const shm::SyncMsg*>(body)->cp_epoch;
            dp_->control().consume();
            dp_->control().release();
            if (end) {
                dp_->header().dp_applied_cp_epoch.store(s.epoch);
                return s;
            }
        }
        ADD_FAILURE() << "no SyncEnd";
        return s;
    }
    // The next control message, without consuming it; nullptr when none came within `limit`.
    // The link thread pushes a delta message by message, so a test that has read one of them
    // waits for the next instead of peeking once.
    const uint8_t* wait_control(std::chrono::milliseconds limit = 2000ms) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        const uint8_t* slot = dp_->control().peek();
        while (!slot && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(1ms);
            slot = dp_->control().peek();
        }
        return slot;
    }
    // The next control message of `type` within the limit.
    bool next_control(shm::MsgType type, std::vector<uint8_t>* body_out = nullptr, std::chrono::milliseconds limit = 2000ms) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            const uint8_t* slot = dp_->control().peek();
            if (!slot) {
                std::this_thread::sleep_for(1ms);
                continue;
            }
            bool match = shm::msg_header(slot).type == static_cast<uint16_t>(type);
            if (match && body_out) body_out->assign(shm::msg_body(slot), shm::msg_body(slot) + shm::msg_header(slot).len);
            dp_->control().consume();
            dp_->control().release();
            if (match) return true;
        }
        return false;
    }
    bool next_tx(shm::TxFrameMsg& out, std::chrono::milliseconds limit = 2000ms) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            // Every TX ring: the link's own (punt replies) and the workers' (relayed Data).
            for (uint32_t i = 0; i < dp_->tx_rings(); ++i) {
                const uint8_t* slot = dp_->tx(i).peek();
                if (!slot) continue;
                std::memcpy(&out, shm::msg_body(slot), std::min<size_t>(sizeof out, shm::msg_header(slot).len));
                dp_->tx(i).consume();
                dp_->tx(i).release();
                last_tx_ring_ = i;
                return true;
            }
            std::this_thread::sleep_for(1ms);
        }
        return false;
    }
    void punt(const shm::Endpoint& from, const std::vector<uint8_t>& frame, uint32_t hint = shm::kNoClientHint) {
        shm::PuntMsg m{};
        m.from = from;
        m.client_hint = hint;
        m.frame_len = static_cast<uint16_t>(frame.size());
        std::memcpy(m.frame, frame.data(), frame.size());
        uint8_t* slot = dp_->dp_to_cp(0).reserve();
        ASSERT_NE(slot, nullptr);
        shm::write_msg(slot, shm::MsgType::Punt, &m, sizeof m);
        dp_->dp_to_cp(0).commit();
    }
    // A UDP KeepAlive of `identity` with `seq`, sealed with `key`.
    std::vector<uint8_t> udp_keepalive(FrameStream& sealer, const std::string& identity, std::optional<uint64_t> seq,
                                       std::optional<std::string> cookie = std::nullopt,
                                       std::optional<uint64_t> replay = std::nullopt) {
        KeepAlive ka;
        ka.identity = identity;
        ka.seq = seq;
        ka.cookie = std::move(cookie);
        ka.replay = replay;
        std::string body;
        encode_keepalive(ka, Shape::New, body);
        return sealer.seal_frame(FrameType::KeepAlive, body).value();
    }

    // The KeepAlive in a TxFrame, opened with `s`'s key.
    std::optional<KeepAlive> open_keepalive(FrameStream& s, const shm::TxFrameMsg& tx) {
        auto eng = CryptoEngine::create();
        if (!eng || tx.frame_len < kFrameHeaderSize || tx.frame[5] != static_cast<uint8_t>(FrameType::KeepAlive))
            return std::nullopt;
        std::vector<uint8_t> payload(tx.frame + kFrameHeaderSize, tx.frame + tx.frame_len), out(payload.size() + 1);
        OpenItem it;
        it.key = &s.key();
        it.payload = payload.data();
        it.payload_len = static_cast<uint32_t>(payload.size());
        it.out = out.data();
        if (eng.value()->open(it) != CryptoStatus::Ok) return std::nullopt;
        auto ka = decode_keepalive(std::string_view(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len));
        if (!ka) return std::nullopt;
        return ka.value();
    }
    // The cookie of the challenge the gateway sends to `ep` for a KeepAlive of `identity`.
    std::string challenge(FrameStream& s, const std::string& identity, const shm::Endpoint& ep) {
        punt(ep, udp_keepalive(s, identity, now_us()));
        shm::TxFrameMsg tx;
        if (!next_tx(tx)) return "";
        auto ka = open_keepalive(s, tx);
        return ka && ka->cookie ? *ka->cookie : "";
    }
    // Binds `identity` at `ep` as a client does: KeepAlive, challenge, KeepAlive with the cookie,
    // EndpointSet (its body in `set_body`), and the plain reply (in `reply`).
    void bind_udp(FrameStream& s, const std::string& identity, const shm::Endpoint& ep,
                  std::vector<uint8_t>* set_body = nullptr, shm::TxFrameMsg* reply = nullptr,
                  std::optional<uint64_t> replay = std::nullopt) {
        const std::string cookie = challenge(s, identity, ep);
        ASSERT_EQ(cookie.size(), 16u);
        punt(ep, udp_keepalive(s, identity, now_us(), cookie, replay));
        ASSERT_TRUE(next_control(shm::MsgType::EndpointSet, set_body));
        shm::TxFrameMsg tx;
        ASSERT_TRUE(next_tx(tx));
        if (reply) *reply = tx;
    }

    // Sends a TcpDeliver as the dataplane does, on worker 0's deliver ring.
    void deliver(const shm::TcpDeliverMsg& d, uint32_t len = sizeof(shm::TcpDeliverMsg)) {
        uint8_t* slot = dp_->deliver(0).reserve();
        ASSERT_NE(slot, nullptr);
        shm::write_msg(slot, shm::MsgType::TcpDeliver, &d, len);
        dp_->deliver(0).commit();
    }
    std::string status() { return command("{\"cmd\":\"status\"}"); }

    std::string chan_dir_, chan_path_;
    std::unique_ptr<shm::Channel> dp_;
    uint32_t last_tx_ring_ = 0;  // the TX ring next_tx() took its frame from
};

TEST_F(Link, AttachPushesTheFullStateAndResyncsAfterADataplaneRestart) {
    start_with_dataplane();
    EXPECT_TRUE(has_thread_named("cp-dp-link"));  // docs/operations.md, "Threads"
    auto b = join("client-b", Dialect::New);  // TCP session that must survive the restarts
    ASSERT_TRUE(b);
    dataplane_up();
    Sync s = read_sync();
    EXPECT_EQ(s.clusters, 2);
    EXPECT_EQ(s.clients, 5);
    EXPECT_TRUE(s.endpoints.empty());
    EXPECT_NE(command("{\"cmd\":\"status\"}").find("\"dataplane\":\"attached\""), std::string::npos);

    // Bind client-a over UDP, then restart the dataplane: the binding is pushed again.
    auto sealer = connect();
    bind_udp(*sealer, "client-a", v4_endpoint(198, 51, 100, 7, 40000), nullptr, nullptr, uint64_t{7} << 32 | 5);
    dataplane_up();
    Sync again = read_sync();
    EXPECT_NE(again.epoch, s.epoch);
    ASSERT_EQ(again.endpoints.size(), 1u);
    EXPECT_EQ(again.endpoints[0].endpoint.port, 40000);
    // Liveness comes from KeepAlives only: the new dataplane learns that this binding was
    // confirmed just now, and that client-a opted into Data replay protection.
    EXPECT_EQ(again.endpoints[0].flags, shm::kEndpointLive | shm::kEndpointReplay);
    EXPECT_EQ(again.endpoints[0].replay_floor_hi, 7u);
    EXPECT_EQ(counter(Counter::dataplane_lost), 1u);
    // The TCP session never noticed.
    EXPECT_EQ(keepalive(*b, "client-b", Dialect::New).identity, "client-b");
    EXPECT_EQ(counter(Counter::idle_timeout) + counter(Counter::write_error), 0u);
}

TEST_F(Link, UdpKeepAliveBindsAndIsAnsweredOverUdp) {
    start_with_dataplane();
    dataplane_up();
    read_sync();
    auto sealer = connect();
    const auto ep = v4_endpoint(198, 51, 100, 7, 40000);
    std::vector<uint8_t> body;
    shm::TxFrameMsg tx;
    bind_udp(*sealer, "client-a", ep, &body, &tx);
    auto* set = reinterpret_cast<const shm::EndpointSetMsg*>(body.data());
    EXPECT_EQ(set->client_id, 0u);  // client-a
    EXPECT_EQ(std::memcmp(&set->endpoint, &ep, sizeof ep), 0);
    EXPECT_EQ(set->flags, 0u);  // no "replay" member: not opted in
    EXPECT_EQ(std::memcmp(&tx.to, &ep, sizeof ep), 0);
    auto reply = open_keepalive(*sealer, tx);
    ASSERT_TRUE(reply);
    EXPECT_FALSE(reply->cookie);  // a verified endpoint gets the plain reply
    EXPECT_TRUE(reply->has_peer_details);
    // The reply is a KeepAlive with the peer list, sealed with the cluster key.
    FrameHeader h;
    ASSERT_EQ(decode_header(std::span<const uint8_t>(tx.frame, tx.frame_len), h), HeaderStatus::Ok);
    EXPECT_EQ(h.frame_type(), FrameType::KeepAlive);
    std::string cl = command("{\"cmd\":\"client\",\"identity\":\"client-a\"}");
    EXPECT_NE(cl.find("\"udp_endpoint\":\"198.51.100.7:40000\""), std::string::npos) << cl;
    EXPECT_EQ(counter(Counter::udp_keepalive_ok), 1u);
}

// The order docs/protocol-extensions.md states: seq missing, then replay (not above the last
// accepted seq or the control plane's start), then the ±30 s window.
TEST(KeepAliveSeq, ReplayIsCheckedBeforeTheWindow) {
    const uint64_t s = 1'000'000;  // one second in µs
    const uint64_t now = 1'764'000'000 * s, window = 30 * s;
    EXPECT_EQ(check_keepalive_seq(std::nullopt, 0, 0, now, window), SeqCheck::Missing);
    // 60 s old and not above the last accepted seq (or the start): replay, not stale.
    EXPECT_EQ(check_keepalive_seq(now - 60 * s, now - 10 * s, now - 3600 * s, now, window), SeqCheck::Replay);
    EXPECT_EQ(check_keepalive_seq(now - 60 * s, 0, now - 20 * s, now, window), SeqCheck::Replay);
    // 60 s old, above both (no accepted seq since, control plane up for an hour): stale.
    EXPECT_EQ(check_keepalive_seq(now - 60 * s, now - 61 * s, now - 3600 * s, now, window), SeqCheck::Stale);
    // In the future beyond the window: always stale.
    EXPECT_EQ(check_keepalive_seq(now + 60 * s, now - 1 * s, now - 3600 * s, now, window), SeqCheck::Stale);
    EXPECT_EQ(check_keepalive_seq(now - 5 * s, now - 6 * s, now - 3600 * s, now, window), SeqCheck::Ok);
}

TEST_F(Link, ReplayedOrStaleKeepAlivesNeverMoveAnEndpoint) {
    start_with_dataplane();
    dataplane_up();
    read_sync();
    auto sealer = connect();
    bind_udp(*sealer, "client-a", v4_endpoint(198, 51, 100, 7, 40000));
    auto captured = udp_keepalive(*sealer, "client-a", now_us());
    punt(v4_endpoint(198, 51, 100, 7, 40000), captured);
    ASSERT_TRUE(next_control(shm::MsgType::EndpointSet));
    // The attacker re-sends the captured frame from elsewhere.
    punt(v4_endpoint(203, 0, 113, 66, 6666), captured);
    EXPECT_TRUE(wait_counter(Counter::udp_keepalive_replay, 1));
    // A fresh frame dated an hour ahead (above the last seq, outside the window), one without seq.
    punt(v4_endpoint(203, 0, 113, 66, 6666), udp_keepalive(*sealer, "client-a", now_us() + 3600ull * 1000000));
    punt(v4_endpoint(203, 0, 113, 66, 6666), udp_keepalive(*sealer, "client-a", std::nullopt));
    EXPECT_TRUE(wait_counter(Counter::udp_keepalive_no_seq, 1));
    EXPECT_EQ(counter(Counter::udp_keepalive_stale), 1u);
    EXPECT_FALSE(next_control(shm::MsgType::EndpointSet, nullptr, 300ms));
    std::string cl = command("{\"cmd\":\"client\",\"identity\":\"client-a\"}");
    EXPECT_NE(cl.find("\"udp_endpoint\":\"198.51.100.7:40000\""), std::string::npos) << cl;
    // Wrong key: refused.
    auto stranger = connect(spec("chacha20:wrong"));
    punt(v4_endpoint(203, 0, 113, 66, 6666), udp_keepalive(*stranger, "client-a", now_us() + 1000));
    EXPECT_TRUE(wait_counter(Counter::udp_punt_rejected, 1));
}

TEST_F(Link, TcpSenderReachesUdpReceiverAndBack) {
    start_with_dataplane();
    dataplane_up();
    read_sync();
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(b);
    bind_udp(*b, "client-a", v4_endpoint(198, 51, 100, 7, 40000));
    shm::TxFrameMsg tx;
    // b (TCP) -> a (UDP): the dataplane is asked to send b's frame bytes unchanged.
    auto pkt = ipv4_packet("10.0.1.3", "10.0.1.2");
    auto frame = b->seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size()));
    ASSERT_TRUE(b->send_raw(frame->data(), frame->size()).ok());
    ASSERT_TRUE(next_tx(tx));
    EXPECT_EQ(tx.to.port, 40000);
    EXPECT_EQ(std::vector<uint8_t>(tx.frame, tx.frame + tx.frame_len), frame.value());
    EXPECT_EQ(last_tx_ring_, 1u);  // worker 0's own TX ring (ring 0 is the link's)
    EXPECT_EQ(counter(Counter::tcp_to_udp), 1u);
    // a (UDP) -> b (TCP): the dataplane hands an authenticated frame over for TCP delivery.
    auto back = ipv4_packet("10.0.1.2", "10.0.1.3");
    auto bframe = b->seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(back.data()), back.size()));
    shm::TcpDeliverMsg d{};
    d.src_client = 0;
    d.dst_client = 1;
    d.cp_epoch = dp_->header().dp_applied_cp_epoch.load();
    d.frame_len = static_cast<uint16_t>(bframe->size());
    std::memcpy(d.frame, bframe->data(), bframe->size());
    deliver(d);
    auto got = b->recv(3000);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(got->raw, bframe.value());
    EXPECT_EQ(counter(Counter::udp_to_tcp), 1u);
    // The same message routed by an older state (another epoch) is dropped: its ids may name
    // other clients after a reload.
    d.cp_epoch ^= 1;
    deliver(d);
    EXPECT_TRUE(wait_counter(Counter::udp_deliver_stale, 1));
    EXPECT_FALSE(b->recv(200).ok());
}

TEST_F(Link, TheControlPlaneWorksWithoutItsDataplane) {
    start_with_dataplane();  // no segment exists
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3");
    ASSERT_TRUE(a->send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).ok());
    EXPECT_TRUE(b->recv(3000).ok());
    EXPECT_NE(command("{\"cmd\":\"status\"}").find("\"dataplane\":\"not attached\""), std::string::npos);
    EXPECT_NE(command("{\"cmd\":\"stats\"}").find("\"dataplane\":null"), std::string::npos);
}


// ---- The channel must be the gateway's own (docs/shm-channel.md "Where the channel lives") ----

// Each unsafe channel is refused: nothing is written into it (no ClusterSet, no key, not even
// cp_pid), the reason is counted, logged and shown by `status`; once repaired it is used.
TEST_F(Link, AChannelThatIsNotTheGatewaysOwnIsRefusedAndNeverGetsAKey) {
    dataplane_up();
    const std::string real = chan_dir_ + "/real.chan";
    struct Case {
        const char* what;
        std::function<void()> spoil, repair;
    } cases[] = {
        {"owned by uid 65534",  // as if created by a dataplane (or anyone) running as nobody
         [&] { ASSERT_EQ(::chown(chan_path_.c_str(), 65534, 65534), 0); },
         [&] { ASSERT_EQ(::chown(chan_path_.c_str(), 0, 0), 0); }},
        {"symbolic link",
         [&] {
             ASSERT_EQ(::rename(chan_path_.c_str(), real.c_str()), 0);
             ASSERT_EQ(::symlink(real.c_str(), chan_path_.c_str()), 0);
         },
         [&] { ASSERT_EQ(::rename(real.c_str(), chan_path_.c_str()), 0); }},
        {"world-writable",
         [&] { ASSERT_EQ(::chmod(chan_dir_.c_str(), 01777), 0); },
         [&] { ASSERT_EQ(::chmod(chan_dir_.c_str(), 0700), 0); }},
        {"wider than 0660",
         [&] { ASSERT_EQ(::chmod(chan_path_.c_str(), 0666), 0); },
         [&] { ASSERT_EQ(::chmod(chan_path_.c_str(), 0600), 0); }},
    };
    // One condition at a time: spoil, start (or keep) the gateway, check, repair.
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        c.spoil();
        if (!gw_) start_with_dataplane();
        const uint64_t refused = counter(Counter::dataplane_refused);
        ASSERT_TRUE(wait_counter(Counter::dataplane_refused, refused + 2));  // retried every 200 ms
        EXPECT_EQ(counter(Counter::dataplane_attached), 0u);
        EXPECT_EQ(dp_->control().used(), 0u);  // no SyncBegin, no ClusterSet: no key
        EXPECT_EQ(dp_->header().cp_pid.load(), 0u);
        EXPECT_EQ(dp_->header().cp_heartbeat_ns.load(), 0u);
        std::string st = status();
        EXPECT_NE(st.find("\"dataplane\":\"not attached\""), std::string::npos) << st;
        EXPECT_NE(st.find("\"dataplane_error\":"), std::string::npos) << st;
        EXPECT_NE(st.find(c.what), std::string::npos) << st;
        EXPECT_NE(st.find(chan_path_), std::string::npos) << st;
        c.repair();
    }
    // The same segment, now safe: attached and synced.
    Sync s = read_sync();
    EXPECT_EQ(s.clusters, 2);
    EXPECT_EQ(counter(Counter::dataplane_attached), 1u);
    EXPECT_EQ(status().find("dataplane_error"), std::string::npos);
}

// ---- A hostile dataplane cannot crash the control plane ----

TEST_F(Link, HeaderChangesAfterAttachAreIgnored) {
    start_with_dataplane();
    dataplane_up();
    read_sync();
    // Was a heap-use-after-free in poll_rings: the worker count was re-read from the segment.
    shm::SegmentHeader& h = dp_->header();
    h.worker_count = 62;
    h.ring_count = 126;
    h.counters_offset = ~0ull - 64;
    h.counter_stride = 1ull << 40;
    for (auto& r : h.rings) r.offset = ~0ull - 4096;
    auto sealer = connect();
    bind_udp(*sealer, "client-a", v4_endpoint(198, 51, 100, 7, 40000));  // challenge, cookie, EndpointSet
    std::string stats = command("{\"cmd\":\"stats\"}");
    EXPECT_NE(stats.find("\"relayed\":0"), std::string::npos) << stats.substr(0, 300);
    EXPECT_NE(status().find("\"dataplane\":\"attached\""), std::string::npos);
}

TEST_F(Link, TcpDeliverMustBeExactlyOneDataFrame) {
    start_with_dataplane();
    dataplane_up();
    const uint64_t epoch = read_sync().epoch;
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(b);
    auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3");
    auto data = b->seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).value();
    auto ka = udp_keepalive(*b, "client-b", now_us());
    auto make = [&](const std::vector<uint8_t>& bytes) {
        shm::TcpDeliverMsg d{};
        d.src_client = 0;
        d.dst_client = 1;
        d.cp_epoch = epoch;
        d.frame_len = static_cast<uint16_t>(bytes.size());
        std::memcpy(d.frame, bytes.data(), bytes.size());
        return d;
    };
    std::vector<uint8_t> two = data;
    two.insert(two.end(), ka.begin(), ka.end());  // a KeepAlive smuggled after the Data frame
    deliver(make(two));
    deliver(make(ka));                                                   // not Data
    deliver(make(std::vector<uint8_t>(data.begin(), data.end() - 1)));  // cut short
    auto long_len = make(data);
    deliver(long_len, offsetof(shm::TcpDeliverMsg, frame) + 10);        // frame_len beyond len
    long_len.frame_len = 0xffff;
    deliver(long_len);                                                   // frame_len beyond the slot
    // The punt ring does not carry TcpDeliver, and garbage types are refused too.
    uint8_t* slot = dp_->dp_to_cp(0).reserve();
    ASSERT_NE(slot, nullptr);
    auto d = make(data);
    shm::write_msg(slot, shm::MsgType::TcpDeliver, &d, sizeof d);
    dp_->dp_to_cp(0).commit();
    EXPECT_TRUE(wait_counter(Counter::dp_msg_rejected, 6));
    EXPECT_FALSE(b->recv(300).ok());
    EXPECT_EQ(counter(Counter::udp_to_tcp), 0u);
    // A genuine one still goes through.
    deliver(make(data));
    auto got = b->recv(3000);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(got->raw, data);
    EXPECT_EQ(counter(Counter::dp_msg_rejected), 6u);
}

TEST_F(Link, GarbageInEveryRingSlotIsRefusedAndTheControlPlaneCarriesOn) {
    start_with_dataplane();
    dataplane_up();
    read_sync();
    auto a = join("client-a", Dialect::New);
    ASSERT_TRUE(a);
    uint32_t x = 12345;
    auto fill = [&](shm::SpscRing& r) {
        int n = 0;
        for (uint8_t* slot; n < static_cast<int>(r.capacity()) && (slot = r.reserve()) != nullptr;) {
            for (uint32_t i = 0; i < shm::kSlotSize; ++i) slot[i] = static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16);
            if (n % 2) {  // a plausible header with a random len
                const uint16_t type = n % 4 == 1 ? 30 : 31;
                std::memcpy(slot, &type, 2);
            }
            r.commit();
            ++n;
        }
        return n;
    };
    const int n = fill(dp_->dp_to_cp(0)) + fill(dp_->deliver(0));
    EXPECT_TRUE(wait_counter(Counter::dp_msg_rejected, 1));
    for (int i = 0; i < 300 && dp_->dp_to_cp(0).used() + dp_->deliver(0).used() > 0; ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(dp_->dp_to_cp(0).used() + dp_->deliver(0).used(), 0u) << n;
    EXPECT_EQ(counter(Counter::udp_to_tcp), 0u);
    // The gateway is fine: the TCP session works, a KeepAlive gets its reply.
    EXPECT_EQ(keepalive(*a, "client-a", Dialect::New).identity, "client-a");
}

// A plain cluster's key is empty: pushing it must not memcpy from a null pointer (UBSan).
TEST_F(Link, APlainClusterIsPushedWithAnEmptyKey) {
    start_with_dataplane("plain");
    dataplane_up();
    std::vector<std::pair<uint8_t, uint16_t>> clusters;  // method, key_len
    for (int i = 0; i < 500 && clusters.size() < 2; ++i) {
        std::vector<uint8_t> body;
        if (!next_control(shm::MsgType::ClusterSet, &body, 100ms)) continue;
        ASSERT_GE(body.size(), 8u);
        shm::ClusterSetMsg m{};
        std::memcpy(&m, body.data(), body.size());
        clusters.emplace_back(m.method, m.key_len);
        // With the cluster's name (channel version 8) the body ends after it, else after the key.
        ASSERT_GT(m.name_len, 0u);
        EXPECT_EQ(body.size(), offsetof(shm::ClusterSetMsg, name) + m.name_len);
        EXPECT_FALSE(std::string(m.name, m.name_len).empty());
    }
    ASSERT_EQ(clusters.size(), 2u);
    EXPECT_EQ(clusters[0], std::make_pair(uint8_t{2}, uint16_t{32}));  // chacha20: the derived key
    EXPECT_EQ(clusters[1], std::make_pair(uint8_t{0}, uint16_t{0}));   // plain: no key
}

}  // namespace
}  // namespace rustun::cp::test

namespace rustun::cp::test {
namespace {

// Return routability (docs/protocol-extensions.md): a KeepAlive from an endpoint the gateway has
// not verified gets a small challenge and changes nothing; only the echoed cookie, from the
// endpoint it was sent to, makes or moves the binding.
TEST_F(Link, AnEndpointMovesOnlyWithTheEchoedCookie) {
    start_with_dataplane();
    dataplane_up();
    read_sync();
    auto s = connect();
    const auto home = v4_endpoint(198, 51, 100, 7, 40000);
    const auto other = v4_endpoint(203, 0, 113, 66, 6666);
    const auto third = v4_endpoint(203, 0, 113, 67, 7777);
    // No binding yet: the first KeepAlive is only challenged.
    const uint64_t seq0 = now_us();
    auto ka = udp_keepalive(*s, "client-a", seq0);
    punt(home, ka);
    shm::TxFrameMsg tx;
    ASSERT_TRUE(next_tx(tx));
    auto ch = open_keepalive(*s, tx);
    ASSERT_TRUE(ch && ch->cookie);
    EXPECT_FALSE(ch->has_peer_details);              // no peer list before the check
    EXPECT_LE(tx.frame_len, 3 * ka.size());          // no amplification (item 9): <= 3x
    EXPECT_EQ(ch->seq, std::optional<uint64_t>(seq0));  // echoed
    EXPECT_FALSE(next_control(shm::MsgType::EndpointSet, nullptr, 200ms));
    EXPECT_EQ(counter(Counter::udp_keepalive_challenge), 1u);
    EXPECT_EQ(counter(Counter::udp_keepalive_ok), 0u);
    std::string cl = command("{\"cmd\":\"client\",\"identity\":\"client-a\"}");
    EXPECT_NE(cl.find("\"udp_endpoint\":null"), std::string::npos) << cl;
    // Echoed from there: bound.
    punt(home, udp_keepalive(*s, "client-a", now_us(), *ch->cookie));
    ASSERT_TRUE(next_control(shm::MsgType::EndpointSet));
    ASSERT_TRUE(next_tx(tx));
    // The same endpoint refreshes without a cookie.
    punt(home, udp_keepalive(*s, "client-a", now_us()));
    ASSERT_TRUE(next_control(shm::MsgType::EndpointSet));
    ASSERT_TRUE(next_tx(tx));
    // A KeepAlive from another endpoint (e.g. racing the genuine client): challenged, not moved.
    const std::string cookie_other = challenge(*s, "client-a", other);
    ASSERT_EQ(cookie_other.size(), 16u);
    EXPECT_FALSE(next_control(shm::MsgType::EndpointSet, nullptr, 200ms));
    // A cookie made for another endpoint, or for another identity, does not verify.
    punt(third, udp_keepalive(*s, "client-a", now_us(), cookie_other));
    EXPECT_TRUE(wait_counter(Counter::udp_cookie_bad, 1));
    ASSERT_TRUE(next_tx(tx));  // a fresh challenge for `third`
    punt(other, udp_keepalive(*s, "client-b", now_us(), cookie_other));
    EXPECT_TRUE(wait_counter(Counter::udp_cookie_bad, 2));
    ASSERT_TRUE(next_tx(tx));
    EXPECT_FALSE(next_control(shm::MsgType::EndpointSet, nullptr, 200ms));
    cl = command("{\"cmd\":\"client\",\"identity\":\"client-a\"}");
    EXPECT_NE(cl.find("\"udp_endpoint\":\"198.51.100.7:40000\""), std::string::npos) << cl;
    // The echoed cookie from `other`: the binding moves.
    punt(other, udp_keepalive(*s, "client-a", now_us(), cookie_other));
    std::vector<uint8_t> body;
    ASSERT_TRUE(next_control(shm::MsgType::EndpointSet, &body));
    EXPECT_EQ(reinterpret_cast<const shm::EndpointSetMsg*>(body.data())->endpoint.port, 6666);
    EXPECT_EQ(counter(Counter::udp_endpoint_moved), 2u);
}

// Data replay protection is declared in the KeepAlive ("replay": the client's counter) and
// passed to the dataplane in the EndpointSet (flags, floor's high 32 bits).
TEST_F(Link, ReplayOptInReachesTheDataplane) {
    start_with_dataplane();
    dataplane_up();
    read_sync();
    auto s = connect();
    std::vector<uint8_t> body;
    const uint64_t ctr = 1764650000123456789ull;
    bind_udp(*s, "client-a", v4_endpoint(198, 51, 100, 7, 40000), &body, nullptr, ctr);
    const auto* set = reinterpret_cast<const shm::EndpointSetMsg*>(body.data());
    EXPECT_EQ(set->flags, shm::kEndpointReplay);
    EXPECT_EQ(set->replay_floor_hi, static_cast<uint32_t>(ctr >> 32));
    // The next KeepAlive without the member opts out again.
    punt(v4_endpoint(198, 51, 100, 7, 40000), udp_keepalive(*s, "client-a", now_us()));
    ASSERT_TRUE(next_control(shm::MsgType::EndpointSet, &body));
    EXPECT_EQ(reinterpret_cast<const shm::EndpointSetMsg*>(body.data())->flags, 0u);
}

// Reflection (item 9): replies are rate-limited per identity and per source address.
TEST_F(Link, KeepAliveRepliesAreRateLimited) {
    start_with_dataplane();
    dataplane_up();
    read_sync();
    auto s = connect();
    // One identity from many source addresses: at most a burst of 10 replies.
    for (int i = 0; i < 16; ++i) punt(v4_endpoint(203, 0, 113, static_cast<uint8_t>(10 + i), 5000), udp_keepalive(*s, "client-c", now_us()));
    EXPECT_TRUE(wait_counter(Counter::udp_keepalive_challenge, 16));
    EXPECT_GE(counter(Counter::udp_reply_limited_identity), 5u);
    int replies = 0;
    shm::TxFrameMsg tx;
    while (next_tx(tx, 200ms)) ++replies;
    EXPECT_LE(replies, 11);
    EXPECT_GE(replies, 10);
    const uint64_t id_limited = counter(Counter::udp_reply_limited_identity);
    // One source address (many ports), four identities, six each (under their own limit): a
    // burst of 20 per address.
    auto t = connect(spec("aes256:other-tenant-key"));
    const char* ids[] = {"client-a", "client-b", "client-x", "client-y"};
    for (int i = 0; i < 24; ++i)
        punt(v4_endpoint(198, 51, 100, 200, static_cast<uint16_t>(6000 + i)),
             udp_keepalive(i % 4 < 2 ? *s : *t, ids[i % 4], now_us()));
    EXPECT_TRUE(wait_counter(Counter::udp_keepalive_challenge, 16 + 24));
    EXPECT_GE(counter(Counter::udp_reply_limited_source), 1u);
    EXPECT_EQ(counter(Counter::udp_reply_limited_identity), id_limited);
}

// Item 6: the key of the client bound to the source endpoint (the dataplane's hint) is tried
// first, before any other cluster's.
TEST_F(Link, TheHintedClientsKeyIsTriedFirst) {
    start_with_dataplane();
    dataplane_up();
    read_sync();
    auto s = connect();
    // client-x (id 3) is in the second cluster (scenario_yaml): its key is not the first trial key.
    auto other = connect(spec("aes256:other-tenant-key"));
    bind_udp(*other, "client-x", v4_endpoint(198, 51, 100, 9, 40009));
    const uint64_t before = counter(Counter::udp_punt_hint_first);
    punt(v4_endpoint(198, 51, 100, 9, 40009), udp_keepalive(*other, "client-x", now_us()), 3);
    ASSERT_TRUE(next_control(shm::MsgType::EndpointSet));
    EXPECT_EQ(counter(Counter::udp_punt_hint_first), before + 1);
}

}  // namespace
}  // namespace rustun::cp::test

// ---- A dataplane killed with -9 leaves its channel file behind ----

namespace rustun::cp::test {
namespace {

TEST_F(Link, AKilledDataplaneIsDetachedAndItsLeftoverChannelNeverAttached) {
    // The "dataplane": a child process that creates the channel and waits to be killed.
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto ch = shm::Channel::create(chan_path_, shm::ChannelOptions{1, 1024, 256, 256});
        char ok = ch.ok() ? 1 : 0;
        if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
        for (;;) ::pause();
    }
    char ok = 0;
    ASSERT_EQ(::read(ready[0], &ok, 1), 1);
    ::close(ready[0]);
    ::close(ready[1]);
    ASSERT_EQ(ok, 1);
    start_with_dataplane();
    auto until = [](auto cond) {
        for (int i = 0; i < 300 && !cond(); ++i) std::this_thread::sleep_for(10ms);
        return cond();
    };
    ASSERT_TRUE(until([&] { return counter(Counter::dataplane_attached) == 1; }));

    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    // Its heartbeat is old and its process is gone: detached, though the file is still there.
    EXPECT_TRUE(until([&] { return status().find("\"dataplane\":\"not attached\"") != std::string::npos; }))
        << status();
    struct stat st;
    EXPECT_EQ(::stat(chan_path_.c_str(), &st), 0);
    // And the leftover file is never attached again (no state is pushed into a corpse).
    std::this_thread::sleep_for(600ms);
    EXPECT_EQ(counter(Counter::dataplane_attached), 1u);
    EXPECT_NE(status().find("is not running"), std::string::npos) << status();
    // A new dataplane replaces the file: attached again.
    dataplane_up();
    read_sync();
    EXPECT_EQ(counter(Counter::dataplane_attached), 2u);
}

}  // namespace
}  // namespace rustun::cp::test

namespace rustun::cp::test {
namespace {

// A reload reaches the dataplane as a delta in its stable ids (docs/controlplane.md, "The
// dataplane link"): a changed client is one ClientSet + Commit, a removed one a ClientRemove +
// Commit; no SyncBegin, the epoch stays, and a TcpDeliver for a later client still reaches it.
TEST_F(Link, AReloadIsPushedAsADeltaInStableIds) {
    start_with_dataplane();
    dataplane_up();
    const Sync s = read_sync();
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(b);
    // client-a gets another CIDR.
    std::string y = scenario_yaml(socket_path_);
    y.replace(y.find("ciders: [192.168.11.0/24]"), 25, "ciders: [192.168.11.0/24, 172.16.0.0/16]");
    y.replace(y.find("clusters:"), 0, dp_section());
    write_config(y);
    std::string ans = command("{\"cmd\":\"reload\"}");
    EXPECT_NE(ans.find("\"dataplane_messages\":2"), std::string::npos) << ans;
    EXPECT_NE(ans.find("\"state_mutex_us\":"), std::string::npos) << ans;
    std::vector<uint8_t> body;
    ASSERT_TRUE(next_control(shm::MsgType::ClientSet, &body));
    shm::ClientSetMsg cs{};
    std::memcpy(&cs, body.data(), std::min(body.size(), sizeof cs));
    EXPECT_EQ(cs.client_id, 0u);  // client-a
    EXPECT_EQ(cs.cidr_count, 2u);
    const uint8_t* after = wait_control();
    ASSERT_NE(after, nullptr);
    EXPECT_EQ(shm::msg_header(after).type, static_cast<uint16_t>(shm::MsgType::Commit));
    ASSERT_TRUE(next_control(shm::MsgType::Commit));
    EXPECT_EQ(wait_control(100ms), nullptr);  // nothing else: no full sync

    // client-a removed: client-b (ClientId 0 now) keeps its dataplane id 1.
    y = scenario_yaml(socket_path_);
    y.erase(y.find("      - {identity: client-a"), y.find("      - {identity: client-b") - y.find("      - {identity: client-a"));
    y.replace(y.find("clusters:"), 0, dp_section());
    write_config(y);
    ans = command("{\"cmd\":\"reload\"}");
    EXPECT_NE(ans.find("\"dataplane_messages\":2"), std::string::npos) << ans;
    ASSERT_TRUE(next_control(shm::MsgType::ClientRemove, &body));
    shm::ClientIdMsg rm{};
    std::memcpy(&rm, body.data(), sizeof rm);
    EXPECT_EQ(rm.client_id, 0u);
    ASSERT_TRUE(next_control(shm::MsgType::Commit));
    EXPECT_EQ(wait_control(100ms), nullptr);
    EXPECT_EQ(counter(Counter::dataplane_syncs), 1u);

    // The dataplane still routes by the ids (and the epoch) of the first sync.
    auto pkt = ipv4_packet("10.0.1.4", "10.0.1.3");
    auto frame = b->seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size()));
    shm::TcpDeliverMsg d{};
    d.src_client = 2;
    d.dst_client = 1;  // client-b
    d.cp_epoch = s.epoch;
    d.frame_len = static_cast<uint16_t>(frame->size());
    std::memcpy(d.frame, frame->data(), frame->size());
    deliver(d);
    auto got = b->recv(3000);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(got->raw, frame.value());
    // The removed client's id finds nobody.
    d.dst_client = 0;
    deliver(d);
    EXPECT_TRUE(wait_counter(Counter::udp_deliver_stale, 1));
}

// `dataplane` shows the sessions and each worker's counters; clear-counters is a baseline per
// dataplane: deltas while the same dataplane runs, whole values from a new one.
TEST_F(Link, DataplaneViewPerWorkerAndClearCountersBaseline) {
    start_with_dataplane();
    dataplane_up();
    read_sync();
    const size_t relayed = static_cast<size_t>(shm::DpCounter::relayed);
    dp_->counters(0)[relayed].store(40);
    std::string ans = command("{\"cmd\":\"dataplane\"}");
    EXPECT_NE(ans.find("\"workers\":[{\"rx_packets\":0,\"tx_packets\":0,\"relayed\":40"), std::string::npos) << ans;
    EXPECT_NE(ans.find("\"session_capacity\":"), std::string::npos) << ans;
    EXPECT_NE(command("{\"cmd\":\"clear-counters\"}").find("\"dataplane\":true"), std::string::npos);
    dp_->counters(0)[relayed].store(45);
    EXPECT_NE(command("{\"cmd\":\"stats\"}").find("\"relayed\":5"), std::string::npos);
    EXPECT_NE(command("{\"cmd\":\"dataplane\"}").find("\"relayed\":5"), std::string::npos);
    // A new dataplane: its counters started at zero, the old baseline does not apply.
    dataplane_up();
    read_sync();
    dp_->counters(0)[relayed].store(3);
    ans = command("{\"cmd\":\"stats\"}");
    EXPECT_NE(ans.find("\"relayed\":3"), std::string::npos) << ans;
}

}  // namespace
}  // namespace rustun::cp::test
