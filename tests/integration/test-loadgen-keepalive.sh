#!/usr/bin/env bash
# The whole stack with the load generator as the clients: rustun-loadgen (memif client) binds its
# simulated clients with UDP KeepAlives (`--bind keepalive`), rustun-dataplane (memif server) punts
# them, rustun-controlplane authenticates them, binds the endpoints and answers over UDP; then the
# Data between the pairs is relayed by the dataplane, closed loop, none lost.
# Needs root and free hugepages (else exit 77). No namespaces: memif uses an abstract socket.
set -uo pipefail
[ "$(id -u)" -eq 0 ] || { echo "SKIP: not root"; exit 77; }
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
[ "${free:-0}" -ge 128 ] || { echo "SKIP: fewer than 128 free hugepages"; exit 77; }
: "${RUSTUN_CP:?}" "${RUSTUN_CTL:?}" "${RUSTUN_DP:?}" "${RUSTUN_LOADGEN:?}"

ID="rlk$$"
WORK=$(mktemp -d "/tmp/rustun-integ-loadgen-XXXXXX")
pids=()
finish() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "/dev/shm/$ID" "/dev/shm/$ID-cp"; rm -rf "/var/run/dpdk/$ID-dp" "/var/run/dpdk/$ID-lg"
    if [ "$rc" -ne 0 ]; then
        for f in dp cp lg.err lg.out; do echo "---- $f"; tail -n 20 "$WORK/$f" 2>/dev/null; done
        echo "FAIL (logs kept in $WORK)"
        exit 1
    fi
    rm -rf "$WORK"
    echo "PASS"
}
trap finish EXIT
trap 'exit 130' INT TERM

cd "$WORK"
"$RUSTUN_LOADGEN" genconfig --clients 8 --clusters 2 --cipher aes256 --tcp 127.0.0.1:0 > gw.yaml
cat >> gw.yaml <<YAML
control_socket: $WORK/control.sock
controlplane:
  handshake_rate_per_source: 0
dataplane:
  channel: /dev/shm/$ID/channel
  eal_args: [--no-pci, --in-memory, --file-prefix=$ID-dp, -l, "0-1", --log-level=error, "--vdev=net_memif0,role=server,socket=/run/$ID.sock"]
  port: net_memif0
  workers: 1
  address: 192.0.2.1
  exception: none
YAML
timeout 60 "$RUSTUN_DP" --config gw.yaml > dp 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "/dev/shm/$ID/channel" ] && break; sleep 0.1; done
timeout 60 "$RUSTUN_CP" --config gw.yaml > cp 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "full state pushed" cp && break; sleep 0.1; done
grep -q "full state pushed" cp || { echo "control plane never synced with the dataplane"; exit 1; }

timeout 40 "$RUSTUN_LOADGEN" --clients 8 --clusters 2 --cipher aes256 --bind keepalive --seconds 2 --rate 20000 \
    --quiet --json -- --no-pci --in-memory --file-prefix=$ID-lg -l 0 --log-level=error \
    "--vdev=net_memif0,role=client,socket=/run/$ID.sock" > lg.out 2> lg.err || { echo "loadgen failed"; exit 1; }
S=$("$RUSTUN_CTL" --socket "$WORK/control.sock" --json stats)
val() { /usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))" "$1" "$2"; }
sent=$(val "$(cat lg.out)" 'd["sent"]'); received=$(val "$(cat lg.out)" 'd["received"]')
lost=$(val "$(cat lg.out)" 'd["lost"]'); replies=$(val "$(cat lg.out)" 'd["keepalive_replies"]')
echo "loadgen: sent $sent, received $received, lost $lost, KeepAlive replies $replies"
echo "control plane: udp_keepalive_ok=$(val "$S" 'd["controlplane"]["udp_keepalive_ok"]'); dataplane: relayed=$(val "$S" 'd["dataplane"]["relayed"]') punted=$(val "$S" 'd["dataplane"]["punted"]')"
[ "$replies" -ge 8 ] || { echo "not every simulated client got its KeepAlive answered"; exit 1; }
[ "$sent" -gt 10000 ] && [ "$lost" = 0 ] || { echo "frames lost: sent $sent, received $received"; exit 1; }
[ "$(val "$S" 'd["dataplane"]["relayed"] >= '"$sent")" = True ] || { echo "dataplane relayed fewer than sent"; exit 1; }
[ "$(val "$S" 'd["controlplane"]["udp_keepalive_ok"] >= 8')" = True ] || { echo "KeepAlives not accepted"; exit 1; }
