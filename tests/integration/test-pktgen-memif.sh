#!/usr/bin/env bash
# pktgen-dpdk 23.06.1 against rustun-dataplane over net_memif (docs/load-testing.md, "With
# pktgen-dpdk instead"): the dataplane is the memif server, `rustun-pcapgen bind` plays its control plane
# (every simulated client bound and live), pktgen (memif client) replays a Data-only pcap and runs
# scripts/pktgen/rate_sweep.lua, then rfc2544.lua, each reading the gateway's counters through the
# telemetry form of RUSTUN_STATS (scripts/pktgen/dp_stats.py, run by /bin/sh). For every step:
# pktgen's sent count == the gateway's relayed + its counted drops (+ punts, none here), and frames
# are delivered.
#
# pktgen is not packaged in Debian: the test uses RUSTUN_PKTGEN_BIN, or builds pktgen once from
# RUSTUN_PKTGEN_SRC (a folder with build-pktgen.sh and pktgen-23.06.1.tar.gz, from the caller's
# environment) into RUSTUN_PKTGEN_WORK (under the build
# directory, never committed). Without either it exits 77 (skipped), as in a plain clone.
# Needs root, free hugepages, liblua5.3-dev (scripts/setup.sh installs it) for the build.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: not root"; exit 77; }
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
[ "${free:-0}" -ge 800 ] || { echo "SKIP: fewer than 800 free hugepages (pktgen takes about 640)"; exit 77; }
: "${RUSTUN_DP:?}" "${RUSTUN_PCAPGEN:?}" "${RUSTUN_PKTGEN_WORK:?}"

# ---- pktgen: a given binary, or built once into RUSTUN_PKTGEN_WORK (under the build directory) ----
PKTGEN=${RUSTUN_PKTGEN_BIN:-}
if [ -z "$PKTGEN" ]; then
    SRC=${RUSTUN_PKTGEN_SRC:-}
    [ -n "$SRC" ] && [ -f "$SRC/build-pktgen.sh" ] || { echo "SKIP: no pktgen source ($SRC/build-pktgen.sh; set RUSTUN_PKTGEN_SRC or RUSTUN_PKTGEN_BIN)"; exit 77; }
    PKTGEN=$RUSTUN_PKTGEN_WORK/pktgen-23.06.1/build/app/pktgen
    if [ ! -x "$PKTGEN" ]; then
        pkg-config --exists lua5.3 || { echo "SKIP: liblua5.3-dev is not installed (scripts/setup.sh installs it)"; exit 77; }
        echo "building pktgen into $RUSTUN_PKTGEN_WORK (about a minute on 2 idle cores)"
        mkdir -p "$RUSTUN_PKTGEN_WORK"
        PKTGEN_NO_APT=1 PKTGEN_JOBS=2 timeout 900 bash "$SRC/build-pktgen.sh" "$SRC/pktgen-23.06.1.tar.gz" "$RUSTUN_PKTGEN_WORK" \
            > "$RUSTUN_PKTGEN_WORK/build.log" 2>&1 || { tail -20 "$RUSTUN_PKTGEN_WORK/build.log"; echo "FAIL: pktgen build"; exit 1; }
    fi
fi
[ -x "$PKTGEN" ] || { echo "FAIL: no pktgen binary at $PKTGEN"; exit 1; }

ID="rpg$$"
WORK=$(mktemp -d "/tmp/rustun-integ-pktgen-XXXXXX")
SOCK=/run/$ID.sock
pids=()
FAILED=0
finish() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
    done
    rm -rf "/dev/shm/$ID" "/var/run/dpdk/$ID-dp" "/var/run/dpdk/$ID-pg" /dev/hugepages/$ID-*
    if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ]; then
        for f in dp-first.log dp-second.log sweep.out rfc.out; do echo "---- $f"; tail -n 25 "$WORK/$f" 2>/dev/null | tr -d '\r' | cut -c1-300; done
        echo "FAIL (logs kept in $WORK)"
        exit 1
    fi
    rm -rf "$WORK"
    echo "PASS"
}
trap finish EXIT
trap 'exit 130' INT TERM
check() {  # DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; FAILED=1; fi
}

SCEN=(--clients 8 --clusters 2 --cipher aes256)
cat > "$WORK/dp.yaml" <<YAML
listen: {tcp: 127.0.0.1:1, udp: 192.0.2.1:8080}
crypto: chacha20:unused
dataplane:
  channel: /dev/shm/$ID/channel
  eal_args: [--no-pci, --in-memory, --file-prefix=$ID-dp, --lcores, "0@0,1@1", --log-level=error, "--vdev=net_memif0,role=server,socket=$SOCK"]
  port: net_memif0
  workers: 1
  sessions: 1024
  address: 192.0.2.1
  exception: none
YAML
"$RUSTUN_PCAPGEN" gen --out "$WORK/data.pcap" --no-keepalives "${SCEN[@]}" --size 64 --per-flow 16 > /dev/null || exit 1

# A fresh gateway (dataplane = memif server, then its stand-in control plane) per pktgen run: DPDK
# 22.11's memif server is not reliable across client reconnects (docs/load-testing.md).
GW=()
start_gateway() {  # TAG
    timeout 300 "$RUSTUN_DP" --config "$WORK/dp.yaml" > "$WORK/dp-$1.log" 2>&1 &
    GW=($!)
    for _ in $(seq 100); do [ -e "/dev/shm/$ID/channel" ] && break; sleep 0.1; done
    timeout 300 "$RUSTUN_PCAPGEN" bind --channel "/dev/shm/$ID/channel" "${SCEN[@]}" --seconds 290 > "$WORK/bind-$1.log" 2>&1 &
    GW+=($!)
    pids=("${GW[@]}")
    for _ in $(seq 100); do grep -q "bound on" "$WORK/bind-$1.log" && break; sleep 0.1; done
    grep -q "bound on" "$WORK/bind-$1.log" || { echo "rustun-pcapgen bind did not bind the clients"; exit 1; }
}
stop_gateway() {  # TAG: checks that the dataplane survived the run, then stops both
    kill -0 "${GW[0]}" 2>/dev/null
    check "$1: rustun-dataplane still running after pktgen" [ $? = 0 ]
    for p in "${GW[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${GW[@]}"; do wait "$p" 2>/dev/null; done
    pids=()
    rm -rf "/dev/shm/$ID" "/var/run/dpdk/$ID-dp"
}
start_gateway first

# The telemetry form of RUSTUN_STATS, as pktgen's io.popen runs it: through /bin/sh.
export RUSTUN_STATS="python3 $ROOT/scripts/pktgen/dp_stats.py $ID-dp"
check "RUSTUN_STATS works under /bin/sh" sh -c "$RUSTUN_STATS | grep -q '\"relayed\"'"

# pktgen wants a terminal: `script` gives it one. From the repository root (the scripts load
# scripts/pktgen/rustun_common.lua by that path). Memif link: 100 Gb/s, so 0.05 % ~ 37 kpps of
# 106-byte frames; a few seconds per step keep the run short.
run_pktgen() {  # LUA OUT: pktgen runs the script; stopped once it printed rustun-done (quitting
    # pktgen with its memif port connected can take a while), at most 240 s.
    echo "$(date -u +%T) pktgen $1"
    (cd "$ROOT" && RUSTUN_SECONDS=2 RUSTUN_QUIT=1 exec timeout -s INT --kill-after=10 240 script -qfec \
        "$PKTGEN --no-pci --in-memory --file-prefix=$ID-pg --lcores 0@0,1@0 --log-level=error --vdev=net_memif0,role=client,socket=$SOCK -- -P -T -m 1.0 -s 0:$WORK/data.pcap -f $1" \
        /dev/null < /dev/null > "$2" 2>&1) &
    local i pg; pg="$!"
    for i in $(seq 2400); do
        grep -aq 'rustun-done' "$2" 2>/dev/null && break
        kill -0 "$pg" 2>/dev/null || break
        sleep 0.1
    done
    for i in $(seq 50); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
    kill -INT "$pg" 2>/dev/null
    wait "$pg" 2>/dev/null
    rm -rf "/var/run/dpdk/$ID-pg"
}
steps_ok() {  # OUT: every step line: sent > 0, sent == relayed + drops + other, delivered > 0
    python3 - "$1" <<'PY'
import re, sys
steps = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in open(sys.argv[1], errors="replace") if l.startswith("rustun-step")]
bad = [s for s in steps if int(s["sent"]) <= 0 or int(s["unaccounted"]) != 0 or int(s["delivered"]) <= 0]
for s in steps:
    print("   step %s %% (%s s): sent %s, relayed %s, drops %s, other %s, delivered %s, pktgen %.3f Mpps%s" % (
        s["pct"], s["seconds"], s["sent"], s["relayed"], s["drops"], s["other"], s["delivered"], float(s["sent_pps"]) / 1e6,
        " (pktgen-limited)" if s["limited"] == "yes" else ""))
sys.exit(0 if steps and not bad else 1)
PY
}
RUSTUN_RATES="0.05,0.1" run_pktgen scripts/pktgen/rate_sweep.lua "$WORK/sweep.out"
stop_gateway rate_sweep.lua
check "rate_sweep.lua: 2 steps, sent == relayed + counted drops, frames delivered" steps_ok "$WORK/sweep.out"
check "rate_sweep.lua: both steps ran" [ "$(grep -c '^rustun-step' "$WORK/sweep.out")" = 2 ]
start_gateway second
RUSTUN_LOSS=0.05 RUSTUN_MAX_RATE=0.2 RUSTUN_RESOLUTION=0.1 run_pktgen scripts/pktgen/rfc2544.lua "$WORK/rfc.out"
stop_gateway rfc2544.lua
check "rfc2544.lua: every trial accounted, frames delivered" steps_ok "$WORK/rfc.out"
check "rfc2544.lua: printed its result" grep -q "^RFC2544" "$WORK/rfc.out"
check "the scripts computed pktgen's target rate (link speed read)" grep -q "^rustun-step .* asked_pps=[1-9]" "$WORK/sweep.out"
grep -a "^RFC2544\|^trial" "$WORK/rfc.out" | tr -d '\r' | cut -c1-250
