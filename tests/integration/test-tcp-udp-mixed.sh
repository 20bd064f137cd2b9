#!/usr/bin/env bash
# Integration 2: a TCP-only client (a: never binds UDP) and a UDP client (b) relay to each other
# through the channel: b -> a is Data on the relay port, TcpDeliver to the control plane, then a's
# TCP session; a -> b is Data on TCP, a TxFrame to the dataplane, then UDP to b's endpoint.
TEST_NAME=tcp-udp-mixed
. "$(dirname "$0")/common.sh"

lab_start_gateway || die "gateway start"
RATE=100
DUR=6
START=$(date +%s.%N | awk '{printf "%.3f", $1 + 1.5}')
lab_start_client a tcp $DUR b --rate $RATE --start-at "$START"
lab_start_client b udp $DUR a --rate $RATE --start-at "$START"
lab_wait_client a
lab_wait_client b
S=$(lab_ctl --json stats)
echo "a: $(cat "$WORK/a.json")"
echo "b: $(cat "$WORK/b.json")"
for k in dataplane.relayed dataplane.to_controlplane_tcp dataplane.from_controlplane_tx dataplane.punted \
         controlplane.udp_to_tcp controlplane.tcp_to_udp controlplane.data_rx controlplane.udp_deliver_stale; do
    printf '%s=%s ' "$k" "$(lab_json "$S" $k)"
done
echo

sent_a=$(lab_client a sent); sent_b=$(lab_client b sent)
check "a is TCP-only (sent $sent_a over TCP, never bound)" eq "$(lab_client a sent_tcp)/$(lab_client a bound)" "$sent_a/False"
check "b bound over UDP" eq "$(lab_client b bound)" True
check "a sent >= $(( RATE * (DUR - 3) )) frames" ge "$sent_a" $(( RATE * (DUR - 3) ))
check "b sent >= $(( RATE * (DUR - 3) )) frames" ge "$sent_b" $(( RATE * (DUR - 3) ))
check "b (UDP) received a's TCP frames over UDP: $(lab_client b rx_udp) of $sent_a (<= 5 lost)" \
    ge "$(lab_client b rx_udp)" $(( sent_a - 5 ))
check "a (TCP) received b's UDP frames over TCP: $(lab_client a rx_tcp) of $sent_b (<= 5 lost)" \
    ge "$(lab_client a rx_tcp)" $(( sent_b - 5 ))
check "a got nothing over UDP" eq "$(lab_client a rx_udp)" 0
check "no duplicates" eq "$(lab_client a rx_duplicates)$(lab_client b rx_duplicates)" 00
check "dataplane: TcpDeliver for b -> a (to_controlplane_tcp >= $(( sent_b - 5 )))" \
    ge "$(lab_json "$S" dataplane.to_controlplane_tcp)" $(( sent_b - 5 ))
check "dataplane: TxFrames from the control plane (from_controlplane_tx >= $(( sent_a - 5 )))" \
    ge "$(lab_json "$S" dataplane.from_controlplane_tx)" $(( sent_a - 5 ))
check "control plane: udp_to_tcp >= $(( sent_b - 5 ))" ge "$(lab_json "$S" controlplane.udp_to_tcp)" $(( sent_b - 5 ))
check "control plane: tcp_to_udp >= $(( sent_a - 5 ))" ge "$(lab_json "$S" controlplane.tcp_to_udp)" $(( sent_a - 5 ))
check "dataplane relayed nothing UDP->UDP" eq "$(lab_json "$S" dataplane.relayed)" 0
