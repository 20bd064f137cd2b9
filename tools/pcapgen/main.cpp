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
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "net/pcap_writer.hpp"
#include "scenario.hpp"
#include "scenario_options.hpp"
#include "shm_cp.hpp"
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
        spec.usage = "--out FILE [scenario options] [--per-flow K] [--no-keepalives | --keepalives-only]";
        spec.about = "One KeepAlive (seq = now, us) per client first, then K Data frames per flow, round robin.";
        spec.options = {{"out", 0, "FILE", "the pcap to write (required)"},
                        {"per-flow", 0, "K", "Data frames per flow, 1..1024 (default 4)"},
                        {"no-keepalives", 0, nullptr, "no KeepAlive frames in front (the Data pcap)"},
                        {"keepalives-only", 0, nullptr, "only the KeepAlives (the KeepAlive pcap)"}};
    } else if (command == "bind") {
        spec.usage = "--channel PATH [scenario options] --seconds S";
        spec.about = "Plays the control plane on a same-host dataplane's shared-memory channel for S\n"
                     "seconds: every simulated client bound and kept live (a test gateway, no KeepAlive).";
        spec.options = {{"channel", 0, "PATH", "the dataplane's dataplane.channel (required)"},
                        {"seconds", 0, "S", "how long, 1..86400 (required)"}};
    } else {
        spec.usage = "COMMAND [options]";
        spec.about = "Frames for pktgen-dpdk's pcap replay against a gateway (docs/load-testing.md).";
        spec.epilog = "Commands:\n"
                      "  gen      write the pcap (rustun-pcapgen gen --help)\n"
                      "  bind     bind the simulated clients on a test gateway's channel (bind --help)";
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
    if (a.operands.empty()) return cli::usage_error(top, "a command is required (gen, bind)");
    const std::string mode = a.operands[0];
    if (mode != "gen" && mode != "bind") return cli::usage_error(top, "unknown command '" + mode + "'");
    const cli::Spec spec = pcapgen_spec(mode);
    cli::Parsed args;
    if (auto code = cli::parse(spec, argc, argv, args, a.operand_index + 1)) return *code;
    ScenarioOptions so;
    if (Status st = apply_scenario_options(args, so); !st) return cli::usage_error(spec, st.error());
    const std::string out = args.value("out"), channel = args.value("channel");
    const bool keepalives = !args.has("no-keepalives"), data = !args.has("keepalives-only");
    auto per_flow_r = args.uint("per-flow", 1, 1024, 4);
    auto seconds_r = args.number("seconds", 1, 86400, 0);
    if (!per_flow_r) return cli::usage_error(spec, per_flow_r.error());
    if (!seconds_r) return cli::usage_error(spec, seconds_r.error());
    const uint32_t per_flow = static_cast<uint32_t>(*per_flow_r);
    const double seconds = *seconds_r;
    if (mode == "gen" && out.empty()) return cli::usage_error(spec, "--out FILE is required");
    if (mode == "gen" && !keepalives && !data)
        return cli::usage_error(spec, "--no-keepalives and --keepalives-only: nothing to write");
    if (mode == "bind" && channel.empty()) return cli::usage_error(spec, "--channel PATH is required");
    if (mode == "bind" && !args.has("seconds")) return cli::usage_error(spec, "--seconds S is required");
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
