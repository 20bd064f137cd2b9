#!/usr/bin/env bash
# Integration 1: two UDP clients in two namespaces bind over UDP and relay to each other through
# rustun-dataplane (frames never touch the control plane's TCP path once both are bound).
TEST_NAME=udp-relay
. "$(dirname "$0")/common.sh"

lab_start_gateway || die "gateway start"
RATE=100
DUR=7
START=$(date +%s.%N | awk '{printf "%.3f", $1 + 1.5}')
lab_start_client a udp $DUR b --rate $RATE --start-at "$START"
lab_start_client b udp $DUR a --rate $RATE --start-at "$START"
lab_wait_client a
lab_wait_client b
S=$(lab_ctl --json stats)
echo "a: $(cat "$WORK/a.json")"
echo "b: $(cat "$WORK/b.json")"
echo "dataplane: relayed=$(lab_json "$S" dataplane.relayed) to_controlplane_tcp=$(lab_json "$S" dataplane.to_controlplane_tcp) punted=$(lab_json "$S" dataplane.punted) drop_unknown_endpoint=$(lab_json "$S" dataplane.drop_unknown_endpoint)"

sent_a=$(lab_client a sent); sent_b=$(lab_client b sent)
got_b=$(lab_client b rx_peer_unique); got_a=$(lab_client a rx_peer_unique)
check "both clients bound over UDP (KeepAlive reply with seq echoed)" \
    eq "$(lab_client a bound)$(lab_client b bound)" TrueTrue
check "a sent >= $(( RATE * (DUR - 3) )) frames ($sent_a)" ge "$sent_a" $(( RATE * (DUR - 3) ))
check "b sent >= $(( RATE * (DUR - 3) )) frames ($sent_b)" ge "$sent_b" $(( RATE * (DUR - 3) ))
# Both start together after both are bound; allow a small startup window (a peer not yet live
# goes over TCP, so even that should arrive).
check "b received a's frames: $got_b of $sent_a (<= 5 lost)" ge "${got_b:-0}" $(( sent_a - 5 ))
check "a received b's frames: $got_a of $sent_b (<= 5 lost)" ge "${got_a:-0}" $(( sent_b - 5 ))
check "no duplicates (a: $(lab_client a rx_duplicates), b: $(lab_client b rx_duplicates))" \
    eq "$(lab_client a rx_duplicates)$(lab_client b rx_duplicates)" 00
check "most frames arrived over UDP (a: $(lab_client a rx_udp), b: $(lab_client b rx_udp))" \
    ge "$(( $(lab_client a rx_udp) + $(lab_client b rx_udp) ))" $(( (sent_a + sent_b) * 9 / 10 ))
check "dataplane relayed > 0 and >= 90% of the frames" \
    ge "$(lab_json "$S" dataplane.relayed)" $(( (sent_a + sent_b) * 9 / 10 ))
check "dataplane: no auth failures" eq "$(lab_json "$S" dataplane.drop_auth_failed)" 0
check "control plane accepted UDP KeepAlives" ge "$(lab_json "$S" controlplane.udp_keepalive_ok)" 2

# The same counters through rte_telemetry (what dpdk-telemetry.py reads).
TQ="$(dirname "$0")/telemetry_query.py"
T_STATS=$(/usr/bin/python3 "$TQ" "rustun-lab-$P" /rustun/stats 2>&1)
T_DROPS=$(/usr/bin/python3 "$TQ" "rustun-lab-$P" /rustun/drops 2>&1)
T_SESS=$(/usr/bin/python3 "$TQ" "rustun-lab-$P" /rustun/sessions 2>&1)
echo "telemetry /rustun/stats: ${T_STATS:0:300}"
echo "telemetry /rustun/sessions: ${T_SESS:0:300}"
check "telemetry /rustun/stats answers with relayed > 0" \
    eq "$(echo "$T_STATS" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); t=d.get("total", d); print(int(t["relayed"]) > 0)' 2>/dev/null)" True
check "telemetry /rustun/drops lists only drop_* counters" \
    eq "$(echo "$T_DROPS" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); t=d.get("total", d); print(all(k.startswith("drop_") for k in t) and "drop_auth_failed" in t)' 2>/dev/null)" True
check "telemetry /rustun/sessions counts the 2 bound endpoints" \
    eq "$(echo "$T_SESS" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d.get("sessions", d.get("count", -1))))' 2>/dev/null)" 2
