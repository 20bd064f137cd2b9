// rustun-cp-bench: a load client for a running rustun-controlplane (issue 3's benchmark).
//
// Modes (each prints one result line, or one JSON object with --json):
//   genconfig   writes a gateway YAML with N generated clients in K clusters; the benchmark
//               modes read the same file (identities, private IPs, clusters, keys, port, socket).
//   idle        N connections established and kept alive; gateway RSS per connection.
//   handshakes  connect + Handshake + HandshakeReply + close, N in total, C at a time.
//   relay       P sender/receiver pairs; Data frames of B inner bytes as fast as the gateway
//               relays them, with bounded bytes in flight per pair (no queue drops by design).
//   fanout      N old-dialect clients of one cluster; time from one KeepAlive with a new
//               address until all N-1 others received the PeerUpdate.
//
// One thread, one epoll set, non-blocking sockets. Every loop is bounded by a deadline. Not a
// test: no pass/fail (scripts/bench-controlplane.sh compares with targets).
//
// Files: common (command line, errors, result line), gateway (configuration, control socket),
// net (the TCP sessions), one file per mode.
#include <signal.h>

#include "common.hpp"
#include "modes.hpp"

using namespace rustun::cpbench;

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    Args a = parse_args(argc, argv);
    if (a.mode == "genconfig") return genconfig(a);
    if (a.mode == "idle") return mode_idle(a);
    if (a.mode == "handshakes") return mode_handshakes(a);
    if (a.mode == "relay") return mode_relay(a);
    if (a.mode == "fanout") return mode_fanout(a);
    die("unknown mode '%s' (genconfig, idle, handshakes, relay, fanout; see --help)", a.mode.c_str());
}
