#!/usr/bin/env bash
# End-to-end tests of rustun-client with rustun-controlplane: real network namespaces, real TUN
# devices, real ping. Usage: tests/e2e/e2e.sh SCENARIO (meson: `meson test -C build --suite e2e`).
# Scenarios: relay p2p fallback address-change gateway-restart failover isolation stun udp-fallback
# udp-relay.
# Exit: 0 pass, 1 fail, 77 skip (not root, no `ip netns`; udp-relay also: fewer than 64 free
# hugepages, no nft, rustun-dataplane not built). Everything is torn down on exit.
set -uo pipefail
SCENARIO=${1:-}
E2E_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$E2E_ROOT/tests/e2e/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces, TUN)"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip command"; exit 77; }
probe_ns="rp$$"
ip netns add "$probe_ns" 2>/dev/null || { echo "SKIP: ip netns unavailable"; exit 77; }
ip netns del "$probe_ns"
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }

CLIENT=$(e2e_find_bin rustun-client RUSTUN_CLIENT) || { echo "FAIL: rustun-client not built"; exit 1; }
CP=$(e2e_find_bin rustun-controlplane RUSTUN_CONTROLPLANE) || { echo "FAIL: rustun-controlplane not built"; exit 1; }
CTL=$(e2e_find_bin rustunctl RUSTUNCTL) || { echo "FAIL: rustunctl not built"; exit 1; }

P="re$(( $$ % 10000 ))"
WORK=$(mktemp -d /tmp/rustun-e2e-XXXXXX)
RESULT=1
finish() {
    e2e_cleanup
    if [ "$RESULT" -eq 0 ] && [ -z "${E2E_KEEP:-}" ]; then
        rm -rf "$WORK"
    elif [ "$RESULT" -eq 0 ]; then
        echo "logs kept in $WORK (E2E_KEEP)"
    elif [ "$RESULT" -ne 77 ]; then
        echo "--- logs kept in $WORK ---"
        for f in "$WORK"/*.log; do echo "== $f (last 25 lines)"; tail -n 25 "$f"; done
    fi
}
trap finish EXIT
trap 'exit 1' INT TERM

step() { echo "[$SCENARIO +${SECONDS}s] $*"; }
fail() { echo "FAIL: $*"; exit 1; }
ping_ok() {  # NODE DST [COUNT]
    ip netns exec "${P}$1" ping -n -q -c "${3:-3}" -i 0.2 -W 1 "$2" >/dev/null 2>&1
}
connected() { st_is "$1" 's["server"]["connected"]' True; }
path_is() { st_is "$1" "peer(\"$2\")[\"path\"]" "$3"; }

base_setup() {
    e2e_setup_net || fail "network setup"
    e2e_write_gateway_config "$WORK/gateway.yaml"
    e2e_start_gateway || fail "gateway start"
}

# ---- scenarios -----------------------------------------------------------------------------

scenario_relay() {
    base_setup
    e2e_start_client a client-a
    e2e_start_client b client-b
    wait_for 10 "a connected" connected a || fail "client-a did not connect"
    wait_for 10 "b connected" connected b || fail "client-b did not connect"
    step "both connected; tun of a: $(st a 's["tun"]["address"]')"
    [ "$(st a 's["tun"]["address"]')" = 10.0.1.2 ] || fail "client-a TUN address"
    ip -n "${P}a" -4 addr show rtun0 | grep -q '10.0.1.2/24' || fail "rtun0 in a has no 10.0.1.2/24"
    ip -n "${P}b" route show 192.168.11.0/24 | grep -q 'dev rtun0' || fail "b has no route to a's LAN"
    wait_for 10 "ping a->b" ping_ok a 10.0.1.3 || fail "ping 10.0.1.3 from a (relay)"
    step "ping a -> b over the relay: ok"
    ping_ok b 192.168.11.1 || fail "ping a's LAN 192.168.11.1 from b"
    step "ping b -> 192.168.11.1 (a's LAN, via route) ok"
    local rx
    rx=$(st b 'peer("client-a")["relay_counters"]["rx_packets"]')
    [ "$rx" -ge 6 ] || fail "b relay rx from a = $rx, want >= 6"
    [ "$(st b 'peer("client-a")["path"]')" = relay ] || fail "path should be relay"
    "$CTL" --socket "$WORK/gateway.sock" clients | grep client-a | grep -q -i 'true\|yes\|online' ||
        fail "rustunctl does not show client-a online"
    step "status and rustunctl agree; stopping b"
    kill -TERM "${CLIENT_PID[b]}"
    wait_for 5 "b exited" bash -c "! kill -0 ${CLIENT_PID[b]}" || fail "client-b did not exit on SIGTERM"
    grep -q 'route 192.168.11.0/24 dev rtun0 removed' "$WORK/b.log" || fail "b did not remove its route"
    ip -n "${P}b" route show | grep -q 192.168.11 && fail "route still present in b"
    ip -n "${P}b" link show rtun0 >/dev/null 2>&1 && fail "rtun0 still present in b"
    RESULT=0
}

start_p2p_pair() {  # extra args for a
    base_setup
    e2e_start_client a client-a --enable-p2p "$@"
    e2e_start_client b client-b --enable-p2p --public-addr 172.31.77.12
    wait_for 10 "a connected" connected a || fail "client-a did not connect"
    wait_for 10 "b connected" connected b || fail "client-b did not connect"
    wait_for 15 "a->b p2p" path_is a client-b p2p || fail "a: no P2P path to b"
    wait_for 15 "b->a p2p" path_is b client-a p2p || fail "b: no P2P path to a"
    step "P2P up both ways"
}

p2p_counters() {  # NODE PEER -> "p2p_tx relay_tx"
    st "$1" "str(peer(\"$2\")[\"p2p_counters\"][\"tx_packets\"]) + ' ' + str(peer(\"$2\")[\"relay_counters\"][\"tx_packets\"])"
}

scenario_p2p() {
    start_p2p_pair --public-addr 172.31.77.11
    local before after
    before=($(p2p_counters a client-b))
    ping_ok a 10.0.1.3 5 || fail "ping over P2P"
    after=($(p2p_counters a client-b))
    step "a->b p2p tx ${before[0]} -> ${after[0]}, relay tx ${before[1]} -> ${after[1]}"
    [ $((after[0] - before[0])) -ge 5 ] || fail "p2p tx did not grow by 5"
    [ "${after[1]}" -eq "${before[1]}" ] || fail "relay was used while P2P was up"
    [ "$(st b 'peer("client-a")["p2p_counters"]["rx_packets"]')" -ge 5 ] || fail "b p2p rx < 5"
    [ "$(st a 'peer("client-b")["p2p_address"]')" = 172.31.77.12:51258 ] || fail "a: wrong p2p address of b"
    RESULT=0
}

scenario_fallback() {
    start_p2p_pair --public-addr 172.31.77.11
    ping_ok a 10.0.1.3 || fail "ping over P2P"
    step "blocking P2P UDP in a's namespace"
    ip netns exec "${P}a" nft -f - <<'NFT' || fail "nft"
table inet e2eblock {
  chain in { type filter hook input priority 0; udp dport 51258 drop; }
  chain out { type filter hook output priority 0; udp dport 51258 drop; }
}
NFT
    wait_for 20 "a falls back to relay" path_is a client-b relay || fail "a did not fall back"
    step "a uses the relay for b"
    wait_for 20 "b falls back to relay" path_is b client-a relay || fail "b did not fall back"
    local r0 r1
    r0=$(st a 'peer("client-b")["relay_counters"]["tx_packets"]')
    ping_ok a 10.0.1.3 3 || fail "ping over the relay while UDP is blocked"
    r1=$(st a 'peer("client-b")["relay_counters"]["tx_packets"]')
    [ $((r1 - r0)) -ge 3 ] || fail "relay tx did not grow ($r0 -> $r1)"
    step "ping works while blocked (relay tx $r0 -> $r1); unblocking"
    ip netns exec "${P}a" nft delete table inet e2eblock
    wait_for 15 "a back to p2p" path_is a client-b p2p || fail "a did not return to P2P"
    wait_for 15 "b back to p2p" path_is b client-a p2p || fail "b did not return to P2P"
    local p0 p1
    p0=$(st a 'peer("client-b")["p2p_counters"]["tx_packets"]')
    ping_ok a 10.0.1.3 3 || fail "ping after unblocking"
    p1=$(st a 'peer("client-b")["p2p_counters"]["tx_packets"]')
    [ $((p1 - p0)) -ge 3 ] || fail "p2p tx did not grow after unblocking"
    step "back on P2P"
    RESULT=0
}

scenario_address_change() {
    echo 172.31.77.11 > "$WORK/a.addr"
    start_p2p_pair --public-addr-cmd "cat $WORK/a.addr" --address-check-interval 2
    [ "$(st b 'peer("client-a")["p2p_address"]')" = 172.31.77.11:51258 ] || fail "b: a's address"
    step "moving a from 172.31.77.11 to 172.31.77.21"
    echo 172.31.77.21 > "$WORK/a.addr"
    ip -n "${P}a" addr del 172.31.77.11/24 dev eth0
    ip -n "${P}a" addr add 172.31.77.21/24 dev eth0
    wait_for 20 "b sees a's new address" st_is b 'peer("client-a")["advertised_address"]' 172.31.77.21:51258 ||
        fail "b did not learn a's new advertised address"
    grep -q "PeerUpdate: 'client-a' now at 172.31.77.21:51258" "$WORK/b.log" || fail "no PeerUpdate in b's log"
    step "b got the PeerUpdate"
    wait_for 20 "b p2p to new address" st_is b 'peer("client-a")["path"] + " " + peer("client-a")["p2p_address"]' \
        "p2p 172.31.77.21:51258" || fail "b: no P2P to a's new address"
    wait_for 20 "a p2p" path_is a client-b p2p || fail "a: no P2P after the move"
    local p0 p1
    p0=$(st b 'peer("client-a")["p2p_counters"]["tx_packets"]')
    ping_ok b 10.0.1.2 3 || fail "ping b->a after the move"
    p1=$(st b 'peer("client-a")["p2p_counters"]["tx_packets"]')
    [ $((p1 - p0)) -ge 3 ] || fail "b->a not over P2P after the move"
    step "P2P again after the address change"
    RESULT=0
}

scenario_gateway_restart() {
    base_setup
    e2e_start_client a client-a
    e2e_start_client b client-b
    wait_for 10 "a connected" connected a || fail "a did not connect"
    wait_for 10 "b connected" connected b || fail "b did not connect"
    wait_for 10 "ping" ping_ok a 10.0.1.3 || fail "ping before the restart"
    step "stopping the gateway"
    kill -TERM "$GW_PID"
    wait "$GW_PID" 2>/dev/null
    wait_for 10 "a notices" st_is a 's["server"]["connected"]' False || fail "a did not notice"
    ping_ok a 10.0.1.3 1 && fail "ping worked without a gateway"
    step "starting the gateway again"
    e2e_start_gateway || fail "gateway restart"
    wait_for 40 "a reconnected" st_is a 's["server"]["connected"] and s["server"]["connects"] >= 2' True ||
        fail "a did not reconnect"
    wait_for 40 "b reconnected" st_is b 's["server"]["connected"] and s["server"]["connects"] >= 2' True ||
        fail "b did not reconnect"
    step "both reconnected by themselves"
    wait_for 10 "ping after restart" ping_ok a 10.0.1.3 || fail "ping after the restart"
    step "ping works again"
    RESULT=0
}

# Two ordinary control planes with the same configuration (no fleet): gw (172.31.77.1) and gw2
# (172.31.77.2). A and B list both (`-s gw -s gw2`), relay through gw; kill -9 of gw moves both
# to gw2 and relayed pings resume. Prints the time from the kill to the first answered ping.
scenario_failover() {
    E2E_NODES+=(gw2)
    E2E_IP[gw2]=172.31.77.2
    base_setup
    sed -e "s|tcp: $GW_ADDR|tcp: ${E2E_IP[gw2]}:7000|" -e "s|$WORK/gateway.sock|$WORK/gateway2.sock|" \
        "$WORK/gateway.yaml" > "$WORK/gateway2.yaml"
    ip netns exec "${P}gw2" "$CP" --config "$WORK/gateway2.yaml" >> "$WORK/gateway2.log" 2>&1 &
    local gw2_pid=$!
    E2E_PIDS+=("$gw2_pid")
    wait_for 10 "gw2 up" "$CTL" --socket "$WORK/gateway2.sock" status || fail "second gateway start"
    e2e_start_client a client-a -s "${E2E_IP[gw2]}:7000"
    e2e_start_client b client-b --server "${E2E_IP[gw2]}:7000"
    wait_for 10 "a connected" connected a || fail "a did not connect"
    wait_for 10 "b connected" connected b || fail "b did not connect"
    [ "$(st a 's["server"]["servers"]')" = "['172.31.77.1:7000', '172.31.77.2:7000']" ] || fail "a's server list"
    [ "$(st a 's["server"]["address"]')" = "$GW_ADDR" ] || fail "a should start on the first address"
    wait_for 10 "ping via gw" ping_ok a 10.0.1.3 || fail "ping before the failover"
    step "both on gw, relay works; kill -9 of gw"
    local t0 t1
    t0=$EPOCHREALTIME
    kill -KILL "$GW_PID"
    wait "$GW_PID" 2>/dev/null
    local ok=0
    for _ in $(seq 60); do
        if ip netns exec "${P}a" ping -n -q -c 1 -W 0.5 10.0.1.3 >/dev/null 2>&1; then ok=1; break; fi
    done
    t1=$EPOCHREALTIME
    [ "$ok" = 1 ] || fail "relayed ping did not resume after the failover"
    step "relayed traffic resumed $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s after kill -9 (target 15 s)"
    [ "$(st a 's["server"]["address"]')" = "${E2E_IP[gw2]}:7000" ] || fail "a is not on gw2"
    [ "$(st b 's["server"]["address"]')" = "${E2E_IP[gw2]}:7000" ] || fail "b is not on gw2"
    [ "$(st a 's["server"]["failovers"] >= 1 and s["counters"]["server_failovers"] >= 1')" = True ] ||
        fail "a's failover not counted"
    grep -q "failing over to ${E2E_IP[gw2]}:7000" "$WORK/a.log" || fail "a did not log the failover"
    ping_ok b 192.168.11.1 || fail "b cannot reach a's LAN via gw2 (routes re-learnt?)"
    "$CTL" --socket "$WORK/gateway2.sock" clients | grep -q client-a || fail "gw2 does not list client-a"
    step "a and b on gw2, routes re-learnt, counted"
    RESULT=0
}

scenario_isolation() {
    base_setup
    e2e_start_client a client-a
    e2e_start_client c client-c -k aes256:other-tenant-key
    wait_for 10 "a connected" connected a || fail "a did not connect"
    wait_for 10 "c connected" connected c || fail "c did not connect"
    [ "$(st c 'len(s["peers"])')" = 1 ] || fail "c should see only its own cluster (client-y)"
    [ "$(st c 's["peers"][0]["identity"]')" = client-y ] || fail "c's peer list"
    ping_ok c 10.0.1.2 3 && fail "c (cluster other) reached 10.0.1.2 (client-a, cluster test)"
    [ "$(st a 's["counters"]["tcp_data_rx"]')" = 0 ] || fail "a received data from another cluster"
    "$CTL" --socket "$WORK/gateway.sock" stats | grep -Eq 'data_no_route +[1-9]' ||
        fail "gateway did not count data_no_route"
    step "c cannot reach a; the gateway dropped it (data_no_route)"
    # The wrong key for an identity is refused.
    e2e_start_client b client-b -k aes256:other-tenant-key
    sleep 2
    st_is b 's["server"]["connected"]' True && fail "client-b connected with another cluster's key"
    step "a client with another cluster's key is refused"
    RESULT=0
}

scenario_udp_fallback() {
    # --relay udp against a gateway without a UDP relay: no UDP KeepAlive reply, so relayed
    # data goes over TCP (the fallback).
    base_setup
    e2e_start_client a client-a --relay udp
    e2e_start_client b client-b --relay udp
    wait_for 10 "a connected" connected a || fail "a did not connect"
    wait_for 10 "b connected" connected b || fail "b did not connect"
    wait_for 10 "ping" ping_ok a 10.0.1.3 || fail "ping with --relay udp and no UDP relay"
    [ "$(st a 's["relay"]["in_use"]')" = tcp ] || fail "relay in use should be tcp"
    [ "$(st a 's["counters"]["udp_keepalive_tx"] > 0')" = True ] || fail "no UDP KeepAlive sent"
    step "UDP relay unanswered: data went over TCP"
    RESULT=0
}

scenario_udp_relay() {
    # UDP relay through rustun-dataplane (net_af_packet0 on the gateway's eth0, bifurcated,
    # `exception: none`) beside rustun-controlplane on the same channel. Two clients with
    # --relay udp: ping goes over the dataplane (its `relayed` grows, the clients' relay.in_use
    # is udp); dataplane stopped: the clients fall back to TCP within ~15 s; restarted: UDP again.
    # Bounded: a watchdog ends the scenario after 58 s, the dataplane runs at most 60 s.
    e2e_dp_available || { echo "SKIP: $E2E_DP_WHY"; RESULT=77; exit 77; }
    (
        trap - EXIT INT
        trap 'kill "$w" 2>/dev/null; exit 0' TERM
        sleep 58 & w=$!
        wait "$w" && { echo "FAIL: udp-relay took more than 58 s"; kill -TERM $$; }
    ) &
    E2E_PIDS+=("$!")
    e2e_setup_net || fail "network setup"
    e2e_dp_setup_nft || fail "nftables rule in the gateway namespace"
    e2e_write_gateway_config "$WORK/gateway.yaml" dataplane
    e2e_start_dataplane
    e2e_start_gateway || fail "gateway start"
    wait_for 20 "control plane attached to the dataplane" e2e_dp_attached ||
        fail "the control plane did not attach to the dataplane (status: $(e2e_ctl_json status dataplane))"
    step "dataplane ($DP) and control plane attached on $E2E_DP_CHANNEL"
    e2e_start_client a client-a --relay udp
    e2e_start_client b client-b --relay udp
    wait_for 10 "a connected" connected a || fail "a did not connect"
    wait_for 10 "b connected" connected b || fail "b did not connect"
    wait_for 10 "a bound over UDP" st_is a 's["relay"]["in_use"]' udp || fail "a: UDP relay not in use"
    wait_for 10 "b bound over UDP" st_is b 's["relay"]["in_use"]' udp || fail "b: UDP relay not in use"
    step "both clients bound: relay in use udp ($(st a 's["relay"]["udp_endpoint"]'))"

    local r0 r1 tx0 tx1 rx0 rx1
    r0=$(e2e_dp_relayed)
    tx0=$(st a 's["counters"]["udp_relay_data_tx"]')
    rx0=$(st a 's["counters"]["udp_relay_data_rx"]')
    wait_for 10 "ping a->b over UDP" ping_ok a 10.0.1.3 5 || fail "ping a->b over the UDP relay"
    r1=$(e2e_dp_relayed)
    tx1=$(st a 's["counters"]["udp_relay_data_tx"]')
    rx1=$(st a 's["counters"]["udp_relay_data_rx"]')
    step "ping a->b ok: dataplane relayed $r0 -> $r1, a udp_relay_data tx $tx0 -> $tx1, rx $rx0 -> $rx1"
    [ $((r1 - r0)) -ge 10 ] || fail "dataplane relayed grew by $((r1 - r0)), want >= 10 (5 requests + 5 replies)"
    [ $((tx1 - tx0)) -ge 5 ] || fail "a: udp_relay_data_tx grew by $((tx1 - tx0)), want >= 5"
    [ $((rx1 - rx0)) -ge 5 ] || fail "a: udp_relay_data_rx grew by $((rx1 - rx0)), want >= 5"
    [ "$(st b 's["counters"]["udp_relay_data_tx"] >= 5')" = True ] || fail "b: replies not sent over UDP"
    ping_ok b 10.0.1.2 3 || fail "ping b->a over the UDP relay"

    step "stopping the dataplane (SIGTERM)"
    local t_stop tcp0
    tcp0=$(st a 's["counters"]["tcp_data_tx"]')
    t_stop=$SECONDS
    e2e_stop_dataplane || fail "the dataplane did not exit within 10 s of SIGTERM"
    [ "$E2E_DP_RC" = 0 ] || fail "dataplane exit status $E2E_DP_RC after SIGTERM"
    [ ! -e "$E2E_DP_CHANNEL" ] || fail "channel $E2E_DP_CHANNEL left behind by the dataplane"
    wait_for 5 "control plane detached" e2e_dp_detached ||
        fail "the control plane still reports the dataplane attached"
    wait_for 22 "ping a->b over TCP" ping_ok a 10.0.1.3 2 || fail "no ping within 22 s of stopping the dataplane"
    step "ping works again $((SECONDS - t_stop)) s after the stop"
    ping_ok a 10.0.1.3 3 || fail "ping a->b over TCP"
    [ "$(st a 's["relay"]["in_use"]')" = tcp ] || fail "a: relay in use should be tcp without the dataplane"
    [ "$(st b 's["relay"]["in_use"]')" = tcp ] || fail "b: relay in use should be tcp without the dataplane"
    [ $(( $(st a 's["counters"]["tcp_data_tx"]') - tcp0 )) -ge 3 ] || fail "a: tcp_data_tx did not grow"
    grep -q 'falls back to TCP' "$WORK/a.log" || fail "a did not log the fallback"
    step "both clients on TCP (fallback); a tcp_data_tx $tcp0 -> $(st a 's["counters"]["tcp_data_tx"]')"

    step "starting the dataplane again"
    e2e_start_dataplane "$WORK/dataplane2.log"
    wait_for 15 "control plane re-attached" e2e_dp_attached || fail "the control plane did not re-attach"
    wait_for 10 "a bound over UDP again" st_is a 's["relay"]["in_use"]' udp || fail "a: UDP relay not resumed"
    wait_for 10 "b bound over UDP again" st_is b 's["relay"]["in_use"]' udp || fail "b: UDP relay not resumed"
    # The new dataplane learns the bindings from the control plane's re-push; a frame to a peer
    # it has not seen a Data frame from yet may still go over that peer's TCP session
    # (to_controlplane_tcp), so one warm-up ping first.
    ping_ok a 10.0.1.3 1 || fail "first ping a->b after the dataplane restart"
    r0=$(e2e_dp_relayed)
    tx0=$(st a 's["counters"]["udp_relay_data_tx"]')
    ping_ok a 10.0.1.3 5 || fail "ping a->b after the dataplane restart"
    r1=$(e2e_dp_relayed)
    tx1=$(st a 's["counters"]["udp_relay_data_tx"]')
    step "UDP relay resumed $((SECONDS - t_stop)) s after the stop: relayed $r0 -> $r1, a udp tx $tx0 -> $tx1 (to_controlplane_tcp $(e2e_ctl_json stats dataplane.to_controlplane_tcp))"
    [ $((r1 - r0)) -ge 10 ] || fail "new dataplane relayed grew by $((r1 - r0)), want >= 10"
    [ $((tx1 - tx0)) -ge 5 ] || fail "a: udp_relay_data_tx did not grow after the restart"
    RESULT=0
}

scenario_stun() {
    # --public-addr-stun against a minimal RFC 5389 responder in the gateway namespace (a
    # stand-in for the dataplane's STUN responder): A advertises the mapped address of its
    # P2P socket, B reaches A over P2P.
    cat > "$WORK/stun.py" <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("172.31.77.1", 3478))
while True:
    d, (ip, port) = s.recvfrom(2048)
    if len(d) < 20 or d[0:2] != b"\x00\x01" or d[4:8] != b"\x21\x12\xa4\x42":
        continue
    xport = port ^ 0x2112
    xip = struct.unpack("!I", socket.inet_aton(ip))[0] ^ 0x2112A442
    attr = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, xport, xip)
    s.sendto(struct.pack("!HH", 0x0101, len(attr)) + d[4:20] + attr, (ip, port))
PY
    base_setup
    ip netns exec "${P}gw" "$SYS_PY" "$WORK/stun.py" > "$WORK/stun.log" 2>&1 &
    E2E_PIDS+=("$!")
    sleep 0.3
    e2e_start_client a client-a --enable-p2p --public-addr-stun 172.31.77.1:3478
    e2e_start_client b client-b --enable-p2p --public-addr 172.31.77.12
    wait_for 10 "a learned its address" st_is a 's["p2p"]["public_address"]' 172.31.77.11:51258 ||
        fail "a did not learn its address by STUN"
    wait_for 10 "b sees a's STUN address" st_is b 'peer("client-a")["advertised_address"]' 172.31.77.11:51258 ||
        fail "b did not get a's STUN address from the gateway"
    wait_for 15 "p2p" path_is b client-a p2p || fail "no P2P"
    step "a's STUN-mapped address reached b through the gateway; P2P up"
    RESULT=0
}

case "$SCENARIO" in
    relay) scenario_relay ;;
    p2p) scenario_p2p ;;
    fallback) scenario_fallback ;;
    address-change) scenario_address_change ;;
    gateway-restart) scenario_gateway_restart ;;
    failover) scenario_failover ;;
    isolation) scenario_isolation ;;
    udp-fallback) scenario_udp_fallback ;;
    udp-relay) scenario_udp_relay ;;
    stun) scenario_stun ;;
    *) echo "usage: $0 relay|p2p|fallback|address-change|gateway-restart|failover|isolation|udp-fallback|udp-relay|stun"; exit 2 ;;
esac
[ "$RESULT" -eq 0 ] && echo "PASS: $SCENARIO ($SECONDS s)"
exit "$RESULT"
