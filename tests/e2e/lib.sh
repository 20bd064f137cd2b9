# Shared helpers of the end-to-end tests (tests/e2e/e2e.sh) and scripts/demo.sh.
# A topology of network namespaces on one bridge (the bridge lives in a namespace too, so nothing
# touches the host's network):
#
#   ${P}sw: bridge br0 ── ${P}gw  eth0 172.31.77.1   rustun-controlplane (TCP 7000)
#                      ├─ ${P}a   eth0 172.31.77.11  rustun-client client-a (10.0.1.2, LAN 192.168.11.0/24)
#                      ├─ ${P}b   eth0 172.31.77.12  rustun-client client-b (10.0.1.3)
#                      └─ ${P}c   eth0 172.31.77.13  rustun-client client-c (10.0.1.9, cluster "other")
#
# The caller sets P (namespace prefix, <= 6 chars) and WORK (temp dir), and calls e2e_cleanup
# from its trap.
#
# With the dataplane (e2e_dp_*): rustun-dataplane runs in ${P}gw too, on net_af_packet0 over the
# gateway's eth0 in bifurcated mode (`exception: none`): it serves the UDP relay port
# 172.31.77.1:7000 (listen.udp) from an AF_PACKET socket, while the kernel keeps 172.31.77.1 for
# ARP and the control plane's TCP. The kernel sees the relay datagrams too; an nftables rule in
# ${P}gw drops them there (otherwise it would answer ICMP port-unreachable). Channel
# /dev/shm/rustun-e2e-$P/channel, DPDK --file-prefix rustun-e2e-$P --in-memory --no-pci.

E2E_NODES=(gw a b c)
declare -A E2E_IP=([gw]=172.31.77.1 [a]=172.31.77.11 [b]=172.31.77.12 [c]=172.31.77.13)
E2E_PIDS=()
SYS_PY=/usr/bin/python3
GW_ADDR=172.31.77.1:7000
E2E_DP_CHANNEL=""   # set by e2e_write_gateway_config FILE dataplane

e2e_find_bin() {  # NAME ENVVAR -> path
    local name=$1 var=$2 d
    if [ -n "${!var:-}" ] && [ -x "${!var}" ]; then echo "${!var}"; return 0; fi
    for d in build-client build; do
        for f in "$E2E_ROOT/$d"/*/"$name"; do [ -x "$f" ] && { echo "$f"; return 0; }; done
    done
    return 1
}

e2e_setup_net() {
    ip netns add "${P}sw"
    ip -n "${P}sw" link set lo up
    ip -n "${P}sw" link add br0 type bridge
    ip -n "${P}sw" link set br0 up
    local n
    for n in "${E2E_NODES[@]}"; do
        ip netns add "${P}$n"
        ip -n "${P}$n" link set lo up
        ip -n "${P}$n" link add eth0 type veth peer name "v$n" netns "${P}sw"
        ip -n "${P}sw" link set "v$n" master br0 up
        ip -n "${P}$n" addr add "${E2E_IP[$n]}/24" dev eth0
        ip -n "${P}$n" link set eth0 up
    done
    # A LAN behind client-a (its CIDR 192.168.11.0/24): one local address to ping.
    ip -n "${P}a" addr add 192.168.11.1/32 dev lo
}

e2e_write_gateway_config() {  # FILE [dataplane]
    local udp="" dp=""
    if [ "${2:-}" = dataplane ]; then
        E2E_DP_CHANNEL=/dev/shm/rustun-e2e-$P/channel  # the dataplane creates the directory 0700
        udp="  udp: $GW_ADDR"
        dp="dataplane:
  channel: $E2E_DP_CHANNEL
  eal_args: [--no-pci, --in-memory, --file-prefix=rustun-e2e-$P, -l, \"0-1\", --log-level=lib.eal:warning, \"--vdev=net_af_packet0,iface=eth0,qpairs=1\"]
  port: net_af_packet0
  workers: 1
  sessions: 1024
  mbufs: 4095
  address: ${E2E_IP[gw]}
  exception: none"
    fi
    cat > "$1" <<YAML
listen:
  tcp: $GW_ADDR
${udp}
${dp}
crypto: chacha20:rustun
control_socket: $WORK/gateway.sock
controlplane:
  keepalive_interval: 2
  handshake_rate_per_source: 0
clusters:
  - name: test
    clients:
      - {identity: client-a, name: Client A, private_ip: 10.0.1.2, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: [192.168.11.0/24]}
      - {identity: client-b, name: Client B, private_ip: 10.0.1.3, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: []}
  - name: other
    crypto: aes256:other-tenant-key
    clients:
      - {identity: client-c, name: Client C, private_ip: 10.0.1.9, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: []}
      - {identity: client-y, name: Client Y, private_ip: 10.0.1.10, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: []}
YAML
}

e2e_start_gateway() {
    ip netns exec "${P}gw" "$CP" --config "$WORK/gateway.yaml" >> "$WORK/gateway.log" 2>&1 &
    GW_PID=$!
    E2E_PIDS+=("$GW_PID")
    local i
    for i in $(seq 50); do
        [ -S "$WORK/gateway.sock" ] && "$CTL" --socket "$WORK/gateway.sock" status >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "gateway did not start (log: $WORK/gateway.log)" >&2
    return 1
}

# e2e_start_client NODE IDENTITY [client options...]; pid in CLIENT_PID[NODE]
declare -A CLIENT_PID
e2e_start_client() {
    local node=$1 id=$2
    shift 2
    ip netns exec "${P}$node" "$CLIENT" -s "$GW_ADDR" -i "$id" --tun rtun0 --keepalive-interval 2 \
        --keepalive-threshold 3 --status-socket "$WORK/$node.sock" "$@" >> "$WORK/$node.log" 2>&1 &
    CLIENT_PID[$node]=$!
    E2E_PIDS+=("$!")
}

# st NODE PYTHON-EXPR: evaluates EXPR over the client's status (s = the JSON object,
# peer(ID) = that peer's object); prints the result, fails if the socket does not answer.
st() {
    "$SYS_PY" - "$WORK/$1.sock" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
s = json.loads(data)
def peer(i):
    for p in s["peers"]:
        if p["identity"] == i:
            return p
    return {}
print(eval(sys.argv[2]))
PY
}

# wait_for SECONDS DESCRIPTION CMD...: retries CMD every 0.5 s.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local end=$((SECONDS + secs))
    while [ $SECONDS -lt $end ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    echo "timeout after ${secs}s waiting for: $what" >&2
    return 1
}

st_is() {  # NODE EXPR EXPECTED
    [ "$(st "$1" "$2" 2>/dev/null)" = "$3" ]
}

# ---- dataplane ------------------------------------------------------------------------------
E2E_DP_PID=""
E2E_DP_LIMIT=${E2E_DP_LIMIT:-60}   # seconds a dataplane may run (SIGTERM then, SIGKILL 5 s later)

# Finds the dataplane (DP=path) or fails with the reason in E2E_DP_WHY.
e2e_dp_available() {
    local free
    E2E_DP_WHY=""
    free=$(awk '/^HugePages_Free/ {print $2}' /proc/meminfo)
    [ "${free:-0}" -ge 64 ] || { E2E_DP_WHY="fewer than 64 free hugepages (echo 1024 > /proc/sys/vm/nr_hugepages)"; return 1; }
    command -v nft >/dev/null || { E2E_DP_WHY="no nft"; return 1; }
    DP=$(e2e_find_bin rustun-dataplane RUSTUN_DATAPLANE) || { E2E_DP_WHY="rustun-dataplane not built"; return 1; }
}

# The kernel of ${P}gw must not answer the relay port (the dataplane does, from AF_PACKET).
e2e_dp_setup_nft() {
    ip netns exec "${P}gw" nft -f - <<NFT
table inet rustun_e2e {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport ${GW_ADDR##*:} counter drop comment "relay port: served by rustun-dataplane"
  }
}
NFT
}

# Starts the dataplane in ${P}gw under `timeout` (the wrapper's only child is the dataplane: `ip
# netns exec` execs); E2E_DP_PID is the wrapper, which forwards SIGTERM.
e2e_start_dataplane() {  # [LOG]
    timeout -k 5 "$E2E_DP_LIMIT" ip netns exec "${P}gw" "$DP" --config "$WORK/gateway.yaml" \
        >> "${1:-$WORK/dataplane.log}" 2>&1 &
    E2E_DP_PID=$!
    E2E_PIDS+=("$E2E_DP_PID")
}

# SIGTERM to the dataplane, wait (bounded) for it to exit; its exit status in E2E_DP_RC.
e2e_stop_dataplane() {
    local pid=$E2E_DP_PID c
    E2E_DP_RC=""
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; E2E_DP_RC=$?; E2E_DP_PID=""; return 0; }
        sleep 0.1
    done
    c=$(pgrep -P "$pid" | head -1)
    kill -KILL "$pid" 2>/dev/null
    [ -n "$c" ] && kill -KILL "$c" 2>/dev/null
    wait "$pid" 2>/dev/null
    E2E_DP_PID=""
    return 1
}

# A value from `rustunctl --json stats|status` by a dotted path (dataplane.relayed); "null" if absent.
e2e_ctl_json() {  # stats|status PATH
    "$CTL" --socket "$WORK/gateway.sock" --json "$1" 2>/dev/null | "$SYS_PY" -c '
import json, sys
try:
    v = json.load(sys.stdin)
except ValueError:
    v = {}
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("null" if v is None else v)' "$2"
}
e2e_dp_attached() { [ "$(e2e_ctl_json status dataplane)" = attached ]; }
e2e_dp_detached() { [ "$(e2e_ctl_json status dataplane)" != attached ]; }
e2e_dp_relayed() { local v; v=$(e2e_ctl_json stats dataplane.relayed); echo "${v/null/0}"; }

e2e_cleanup() {
    local pid n c
    for pid in "${E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${E2E_PIDS[@]}"; do
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            c=$(pgrep -P "$pid" | head -1)   # a timeout wrapper's daemon
            kill -KILL "$pid" 2>/dev/null
            [ -n "$c" ] && kill -KILL "$c" 2>/dev/null
        fi
    done
    wait 2>/dev/null
    for n in "${E2E_NODES[@]}" sw; do ip netns del "${P}$n" 2>/dev/null; done
    if [ -n "$E2E_DP_CHANNEL" ]; then
        rm -rf "$(dirname "$E2E_DP_CHANNEL")"
        rm -rf "/var/run/dpdk/rustun-e2e-$P"
    fi
}
