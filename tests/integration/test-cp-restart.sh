#!/usr/bin/env bash
# Integration 3 (docs/architecture.md, "The dataplane survives a control-plane restart"): during UDP traffic between two bound clients, kill -9
# the control plane. The dataplane keeps relaying on its last tables. Restart the control plane:
# it re-attaches to the same channel, pushes a full sync that the dataplane applies
# (dp_applied_cp_epoch = the new cp_epoch), the clients re-handshake over TCP, and no frame is
# delivered twice.
# a and b re-bind over UDP every 2 s; c binds once (re-bind period 60 s, longer than the test) and
# sends to a at 20/s: its frames must keep flowing after the restart too, since the dataplane still
# has c's binding and "a restarted control plane resynchronises the full state" (nothing lost).
TEST_NAME=cp-restart
. "$(dirname "$0")/common.sh"

lab_start_gateway || die "gateway start"
RATE=100
DUR=17
START=$(date +%s.%N | awk '{printf "%.3f", $1 + 1.5}')
lab_start_client a udp $DUR b --rate $RATE --start-at "$START" --rebind 2
lab_start_client b udp $DUR a --rate $RATE --start-at "$START" --rebind 2
lab_start_client c udp $DUR a --rate 20 --start-at "$START" --rebind 60
rx_sum() { local x y; x=$(lab_progress a rx_peer_unique); y=$(lab_progress b rx_peer_unique); echo $(( ${x/null/0} + ${y/null/0} )); }
lab_wait 10 eval '[ "$(rx_sum)" -ge 200 ]' || die "no traffic before the kill (rx $(rx_sum))"

CPD=$(lab_child_of "$LAB_CP_PID")
[ -n "$CPD" ] || die "control plane pid not found"
lab_log "kill -9 control plane (pid $CPD)"
kill -KILL "$CPD"
wait "$LAB_CP_PID" 2>/dev/null
sleep 0.2
before=$(rx_sum); udp_before=$(( $(lab_progress a rx_udp) + $(lab_progress b rx_udp) ))
sleep 3
after=$(rx_sum); udp_after=$(( $(lab_progress a rx_udp) + $(lab_progress b rx_udp) ))
lab_log "control plane down 3 s: peers received $(( after - before )) frames ($(( udp_after - udp_before )) over UDP)"
check "UDP relay kept working with the control plane down: $(( udp_after - udp_before )) frames in 3 s (>= $(( 2 * RATE * 3 * 8 / 10 )))" \
    ge $(( udp_after - udp_before )) $(( 2 * RATE * 3 * 8 / 10 ))
# At least once each: a reconnect may land in the dying listener's backlog and be reset too.
check "the clients saw their TCP session drop (a: $(lab_progress a tcp_lost), b: $(lab_progress b tcp_lost))" \
    ge "$(( $(lab_progress a tcp_lost) >= 1 && $(lab_progress b tcp_lost) >= 1 ))" 1

lab_log "restart control plane"
c_sent_at_restart=$(lab_progress c sent); a_from_c_at_restart=$(lab_progress a seen_counts/${LAB_VPN[c]})
lab_start_cp "$WORK/controlplane.log"
lab_wait 10 lab_cp_attached || die "restarted control plane did not attach"
lab_wait 10 eval '[ "$(grep -c "sync cp_epoch .* applied" "$WORK/dataplane.log")" -ge 2 ]' || die "no second sync applied"
lab_wait 5 eval '[ "$(lab_progress a handshake_replies)$(lab_progress b handshake_replies)$(lab_progress c handshake_replies)" = 222 ]'
check "clients re-handshook (handshakes a/b/c: $(lab_progress a handshake_replies)/$(lab_progress b handshake_replies)/$(lab_progress c handshake_replies))" \
    eq "$(lab_progress a handshake_replies)$(lab_progress b handshake_replies)$(lab_progress c handshake_replies)" 222
mid=$(rx_sum)
sleep 3
check "relay goes on after the restart ($(( $(rx_sum) - mid )) frames in 3 s)" ge $(( $(rx_sum) - mid )) $(( 2 * RATE * 3 * 8 / 10 ))
lab_wait_client a
lab_wait_client b
lab_wait_client c
S=$(lab_ctl --json stats)
echo "a: $(cat "$WORK/a.json")"
echo "b: $(cat "$WORK/b.json")"
echo "c: $(cat "$WORK/c.json")"
echo "dataplane: $(lab_json "$S" dataplane | tr -d "{}' " | tr , ' ' | sed 's/[a-z_0-9]*:0 //g')"

# The epoch the new control plane pushed (hex in its log) is the one the dataplane applied last.
cp_epoch_hex=$(grep -o 'full state pushed (epoch [0-9a-f]*' "$WORK/controlplane.log" | tail -1 | awk '{print $NF}')
dp_epoch=$(grep -o 'sync cp_epoch [0-9]* applied' "$WORK/dataplane.log" | tail -1 | awk '{print $3}')
first_dp_epoch=$(grep -o 'sync cp_epoch [0-9]* applied' "$WORK/dataplane.log" | head -1 | awk '{print $3}')
cp_epoch=$("$SYS_PY" -c "print(int('$cp_epoch_hex', 16))" 2>/dev/null)
echo "dp_applied_cp_epoch: first $first_dp_epoch, last $dp_epoch; restarted control plane pushed $cp_epoch ($cp_epoch_hex)"
check "dataplane applied the restarted control plane's sync (dp_applied_cp_epoch = new cp_epoch)" \
    eval '[ -n "$cp_epoch" ] && [ "$dp_epoch" = "$cp_epoch" ] && [ "$dp_epoch" != "$first_dp_epoch" ]'

sent_a=$(lab_client a sent); sent_b=$(lab_client b sent)
got_b=$(lab_client b rx_peer_unique); got_a=$(lab_client a rx_peer_unique)
check "no duplicates (a: $(lab_client a rx_duplicates), b: $(lab_client b rx_duplicates))" \
    eq "$(lab_client a rx_duplicates)$(lab_client b rx_duplicates)" 00
lost=$(( sent_a - got_b + sent_b - got_a ))
echo "lost: a->b $(( sent_a - got_b )) of $sent_a, b->a $(( sent_b - got_a )) of $sent_b; dataplane drop_unknown_endpoint=$(lab_json "$S" dataplane.drop_unknown_endpoint) drop_dst_not_live=$(lab_json "$S" dataplane.drop_dst_not_live)"
# docs/architecture.md, "The dataplane survives a control-plane restart": nothing is lost. The only tolerated loss is the frames in flight while the kill
# happens (a datagram sent to a peer whose path is being rebound): at most 10 per direction.
check "nothing lost across the restart (lost $lost, tolerance 20)" le "$lost" 20
c_after=$(( $(lab_client c sent) - c_sent_at_restart ))
a_from_c_after=$(( $(lab_client a seen_counts/${LAB_VPN[c]}) - a_from_c_at_restart ))
check "c (bound once, no re-bind) still relayed to a after the restart: $a_from_c_after of $c_after (>= 90%)" \
    ge "$a_from_c_after" $(( c_after * 9 / 10 ))
