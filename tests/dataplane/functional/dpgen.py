"""Shared helpers for the dataplane functional scenarios (tests/dataplane/README.md).

Each scenario's gen.py builds the packets it sends and the packets it expects with these helpers
and writes send.pcap / expect.pcap next to itself. Everything is deterministic: AEAD nonces are
"NONCE-" || 48-bit big-endian counter (as in tests/data/vectors.json), pcap timestamps are fixed,
and no field is left to scapy's randomness. Run with /usr/bin/python3 (Debian's python3-scapy).

The addresses come from the scenario's scenario.yaml (single source of truth, also read by the
C++ runner). Only documentation/test ranges are used: 192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32 outside, 10.x / 192.168.x inside the tunnel.
"""
import ipaddress
import json
import os
import struct
import sys

import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from scapy.all import ICMP, IP, UDP, Ether, IPOption, IPv6, Raw, conf  # noqa: F401
from scapy.utils import PcapWriter

conf.verb = 0

MAGIC = 0x91929394
T_HANDSHAKE, T_KEEPALIVE, T_DATA, T_REPLY, T_PEERUPDATE, T_PROBE6, T_PROBEHP = 1, 2, 3, 4, 5, 6, 7
STUN_COOKIE = 0x2112A442
PCAP_EPOCH = 1700000000  # fixed pcap timestamps: PCAP_EPOCH + index ms


def derived_key(crypto):
    """docs/protocol.md, "Key derivation": (method, key bytes). AEAD keys are truncated/zero-padded to 32 bytes."""
    method, _, key = crypto.partition(":")
    method = method.lower()
    raw = key.encode("utf-8")
    if method in ("chacha20", "aes256"):
        return method, (raw + b"\0" * 32)[:32]
    if method == "xor":
        assert raw, "xor needs a key"
        return method, raw
    assert method == "plain", crypto
    return method, b""


def parse_endpoint(text):
    """'198.51.100.10:40001' or '[2001:db8::a]:40001' -> (ip string, port, family 4/6)."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return str(ipaddress.IPv6Address(host)), int(port), 6
    host, _, port = text.rpartition(":")
    return str(ipaddress.IPv4Address(host)), int(port), 4


class Client:
    def __init__(self, d, cluster):
        self.identity = d["identity"]
        self.cluster = cluster
        self.ip = d["private_ip"]
        self.cidrs = d.get("cidrs", [])
        self.mac = d.get("mac", "02:00:00:00:00:99")
        self.endpoint = None
        if d.get("endpoint"):
            self.endpoint = parse_endpoint(d["endpoint"])

    @property
    def ep_ip(self):
        return self.endpoint[0]

    @property
    def ep_port(self):
        return self.endpoint[1]


class Cluster:
    def __init__(self, d):
        self.name = d["name"]
        self.crypto = d["crypto"]
        self.method, self.key = derived_key(self.crypto)
        self.clients = [Client(c, self) for c in d.get("clients", [])]


class Scenario:
    def __init__(self, gen_file):
        self.dir = os.path.dirname(os.path.abspath(gen_file))
        with open(os.path.join(self.dir, "scenario.yaml"), encoding="utf-8") as f:
            self.y = yaml.safe_load(f)
        self.relay_port = int(self.y.get("relay_port", 51258))
        self.address = self.y.get("address", "192.0.2.1")
        self.address6 = self.y.get("address6", "2001:db8::1")
        self.port_mac = self.y.get("port_mac", "02:70:63:61:70:00")
        self.clusters = [Cluster(c) for c in self.y.get("clusters", [])]
        self.nonce_counter = 0
        self.workers = int(self.y.get("workers", 1))
        self.sent = []      # (packet, note)
        self.queues = []    # RX queue of each sent packet (workers > 1: scenario.yaml rx_queues)
        self.expected = []  # (packet, TX queue)

    # ---- lookups ----
    def client(self, identity):
        for cl in self.clusters:
            for c in cl.clients:
                if c.identity == identity:
                    return c
        raise KeyError(identity)

    def cluster(self, name):
        return next(c for c in self.clusters if c.name == name)

    # ---- cipher layer (docs/protocol.md, "Ciphers") ----
    def next_nonce(self):
        self.nonce_counter += 1
        return b"NONCE-" + self.nonce_counter.to_bytes(6, "big")

    def seal(self, cluster, plaintext, nonce=None):
        if cluster.method == "chacha20":
            n = nonce or self.next_nonce()
            return n + ChaCha20Poly1305(cluster.key).encrypt(n, plaintext, None)
        if cluster.method == "aes256":
            n = nonce or self.next_nonce()
            return n + AESGCM(cluster.key).encrypt(n, plaintext, None)
        if cluster.method == "xor":
            k = cluster.key
            return bytes(b ^ k[i % len(k)] for i, b in enumerate(plaintext))
        return bytes(plaintext)

    # ---- frames (docs/protocol.md, "Frame header") ----
    @staticmethod
    def header(ftype, length, magic=MAGIC, version=1):
        return struct.pack(">IBBH", magic, version, ftype, length)

    def frame(self, cluster, ftype, plaintext, magic=MAGIC, version=1):
        payload = self.seal(cluster, plaintext)
        return self.header(ftype, len(payload), magic, version) + payload

    def data(self, sender, inner):
        """A Data frame sealed with the sender's cluster cipher."""
        return self.frame(sender.cluster, T_DATA, bytes(inner))

    def keepalive(self, sender):
        """HEAD-shaped client KeepAlive (docs/protocol.md, "KeepAlive"), sealed with the sender's cluster cipher."""
        body = json.dumps({"name": "", "identity": sender.identity, "ipv6": "", "port": 0,
                           "stun_ip": "", "stun_port": 0}, separators=(",", ":"))
        return self.frame(sender.cluster, T_KEEPALIVE, body.encode())

    # ---- outer packets ----
    def to_gateway(self, src_ip, src_port, mac, payload, dport=None, ip_options=b""):
        """A datagram from (src_ip, src_port) to the gateway's relay port. ip_options: raw IPv4
        option bytes (a multiple of 4; the header grows to 20 + len bytes)."""
        dport = self.relay_port if dport is None else dport
        if ":" in src_ip:
            ip = IPv6(src=src_ip, dst=self.address6, hlim=64, fl=0, tc=0)
        else:
            ip = IP(src=src_ip, dst=self.address, id=0x1000 + len(self.sent), ttl=64, flags=0)
            if ip_options:
                ip.options = [IPOption(ip_options)]
        return Ether(src=mac, dst=self.port_mac) / ip / UDP(sport=src_port, dport=dport) / Raw(bytes(payload))

    def from_gateway(self, dst_ip, dst_port, mac, payload):
        """What the contract says the gateway sends: its MAC and address, the relay port, TTL 64,
        valid IPv4 checksum, UDP checksum 0 over IPv4 (valid over IPv6). IPv4 id = 0, DF clear:
        implementation-defined, listed in the scenarios' ignore lists."""
        if ":" in dst_ip:
            ip = IPv6(src=self.address6, dst=dst_ip, hlim=64, fl=0, tc=0)
            udp = UDP(sport=self.relay_port, dport=dst_port)
        else:
            ip = IP(src=self.address, dst=dst_ip, id=0, ttl=64, flags=0, tos=0)
            udp = UDP(sport=self.relay_port, dport=dst_port, chksum=0)
        return Ether(src=self.port_mac, dst=mac) / ip / udp / Raw(bytes(payload))

    # ---- recording ----
    def send(self, sender, payload, note="", mac=None, src=None, queue=0, ip_options=b""):
        """Sends `payload` from the client's endpoint (or src=(ip, port)); returns its index in
        send.pcap. note: 'punt' / 'tcp_deliver' marks frames the expectations refer to.
        queue: the RX queue (worker) it arrives on, for scenarios with `workers` > 1."""
        ip, port = src if src else (sender.ep_ip, sender.ep_port)
        pkt = self.to_gateway(ip, port, mac or (sender.mac if sender else "02:00:00:00:00:99"), payload,
                              ip_options=ip_options)
        return self.send_packet(pkt, note, queue)

    def send_packet(self, pkt, note="", queue=0):
        assert 0 <= queue < self.workers, f"queue {queue} with {self.workers} worker(s)"
        self.sent.append((pkt, note))
        self.queues.append(queue)
        return len(self.sent) - 1

    def expect_relay(self, frame, to, mac=None, queue=0):
        """The frame, bytes unchanged, to client `to`'s endpoint (sent by worker `queue`, the one
        that received the frame)."""
        self.expect_packet(self.from_gateway(to.ep_ip, to.ep_port, mac or to.mac, frame), queue)

    def expect_packet(self, pkt, queue=0):
        assert 0 <= queue < self.workers, f"queue {queue} with {self.workers} worker(s)"
        self.expected.append((pkt, queue))

    # ---- STUN (RFC 5389) ----
    @staticmethod
    def stun_request(txid):
        assert len(txid) == 12
        return struct.pack(">HHI", 0x0001, 0, STUN_COOKIE) + txid

    @staticmethod
    def stun_success(txid, ip, port):
        cookie = struct.pack(">I", STUN_COOKIE)
        addr = ipaddress.ip_address(ip).packed
        mask = cookie if len(addr) == 4 else cookie + txid
        xaddr = bytes(a ^ m for a, m in zip(addr, mask))
        value = struct.pack(">BBH", 0, 1 if len(addr) == 4 else 2, port ^ (STUN_COOKIE >> 16)) + xaddr
        attr = struct.pack(">HH", 0x0020, len(value)) + value
        return struct.pack(">HHI", 0x0101, len(attr), STUN_COOKIE) + txid + attr

    # ---- output ----
    def check_expectations(self):
        """The scenario's punts/tcp_deliver entries must name exactly the frames marked so."""
        ex = self.y.get("expect", {}) or {}
        for kind in ("punt", "tcp_deliver"):
            listed = sorted(e["frame"] for e in (ex.get(kind + "s" if kind == "punt" else kind) or [])
                            if "frame" in e)
            marked = sorted(i for i, (_, note) in enumerate(self.sent) if note == kind)
            if listed != marked:
                sys.exit(f"{self.dir}: scenario.yaml expect.{kind}{'s' if kind == 'punt' else ''} "
                         f"frames {listed} != packets marked '{kind}' in gen.py {marked}")
        if self.workers > 1 and list(self.y.get("rx_queues") or []) != self.queues:
            sys.exit(f"{self.dir}: scenario.yaml rx_queues {self.y.get('rx_queues')} != the queues "
                     f"of the packets sent in gen.py {self.queues}")

    def write(self, out_dir=None):
        self.check_expectations()
        out_dir = out_dir or (sys.argv[1] if len(sys.argv) > 1 else self.dir)
        # expect.pcap: queue 0's packets, then queue 1's, ... (each worker transmits in order on
        # its own TX queue; the runner reads OUT.q0, OUT.q1, ... in that order).
        expected = [p for p, _ in sorted(self.expected, key=lambda e: e[1])]
        for name, pkts in (("send.pcap", [p for p, _ in self.sent]), ("expect.pcap", expected)):
            w = PcapWriter(os.path.join(out_dir, name), linktype=1, sync=True)
            for i, p in enumerate(pkts):
                p = Ether(bytes(p))  # freeze checksums/lengths
                p.time = PCAP_EPOCH + i / 1000
                w.write(p)
            w.close()
        for i, (p, note) in enumerate(self.sent):
            print(f"send[{i}] {len(p)} bytes {note}")
        print(f"expect: {len(self.expected)} packets")


def icmp_echo(src, dst, seq=1, size=84, ident=0x1234, ip_id=0x4a2b, reply=False):
    """An ICMP echo of `size` bytes total (>= 36); with the defaults it is the vectors.json
    icmp_echo_request (timestamp 6773a400 00012345, then 0x10, 0x11, ...)."""
    pad = bytes.fromhex("6773a40000012345") + bytes((0x10 + i) & 0xFF for i in range(size - 36))
    return bytes(IP(src=src, dst=dst, id=ip_id, flags="DF", ttl=64) / ICMP(type=0 if reply else 8, id=ident, seq=seq) / Raw(pad))


def relay_pair(gen_file):
    """The scenario of 001-004 (the cipher comes from each scenario.yaml): A and B bind, A's first
    frame goes to TCP because B is not live yet, then B -> A and A -> B are relayed.
    With xor/plain (003, 004) no frame can prove it is fresh (no counter nonce), so Data never
    makes its sender live: A is live from the sync (`live: true`, a KeepAlive the control plane
    accepted) and B never becomes live: the last A -> B goes to TCP as well."""
    s = Scenario(gen_file)
    a, b = s.client("client-a"), s.client("client-b")
    if a.cluster.method not in ("chacha20", "aes256"):
        s.send(a, s.keepalive(a), "punt")                                # 0
        s.send(b, s.keepalive(b), "punt")                                # 1
        req = s.data(a, icmp_echo(a.ip, b.ip, seq=1))
        s.send(a, req, "tcp_deliver")                                    # 2: B not live -> TCP
        rep = s.data(b, icmp_echo(b.ip, a.ip, seq=1, ip_id=0x7b01, reply=True))
        s.send(b, rep)                                                   # 3: A live (sync) -> relayed
        s.expect_relay(rep, to=a)
        req2 = s.data(a, icmp_echo(a.ip, b.ip, seq=2, ip_id=0x4a2c))
        s.send(a, req2, "tcp_deliver")                                   # 4: B's Data did not make it live
        s.write()
        return

    s.send(a, s.keepalive(a), "punt")                                    # 0
    s.send(b, s.keepalive(b), "punt")                                    # 1: punted, unauthenticated: B not live
    req = s.data(a, icmp_echo(a.ip, b.ip, seq=1))
    s.send(a, req, "tcp_deliver")                                        # 2: B not live -> TCP; A now live
    rep = s.data(b, icmp_echo(b.ip, a.ip, seq=1, ip_id=0x7b01, reply=True))
    s.send(b, rep)                                                       # 3: B -> A relayed; B now live
    s.expect_relay(rep, to=a)
    req2 = s.data(a, icmp_echo(a.ip, b.ip, seq=2, ip_id=0x4a2c))
    s.send(a, req2)                                                      # 4: A -> B relayed
    s.expect_relay(req2, to=b)
    s.write()


# ---- the fleet's link frame (docs/fleet.md, "The link frame, byte by byte") ----
LINK_KEY_LABEL = b"rustun fleet link key v1\0"


def fleet_key(spec):
    """docs/fleet.md, "The fleet key and the tag": SHA-256 of the label, a NUL and the whole text."""
    import hashlib
    method, _, text = spec.partition(":")
    assert method in ("aes256", "chacha20"), spec
    return method, hashlib.sha256(LINK_KEY_LABEL + text.encode()).digest()


def link_frame(key_spec, sender, cluster, frame, seq, dst_ip=None, identity="", salt=0x01020304):
    """A link frame carrying the Rustun `frame` unchanged, tagged with the fleet key: the AEAD of
    an empty plaintext with header + frame as associated data, nonce = salt || seq."""
    method, key = fleet_key(key_spec)
    dst = int(ipaddress.IPv4Address(dst_ip)) if dst_ip else 0
    names = sender.encode() + cluster.encode() + identity.encode()
    header = (b"RFLK" + bytes([1, 0, 0, 0, len(sender), len(cluster), len(identity), 0]) +
              struct.pack(">IIQI", len(frame), salt, seq, dst) + names)
    nonce = header[16:28]
    aead = AESGCM(key) if method == "aes256" else ChaCha20Poly1305(key)
    return header + bytes(frame) + aead.encrypt(nonce, b"", header + bytes(frame))
