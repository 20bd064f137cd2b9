// rustun-pcapgen: frames for pktgen-dpdk's pcap replay (`pktgen ... -s P:file.pcap`) against a
// gateway, and a stand-in control plane that binds the simulated clients on a test gateway
// (docs/load-testing.md). Same scenario as rustun-loadgen (tools/loadgen/scenario.hpp): identities
// lg<i>, endpoints 198.18.0.0+i+1 : 10000+i%50000, keys <cipher>:loadgen-<cluster>.
//
//   rustun-pcapgen gen --out FILE [--clients N --clusters C --cipher M --size B --per-flow K
//                  --gw-ip A --gw-port P --gw-mac M] [--no-keepalives | --keepalives-only]
//       one KeepAlive (seq = now, µs) per client first, then K Data frames per flow, round robin.
//       --no-keepalives: Data only (the replay pcap); --keepalives-only: the KeepAlives only.
//   rustun-pcapgen bind --channel PATH [scenario options] --seconds S
//       plays the control plane on a same-host dataplane's shared-memory channel (as rustun-loadgen
//       --bind shm: does) for S seconds: every client bound and kept live, no KeepAlive needed.
//
// Why KeepAlives are special: a real control plane accepts a KeepAlive only with a seq within ±30 s
// of its clock and larger than the last one, binds a NEW endpoint only after a cookie echo (return
// routability, docs/protocol-extensions.md), and keeps an endpoint live for 15 s after its last
// KeepAlive. A replayed pcap cannot echo a cookie and its KeepAlives are accepted once, while fresh:
// the KeepAlive pcap refreshes bindings made otherwise (same endpoints), the Data pcap is replayed.
#include <arpa/inet.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "net/pcap_writer.hpp"
#include "scenario.hpp"
#include "shm_cp.hpp"
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
                 "                      [--size B] [--per-flow K] [--gw-ip A] [--gw-port P] [--gw-mac M]\n"
                 "                      [--no-keepalives | --keepalives-only]\n"
                 "       rustun-pcapgen bind --channel PATH [scenario options] --seconds S\n"
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
    if (argc < 2 || (std::string(argv[1]) != "gen" && std::string(argv[1]) != "bind")) {
        usage(stderr);
        return 2;
    }
    const std::string mode = argv[1];
    ScenarioOptions so;
    std::string out, channel;
    uint32_t per_flow = 4;
    double seconds = 0;
    bool keepalives = true, data = true;
    for (int i = 2; i < argc; ++i) {
        std::string k = argv[i];
        if (k == "--no-keepalives") { keepalives = false; continue; }
        if (k == "--keepalives-only") { data = false; continue; }
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
        else if (k == "--channel") channel = v;
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
        if (!keepalives && !data) die("--no-keepalives and --keepalives-only: nothing to write");
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
        for (uint32_t k = 0; data && k < per_flow; ++k)
            for (uint32_t f = 0; f < sc->clients(); ++f, ++n) {
                if (!sc->data_frame(*eng, f, k, frame.data())) die("seal failed");
                sc->datagram(f, frame.data(), sc->frame_len(), buf.data());
                w.write(buf.data(), sc->wire_len(), ts++);
            }
        if (Status st = w.close(); !st) die(st.error());
        std::printf("rustun-pcapgen: %s: %llu frames (%u KeepAlives, %u x %u Data of %u B on the wire), %s %u B inner\n",
                    out.c_str(), (unsigned long long)n, keepalives ? sc->clients() : 0, data ? per_flow : 0, sc->clients(), sc->wire_len(),
                    so.method.c_str(), so.inner_size);
        return 0;
    }

    // bind: the shared-memory stand-in control plane, bounded by --seconds.
    if (channel.empty()) die("bind: --channel PATH (the dataplane's dataplane.channel) is required");
    if (seconds <= 0 || seconds > 86400) die("bind: --seconds 1..86400 is required");
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    ShmControlPlane cp;
    if (std::string e = cp.start(channel, *sc, 30'000); !e.empty()) die("bind: " + e);
    std::fprintf(stderr, "rustun-pcapgen bind: %u clients in %u cluster(s) bound on %s for %.0f s\n", sc->clients(),
                 sc->clusters(), channel.c_str(), seconds);
    const uint64_t end = realtime_us() + static_cast<uint64_t>(seconds * 1e6);
    while (!g_stop && realtime_us() < end) usleep(100'000);
    cp.stop();
    return 0;
}
