#!/usr/bin/python3
"""Fleet integration scenarios (tests/fleet/README.md): real etcd (one member, or three), two or
three gateways (rustun-controlplane with a `fleet:` section; with rustun-dataplane beside them
for the UDP scenario) and our rustun-client, each in a network namespace on one bridge.

Usage: fleet_test.py SCENARIO (meson: `meson test -C build --suite fleet`). Binaries from the
environment: RUSTUN_CONTROLPLANE, RUSTUN_CLIENT, RUSTUN_DATAPLANE (udp scenario). Exit 0 pass,
1 fail, 77 skip (not root, no `ip netns`, no etcd/etcdctl/nft, no /dev/net/tun; the UDP scenario
also without 128 free hugepages). FLEET_KEEP=1 keeps the logs of a passing run.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet_client import Client  # noqa: E402
from fleet_gateway import Gateway  # noqa: E402
from fleet_net import Topology, wait_for  # noqa: E402
import etcd_harness  # noqa: E402  (tests/fleet/etcd_harness.py: etcd members on given addresses)

LEASE_TTL_S = 3        # short leases keep the scenarios short (the default is 10 s)
FAILOVER_TARGET_S = 15  # issue 12: relayed traffic resumes within 15 s after kill -9 of a gateway

IPS = {"a": "10.0.1.2", "b": "10.0.1.3", "c": "10.0.1.4", "d": "10.0.1.5"}


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def step(msg):
    print("[%s +%.1fs] %s" % (SCENARIO, time.monotonic() - T0, msg), flush=True)


class Fleet:
    """The topology, etcd, the gateways and the clients of one scenario; close() removes all."""

    def __init__(self, work, gateways=2, clients=("a", "b"), etcd_members=1, dataplane=False):
        self.work = work
        nodes = ["etcd"] + ["gw%d" % i for i in range(1, gateways + 1)] + list(clients)
        self.topo = Topology("rf%d" % (os.getpid() % 10000), nodes)
        self.topo.setup()
        self.etcd = etcd_harness.EtcdCluster(members=etcd_members, host=self.topo.ip("etcd"),
                                             netns=self.topo.ns("etcd"), workdir=work)
        self.etcd.start()
        dp = os.environ.get("RUSTUN_DATAPLANE") if dataplane else None
        self.gw = {}
        for i in range(1, gateways + 1):
            g = Gateway(self.topo, "gw%d" % i, "gw-%d" % i, work, self.etcd.endpoints, LEASE_TTL_S, dp)
            g.write_config(os.environ["RUSTUN_CONTROLPLANE"])
            self.gw[i] = g
        self.clients = {}

    def start_gateways(self):
        for g in self.gw.values():
            g.start()
        ids = sorted(g.id for g in self.gw.values())
        for g in self.gw.values():
            wait_for(10, "%s lists every gateway" % g.id, lambda g=g: g.gateway_ids() == ids)

    def client(self, node, identity, gateways, extra=()):
        c = Client(self.topo, node, identity, self.work, os.environ["RUSTUN_CLIENT"],
                   [self.gw[i].addr for i in gateways], extra)
        self.clients[node] = c.start()
        wait_for(10, "%s connected" % node, c.connected)
        return c

    def close(self):
        self.topo.teardown()
        self.etcd.stop()
        for g in self.gw.values():
            g.cleanup()


def lan_on(fleet, node):
    fleet.topo.exec_in(node, ["ip", "addr", "add", "192.168.11.1/32", "dev", "lo"], check=True)


# ---- scenarios ---------------------------------------------------------------------------------

def scenario_peers(f):
    """Peer lists across gateways: each gateway's view holds the other's client with its home;
    our clients learn the remote peer (and its CIDR route) through their own gateway."""
    f.start_gateways()
    a = f.client("a", "client-a", [1])
    b = f.client("b", "client-b", [2])
    wait_for(5, "gw-1 sees client-b homed on gw-2", lambda: f.gw[1].remote_clients().get("client-b") == "gw-2")
    wait_for(5, "gw-2 sees client-a homed on gw-1", lambda: f.gw[2].remote_clients().get("client-a") == "gw-1")
    wait_for(10, "a's peers include client-b", lambda: "client-b" in a.peer_ids())
    wait_for(10, "b's peers include client-a", lambda: "client-a" in b.peer_ids())
    r = f.topo.exec_in("b", ["ip", "route", "show", "192.168.11.0/24"])
    assert "dev rtun0" in r.stdout, "b has no route to a's CIDR 192.168.11.0/24: " + r.stdout
    step("peer lists across gateways: ok (views, peers, routes)")
    b_proc = f.clients["b"].proc
    f.topo.kill(b_proc)
    wait_for(5, "gw-1 forgets client-b after it disconnects", lambda: "client-b" not in f.gw[1].remote_clients())
    step("a disconnect reaches the other gateway")


def scenario_relay_tcp(f):
    """Relay between clients of different gateways over the TCP relay and the inter-gateway link."""
    f.start_gateways()
    lan_on(f, "a")
    a = f.client("a", "client-a", [1])
    f.client("b", "client-b", [2])
    wait_for(10, "gw-2 sees client-a", lambda: "client-a" in f.gw[2].remote_clients())
    wait_for(10, "ping a -> b across gateways", lambda: a.ping(IPS["b"]))
    assert f.topo.ping("b", "192.168.11.1", count=3), "b cannot reach a's LAN across gateways"
    c1, c2 = f.gw[1].counters(), f.gw[2].counters()
    assert c1.get("fleet_link_tx", 0) > 0 and c2.get("fleet_link_delivered", 0) > 0, \
        "not over the link: gw-1 fleet_link_tx %s, gw-2 fleet_link_delivered %s" % (
            c1.get("fleet_link_tx"), c2.get("fleet_link_delivered"))
    step("ping a <-> b and b -> a's LAN across gateways over TCP and the link: ok")


def scenario_relay_udp(f):
    """The same over the dataplanes' UDP relay: link frames forwarded through the dataplane."""
    f.start_gateways()
    a = f.client("a", "client-a", [1], ["--relay", "udp"])
    b = f.client("b", "client-b", [2], ["--relay", "udp"])
    wait_for(20, "a bound at gw-1's UDP relay", lambda: a.status()["relay"].get("udp_bound"))
    wait_for(20, "b bound at gw-2's UDP relay", lambda: b.status()["relay"].get("udp_bound"))
    wait_for(10, "gw-2 sees client-a", lambda: "client-a" in f.gw[2].remote_clients())
    wait_for(10, "gw-1 sees client-b", lambda: "client-b" in f.gw[1].remote_clients())
    before = a.status()["counters"]["udp_relay_data_tx"]
    wait_for(10, "ping a -> b across gateways (UDP)", lambda: a.ping(IPS["b"]))
    assert a.status()["counters"]["udp_relay_data_tx"] > before, "a sent nothing over its UDP relay"
    assert f.topo.ping("b", IPS["a"], count=3), "b cannot reach a across gateways (UDP)"
    # docs/fleet.md, "UDP link through the dataplane": both directions crossed between the two
    # dataplanes as link frames; nothing took the control planes' TCP link.
    s1, s2 = f.gw[1].ctl("stats"), f.gw[2].ctl("stats")
    d1, d2 = s1["dataplane"], s2["dataplane"]
    for gw, d in (("gw-1", d1), ("gw-2", d2)):
        assert d["link_tx"] > 0 and d["link_rx"] > 0, "%s dataplane: link_tx %d, link_rx %d" % (
            gw, d["link_tx"], d["link_rx"])
        bad = {k: v for k, v in d.items() if k.startswith("drop_link_") and v}
        assert not bad, "%s dataplane dropped link frames: %s" % (gw, bad)
    for gw, st in (("gw-1", s1), ("gw-2", s2)):
        assert st["controlplane"].get("fleet_link_tx", 0) == 0, "%s used the TCP link: fleet_link_tx %d" % (
            gw, st["controlplane"]["fleet_link_tx"])
    step("ping a <-> b across gateways over UDP, dataplane to dataplane: ok (gw-1 link_tx %d link_rx %d)" % (
        d1["link_tx"], d1["link_rx"]))


def scenario_relay_mixed(f):
    """A TCP-relay client on gw-1 and a UDP-relay client on gw-2: the TCP sender's frames are handed
    to gw-1's dataplane (LinkTx) and sealed for gw-2's; the UDP sender's reach gw-1's dataplane as
    link frames and its control plane for the TCP connection. No frame takes the TCP link."""
    f.start_gateways()
    a = f.client("a", "client-a", [1])
    b = f.client("b", "client-b", [2], ["--relay", "udp"])
    wait_for(20, "b bound at gw-2's UDP relay", lambda: b.status()["relay"].get("udp_bound"))
    wait_for(10, "gw-1 sees client-b", lambda: "client-b" in f.gw[1].remote_clients())
    wait_for(10, "gw-2 sees client-a", lambda: "client-a" in f.gw[2].remote_clients())
    wait_for(10, "ping a -> b across gateways (TCP sender, UDP receiver)", lambda: a.ping(IPS["b"]))
    assert f.topo.ping("b", IPS["a"], count=3), "b cannot reach a across gateways (UDP sender, TCP receiver)"
    s1, s2 = f.gw[1].ctl("stats"), f.gw[2].ctl("stats")
    c1, d1, d2 = s1["controlplane"], s1["dataplane"], s2["dataplane"]
    assert c1["fleet_link_udp_handed"] > 0 and d1["link_tx"] > 0, \
        "gw-1 handed nothing to its dataplane's link: fleet_link_udp_handed %d, link_tx %d" % (
            c1["fleet_link_udp_handed"], d1["link_tx"])
    assert d2["link_rx"] > 0 and d2["link_tx"] > 0, "gw-2 dataplane: link_rx %d, link_tx %d" % (
        d2["link_rx"], d2["link_tx"])
    assert d1["link_to_controlplane_tcp"] > 0 and c1["fleet_link_delivered"] > 0, \
        "gw-1: link frames for its TCP client: link_to_controlplane_tcp %d, fleet_link_delivered %d" % (
            d1["link_to_controlplane_tcp"], c1["fleet_link_delivered"])
    for gw, st in (("gw-1", s1), ("gw-2", s2)):
        assert st["controlplane"].get("fleet_link_tx", 0) == 0, "%s used the TCP link" % gw
        bad = {k: v for k, v in st["dataplane"].items() if k.startswith("drop_link_") and v}
        assert not bad, "%s dataplane dropped link frames: %s" % (gw, bad)
    step("ping a (TCP) <-> b (UDP) across gateways through both dataplanes: ok")


def scenario_ownership(f):
    """One identity, one home: client-a lives on gw-1 (its process then stopped with SIGSTOP, so
    the session stays open and it cannot fight back); the same identity connects to gw-2: newest
    wins, gw-2 owns it in etcd, gw-1 closes its session well before its idle timeout (6 s) and
    sees client-a as remote."""
    f.start_gateways()
    first = f.client("a", "client-a", [1])
    wait_for(10, "gw-2 sees client-a on gw-1", lambda: f.gw[2].remote_clients().get("client-a") == "gw-1")
    first.proc.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    f.client("c", "client-a", [2])
    wait_for(10, "gw-1 sees client-a homed on gw-2", lambda: f.gw[1].remote_clients().get("client-a") == "gw-2")
    wait_for(10, "gw-1 closed its session", lambda: "client-a" not in f.gw[1].local_online())
    took = time.monotonic() - t0
    assert took < 5, "gw-1 closed the old session only after %.1f s (its idle timeout, not the transfer)" % took
    assert "client-a" in f.gw[2].local_online()
    records = f.etcd.get_prefix("/rustun/v1/clients/")
    owners = [k for k in records if k.endswith("/client-a")]
    assert len(owners) == 1 and '"home":"gw-2"' in records[owners[0]].replace(" ", ""), records
    step("ownership moved to gw-2 in %.1f s: one record, gw-1 closed its session and sees it remote" % took)
    first.proc.send_signal(signal.SIGKILL)


def scenario_gateway_kill(f):
    """kill -9 of a client's home gateway: the client fails over (--server gw1,gw3), the fleet drops
    gw-1 when its lease expires, relayed traffic between a (now on gw-3) and b (gw-2) resumes."""
    f.start_gateways()
    a = f.client("a", "client-a", [1, 3])
    f.client("b", "client-b", [2])
    wait_for(10, "ping a -> b across gateways", lambda: a.ping(IPS["b"]))
    step("a on gw-1, b on gw-2, ping ok; kill -9 gw-1")
    t0 = time.monotonic()
    f.gw[1].kill9()
    wait_for(FAILOVER_TARGET_S * 2, "ping a -> b after the kill", lambda: a.ping(IPS["b"], wait_s=1), interval=0)
    took = time.monotonic() - t0
    step("relayed traffic resumed %.1f s after kill -9 (target %d s)" % (took, FAILOVER_TARGET_S))
    assert took <= FAILOVER_TARGET_S, "took %.1f s, the target is %d s" % (took, FAILOVER_TARGET_S)
    assert a.server() == f.gw[3].addr, "a is not on gw-3: " + a.server()
    wait_for(LEASE_TTL_S + 5, "gw-2 drops gw-1 (lease expired)", lambda: f.gw[2].gateway_ids() == ["gw-2", "gw-3"])


def scenario_etcd_restart(f):
    """kill -9 of etcd: gateways keep their local clients and the last view (relay across gateways
    goes on); a client connecting meanwhile is published once etcd is back (same data directory)."""
    f.start_gateways()
    a = f.client("a", "client-a", [1])
    f.client("b", "client-b", [2])
    wait_for(10, "ping a -> b", lambda: a.ping(IPS["b"]))
    f.etcd.kill(0)
    step("etcd killed")
    time.sleep(LEASE_TTL_S + 1)
    assert a.ping(IPS["b"], count=3), "relay across gateways stopped while etcd is down"
    assert "client-a" in f.gw[1].local_online() and "client-b" in f.gw[1].remote_clients()
    f.client("c", "client-c", [1])
    step("etcd down: local sessions and the last view kept, relay goes on; restarting etcd")
    f.etcd.restart(0)
    wait_for(15, "gw-2 learns client-c after etcd returns", lambda: "client-c" in f.gw[2].remote_clients())
    wait_for(10, "both gateways registered again", lambda: f.gw[2].gateway_ids() == ["gw-1", "gw-2"])
    assert a.ping(IPS["b"], count=3)
    step("re-registered and re-published")


def scenario_etcd_member_down(f):
    """A 3-member etcd cluster that loses one member changes nothing visible."""
    f.start_gateways()
    a = f.client("a", "client-a", [1])
    f.client("b", "client-b", [2])
    wait_for(10, "ping a -> b", lambda: a.ping(IPS["b"]))
    f.etcd.kill(0)
    step("etcd member 0 killed (2 of 3 left)")
    f.client("c", "client-c", [1])
    wait_for(5, "gw-2 learns client-c", lambda: "client-c" in f.gw[2].remote_clients())
    assert f.gw[1].gateway_ids() == ["gw-1", "gw-2"] and f.gw[2].gateway_ids() == ["gw-1", "gw-2"]
    assert a.ping(IPS["b"], count=3)
    step("nothing visible changed")


def cut_off_gw1(f):
    """a and c on gw-1, b on gw-2, ping a -> b; then nftables in gw-1's namespace cuts it off from
    etcd until gw-2 has dropped gw-1 (lease expired) and gw-1's view is stale (3 x lease_ttl)."""
    f.start_gateways()
    a = f.client("a", "client-a", [1])
    b = f.client("b", "client-b", [2])
    f.client("c", "client-c", [1])
    wait_for(10, "ping a -> b", lambda: a.ping(IPS["b"]))
    f.topo.nft_cut("gw1", f.topo.ip("etcd"))
    step("gw-1 cut off from etcd")
    wait_for(LEASE_TTL_S + 10, "gw-2 drops gw-1", lambda: f.gw[2].gateway_ids() == ["gw-2"])
    wait_for(3 * LEASE_TTL_S + 5, "gw-1 marks its view stale (3 x lease_ttl)",
             lambda: f.gw[1].ctl("clients", all="true").get("remote_stale") is True)
    return a, b


def scenario_etcd_cutoff(f):
    """gw-1 cut off from etcd: it keeps serving its local clients and its last (stale) view; once
    the cut is lifted it registers and publishes again, and relay across gateways works."""
    a, b = cut_off_gw1(f)
    assert a.ping(IPS["c"], count=3), "gw-1 stopped serving its local clients"
    assert "client-b" in f.gw[1].remote_clients(), "gw-1 dropped its stale view"
    assert "client-a" in f.gw[1].local_online() and "client-c" in f.gw[1].local_online()
    step("local clients served, stale view kept")
    f.topo.nft_uncut("gw1")
    wait_for(LEASE_TTL_S + 15, "gw-1 registered again", lambda: f.gw[2].gateway_ids() == ["gw-1", "gw-2"])
    wait_for(10, "gw-2 sees client-a again", lambda: "client-a" in f.gw[2].remote_clients())
    wait_for(10, "gw-1's view current again", lambda: f.gw[1].ctl("clients", all="true").get("remote_stale") is False)
    wait_for(10, "ping a <-> b", lambda: a.ping(IPS["b"]))
    step("cut lifted: re-registered, view current, ping both ways")


def scenario_etcd_cutoff_link(f):
    """While gw-1 is cut off from etcd, frames from its clients to a client of gw-2 (which still
    answers on the link) keep arriving: issue 12, "keep relaying to remote clients whose gateways
    still answer on the link"."""
    a, b = cut_off_gw1(f)
    rx = b.status()["counters"]["tcp_data_rx"]
    a.ping(IPS["b"], count=3)
    assert b.status()["counters"]["tcp_data_rx"] > rx, \
        "gw-1 no longer relays to b over the link (gw-2's fleet_link_rx_unknown_sender: %s)" % (
            f.gw[2].counters().get("fleet_link_rx_unknown_sender"))
    step("gw-1 cut off from etcd still relays to b over the link")


SCENARIOS = {
    "peers": (scenario_peers, dict()),
    "relay-tcp": (scenario_relay_tcp, dict()),
    "relay-udp": (scenario_relay_udp, dict(dataplane=True)),
    "relay-mixed": (scenario_relay_mixed, dict(dataplane=True)),
    "ownership": (scenario_ownership, dict(clients=("a", "c"))),
    "gateway-kill": (scenario_gateway_kill, dict(gateways=3)),
    "etcd-restart": (scenario_etcd_restart, dict(clients=("a", "b", "c"))),
    "etcd-member-down": (scenario_etcd_member_down, dict(etcd_members=3, clients=("a", "b", "c"))),
    "etcd-cutoff": (scenario_etcd_cutoff, dict(clients=("a", "b", "c"))),
    "etcd-cutoff-link": (scenario_etcd_cutoff_link, dict(clients=("a", "b", "c"))),
}


def preconditions(name):
    if os.geteuid() != 0:
        skip("needs root (network namespaces, TUN)")
    for cmd in ("ip", "etcd", "etcdctl", "nft", "ping"):
        if shutil.which(cmd) is None:
            skip("no %s" % cmd)
    if not os.path.exists("/dev/net/tun"):
        skip("no /dev/net/tun")
    probe = "rfp%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", probe], stderr=subprocess.DEVNULL).returncode != 0:
        skip("ip netns unavailable")
    subprocess.run(["ip", "netns", "del", probe])
    if name == "relay-udp":
        free = 0
        with open("/proc/meminfo") as m:
            for line in m:
                if line.startswith("HugePages_Free"):
                    free = int(line.split()[1])
        if free < 128:
            skip("fewer than 128 free hugepages (two dataplanes)")
        if not os.environ.get("RUSTUN_DATAPLANE"):
            skip("rustun-dataplane not built")


def main():
    global SCENARIO, T0
    # meson's timeout sends SIGTERM: exit through the finally blocks so etcd, the gateways and the
    # namespaces are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: fleet_test.py " + "|".join(SCENARIOS))
        return 2
    SCENARIO = sys.argv[1]
    T0 = time.monotonic()
    preconditions(SCENARIO)
    fn, kw = SCENARIOS[SCENARIO]
    work = tempfile.mkdtemp(prefix="rustun-fleet-")
    fleet = None
    ok = False
    try:
        fleet = Fleet(work, **kw)
        fn(fleet)
        ok = True
    except Exception:
        traceback.print_exc()
    finally:
        if fleet:
            fleet.close()
    if ok and not os.environ.get("FLEET_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("--- logs kept in %s ---" % work)
        if not ok:
            for name in sorted(os.listdir(work)):
                if name.endswith(".log"):
                    with open(os.path.join(work, name), errors="replace") as f:
                        print("== %s (last 25 lines)" % name)
                        print("".join(f.readlines()[-25:]))
    print(("PASS: %s (%.0f s)" if ok else "FAIL: %s (%.0f s)") % (SCENARIO, time.monotonic() - T0))
    return 0 if ok else 1


SCENARIO = ""
T0 = 0.0
if __name__ == "__main__":
    sys.exit(main())
