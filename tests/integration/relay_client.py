#!/usr/bin/python3
"""Integration test client for the Rustun gateway (TCP session + UDP relay binding).

Keeps a TCP session with the control plane (Handshake, periodic KeepAlive, reconnects when the
session drops), binds a UDP endpoint with KeepAlives carrying `seq` (Unix microseconds, strictly
increasing; docs/protocol-extensions.md), re-binds every --rebind seconds, and sends Data frames
(IPv4/UDP packets from its private IP, a sequence number inside) at a bounded rate, over UDP to
the relay port (--mode udp) or over TCP (--mode tcp). Counts what arrives on UDP and on TCP,
per sender, with duplicates, and prints a JSON summary at the end. --progress FILE gets the same
JSON (cumulative) every 200 ms, so a test can look at the counters while the client runs.

Frames (docs/protocol.md, "Frame header", "Ciphers"): 91 92 93 94 | 01 | type | len16 BE | nonce12 || ciphertext || tag16,
ChaCha20-Poly1305 or AES-256-GCM, key = key string zero-padded/truncated to 32 bytes, no AAD.
"""
import argparse
import errno
import json
import os
import select
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

MAGIC = b"\x91\x92\x93\x94"
T_HANDSHAKE, T_KEEPALIVE, T_DATA, T_HSREPLY = 1, 2, 3, 4
PROBE = b"RTIT"  # marks our test payloads inside the inner packet


class Cipher:
    def __init__(self, spec):
        method, _, key = spec.partition(":")
        k = key.encode()[:32].ljust(32, b"\0")
        method = method.lower()
        if method in ("chacha20", "chacha20poly1305"):
            self.aead = ChaCha20Poly1305(k)
        elif method in ("aes256", "aes-256-gcm"):
            self.aead = AESGCM(k)
        else:
            raise SystemExit("relay_client: cipher %r not supported" % method)

    def seal(self, ftype, plaintext):
        nonce = os.urandom(12)
        payload = nonce + self.aead.encrypt(nonce, plaintext, None)
        return MAGIC + bytes([1, ftype]) + struct.pack(">H", len(payload)) + payload

    def open(self, payload):
        if len(payload) < 28:
            return None
        try:
            return self.aead.decrypt(payload[:12], payload[12:], None)
        except Exception:
            return None


def ipv4_checksum(hdr):
    s = 0
    for i in range(0, len(hdr), 2):
        s += (hdr[i] << 8) | hdr[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def inner_packet(src, dst, seq, size):
    body = PROBE + socket.inet_aton(src) + struct.pack(">Qd", seq, time.time())
    body = body.ljust(max(size - 28, len(body)), b"\xa5")
    udp = struct.pack(">HHHH", 40000, 40001, 8 + len(body), 0) + body
    hdr = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0x4000, 64, 17, 0,
                                socket.inet_aton(src), socket.inet_aton(dst)))
    hdr[10:12] = struct.pack(">H", ipv4_checksum(hdr))
    return bytes(hdr) + udp


def parse_inner(pkt):
    """(src ip, seq) of one of our probe packets, or None."""
    if len(pkt) < 28 + 20 or pkt[0] != 0x45 or pkt[28:32] != PROBE:
        return None
    src = socket.inet_ntoa(pkt[32:36])
    if src != socket.inet_ntoa(pkt[12:16]):
        return None
    (seq,) = struct.unpack(">Q", pkt[36:44])
    return src, seq


def hostport(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


class Client:
    def __init__(self, a):
        self.a = a
        self.cipher = Cipher(a.key)
        self.tcp = None
        self.tcp_buf = b""
        self.tcp_up_once = True
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((a.bind_ip, a.udp_port))
        self.udp.setblocking(False)
        self.relay = hostport(a.relay) if a.relay else None
        self.last_seq_us = 0
        self.cookie = None  # the gateway's return-routability cookie, echoed once
        self.stats = dict(identity=a.identity, mode=a.mode, udp_local=self.udp.getsockname()[1],
                          tcp_connects=0, tcp_connect_failures=0, tcp_lost=0, handshake_replies=0,
                          tcp_keepalives_tx=0, tcp_keepalive_replies=0,
                          udp_keepalives_tx=0, udp_keepalive_replies=0, udp_reply_seq_echo_ok=0,
                          sent=0, sent_udp=0, sent_tcp=0, send_errors=0,
                          rx_udp=0, rx_tcp=0, rx_unique=0, rx_duplicates=0, rx_foreign=0,
                          rx_bad_auth=0, rx_other_frames=0, max_seq_rx={}, bound=False,
                          first_bound_at=None, started_at=time.time())
        self.seen = {}  # src ip -> set of seqs
        self.events = []  # (Unix time, what) of TCP session changes, at most 50
        self.data_seq = 0

    # --- TCP session -------------------------------------------------------------------------
    def event(self, what):
        if len(self.events) < 50:
            self.events.append([round(time.time(), 3), what])

    def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.connect(hostport(self.a.gateway))
        except OSError as e:
            s.close()
            if self.stats["tcp_connect_failures"] == 0 or self.tcp_up_once:
                self.event("connect failed: %s" % e.strerror)
            self.tcp_up_once = False
            self.stats["tcp_connect_failures"] += 1
            return False
        self.tcp_up_once = True
        self.event("connected from port %d" % s.getsockname()[1])
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(None)
        s.setblocking(False)
        self.tcp, self.tcp_buf = s, b""
        self.stats["tcp_connects"] += 1
        self.hs_pending = True
        self.tcp_send(T_HANDSHAKE, json.dumps({"identity": self.a.identity}, separators=(",", ":")).encode())
        return True

    def tcp_send(self, ftype, plaintext=None, raw=None):
        frame = raw if raw is not None else self.cipher.seal(ftype, plaintext)
        try:
            self.tcp.setblocking(True)
            self.tcp.settimeout(2.0)
            self.tcp.sendall(frame)
            self.tcp.setblocking(False)
            return True
        except OSError as e:
            self.drop_tcp("send: %s" % e.strerror)
            return False

    def drop_tcp(self, why="closed"):
        if self.tcp:
            self.event("TCP session lost: %s" % why)
            self.tcp.close()
            self.tcp = None
            self.stats["tcp_lost"] += 1

    def keepalive_body(self):
        now_us = int(time.time() * 1e6)
        self.last_seq_us = max(now_us, self.last_seq_us + 1)
        body = {"name": "", "identity": self.a.identity, "ipv6": "", "port": 0, "stun_ip": "",
                "stun_port": 0, "peer_details": [], "seq": self.last_seq_us}
        if self.cookie:
            body["cookie"] = self.cookie
        return json.dumps(body, separators=(",", ":")).encode(), self.last_seq_us

    def read_tcp(self):
        try:
            chunk = self.tcp.recv(262144)
        except BlockingIOError:
            return
        except OSError as e:
            self.drop_tcp("recv: %s" % e.strerror)
            return
        if not chunk:
            self.drop_tcp("closed by the gateway")
            return
        self.tcp_buf += chunk
        while len(self.tcp_buf) >= 8:
            if self.tcp_buf[:4] != MAGIC:
                self.stats["tcp_bad_stream"] = self.stats.get("tcp_bad_stream", 0) + 1
                self.drop_tcp("bad magic in the TCP stream")
                return
            (n,) = struct.unpack(">H", self.tcp_buf[6:8])
            if len(self.tcp_buf) < 8 + n:
                return
            ftype, payload = self.tcp_buf[5], self.tcp_buf[8:8 + n]
            self.tcp_buf = self.tcp_buf[8 + n:]
            self.on_frame(ftype, payload, "tcp")

    # --- frames ------------------------------------------------------------------------------
    def on_frame(self, ftype, payload, path):
        pt = self.cipher.open(payload)
        if pt is None:
            self.stats["rx_bad_auth"] += 1
            return
        if ftype == T_DATA:
            got = parse_inner(pt)
            if got is None:
                self.stats["rx_foreign"] += 1
                return
            src, seq = got
            self.stats["rx_" + path] += 1
            s = self.seen.setdefault(src, set())
            if seq in s:
                self.stats["rx_duplicates"] += 1
            else:
                s.add(seq)
                self.stats["rx_unique"] += 1
                m = self.stats["max_seq_rx"]
                m[src] = max(m.get(src, -1), seq)
        elif ftype == T_HSREPLY and path == "tcp":
            self.stats["handshake_replies"] += 1
            self.hs_pending = False
            self.event("HandshakeReply")
        elif ftype == T_KEEPALIVE and path == "tcp":
            self.stats["tcp_keepalive_replies"] += 1
        elif ftype == T_KEEPALIVE and path == "udp":
            self.stats["udp_keepalive_replies"] += 1
            try:
                reply = json.loads(pt)
            except ValueError:
                reply = {}
            if reply.get("seq") == self.last_seq_us:
                self.stats["udp_reply_seq_echo_ok"] += 1
            if "cookie" in reply:
                # Return-routability challenge (docs/protocol-extensions.md): echo it at once.
                self.stats["udp_challenges"] = self.stats.get("udp_challenges", 0) + 1
                self.cookie = reply["cookie"]
                self.send_udp_keepalive()
                return
            self.cookie = None
            if not self.stats["bound"]:
                self.stats["bound"] = True
                self.stats["first_bound_at"] = time.time()
        else:
            self.stats["rx_other_frames"] += 1

    def read_udp(self):
        for _ in range(256):
            try:
                data, _src = self.udp.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # ICMP errors surface here on a connected-less socket only rarely
                if e.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH):
                    continue
                return
            if len(data) < 8 or data[:4] != MAGIC:
                self.stats["rx_foreign"] += 1
                continue
            (n,) = struct.unpack(">H", data[6:8])
            if len(data) < 8 + n:
                self.stats["rx_foreign"] += 1
                continue
            self.on_frame(data[5], data[8:8 + n], "udp")

    def send_udp_keepalive(self):
        body, _ = self.keepalive_body()
        try:
            self.udp.sendto(self.cipher.seal(T_KEEPALIVE, body), self.relay)
            self.stats["udp_keepalives_tx"] += 1
        except OSError:
            self.stats["send_errors"] += 1

    def send_data(self):
        pkt = inner_packet(self.a.private_ip, self.a.peer_ip, self.data_seq, self.a.size)
        frame = self.cipher.seal(T_DATA, pkt)
        ok = False
        if self.a.mode == "udp":
            try:
                self.udp.sendto(frame, self.relay)
                ok = True
                self.stats["sent_udp"] += 1
                if self.a.dump_data and not os.path.exists(self.a.dump_data):
                    with open(self.a.dump_data, "wb") as f:  # a "captured" frame, for replay tests
                        f.write(frame)
            except OSError:
                self.stats["send_errors"] += 1
        elif self.tcp and not self.hs_pending:
            ok = self.tcp_send(T_DATA, raw=frame)
            if ok:
                self.stats["sent_tcp"] += 1
        if ok:
            self.stats["sent"] += 1
            self.stats["last_seq_tx"] = self.data_seq
            self.data_seq += 1

    # --- main loop ---------------------------------------------------------------------------
    def snapshot(self):
        st = dict(self.stats)
        st["now"] = time.time()
        st["rx_peer_unique"] = len(self.seen.get(self.a.peer_ip, ()))
        st["seen_counts"] = {k: len(v) for k, v in self.seen.items()}
        st["events"] = self.events
        return st

    def write_progress(self):
        if not self.a.progress:
            return
        tmp = self.a.progress + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.snapshot(), f)
        os.replace(tmp, self.a.progress)

    def run(self):
        a = self.a
        now = time.monotonic()
        end = now + a.duration
        stop_sending = end - a.drain
        next_connect = now
        next_tcp_ka = now + a.keepalive
        next_udp_ka = now
        next_progress = now
        next_data = None
        interval = 1.0 / a.rate if a.rate > 0 else None
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if self.tcp is None and now >= next_connect:
                next_connect = now + 0.3
                if self.connect():
                    next_tcp_ka = now + a.keepalive
            if self.tcp and not self.hs_pending and now >= next_tcp_ka:
                next_tcp_ka = now + a.keepalive
                body, _ = self.keepalive_body()
                if self.tcp_send(T_KEEPALIVE, body):
                    self.stats["tcp_keepalives_tx"] += 1
            if a.mode == "udp" and self.relay and now >= next_udp_ka and self.stats["handshake_replies"] > 0:
                # (Re)bind; before the first reply retry fast. The UDP binding does not depend on
                # the TCP session being up at this moment (it did handshake once).
                next_udp_ka = now + (a.rebind if self.stats["bound"] else 0.2)
                self.send_udp_keepalive()
            ready = (self.stats["bound"] if a.mode == "udp" else (self.tcp is not None and not self.hs_pending))
            if interval and ready and now < stop_sending and time.time() >= a.start_at:
                if next_data is None:
                    next_data = now
                sent_now = 0
                while next_data <= now and sent_now < 50:  # bounded catch-up after a stall
                    self.send_data()
                    next_data += interval
                    sent_now += 1
                if next_data < now - 0.5:
                    next_data = now
            if now >= next_progress:
                next_progress = now + 0.2
                self.write_progress()
            fds = [self.udp] + ([self.tcp] if self.tcp else [])
            wait = 0.02
            r, _, _ = select.select(fds, [], [], wait)
            if self.udp in r:
                self.read_udp()
            if self.tcp is not None and self.tcp in r:
                self.read_tcp()
        self.write_progress()
        st = self.snapshot()
        print(json.dumps(st, sort_keys=True))
        sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gateway", required=True, help="TCP address of the control plane, ip:port")
    p.add_argument("--relay", help="UDP relay address, ip:port (needed for --mode udp)")
    p.add_argument("--identity", required=True)
    p.add_argument("--key", default="chacha20:rustun")
    p.add_argument("--private-ip", required=True, help="inner source address (the client's VPN IP)")
    p.add_argument("--peer-ip", required=True, help="inner destination address")
    p.add_argument("--mode", choices=("udp", "tcp"), default="udp", help="path for the Data this client sends")
    p.add_argument("--rate", type=float, default=100.0, help="Data frames per second (0: none)")
    p.add_argument("--size", type=int, default=200, help="inner packet bytes")
    p.add_argument("--duration", type=float, default=10.0, help="seconds to run")
    p.add_argument("--drain", type=float, default=1.0, help="seconds at the end without sending")
    p.add_argument("--start-at", type=float, default=0.0, help="Unix time at which to start sending Data")
    p.add_argument("--keepalive", type=float, default=2.0, help="TCP KeepAlive period (s)")
    p.add_argument("--rebind", type=float, default=2.0, help="UDP KeepAlive (re-bind) period (s)")
    p.add_argument("--bind-ip", default="0.0.0.0")
    p.add_argument("--udp-port", type=int, default=0)
    p.add_argument("--progress", help="file to rewrite with the JSON counters every 200 ms")
    p.add_argument("--dump-data", help="write the first Data frame sent over UDP to this file")
    a = p.parse_args()
    if a.mode == "udp" and not a.relay:
        p.error("--mode udp needs --relay")
    Client(a).run()


if __name__ == "__main__":
    main()
