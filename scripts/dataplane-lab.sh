#!/usr/bin/env bash
# The integration-test topology, brought up by hand: rustun-dataplane on net_af_packet over a veth
# and rustun-controlplane in a gateway namespace, three client namespaces on a bridge
# (tests/integration/lib.sh draws it). Nothing touches the host's network.
#
#   scripts/dataplane-lab.sh up        namespaces, config, both daemons (each bounded: LAB_LIMIT s, default 3600)
#   scripts/dataplane-lab.sh status    namespaces, processes, rustunctl status/clients/stats
#   scripts/dataplane-lab.sh traffic [SECONDS]   a <-> b over the UDP relay, JSON summaries
#   scripts/dataplane-lab.sh down      stops the daemons (SIGTERM), removes namespaces and files
#
# Root, free hugepages, `ip netns`, nft. Binaries: RUSTUN_CP / RUSTUN_DP / RUSTUN_CTL, or the first
# found in build-integ/, build/, build-dp/, build-cp/. State: /run/rustun-lab/state.
set -uo pipefail
LAB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB_LIMIT=${LAB_LIMIT:-3600}   # seconds the daemons may live (each run is bounded)
# shellcheck source=tests/integration/lib.sh
. "$LAB_ROOT/tests/integration/lib.sh"

STATE_DIR=/run/rustun-lab
STATE=$STATE_DIR/state
P=rlab
WORK=$STATE_DIR

die() { echo "dataplane-lab: $*" >&2; exit 1; }

need() {
    # lab_require exits 77 with a reason; here that is an error.
    (lab_require >/dev/null) || { lab_require; exit 1; }
    lab_require >/dev/null
}

load_state() {
    [ -f "$STATE" ] || return 1
    # shellcheck disable=SC1090
    . "$STATE"
    LAB_CONFIG=$WORK/gateway.yaml
    LAB_CHANNEL=/dev/shm/rustun-lab-$P/channel
}

cmd_up() {
    need
    [ -f "$STATE" ] && die "already up (scripts/dataplane-lab.sh down first)"
    ip netns list | grep -q "^${P}gw\b" && die "namespace ${P}gw exists (left over? scripts/dataplane-lab.sh down)"
    mkdir -p "$STATE_DIR"

    lab_setup_net || { lab_cleanup; die "namespace set-up failed"; }
    lab_write_config "$WORK/gateway.yaml" "$P"
    # setsid: the daemons outlive this shell; `down` stops them by the recorded pids.
    LAB_SETSID=1
    lab_start_dp "$WORK/dataplane.log"
    lab_start_cp "$WORK/controlplane.log"
    printf 'LAB_PIDS=(%s)\nLAB_DP_PID=%s\nLAB_CP_PID=%s\nCP=%q\nDP=%q\nCTL=%q\n' \
        "${LAB_PIDS[*]}" "$LAB_DP_PID" "$LAB_CP_PID" "$CP" "$DP" "$CTL" > "$STATE"
    if ! lab_wait 20 lab_cp_attached || ! lab_wait 10 lab_dp_synced "$WORK/dataplane.log"; then
        tail -n 20 "$WORK/dataplane.log" "$WORK/controlplane.log" >&2
        cmd_down
        die "the gateway did not come up"
    fi
    cat <<TXT
up (daemons stop by themselves after $LAB_LIMIT s):
  ${P}gw  172.30.0.1   rustun-dataplane (net_af_packet0 on eth0, UDP 7000) + rustun-controlplane (TCP 7000)
  ${P}a   172.30.0.11  client-a 10.0.1.2      ${P}b 172.30.0.12 client-b 10.0.1.3      ${P}c 172.30.0.13 client-c 10.0.1.4
  config   $WORK/gateway.yaml            logs $WORK/{dataplane,controlplane}.log
  rustunctl: $CTL --socket $WORK/control.sock stats
  a client: ip netns exec ${P}a $SYS_PY $LAB_ROOT/tests/integration/relay_client.py \\
              --gateway $LAB_GW --relay $LAB_GW --identity client-a --private-ip 10.0.1.2 --peer-ip 10.0.1.3 --duration 10
TXT
}

cmd_status() {
    load_state || { echo "down"; return 0; }
    echo "namespaces: $(ip netns list | awk '{print $1}' | grep "^${P}" | tr '\n' ' ')"
    local what pid
    for what in dataplane:$LAB_DP_PID controlplane:$LAB_CP_PID; do
        pid=${what#*:}
        if kill -0 "$pid" 2>/dev/null; then echo "${what%%:*}: running (pid $(lab_child_of "$pid"))"; else echo "${what%%:*}: not running"; fi
    done
    echo "channel: $(ls -l "$LAB_CHANNEL" 2>/dev/null || echo "absent")"
    lab_ctl status 2>/dev/null || echo "control socket not answering"
    lab_ctl clients 2>/dev/null
    lab_ctl stats --nonzero 2>/dev/null
}

cmd_traffic() {
    load_state || die "not up"
    local dur=${1:-10}
    lab_start_client a udp "$dur" b --rate 100
    lab_start_client b udp "$dur" a --rate 100
    lab_wait_client a
    lab_wait_client b
    echo "a: $(cat "$WORK/a.json")"
    echo "b: $(cat "$WORK/b.json")"
    lab_ctl stats --nonzero 2>/dev/null | grep -E 'relayed|udp_|to_controlplane|drop_'
}

cmd_down() {
    if load_state; then
        lab_cleanup
    else
        # No state: remove what the lab would have created, nothing else.
        local n
        for n in "${LAB_NODES[@]}" sw; do ip netns del "${P}$n" 2>/dev/null; done
        LAB_CHANNEL=/dev/shm/rustun-lab-$P/channel
        rm -rf "$(dirname "$LAB_CHANNEL")"
    fi
    rm -f "$STATE" "$STATE_DIR"/*.progress "$STATE_DIR"/*.json "$STATE_DIR"/*.err
    echo "down (logs kept in $STATE_DIR)"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    traffic) shift; cmd_traffic "$@" ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
esac
