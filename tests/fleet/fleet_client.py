"""Our rustun-client in a node's namespace (a real TUN device), its status socket."""
import json
import os

from fleet_net import unix_exchange


class Client:
    def __init__(self, topo, node, identity, work, binary, servers, extra=()):
        self.topo = topo
        self.node = node
        self.identity = identity
        self.status_path = os.path.join(work, node + ".sock")
        self.log = os.path.join(work, node + ".log")
        self.argv = [binary, "-i", identity, "-k", "chacha20:rustun-fleet-test", "--tun", "rtun0",
                     "--keepalive-interval", "2", "--keepalive-threshold", "3", "--status-socket",
                     self.status_path] + [x for s in servers for x in ("-s", s)] + list(extra)
        self.proc = None

    def start(self):
        self.proc = self.topo.spawn(self.node, self.argv, self.log)
        return self

    def status(self):
        return json.loads(unix_exchange(self.status_path, timeout=2.0))

    def connected(self):
        return self.status()["server"]["connected"]

    def server(self):
        return self.status()["server"]["address"]

    def peer_ids(self):
        return sorted(p["identity"] for p in self.status()["peers"])

    def ping(self, dst, count=1, wait_s=1):
        return self.topo.ping(self.node, dst, count, wait_s)
