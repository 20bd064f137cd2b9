// rustun-pcapgen: frames for pktgen-dpdk's pcap replay (`pktgen ... -s P:file.pcap`) against a
// gateway, and the companion that keeps the simulated clients bound while pktgen replays
// (docs/load-testing.md). Same scenario as rustun-loadgen (tools/loadgen/scenario.hpp): identities
// lg<i>, endpoints 198.18.0.0+i+1 : 10000+i%50000, keys <cipher>:loadgen-<cluster>.
//
//   rustun-pcapgen gen --out FILE [--clients N --clusters C --cipher M --size B --per-flow K
//                  --gw-ip A --gw-port P --gw-mac M] [--no-keepalives]
//       one KeepAlive (seq = now, µs) per client first, then K Data frames per flow, round robin.
//   rustun-pcapgen keeper [same scenario options] --seconds S [--interval 10] [--dev IFACE]
//       re-sends every client's KeepAlive with a fresh seq every --interval s, from the client's own
//       endpoint (raw IPv4 socket, source address and port set per client), for S seconds.
//
// Why a keeper: the gateway accepts a KeepAlive only with a seq within ±30 s of its clock and larger
// than the last one (docs/protocol-extensions.md), so the pcap's KeepAlives bind only when replayed
// within 30 s of generation and only once; endpoints stay live only while a packet arrived in the
// last 15 s (pktgen's Data does that, but the binding must exist first). The gateway's control
// plane binds on the UDP KeepAlive alone; no TCP session is required for the UDP path.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "net/pcap_writer.hpp"
#include "scenario.hpp"
#include "util/version.hpp"

using namespace rustun;
using namespace rustun::loadgen;

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "rustun-pcapgen: %s\n", m.c_str());
    std::exit(2);
}

uint32_t parse_ip(const char* s) {
    in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1) die(std::string("bad IPv4 address ") + s);
    return ntohl(a.s_addr);
}

void usage(FILE* f) {
    std::fprintf(f,
                 "usage: rustun-pcapgen gen --out FILE [--clients N] [--clusters C] [--cipher chacha20|aes256|xor|plain]\n"
                 "                      [--size B] [--per-flow K] [--gw-ip A] [--gw-port P] [--gw-mac M] [--no-keepalives]\n"
                 "       rustun-pcapgen keeper [scenario options] --seconds S [--interval 10] [--dev IFACE]\n"
                 "       rustun-pcapgen --version | --help\n");
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        }
        if (a == "-V" || a == "--version") {
            std::printf("rustun-pcapgen %s\n", kVersion);
            return 0;
        }
    }
    if (argc < 2 || (std::string(argv[1]) != "gen" && std::string(argv[1]) != "keeper")) {
        usage(stderr);
        return 2;
    }
    const std::string mode = argv[1];
    ScenarioOptions so;
    std::string out, dev;
    uint32_t per_flow = 4;
    double seconds = 0, interval = 10;
    bool keepalives = true;
    for (int i = 2; i < argc; ++i) {
        std::string k = argv[i];
        if (k == "--no-keepalives") { keepalives = false; continue; }
        if (i + 1 >= argc) die("incomplete argument " + k);
        const char* v = argv[++i];
        if (k == "--out") out = v;
        else if (k == "--clients") so.clients = static_cast<uint32_t>(std::atoi(v));
        else if (k == "--clusters") so.clusters = static_cast<uint32_t>(std::atoi(v));
        else if (k == "--cipher") so.method = v;
        else if (k == "--size") so.inner_size = static_cast<uint32_t>(std::atoi(v));
        else if (k == "--per-flow") per_flow = static_cast<uint32_t>(std::atoi(v));
        else if (k == "--gw-ip") so.gw_ip = parse_ip(v);
        else if (k == "--gw-port") so.gw_port = static_cast<uint16_t>(std::atoi(v));
        else if (k == "--gw-mac") {
            unsigned m[6];
            if (std::sscanf(v, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) die("bad --gw-mac");
            for (int b = 0; b < 6; ++b) so.gw_mac[b] = static_cast<uint8_t>(m[b]);
        } else if (k == "--seconds") seconds = std::atof(v);
        else if (k == "--interval") interval = std::atof(v);
        else if (k == "--dev") dev = v;
        else die("unknown option " + k);
    }
    std::string err;
    auto sc = Scenario::create(so, err);
    if (!sc) die(err);
    auto eng = std::move(CryptoEngine::create()).value();
    std::vector<uint8_t> buf(2048);

    if (mode == "gen") {
        if (out.empty()) die("gen: --out FILE is required");
        if (per_flow < 1 || per_flow > 1024) die("--per-flow: 1..1024");
        PcapWriter w;
        if (Status st = w.open(out); !st) die(st.error());
        uint64_t ts = realtime_us(), n = 0;
        if (keepalives)
            for (uint32_t i = 0; i < sc->clients(); ++i, ++n) {
                auto f = sc->keepalive_frame(*eng, i, realtime_us());
                sc->datagram(i, f.data(), static_cast<uint32_t>(f.size()), buf.data());
                w.write(buf.data(), 42 + static_cast<uint32_t>(f.size()), ts++);
            }
        std::vector<uint8_t> frame(sc->frame_len());
        for (uint32_t k = 0; k < per_flow; ++k)
            for (uint32_t f = 0; f < sc->clients(); ++f, ++n) {
                if (!sc->data_frame(*eng, f, k, frame.data())) die("seal failed");
                sc->datagram(f, frame.data(), sc->frame_len(), buf.data());
                w.write(buf.data(), sc->wire_len(), ts++);
            }
        if (Status st = w.close(); !st) die(st.error());
        std::printf("rustun-pcapgen: %s: %llu frames (%u KeepAlives, %u x %u Data of %u B on the wire), %s %u B inner\n",
                    out.c_str(), (unsigned long long)n, keepalives ? sc->clients() : 0, per_flow, sc->clients(), sc->wire_len(),
                    so.method.c_str(), so.inner_size);
        return 0;
    }

    // keeper: raw socket, our own IPv4+UDP headers (source = each client's endpoint).
    if (seconds <= 0 || seconds > 86400) die("keeper: --seconds 1..86400 is required");
    if (interval < 1 || interval > 14) die("keeper: --interval 1..14 (endpoints stay live 15 s)");
    int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) die(std::string("raw socket (needs CAP_NET_RAW): ") + std::strerror(errno));
    if (!dev.empty() && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev.c_str(), static_cast<socklen_t>(dev.size())) != 0)
        die("SO_BINDTODEVICE " + dev + ": " + std::strerror(errno));
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(so.gw_ip);
    const time_t end = time(nullptr) + static_cast<time_t>(seconds);
    uint64_t sent = 0, failed = 0, rounds = 0;
    while (!g_stop && time(nullptr) < end) {
        const uint64_t t0 = realtime_us();
        for (uint32_t i = 0; i < sc->clients() && !g_stop; ++i) {
            auto f = sc->keepalive_frame(*eng, i, realtime_us());
            sc->datagram(i, f.data(), static_cast<uint32_t>(f.size()), buf.data());
            const size_t len = 28 + f.size();  // IPv4 + UDP + frame, without Ethernet
            if (::sendto(fd, buf.data() + 14, len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == static_cast<ssize_t>(len)) ++sent;
            else ++failed;
        }
        ++rounds;
        std::fprintf(stderr, "rustun-pcapgen keeper: round %llu: %u KeepAlives in %.1f ms (sent %llu, failed %llu)\n",
                     (unsigned long long)rounds, sc->clients(), double(realtime_us() - t0) / 1e3, (unsigned long long)sent,
                     (unsigned long long)failed);
        const uint64_t next = t0 + static_cast<uint64_t>(interval * 1e6);
        while (!g_stop && realtime_us() < next && time(nullptr) < end) usleep(100'000);
    }
    ::close(fd);
    return failed ? 1 : 0;
}
