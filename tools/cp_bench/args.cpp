// The command line, errors, the clock and the result line of rustun-cp-bench.
#include "common.hpp"

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

void usage(FILE* f) {
    std::fputs(
        "usage: rustun-cp-bench MODE [options]\n"
        "  A load client for a running rustun-controlplane on loopback (docs/performance.md).\n"
        "\n"
        "  genconfig --clients N --clusters K --cipher SPEC --port P --socket PATH\n"
        "            [--output-queue-bytes B] [--max-peers N] [--keys one|distinct]\n"
        "      YAML on stdout: clients c000000.. (private IP 10.0.0.0 + index + 1, mask 255.0.0.0),\n"
        "      split into K clusters of consecutive clients (k0000..), one key (SPEC) for all\n"
        "      (--keys distinct: cluster c gets SPEC + \"-c\"), workers 1, log_level warn, no per-source\n"
        "      handshake limits (rate 0, pending per source and per /64 100000).\n"
        "\n"
        "  Every other mode reads that file: --config FILE (address, identities, clusters, keys,\n"
        "  control socket).\n"
        "  idle --clients N [--hold S] [--concurrency C] [--gateway-pid PID]\n"
        "      opens N connections (distinct identities), handshakes them (new dialect), sends a\n"
        "      KeepAlive from each every 10 s, holds S seconds (default 10), then reports the\n"
        "      gateway's VmRSS (PID from --gateway-pid, else from the control socket).\n"
        "  handshakes --clients N --concurrency C [--key-hint yes|no] [--sources shared|identity]\n"
        "      N handshakes in total (connect, Handshake, wait for HandshakeReply, close with RST),\n"
        "      at most C at a time, cycling over the configured identities (need > C of them).\n"
        "      --key-hint yes: nonces carry the key-hint tag, as our client's (default no: reference);\n"
        "      --sources identity: identity i always connects from 127.1.0.0 + i (reconnects).\n"
        "  relay --size B --seconds S --pairs P [--inflight BYTES] [--cipher SPEC]\n"
        "      P sender/receiver pairs (consecutive clients of one cluster); senders write\n"
        "      pre-sealed Data frames (IPv4, B bytes inner) with writev, at most BYTES (default\n"
        "      768 KiB, below the gateway's 1 MiB output queue) unreceived per pair. Reports\n"
        "      relayed Mpps, Gbps of inner bytes, sent - received, and the gateway's drop counters.\n"
        "      --cipher, if given, must equal the clusters' key (a check, not a setting).\n"
        "  fanout --clients N [--rounds R]\n"
        "      N old-dialect clients of the first cluster with >= N clients; client 0 sends a\n"
        "      KeepAlive with a new address, the time until all N-1 others hold the PeerUpdate.\n"
        "\n"
        "  Common: --config FILE, --json (one JSON object on stdout), --timeout S (default 300),\n"
        "          --version, --help. Source addresses 127.0.0.2.. (20000 connections each).\n",
        f);
}

Args parse_args(int argc, char** argv) {
    Args a;
    if (argc < 2) {
        usage(stderr);
        std::exit(2);
    }
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "-h" || s == "--help") {
            usage(stdout);
            std::exit(0);
        }
        if (s == "-V" || s == "--version") {
            std::printf("rustun-cp-bench %s\n", rustun::kVersion);
            std::exit(0);
        }
        if (s == "--json") {
            a.json = true;
            continue;
        }
        if (s.rfind("--", 0) == 0) {
            std::string k = s.substr(2), v;
            size_t eq = k.find('=');
            if (eq != std::string::npos) {
                v = k.substr(eq + 1);
                k = k.substr(0, eq);
            } else {
                if (i + 1 >= argc) die("--%s needs a value", k.c_str());
                v = argv[++i];
            }
            a.kv[k] = v;
            continue;
        }
        if (!a.mode.empty()) die("unexpected argument '%s' (see --help)", s.c_str());
        a.mode = s;
    }
    if (a.mode.empty()) die("no mode given (genconfig, idle, handshakes, relay, fanout; see --help)");
    return a;
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
