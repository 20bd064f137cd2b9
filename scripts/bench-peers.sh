#!/usr/bin/env bash
# The alternatives, in the same run (docs/performance.md, "Against the alternatives"): a nebula
# relay, a wireguard-go hub and kernel IPv4 forwarding, each relaying between two peers in network
# namespaces this script creates (and always removes), beside our dataplane and our TCP relay
# (scripts/bench.sh's rows, run by this script with knobs). One table.
#
#   scripts/bench-peers.sh          # ~6-8 min on the 2-vCPU VM (root: namespaces)
#
# Topology per system: namespaces A (peer 1) - R (the relay) - B (peer 2), veths A<->R
# 10.201.1.0/24 and B<->R 10.201.2.0/24 (MTU 9000: no fragmentation at 1400 B), no route from A to B
# except through the system under test:
#   nebula     R = lighthouse + relay (relay.am_relay), A and B with relay.use_relays and no underlay
#              route to each other, so their tunnel is relayed by R; AES-256-GCM (nebula's default).
#   wireguard  R = wireguard-go hub (one peer per side, IPv4 forwarding wgR -> wgR), A and B run
#              wireguard-go too; configured over the UAPI socket (no `wg` needed); ChaCha20-Poly1305.
#   kernel     R forwards IPv4 (no encryption): the floor of any relay in a namespace.
# Load at inner IPv4 packet sizes 64 and 1400 B (iperf3 -u -l SIZE-28, bounded by -b and -t):
# packets/s delivered to B; TCP: iperf3 (one stream) Gbps A -> B. The relay's utilisation: its
# process's utime+stime (/proc/PID/stat) over the run's wall time (kernel forwarding: the softirq
# time of all CPUs, /proc/stat), and packets/s per relay core = delivered / utilisation.
# Our rows: rustun-dataplane (1 busy-polling worker = 1 core) and the control plane's TCP relay
# (gateway process CPU over the run), from scripts/bench.sh (RUSTUN_BENCH_SIZES="64 1400").
#
# Environment: RUSTUN_PEERS_SECONDS (default 5) per measurement; RUSTUN_PEERS_UDP_RATE (default
# 1G) iperf3 -b for UDP; RUSTUN_PEERS_SKIP (space-separated: nebula wireguard kernel ours).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${RUSTUN_PEERS_SECONDS:-5}
UDP_RATE=${RUSTUN_PEERS_UDP_RATE:-1G}
SKIP=" ${RUSTUN_PEERS_SKIP:-} "
SIZES="64 1400"
log() { printf '[bench-peers] %s\n' "$*" >&2; }
fail() { printf 'bench-peers: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip iperf3 nebula nebula-cert wireguard-go python3 timeout; do
  command -v "$c" >/dev/null || fail "$c is missing (scripts/setup.sh installs it)"
done

TMP=$(mktemp -d /tmp/rustun-peers.XXXXXX)
ID=$(( $$ % 100000 ))
NA=rbp$ID-a NR=rbp$ID-r NB=rbp$ID-b
PIDS=()
stop_all() {  # every process this script started, then the namespaces (and their links)
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true
  done
  PIDS=()
  for n in "$NA" "$NR" "$NB"; do ip netns del "$n" 2>/dev/null || true; done
}
cleanup() { stop_all; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
inR() { ip netns exec "$NR" "$@"; }

topology() {  # fresh namespaces and veths; $1 = 1 when R forwards IPv4 (kernel, wireguard hub)
  local forward=$1
  stop_all
  for n in "$NA" "$NR" "$NB"; do ip netns add "$n"; ip -n "$n" link set lo up; done
  ip link add va netns "$NA" mtu 9000 type veth peer name ra netns "$NR" mtu 9000
  ip link add vb netns "$NB" mtu 9000 type veth peer name rb netns "$NR" mtu 9000
  ip -n "$NA" addr add 10.201.1.2/24 dev va; ip -n "$NR" addr add 10.201.1.1/24 dev ra
  ip -n "$NB" addr add 10.201.2.2/24 dev vb; ip -n "$NR" addr add 10.201.2.1/24 dev rb
  for l in "$NA va" "$NR ra" "$NR rb" "$NB vb"; do set -- $l; ip -n "$1" link set "$2" up; done
  inR sysctl -qw net.ipv4.ip_forward="$forward" net.ipv4.conf.all.send_redirects=0
}

cpu_ticks() {  # PID -> utime+stime in clock ticks (all threads); "softirq" -> all CPUs' softirq ticks
  if [ "$1" = softirq ]; then awk '/^cpu / {print $8}' /proc/stat
  else awk '{print $14 + $15}' "/proc/$1/stat"; fi
}
HZ=$(getconf CLK_TCK)

# measure NAME DST RELAY: UDP at each size and TCP from A to DST in B; one JSON line per size in
# $TMP/peers.jsonl. RELAY = the relay's PID or "softirq".
measure() {
  local name=$1 dst=$2 relay=$3 s c0 c1 t0 t1
  timeout $(( 6 * SECS + 120 )) ip netns exec "$NB" iperf3 -s -p 5201 > "$TMP/iperf3-server.log" 2>&1 &
  PIDS+=($!)
  sleep 0.5
  for s in $SIZES; do
    log "$name: UDP $s B, ${SECS} s"
    c0=$(cpu_ticks "$relay"); t0=$(date +%s.%N)
    timeout $(( SECS + 30 )) ip netns exec "$NA" iperf3 -c "$dst" -p 5201 -u -l $(( s - 28 )) -b "$UDP_RATE" -t "$SECS" --json \
      > "$TMP/$name-udp-$s.json" || fail "$name: iperf3 UDP $s B failed ($(tail -c 300 "$TMP/$name-udp-$s.json"))"
    c1=$(cpu_ticks "$relay"); t1=$(date +%s.%N)
    python3 - "$TMP/$name-udp-$s.json" "$name" "$s" "$c0" "$c1" "$t0" "$t1" "$HZ" >> "$TMP/peers.jsonl" <<'PY'
import json, sys
f, name, size, c0, c1, t0, t1, hz = sys.argv[1:]
e = json.load(open(f))["end"]["sum"]
pps = (e["packets"] - e["lost_packets"]) / e["seconds"]
util = (int(c1) - int(c0)) / float(hz) / (float(t1) - float(t0))
print(json.dumps({"system": name, "proto": "udp", "size": int(size), "pps": pps, "sent_pps": e["packets"] / e["seconds"],
                  "lost_percent": e["lost_percent"], "util": util}))
PY
  done
  log "$name: TCP, ${SECS} s"
  c0=$(cpu_ticks "$relay"); t0=$(date +%s.%N)
  timeout $(( SECS + 30 )) ip netns exec "$NA" iperf3 -c "$dst" -p 5201 -t "$SECS" --json > "$TMP/$name-tcp.json" \
    || fail "$name: iperf3 TCP failed"
  c1=$(cpu_ticks "$relay"); t1=$(date +%s.%N)
  python3 - "$TMP/$name-tcp.json" "$name" "$c0" "$c1" "$t0" "$t1" "$HZ" >> "$TMP/peers.jsonl" <<'PY'
import json, sys
f, name, c0, c1, t0, t1, hz = sys.argv[1:]
e = json.load(open(f))["end"]["sum_received"]
util = (int(c1) - int(c0)) / float(hz) / (float(t1) - float(t0))
print(json.dumps({"system": name, "proto": "tcp", "gbps": e["bits_per_second"] / 1e9, "util": util}))
PY
}

wait_ping() {  # NS DST SECONDS: the overlay is up
  local i
  for i in $(seq "$3"); do ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}

# ---- kernel IPv4 forwarding -------------------------------------------------------------------
if [[ $SKIP != *" kernel "* ]]; then
  topology 1
  ip -n "$NA" route add 10.201.2.0/24 via 10.201.1.1
  ip -n "$NB" route add 10.201.1.0/24 via 10.201.2.1
  wait_ping "$NA" 10.201.2.2 10 || fail "kernel: no route A -> B"
  measure kernel 10.201.2.2 softirq
fi

# ---- wireguard-go hub ---------------------------------------------------------------------------
# UAPI (the cross-platform userspace protocol): "set=1", key=value lines, a blank line; "errno=0".
wg_set() {  # IFACE CONFIG-TEXT
  python3 - "/var/run/wireguard/$1.sock" "$2" <<'PY'
import socket, sys, time
path, conf = sys.argv[1], sys.argv[2]
for _ in range(50):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(path); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(f"no UAPI socket {path}")
s.sendall(("set=1\n" + conf.strip() + "\n\n").encode())
reply = s.recv(4096).decode()
if "errno=0" not in reply:
    sys.exit(f"{path}: {reply.strip()}")
PY
}
wg_keys() {  # prints "private_hex public_hex"
  python3 -c 'from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey as K
from cryptography.hazmat.primitives import serialization as s
k = K.generate(); r = s.Encoding.Raw
print(k.private_bytes(r, s.PrivateFormat.Raw, s.NoEncryption()).hex(), k.public_key().public_bytes(r, s.PublicFormat.Raw).hex())'
}
if [[ $SKIP != *" wireguard "* ]]; then
  topology 1
  read -r KA PA < <(wg_keys); read -r KR PR < <(wg_keys); read -r KB PB < <(wg_keys)
  for side in "$NA wga$ID" "$NR wgr$ID" "$NB wgb$ID"; do
    set -- $side
    ip netns exec "$1" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go "$2" > "$TMP/$2.log" 2>&1 &
    PIDS+=($!)
    [ "$1" = "$NR" ] && WG_RELAY=$!
  done
  wg_set "wgr$ID" "private_key=$KR
listen_port=51820
public_key=$PA
endpoint=10.201.1.2:51820
allowed_ip=10.97.0.1/32
public_key=$PB
endpoint=10.201.2.2:51820
allowed_ip=10.97.0.2/32" || fail "wireguard: hub configuration"
  wg_set "wga$ID" "private_key=$KA
listen_port=51820
public_key=$PR
endpoint=10.201.1.1:51820
allowed_ip=10.97.0.0/24" || fail "wireguard: peer A configuration"
  wg_set "wgb$ID" "private_key=$KB
listen_port=51820
public_key=$PR
endpoint=10.201.2.1:51820
allowed_ip=10.97.0.0/24" || fail "wireguard: peer B configuration"
  ip -n "$NA" addr add 10.97.0.1/24 dev "wga$ID"; ip -n "$NA" link set "wga$ID" mtu 1500 up
  ip -n "$NR" addr add 10.97.0.254/24 dev "wgr$ID"; ip -n "$NR" link set "wgr$ID" mtu 1500 up
  ip -n "$NB" addr add 10.97.0.2/24 dev "wgb$ID"; ip -n "$NB" link set "wgb$ID" mtu 1500 up
  wait_ping "$NA" 10.97.0.2 20 || fail "wireguard: A cannot reach B through the hub"
  measure wireguard-go 10.97.0.2 "$WG_RELAY"
fi

# ---- nebula relay -------------------------------------------------------------------------------
if [[ $SKIP != *" nebula "* ]]; then
  topology 0   # no underlay route A <-> B: only the relay connects them
  ( cd "$TMP" && nebula-cert ca -name rustun-bench -duration 2h >/dev/null &&
    nebula-cert sign -name relay -ip 10.98.0.254/24 && nebula-cert sign -name a -ip 10.98.0.1/24 &&
    nebula-cert sign -name b -ip 10.98.0.2/24 ) || fail "nebula-cert failed"
  neb_conf() {  # NAME UNDERLAY-OF-RELAY IS-RELAY
    local relay_part tun_part
    if [ "$3" = 1 ]; then
      relay_part="lighthouse: {am_lighthouse: true}
relay: {am_relay: true, use_relays: false}"
      tun_part="tun: {disabled: true}"
    else
      relay_part="lighthouse: {am_lighthouse: false, interval: 60, hosts: [\"10.98.0.254\"]}
relay: {relays: [\"10.98.0.254\"], am_relay: false, use_relays: true}"
      tun_part="tun: {dev: neb$1$ID, mtu: 1500}"
    fi
    cat > "$TMP/$1.yaml" <<YAML
pki: {ca: $TMP/ca.crt, cert: $TMP/$1.crt, key: $TMP/$1.key}
static_host_map: {"10.98.0.254": ["$2:4242"]}
$relay_part
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
$tun_part
logging: {level: warning}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
YAML
  }
  neb_conf relay 10.201.1.1 1; neb_conf a 10.201.1.1 0; neb_conf b 10.201.2.1 0
  ip netns exec "$NR" nebula -config "$TMP/relay.yaml" > "$TMP/nebula-relay.log" 2>&1 &  # $! = nebula's PID
  PIDS+=($!); NEB_RELAY=$!
  sleep 1
  ip netns exec "$NA" nebula -config "$TMP/a.yaml" > "$TMP/nebula-a.log" 2>&1 & PIDS+=($!)
  ip netns exec "$NB" nebula -config "$TMP/b.yaml" > "$TMP/nebula-b.log" 2>&1 & PIDS+=($!)
  wait_ping "$NA" 10.98.0.2 60 || { tail -5 "$TMP"/nebula-*.log >&2; fail "nebula: A cannot reach B through the relay"; }
  measure nebula 10.98.0.2 "$NEB_RELAY"
fi
stop_all

# ---- ours: rustun-dataplane and the control plane's TCP relay (scripts/bench.sh) -----------------
if [[ $SKIP != *" ours "* ]]; then
  log "ours: scripts/bench.sh (sizes 64 1400)"
  # Only the rows compared here (no memif-fwd, latency, 100k or kernel runs). Each run's JSON is
  # appended as it completes: a failed run (DPDK 22.11's memif can crash under load) leaves the others.
  RUSTUN_BENCH_SIZES="64 1400" RUSTUN_BENCH_SKIP="scale kernel pktgen fwd latency" RUSTUN_BENCH_SECONDS=$SECS \
    RUSTUN_BENCH_JSON="$TMP/ours.jsonl" scripts/bench.sh > "$TMP/bench.txt" || log "scripts/bench.sh failed: our rows are partial"
fi

# ---- table --------------------------------------------------------------------------------------
printf '\nrustun relay vs alternatives, %s, commit %s; %s CPUs (%s); load average at end: %s\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$(nproc)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'versions: nebula %s, wireguard-go %s, iperf3 %s; %s s per measurement, iperf3 -u -b %s\n\n' \
  "$(nebula -version 2>&1 | awk '{print $2}')" "$(wireguard-go --version 2>&1 | awk '{print $2}' | head -1)" \
  "$(iperf3 --version | awk 'NR==1 {print $2}')" "$SECS" "$UDP_RATE"
python3 - "$TMP/peers.jsonl" "$TMP/ours.jsonl" <<'PY'
import json, sys
def lines(path):
    try: text = open(path).read()
    except OSError: return []
    dec, i, out = json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i].isspace(): i += 1
        if i >= len(text): return out
        o, i = dec.raw_decode(text, i); out.append(o)
peers, ours = lines(sys.argv[1]), lines(sys.argv[2])
rows = {}  # (system, cipher, size) -> [kpps, util, kpps per core, gbps, tcp util]
for p in peers:
    cipher = {"nebula": "aes256", "wireguard-go": "chacha20", "kernel": "none"}[p["system"]]
    if p["proto"] == "udp":
        rows[(p["system"], cipher, p["size"])] = [p["pps"] / 1e3, p["util"], p["pps"] / 1e3 / max(p["util"], 1e-3), None, None]
    else:
        for k, v in rows.items():
            if k[0] == p["system"]: v[3], v[4] = p["gbps"], p["util"]
for o in ours:
    if str(o.get("bind", "")).startswith("shm:") and not o.get("offered_pps") and o.get("clients") == 100:
        kpps = o["mpps"] * 1e3
        rows[("rustun-dataplane", o["cipher"], o["size"])] = [kpps, 1.0, kpps, None, None]
    elif o.get("mode") == "relay" and "gateway_cpu_s" in o:
        util = o["gateway_cpu_s"] / o["seconds"]
        rows[("rustun-cp-tcp", o["cipher"], o["size"])] = [o["mpps"] * 1e3, util, o["mpps"] * 1e3 / max(util, 1e-3), o["gbps"], util]
W = "| {:<16} | {:<8} | {:>5} | {:>10} | {:>6} | {:>14} | {:>8} | {:>6} | {:>22} |"
print(W.format("relay", "cipher", "bytes", "UDP kpps", "core", "kpps per core", "TCP Gbps", "core", "rustun-dataplane x"))
print("|" + "|".join("-" * (w + 2) for w in (16, 8, 5, 10, 6, 14, 8, 6, 22)) + "|")
def f(x, fmt): return "-" if x is None else fmt % x
for k in sorted(rows, key=lambda k: (k[2], ["rustun-dataplane", "rustun-cp-tcp", "kernel", "nebula", "wireguard-go"].index(k[0]), k[1])):
    v = rows[k]
    vs = []
    for c in ("aes256", "chacha20"):
        d = rows.get(("rustun-dataplane", c, k[2]))
        if d and not k[0].startswith("rustun"): vs.append("%s %.1fx" % (c[:3], d[2] / v[2]))
    print(W.format(k[0], k[1], k[2], "%.1f" % v[0], "%.2f" % v[1], "%.1f" % v[2], f(v[3], "%.2f"), f(v[4], "%.2f"), " ".join(vs) or "-"))
print()
print("UDP kpps: inner IPv4 packets of that size delivered to the receiving peer per second; core: the relay's")
print("CPU utilisation over the run (process utime+stime / wall time; kernel: all CPUs' softirq time;")
print("rustun-dataplane: its one busy-polling worker core); TCP Gbps: one iperf3 stream through the relay")
print("(rustun-cp-tcp: its relay benchmark's frames of that size, 4 pairs). Targets: >= 40x nebula and")
print(">= 100x wireguard-go packets/s per relay core at 64 B.")
PY
