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
#include "scenario_options.hpp"
#include "util/cli.hpp"

using namespace rustun;
using namespace rustun::loadgen;

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "rustun-pcapgen: %s\n", m.c_str());
    std::exit(1);
}

// One Spec per subcommand: its own options, then the scenario's.
cli::Spec pcapgen_spec(const std::string& command) {
    cli::Spec spec{.program = "rustun-pcapgen", .command = command};
    if (command == "gen") {
        spec.usage = "--out FILE [scenario options] [--per-flow K] [--no-keepalives]";
        spec.about = "One KeepAlive (seq = now, us) per client first, then K Data frames per flow, round robin.";
        spec.options = {{"out", 0, "FILE", "the pcap to write (required)"},
                        {"per-flow", 0, "K", "Data frames per flow, 1..1024 (default 4)"},
                        {"no-keepalives", 0, nullptr, "no KeepAlive frames in front"}};
    } else if (command == "keeper") {
        spec.usage = "[scenario options] --seconds S [--interval 10] [--dev IFACE]";
        spec.about = "Re-sends every client's KeepAlive with a fresh seq every --interval s, from the\n"
                     "client's own endpoint (raw IPv4 socket, needs CAP_NET_RAW), for S seconds.";
        spec.options = {{"seconds", 0, "S", "how long, 1..86400 (required)"},
                        {"interval", 0, "S", "seconds between rounds, 1..14 (default 10)"},
                        {"dev", 0, "IFACE", "send through this interface (SO_BINDTODEVICE)"}};
    } else {
        spec.usage = "COMMAND [options]";
        spec.about = "Frames for pktgen-dpdk's pcap replay against a gateway (docs/load-testing.md).";
        spec.epilog = "Commands:\n"
                      "  gen      write the pcap (rustun-pcapgen gen --help)\n"
                      "  keeper   keep the simulated clients bound while pktgen replays (keeper --help)";
        spec.stop_at_operand = true;
        return spec;
    }
    const auto& sc = scenario_cli_options();
    spec.options.insert(spec.options.end(), sc.begin(), sc.end());
    return spec;
}

}  // namespace

int main(int argc, char** argv) {
    const cli::Spec top = pcapgen_spec("");
    cli::Parsed a;
    if (auto code = cli::parse(top, argc, argv, a)) return *code;
    if (a.operands.empty()) return cli::usage_error(top, "a command is required (gen, keeper)");
    const std::string mode = a.operands[0];
    if (mode != "gen" && mode != "keeper") return cli::usage_error(top, "unknown command '" + mode + "'");
    const cli::Spec spec = pcapgen_spec(mode);
    cli::Parsed args;
    if (auto code = cli::parse(spec, argc, argv, args, a.operand_index + 1)) return *code;
    ScenarioOptions so;
    if (Status st = apply_scenario_options(args, so); !st) return cli::usage_error(spec, st.error());
    const std::string out = args.value("out"), dev = args.value("dev");
    const bool keepalives = !args.has("no-keepalives");
    auto per_flow_r = args.uint("per-flow", 1, 1024, 4);
    auto seconds_r = args.number("seconds", 1, 86400, 0);
    auto interval_r = args.number("interval", 1, 14, 10);
    if (!per_flow_r) return cli::usage_error(spec, per_flow_r.error());
    if (!seconds_r) return cli::usage_error(spec, seconds_r.error());
    if (!interval_r) return cli::usage_error(spec, interval_r.error() + " (endpoints stay live 15 s)");
    const uint32_t per_flow = static_cast<uint32_t>(*per_flow_r);
    const double seconds = *seconds_r, interval = *interval_r;
    if (mode == "gen" && out.empty()) return cli::usage_error(spec, "--out FILE is required");
    if (mode == "keeper" && !args.has("seconds")) return cli::usage_error(spec, "--seconds S is required");
    std::string err;
    auto sc = Scenario::create(so, err);
    if (!sc) die(err);
    auto eng = std::move(CryptoEngine::create()).value();
    std::vector<uint8_t> buf(2048);

    if (mode == "gen") {
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
