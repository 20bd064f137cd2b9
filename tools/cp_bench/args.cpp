// The command line, errors, the clock and the result line of rustun-cp-bench.
#include "common.hpp"

#include <cstring>
#include <vector>

#include "util/cli.hpp"

namespace rustun::cpbench {

// ---- small helpers ----------------------------------------------------------------------------

[[noreturn]] void die(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fputs("rustun-cp-bench: ", stderr);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
    std::exit(1);
}

namespace {

// Every option of every mode: its argument's name and help.
const cli::Option kOptions[] = {
    {"config", 'c', "FILE", "the genconfig YAML (address, identities, clusters, keys, socket)"},
    {"clients", 0, "N", "clients (connections, handshakes or fan-out size)"},
    {"clusters", 0, "K", "clusters of consecutive clients"},
    {"cipher", 0, "SPEC", "the clusters' key (relay: a check, not a setting)"},
    {"port", 0, "P", "the gateway's TCP port"},
    {"socket", 0, "PATH", "the gateway's control socket"},
    {"output-queue-bytes", 0, "B", "controlplane.output_queue_bytes"},
    {"max-peers", 0, "N", "controlplane.max_peers_per_reply"},
    {"workers", 0, "W", "controlplane.workers (default 1)"},
    {"keys", 0, "one|distinct", "one key for all clusters, or one per cluster (default one)"},
    {"key-hint", 0, "yes|no", "nonces carry the key-hint tag, as our client's (default no)"},
    {"sources", 0, "shared|identity", "identity i connects from 127.1.0.0 + i (default shared)"},
    {"hold", 0, "S", "seconds to hold the connections (default 10)"},
    {"first", 0, "I", "idle: the first identity's index (default 0): identities I..I+N-1"},
    {"concurrency", 0, "C", "at most C at a time"},
    {"gateway-pid", 0, "PID", "the gateway's PID (default: from the control socket)"},
    {"size", 0, "B", "inner bytes of each Data frame"},
    {"seconds", 0, "S", "measured seconds"},
    {"pairs", 0, "P", "sender/receiver pairs"},
    {"inflight", 0, "BYTES", "unreceived bytes per pair (default 768 KiB)"},
    {"warmup-ms", 0, "MS", "warm-up before measuring"},
    {"receiver-port", 0, "P", "relay: receivers connect to 127.0.0.1:P (another gateway of a fleet)"},
    {"rounds", 0, "R", "rounds"},
    {"timeout", 0, "S", "give up after S seconds (default 300)"},
    {"json", 0, nullptr, "one JSON object on stdout"},
};

// The modes and the options each takes.
struct Mode {
    const char* name;
    std::vector<const char*> options;
};
const Mode kModes[] = {
    {"genconfig", {"clients", "clusters", "cipher", "port", "socket", "output-queue-bytes", "max-peers", "workers", "keys", "json"}},
    {"idle", {"config", "clients", "first", "hold", "concurrency", "gateway-pid", "timeout", "json"}},
    {"handshakes", {"config", "clients", "concurrency", "timeout", "key-hint", "sources", "json"}},
    {"relay", {"config", "size", "seconds", "pairs", "inflight", "cipher", "timeout", "warmup-ms", "receiver-port", "json"}},
    {"fanout", {"config", "clients", "rounds", "timeout", "json"}},
};

const char* kAbout =
        "  A load client for a running rustun-controlplane on loopback (docs/performance.md).\n"
        "\n"
        "  genconfig --clients N --clusters K --cipher SPEC --port P --socket PATH\n"
        "            [--output-queue-bytes B] [--max-peers N] [--workers W] [--keys one|distinct]\n"
        "      YAML on stdout: clients c000000.. (private IP 10.0.0.0 + index + 1, mask 255.0.0.0),\n"
        "      split into K clusters of consecutive clients (k0000..), one key (SPEC) for all\n"
        "      (--keys distinct: cluster c gets SPEC + \"-c\"), workers W (default 1), log_level warn,\n"
        "      no per-source handshake limits (rate 0, pending per source and per /64 100000).\n"
        "\n"
        "  Every other mode reads that file: --config FILE (address, identities, clusters, keys,\n"
        "  control socket).\n"
        "  idle --clients N [--first I] [--hold S] [--concurrency C] [--gateway-pid PID]\n"
        "      opens N connections (distinct identities, from index I: several gateways of a fleet\n"
        "      each get their own share), handshakes them (new dialect), sends a\n"
        "      KeepAlive from each every 10 s, holds S seconds (default 10), then reports the\n"
        "      gateway's VmRSS (PID from --gateway-pid, else from the control socket).\n"
        "  handshakes --clients N --concurrency C [--key-hint yes|no] [--sources shared|identity]\n"
        "      N handshakes in total (connect, Handshake, wait for HandshakeReply, close with RST),\n"
        "      at most C at a time, cycling over the configured identities (need > C of them).\n"
        "      --key-hint yes: nonces carry the key-hint tag, as our client's (default no: reference);\n"
        "      --sources identity: identity i always connects from 127.1.0.0 + i (reconnects).\n"
        "  relay --size B --seconds S --pairs P [--inflight BYTES] [--cipher SPEC] [--receiver-port P]\n"
        "      P sender/receiver pairs (consecutive clients of one cluster); senders write\n"
        "      pre-sealed Data frames (IPv4, B bytes inner) with writev, at most BYTES (default\n"
        "      768 KiB, below the gateway's 1 MiB output queue) unreceived per pair. Reports\n"
        "      relayed Mpps, Gbps of inner bytes, sent - received, and the gateway's drop counters.\n"
        "      --cipher, if given, must equal the clusters' key (a check, not a setting).\n"
        "      --receiver-port P: receivers connect to 127.0.0.1:P, another gateway of a fleet\n"
        "      with the same configuration (inter-gateway relay; the drop counters are gw-1's).\n"
        "  fanout --clients N [--rounds R]\n"
        "      N old-dialect clients of the first cluster with >= N clients; client 0 sends a\n"
        "      KeepAlive with a new address, the time until all N-1 others hold the PeerUpdate.\n"
        "\n"
        "  Common: --config FILE, --json (one JSON object on stdout), --timeout S (default 300),\n"
        "          --version, --help. Source addresses 127.0.0.2.. (20000 connections each).\n";

cli::Spec top_spec() {
    return cli::Spec{.program = "rustun-cp-bench", .usage = "MODE [options]", .about = kAbout,
                     .stop_at_operand = true};
}

cli::Spec mode_spec(const Mode& m) {
    cli::Spec spec{.program = "rustun-cp-bench", .command = m.name, .usage = "[options]",
                   .about = "See rustun-cp-bench --help for what the mode measures."};
    for (const char* name : m.options)
        for (const auto& o : kOptions)
            if (std::strcmp(o.long_name, name) == 0) spec.options.push_back(o);
    return spec;
}

}  // namespace

void usage(FILE* f) { std::fputs(cli::help_text(top_spec()).c_str(), f); }

Args parse_args(int argc, char** argv) {
    Args a;
    const cli::Spec top = top_spec();
    cli::Parsed t;
    if (auto code = cli::parse(top, argc, argv, t)) std::exit(*code);
    if (t.operands.empty())
        std::exit(cli::usage_error(top, "no mode given (genconfig, idle, handshakes, relay, fanout)"));
    a.mode = t.operands[0];
    for (const Mode& m : kModes) {
        if (a.mode != m.name) continue;
        cli::Parsed p;
        if (auto code = cli::parse(mode_spec(m), argc, argv, p, t.operand_index + 1)) std::exit(*code);
        for (const auto& [k, v] : p.given) a.kv[k] = v;
        a.json = p.has("json");
        a.kv.erase("json");
        return a;
    }
    std::exit(cli::usage_error(top, "unknown mode '" + a.mode + "'"));
}

void check_known(const Args& a, std::initializer_list<const char*> known) {
    for (auto& [k, v] : a.kv) {
        bool ok = false;
        for (const char* n : known) ok = ok || k == n;
        if (!ok) die("%s: unknown option --%s (see --help)", a.mode.c_str(), k.c_str());
    }
}

void print_json_or_line(bool json, const std::string& js, const std::string& line) {
    std::printf("%s\n", json ? js.c_str() : line.c_str());
    std::fflush(stdout);
}

std::string fmt(const char* f, ...) {
    char b[2048];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(b, sizeof b, f, ap);
    va_end(ap);
    return b;
}

}  // namespace rustun::cpbench
