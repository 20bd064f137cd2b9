#!/usr/bin/python3
"""Fleet registry with real etcd (docs/fleet.md): two control planes on loopback, one etcd.

  1. peer lists: a client on A appears, with its P2P endpoint, in the KeepAlive reply of a client
     of the same cluster on B (`rustunctl clients --all` on B names A as its home);
  2. ownership: the same identity handshakes on B: A closes its session (fleet_ownership_lost on
     A, fleet_ownership_taken on B), etcd holds exactly one record naming B;
  2b. 16 identities handshake on A and on B at once, so that both registries write them in
     batches racing for the same keys: each ends with exactly one record in etcd, the session
     on its home stays open and the one on the other gateway is closed;
  3. etcd kill -9 and restart (down for > lease_ttl): both gateways re-grant and re-publish
     (fleet_etcd_reconnects), their records are back; B's two records go in one batch (at most
     two etcd Txns: one may find the old lease's records gone);
  4. kill -9 of A: its clients vanish from B's view within lease_ttl (+ slack), and an
     old-dialect client on B gets a PeerUpdate {identity, "", 0}.
  0. the gateway's threads are named after their roles (cp-worker-0, cp-fleet-link, etcd-watch...).
lease_ttl is 2 s. Exits 77 when etcd is not installed.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import etcd_harness  # noqa: E402
from relay_client import Cipher, MAGIC  # noqa: E402

T_HANDSHAKE, T_KEEPALIVE, T_HSREPLY, T_PEERUPDATE = 1, 2, 4, 5
KEY = "chacha20:fleet-test-key"
CLIENTS = [("alice", "10.0.1.2"), ("bob", "10.0.1.3"), ("carol", "10.0.1.4"), ("dave", "10.0.1.5")]
# Step 2b: the same identities handshake on both gateways at once (batched writes racing).
RACERS = ["race%02d" % i for i in range(16)]
CLIENTS += [(r, "10.0.1.%d" % (20 + i)) for i, r in enumerate(RACERS)]


def fail(msg):
    raise AssertionError(msg)


def wait_for(what, cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    fail("timed out (%.1f s) waiting for: %s" % (timeout, what))


class Gateway:
    def __init__(self, binaries, workdir, gw_id, endpoints):
        self.id = gw_id
        self.ctl = os.path.join(binaries, "controlplane", "rustunctl")
        self.sock = os.path.join(workdir, gw_id + ".sock")
        self.cfg = os.path.join(workdir, gw_id + ".yaml")
        self.log = open(os.path.join(workdir, gw_id + ".log"), "w")
        link_port = etcd_harness.free_ports(1)[0]
        lines = ["listen:", "  tcp: 127.0.0.1:0", "crypto: %s" % KEY, "control_socket: %s" % self.sock,
                 "controlplane:", "  workers: 1", "fleet:", "  gateway_id: %s" % gw_id,
                 "  etcd: [%s]" % ", ".join(endpoints), "  prefix: /rustun/test", "  lease_ttl: 2s",
                 "  link:", "    listen: 127.0.0.1:%d" % link_port, '    key: "aes256:fleet-link-secret"',
                 "clusters:", "  - name: c1", "    clients:"]
        for ident, ip in CLIENTS:
            lines += ["      - identity: %s" % ident, "        private_ip: %s" % ip, "        mask: 255.255.255.0",
                      "        gateway: 10.0.1.1", "        ciders: []"]
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([os.path.join(binaries, "controlplane", "rustun-controlplane"), "--config",
                                      self.cfg, "--log-level", "debug"], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("%s control socket" % gw_id, lambda: os.path.exists(self.sock) and self.call("status"), 20)
        self.port = self.call("status")["tcp_port"]

    def call(self, *args):
        r = subprocess.run([self.ctl, "-s", self.sock, "--json"] + list(args), capture_output=True, text=True,
                           timeout=10)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def counter(self, name):
        return self.call("stats")["controlplane"][name]

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class TestClient:
    """A reference-shaped client: Handshake (old dialect with ipv6/port, or new), KeepAlives."""

    def __init__(self, port, identity, old=False, p2p_port=40000):
        self.identity, self.old, self.p2p_port = identity, old, p2p_port
        self.c = Cipher(KEY)
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        hs = {"identity": identity}
        if old:
            hs.update(ipv6="", port=0)
        self.send(T_HANDSHAKE, hs)
        t, body = self.read_frame(5)
        if t != T_HSREPLY:
            fail("%s: expected a HandshakeReply, got type %s" % (identity, t))
        self.frames = []

    def send(self, ftype, body):
        self.s.sendall(self.c.seal(ftype, json.dumps(body).encode()))

    def read_frame(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 8:
                n = struct.unpack(">H", self.buf[6:8])[0]
                if len(self.buf) >= 8 + n:
                    hdr, payload, self.buf = self.buf[:8], self.buf[8:8 + n], self.buf[8 + n:]
                    if hdr[:4] != MAGIC:
                        fail("bad magic")
                    pt = self.c.open(payload)
                    return hdr[5], json.loads(pt) if pt else None
            left = deadline - time.monotonic()
            if left <= 0:
                return None, None
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return None, None
            if not d:
                return "closed", None
            self.buf += d

    def keepalive(self):
        """Sends a KeepAlive with our P2P address; returns the reply's peer_details (frames met meanwhile kept)."""
        self.send(T_KEEPALIVE, {"identity": self.identity, "ipv6": "2001:db8::%x" % self.p2p_port,
                                "port": self.p2p_port, "name": self.identity, "stun_ip": "", "stun_port": 0}
                  if not self.old else {"identity": self.identity, "ipv6": "2001:db8::1", "port": self.p2p_port})
        while True:
            t, body = self.read_frame(5)
            if t == T_KEEPALIVE:
                return body.get("peer_details", [])
            if t is None or t == "closed":
                return None
            self.frames.append((t, body))

    def wait_frame(self, ftype, pred, timeout):
        deadline = time.monotonic() + timeout
        for t, b in self.frames:
            if t == ftype and pred(b):
                return b
        while time.monotonic() < deadline:
            t, b = self.read_frame(deadline - time.monotonic())
            if t == "closed":
                return None
            if t is not None:
                self.frames.append((t, b))
                if t == ftype and pred(b):
                    return b
        return None

    def closed_within(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t, _ = self.read_frame(deadline - time.monotonic())
            if t == "closed":
                return True
        return False


def peer(peers, identity):
    for p in peers or []:
        if p.get("identity") == identity:
            return p
    return None


def main():
    # meson's timeout sends SIGTERM: exit through the finally blocks so etcd, the gateways and the
    # namespaces are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    binaries = sys.argv[1] if len(sys.argv) > 1 else "build"
    if not os.path.exists(etcd_harness.ETCD):
        print("etcd not installed: skipped")
        return 77
    workdir = tempfile.mkdtemp(prefix="rustun-fleet-reg.")
    cluster = etcd_harness.EtcdCluster(members=1, workdir=workdir)
    gws = []
    ok = False
    try:
        cluster.start()
        a = Gateway(binaries, workdir, "gw-a", cluster.endpoints)
        gws.append(a)
        b = Gateway(binaries, workdir, "gw-b", cluster.endpoints)
        gws.append(b)
        wait_for("both gateways registered", lambda: len(b.call("gateways")["gateways"]) == 2, 10)

        # 0. Every thread of a gateway carries its role's name (docs/operations.md, "Threads").
        names = sorted(open("/proc/%d/task/%s/comm" % (a.proc.pid, t)).read().strip()
                       for t in os.listdir("/proc/%d/task" % a.proc.pid))
        for want in ("cp-worker-0", "cp-control", "cp-fleet-link", "cp-fleet-reg", "etcd-lease", "etcd-watch"):
            if want not in names:
                fail("no thread named %s in gw-a: %s" % (want, names))
        print("ok: thread names %s" % " ".join(n for n in names if n != "rustun-controlp"))

        # 1. Peer lists across gateways.
        t0 = time.monotonic()
        alice = TestClient(a.port, "alice", p2p_port=40001)
        alice.keepalive()
        bob = TestClient(b.port, "bob", p2p_port=40002)
        p = wait_for("alice online with her endpoint in bob's peer list on B",
                     lambda: (lambda x: x if x and x.get("port") == 40001 else None)(peer(bob.keepalive(), "alice")),
                     5)
        print("alice (on A) in bob's (on B) peer list after %.2f s: %s" % (time.monotonic() - t0, p))
        remote = b.call("clients", "--all")["remote"]
        if [r["home"] for r in remote if r["identity"] == "alice"] != ["gw-a"]:
            fail("clients --all on B: alice not homed on gw-a: %s" % remote)
        gwlist = b.call("gateways")
        if gwlist["config_hashes"] != 1:
            fail("same configuration, but hashes differ: %s" % gwlist)

        # 2. Ownership transfer A -> B.
        alice_b = TestClient(b.port, "alice", p2p_port=40003)
        if not alice.closed_within(5):
            fail("A did not close alice's older session")
        wait_for("fleet_ownership_lost on A", lambda: a.counter("fleet_ownership_lost") == 1, 5)
        if b.counter("fleet_ownership_taken") < 1:
            fail("fleet_ownership_taken on B is 0")
        recs = {k: json.loads(v) for k, v in cluster.get_prefix("/rustun/test/clients/").items()}
        homes = [v["home"] for k, v in recs.items() if v["identity"] == "alice"]
        if homes != ["gw-b"]:
            fail("alice's records after the transfer: %s" % homes)
        print("ownership A->B: A closed its session, record home %s" % homes)

        # 2b. Batches racing: every racer handshakes on A and on B at once.
        sessions = {}

        def connect_all(gw):
            for r in RACERS:
                sessions[(gw.id, r)] = TestClient(gw.port, r)
        threads = [threading.Thread(target=connect_all, args=(g,)) for g in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if len(sessions) != 2 * len(RACERS):
            fail("racers: only %d of %d handshakes" % (len(sessions), 2 * len(RACERS)))

        def racer_homes():
            homes = {r: [] for r in RACERS}
            for v in cluster.get_prefix("/rustun/test/clients/").values():
                rec = json.loads(v)
                if rec["identity"] in homes:
                    homes[rec["identity"]].append(rec["home"])
            return homes
        def closed(c):
            return c.read_frame(0.01)[0] == "closed"

        def settled():
            # One record per racer, and the session on the other gateway closed (a closed session
            # stays closed, so a record that is only on its way out cannot pass).
            h = racer_homes()
            if not all(len(x) == 1 for x in h.values()):
                return None
            for r in RACERS:
                if not closed(sessions[("gw-b" if h[r][0] == "gw-a" else "gw-a", r)]):
                    return None
            return h
        try:
            homes = wait_for("one record per racer, its session elsewhere closed", settled, 15)
        except AssertionError:
            h = racer_homes()
            fail("racers not settled: records %s; closed sessions %s" % (
                {r: v for r, v in h.items() if len(v) != 1 or not closed(
                    sessions[("gw-b" if v[0] == "gw-a" else "gw-a", r)])},
                sorted(k for k, c in sessions.items() if closed(c))))
        for r in RACERS:
            t, _ = sessions[(homes[r][0], r)].read_frame(0.2)
            if t == "closed":
                fail("%s: the session on its home %s was closed too" % (r, homes[r][0]))
        if racer_homes() != homes:
            fail("racers' records changed after the race: %s -> %s" % (homes, racer_homes()))
        print("racing batches: %d identities on both gateways, one record each (%d on gw-a), losers closed" % (
            len(RACERS), sum(1 for r in RACERS if homes[r][0] == "gw-a")))
        for c in sessions.values():
            c.s.close()
        wait_for("racers' records deleted", lambda: not any(racer_homes().values()), 10)

        # 3. etcd kill -9, down for > lease_ttl, restart: both re-publish.
        dave = TestClient(a.port, "dave", p2p_port=40004)
        dave.keepalive()
        wait_for("dave published", lambda: any(json.loads(v)["identity"] == "dave" for v in
                                               cluster.get_prefix("/rustun/test/clients/").values()), 5)
        b_writes, b_txns = b.counter("fleet_publish_writes"), b.counter("fleet_publish_txns")
        cluster.kill(0)
        time.sleep(4)
        cluster.restart(0)
        wait_for("both gateways reconnected", lambda: a.counter("fleet_etcd_reconnects") >= 1 and
                 b.counter("fleet_etcd_reconnects") >= 1, 20)
        # B's gateway record and its two clients (alice, bob), written in one turn.
        wait_for("B re-published", lambda: b.counter("fleet_publish_writes") - b_writes >= 3, 15)
        txns = b.counter("fleet_publish_txns") - b_txns
        if not 1 <= txns <= 2:
            fail("B re-published alice and bob in %d etcd Txns (expected one batch: 1 or 2)" % txns)
        print("etcd restart: B re-published its 2 records in %d etcd Txn(s)" % txns)

        def republished():
            kv = cluster.get_prefix("/rustun/test/")
            ids = {json.loads(v).get("identity") for k, v in kv.items() if "/clients/" in k}
            gwids = {json.loads(v).get("id") for k, v in kv.items() if "/gateways/" in k}
            return ids >= {"alice", "bob", "dave"} and gwids == {"gw-a", "gw-b"}
        wait_for("records re-published after the etcd restart", republished, 15)
        print("etcd restart: both gateways re-granted and re-published")

        # 4. kill -9 of A: dave vanishes from B's view; carol (old dialect, on B) is told.
        carol = TestClient(b.port, "carol", old=True, p2p_port=40005)
        carol.keepalive()
        wait_for("dave in B's view", lambda: any(r["identity"] == "dave" for r in b.call("clients", "--all")["remote"]), 5)
        t0 = time.monotonic()
        a.kill9()
        wait_for("dave gone from B's view", lambda: not any(r["identity"] == "dave" for r in
                                                             b.call("clients", "--all")["remote"]), 2 + 6)
        gone_s = time.monotonic() - t0
        pu = carol.wait_frame(T_PEERUPDATE, lambda x: x.get("identity") == "dave" and x.get("port") == 0, 3)
        if pu is None:
            fail("carol got no PeerUpdate for dave's departure: %s" % carol.frames)
        print("kill -9 of A: dave gone from B's view after %.2f s (lease_ttl 2 s); carol got %s" % (gone_s, pu))
        ok = True
        return 0
    finally:
        for g in gws:
            g.stop()
        if not ok:
            print(cluster.log_tails())
            for g in gws:
                g.log.flush()
                with open(g.log.name) as f:
                    print("--- %s log (tail)\n%s" % (g.id, "".join(f.readlines()[-40:])))
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
