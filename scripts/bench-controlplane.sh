#!/usr/bin/env bash
# Control-plane benchmark (issue 3): one run, one table (docs/performance.md, "Control plane").
#
#   scripts/bench-controlplane.sh
#
# Builds what it needs in build/ (scripts/setup.sh if build/ is not configured yet), measures the
# crypto-only ceiling with rustun-crypto-bench, then for each measurement generates a
# configuration (rustun-cp-bench genconfig), starts a fresh rustun-controlplane (workers: 1, log
# level warn, temp dir, free loopback port, control socket in the temp dir), runs rustun-cp-bench
# against it and stops it. Everything runs on 127.0.0.1; the gateway and the load generator
# share the machine's cores. Takes about 3 minutes; every step is bounded by `timeout`.
#
# Environment: RUSTUN_BENCH_BIND_CLIENTS (default 100000; 0 = skip) clients bound over UDP
# through the dataplane (needs root and 1 GiB of free hugepages, else skipped), in
# RUSTUN_BENCH_BIND_CLIENTS / 10 clusters; RUSTUN_BENCH_HS_FIRST (default 2000) first-contact
# handshakes with distinct keys; RUSTUN_BUILD (default build) build directory; RUSTUN_BENCH_SECONDS (default 5)
# seconds per relay run; RUSTUN_BENCH_HOLD (default 15) seconds idle clients are held;
# RUSTUN_BENCH_JSON=FILE also writes every raw JSON result line to FILE; RUSTUN_BENCH_SYNC_BIG
# (default 1000000) clients of the big state-sync run (rustun-sync-bench; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${RUSTUN_BUILD:-build}
RELAY_S=${RUSTUN_BENCH_SECONDS:-5}
HOLD_S=${RUSTUN_BENCH_HOLD:-15}
SYNC_BIG=${RUSTUN_BENCH_SYNC_BIG:-1000000}
TARGETS=(controlplane/rustun-controlplane controlplane/rustunctl tools/rustun-crypto-bench tools/rustun-cp-bench
         tests/controlplane/rustun-sync-bench dataplane/rustun-dataplane tools/loadgen/rustun-loadgen)

log() { printf '[bench] %s\n' "$*" >&2; }
fail() { printf 'bench-controlplane: %s\n' "$*" >&2; exit 1; }

# ---- build -------------------------------------------------------------------------------------
if [ "$BUILD" = build ] && [ ! -f build/build.ninja ]; then
  log "build/ not configured: running scripts/setup.sh"
  scripts/setup.sh >&2 || fail "scripts/setup.sh failed"
fi
[ -f "$BUILD/build.ninja" ] || fail "$BUILD is not a configured build directory (meson setup $BUILD)"
log "building ${TARGETS[*]} in $BUILD"
if ! ninja -C "$BUILD" -j2 "${TARGETS[@]}" > "/tmp/rustun-bench-build.$$.log" 2>&1; then
  tail -n 30 "/tmp/rustun-bench-build.$$.log" >&2
  rm -f "/tmp/rustun-bench-build.$$.log"
  fail "build failed"
fi
rm -f "/tmp/rustun-bench-build.$$.log"
GW_BIN=$BUILD/controlplane/rustun-controlplane
CTL=$BUILD/controlplane/rustunctl
CB=$BUILD/tools/rustun-crypto-bench
CPB=$BUILD/tools/rustun-cp-bench
SB=$BUILD/tests/controlplane/rustun-sync-bench
command -v python3 >/dev/null || fail "python3 is needed (scripts/setup.sh installs it)"

# ---- temp dir, gateway lifecycle, cleanup ---------------------------------------------------------
TMP=$(mktemp -d /tmp/rustun-cp-bench.XXXXXX)
GW_PID=""
stop_gw() {
  if [ -n "$GW_PID" ]; then
    kill -TERM "$GW_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$GW_PID" 2>/dev/null || true
    wait "$GW_PID" 2>/dev/null || true
    GW_PID=""
  fi
}
cleanup() { stop_gw; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_gw NAME CLIENTS CLUSTERS CIPHER [GENCONFIG ARGS...]: writes $TMP/NAME.yaml, starts the
# gateway, waits until its control socket answers. Sets CONF.
start_gw() {
  local name=$1 n=$2 k=$3 cipher=$4 port
  shift 4
  port=$(free_port)
  CONF=$TMP/$name.yaml
  "$CPB" genconfig --clients "$n" --clusters "$k" --cipher "$cipher" --port "$port" \
    --socket "$TMP/$name.sock" "$@" > "$CONF"
  "$GW_BIN" --config "$CONF" --log-level warn 2> "$TMP/$name.log" &
  GW_PID=$!
  for _ in $(seq 300); do
    if ! kill -0 "$GW_PID" 2>/dev/null; then
      tail -n 20 "$TMP/$name.log" >&2
      GW_PID=""
      fail "$name: rustun-controlplane exited at start-up"
    fi
    "$CTL" --socket "$TMP/$name.sock" status > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "$name: the gateway's control socket did not answer within 30 s"
}

# bench NAME TIMEOUT ARGS...: runs rustun-cp-bench --json against $CONF; the JSON line lands in
# $TMP/NAME.json. Fails (with the tool's error) if it fails.
bench() {
  local name=$1 to=$2
  shift 2
  if ! timeout --kill-after=5 "$to" "$CPB" "$@" --config "$CONF" --json > "$TMP/$name.json" 2> "$TMP/$name.err"; then
    cat "$TMP/$name.err" >&2
    fail "$name: rustun-cp-bench $1 failed or timed out (${to} s)"
  fi
  [ -z "${RUSTUN_BENCH_JSON:-}" ] || cat "$TMP/$name.json" >> "$RUSTUN_BENCH_JSON"
}

# j FILE EXPR: a value from a JSON file (EXPR is Python over `d`).
j() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# calc EXPR: floating-point arithmetic.
calc() { python3 -c "print($1)"; }

# ---- open-file limit -------------------------------------------------------------------------------
NOFILE_WANT=250000
NOFILE_NOTE=""
if ! ulimit -Hn "$NOFILE_WANT" 2>/dev/null && [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$NOFILE_WANT" ]; then
  NOFILE_NOTE="the kernel refused ulimit -n $NOFILE_WANT (hard limit $(ulimit -Hn), raising it needs CAP_SYS_RESOURCE)"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
log "open-file limit: $NOFILE${NOFILE_NOTE:+ ($NOFILE_NOTE)}"

# ---- 1. crypto-only ceiling ------------------------------------------------------------------------
log "crypto-only ceiling (rustun-crypto-bench --json)"
timeout 120 "$CB" --json --sizes 64,512,1400 --ciphers chacha20,aes256 > "$TMP/crypto.json" \
  || fail "rustun-crypto-bench failed"
[ -z "${RUSTUN_BENCH_JSON:-}" ] || cat "$TMP/crypto.json" >> "$RUSTUN_BENCH_JSON"
crypto_mpps() {  # CIPHER SIZE -> burst open Mpps
  j "$TMP/crypto.json" "[r['mpps'] for r in d['results'] if r['cipher']=='$1' and r['size']==$2 and r['op']=='open' and r['mode']=='burst'][0]"
}

# ---- 2. idle clients ---------------------------------------------------------------------------------
log "idle: 10000 clients (clusters of 10), hold ${HOLD_S} s"
start_gw idle10k 10000 1000 chacha20:rustun
bench idle10k 180 idle --clients 10000 --hold "$HOLD_S" --gateway-pid "$GW_PID"
stop_gw

IDLE_BIG=100000
IDLE_BIG_NOTE=""
if [ "$NOFILE" -lt $((IDLE_BIG + 1500)) ]; then
  IDLE_BIG=$(( (NOFILE - 1500) / 1000 * 1000 ))
  IDLE_BIG_NOTE="nofile limit $NOFILE: measured $IDLE_BIG"
fi
log "idle: $IDLE_BIG clients of a 100000-client configuration (clusters of 10), hold ${HOLD_S} s"
start_gw idle100k 100000 10000 chacha20:rustun
bench idle100k 300 idle --clients "$IDLE_BIG" --hold "$HOLD_S" --gateway-pid "$GW_PID"
stop_gw

# ---- 3. handshakes/s ---------------------------------------------------------------------------------
log "handshakes: 50000, concurrency 128 (10000 identities, clusters of 10)"
start_gw hs 10000 1000 chacha20:rustun
bench hs 120 handshakes --clients 50000 --concurrency 128
stop_gw

# Authentication cost (docs/controlplane.md, "Authentication cost"): 20000 identities in 10000
# clusters, one key for all vs a distinct key per cluster. Distinct keys: our clients (key-hint
# tag in the nonce); reference-shaped clients connecting for the first time from their own address
# (full trial: HS_FIRST of them), then again from there (reconnects: source-address hint).
HS_FIRST=${RUSTUN_BENCH_HS_FIRST:-2000}
log "handshakes: 1 key vs 10000 distinct keys (20000 identities in 10000 clusters)"
start_gw hs1key 20000 10000 chacha20:rustun --keys one
bench hs1key 120 handshakes --clients 40000 --concurrency 128 --key-hint yes
stop_gw
start_gw hsdist 20000 10000 chacha20:rustun --keys distinct
bench hsdist-hint 120 handshakes --clients 40000 --concurrency 128 --key-hint yes
bench hsdist-first 300 handshakes --clients "$HS_FIRST" --concurrency 128 --sources identity
bench hsdist-again 120 handshakes --clients "$HS_FIRST" --concurrency 128 --sources identity
stop_gw

# ---- 4. relay ---------------------------------------------------------------------------------------
for cipher in chacha20 aes256; do
  for size in 64 512 1400; do
    log "relay: $cipher $size B, 4 pairs, ${RELAY_S} s"
    start_gw "relay-$cipher-$size" 8 1 "$cipher:bench-key"
    bench "relay-$cipher-$size" 60 relay --size "$size" --cipher "$cipher:bench-key" --seconds "$RELAY_S" --pairs 4
    stop_gw
  done
done

# ---- 4b. the relay and handshakes with 1 and 2 workers (per-batch snapshot, a TX ring each) ------
for w in 1 2; do
  log "relay: chacha20 512 B, 4 pairs, $w worker(s), ${RELAY_S} s"
  start_gw "relay-w$w" 8 1 chacha20:bench-key --workers "$w"
  bench "relay-w$w" 60 relay --size 512 --cipher chacha20:bench-key --seconds "$RELAY_S" --pairs 4
  stop_gw
  log "handshakes: 50000, concurrency 128, $w worker(s)"
  start_gw "hs-w$w" 10000 1000 chacha20:rustun --workers "$w"
  bench "hs-w$w" 120 handshakes --clients 50000 --concurrency 128
  stop_gw
done

# ---- 4c. state sync to the dataplane and a one-client reload (rustun-sync-bench) --------------------
SYNC_SIZES=(100000)
[ "$SYNC_BIG" -gt 0 ] && SYNC_SIZES+=("$SYNC_BIG")
for n in "${SYNC_SIZES[@]}"; do
  # The reload of the big run is skipped (its second parse of the file would set the peak RSS),
  # and its clients come from a routes.json (docs/configuration.md, "Large configurations").
  reload_arg=""
  [ "$n" = 100000 ] || reload_arg="--no-reload --routes-json"
  log "state sync: $n clients in $((n / 10)) clusters${reload_arg:-, then a reload changing one client}"
  timeout --kill-after=5 1800 "$SB" --clients "$n" --clusters $((n / 10)) $reload_arg --json > "$TMP/sync-$n.json" \
    2> "$TMP/sync-$n.err" || { cat "$TMP/sync-$n.err" >&2; fail "rustun-sync-bench --clients $n failed"; }
  [ -z "${RUSTUN_BENCH_JSON:-}" ] || cat "$TMP/sync-$n.json" >> "$RUSTUN_BENCH_JSON"
done

# ---- 5. PeerUpdate fan-out -----------------------------------------------------------------------------
log "fanout: 1000 old-dialect clients in one cluster, 5 rounds"
start_gw fanout 1000 1 chacha20:rustun
bench fanout 120 fanout --clients 1000 --rounds 5
stop_gw

# ---- 6. UDP binding through the dataplane --------------------------------------------------------------
# N clients in N/10 clusters (distinct aes256 keys) bound with UDP KeepAlives (return-routability
# challenge, cookie echo) by rustun-loadgen --bind keepalive over memif, through the real
# dataplane and control plane (as tests/integration/test-loadgen-keepalive.sh). Time from the
# generator's start; our clients' key hints, then reference-shaped KeepAlives (--no-key-hint).
BIND_N=${RUSTUN_BENCH_BIND_CLIENTS:-100000}
BIND_NOTE=""
free_huge=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "$BIND_N" = 0 ]; then BIND_NOTE="skipped (RUSTUN_BENCH_BIND_CLIENTS=0)"
elif [ "$(id -u)" != 0 ]; then BIND_NOTE="skipped: needs root (memif, hugepages)"
elif [ "${free_huge:-0}" -lt 512 ]; then BIND_NOTE="skipped: fewer than 512 free hugepages"
fi
bind_run() {  # NAME LOADGEN-EXTRA-ARGS...: one dataplane + control plane + loadgen run
  local name=$1 id="rbb$$$1" w=$TMP/$1 dp_pid cp_pid rc=0
  shift
  mkdir -p "$w"
  "$BUILD/tools/loadgen/rustun-loadgen" genconfig --clients "$BIND_N" --clusters $((BIND_N / 10)) --cipher aes256 \
    --tcp 127.0.0.1:0 > "$w/gw.yaml"
  cat >> "$w/gw.yaml" <<YAML
control_socket: $w/control.sock
controlplane:
  handshake_rate_per_source: 0
  log_level: warn
dataplane:
  channel: /dev/shm/$id/channel
  eal_args: [--no-pci, --in-memory, --file-prefix=$id-dp, -l, "0-1", --log-level=error, "--vdev=net_memif0,role=server,socket=/run/$id.sock"]
  port: net_memif0
  workers: 1
  address: 192.0.2.1
  exception: none
YAML
  timeout 600 "$BUILD/dataplane/rustun-dataplane" --config "$w/gw.yaml" > "$w/dp.log" 2>&1 &
  dp_pid=$!
  for _ in $(seq 300); do [ -e "/dev/shm/$id/channel" ] && break; sleep 0.1; done
  timeout 600 "$GW_BIN" --config "$w/gw.yaml" > "$w/cp.log" 2>&1 &
  cp_pid=$!
  for _ in $(seq 1800); do
    "$CTL" --socket "$w/control.sock" --json stats 2>/dev/null | grep -Eq '"dataplane_syncs": *[1-9]' && break
    sleep 0.1
  done
  timeout 300 "$BUILD/tools/loadgen/rustun-loadgen" --clients "$BIND_N" --clusters $((BIND_N / 10)) --cipher aes256 \
    --bind keepalive --seconds 0.2 --warmup 0 --rate 1000 --quiet --json "$@" -- --no-pci --in-memory \
    --file-prefix="$id-lg" -l 0 --log-level=error "--vdev=net_memif0,role=client,socket=/run/$id.sock" \
    > "$TMP/$name.json" 2> "$w/lg.err" || rc=1
  "$CTL" --socket "$w/control.sock" --json stats > "$TMP/$name.stats.json" 2>/dev/null || true
  kill -TERM "$cp_pid" "$dp_pid" 2>/dev/null || true
  wait "$cp_pid" "$dp_pid" 2>/dev/null || true
  rm -rf "/dev/shm/$id" "/var/run/dpdk/$id-dp" "/var/run/dpdk/$id-lg"
  [ "$rc" = 0 ] || { tail -n 5 "$w/lg.err" "$w/dp.log" "$w/cp.log" >&2; fail "$name: rustun-loadgen failed"; }
  [ -z "${RUSTUN_BENCH_JSON:-}" ] || cat "$TMP/$name.json" >> "$RUSTUN_BENCH_JSON"
}
if [ -z "$BIND_NOTE" ]; then
  log "UDP binding: $BIND_N clients in $((BIND_N / 10)) clusters through dataplane + control plane (key hints)"
  bind_run bind-hint
  log "UDP binding: the same, reference-shaped KeepAlives (--no-key-hint)"
  bind_run bind-ref --no-key-hint
fi

# ---- table ------------------------------------------------------------------------------------------
verdict() {  # MEASURED TARGET higher|lower -> "PASS (x.xx x target)" / "MISS (...)"
  python3 -c '
import sys
m, t, d = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ok = m >= t if d == "higher" else m <= t
print(("PASS" if ok else "MISS") + " (%.2fx target)" % (m / t))' "$1" "$2" "$3"
}

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
printf '\nrustun control-plane benchmark, %s, commit %s%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$COMMIT" \
  "$(git diff --quiet HEAD -- controlplane lib 2>/dev/null || echo ' (+ uncommitted changes)')"
printf 'machine: %s cores (nproc), %s; gateway: 1 worker, log level warn, loopback TCP\n' "$(nproc)" "$CPU"
printf 'NOTE: the gateway and the load generator (rustun-cp-bench, one thread) share these %s cores.\n\n' "$(nproc)"

ROW='| %-44s | %-66s | %-38s |\n'
printf "$ROW" "measurement" "result" "target"
printf "$ROW" "$(printf -- '-%.0s' $(seq 44))" "$(printf -- '-%.0s' $(seq 66))" "$(printf -- '-%.0s' $(seq 38))"

f=$TMP/idle10k.json
printf "$ROW" "idle clients held: 10000 (10k config)" \
  "$(j "$f" 'd["alive_after_hold"]') alive; RSS $(j "$f" '"%.1f MiB (%.1f before connecting), +%.0f B/conn" % (d["rss_kib"]/1024, d["rss_before_kib"]/1024, d["rss_delta_per_conn_bytes"])')" \
  "-"
f=$TMP/idle100k.json
if [ -z "$IDLE_BIG_NOTE" ]; then
  rss_mib=$(j "$f" 'd["rss_kib"]/1024')
  printf "$ROW" "idle clients held: 100000" \
    "$(j "$f" 'd["alive_after_hold"]') alive; RSS $(j "$f" '"%.1f MiB (%.1f before connecting), +%.0f B/conn" % (d["rss_kib"]/1024, d["rss_before_kib"]/1024, d["rss_delta_per_conn_bytes"])')" \
    "<= 2048 MiB: $(verdict "$rss_mib" 2048 lower)"
else
  # Extrapolation: the gateway's RSS with the 100k configuration loaded (before connections)
  # plus 100000 x the measured increase per connection.
  rss_mib=$(j "$f" '(d["rss_before_kib"]*1024 + 100000*d["rss_delta_per_conn_bytes"])/1048576')
  printf "$ROW" "idle clients held: 100000: NOFILE LIMIT" \
    "$(j "$f" '"%d alive; RSS %.1f MiB (%.1f before connecting), +%.0f B/conn" % (d["alive_after_hold"], d["rss_kib"]/1024, d["rss_before_kib"]/1024, d["rss_delta_per_conn_bytes"])')" \
    "<= 2048 MiB: $(verdict "$rss_mib" 2048 lower)*"
  printf "$ROW" "  ${IDLE_BIG_NOTE}" "$(printf '* extrapolated to 100k: %.1f MiB (RSS before + 100k x B/conn)' "$rss_mib")" ""
fi
f=$TMP/hs.json
hs=$(j "$f" 'd["per_s"]')
printf "$ROW" "handshakes/s (connect, Handshake, reply, close)" \
  "$(j "$f" '"%.0f/s; p50 %.2f ms, p99 %.2f ms, %d failed" % (d["per_s"], d["latency_ms_p50"], d["latency_ms_p99"], d["failures"])')" \
  ">= 20000/s: $(verdict "$hs" 20000 higher)"
hs1=$(j "$TMP/hs1key.json" 'd["per_s"]')
printf "$ROW" "handshakes/s, 1 key (20000 ids, 10000 clusters)" \
  "$(j "$TMP/hs1key.json" '"%.0f/s; %.2f decryptions per handshake" % (d["per_s"], d["gateway_auth_trial_opens"]/d["total"])')" "-"
hsd=$(j "$TMP/hsdist-hint.json" 'd["per_s"]')
printf "$ROW" "handshakes/s, 10000 distinct keys: our clients" \
  "$(j "$TMP/hsdist-hint.json" '"%.0f/s; %.2f decryptions per handshake" % (d["per_s"], d["gateway_auth_trial_opens"]/d["total"])') = $(printf '%.2f' "$(calc "$hsd / $hs1")") x 1 key" \
  ">= 0.50 x 1 key: $(verdict "$(calc "$hsd / $hs1")" 0.5 higher)"
hsa=$(j "$TMP/hsdist-again.json" 'd["per_s"]')
printf "$ROW" "  reference clients, reconnects (same addr)" \
  "$(j "$TMP/hsdist-again.json" '"%.0f/s; %.2f decryptions per handshake" % (d["per_s"], d["gateway_auth_trial_opens"]/d["total"])') = $(printf '%.2f' "$(calc "$hsa / $hs1")") x 1 key" "-"
printf "$ROW" "  reference clients, first contact (no hint)" \
  "$(j "$TMP/hsdist-first.json" '"%.0f/s; %.0f decryptions per handshake (full trial)" % (d["per_s"], d["gateway_auth_trial_opens"]/d["total"])')" "-"
for cipher in chacha20 aes256; do
  for size in 64 512 1400; do
    f=$TMP/relay-$cipher-$size.json
    cm=$(crypto_mpps "$cipher" "$size")
    ratio=$(calc "$(j "$f" 'd["mpps"]') / $cm")
    tgt="-"
    [ "$cipher" = chacha20 ] && [ "$size" = 1400 ] && tgt=">= 0.50 x crypto: $(verdict "$ratio" 0.5 higher)"
    printf "$ROW" "relay $cipher $size B (4 pairs)" \
      "$(j "$f" '"%.3f Mpps %6.2f Gbps, drops %d" % (d["mpps"], d["gbps"], d["data_outq_full"] + d["sent_minus_received"])') = $(printf '%.2f' "$ratio") of crypto $(printf '%.2f' "$cm") Mpps" \
      "$tgt"
  done
done
for w in 1 2; do
  f=$TMP/relay-w$w.json
  printf "$ROW" "relay chacha20 512 B (4 pairs), $w worker(s)" \
    "$(j "$f" '"%.3f Mpps %6.2f Gbps, drops %d" % (d["mpps"], d["gbps"], d["data_outq_full"] + d["sent_minus_received"])')" "-"
  f=$TMP/hs-w$w.json
  printf "$ROW" "handshakes/s, $w worker(s)" \
    "$(j "$f" '"%.0f/s; p50 %.2f ms, p99 %.2f ms, %d failed" % (d["per_s"], d["latency_ms_p50"], d["latency_ms_p99"], d["failures"])')" "-"
done
for n in "${SYNC_SIZES[@]}"; do
  f=$TMP/sync-$n.json
  printf "$ROW" "full sync to the dataplane: $n clients" \
    "$(j "$f" '"%.0f ms, %d msgs; peak RSS %.0f MiB; cp %.0f B/client, dp %.0f B/client" % (d["full_sync_ms"], d["full_sync_messages"], d["peak_rss_mb"], d["cp_bytes_per_client"], d["dp_bytes_per_client"])')" \
    "completes: PASS"
  [ "$n" = 100000 ] || continue
  msgs=$(j "$f" 'd["reload_messages"]')
  mutex_ms=$(j "$f" 'd["reload_state_mutex_us"]/1000')
  tgt="-"
  [ "$n" = 100000 ] && tgt="< 10 msgs, < 10 ms: $(verdict "$msgs" 9 lower), $(verdict "$mutex_ms" 10 lower)"
  printf "$ROW" "reload changing 1 of $n clients" \
    "$(j "$f" '"%d msgs to the dataplane, state mutex %.2f ms, reload %.0f ms" % (d["reload_messages"], d["reload_state_mutex_us"]/1000, d["reload_ms"])')" \
    "$tgt"
done
f=$TMP/fanout.json
printf "$ROW" "PeerUpdate fan-out, 1000-client cluster" \
  "$(j "$f" '"%.2f ms median to all 999 peers (min %.2f, max %.2f)" % (d["ms_median"], d["ms_min"], d["ms_max"])')" "-"
if [ -z "$BIND_NOTE" ]; then
  bt=$(j "$TMP/bind-hint.json" 'd["bind_seconds_since_start"]')
  printf "$ROW" "UDP binding: $BIND_N clients, $((BIND_N / 10)) clusters" \
    "$(j "$TMP/bind-hint.json" '"%d bound in %.2f s from the generator start (%.0f/s)" % (d["bound"], d["bind_seconds_since_start"], d["bound"]/max(d["bind_seconds"],1e-9))')" \
    "<= 15 s for 100000: $(verdict "$(calc "$bt * 100000 / $BIND_N")" 15 lower)"
  printf "$ROW" "  reference-shaped KeepAlives (no key hint)" \
    "$(j "$TMP/bind-ref.json" '"%d bound in %.2f s from the generator start (%.0f/s)" % (d["bound"], d["bind_seconds_since_start"], d["bound"]/max(d["bind_seconds"],1e-9))')" "-"
else
  printf "$ROW" "UDP binding" "$BIND_NOTE" "-"
fi
printf '\nrelay: Mpps/Gbps count frames received by the receivers (inner bytes); crypto = rustun-crypto-bench\n'
printf 'open, burst column, same run. drops = gateway data_outq_full + frames sent but never received.\n'
printf 'handshakes: RST close, identities cycled; idle: new-dialect clients, KeepAlive every 10 s.\n'
printf 'auth rows: decryptions per handshake = gateway auth_trial_opens / handshakes (1.00 = every hint hit);\n'
printf 'UDP binding: KeepAlive, challenge, cookie echo per client, at most 512 unanswered (rustun-loadgen).\n'
