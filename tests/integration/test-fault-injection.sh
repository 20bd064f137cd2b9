#!/usr/bin/env bash
# Integration: faults under relay load (docs/security.md). Clients a <-> b relay Data over UDP
# through the dataplane for the whole run, while the test, one fault after another:
#   1. replays a Handshake (client-c's captured bytes, three times): the victim keeps its session;
#   2. floods the gateway with idle TCP connections from one address and, during the flood,
#      completes a legitimate Handshake;
#   3. runs a client that stops reading (client-c) while client-d sends it Data over the TCP
#      relay: the gateway drops that client alone; client-d keeps its session;
#   4. floods the relay port with unauthenticated KeepAlive-shaped datagrams (punt ring);
#   5. stops the dataplane (SIGSTOP) for 2 s during traffic and a burst that overflows the kernel's
#      packet ring, then lets it go on;
#   6. kill -9 of the control plane, and a restart;
#   7. kill -9 of the dataplane (its channel file stays behind), and a restart.
# Asserted: no daemon crashes (each one is alive at the end unless we killed it), the other clients
# are unaffected (a <-> b relay goes on through every fault and resumes after each restart), every
# packet a and b lost while the dataplane ran is counted by a named drop counter, and the state is
# resynchronised after each restart.
TEST_NAME=fault-injection
LAB_EXTRA_NODES="d"
. "$(dirname "$0")/common.sh"
LAB_LIMIT=150

# Small output queues so that a client that stops reading is found quickly.
sed -i 's/^controlplane:$/controlplane:\n  output_queue_bytes: 131072/' "$LAB_CONFIG"
lab_start_gateway || die "gateway start"
FT() { local n=$1; shift; timeout -k 2 30 ip netns exec "${P}$n" "$SYS_PY" "$LAB_ROOT/tests/integration/fault_tools.py" "$@"; }
dp_pid() { lab_child_of "$LAB_DP_PID"; }
cp_pid() { lab_child_of "$LAB_CP_PID"; }
# Sum of the dataplane's drop counters (drop_*) from rustunctl's JSON, without drop_not_for_us and
# drop_not_ip: in this bifurcated set-up those are the kernel's own traffic (the control plane's
# TCP, ARP), which the dataplane sees and leaves to the kernel.
dp_drops() {
    "$SYS_PY" -c '
import json, sys
d = json.loads(sys.argv[1]).get("dataplane") or {}
print(sum(v for k, v in d.items() if k.startswith("drop_") and k not in ("drop_not_for_us", "drop_not_ip")
          and isinstance(v, int)))' "$(lab_ctl --json stats 2>/dev/null || echo '{}')"
}
# a and b: Data sent and received (unique), summed over both directions.
ab_sent() { local x y; x=$(lab_progress a sent); y=$(lab_progress b sent); echo $(( ${x/null/0} + ${y/null/0} )); }
ab_got() { local x y; x=$(lab_progress a rx_peer_unique); y=$(lab_progress b rx_peer_unique); echo $(( ${x/null/0} + ${y/null/0} )); }
ab_udp() { local x y; x=$(lab_progress a rx_udp); y=$(lab_progress b rx_udp); echo $(( ${x/null/0} + ${y/null/0} )); }
relay_goes_on() {  # SECONDS: a and b receive at least 50 more frames over UDP within SECONDS
    local base
    base=$(ab_udp)
    lab_wait "$1" eval '[ "$(ab_udp)" -ge $(( base + 50 )) ]'
}

RATE=100
DUR=70
lab_start_client a udp $DUR b --rate $RATE --rebind 1
lab_start_client b udp $DUR a --rate $RATE --rebind 1
lab_wait 15 eval '[ "$(ab_udp)" -ge 200 ]' || die "no UDP relay between a and b before the faults"
echo "a <-> b relaying over UDP: $(ab_udp) frames"

lab_log "1. Handshake replay"
r=$(FT c handshake-replay --gateway "$LAB_GW" --identity client-c --replays 3)
echo "   $r"
check "a replayed Handshake never closes the victim's session" eq "$(lab_json "$r" victim_alive)" True
check "the replays were refused (handshake_replayed = $(lab_stat controlplane.handshake_replayed))" \
    ge "$(lab_stat controlplane.handshake_replayed)" 3

lab_log "2. idle-connection flood"
FT c idle-flood --gateway "$LAB_GW" --count 300 --hold 4 > "$WORK/flood.json" &
flood=$!
sleep 1
r=$(FT d handshake-replay --gateway "$LAB_GW" --identity client-d --replays 0)
echo "   legitimate client during the flood: $r"
check "a legitimate client completes its Handshake during an idle flood" eq "$(lab_json "$r" victim_alive)" True
wait "$flood"
echo "   flood: $(cat "$WORK/flood.json"); pending refused/evicted: $(lab_stat controlplane.handshake_pending_source_full)/$(lab_stat controlplane.handshake_pending_evicted)"
check "the flood hit the per-source cap" ge "$(( $(lab_stat controlplane.handshake_pending_source_full) + $(lab_stat controlplane.handshake_pending_evicted) ))" 1

lab_log "3. a client that stops reading"
FT c slow-reader --gateway "$LAB_GW" --identity client-c --hold 12 > "$WORK/slow.json" &
slow=$!
sleep 1
lab_start_client d tcp 10 c --rate 2000 --size 1200 --keepalive 1
wait "$slow"
lab_wait_client d
echo "   slow reader: $(cat "$WORK/slow.json"); slow_client_disconnect=$(lab_stat controlplane.slow_client_disconnect)"
check "the gateway dropped the client that stopped reading" eq "$(lab_json "$(cat "$WORK/slow.json")" closed_by_gateway)" True
check "counted as slow_client_disconnect" ge "$(lab_stat controlplane.slow_client_disconnect)" 1
check "the sender to it kept its own session (d: connects $(lab_client d tcp_connects), lost $(lab_client d tcp_lost))" \
    eq "$(lab_client d tcp_connects)$(lab_client d tcp_lost)" 10
check "a <-> b unaffected so far" relay_goes_on 5

lab_log "4. punt flood on the relay port"
r=$(FT c punt-flood --relay "$LAB_GW" --count 20000 --rate 20000)
echo "   $r; punted=$(lab_stat dataplane.punted) drop_punt_rate_limited=$(lab_stat dataplane.drop_punt_rate_limited) drop_ring_full=$(lab_stat dataplane.drop_ring_full) udp_punt_rejected=$(lab_stat controlplane.udp_punt_rejected)"
check "the flood was rate-limited per source in the dataplane" ge "$(lab_stat dataplane.drop_punt_rate_limited)" 1000
check "a <-> b relay goes on after the punt flood" relay_goes_on 5

lab_log "5. SIGSTOP the dataplane for 2 s, with a burst on the relay port meanwhile"
sleep 1
s0=$(ab_sent); g0=$(ab_got); d0=$(dp_drops); p0=$(lab_stat dataplane.punted); k0=$(lab_stat dataplane.drop_port_kernel_ring)
kill -STOP "$(dp_pid)"
# 3,000 datagrams while nobody reads: more than the kernel's packet ring holds.
burst=$(FT c punt-flood --relay "$LAB_GW" --count 3000 --rate 3000)
sleep 0.5
kill -CONT "$(dp_pid)"
check "a <-> b relay resumes after the stop" relay_goes_on 5
sleep 2  # frames in flight at the end of the window arrive; the kernel-ring counter is read every second
s1=$(ab_sent); g1=$(ab_got); d1=$(dp_drops); p1=$(lab_stat dataplane.punted); k1=$(lab_stat dataplane.drop_port_kernel_ring)
bsent=$(lab_json "$burst" sent)
lost=$(( (s1 - s0) - (g1 - g0) + bsent )); counted=$(( d1 - d0 + p1 - p0 ))
echo "   window: a/b sent $((s1 - s0)), received $((g1 - g0)); burst $bsent; not delivered $lost; counted $counted (drops $((d1 - d0)), punted $((p1 - p0)), of which kernel ring $((k1 - k0)))"
echo "   $(lab_ctl --json stats | "$SYS_PY" -c 'import json,sys; d=json.load(sys.stdin)["dataplane"]; print({k: v for k, v in d.items() if k.startswith("drop_") and v})')"
check "the kernel's packet-ring overflow is counted (drop_port_kernel_ring +$((k1 - k0)))" ge $(( k1 - k0 )) 1
# Every datagram of a and b that did not arrive, and every burst datagram (none is relayed), is
# in a drop counter or was punted (and refused by the control plane). Tolerance: the clients
# rewrite their counters every 200 ms, so a's "sent" and b's "received" may be up to 200 ms apart
# (2 x RATE / 5 frames), plus 4 in flight. Without drop_port_kernel_ring ~2,800 would be missing.
tol=$(( 2 * RATE / 5 + 4 ))
check "every datagram of the window is accounted for ($lost not delivered <= $counted counted + $tol)" le "$lost" $(( counted + tol ))
check "the dataplane survived SIGSTOP/SIGCONT" kill -0 "$(dp_pid)"

lab_log "6. kill -9 the control plane, restart it"
accepted_before=$(lab_stat controlplane.conn_accepted)
kill -KILL "$(cp_pid)"
wait "$LAB_CP_PID" 2>/dev/null
check "the dataplane relays a <-> b while the control plane is dead" relay_goes_on 5
lab_start_cp "$WORK/controlplane2.log"
check "the restarted control plane re-attaches" lab_wait 15 lab_cp_attached
check "and the dataplane applied its full sync" lab_wait 10 eval '[ "$(grep -c "sync cp_epoch .* applied" "$WORK/dataplane.log")" -ge 2 ]'
check "a <-> b relay goes on after the control-plane restart" relay_goes_on 8

lab_log "7. kill -9 the dataplane (its channel stays behind), restart it"
kill -KILL "$(dp_pid)"
wait "$LAB_DP_PID" 2>/dev/null
check "the control plane noticed (dataplane not attached)" \
    lab_wait 5 eval '[ "$(lab_json "$(lab_ctl --json status)" dataplane)" != attached ]'
lab_start_dp "$WORK/dataplane2.log"
check "the control plane attaches to the restarted dataplane" lab_wait 20 lab_cp_attached
check "which applied a full sync" lab_wait 10 lab_dp_synced "$WORK/dataplane2.log"
check "a <-> b relay resumes on the new dataplane" relay_goes_on 10

lab_wait_client a
lab_wait_client b
echo "a: $(cat "$WORK/a.json")"
echo "b: $(cat "$WORK/b.json")"
check "no daemon crashed: the control plane is alive" kill -0 "$(cp_pid)"
check "no daemon crashed: the dataplane is alive" kill -0 "$(dp_pid)"
check "no duplicates at a or b" eq "$(lab_client a rx_duplicates)$(lab_client b rx_duplicates)" 00
check "no frame on a TCP stream broke it (a/b bad streams: $(lab_client a tcp_bad_stream)/$(lab_client b tcp_bad_stream))" \
    eq "$(lab_client a tcp_bad_stream)$(lab_client b tcp_bad_stream)" nullnull
echo "sanitised logs: $(grep -ciE 'sanitizer|segfault|abort' "$WORK"/*.log | tr '\n' ' ')"
check "no crash report in any log" eval '! grep -qiE "AddressSanitizer|runtime error|Segmentation|core dumped" "$WORK"/*.log'
