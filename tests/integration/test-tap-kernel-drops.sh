#!/usr/bin/env bash
# Integration 8: drops in the exception tap's kernel queue are counted. With `exception: tap`, the
# dataplane is stopped (SIGSTOP, ~1.5 s) while the gateway's kernel sends a bounded, paced burst of
# UDP datagrams to client-a through the tap (route 172.30.0.0/24 dev rustun0); after SIGCONT every
# datagram must be accounted for: read from the tap (exception_from_kernel, or
# drop_exception_full) or dropped by the kernel because the tap's queue was full (the tap's
# tx_dropped, added to drop_port_kernel_ring; sendto() may also see ENOBUFS for those).
TEST_NAME=tap-kernel-drops
LAB_EXCEPTION=tap
. "$(dirname "$0")/common.sh"

N=3000
lab_start_gateway || die "gateway start"
DP_PID=$(lab_child_of "$LAB_DP_PID")
[ -n "$DP_PID" ] || die "dataplane pid"

# COUNT datagrams of 4 bytes from the gateway's kernel to client-a's discard port, 30 every 10 ms.
send_burst() {  # COUNT
    ip netns exec "${P}gw" "$SYS_PY" - "$1" "${LAB_IP[a]}" <<'PY'
import socket, sys, time
n, host = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tried = errors = 0
while tried < n:
    for _ in range(min(30, n - tried)):
        tried += 1
        try:
            s.sendto(b"junk", (host, 9))
        except OSError:
            errors += 1
    time.sleep(0.01)
print(tried, errors)
PY
}
counts() {  # JSON -> "from_kernel exception_full kernel_ring"
    echo "$(lab_json "$1" dataplane.exception_from_kernel) $(lab_json "$1" dataplane.drop_exception_full) $(lab_json "$1" dataplane.drop_port_kernel_ring)"
}

# Warm-up: ARP for client-a resolved through the exception path.
ip netns exec "${P}gw" ping -n -c 2 -i 0.2 -W 2 "${LAB_IP[a]}" >/dev/null 2>&1
send_burst 20 >/dev/null
sleep 2
read -r from0 full0 ring0 <<< "$(counts "$(lab_ctl --json stats)")"
check "warm-up: no kernel queue drop while running (drop_port_kernel_ring $ring0)" eq "$ring0" 0

lab_log "SIGSTOP dataplane ($DP_PID), the kernel sends $N datagrams through the tap"
kill -STOP "$DP_PID"
send_burst "$N" > "$WORK/sent" &
SENDER=$!
sleep 1.5
kill -CONT "$DP_PID"
lab_log "SIGCONT dataplane"
wait "$SENDER"
read -r tried errors < "$WORK/sent"
sleep 2.5  # the port's counters are exported once a second
read -r from1 full1 ring1 <<< "$(counts "$(lab_ctl --json stats)")"
from=$(( from1 - from0 )); full=$(( full1 - full0 )); ring=$(( ring1 - ring0 ))
echo "tried=$tried sendto_errors=$errors exception_from_kernel=+$from drop_exception_full=+$full drop_port_kernel_ring=+$ring"
ip -n "${P}gw" -s link show dev "$LAB_EXC_IFACE" | sed -n '1,6p'
check "the burst was attempted ($tried of $N)" eq "$tried" "$N"
check "the stall overflowed the tap's queue and it was counted (drop_port_kernel_ring +$ring)" ge "$ring" 1
check "the kernel's refusals are among them (sendto errors $errors <= $ring)" le "$errors" "$ring"
# Every datagram is accounted for; the kernel's own packets on the tap (ARP, IPv6 ND) add a few.
check "tried == read + counted drops: $tried <= $from + $full + $ring <= $tried + 20" \
    eval '[ $(( from + full + ring )) -ge "$tried" ] && [ $(( from + full + ring )) -le $(( tried + 20 )) ]'
check "dataplane still alive" kill -0 "$DP_PID"
