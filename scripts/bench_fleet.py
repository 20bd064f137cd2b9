#!/usr/bin/python3
"""The fleet benchmark (scripts/bench-fleet.sh runs it; docs/performance.md, "Fleet"): real etcd
(tests/fleet/etcd_harness.py) and three (--gateways) rustun-controlplane processes with a `fleet:`
section on loopback ports, all on this machine. Prints one table on stdout, progress on stderr.
The configuration (rustun-cp-bench genconfig) has clusters of --cluster-size clients (default 10).

Rows:
  propagation  a client handshakes with gw-1 (a reference-shaped client, old dialect); the time
               until gw-2's view lists it (control socket `clients` with `all`, polled every
               1 ms), and after it closes, until gw-2 forgets it. p50/p99 over N samples.
  mass reconnect  N clients (rustun-cp-bench idle, an equal share per gateway, --first) connect, are
               held, then all drop and connect again; per wave: etcd's records written (puts +
               deletes) and committed proposals per second (etcd's /metrics, sampled every 250 ms),
               transactions; the most clients seen published at once in the other gateways' views
               (each gateway's `gateways` remote_clients, sampled with the metrics; a client counts
               once when it is in both other views); and the gateways' own counters
               (fleet_publish_writes, fleet_publish_txns, fleet_publish_gone: clients that had gone
               offline before their record was written).
  relay        inter-gateway relay throughput against local relay: rustun-cp-bench relay with
               the receivers on gw-2 (--receiver-port) against both ends on gw-1; the ratio.
               With --relay-only, only this row, --rounds times (two gateways): for A/B runs of
               two builds, alternate invocations with --build A and --build B.

Usage: bench_fleet.py --build DIR [--clients N] [--samples N] [--gateways G] [--cluster-size N]
                      [--relay-only [--rounds N]]
"""
import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "fleet"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import etcd_harness  # noqa: E402
from relay_client import Cipher  # noqa: E402

CIPHER = "chacha20:rustun-fleet-bench"
LINK_KEY = "aes256:rustun-fleet-bench-link"
T_HANDSHAKE, T_HSREPLY = 1, 4


def log(msg):
    print("[bench-fleet] " + msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Gateway:
    def __init__(self, args, work, index, base_yaml, etcd_endpoints, lease_ttl):
        self.id = "gw-%d" % index
        self.port = free_port()
        self.link_port = free_port()
        self.socket = os.path.join(work, self.id + ".sock")
        self.config = os.path.join(work, self.id + ".yaml")
        self.log = os.path.join(work, self.id + ".log")
        lines = []
        for line in base_yaml.splitlines():
            if line.startswith("  tcp: "):
                line = "  tcp: 127.0.0.1:%d" % self.port
            elif line.startswith("control_socket: "):
                line = "control_socket: " + self.socket
            elif line == "clusters:":
                lines += ["fleet:", "  gateway_id: " + self.id, "  etcd: [%s]" % ", ".join(etcd_endpoints),
                          "  lease_ttl: %ds" % lease_ttl, "  link:",
                          "    listen: 127.0.0.1:%d" % self.link_port, '    key: "%s"' % LINK_KEY]
            lines.append(line)
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([os.path.join(args.build, "controlplane", "rustun-controlplane"), "--config",
                                      self.config], stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.ctl_sock = None

    def ctl(self, cmd, **kw):
        for attempt in (0, 1):
            if self.ctl_sock is None:
                self.ctl_sock = socket.socket(socket.AF_UNIX)
                self.ctl_sock.settimeout(5)
                self.ctl_sock.connect(self.socket)
                self.ctl_file = self.ctl_sock.makefile("rwb")
            try:
                self.ctl_file.write((json.dumps(dict(cmd=cmd, **kw)) + "\n").encode())
                self.ctl_file.flush()
                line = self.ctl_file.readline()
                if not line:
                    raise ConnectionResetError("control socket closed")
                break
            except OSError:
                # The gateway closes a control connection idle for a while: open a new one once.
                self.ctl_sock.close()
                self.ctl_sock = None
                if attempt:
                    raise
        ans = json.loads(line)
        if not ans.get("ok"):
            raise RuntimeError("%s: %s: %s" % (self.id, cmd, ans.get("error")))
        return ans["result"]

    def wait_up(self, seconds=60):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                with open(self.log, errors="replace") as f:
                    raise RuntimeError("%s exited: %s" % (self.id, f.read()[-2000:]))
            try:
                self.ctl("status")
                return
            except (OSError, ValueError):
                self.ctl_sock = None
                time.sleep(0.1)
        raise RuntimeError("%s: no control socket" % self.id)

    def remote(self):
        # online=true: the local part of the answer lists only online clients, not every configured
        # one (with 9,000 configured clients a full answer took ~60 ms, and the propagation rows
        # measured that poll instead of the fleet).
        return {c["identity"] for c in self.ctl("clients", all="true", online="true").get("remote", [])}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def handshake(port, identity, cipher):
    """A reference-shaped client: connect, old-dialect Handshake, wait for the HandshakeReply."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(cipher.seal(T_HANDSHAKE, json.dumps({"identity": identity, "ipv6": "", "port": 0}).encode()))
    buf = b""
    while True:
        while len(buf) < 8:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("gateway closed the connection of " + identity)
            buf += chunk
        length = struct.unpack(">H", buf[6:8])[0]
        while len(buf) < 8 + length:
            buf += s.recv(65536)
        if buf[5] == T_HSREPLY:
            return s
        buf = buf[8 + length:]


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def bench_propagation(gws, identities, samples):
    cipher = Cipher(CIPHER)
    add, remove = [], []
    for i in range(samples):
        ident = identities[i % len(identities)]
        s = handshake(gws[0].port, ident, cipher)
        t0 = time.monotonic()
        while ident not in gws[1].remote():
            if time.monotonic() - t0 > 10:
                raise RuntimeError("%s never reached gw-2's view" % ident)
            time.sleep(0.001)
        add.append(time.monotonic() - t0)
        s.close()
        t0 = time.monotonic()
        while ident in gws[1].remote():
            if time.monotonic() - t0 > 10:
                raise RuntimeError("%s never left gw-2's view" % ident)
            time.sleep(0.001)
        remove.append(time.monotonic() - t0)
    return add, remove


def etcd_counts(metrics_url):
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    want = {"etcd_server_proposals_committed_total": 0.0, "etcd_mvcc_put_total": 0.0,
            "etcd_mvcc_delete_total": 0.0, "etcd_mvcc_txn_total": 0.0}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in want:
            want[parts[0]] = float(parts[1])
    return want


FLEET_COUNTERS = ("fleet_publish_writes", "fleet_publish_txns", "fleet_publish_gone", "fleet_ownership_retries",
                  "fleet_view_builds", "fleet_view_build_usec",
                  # why the gateways closed connections during the wave (clients held < clients)
                  "idle_timeout", "slow_client_disconnect", "handshake_timeout", "write_error",
                  "handshake_pending_evicted", "first_byte_timeout", "handshake_replayed", "duplicate_identity_replaced",
                  "fleet_ownership_lost", "fleet_ownership_taken", "read_error")


def fleet_counters(gws):
    """The fleet_* publishing counters summed over the gateways (None: not in this build)."""
    out = dict.fromkeys(FLEET_COUNTERS)
    for g in gws:
        cp = g.ctl("stats")["controlplane"]
        for k in FLEET_COUNTERS:
            if k in cp:
                out[k] = (out[k] or 0) + cp[k]
    return out


def published_in_views(gws):
    """Clients published by one gateway as the others see them: each client of a gateway is in the
    two other views, so the sum of the views' remote clients counts each published client twice."""
    return sum(g.ctl("gateways")["remote_clients"] for g in gws) / (len(gws) - 1)


def bench_mass_reconnect(args, gws, metrics_url, clients, work):
    """Two waves of `clients` connections (an equal share per gateway): connect, hold, all drop, again."""
    share = lambda i: clients * i // len(gws)  # noqa: E731  first client of gateway i (an equal share each)
    results = []
    for wave in ("connect", "reconnect"):
        f0 = fleet_counters(gws)
        c0 = etcd_counts(metrics_url)
        t0 = time.monotonic()
        peak, last, last_t = 0.0, c0, t0
        peak_writes, peak_published = 0.0, 0.0
        errs = [os.path.join(work, "idle-%s-%s.err" % (wave, g.id)) for g in gws]
        procs = [subprocess.Popen([os.path.join(args.build, "tools", "rustun-cp-bench"), "idle", "--config", g.config,
                                   "--clients", str(share(i + 1) - share(i)), "--first", str(share(i)), "--hold", str(args.hold),
                                   "--concurrency", "2000", "--json"], stdout=subprocess.PIPE,
                                  stderr=open(errs[i], "wb"), start_new_session=True)
                 for i, g in enumerate(gws)]
        # Samples while the clients connect and are held; the wave ends when etcd is quiet again.
        quiet_since = None
        while True:
            time.sleep(0.25)
            c = etcd_counts(metrics_url)
            now = time.monotonic()
            rate = (c["etcd_server_proposals_committed_total"] - last["etcd_server_proposals_committed_total"]) / (now - last_t)
            wrate = (c["etcd_mvcc_put_total"] + c["etcd_mvcc_delete_total"] - last["etcd_mvcc_put_total"] -
                     last["etcd_mvcc_delete_total"]) / (now - last_t)
            peak = max(peak, rate)
            peak_writes = max(peak_writes, wrate)
            peak_published = max(peak_published, published_in_views(gws))
            last, last_t = c, now
            running = any(p.poll() is None for p in procs)
            if rate < 5 and wrate < 5 and not running:
                quiet_since = quiet_since or now
                if now - quiet_since > 1.0:
                    break
            else:
                quiet_since = None
            if now - t0 > args.timeout:
                raise RuntimeError("mass reconnect wave '%s' did not finish within %d s" % (wave, args.timeout))
        alive, failed = 0, []
        for p, err, g in zip(procs, errs, gws):
            out = p.communicate()[0].decode(errors="replace").strip().splitlines()
            try:
                alive += json.loads(out[-1])["alive_after_hold"]
            except (IndexError, ValueError, KeyError):
                with open(err, errors="replace") as f:
                    why = (f.read().strip().splitlines() or ["no output"])[-1][:300]
                log("rustun-cp-bench idle against %s gave no result (exit %s): %s" % (g.id, p.returncode, why))
                failed.append("%s: %s" % (g.id, why))
        c1 = last
        dt = last_t - t0
        f1 = fleet_counters(gws)
        fleet = {k: (f1[k] - f0[k]) if f1[k] is not None and f0[k] is not None else None for k in FLEET_COUNTERS}
        results.append(dict(wave=wave, seconds=dt, alive=alive, failed=failed, published=peak_published, fleet=fleet,
                            peak_writes=peak_writes,
                            proposals=c1["etcd_server_proposals_committed_total"] - c0["etcd_server_proposals_committed_total"],
                            puts=c1["etcd_mvcc_put_total"] - c0["etcd_mvcc_put_total"],
                            deletes=c1["etcd_mvcc_delete_total"] - c0["etcd_mvcc_delete_total"],
                            txns=c1["etcd_mvcc_txn_total"] - c0["etcd_mvcc_txn_total"], peak=peak))
    return results


RELAY_ROW = "relay throughput, inter-gateway ÷ local"


def relay_run(args, gw, receiver_port=None):
    cmd = [os.path.join(args.build, "tools", "rustun-cp-bench"), "relay", "--config", gw.config, "--size", "1400",
           "--seconds", "5", "--pairs", "4", "--json"]
    if receiver_port:
        cmd += ["--receiver-port", str(receiver_port)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def relay_measurement(args, gws):
    """rustun-cp-bench relay: 4 pairs of 1400-byte frames, both ends on gw-1 (local), then the
    receivers on gw-2 (inter-gateway, over the fleet link); the ratio of relayed Gbps, and of Gbps
    per CPU second the gateways spent (the inter-gateway path runs two gateway processes on this
    machine's cores, where a fleet gives each gateway cores of its own), and of Gbps per CPU second
    of the busiest gateway (what one gateway of a fleet relays per core of its own: on a shared
    2-core machine the two gateways and the load generator compete for the same cores, so the
    plain ratio is bounded by the total CPU per frame, which the inter-gateway path roughly
    doubles)."""
    def run(receiver_port=None):
        c0 = [cpu_seconds(g.proc.pid) for g in gws[:2]]
        r = relay_run(args, gws[0], receiver_port)
        r["gw_cpus"] = [cpu_seconds(g.proc.pid) - c for g, c in zip(gws[:2], c0)]
        r["gw_cpu_s"] = sum(r["gw_cpus"])
        return r
    local, remote = run(), run(gws[1].port)
    div = lambda a, b: a / b if b > 0 else 0.0  # noqa: E731
    per = lambda r, cpu: div(r["gbps"] * r["seconds"], cpu)  # noqa: E731  Gbps per CPU second
    busy = lambda r: max(r["gw_cpus"])  # noqa: E731
    pc_ratio = div(per(remote, remote["gw_cpu_s"]), per(local, local["gw_cpu_s"]))
    pb_ratio = div(per(remote, busy(remote)), per(local, busy(local)))
    ratio = div(remote["gbps"], local["gbps"])
    return (RELAY_ROW, "%.2f× (%.2f / %.2f Gbps); per gateway core %.2f× (%.2f / %.2f Gbps per core); per core of "
            "the busiest gateway %.2f× (%.2f / %.2f Gbps per core)" % (
                ratio, remote["gbps"], local["gbps"], pc_ratio, per(remote, remote["gw_cpu_s"]),
                per(local, local["gw_cpu_s"]), pb_ratio, per(remote, busy(remote)), per(local, busy(local))), "≥ 0.8×",
            "4 pairs, 1400 B inner, 5 s each over TCP (control planes only); CPU of gw-1 + gw-2 %.1f + %.1f s "
            "inter-gateway, %.1f + %.1f s local (upper bound: connects and drain included); lost inter/local: "
            "%d / %d frames" % (remote["gw_cpus"][0], remote["gw_cpus"][1], local["gw_cpus"][0], local["gw_cpus"][1],
                               remote["sent_minus_received"], local["sent_minus_received"]))


def link_bench_row(args):
    """The link's own measurement mode (rustun-fleet-link-bench: two in-process control planes,
    no etcd): one client pair on one gateway against one pair across the TCP link."""
    name = "relay inter-gateway ÷ local, in-process (rustun-fleet-link-bench)"
    exe = os.path.join(args.build, "tests", "controlplane", "rustun-fleet-link-bench")
    if not os.access(exe, os.X_OK):
        return (name, "n/a", "≥ 0.8×", "not measured: rustun-fleet-link-bench not built")
    out = subprocess.run([exe, "--seconds", "3", "--json"], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return (name, "%.2f× (%.0f / %.0f frames/s)" % (r["ratio"], r["remote_fps"], r["local_fps"]), "≥ 0.8×",
            "1 pair, %d B inner, 3 s per row" % r["size"])


def measure_all(args, gws, identities, metrics_url, work, rows):
    """The full table: propagation, the relay row, the mass reconnect."""
    log("propagation: %d samples" % args.samples)
    add, remove = bench_propagation(gws, identities, args.samples)
    ms = lambda v: "%.1f ms" % (v * 1000)  # noqa: E731
    rows.append(("new client → other gateway's view (p50 / p99)", "%s / %s" % (ms(statistics.median(add)),
                 ms(percentile(add, 99))), "p99 < 1 s", "%d samples" % len(add)))
    rows.append(("client gone → other gateway's view (p50 / p99)", "%s / %s" % (ms(statistics.median(remove)),
                 ms(percentile(remove, 99))), "—", "%d samples" % len(remove)))
    log("relay: local, then inter-gateway")
    rows.append(relay_measurement(args, gws))
    log("mass reconnect: %d clients over %d gateways" % (args.clients, args.gateways))
    for r in bench_mass_reconnect(args, gws, metrics_url, args.clients, work):
        sec = max(r["seconds"], 1e-9)
        fl = r["fleet"]
        gw = ", ".join("%s %s" % (k, "n/a" if fl[k] is None else "%d" % fl[k]) for k in FLEET_COUNTERS)
        rows.append(("etcd writes, mass %s of %d clients over %d gateways" % (r["wave"], args.clients, args.gateways),
                     "%.0f records/s avg (%.0f peak); %.0f proposals/s avg (%.0f peak); %.0f of %d published" % (
                         (r["puts"] + r["deletes"]) / sec, r["peak_writes"], r["proposals"] / sec, r["peak"],
                         r["published"], args.clients), "—",
                     "%d clients held (clusters of %d); at most %.0f at once in the other gateways' views; %.0f proposals "
                     "(%.0f puts, %.0f deletes, %.0f txns) in %.1f s; gateways: %s%s" % (
                         r["alive"], args.cluster_size, r["published"], r["proposals"], r["puts"], r["deletes"], r["txns"],
                         r["seconds"], gw, "; " + args.scaled_because if args.scaled_because else "") +
                     "".join("; load process failed, %s" % f for f in r["failed"])))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--clients", type=int, default=100000)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--gateways", type=int, default=3)
    p.add_argument("--cluster-size", type=int, default=10)
    p.add_argument("--hold", type=int, default=5)
    p.add_argument("--timeout", type=int, default=600)
    p.add_argument("--scaled-because", default="")
    p.add_argument("--relay-only", action="store_true", help="only the relay row (two gateways), --rounds times")
    p.add_argument("--rounds", type=int, default=1, help="with --relay-only: how many relay rows")
    args = p.parse_args()
    if args.relay_only:
        args.gateways, args.clients, args.samples = 2, 20, 20
    if args.gateways < 2 or args.cluster_size < 2:
        p.error("--gateways and --cluster-size must be at least 2")
    work = tempfile.mkdtemp(prefix="rustun-bench-fleet.")
    genconfig = subprocess.run([os.path.join(args.build, "tools", "rustun-cp-bench"), "genconfig", "--clients",
                                str(max(args.clients, args.samples)), "--clusters",
                                str(max(1, -(-max(args.clients, args.samples) // args.cluster_size))), "--cipher", CIPHER,
                                "--port", "7000", "--socket", "/unused"],
                               check=True, capture_output=True, text=True).stdout
    identities = ["c%06d" % i for i in range(args.samples)]
    etcd = etcd_harness.EtcdCluster(members=1, workdir=work)
    gws = []
    rows = []
    try:
        etcd.start()
        metrics_url = etcd.endpoints[0] + "/metrics"
        log("etcd at %s; starting %d gateways (a %d-client configuration, clusters of %d)" % (
            etcd.endpoints[0], args.gateways, args.clients, args.cluster_size))
        gws = [Gateway(args, work, i, genconfig, etcd.endpoints, 10) for i in range(1, args.gateways + 1)]
        for g in gws:
            g.wait_up()
        if args.relay_only:
            for r in range(max(1, args.rounds)):
                log("relay round %d of %d: local, then inter-gateway" % (r + 1, max(1, args.rounds)))
                rows.append(relay_measurement(args, gws))
        else:
            measure_all(args, gws, identities, metrics_url, work, rows)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        why = str(e).strip().splitlines()[-1][:200] if str(e).strip() else type(e).__name__
        log("stopped: %s" % e)
        done = {r[0].split(" (")[0].split(",")[0] for r in rows}
        for name, target in (("new client → other gateway's view (p50 / p99)", "p99 < 1 s"),
                             (RELAY_ROW, "≥ 0.8×"),
                             ("etcd writes, mass reconnect of %d clients over %d gateways" % (args.clients, args.gateways), "—")):
            if name.split(" (")[0].split(",")[0] not in done:
                rows.append((name, "n/a", target, "not measured: " + why))
    finally:
        for g in gws:
            g.stop()
        etcd.stop()
    if not args.relay_only:
        log("link bench (in-process)")
        rows.append(link_bench_row(args))
    print("| measurement | result | target | notes |")
    print("|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %s | %s |" % r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
