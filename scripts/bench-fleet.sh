#!/usr/bin/env bash
# Fleet benchmark (issue 12): one run, one table (docs/performance.md, "Fleet").
#
#   scripts/bench-fleet.sh
#
# Builds what it needs in build/, then scripts/bench_fleet.py starts a real etcd (one member,
# tests/fleet/etcd_harness.py) and three rustun-controlplane processes (more under a low open-file
# limit, below) with a `fleet:` section on loopback ports, and measures: the propagation of a new client to another gateway's view
# (p50/p99; target p99 < 1 s), etcd's writes per second during a mass reconnect of
# RUSTUN_BENCH_FLEET_CLIENTS (default 100000) clients spread over the gateways
# (rustun-cp-bench idle), and inter-gateway relay throughput against local relay (target ≥ 0.8×):
# rustun-cp-bench relay with the receivers on another gateway, and the link's in-process
# rustun-fleet-link-bench.
# Everything shares this machine's cores; every step is bounded.
#
# Environment: RUSTUN_BENCH_FLEET_CLIENTS (default 100000) clients of the mass reconnect, in
# clusters of 10 — spread over more than three gateways (up to RUSTUN_BENCH_FLEET_MAX_GATEWAYS,
# default 8), or scaled down, and said so in the table, when the open-file limit cannot hold a
# third of them per process; RUSTUN_BENCH_FLEET_SAMPLES (default 200) propagation samples; RUSTUN_BUILD (default
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

# An equal share of the clients per gateway and per load process, each one descriptor per
# connection. Three gateways, as the issue's fleet; when the hard open-file limit cannot hold a
# third of the clients in one process (and an unprivileged process cannot raise it), more
# gateways share them, up to RUSTUN_BENCH_FLEET_MAX_GATEWAYS; beyond that the clients are
# scaled down. Either is said in the table.
hard=$(ulimit -Hn)
ulimit -n "$hard"
GATEWAYS=3
MAX_GW=${RUSTUN_BENCH_FLEET_MAX_GATEWAYS:-8}
[[ $MAX_GW =~ ^[0-9]+$ ]] && [ "$MAX_GW" -ge 3 ] || fail "RUSTUN_BENCH_FLEET_MAX_GATEWAYS must be a number >= 3, not '$MAX_GW'"
scaled=""
if [ "$hard" != unlimited ]; then
  per=$((hard - 1024))  # descriptors a process has for connections
  need=$(( (CLIENTS + per - 1) / per ))
  if [ "$need" -gt 3 ] && [ "$need" -le "$MAX_GW" ]; then
    GATEWAYS=$need
    scaled="$GATEWAYS gateways, not 3: RLIMIT_NOFILE hard limit $hard holds $per connections per process"
    log "$scaled"
  elif [ "$need" -gt "$MAX_GW" ]; then
    GATEWAYS=$MAX_GW
    scaled="scaled down from $CLIENTS over $MAX_GW gateways: RLIMIT_NOFILE hard limit $hard holds $per connections per process"
    CLIENTS=$((per * MAX_GW))
    log "$scaled"
  fi
fi
exec timeout -k 10 2400 python3 scripts/bench_fleet.py --build "$BUILD" --clients "$CLIENTS" --samples "$SAMPLES" \
  --gateways "$GATEWAYS" --scaled-because "$scaled"
