"""A gateway of the fleet tests: rustun-controlplane with a `fleet:` section in a node's namespace
(optionally rustun-dataplane beside it), its YAML, its control socket.

Every gateway gets the same clusters and clients (the fleet's one configuration): cluster "test"
(chacha20) with client-a .. client-d, 10.0.1.2 .. 10.0.1.5/24; client-a has the LAN
192.168.11.0/24 behind it.
"""
import json
import os
import shutil
import signal
import subprocess

from fleet_net import unix_exchange, wait_for

CLIENTS = [("client-a", "10.0.1.2", "[192.168.11.0/24]"), ("client-b", "10.0.1.3", "[]"),
           ("client-c", "10.0.1.4", "[]"), ("client-d", "10.0.1.5", "[]")]
CRYPTO = "chacha20:rustun-fleet-test"
LINK_KEY = "aes256:rustun-fleet-link-test"
TCP_PORT = 7000
LINK_PORT = 7100


def clusters_yaml():
    lines = ["clusters:", "  - name: test", "    clients:"]
    for ident, ip, ciders in CLIENTS:
        lines.append("      - {identity: %s, name: %s, private_ip: %s, mask: 255.255.255.0, gateway: 10.0.1.254, "
                     "ciders: %s}" % (ident, ident, ip, ciders))
    return "\n".join(lines) + "\n"


class Gateway:
    def __init__(self, topo, node, gateway_id, work, etcd_endpoints, lease_ttl_s=3, dataplane=None):
        self.topo = topo
        self.node = node
        self.id = gateway_id
        self.ip = topo.ip(node)
        self.addr = "%s:%d" % (self.ip, TCP_PORT)
        self.work = work
        self.etcd = list(etcd_endpoints)
        self.lease_ttl_s = lease_ttl_s
        self.dataplane = dataplane  # None, or the rustun-dataplane path (UDP relay on listen.udp)
        self.config = os.path.join(work, gateway_id + ".yaml")
        self.socket = os.path.join(work, gateway_id + ".sock")
        self.log = os.path.join(work, gateway_id + ".log")
        self.proc = None
        self.dp_proc = None

    def write_config(self, cp_binary):
        dp = ""
        udp = ""
        if self.dataplane:
            prefix = "rustun-fleet-%s-%s" % (self.topo.prefix, self.id)
            udp = "  udp: %s\n" % self.addr
            dp = ("dataplane:\n  channel: /dev/shm/%s/channel\n"
                  "  eal_args: [--no-pci, --in-memory, --file-prefix=%s, -l, \"0-1\", --log-level=lib.eal:warning, "
                  "\"--vdev=net_af_packet0,iface=eth0,qpairs=1\"]\n"
                  "  port: net_af_packet0\n  workers: 1\n  sessions: 1024\n  mbufs: 4095\n  address: %s\n"
                  "  exception: none\n") % (prefix, prefix, self.ip)
        text = ("listen:\n  tcp: %s\n%s%s"
                "crypto: %s\n"
                "control_socket: %s\n"
                "controlplane:\n  keepalive_interval: 2\n  handshake_rate_per_source: 0\n"
                "fleet:\n  gateway_id: %s\n  etcd: [%s]\n  lease_ttl: %ds\n"
                "  link:\n    listen: %s:%d\n    key: \"%s\"\n") % (
                    self.addr, udp, dp, CRYPTO, self.socket, self.id, ", ".join(self.etcd), self.lease_ttl_s,
                    self.ip, LINK_PORT, LINK_KEY)
        text += clusters_yaml()
        with open(self.config, "w") as f:
            f.write(text)
        self.cp_binary = cp_binary

    def start(self):
        if self.dataplane:
            self.start_dataplane()
        self.proc = self.topo.spawn(self.node, [self.cp_binary, "--config", self.config], self.log)
        wait_for(10, "%s: control socket" % self.id, lambda: self.ctl("status"))
        if self.dataplane:
            wait_for(20, "%s: dataplane attached" % self.id, lambda: self.ctl("status")["dataplane"] == "attached")
        return self

    # rustun-dataplane on net_af_packet over the namespace's eth0, bifurcated (`exception: none`):
    # it serves the UDP relay port from AF_PACKET; nftables drops the kernel's copy of those
    # datagrams (tests/e2e/lib.sh does the same for one gateway).
    def start_dataplane(self):
        rules = ("table inet rustun_fleet_dp {\n  chain input {\n"
                 "    type filter hook input priority 0; policy accept;\n"
                 "    udp dport %d counter drop comment \"relay port: served by rustun-dataplane\"\n  }\n}\n") % TCP_PORT
        r = subprocess.run(["ip", "netns", "exec", self.topo.ns(self.node), "nft", "-f", "-"], input=rules,
                           text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError("nft in %s: %s" % (self.node, r.stdout))
        self.dp_proc = self.topo.spawn(self.node, ["timeout", "-k", "5", "120", self.dataplane, "--config",
                                                   self.config], self.log.replace(".log", "-dp.log"))

    def cleanup(self):
        """Removes what a dataplane leaves (channel directory, DPDK runtime files)."""
        if self.dataplane:
            prefix = "rustun-fleet-%s-%s" % (self.topo.prefix, self.id)
            shutil.rmtree("/dev/shm/" + prefix, ignore_errors=True)
            shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=5)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ctl(self, cmd, **args):
        """One control-socket request (docs/controlplane.md, "Control socket"): the result object."""
        data = unix_exchange(self.socket, (json.dumps(dict(cmd=cmd, **args)) + "\n").encode(), one_line=True)
        ans = json.loads(data)
        if not ans.get("ok"):
            raise RuntimeError("%s: %s: %s" % (self.id, cmd, ans.get("error")))
        return ans["result"]

    # The fleet as this gateway sees it (rustunctl gateways / clients --all).
    def gateway_ids(self):
        return sorted(g["id"] for g in self.ctl("gateways")["gateways"])

    def remote_clients(self):
        """identity -> home gateway id of every remote client in this gateway's view."""
        return {c["identity"]: c["home"] for c in self.ctl("clients", all="true").get("remote", [])}

    def local_online(self):
        return sorted(c["identity"] for c in self.ctl("clients", online="true")["clients"])

    def counters(self):
        return self.ctl("stats")["controlplane"]
