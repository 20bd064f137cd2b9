#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine, as root:
#   1. installs every Debian package needed to build, test and run (apt-get, only what is missing);
#   2. reserves hugepages (>= 1 GiB of 2 MiB pages) and mounts hugetlbfs if it is missing;
#   3. configures and builds into build/ (and nothing else).
# A second run installs nothing, changes no setting and is a no-op build.
#
# Environment: CI=true turns warnings into errors (-Dwerror=true). RUSTUN_HUGEPAGES (default 1024,
# i.e. 2 GiB) sets the number of 2 MiB pages to reserve at least.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

PACKAGES=(
  build-essential g++ clang pkg-config meson ninja-build
  libdpdk-dev dpdk libipsec-mb-dev rapidjson-dev libyaml-cpp-dev libgtest-dev
  libpcap-dev python3 python3-scapy python3-cryptography tcpdump iproute2 iputils-ping nftables procps
  ethtool git bsdutils
  dpkg-dev debhelper help2man lintian systemd   # scripts/package.sh (dpkg-buildpackage); systemd-analyze, -tmpfiles
  prometheus                           # promtool and a server: test controlplane-prometheus
  liblua5.3-dev                        # pktgen-dpdk with Lua (test pktgen-memif, scripts/bench.sh pktgen row)
  nebula wireguard-go iperf3           # scripts/bench-peers.sh: the alternatives beside ours
  libgrpc++-dev protobuf-compiler protobuf-compiler-grpc golang-etcd-server-dev  # the fleet's etcd v3 client (gRPC, etcd's rpc.proto)
  etcd-server etcd-client              # fleet tests: a real etcd on loopback
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages (${missing[*]}) and not root: run as root or install them" >&2
    exit 1
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "packages: all present"
fi

# Hugepages: DPDK processes (dataplane, loadgen) need them; unit tests do not.
want=${RUSTUN_HUGEPAGES:-1024}
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
  have=$(cat /proc/sys/vm/nr_hugepages)
  if [ "$have" -lt "$want" ]; then
    echo "$want" > /proc/sys/vm/nr_hugepages || true
    log "hugepages: $(cat /proc/sys/vm/nr_hugepages) x 2 MiB reserved (asked for $want)"
  else
    log "hugepages: $have x 2 MiB already reserved"
  fi
  if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages
    log "hugetlbfs mounted at /dev/hugepages"
  fi
else
  log "hugepages: not root, left as they are ($(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo '?') pages)"
fi

werror=false
[ "${CI:-}" = "true" ] && werror=true
if [ ! -f build/build.ninja ]; then
  log "configuring build/ (werror=$werror)"
  meson setup build -Dwerror=$werror >/dev/null
else
  current=$(python3 -c 'import json,sys; print(str([o["value"] for o in json.load(open(sys.argv[1])) if o["name"]=="werror"][0]).lower())' build/meson-info/intro-buildoptions.json)
  [ "$current" = "$werror" ] || meson configure build -Dwerror=$werror >/dev/null
fi
log "building build/"
if ! ninja -C build > build/last-build.log 2>&1; then
  tail -n 40 build/last-build.log >&2
  echo "setup: build failed (full log: build/last-build.log)" >&2
  exit 1
fi
grep -q 'no work to do' build/last-build.log || log "$(tail -n 1 build/last-build.log)"
log "done"
