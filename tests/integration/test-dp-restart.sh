#!/usr/bin/env bash
# Integration 4 (docs/architecture.md, "The control plane survives a dataplane restart"): during traffic, stop the dataplane (SIGTERM) and start
# it again. The clients' TCP sessions with the control plane stay up (no reconnect: the gateway's
# conn_accepted does not grow), the control plane re-attaches to the new channel and re-pushes its
# state (clients, keys and the UDP bindings), and UDP relaying resumes after the clients' next
# KeepAlive (frames to a bound but not yet live peer go over its TCP session meanwhile).
TEST_NAME=dp-restart
. "$(dirname "$0")/common.sh"

lab_start_gateway || die "gateway start"
RATE=100
DUR=15
START=$(date +%s.%N | awk '{printf "%.3f", $1 + 1.5}')
lab_start_client a udp $DUR b --rate $RATE --start-at "$START" --rebind 2
lab_start_client b udp $DUR a --rate $RATE --start-at "$START" --rebind 2
rx_udp() { local x y; x=$(lab_progress a rx_udp); y=$(lab_progress b rx_udp); echo $(( ${x/null/0} + ${y/null/0} )); }
rx_all() { local x y; x=$(lab_progress a rx_peer_unique); y=$(lab_progress b rx_peer_unique); echo $(( ${x/null/0} + ${y/null/0} )); }
lab_wait 10 eval '[ "$(rx_udp)" -ge 200 ]' || die "no UDP traffic before the restart"
accepted0=$(lab_stat controlplane.conn_accepted)
syncs0=$(lab_stat controlplane.dataplane_syncs)
echo "before: conn_accepted=$accepted0 dataplane_syncs=$syncs0 handshake_ok=$(lab_stat controlplane.handshake_ok)"

lab_log "SIGTERM dataplane"
lab_stop "$LAB_DP_PID" 10
check "dataplane stopped cleanly on SIGTERM (exit $LAB_STOP_RC)" eq "$LAB_STOP_RC" 0
check "channel file removed at exit" eval '[ ! -e "$LAB_CHANNEL" ]'
check "control plane noticed (status: dataplane not attached)" \
    lab_wait 3 eval '[ "$(lab_json "$(lab_ctl --json status)" dataplane)" = "not attached" ]'
sleep 1
lab_log "start dataplane again"
lab_start_dp "$WORK/dataplane2.log"
lab_wait 15 lab_cp_attached || die "control plane did not re-attach"
lab_wait 10 lab_dp_synced "$WORK/dataplane2.log" || die "new dataplane applied no sync"
grep 'sync cp_epoch .* applied' "$WORK/dataplane2.log"
grep 'full state pushed' "$WORK/controlplane.log" | tail -1
check "the re-push carried both UDP bindings" \
    eval 'grep "sync cp_epoch .* applied" "$WORK/dataplane2.log" | head -1 | grep -q " 2 endpoints"'
resume_at=$(rx_udp)
check "UDP relay resumed within 4 s (one re-bind period + 2 s)" lab_wait 4 eval '[ "$(rx_udp)" -ge $(( resume_at + 100 )) ]'
lab_wait_client a
lab_wait_client b
S=$(lab_ctl --json stats)
echo "a: $(cat "$WORK/a.json")"
echo "b: $(cat "$WORK/b.json")"
echo "new dataplane: $(lab_json "$S" dataplane | tr -d "{}' " | tr , ' ' | sed 's/[a-z_0-9]*:0 //g')"
accepted1=$(lab_json "$S" controlplane.conn_accepted)
check "no TCP reconnect: conn_accepted $accepted0 -> $accepted1" eq "$accepted1" "$accepted0"
check "clients kept their TCP session (connects a/b: $(lab_client a tcp_connects)/$(lab_client b tcp_connects), lost: $(lab_client a tcp_lost)/$(lab_client b tcp_lost))" \
    eq "$(lab_client a tcp_connects)$(lab_client b tcp_connects)$(lab_client a tcp_lost)$(lab_client b tcp_lost)" 1100
check "control plane re-pushed its state (dataplane_syncs $syncs0 -> $(lab_json "$S" controlplane.dataplane_syncs), dataplane_lost $(lab_json "$S" controlplane.dataplane_lost))" \
    eval '[ "$(lab_json "$S" controlplane.dataplane_syncs)" -gt "$syncs0" ] && [ "$(lab_json "$S" controlplane.dataplane_lost)" -ge 1 ]'
check "new dataplane relayed UDP->UDP (relayed $(lab_json "$S" dataplane.relayed))" ge "$(lab_json "$S" dataplane.relayed)" 200
check "no duplicates" eq "$(lab_client a rx_duplicates)$(lab_client b rx_duplicates)" 00
sent=$(( $(lab_client a sent) + $(lab_client b sent) )); got=$(( $(lab_client a rx_peer_unique) + $(lab_client b rx_peer_unique) ))
echo "delivered $got of $sent (over TCP while the peer was not live yet: $(( $(lab_client a rx_tcp) + $(lab_client b rx_tcp) )))"
# Lost: what was sent to the relay port while no dataplane ran (about 1.5 s x 2 x RATE) and no more.
check "lost only while the dataplane was down: $(( sent - got )) <= $(( 2 * RATE * 3 ))" le $(( sent - got )) $(( 2 * RATE * 3 ))
