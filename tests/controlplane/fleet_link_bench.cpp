// rustun-fleet-link-bench: relay throughput between two clients homed on different gateways
// (over the fleet's TCP link) against two clients of one gateway, in one process on loopback,
// and the cost of the link frame's tag with and without the relayed bytes as associated data
// (docs/fleet.md, "Link"; scripts/bench-fleet.sh prints its rows). A benchmark, not a test: it
// lives here because tools/ may not link the control plane (layering-tools-client).
#include <sys/socket.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include "fleet/link_auth.hpp"
#include "fleet_harness.hpp"
#include "util/cli.hpp"
#include "util/clock.hpp"

using namespace rustun;
using namespace rustun::cp;
using namespace rustun::cp::test;

namespace {

struct Row {
    const char* name;
    double frames_per_s = 0, mbit_per_s = 0;
    uint64_t sent = 0, received = 0;
};

// Joins `identity` on `m` (new dialect) and returns the stream, or exits.
std::unique_ptr<FrameStream> must_join(const Member& m, const std::string& identity) {
    auto s = FrameStream::connect(m.tcp(), test_key());
    if (!s.ok()) {
        std::fprintf(stderr, "connect %s: %s\n", m.tcp().c_str(), s.error().c_str());
        std::exit(1);
    }
    Handshake hs;
    hs.identity = identity;
    std::string body;
    encode_handshake(hs, Shape::New, body);
    auto f = s.value()->send(FrameType::Handshake, body).ok() ? s.value()->recv(3000) : Result<ReceivedFrame>(make_error("send"));
    if (!f.ok() || f->frame_type() != FrameType::HandshakeReply) {
        std::fprintf(stderr, "handshake of %s failed\n", identity.c_str());
        std::exit(1);
    }
    return std::move(s).value();
}

// a sends the same Data frame (an inner packet of `size` bytes) to b for `seconds`, in writes of
// 32 frames; b's socket is drained by a thread counting bytes. Frames dropped on the way (full
// queues) are not received: the row is what arrives.
Row measure(const char* name, FrameStream& a, FrameStream& b, size_t size, double seconds) {
    const auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3", size);
    const auto frame =
        a.seal_frame(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).value();
    std::vector<uint8_t> burst;
    for (int i = 0; i < 32; ++i) burst.insert(burst.end(), frame.begin(), frame.end());
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> bytes{0};
    std::thread rx([&] {
        std::vector<uint8_t> buf(1 << 20);
        while (!stop.load(std::memory_order_relaxed)) {
            const ssize_t r = ::recv(b.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
            if (r > 0) bytes.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
            else std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    });
    Row row{name};
    const uint64_t t0 = mono_ns();
    const uint64_t b0 = bytes.load();
    while (mono_ns() - t0 < static_cast<uint64_t>(seconds * 1e9)) {
        if (!a.send_raw(burst.data(), burst.size()).ok()) break;
        row.sent += 32;
    }
    const double elapsed = (mono_ns() - t0) / 1e9;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // what is in flight still counts
    stop = true;
    rx.join();
    row.received = (bytes.load() - b0) / frame.size();
    row.frames_per_s = row.received / elapsed;
    row.mbit_per_s = row.frames_per_s * frame.size() * 8 / 1e6;
    return row;
}

// ns per tag over `len` bytes of associated data.
double tag_ns(const char* key_text, size_t len) {
    auto key = fleet::LinkKey::create(key_text).value();
    auto auth = fleet::LinkAuth::create().value();
    std::vector<uint8_t> aad(len, 0x5a);
    uint8_t nonce[12] = {1}, tag[16];
    const int n = 200000;
    const uint64_t t0 = mono_ns();
    for (int i = 0; i < n; ++i) {
        nonce[11] = static_cast<uint8_t>(i);
        auth->tag(*key, nonce, aad.data(), aad.size(), tag);
    }
    return static_cast<double>(mono_ns() - t0) / n;
}

}  // namespace

int main(int argc, char** argv) {
    static const cli::Spec spec{
        .program = "rustun-fleet-link-bench",
        .usage = "[options]",
        .about = "Relay throughput between clients of two gateways over the fleet's TCP link against two\n"
                 "clients of one gateway (in-process control planes on loopback), and the link tag's cost\n"
                 "with and without the relayed frame as associated data (docs/fleet.md, \"Link\").",
        .options = {
            {"seconds", 0, "S", "sending time per row (default 3)"},
            {"size", 0, "B", "inner packet bytes (default 1400)"},
            {"json", 0, nullptr, "one JSON object on stdout"},
        },
    };
    cli::Parsed args;
    if (auto code = cli::parse(spec, argc, argv, args)) return *code;
    auto s_r = args.number("seconds", 0.1, 3600, 3);
    auto b_r = args.uint("size", 20, 60000, 1400);
    if (!s_r) return cli::usage_error(spec, s_r.error());
    if (!b_r) return cli::usage_error(spec, b_r.error());
    const double seconds = *s_r;
    const size_t size = *b_r;
    const bool json = args.has("json");
    set_log_level(LogLevel::Error);

    Member g1, g2;
    g1.start("gw-1");
    g2.start("gw-2");
    for (Member* m : {&g1, &g2}) {
        m->directory.link("gw-1", g1.link());
        m->directory.link("gw-2", g2.link());
    }
    Row local, remote;
    {
        auto a = must_join(g1, "client-a");
        auto b = must_join(g1, "client-b");
        local = measure("local relay (one gateway)", *a, *b, size, seconds);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // client-b's session on gw-1 is gone
    g1.directory.home("client-b", "gw-2");
    {
        auto a = must_join(g1, "client-a");
        auto b = must_join(g2, "client-b");
        remote = measure("inter-gateway (TCP link)", *a, *b, size, seconds);
    }
    const size_t frame = 8 + size + 28;  // a chacha20 Data frame
    const size_t header = fleet::kLinkFixedHeader + 4 + 4 + 8;  // gw-1, test, client-b
    const double gcm_h = tag_ns("aes256:k", header), gcm_f = tag_ns("aes256:k", header + frame);
    const double cc_h = tag_ns("chacha20:k", header), cc_f = tag_ns("chacha20:k", header + frame);
    const double ratio = local.frames_per_s > 0 ? remote.frames_per_s / local.frames_per_s : 0;
    if (json) {
        std::printf("{\"size\":%zu,\"local_fps\":%.0f,\"local_mbps\":%.1f,\"remote_fps\":%.0f,\"remote_mbps\":%.1f,"
                    "\"ratio\":%.3f,\"tag_ns\":{\"aes256_header\":%.0f,\"aes256_header_frame\":%.0f,"
                    "\"chacha20_header\":%.0f,\"chacha20_header_frame\":%.0f}}\n",
                    size, local.frames_per_s, local.mbit_per_s, remote.frames_per_s, remote.mbit_per_s, ratio, gcm_h,
                    gcm_f, cc_h, cc_f);
        return 0;
    }
    std::printf("%-28s %12s %10s %12s %12s\n", "path", "frames/s", "Mbit/s", "sent", "received");
    for (const Row& r : {local, remote})
        std::printf("%-28s %12.0f %10.1f %12" PRIu64 " %12" PRIu64 "\n", r.name, r.frames_per_s, r.mbit_per_s, r.sent,
                    r.received);
    std::printf("inter-gateway / local: %.2f (inner packet %zu bytes, frame %zu bytes)\n", ratio, size, frame);
    std::printf("link tag, ns per frame: aes256 header only %.0f, header + frame %.0f; chacha20 %.0f, %.0f\n", gcm_h,
                gcm_f, cc_h, cc_f);
    std::printf("gw-1: fleet_link_queue_full %" PRIu64 ", data_outq_full %" PRIu64 "; gw-2: fleet_link_rx_outq_full %" PRIu64 "\n",
                g1.counter(Counter::fleet_link_queue_full), g1.counter(Counter::data_outq_full),
                g2.counter(Counter::fleet_link_rx_outq_full));
    return 0;
}
