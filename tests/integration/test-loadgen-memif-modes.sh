#!/usr/bin/env bash
# The two benchmark set-ups of scripts/bench.sh beside the plain memif one (docs/performance.md,
# "A closed loop without copies" and "Many queues"), checked for correctness, never for speed:
#
#   test-loadgen-memif-modes.sh zero-copy   rustun-dataplane is the memif client in zero-copy mode
#                                           (zero-copy=yes, --single-file-segments), rustun-loadgen
#                                           the server
#   test-loadgen-memif-modes.sh two-queues  rustun-dataplane (memif server) with 2 workers on 2
#                                           queue pairs, rustun-loadgen --queues 2
#   test-loadgen-memif-modes.sh link-out    the fleet's UDP link, sending side (rows dp-link):
#                                           rustun-loadgen --link, every frame sealed for a member
#   test-loadgen-memif-modes.sh link-in     its receiving side (dp-link-in): rustun-loadgen
#                                           --link-in, every frame a member's link frame
#
# rustun-loadgen plays the control plane on the channel (--bind shm) and sends at a modest fixed
# rate. Asserted, from the dataplane's own counters over the run: every frame the generator sent is
# accounted for, sent = relayed + counted drops (relayed is counted before TX, so a frame the TX
# ring refused is in both relayed and drop_tx_full and is subtracted once), and every frame
# relayed and transmitted came back to the generator, to the right receiver. two-queues: both
# workers received at least 40 % of the packets (flow f goes to queue f mod 2, 16 flows). The link
# modes count link_tx (sealed) or link_rx (verified and relayed) instead of relayed, which stays 0.
# Needs root and free hugepages (else exit 77). No namespaces: memif uses an abstract socket.
set -uo pipefail
MODE=${1:?usage: test-loadgen-memif-modes.sh MODE (zero-copy, two-queues, link-out or link-in)}
[[ " zero-copy two-queues link-out link-in " == *" $MODE "* ]] || { echo "unknown mode $MODE"; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: not root"; exit 77; }
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
[ "${free:-0}" -ge 128 ] || { echo "SKIP: fewer than 128 free hugepages"; exit 77; }
: "${RUSTUN_DP:?}" "${RUSTUN_LOADGEN:?}"

ID="rlm$$"
WORK=$(mktemp -d "/tmp/rustun-integ-memif-modes-XXXXXX")
SOCK=/run/$ID.sock
pids=()
finish() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
    done
    rm -rf "/dev/shm/$ID" "/var/run/dpdk/$ID-dp" "/var/run/dpdk/$ID-lg"
    if [ "$rc" -ne 0 ]; then
        for f in dp lg.err lg.out; do echo "---- $f"; tail -n 20 "$WORK/$f" 2>/dev/null; done
        echo "FAIL (logs kept in $WORK)"
        exit 1
    fi
    rm -rf "$WORK"
    echo "PASS"
}
trap finish EXIT
trap 'exit 130' INT TERM
cd "$WORK"

if [ "$MODE" = zero-copy ]; then
    DP_MEM='--in-memory, --single-file-segments'; DP_VDEV="net_memif0,role=client,zero-copy=yes,socket=$SOCK"
    LG_VDEV="net_memif0,role=server,socket=$SOCK"; WORKERS=1; LCORES="0@0,1@1"; QUEUES=1
elif [ "$MODE" = two-queues ]; then
    DP_MEM='--in-memory'; DP_VDEV="net_memif0,role=server,socket=$SOCK"
    LG_VDEV="net_memif0,role=client,socket=$SOCK"; WORKERS=2; LCORES="0@0,1@1,2@1"; QUEUES=2
else
    DP_MEM='--in-memory'; DP_VDEV="net_memif0,role=server,socket=$SOCK"
    LG_VDEV="net_memif0,role=client,socket=$SOCK"; WORKERS=1; LCORES="0@0,1@1"; QUEUES=1
fi
LINK=()
[ "$MODE" = link-out ] && LINK=(--link)
[ "$MODE" = link-in ] && LINK=(--link-in)
cat > dp.yaml <<YAML
listen:
  tcp: 127.0.0.1:1
  udp: 192.0.2.1:8080
crypto: chacha20:unused
dataplane:
  channel: /dev/shm/$ID/channel
  eal_args: [--no-pci, $DP_MEM, --file-prefix=$ID-dp, --lcores, "$LCORES", --log-level=error, "--vdev=$DP_VDEV"]
  port: net_memif0
  workers: $WORKERS
  mbufs: 8191
  address: 192.0.2.1
YAML
start_dp() { timeout 90 "$RUSTUN_DP" --config dp.yaml > dp 2>&1 & pids+=($!); }
# The memif server first: a zero-copy client cannot start its port without one.
[ "$MODE" != zero-copy ] && { start_dp; sleep 1.5; }
timeout -s INT --kill-after=5 60 "$RUSTUN_LOADGEN" --clients 16 --clusters 2 --cipher aes256 --bind "shm:/dev/shm/$ID/channel" \
    --seconds 2 --rate 100000 --queues "$QUEUES" "${LINK[@]}" --quiet --json -- --no-pci --in-memory --file-prefix=$ID-lg --lcores 0@0 \
    --log-level=error "--vdev=$LG_VDEV" > lg.out 2> lg.err &
lg_pid=$!; pids+=($lg_pid)
[ "$MODE" = zero-copy ] && { sleep 1; start_dp; }
wait "$lg_pid" || { echo "rustun-loadgen failed"; exit 1; }

python3 - "$(cat lg.out)" "$MODE" <<'PY' || exit 1
import json, sys
d, mode = json.loads(sys.argv[1]), sys.argv[2]
sent, rcvd, rel, drops, txf = d["sent"], d["received"], d["dp_relayed"], d["dp_drops"], d["dp_tx_full"]
print(f"{mode}: sent {sent}, received {rcvd}, dataplane relayed {rel}, link_tx {d['dp_link_tx']}, "
      f"link_rx {d['dp_link_rx']}, drops {drops} (tx_full {txf}), "
      f"misdelivered {d['misdelivered']}, foreign {d['foreign']}, workers {d['dp_workers']}")
ok = True
def check(cond, what):
    global ok
    if not cond: print("FAILED:", what); ok = False
if mode.startswith("link-"):
    # Forwarded over the link: sealed for the member (link_tx) or received from it (link_rx).
    key = "dp_link_tx" if mode == "link-out" else "dp_link_rx"
    other = "dp_link_rx" if mode == "link-out" else "dp_link_tx"
    check(rel == 0 and d[other] == 0, f"relayed {rel} and {other} {d[other]}: every frame must take the link ({key})")
    rel = d[key]
    # At 100 kpps nothing is dropped: a tag, name or window the dataplane refused would be.
    check(rel >= 0.99 * sent, f"only {rel} of {sent} frames over the link ({key}); dataplane drops {drops}")
check(sent >= 10000, "fewer than 10000 frames sent")
check(sent == rel + drops - txf, "sent != relayed + counted drops (relayed minus tx_full: transmitted)")
check(rcvd == rel - txf, "received != frames the dataplane transmitted")
check(d["misdelivered"] == 0 and d["foreign"] == 0, "frames at the wrong receiver or unrecognised")
if mode == "two-queues":
    ws = d["dp_workers"]
    total = sum(w["rx_packets"] for w in ws)
    check(len(ws) == 2, "not 2 workers in the channel")
    check(all(w["rx_packets"] >= 0.4 * total for w in ws) and total > 0, "a worker carried less than 40 % of the packets")
sys.exit(0 if ok else 1)
PY
