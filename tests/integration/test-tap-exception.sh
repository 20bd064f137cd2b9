#!/usr/bin/env bash
# Integration 5: the exception path (`dataplane.exception: tap`). The gateway's uplink veth has no
# kernel address and the kernel drops everything it would receive on it (nftables netdev ingress),
# as with a vfio-pci NIC: ARP, ICMP and the control plane's TCP reach the kernel only through the
# dataplane's tap (which carries 172.30.0.1/32), and what the kernel answers leaves through the
# dataplane's uplink. Checks: ping + ARP from a client namespace; two TCP-only clients (c, d)
# handshake and relay to each other; two UDP clients (a, b) bind and relay on the fast path at the
# same time; exception_to_kernel / exception_from_kernel grow, nothing dropped on that path.
TEST_NAME=tap-exception
LAB_EXCEPTION=tap
LAB_EXTRA_NODES=d
. "$(dirname "$0")/common.sh"

GW=${LAB_IP[gw]}
IFACE=$LAB_EXC_IFACE
gwip() { ip -n "${P}gw" "$@"; }
exc() { echo "to_kernel=$(lab_json "$1" dataplane.exception_to_kernel) from_kernel=$(lab_json "$1" dataplane.exception_from_kernel) drop_exception_full=$(lab_json "$1" dataplane.drop_exception_full)"; }
# The kernel's TCP state on the tap side of the gateway, for the log of a failure.
dump_gw() {
    echo "---- gateway namespace"
    gwip -br addr; gwip route; gwip -s link show dev "$IFACE" 2>/dev/null | sed -n '1,6p'
    ip netns exec "${P}gw" ss -tan 2>/dev/null | head -12
    ip netns exec "${P}gw" nft list table netdev rustun_lab_uplink 2>/dev/null | grep counter
    ip netns exec "${P}gw" nstat -asz IpInReceives TcpInSegs TcpInCsumErrors TcpOutSegs IcmpInEchos IcmpOutEchoReps 2>/dev/null | grep -v '^#'
}

check "gateway eth0 has no kernel IPv4 address" eq "$(gwip -4 -o addr show dev eth0 | wc -l)" 0
lab_start_gateway || { dump_gw; die "gateway start (tap $IFACE, route, control plane attach)"; }
UPLINK_MAC=$(gwip -o link show dev eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
TAP_MAC=$(gwip -o link show dev "$IFACE" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
echo "tap: $(gwip -br -4 addr show dev "$IFACE"), mac $TAP_MAC (uplink $UPLINK_MAC); route $(gwip route show "$LAB_SUBNET")$([ "${LAB_ROUTE_ADDED:-0}" = 1 ] && echo ' (added by the test: the dataplane adds none)')"
check "tap $IFACE up with $GW/32" eq "$(gwip -4 -o addr show dev "$IFACE" | grep -c "inet $GW/32")" 1
check "tap MAC = uplink MAC ($TAP_MAC)" eq "$TAP_MAC" "$UPLINK_MAC"
S0=$(lab_ctl --json stats)
echo "exception counters at start: $(exc "$S0")"

# (1) ARP + ICMP answered by the kernel through the exception path.
PING=$(ip netns exec "${P}c" ping -n -c 3 -i 0.2 -W 2 "$GW" 2>&1)
echo "$PING" | tail -2
NEIGH=$(ip -n "${P}c" neigh show "$GW")
echo "client-c neighbour: $NEIGH"
S1=$(lab_ctl --json stats)
echo "exception counters after ping: $(exc "$S1")"
check "ping $GW from client-c: 3 of 3 replies" eq "$(echo "$PING" | grep -c 'bytes from')" 3
check "no duplicate ICMP replies (the kernel did not also answer on eth0)" eq "$(echo "$PING" | grep -c 'DUP')" 0
check "client-c resolved $GW to the uplink MAC by ARP" eq "$(echo "$NEIGH" | grep -c "lladdr $UPLINK_MAC")" 1
check "ping: exception_to_kernel grew by >= 4 (ARP + 3 echo requests)" \
    ge $(( $(lab_json "$S1" dataplane.exception_to_kernel) - $(lab_json "$S0" dataplane.exception_to_kernel) )) 4
check "ping: exception_from_kernel grew by >= 4 (ARP reply + 3 echo replies)" \
    ge $(( $(lab_json "$S1" dataplane.exception_from_kernel) - $(lab_json "$S0" dataplane.exception_from_kernel) )) 4

# (2) + (3): c <-> d over TCP (every frame through the tap both ways), a <-> b over UDP.
RATE=100
TRATE=50
DUR=7
START=$(date +%s.%N | awk '{printf "%.3f", $1 + 2}')
lab_start_client a udp $DUR b --rate $RATE --start-at "$START"
lab_start_client b udp $DUR a --rate $RATE --start-at "$START"
lab_start_client c tcp $DUR d --rate $TRATE --start-at "$START"
lab_start_client d tcp $DUR c --rate $TRATE --start-at "$START"
for n in a b c d; do lab_wait_client $n; done
S2=$(lab_ctl --json stats)
for n in a b c d; do echo "$n: $(head -c 900 "$WORK/$n.json")"; done
echo "dataplane: relayed=$(lab_json "$S2" dataplane.relayed) punted=$(lab_json "$S2" dataplane.punted) to_controlplane_tcp=$(lab_json "$S2" dataplane.to_controlplane_tcp) $(exc "$S2")"
echo "controlplane: conn_accepted=$(lab_json "$S2" controlplane.conn_accepted) handshake_ok=$(lab_json "$S2" controlplane.handshake_ok) data_relayed=$(lab_json "$S2" controlplane.data_relayed) udp_keepalive_ok=$(lab_json "$S2" controlplane.udp_keepalive_ok)"

for n in a b c d; do
    check "$n: TCP handshake with the control plane through the tap (replies: $(lab_client $n handshake_replies), connects: $(lab_client $n tcp_connects), lost: $(lab_client $n tcp_lost))" \
        eq "$(lab_client $n handshake_replies)/$(lab_client $n tcp_connects)/$(lab_client $n tcp_lost)" 1/1/0
done
sent_c=$(lab_client c sent); sent_d=$(lab_client d sent)
got_d=$(lab_client d rx_peer_unique); got_c=$(lab_client c rx_peer_unique)
check "c sent >= $(( TRATE * (DUR - 4) )) frames over TCP ($sent_c)" ge "$sent_c" $(( TRATE * (DUR - 4) ))
check "d sent >= $(( TRATE * (DUR - 4) )) frames over TCP ($sent_d)" ge "$sent_d" $(( TRATE * (DUR - 4) ))
check "d received c's frames over TCP: $got_d of $sent_c (<= 2 lost)" ge "${got_d:-0}" $(( sent_c - 2 ))
check "c received d's frames over TCP: $got_c of $sent_d (<= 2 lost)" ge "${got_c:-0}" $(( sent_d - 2 ))
check "c, d: everything over TCP (rx_udp $(lab_client c rx_udp)+$(lab_client d rx_udp)), no duplicates" \
    eq "$(lab_client c rx_udp)$(lab_client d rx_udp)$(lab_client c rx_duplicates)$(lab_client d rx_duplicates)" 0000

sent_a=$(lab_client a sent); sent_b=$(lab_client b sent)
got_b=$(lab_client b rx_peer_unique); got_a=$(lab_client a rx_peer_unique)
check "a, b bound over UDP (KeepAlive reply, seq echoed)" eq "$(lab_client a bound)$(lab_client b bound)" TrueTrue
check "a sent >= $(( RATE * (DUR - 4) )) frames ($sent_a)" ge "$sent_a" $(( RATE * (DUR - 4) ))
check "b sent >= $(( RATE * (DUR - 4) )) frames ($sent_b)" ge "$sent_b" $(( RATE * (DUR - 4) ))
check "b received a's frames: $got_b of $sent_a (<= 5 lost)" ge "${got_b:-0}" $(( sent_a - 5 ))
check "a received b's frames: $got_a of $sent_b (<= 5 lost)" ge "${got_a:-0}" $(( sent_b - 5 ))
check "a, b: no duplicates" eq "$(lab_client a rx_duplicates)$(lab_client b rx_duplicates)" 00
check "dataplane relayed >= 90% of a's and b's frames on the fast path ($(lab_json "$S2" dataplane.relayed))" \
    ge "$(lab_json "$S2" dataplane.relayed)" $(( (sent_a + sent_b) * 9 / 10 ))

# (4) The TCP traffic went through the exception path both ways.
d_to=$(( $(lab_json "$S2" dataplane.exception_to_kernel) - $(lab_json "$S1" dataplane.exception_to_kernel) ))
d_from=$(( $(lab_json "$S2" dataplane.exception_from_kernel) - $(lab_json "$S1" dataplane.exception_from_kernel) ))
check "clients: exception_to_kernel grew by $d_to (>= c's + d's TCP frames, $(( sent_c + sent_d )))" ge "$d_to" $(( sent_c + sent_d ))
check "clients: exception_from_kernel grew by $d_from (>= $(( sent_c + sent_d )))" ge "$d_from" $(( sent_c + sent_d ))
check "drop_exception_full = 0" eq "$(lab_json "$S2" dataplane.drop_exception_full)" 0
check "dataplane: no auth failures, nothing malformed" \
    eq "$(lab_json "$S2" dataplane.drop_auth_failed)/$(lab_json "$S2" dataplane.drop_malformed)" 0/0
DROPPED=$(ip netns exec "${P}gw" nft list table netdev rustun_lab_uplink | grep -o 'packets [0-9]*' | cut -d' ' -f2)
check "the kernel saw nothing on eth0 directly (netdev ingress dropped $DROPPED, > 0)" ge "${DROPPED:-0}" 1
[ "$FAILED" -ne 0 ] && dump_gw
true
