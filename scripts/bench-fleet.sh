#!/usr/bin/env bash
# Fleet benchmark (issue 12): one run, one table (docs/performance.md, "Fleet").
#
#   scripts/bench-fleet.sh
#
# Builds what it needs in build/, then scripts/bench_fleet.py starts a real etcd (one member,
# tests/fleet/etcd_harness.py) and three rustun-controlplane processes with a `fleet:` section on
# loopback ports, and measures: the propagation of a new client to another gateway's view
# (p50/p99; target p99 < 1 s), etcd's writes per second during a mass reconnect of
# RUSTUN_BENCH_FLEET_CLIENTS (default 100000) clients spread over the three gateways
# (rustun-cp-bench idle), and inter-gateway relay throughput against local relay (target ≥ 0.8×):
# rustun-cp-bench relay with the receivers on another gateway, and the link's in-process
# rustun-fleet-link-bench.
# Everything shares this machine's cores; every step is bounded.
#
# Environment: RUSTUN_BENCH_FLEET_CLIENTS (default 100000) clients of the mass reconnect — scaled
# down, and said so in the table, when the open-file limit cannot hold a third of them per
# process; RUSTUN_BENCH_FLEET_SAMPLES (default 200) propagation samples; RUSTUN_BUILD (default
# build) the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${RUSTUN_BUILD:-build}
CLIENTS=${RUSTUN_BENCH_FLEET_CLIENTS:-100000}
SAMPLES=${RUSTUN_BENCH_FLEET_SAMPLES:-200}
TARGETS=(controlplane/rustun-controlplane tools/rustun-cp-bench tests/controlplane/rustun-fleet-link-bench)

log() { printf '[bench-fleet] %s\n' "$*" >&2; }
fail() { printf 'bench-fleet: %s\n' "$*" >&2; exit 1; }

[ -f "$BUILD/build.ninja" ] || fail "$BUILD is not a configured build directory (meson setup $BUILD, or scripts/setup.sh)"
command -v etcd >/dev/null || fail "etcd is needed (package etcd-server; scripts/setup.sh installs it)"
command -v etcdctl >/dev/null || fail "etcdctl is needed (package etcd-client)"
log "building ${TARGETS[*]} in $BUILD"
if ! ninja -C "$BUILD" -j2 "${TARGETS[@]}" > "/tmp/rustun-bench-fleet-build.$$.log" 2>&1; then
  tail -n 30 "/tmp/rustun-bench-fleet-build.$$.log" >&2
  rm -f "/tmp/rustun-bench-fleet-build.$$.log"
  fail "build failed"
fi
rm -f "/tmp/rustun-bench-fleet-build.$$.log"

# A third of the clients per gateway and per load process, each one descriptor per connection.
hard=$(ulimit -Hn)
ulimit -n "$hard"
scaled=""
if [ "$hard" != unlimited ] && [ $((CLIENTS / 3 + 1024)) -gt "$hard" ]; then
  scaled="scaled down from $CLIENTS: RLIMIT_NOFILE hard limit $hard holds $(( (hard - 1024) * 3 )) over 3 gateways"
  CLIENTS=$(( (hard - 1024) * 3 ))
  log "$scaled"
fi
exec timeout -k 10 1800 python3 scripts/bench_fleet.py --build "$BUILD" --clients "$CLIENTS" --samples "$SAMPLES" \
  --scaled-because "$scaled"
