// rustun-udp-relay-baseline: the kernel-socket UDP relay that rustun-dataplane is compared with
// (scripts/bench.sh, docs/performance.md "Dataplane"). One relay thread: recvmmsg a batch of up to
// 32 datagrams, decrypt-and-verify every frame with lib/crypto (one open_burst, out of place, as the
// dataplane does), sendmmsg the authenticated frames UNCHANGED to the receiver. Driven over
// loopback by a sender thread (pre-sealed frames, sendmmsg of 32, as fast as it can) and a receiver
// thread (recvmmsg, counts). Everything bounded by --seconds.
//   rustun-udp-relay-baseline [--cipher chacha20|aes256|xor|plain] [--size B] [--seconds S] [--json]
// Result: frames received by the receiver per second (Mpps), inner Gbps, relay auth failures.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "proto/frame.hpp"
#include "util/clock.hpp"
#include "util/cli.hpp"

using namespace rustun;

namespace {

constexpr unsigned kBatch = 32;

int udp_socket(uint16_t& port) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int big = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    timeval tv{0, 100'000};  // 100 ms, so that threads notice the stop flag
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("bind");
        std::exit(1);
    }
    socklen_t l = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
    port = ntohs(a.sin_port);
    return fd;
}

sockaddr_in loop_addr(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    const rustun::cli::Spec spec{
        .program = "rustun-udp-relay-baseline",
        .usage = "[--cipher M] [--size B] [--seconds S] [--json]",
        .about = "The kernel-socket UDP relay rustun-dataplane is compared with (docs/performance.md):\n"
                 "a sender, a relay that decrypts-and-verifies every frame and a receiver, over loopback.",
        .options = {
            {"cipher", 0, "M", "chacha20 | aes256 | xor | plain (default chacha20)"},
            {"size", 0, "B", "inner bytes, 20..1430 (default 64)"},
            {"seconds", 0, "S", "measured seconds, 0 < S <= 600 (default 4)"},
            {"json", 0, nullptr, "one JSON object on stdout"},
        },
    };
    rustun::cli::Parsed args;
    if (auto code = rustun::cli::parse(spec, argc, argv, args)) return *code;
    auto size_r = args.uint("size", 20, 1430, 64);
    auto seconds_r = args.number("seconds", 0.001, 600, 4);
    if (!size_r) return rustun::cli::usage_error(spec, size_r.error());
    if (!seconds_r) return rustun::cli::usage_error(spec, seconds_r.error());
    const std::string method = args.value("cipher", "chacha20");
    const unsigned size = static_cast<unsigned>(*size_r);
    const double seconds = *seconds_r, warmup = 1;
    const bool json = args.has("json");
    auto key = CipherKey::create(std::string_view(method == "plain" ? std::string("plain") : method + ":baseline"));
    if (!key) {
        return rustun::cli::usage_error(spec, "--cipher: " + key.error());
    }
    const CipherKey& k = **key;
    // 64 pre-sealed Data frames (distinct nonces), sent round-robin.
    auto eng = std::move(CryptoEngine::create()).value();
    const unsigned flen = 8 + size + k.overhead();
    std::vector<std::vector<uint8_t>> frames(64, std::vector<uint8_t>(flen));
    for (auto& f : frames) {
        std::vector<uint8_t> inner(size, 0x5a);
        inner[0] = 0x45;
        uint32_t n = 0;
        eng->seal(k, inner, std::span<uint8_t>(f.data() + 8, flen - 8), n);
        (void)encode_header(FrameType::Data, n, std::span<uint8_t>(f.data(), 8));
    }
    uint16_t relay_port, rx_port, tx_port;
    const int relay_fd = udp_socket(relay_port), rx_fd = udp_socket(rx_port), tx_fd = udp_socket(tx_port);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> received{0}, relayed{0}, auth_fail{0}, sent{0};

    std::thread relay([&] {
        auto e = std::move(CryptoEngine::create()).value();
        std::vector<uint8_t> buf(kBatch * 2048), scratch(kBatch * 2048);
        mmsghdr in[kBatch], out[kBatch];
        iovec iv[kBatch], ov[kBatch];
        OpenItem items[kBatch];
        sockaddr_in to = loop_addr(rx_port);
        while (!stop.load(std::memory_order_relaxed)) {
            for (unsigned j = 0; j < kBatch; ++j) {
                iv[j] = {buf.data() + j * 2048, 2048};
                in[j] = {};
                in[j].msg_hdr.msg_iov = &iv[j];
                in[j].msg_hdr.msg_iovlen = 1;
            }
            const int n = recvmmsg(relay_fd, in, kBatch, MSG_WAITFORONE, nullptr);
            if (n <= 0) continue;
            unsigned m = 0;
            for (int j = 0; j < n; ++j) {
                uint8_t* f = buf.data() + j * 2048;
                FrameHeader h;
                if (in[j].msg_len < 8 || decode_header(std::span<const uint8_t>(f, in[j].msg_len), h) != HeaderStatus::Ok ||
                    h.frame_size() > in[j].msg_len) {
                    continue;
                }
                items[m] = OpenItem{};
                items[m].key = &k;
                items[m].payload = f + 8;
                items[m].payload_len = h.payload_length;
                items[m].out = scratch.data() + m * 2048;
                ov[m] = {f, h.frame_size()};
                ++m;
            }
            e->open_burst(std::span<OpenItem>(items, m));
            unsigned o = 0;
            for (unsigned j = 0; j < m; ++j) {
                if (items[j].status != CryptoStatus::Ok) {
                    auth_fail.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                out[o] = {};
                out[o].msg_hdr.msg_name = &to;
                out[o].msg_hdr.msg_namelen = sizeof to;
                out[o].msg_hdr.msg_iov = &ov[j];
                out[o].msg_hdr.msg_iovlen = 1;
                ++o;
            }
            if (o) {
                const int s = sendmmsg(relay_fd, out, o, 0);
                if (s > 0) relayed.fetch_add(static_cast<uint64_t>(s), std::memory_order_relaxed);
            }
        }
    });
    std::thread receiver([&] {
        std::vector<uint8_t> buf(kBatch * 2048);
        mmsghdr in[kBatch];
        iovec iv[kBatch];
        for (unsigned j = 0; j < kBatch; ++j) {
            iv[j] = {buf.data() + j * 2048, 2048};
            in[j] = {};
            in[j].msg_hdr.msg_iov = &iv[j];
            in[j].msg_hdr.msg_iovlen = 1;
        }
        while (!stop.load(std::memory_order_relaxed)) {
            const int n = recvmmsg(rx_fd, in, kBatch, MSG_WAITFORONE, nullptr);
            if (n > 0) received.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        }
    });
    std::thread sender([&] {
        sockaddr_in to = loop_addr(relay_port);
        mmsghdr out[kBatch];
        iovec ov[kBatch];
        unsigned r = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            for (unsigned j = 0; j < kBatch; ++j, r = (r + 1) & 63) {
                ov[j] = {frames[r].data(), flen};
                out[j] = {};
                out[j].msg_hdr.msg_name = &to;
                out[j].msg_hdr.msg_namelen = sizeof to;
                out[j].msg_hdr.msg_iov = &ov[j];
                out[j].msg_hdr.msg_iovlen = 1;
            }
            const int s = sendmmsg(tx_fd, out, kBatch, 0);
            if (s > 0) sent.fetch_add(static_cast<uint64_t>(s), std::memory_order_relaxed);
        }
    });
    usleep(static_cast<useconds_t>(warmup * 1e6));
    const uint64_t r0 = received.load();
    const double t0 = mono_seconds();
    usleep(static_cast<useconds_t>(seconds * 1e6));
    const uint64_t r1 = received.load();
    const double t1 = mono_seconds();
    stop.store(true);
    sender.join();
    relay.join();
    receiver.join();
    ::close(relay_fd);
    ::close(rx_fd);
    ::close(tx_fd);
    const double mpps = double(r1 - r0) / (t1 - t0) / 1e6;
    const double gbps = mpps * 1e6 * size * 8 / 1e9;
    if (json)
        std::printf("{\"cipher\":\"%s\",\"size\":%u,\"seconds\":%.3f,\"mpps\":%.4f,\"gbps\":%.4f,\"sent\":%llu,\"relayed\":%llu,"
                    "\"received\":%llu,\"auth_failed\":%llu}\n",
                    method.c_str(), size, t1 - t0, mpps, gbps, (unsigned long long)sent.load(), (unsigned long long)relayed.load(),
                    (unsigned long long)received.load(), (unsigned long long)auth_fail.load());
    else
        std::printf("kernel UDP relay (recvmmsg/sendmmsg x32, 1 thread, %s verify): %s %u B: %.3f Mpps, %.3f Gbps inner "
                    "(sent %llu, relayed %llu, received %llu, auth failed %llu)\n",
                    method.c_str(), method.c_str(), size, mpps, gbps, (unsigned long long)sent.load(), (unsigned long long)relayed.load(),
                    (unsigned long long)received.load(), (unsigned long long)auth_fail.load());
    return auth_fail.load() ? 1 : 0;
}
