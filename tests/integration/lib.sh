# Shared helpers of the integration tests (tests/integration/test-*.sh) and scripts/dataplane-lab.sh.
#
# Topology (every node is a network namespace; nothing touches the host's network):
#
#   ${P}sw: bridge br0 ── ${P}gw  eth0 172.30.0.1/24  rustun-dataplane on net_af_packet0,iface=eth0
#                      │                               (exception: none, bifurcated: the kernel keeps
#                      │                               ARP and the control plane's TCP on eth0)
#                      │                               rustun-controlplane, TCP 172.30.0.1:7000
#                      │                               nftables: drop UDP to 7000 in the kernel
#                      ├─ ${P}a   eth0 172.30.0.11    client-a (VPN 10.0.1.2)
#                      ├─ ${P}b   eth0 172.30.0.12    client-b (VPN 10.0.1.3)
#                      └─ ${P}c   eth0 172.30.0.13    client-c (VPN 10.0.1.4)
#
# The relay port is UDP 172.30.0.1:7000 (listen.udp), served by the dataplane from the AF_PACKET
# socket: the kernel sees the same datagrams, and the nftables rule keeps it from answering them
# with ICMP port-unreachable.
#
# The caller sets LAB_ROOT (source tree), WORK (a temp dir) and P (namespace prefix, <= 6 chars),
# optionally RUSTUN_CP / RUSTUN_DP / RUSTUN_CTL (binaries), and calls lab_cleanup from its trap.
#
# Exception-path variant (LAB_EXCEPTION=tap, set before sourcing; tests/integration/test-tap-exception.sh):
# the gateway's eth0 gets no kernel address and an nftables netdev ingress rule drops everything the
# kernel would receive on it (AF_PACKET still sees every frame: packet taps run before the ingress
# hook), which stands in for a vfio-pci NIC the kernel does not see. rustun-dataplane runs with
# `exception: tap`: its tap LAB_EXC_IFACE carries 172.30.0.1/32, lab_start_gateway adds the route to
# 172.30.0.0/24 on it and starts the control plane only then. The clients' veths have TX checksum
# offload off (their TCP segments reach the tap through AF_PACKET, which does not complete a
# CHECKSUM_PARTIAL checksum; a real wire would carry full ones). LAB_EXTRA_NODES="d" adds client-d.

LAB_EXCEPTION=${LAB_EXCEPTION:-none}
LAB_EXC_IFACE=${LAB_EXC_IFACE:-rustun0}
LAB_NODES=(gw a b c ${LAB_EXTRA_NODES:-})
declare -A LAB_IP=([gw]=172.30.0.1 [a]=172.30.0.11 [b]=172.30.0.12 [c]=172.30.0.13 [d]=172.30.0.14)
declare -A LAB_VPN=([a]=10.0.1.2 [b]=10.0.1.3 [c]=10.0.1.4 [d]=10.0.1.5)
declare -A LAB_ID=([a]=client-a [b]=client-b [c]=client-c [d]=client-d)
LAB_SUBNET=172.30.0.0/24
LAB_PORT=7000
LAB_GW=172.30.0.1:$LAB_PORT
SYS_PY=/usr/bin/python3
LAB_PIDS=()          # every process we started (timeout wrappers), killed by lab_cleanup
LAB_DP_PID=""        # timeout wrapper of the dataplane
LAB_CP_PID=""        # timeout wrapper of the control plane
LAB_LIMIT=${LAB_LIMIT:-110}   # seconds any daemon may live (each run is bounded)

lab_log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*" >&2; }

lab_find_bin() {  # NAME ENVVAR -> path
    local name=$1 var=$2 d f
    if [ -n "${!var:-}" ]; then
        [ -x "${!var}" ] && { echo "${!var}"; return 0; }
        return 1
    fi
    for d in build-integ build build-dp build-cp; do
        for f in "$LAB_ROOT/$d"/*/"$name"; do [ -x "$f" ] && { echo "$f"; return 0; }; done
    done
    return 1
}

# Exit 77 (skip) unless we can run: root, free hugepages, ip netns, nft, binaries.
lab_require() {
    [ "$(id -u)" -eq 0 ] || { echo "SKIP: not root"; exit 77; }
    local free
    free=$(awk '/^HugePages_Free/ {print $2}' /proc/meminfo)
    [ "${free:-0}" -gt 64 ] || { echo "SKIP: fewer than 64 free hugepages (echo 1024 > /proc/sys/vm/nr_hugepages)"; exit 77; }
    command -v ip >/dev/null && ip netns list >/dev/null 2>&1 || { echo "SKIP: no 'ip netns'"; exit 77; }
    command -v nft >/dev/null || { echo "SKIP: no nft"; exit 77; }
    [ -x "$SYS_PY" ] && "$SYS_PY" -c 'import cryptography' 2>/dev/null || { echo "SKIP: $SYS_PY without cryptography"; exit 77; }
    CP=$(lab_find_bin rustun-controlplane RUSTUN_CP) || { echo "SKIP: rustun-controlplane not built"; exit 77; }
    DP=$(lab_find_bin rustun-dataplane RUSTUN_DP) || { echo "SKIP: rustun-dataplane not built"; exit 77; }
    CTL=$(lab_find_bin rustunctl RUSTUN_CTL) || { echo "SKIP: rustunctl not built"; exit 77; }
}

lab_setup_net() {
    ip netns add "${P}sw" || return 1
    ip -n "${P}sw" link set lo up
    ip -n "${P}sw" link add br0 type bridge
    ip -n "${P}sw" link set br0 up
    local n
    for n in "${LAB_NODES[@]}"; do
        ip netns add "${P}$n" || return 1
        ip -n "${P}$n" link set lo up
        ip -n "${P}$n" link add eth0 type veth peer name "v$n" netns "${P}sw" || return 1
        ip -n "${P}sw" link set "v$n" master br0 up
        if [ "$n" = gw ] && [ "$LAB_EXCEPTION" = tap ]; then
            ip netns exec "${P}gw" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
        else
            ip -n "${P}$n" addr add "${LAB_IP[$n]}/24" dev eth0
        fi
        [ "$n" != gw ] && [ "$LAB_EXCEPTION" = tap ] && { ip netns exec "${P}$n" ethtool -K eth0 tx off >/dev/null || return 1; }
        ip -n "${P}$n" link set eth0 up
    done
    if [ "$LAB_EXCEPTION" = tap ]; then
        # The kernel must not see the uplink at all: everything it gets comes through the tap.
        ip netns exec "${P}gw" nft -f - <<NFT || return 1
table netdev rustun_lab_uplink {
  chain ingress {
    type filter hook ingress device "eth0" priority 0; policy accept;
    counter drop comment "uplink owned by rustun-dataplane (AF_PACKET sees it before this hook)"
  }
}
NFT
        return 0
    fi
    # The dataplane transmits on the gateway's veth through AF_PACKET with software checksums;
    # the kernel's own TCP there keeps its offloads. The kernel must not answer the relay port.
    ip netns exec "${P}gw" nft -f - <<NFT || return 1
table inet rustun_lab {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport $LAB_PORT counter drop comment "relay port: served by rustun-dataplane"
  }
}
NFT
}

# The configuration both daemons read: the gateway, three clients of cluster "test", and the
# dataplane section on the gateway's veth. EXTRA (optional) is appended to the dataplane section.
lab_write_config() {  # FILE [ID]
    local id=${2:-$P}
    cat > "$1" <<YAML
listen:
  tcp: $LAB_GW
  udp: $LAB_GW
crypto: chacha20:rustun
control_socket: $WORK/control.sock
controlplane:
  keepalive_interval: 2
  handshake_rate_per_source: 0
  log_level: info
dataplane:
  channel: /dev/shm/rustun-lab-$id/channel
  eal_args: [--no-pci, --in-memory, --file-prefix=rustun-lab-$id, -l, "0-1", --log-level=lib.eal:warning, "--vdev=net_af_packet0,iface=eth0,qpairs=1"]
  port: net_af_packet0
  workers: 1
  burst: 32
  sessions: 1024
  mbufs: 4095
  address: ${LAB_IP[gw]}
  exception: $LAB_EXCEPTION$([ "$LAB_EXCEPTION" = tap ] && printf '\n  exception_iface: %s' "$LAB_EXC_IFACE")
clusters:
  - name: test
    clients:
$(for n in "${LAB_NODES[@]}"; do [ "$n" = gw ] && continue
  echo "      - {identity: ${LAB_ID[$n]}, name: Client ${n^^}, private_ip: ${LAB_VPN[$n]}, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: []}"
done)
YAML
    LAB_CONFIG=$1
    LAB_CHANNEL=/dev/shm/rustun-lab-$id/channel  # its directory: created 0700 by the dataplane
}

# Daemons run inside ${P}gw under `timeout` (SIGTERM at LAB_LIMIT s, SIGKILL 5 s later).
# `ip netns exec` execs, so the wrapper's only child is the daemon itself.
# LAB_SETSID=1 (scripts/dataplane-lab.sh) starts them in a session of their own.
lab_start_dp() {  # [LOG]
    local log=${1:-$WORK/dataplane.log}
    # LAB_DP_ARGS: extra rustun-dataplane options (e.g. --live-seconds 3 for a short liveness window).
    ${LAB_SETSID:+setsid} timeout -k 5 "$LAB_LIMIT" ip netns exec "${P}gw" "$DP" --config "$LAB_CONFIG" ${LAB_DP_ARGS:-} >>"$log" 2>&1 &
    LAB_DP_PID=$!
    LAB_PIDS+=("$LAB_DP_PID")
}

lab_start_cp() {  # [LOG]
    local log=${1:-$WORK/controlplane.log}
    ${LAB_SETSID:+setsid} timeout -k 5 "$LAB_LIMIT" ip netns exec "${P}gw" "$CP" --config "$LAB_CONFIG" >>"$log" 2>&1 &
    LAB_CP_PID=$!
    LAB_PIDS+=("$LAB_CP_PID")
}

# The daemon under a timeout wrapper (its only child).
lab_child_of() { pgrep -P "$1" | head -1; }

# Stops a wrapped daemon with SIGTERM (the wrapper forwards it) and waits for it (bounded);
# its exit status in LAB_STOP_RC.
lab_stop() {  # WRAPPER_PID [SECONDS]
    local pid=$1 t=${2:-10} i
    [ -n "$pid" ] || return 0
    LAB_STOP_RC=""
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < t * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; LAB_STOP_RC=$?; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    local c
    c=$(lab_child_of "$pid")
    [ -n "$c" ] && kill -KILL "$c" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
}

lab_ctl() { "$CTL" --socket "$WORK/control.sock" "$@"; }

# Reads a value out of `rustunctl --json stats|status` with a dotted path (e.g. dataplane.relayed),
# or a /-separated one when a key has dots (seen_counts/10.0.1.4).
lab_json() {  # JSON PATH
    "$SYS_PY" -c '
import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("/" if "/" in sys.argv[2] else "."):
    v = v.get(k) if isinstance(v, dict) else None
print("null" if v is None else v)' "$1" "$2"
}
lab_stat() { lab_json "$(lab_ctl --json stats 2>/dev/null || echo '{}')" "$1"; }

# Waits (bounded) for a shell condition.
lab_wait() {  # SECONDS COMMAND...
    local t=$1 i
    shift
    for ((i = 0; i < t * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

lab_dp_synced() { grep -q 'sync cp_epoch .* applied' "${1:-$WORK/dataplane.log}" 2>/dev/null; }
lab_cp_attached() { [ "$(lab_json "$(lab_ctl --json status 2>/dev/null || echo '{}')" dataplane)" = attached ]; }

# The dataplane's exception tap exists, is up and carries the gateway's address.
lab_tap_ready() {
    ip -n "${P}gw" -4 addr show dev "$LAB_EXC_IFACE" up 2>/dev/null | grep -q "inet ${LAB_IP[gw]}/"
}

# Starts both daemons and waits until the control plane is attached and its sync applied.
# With LAB_EXCEPTION=tap: waits for the tap, adds the route to the bridge subnet on it unless the
# dataplane did (LAB_ROUTE_ADDED=1 when we added it), and only then starts the control plane
# (it binds the gateway's address, which exists only on the tap).
lab_start_gateway() {
    lab_start_dp || return 1
    if [ "$LAB_EXCEPTION" = tap ]; then
        lab_wait 20 lab_tap_ready || { lab_log "tap $LAB_EXC_IFACE not up with ${LAB_IP[gw]}"; return 1; }
        LAB_ROUTE_ADDED=0
        if ! ip -n "${P}gw" route show "$LAB_SUBNET" | grep -q "dev $LAB_EXC_IFACE"; then
            ip -n "${P}gw" route add "$LAB_SUBNET" dev "$LAB_EXC_IFACE" || return 1
            LAB_ROUTE_ADDED=1
        fi
    fi
    lab_start_cp || return 1
    lab_wait 20 lab_cp_attached || { lab_log "control plane not attached"; return 1; }
    lab_wait 10 lab_dp_synced || { lab_log "dataplane applied no sync"; return 1; }
}

# A test client in namespace ${P}NODE; JSON summary in $WORK/NODE.json, progress in NODE.progress.
lab_start_client() {  # NODE MODE DURATION PEER_NODE [extra relay_client.py args...]
    local n=$1 mode=$2 dur=$3 peer=$4
    shift 4
    timeout -k 5 $(( ${dur%.*} + 15 )) ip netns exec "${P}$n" "$SYS_PY" "$LAB_ROOT/tests/integration/relay_client.py" \
        --gateway "$LAB_GW" --relay "$LAB_GW" --identity "${LAB_ID[$n]}" --private-ip "${LAB_VPN[$n]}" \
        --peer-ip "${LAB_VPN[$peer]}" --mode "$mode" --duration "$dur" --progress "$WORK/$n.progress" "$@" \
        >"$WORK/$n.json" 2>"$WORK/$n.err" &
    LAB_PIDS+=($!)
    eval "LAB_CLIENT_PID_$n=$!"
}

lab_wait_client() {  # NODE
    local v="LAB_CLIENT_PID_$1"
    wait "${!v}"
}

# A value from a client's summary (after it ended) or progress file (while it runs).
lab_client() {  # NODE PATH
    local f=$WORK/$1.json
    [ -s "$f" ] || f=$WORK/$1.progress
    lab_json "$(cat "$f" 2>/dev/null || echo '{}')" "$2"
}
lab_progress() { lab_json "$(cat "$WORK/$1.progress" 2>/dev/null || echo '{}')" "$2"; }

# Removes processes (ours only, by pid), namespaces (which takes their veths and the bridge
# along), the channel file and the DPDK runtime directory. Safe to call twice.
lab_cleanup() {
    local pid c
    for pid in "${LAB_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || continue
        c=$(lab_child_of "$pid")
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${LAB_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            c=$(lab_child_of "$pid")
            kill -KILL "$pid" 2>/dev/null
            [ -n "$c" ] && kill -KILL "$c" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    LAB_PIDS=()
    local n
    for n in "${LAB_NODES[@]}" sw; do
        ip netns del "${P}$n" 2>/dev/null
    done
    [ -n "${LAB_CHANNEL:-}" ] && rm -rf "$(dirname "$LAB_CHANNEL")"
    rm -rf "/var/run/dpdk/rustun-lab-${P}" 2>/dev/null
    return 0
}
