"""Network namespaces of the fleet tests (tests/fleet/README.md).

One bridge in a namespace of its own (nothing touches the host's network) and one namespace per
node on it, 172.31.78.0/24:

    <P>sw: bridge br0 ── <P>etcd  172.31.78.100  etcd member(s) (1 or 3, ports 2379/2380 + 10 i)
                      ├─ <P>gw1   172.31.78.1    rustun-controlplane (TCP 7000, link 7100)
                      ├─ <P>gw2   172.31.78.2    ...  (gw3: 172.31.78.3)
                      ├─ <P>a     172.31.78.11   rustun-client client-a
                      └─ <P>b     172.31.78.12   rustun-client client-b  (c: .13, d: .14)

Every process started here is remembered and killed by teardown(), which also removes the
namespaces; teardown() runs on every exit (the runner's finally).
"""
import os
import signal
import socket
import subprocess
import time

SUBNET = "172.31.78"
NODE_IPS = {"etcd": SUBNET + ".100", "gw1": SUBNET + ".1", "gw2": SUBNET + ".2", "gw3": SUBNET + ".3",
            "a": SUBNET + ".11", "b": SUBNET + ".12", "c": SUBNET + ".13", "d": SUBNET + ".14"}


def run(argv, check=True, **kw):
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


class Topology:
    def __init__(self, prefix, nodes):
        self.prefix = prefix
        self.nodes = list(nodes)
        self.procs = []  # (Popen, log file)
        self.up = False

    def ns(self, node):
        return self.prefix + node

    def ip(self, node):
        return NODE_IPS[node]

    def setup(self):
        sw = self.ns("sw")
        run(["ip", "netns", "add", sw])
        self.up = True
        run(["ip", "-n", sw, "link", "set", "lo", "up"])
        run(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", sw, "link", "set", "br0", "up"])
        for n in self.nodes:
            ns = self.ns(n)
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "v" + n, "netns", sw])
            run(["ip", "-n", sw, "link", "set", "v" + n, "master", "br0", "up"])
            run(["ip", "-n", ns, "addr", "add", self.ip(n) + "/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])

    def spawn(self, node, argv, log_path, env=None):
        """Starts argv in the node's namespace, output appended to log_path; returns the Popen."""
        log = open(log_path, "ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(node)] + argv, stdout=log, stderr=subprocess.STDOUT,
                             env=env, start_new_session=True)
        self.procs.append((p, log))
        return p

    def exec_in(self, node, argv, check=False, timeout=30):
        return run(["ip", "netns", "exec", self.ns(node)] + argv, check=check, timeout=timeout)

    def ping(self, node, dst, count=1, wait_s=1):
        r = self.exec_in(node, ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", str(wait_s), dst],
                         timeout=count * (wait_s + 1) + 5)
        return r.returncode == 0

    # nftables in a node's namespace: drop everything to and from `dst_ip` (a cut-off).
    def nft_cut(self, node, dst_ip):
        rules = ("table inet rustun_fleet_cut {\n"
                 "  chain output {\n    type filter hook output priority 0; policy accept;\n"
                 "    ip daddr %s counter drop comment \"fleet test: cut off\"\n  }\n"
                 "  chain input {\n    type filter hook input priority 0; policy accept;\n"
                 "    ip saddr %s counter drop\n  }\n"
                 "}\n") % (dst_ip, dst_ip)
        r = subprocess.run(["ip", "netns", "exec", self.ns(node), "nft", "-f", "-"], input=rules, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError("nft in %s: %s" % (node, r.stdout))

    def nft_uncut(self, node):
        self.exec_in(node, ["nft", "delete", "table", "inet", "rustun_fleet_cut"], check=True)

    @staticmethod
    def kill(p, sig=signal.SIGTERM, wait_s=3.0):
        """Signals the process group of p and waits (bounded); SIGKILL if it does not exit."""
        if p.poll() is not None:
            return p.returncode
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return p.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return p.wait(timeout=5)

    def teardown(self):
        for p, log in reversed(self.procs):
            self.kill(p)
            log.close()
        self.procs = []
        if self.up:
            for n in self.nodes + ["sw"]:
                run(["ip", "netns", "del", self.ns(n)], check=False)
            self.up = False


def wait_for(seconds, what, fn, interval=0.1):
    """Calls fn until it returns a true value (returned) or `seconds` pass (AssertionError)."""
    end = time.monotonic() + seconds
    last_exc = None
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # a socket not there yet, a process starting
            last_exc = e
        time.sleep(interval)
    raise AssertionError("timeout after %gs waiting for: %s%s" % (seconds, what,
                                                                   " (last error: %s)" % last_exc if last_exc else ""))


def unix_exchange(path, request=None, one_line=False, timeout=3.0):
    """Connects to the unix stream socket `path`, sends `request` (bytes) if given and reads the
    answer: up to the first newline (one_line) or to EOF. The control socket and the client's
    status socket both speak this way."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        if request:
            s.sendall(request)
        data = b""
        while not (one_line and data.endswith(b"\n")):
            b = s.recv(65536)
            if not b:
                break
            data += b
        return data
    finally:
        s.close()
