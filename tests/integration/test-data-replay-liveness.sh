#!/usr/bin/env bash
# Integration (issue 9 item 5): a captured Data frame re-sent from a dead client's old address
# does not keep its UDP binding live. b relays over UDP for a few seconds and exits (no more
# KeepAlives); an attacker in b's namespace then re-sends one of b's captured Data frames from b's
# address and port every 0.5 s. With a liveness window of 3 s (rustun-dataplane --live-seconds 3,
# a test hook; the default is 15 s) a's frames to b must fall back to the control plane
# (TcpDeliver) once the window has passed since b's last KeepAlive: before the fix any
# authenticated Data refreshed liveness and the replay kept a's traffic flowing to the dead endpoint.
TEST_NAME=data-replay-liveness
. "$(dirname "$0")/common.sh"

LAB_DP_ARGS="--live-seconds 3" lab_start_gateway || die "gateway start"
START=$(date +%s.%N | awk '{printf "%.3f", $1 + 1.5}')
B_PORT=40002
lab_start_client a udp 16 b --rate 50 --start-at "$START" --rebind 1
lab_start_client b udp 3 a --rate 20 --start-at "$START" --rebind 1 --udp-port $B_PORT --dump-data "$WORK/b-frame.bin"
lab_wait_client b
check "b captured one of its Data frames" eval '[ -s "$WORK/b-frame.bin" ]'
check "b was bound over UDP" eq "$(lab_client b bound)" True
lab_log "b gone; replaying its captured frame from ${LAB_IP[b]}:$B_PORT every 0.5 s"
timeout 12 ip netns exec "${P}b" "$SYS_PY" - "$WORK/b-frame.bin" "$LAB_GW" $B_PORT <<'PY' &
import socket, sys, time
frame = open(sys.argv[1], "rb").read()
host, port = sys.argv[2].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[3])))
end = time.time() + 11
while time.time() < end:
    s.sendto(frame, (host, int(port)))
    time.sleep(0.5)
PY
REPLAY_PID=$!
LAB_PIDS+=("$REPLAY_PID")
sleep 5  # > 3 s liveness window since b's last KeepAlive, replays flowing all along
S0=$(lab_ctl --json stats)
sleep 4
S1=$(lab_ctl --json stats)
d() { echo $(( $(lab_json "$S1" "$1") - $(lab_json "$S0" "$1") )); }
echo "during the replay (4 s): relayed +$(d dataplane.relayed) to_controlplane_tcp +$(d dataplane.to_controlplane_tcp) udp_keepalive_ok +$(d controlplane.udp_keepalive_ok)"
# a sends 50/s to b: ~200 frames in the window, all to the control plane now (b is offline there:
# data_dst_offline); the replayed b -> a frames (~8) are still relayed to the live a.
check "a's frames to the dead b fall back to TcpDeliver despite the replays (+$(d dataplane.to_controlplane_tcp) >= 150)" \
    ge "$(d dataplane.to_controlplane_tcp)" 150
check "only the replayed b -> a frames are relayed (+$(d dataplane.relayed) <= 20)" le "$(d dataplane.relayed)" 20
wait "$REPLAY_PID" 2>/dev/null || true
lab_wait_client a
