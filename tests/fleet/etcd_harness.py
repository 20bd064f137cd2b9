#!/usr/bin/python3
"""A real etcd for tests (docs/testing.md, docs/fleet.md "etcd client"): one member or a 3-member
cluster, on free loopback ports (or fixed ports on a given address inside a network namespace),
each member with a temporary data directory; kill -9 and restart (same data directory) of a
member; optional TLS with a generated CA, server and client certificates. Every process is killed
and every directory removed on exit, also when the test fails or is interrupted.

As a module (fleet integration tests):
    cluster = EtcdCluster(members=3)            # host="127.0.0.1", netns=None, workdir=None, tls=False
    cluster.start()                             # waits until every member is healthy
    cluster.endpoints                           # ["http://127.0.0.1:PORT", ...]
    cluster.kill(0); cluster.restart(0)         # kill -9, then the same member on its data directory
    cluster.get_prefix("/rustun/v1/")           # {key: value} through etcdctl
    cluster.stop()

As a runner of a test program (meson):
    etcd_harness.py run [--members N] [--tls] -- PROGRAM ARGS...
starts the cluster, runs PROGRAM with RUSTUN_ETCD_ENDPOINTS (comma-separated URLs),
RUSTUN_ETCD_CONTROL (a UNIX socket taking one command a line: "kill I", "restart I",
"compact REV"; it answers "ok" or "error: ...") and, with --tls, RUSTUN_ETCD_CA / _CERT / _KEY (a
client certificate the members accept), and exits with PROGRAM's status (77 = skipped when etcd
or etcdctl is missing). On failure it prints the tail of each member's log.
"""
import argparse
import atexit
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL = shutil.which("etcdctl") or "/usr/bin/etcdctl"
HEALTH_TIMEOUT_S = 30


def free_ports(n, host="127.0.0.1"):
    """n distinct free TCP ports on host (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def write_certificates(directory, hosts):
    """A CA, a server certificate for `hosts` (IPs and localhost) and a client certificate, as PEM
    files in `directory`; returns their paths."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.utcnow() - datetime.timedelta(minutes=5)
    later = now + datetime.timedelta(days=2)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def save(path, obj, private=False):
        with open(path, "wb") as f:
            if private:
                f.write(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
            else:
                f.write(obj.public_bytes(serialization.Encoding.PEM))
        return path

    ca_key = key()
    ca = (x509.CertificateBuilder().subject_name(name("rustun test etcd CA")).issuer_name(name("rustun test etcd CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(later)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(cn, usage, sans):
        k = key()
        b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca.subject).public_key(k.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(later)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage(usage), critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(ca_key, hashes.SHA256()), k

    sans = [x509.DNSName("localhost")] + [x509.IPAddress(ipaddress.ip_address(h)) for h in sorted(set(hosts))]
    server, server_key = leaf("etcd", [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], sans)
    client, client_key = leaf("rustun-gateway", [ExtendedKeyUsageOID.CLIENT_AUTH], None)
    return {
        "ca": save(os.path.join(directory, "ca.pem"), ca),
        "server_cert": save(os.path.join(directory, "server.pem"), server),
        "server_key": save(os.path.join(directory, "server.key"), server_key, private=True),
        "cert": save(os.path.join(directory, "client.pem"), client),
        "key": save(os.path.join(directory, "client.key"), client_key, private=True),
    }


class Member:
    def __init__(self, cluster, index, client_port, peer_port):
        self.cluster = cluster
        self.index = index
        self.name = "m%d" % index
        self.client_port = client_port
        self.peer_port = peer_port
        self.data_dir = os.path.join(cluster.workdir, "etcd-%s.data" % self.name)
        self.log_path = os.path.join(cluster.workdir, "etcd-%s.log" % self.name)
        self.proc = None

    @property
    def client_url(self):
        return "%s://%s:%d" % ("https" if self.cluster.tls else "http", self.cluster.host, self.client_port)

    @property
    def peer_url(self):
        return "http://%s:%d" % (self.cluster.host, self.peer_port)

    def command(self):
        c = self.cluster
        cmd = [ETCD, "--name", self.name, "--data-dir", self.data_dir,
               "--listen-client-urls", self.client_url, "--advertise-client-urls", self.client_url,
               "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
               "--initial-cluster", ",".join("%s=%s" % (m.name, m.peer_url) for m in c.members),
               "--initial-cluster-state", "new", "--initial-cluster-token", c.token,
               # Short elections keep member-loss tests short; etcd's minimum lease TTL follows
               # (1.5 election timeouts, rounded up to whole seconds: 1 s here).
               "--heartbeat-interval", str(c.heartbeat_ms), "--election-timeout", str(c.election_ms),
               "--logger", "zap", "--log-outputs", "stderr"]
        if c.tls:
            cmd += ["--cert-file", c.certs["server_cert"], "--key-file", c.certs["server_key"],
                    "--trusted-ca-file", c.certs["ca"], "--client-cert-auth"]
        if c.netns:
            cmd = ["ip", "netns", "exec", c.netns] + cmd
        return cmd

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()

    def kill(self):
        """kill -9 and wait for the process to be gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.proc = None

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


class EtcdCluster:
    def __init__(self, members=1, host="127.0.0.1", netns=None, workdir=None, tls=False,
                 heartbeat_ms=50, election_ms=500):
        if members < 1:
            raise ValueError("members must be >= 1")
        self.host = host
        self.netns = netns
        self.tls = tls
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.own_workdir = workdir is None
        self.workdir = tempfile.mkdtemp(prefix="rustun-etcd.") if workdir is None else \
            tempfile.mkdtemp(prefix="etcd.", dir=workdir)
        self.token = "rustun-test-%d-%d" % (os.getpid(), int(time.time() * 1000) % 1000000)
        if netns:
            # A fresh namespace: fixed ports, 2379/2380 + 10 per member.
            ports = [(2379 + 10 * i, 2380 + 10 * i) for i in range(members)]
        else:
            flat = free_ports(2 * members, host)
            ports = [(flat[2 * i], flat[2 * i + 1]) for i in range(members)]
        self.members = [Member(self, i, c, p) for i, (c, p) in enumerate(ports)]
        self.certs = write_certificates(self.workdir, [host, "127.0.0.1"]) if tls else {}
        self.stopped = False
        atexit.register(self.stop)

    @property
    def endpoints(self):
        return [m.client_url for m in self.members]

    def etcdctl(self, args, endpoints=None, timeout=10, check=True):
        cmd = [ETCDCTL, "--endpoints", ",".join(endpoints or self.endpoints), "--dial-timeout", "2s",
               "--command-timeout", "5s"]
        if self.tls:
            cmd += ["--cacert", self.certs["ca"], "--cert", self.certs["cert"], "--key", self.certs["key"]]
        cmd += list(args)
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        env = dict(os.environ, ETCDCTL_API="3")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if check and r.returncode != 0:
            raise RuntimeError("etcdctl %s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
        return r

    def healthy(self, member):
        try:
            return self.etcdctl(["endpoint", "health"], endpoints=[member.client_url], check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def wait_healthy(self, members):
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        for m in members:
            while not self.healthy(m):
                if m.proc is None or m.proc.poll() is not None:
                    raise RuntimeError("etcd member %s exited:\n%s" % (m.name, m.log_tail()))
                if time.monotonic() > deadline:
                    raise RuntimeError("etcd member %s not healthy within %d s:\n%s"
                                       % (m.name, HEALTH_TIMEOUT_S, m.log_tail()))
                time.sleep(0.1)

    def start(self):
        for m in self.members:
            m.start()
        self.wait_healthy(self.members)
        return self

    def kill(self, i):
        """kill -9 of member i."""
        self.members[i].kill()

    def restart(self, i):
        """Member i again, on its data directory; waits until it is healthy."""
        m = self.members[i]
        m.kill()
        m.start()
        self.wait_healthy([m])

    def compact(self, revision):
        self.etcdctl(["compact", str(revision)])

    def revision(self):
        out = self.etcdctl(["endpoint", "status", "-w", "json"]).stdout
        return max(s["Status"]["header"]["revision"] for s in json.loads(out))

    def get_prefix(self, prefix):
        """{key: value} of every key under prefix (text)."""
        out = self.etcdctl(["get", "--prefix", prefix, "-w", "json"]).stdout
        kvs = json.loads(out).get("kvs", [])
        return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode() for kv in kvs}

    def log_tails(self):
        return "\n".join("--- etcd %s (%s)\n%s" % (m.name, m.log_path, m.log_tail()) for m in self.members)

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        for m in self.members:
            m.kill()
        if self.own_workdir or not os.environ.get("FLEET_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class ControlServer:
    """The RUSTUN_ETCD_CONTROL socket: one command a line, one answer a line."""

    def __init__(self, cluster, path):
        self.cluster = cluster
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn):
        with conn, conn.makefile("rw") as f:
            for line in f:
                f.write(self.execute(line.split()) + "\n")
                f.flush()

    def execute(self, words):
        try:
            if len(words) == 2 and words[0] in ("kill", "restart", "compact"):
                n = int(words[1])
                {"kill": self.cluster.kill, "restart": self.cluster.restart, "compact": self.cluster.compact}[words[0]](n)
                return "ok"
            return "error: unknown command %r (kill I, restart I, compact REV)" % " ".join(words)
        except Exception as e:  # the answer carries it to the test
            return "error: %s" % str(e).replace("\n", " | ")


def run(argv):
    p = argparse.ArgumentParser(description="Run a program against a fresh etcd.")
    p.add_argument("--members", type=int, default=1)
    p.add_argument("--tls", action="store_true")
    p.add_argument("program", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    program = a.program[1:] if a.program[:1] == ["--"] else a.program
    if not program:
        p.error("no program given")
    for tool in (ETCD, ETCDCTL):
        if not os.access(tool, os.X_OK):
            print("SKIP: %s not found (packages etcd-server, etcd-client)" % tool)
            return 77
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # meson's timeout: still clean up
    cluster = EtcdCluster(members=a.members, tls=a.tls)
    try:
        cluster.start()
        control = ControlServer(cluster, os.path.join(cluster.workdir, "control.sock"))
        env = dict(os.environ, RUSTUN_ETCD_ENDPOINTS=",".join(cluster.endpoints), RUSTUN_ETCD_CONTROL=control.path)
        if a.tls:
            env.update(RUSTUN_ETCD_CA=cluster.certs["ca"], RUSTUN_ETCD_CERT=cluster.certs["cert"],
                       RUSTUN_ETCD_KEY=cluster.certs["key"])
        print("etcd: %d member(s) at %s" % (a.members, ", ".join(cluster.endpoints)), flush=True)
        rc = subprocess.call(program, env=env)
        if rc not in (0, 77):
            print(cluster.log_tails(), flush=True)
        return rc
    except Exception as e:
        print("etcd_harness: %s\n%s" % (e, cluster.log_tails()), flush=True)
        return 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "run":
        sys.exit(run(sys.argv[2:]))
    print(__doc__)
    sys.exit(2)
