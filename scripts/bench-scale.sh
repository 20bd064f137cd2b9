#!/usr/bin/env bash
# One gateway, N clients (issue 11, items 2 and 7; docs/performance.md, "One gateway, a million
# clients"): one run, one table.
#
#   scripts/bench-scale.sh                            # N = 1,000,000 in 100,000 clusters
#   RUSTUN_SCALE_CLIENTS=20000 scripts/bench-scale.sh # CI-sized
#
# 1. rustun-sync-bench --routes-json: the configuration load, the full sync to the real
#    dataplane StateManager (in one process) and the memory each side adds per client.
# 2. The real processes: rustun-dataplane (memif server, hugepages) and rustun-controlplane on a
#    `rustun-loadgen genconfig --clients-file` configuration (clients in a routes.json, a key per
#    cluster in the YAML): the time from the control plane's start to the dataplane's log line
#    "sync ... applied", then every client bound by `rustun-loadgen --bind keepalive` (UDP
#    KeepAlive, challenge, cookie echo, through the real control plane); the peak RSS (VmHWM)
#    and the hugepages (HugetlbPages) of each process.
#
# Environment: RUSTUN_SCALE_CLIENTS (default 1000000; even, a multiple of 10) and
# RUSTUN_SCALE_CLUSTERS (default clients / 10); RUSTUN_BUILD (default build);
# RUSTUN_SCALE_RUN=0 skips step 2 (it needs root and 512 free 2 MiB hugepages, else it is skipped);
# RUSTUN_SCALE_BIND_TIMEOUT (default 900) seconds the binding may take; RUSTUN_SCALE_JSON=FILE
# also writes the raw JSON results there. Every step is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${RUSTUN_BUILD:-build}
N=${RUSTUN_SCALE_CLIENTS:-1000000}
K=${RUSTUN_SCALE_CLUSTERS:-$((N / 10))}
RUN=${RUSTUN_SCALE_RUN:-1}
BIND_TIMEOUT=${RUSTUN_SCALE_BIND_TIMEOUT:-900}
TARGETS=(controlplane/rustun-controlplane controlplane/rustunctl dataplane/rustun-dataplane
         tools/loadgen/rustun-loadgen tests/controlplane/rustun-sync-bench)

log() { printf '[bench-scale] %s\n' "$*" >&2; }
fail() { printf 'bench-scale: %s\n' "$*" >&2; exit 1; }

[ -f "$BUILD/build.ninja" ] || fail "$BUILD is not a configured build directory (meson setup $BUILD)"
log "building ${TARGETS[*]} in $BUILD"
ninja -C "$BUILD" -j2 "${TARGETS[@]}" > /dev/null || fail "build failed"
command -v python3 > /dev/null || fail "python3 is needed (scripts/setup.sh installs it)"

TMP=$(mktemp -d /tmp/rustun-bench-scale.XXXXXX)
ID="rbs$$"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2> /dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
  rm -rf "$TMP" "/dev/shm/$ID" "/var/run/dpdk/$ID-dp" "/var/run/dpdk/$ID-lg"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

j() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }
kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2> /dev/null || echo 0; }  # PID FIELD
# The process `timeout` runs (PID of the timeout wrapper -> its child).
child() { for _ in $(seq 50); do pgrep -P "$1" && return 0; sleep 0.1; done; echo "$1"; }

# ---- 1. load + full sync in one process ----------------------------------------------------------
log "rustun-sync-bench: $N clients in $K clusters (routes.json), full sync to the StateManager"
timeout --kill-after=5 1800 "$BUILD/tests/controlplane/rustun-sync-bench" --clients "$N" --clusters "$K" \
  --routes-json --no-reload --json > "$TMP/sync.json" 2> "$TMP/sync.err" \
  || { cat "$TMP/sync.err" >&2; fail "rustun-sync-bench failed"; }
[ -z "${RUSTUN_SCALE_JSON:-}" ] || cat "$TMP/sync.json" >> "$RUSTUN_SCALE_JSON"

# ---- 2. the real processes --------------------------------------------------------------------------
NOTE=""
free_huge=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "$RUN" = 0 ]; then NOTE="skipped (RUSTUN_SCALE_RUN=0)"
elif [ "$(id -u)" != 0 ]; then NOTE="skipped: needs root (memif, hugepages)"
elif [ "${free_huge:-0}" -lt 512 ]; then NOTE="skipped: fewer than 512 free hugepages"
fi
if [ -z "$NOTE" ]; then
  W=$TMP/run
  mkdir -p "$W"
  # Session table: a power of two >= 2 N (load factor <= 0.5), at most the key's maximum.
  sessions=65536
  while [ "$sessions" -lt $((2 * N)) ] && [ "$sessions" -lt 16777216 ]; do sessions=$((sessions * 2)); done
  LG=$BUILD/tools/loadgen/rustun-loadgen
  t=$(now)
  "$LG" genconfig --clients "$N" --clusters "$K" --cipher aes256 --tcp 127.0.0.1:0 --clients-file "$W/clients.json" \
    > "$W/gw.yaml"
  gen_s=$(calc "$(now) - $t")
  cat >> "$W/gw.yaml" << YAML
control_socket: $W/control.sock
controlplane:
  handshake_rate_per_source: 0
  log_level: info
dataplane:
  channel: /dev/shm/$ID/channel
  eal_args: [--no-pci, --in-memory, --file-prefix=$ID-dp, -l, "0-1", --log-level=error, "--vdev=net_memif0,role=server,socket=/run/$ID.sock"]
  port: net_memif0
  workers: 1
  sessions: $sessions
  address: 192.0.2.1
  exception: none
YAML
  log "real run: $N clients ($(du -m "$W/clients.json" | cut -f1) MB routes.json, written in ${gen_s} s), sessions $sessions"
  huge0=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  t_dp=$(now)
  timeout 3600 "$BUILD/dataplane/rustun-dataplane" --config "$W/gw.yaml" > "$W/dp.log" 2>&1 &
  PIDS+=("$!")
  DP=$(child "$!")
  for _ in $(seq 600); do [ -e "/dev/shm/$ID/channel" ] && break; kill -0 "$DP" 2> /dev/null || break; sleep 0.1; done
  [ -e "/dev/shm/$ID/channel" ] || { tail -n 20 "$W/dp.log" >&2; fail "the dataplane did not create its channel"; }
  dp_ready_s=$(calc "$(now) - $t_dp")
  dp_rss_idle=$(kb "$DP" VmRSS)
  t_cp=$(now)
  timeout 3600 "$BUILD/controlplane/rustun-controlplane" --config "$W/gw.yaml" > "$W/cp.log" 2>&1 &
  PIDS+=("$!")
  CP=$(child "$!")
  # Wait for the dataplane's "sync ... applied" (the RSS and VmHWM of both are read then, and
  # again after the binding).
  applied_s=""
  for _ in $(seq 36000); do
    kill -0 "$CP" 2> /dev/null || { tail -n 20 "$W/cp.log" >&2; fail "the control plane exited"; }
    if grep -q "sync cp_epoch .* applied" "$W/dp.log"; then applied_s=$(calc "$(now) - $t_cp"); break; fi
    sleep 0.1
  done
  [ -n "$applied_s" ] || fail "the dataplane never applied a full sync"
  pushed_line=$(grep -m1 "full state pushed" "$W/cp.log" || true)
  cp_rss_sync=$(kb "$CP" VmRSS); dp_rss_sync=$(kb "$DP" VmRSS)
  cp_hwm_sync=$(kb "$CP" VmHWM); dp_hwm_sync=$(kb "$DP" VmHWM)
  log "synced in ${applied_s} s from the control plane's start; binding $N clients (--bind keepalive)"
  timeout $((BIND_TIMEOUT + 600)) "$LG" --clients "$N" --clusters "$K" --cipher aes256 --bind keepalive \
    --bind-timeout "$BIND_TIMEOUT" --seconds 0.2 --warmup 0 --rate 1000 --quiet --json -- --no-pci --in-memory \
    --file-prefix="$ID-lg" -l 0 --log-level=error "--vdev=net_memif0,role=client,socket=/run/$ID.sock" \
    > "$TMP/bind.json" 2> "$W/lg.err" &
  LGT=$!
  PIDS+=("$LGT")
  LGP=$(child "$LGT")
  lg_hwm=0; huge_min=$huge0
  while kill -0 "$LGP" 2> /dev/null; do
    v=$(kb "$LGP" VmHWM); [ "${v:-0}" -gt "$lg_hwm" ] && lg_hwm=$v
    h=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo); [ "$h" -lt "$huge_min" ] && huge_min=$h
    lg_huge=$(kb "$LGP" HugetlbPages)
    sleep 0.5
  done
  wait "$LGT" || { tail -n 5 "$W/lg.err" >&2; fail "rustun-loadgen failed"; }
  [ -z "${RUSTUN_SCALE_JSON:-}" ] || cat "$TMP/bind.json" >> "$RUSTUN_SCALE_JSON"
  "$BUILD/controlplane/rustunctl" --socket "$W/control.sock" --json stats > "$TMP/stats.json" 2> /dev/null || true
  cp_hwm=$(kb "$CP" VmHWM); dp_hwm=$(kb "$DP" VmHWM); cp_rss=$(kb "$CP" VmRSS); dp_rss=$(kb "$DP" VmRSS)
  dp_huge=$(kb "$DP" HugetlbPages)
  kill -TERM "$CP" "$DP" 2> /dev/null || true
  for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
  PIDS=()
fi

# ---- table --------------------------------------------------------------------------------------------
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
printf '\nrustun at scale: %s clients in %s clusters, %s, commit %s\n' "$N" "$K" "$(date -u +%Y-%m-%dT%H:%MZ)" \
  "$(git rev-parse --short HEAD 2> /dev/null || echo '?')"
printf 'machine: %s cores, %s, %s GiB RAM; load average at the end: %s\n\n' "$(nproc)" "$CPU" \
  "$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)" "$(cut -d' ' -f1-3 /proc/loadavg)"
ROW='| %-52s | %-72s |\n'
printf "$ROW" "measurement" "result"
printf "$ROW" "$(printf -- '-%.0s' $(seq 52))" "$(printf -- '-%.0s' $(seq 72))"
f=$TMP/sync.json
printf "$ROW" "config load (YAML keys + routes.json clients)" \
  "$(j "$f" '"%.2f s (CPU %.2f s), +%.0f MiB (%.0f B per client)" % (d["config_load_ms"]/1e3, d["config_load_cpu_s"], d["config_rss_mb"], d["config_rss_mb"]*1048576/d["clients"])')"
printf "$ROW" "control plane start (membership, route tables)" "$(j "$f" '"%.2f s (CPU %.2f s)" % (d["cp_start_ms"]/1e3, d["cp_start_cpu_s"])')"
printf "$ROW" "full sync, one process: attach to SyncEnd applied" \
  "$(j "$f" '"%.1f s (CPU %.1f s), %d msgs (clusters %.1f, clients %.1f, SyncEnd %.1f s)" % (d["full_sync_ms"]/1e3, d["full_sync_cpu_s"], d["full_sync_messages"], d["sync_clusters_ms"]/1e3, d["sync_clients_ms"]/1e3, d["sync_build_ms"]/1e3)')"
printf "$ROW" "memory per client: control plane / dataplane state" \
  "$(j "$f" '"%.0f B / %.0f B (%.0f MiB / %.0f MiB)" % (d["cp_bytes_per_client"], d["dp_bytes_per_client"], d["cp_rss_mb"], d["dp_state_rss_mb"])')"
printf "$ROW" "peak RSS of the one-process bench" "$(j "$f" '"%.0f MiB" % d["peak_rss_mb"]')"
printf "$ROW" "dataplane EndpointSets applied (binding, dp side)" "$(j "$f" '"%d at %.0f/s" % (d["dp_bound"], d["dp_binds_per_s"])')"
if [ -z "$NOTE" ]; then
  mib() { calc "round($1 / 1024)"; }
  printf "$ROW" "real run: dataplane ready (EAL, pools, channel)" "$(printf %.2f "$dp_ready_s") s, RSS $(mib "$dp_rss_idle") MiB"
  printf "$ROW" "real run: cp start to dataplane's 'sync applied'" "$(printf %.2f "$applied_s") s (load + membership + push + SyncEnd build)"
  printf "$ROW" "  control plane's own line" "$(sed -E 's/.*; ([0-9]+ messages in [0-9]+ ms).*/pushed: \1/' <<< "$pushed_line")"
  printf "$ROW" "real run: RSS after the sync: control plane" "$(mib "$cp_rss_sync") MiB (peak so far $(mib "$cp_hwm_sync") MiB)"
  printf "$ROW" "real run: RSS after the sync: dataplane" "$(mib "$dp_rss_sync") MiB (peak so far $(mib "$dp_hwm_sync") MiB) + $(mib "$dp_huge") MiB hugepages"
  printf "$ROW" "real run: binding (rustun-loadgen --bind keepalive)" \
    "$(j "$TMP/bind.json" '"%d of %d bound in %.1f s (%.0f/s), %.1f s after its start" % (d["bound"], d["clients"], d["bind_seconds"], d["bound"]/max(d["bind_seconds"],1e-9), d["bind_seconds_since_start"])')"
  printf "$ROW" "real run: peak RSS control plane / dataplane" "$(mib "$cp_hwm") MiB / $(mib "$dp_hwm") MiB (at the end: $(mib "$cp_rss") / $(mib "$dp_rss") MiB)"
  printf "$ROW" "real run: loadgen peak RSS, hugepages" "$(mib "$lg_hwm") MiB + $(mib "${lg_huge:-0}") MiB hugepages"
  printf "$ROW" "real run: 2 MiB hugepages taken at most (whole machine)" "$((huge0 - huge_min)) ($(( (huge0 - huge_min) * 2 )) MiB)"
  if [ -s "$TMP/stats.json" ]; then
    printf "$ROW" "  control plane counters" \
      "$(j "$TMP/stats.json" '"udp_keepalive_ok %d, auth_trial_opens %d" % (d["controlplane"].get("udp_keepalive_ok",0), d["controlplane"].get("auth_trial_opens",0))')"
  fi
else
  printf "$ROW" "real run (dataplane + control plane + loadgen)" "$NOTE"
fi
