#!/usr/bin/env bash
# The end-to-end demo: a Rustun gateway and three clients in network namespaces on this machine.
#   1. scripts/setup.sh (packages, build into build/)
#   2. namespaces on a private bridge, the DPDK dataplane (if built and hugepages are free) and
#      the control plane in the gateway namespace, 3 clients
#   3. ping over the TCP relay (P2P blocked by a firewall), then over P2P (firewall opened)
#   4. tenant isolation
#   5. two clients in `--relay udp` mode relaying through the dataplane (ping, counters)
#   6. `rustunctl clients` and a client's status
# Everything is removed on exit or Ctrl-C (namespaces, processes, the dataplane's shared-memory
# channel); daemon logs stay in a temp dir (path printed).
# Run as root. DEMO_SKIP_SETUP=1 skips step 1 (binaries from build/ or build-client/).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

bold() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
say() { printf '   %s\n' "$*"; }
die() { printf '\ndemo: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces and TUN devices)"

bold "1. Setup"
if [ -z "${DEMO_SKIP_SETUP:-}" ]; then
    scripts/setup.sh 2>&1 | sed 's/^/   /' || die "setup failed"
else
    say "skipped (DEMO_SKIP_SETUP)"
fi

E2E_ROOT=$ROOT
# shellcheck source=tests/e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"
pick() { [ -x "$ROOT/build/$1" ] && echo "$ROOT/build/$1" || e2e_find_bin "$(basename "$1")" NONE; }
CLIENT=$(pick client/rustun-client) || die "rustun-client is not built"
CP=$(pick controlplane/rustun-controlplane) || die "rustun-controlplane is not built"
CTL=$(pick controlplane/rustunctl) || die "rustunctl is not built"
RUSTUN_DATAPLANE=${RUSTUN_DATAPLANE:-$ROOT/build/dataplane/rustun-dataplane}
E2E_DP_LIMIT=600   # the dataplane's run-time bound (the demo takes about a minute)

P="rd$(( $$ % 10000 ))"
WORK=$(mktemp -d /tmp/rustun-demo-XXXXXX)
cleanup() {
    trap - EXIT INT TERM
    trap '' PIPE   # output may be gone (demo.sh | head): clean up anyway
    e2e_cleanup
    bold "Cleanup"
    say "namespaces, interfaces and processes removed"
    if [ -n "$WITH_DP" ]; then
        say "dataplane stopped (SIGTERM); channel $E2E_DP_CHANNEL removed"
        say "daemon logs: $WORK/{dataplane,gateway,a,b,c}.log"
    else
        say "daemon logs: $WORK/{gateway,a,b,c}.log"
    fi
}
WITH_DP=""
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'exit 141' PIPE

bold "2. Network"
e2e_setup_net || die "namespace set-up failed"
e2e_dp_available && WITH_DP=1
cat <<'TXT'
   Five network namespaces on one private bridge (nothing touches this machine's network):
     gateway   172.31.77.1    rustun-controlplane, TCP 7000
TXT
[ -n "$WITH_DP" ] && say "                           rustun-dataplane (DPDK), UDP relay 7000, on the same eth0"
cat <<'TXT'
     client-a  172.31.77.11   VPN 10.0.1.2  (+ its LAN 192.168.11.0/24)   cluster "test"
     client-b  172.31.77.12   VPN 10.0.1.3                                 cluster "test"
     client-c  172.31.77.13   VPN 10.0.1.9                                 cluster "other" (own key)
TXT

bold "3. Gateway"
if [ -n "$WITH_DP" ]; then
    e2e_dp_setup_nft || die "nftables rule in the gateway namespace failed"
    e2e_write_gateway_config "$WORK/gateway.yaml" dataplane
    e2e_start_dataplane
    say "rustun-dataplane: DPDK (--no-pci --in-memory) on net_af_packet0 over the gateway's eth0"
    say "  bifurcated: it serves UDP 172.31.77.1:7000; the kernel keeps ARP and TCP 7000, and an"
    say "  nftables rule makes the kernel drop its copy of the relay datagrams"
else
    say "dataplane not started ($E2E_DP_WHY): relay over TCP only"
    e2e_write_gateway_config "$WORK/gateway.yaml"
fi
e2e_start_gateway || die "the gateway did not start (see $WORK/gateway.log)"
say "rustun-controlplane running (config $WORK/gateway.yaml)"
if [ -n "$WITH_DP" ]; then
    wait_for 20 "dataplane attached" e2e_dp_attached || die "the control plane did not attach to the dataplane (see $WORK/dataplane.log)"
    say "control plane attached to the dataplane (shared-memory channel $E2E_DP_CHANNEL)"
fi

bold "4. Clients"
say "a P2P firewall in client-a's namespace first blocks direct UDP between a and b"
ip netns exec "${P}a" nft -f - <<'NFT'
table inet demo {
  chain in { type filter hook input priority 0; udp dport 51258 drop; }
  chain out { type filter hook output priority 0; udp dport 51258 drop; }
}
NFT
e2e_start_client a client-a --enable-p2p --public-addr 172.31.77.11
e2e_start_client b client-b --enable-p2p --public-addr 172.31.77.12
e2e_start_client c client-c -c aes256:other-tenant-key
for n in a b c; do
    wait_for 10 "$n connected" st_is "$n" 's["server"]["connected"]' True || die "client $n did not connect"
done
for n in a b c; do
    say "client-$n: connected, $(st "$n" 's["tun"]["name"] + " " + s["tun"]["address"] + "/" + s["tun"]["mask"]'), $(st "$n" 'len(s["peers"])') peer(s)"
done

show_peers() {  # NODE
    "$SYS_PY" - "$WORK/$1.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
d = b""
while True:
    b = s.recv(65536)
    if not b: break
    d += b
st = json.loads(d)
print("   %-9s %-10s %-5s %-20s %9s %9s %9s %9s" % ("peer", "vpn ip", "path", "p2p address", "p2p tx", "p2p rx", "relay tx", "relay rx"))
for p in st["peers"]:
    print("   %-9s %-10s %-5s %-20s %9d %9d %9d %9d" % (p["identity"], p["private_ip"], p["path"], p["p2p_address"] or "-",
          p["p2p_counters"]["tx_packets"], p["p2p_counters"]["rx_packets"],
          p["relay_counters"]["tx_packets"], p["relay_counters"]["rx_packets"]))
PY
}
ping_show() {  # NODE DST
    local out
    out=$(ip netns exec "${P}$1" ping -n -c 4 -i 0.3 -W 1 "$2" 2>&1 | grep -E 'packets transmitted|rtt')
    printf '   %s\n' "$out" | sed 's/^ *//; s/^/   /'
}

bold "5. Ping over the relay (P2P blocked)"
say "client-a \$ ping 10.0.1.3"
sleep 1
ping_show a 10.0.1.3
say "client-a's view of its peers:"
show_peers a

bold "6. Ping over P2P (firewall opened)"
ip netns exec "${P}a" nft delete table inet demo
say "waiting for the next P2P probe round (every 10 s)..."
wait_for 20 "P2P" st_is a 'peer("client-b")["path"]' p2p || die "P2P did not come up (see $WORK/a.log)"
wait_for 20 "P2P" st_is b 'peer("client-a")["path"]' p2p || die "P2P did not come up (see $WORK/b.log)"
say "client-a \$ ping 10.0.1.3"
ping_show a 10.0.1.3
say "client-a's view of its peers (p2p counters grew, relay counters did not):"
show_peers a

bold "7. Tenant isolation"
say "client-c (cluster \"other\") \$ ping 10.0.1.2   # client-a's address in cluster \"test\""
ping_show c 10.0.1.2
say "(no reply: the gateway routes only inside a cluster)"

bold "8. UDP relay through the DPDK dataplane"
if [ -z "$WITH_DP" ]; then
    say "skipped: the dataplane is not running ($E2E_DP_WHY)"
else
    say "client-a and client-b restart with --relay udp (P2P off): each binds its UDP endpoint with a"
    say "KeepAlive to UDP 172.31.77.1:7000 and relays over UDP through the dataplane (TCP stays as fallback)"
    for n in a b; do
        kill -TERM "${CLIENT_PID[$n]}"
        wait "${CLIENT_PID[$n]}" 2>/dev/null
    done
    e2e_start_client a client-a --relay udp
    e2e_start_client b client-b --relay udp
    for n in a b; do
        wait_for 10 "$n UDP relay" st_is "$n" 's["relay"]["in_use"]' udp || die "client $n did not bind over UDP (see $WORK/$n.log)"
    done
    say "client-a relay status: $(st a '" ".join("%s=%s" % (k, v) for k, v in s["relay"].items() if k != "udp_last_reply_ms_ago")')"
    relayed0=$(e2e_dp_relayed)
    say "client-a \$ ping 10.0.1.3"
    ping_show a 10.0.1.3
    say "client-a: $(st a '"udp_relay_data_tx %d, udp_relay_data_rx %d, tcp_data_tx %d" % (s["counters"]["udp_relay_data_tx"], s["counters"]["udp_relay_data_rx"], s["counters"]["tcp_data_tx"])')"
    say "dataplane \`relayed\`: $relayed0 -> $(e2e_dp_relayed) (4 requests + 4 replies: UDP in, UDP out, not through the control plane)"
    say "\$ rustunctl stats   (dataplane part)"
    "$CTL" --socket "$WORK/gateway.sock" stats | "$SYS_PY" -c '
import sys
lines = sys.stdin.read().splitlines()
show = {"relayed", "rx_packets", "tx_packets", "to_controlplane_tcp", "punted", "from_controlplane_tx",
        "drop_not_for_us", "sessions", "session_capacity"}
dp = False
for l in lines:
    w = l.split()
    if l.lower().startswith("dataplane"):
        dp = True
        print("     " + l.strip())
    elif dp and w and w[0] in show:
        print("     " + l.strip())'
    say "(punted: the binding KeepAlives, handed to the control plane, which answered them through the"
    say " dataplane: from_controlplane_tx; drop_not_for_us: the gateway's other traffic, e.g. TCP 7000,"
    say " which the kernel handles on the same interface)"
fi

bold "9. The gateway's view: rustunctl clients"
"$CTL" --socket "$WORK/gateway.sock" clients | sed 's/^/   /'

bold "10. Full status of client-a"
say "(JSON from --status-socket; --http-port serves the same on GET /status)"
st a 'json.dumps(s, indent=1)' 2>/dev/null | head -40 | sed 's/^/   /'
say "..."
