#!/usr/bin/python3
"""Misbehaving peers for tests/integration/test-fault-injection.sh. Each subcommand is bounded in
count and time, talks only to the gateway address it is given (inside the test's namespaces) and
prints one JSON line with what it saw.

  idle-flood      --gateway IP:PORT --count N --hold S
      opens N TCP connections that never send a byte and holds them S seconds; reports how many
      the gateway accepted and how many it closed meanwhile (admission caps, first-byte timeout).
  slow-reader     --gateway IP:PORT --identity ID --key SPEC --hold S
      completes a Handshake, then never reads (receive buffer 4 KiB) for S seconds; reports
      whether the gateway closed the session (it should, as a slow client, after its timeout).
  handshake-replay --gateway IP:PORT --identity ID --key SPEC --replays N
      the victim: completes a Handshake on connection 1; the attacker: sends the same captured
      Handshake bytes N times on fresh connections; then the victim's session must still answer
      a KeepAlive. Reports victim_alive, and the replies the replays got.
  punt-flood      --relay IP:PORT --count N --rate PPS
      sends N datagrams with a valid frame header of type KeepAlive and random payload (never
      authenticates) to the relay port at PPS from one source; nothing is expected back.
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relay_client import MAGIC, T_HANDSHAKE, T_HSREPLY, T_KEEPALIVE, Cipher, hostport  # noqa: E402


def read_frame(s, deadline):
    """One frame (type, payload) from a blocking socket before the deadline, or None."""
    buf = b""
    while time.time() < deadline:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            chunk = s.recv(65536 if len(buf) < 8 else 8 + struct.unpack(">H", buf[6:8])[0] - len(buf))
        except socket.timeout:
            continue
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
        if len(buf) >= 8 and buf[:4] == MAGIC and len(buf) >= 8 + struct.unpack(">H", buf[6:8])[0]:
            return buf[5], buf[8:8 + struct.unpack(">H", buf[6:8])[0]]
    return None


def is_closed(s):
    """True if the peer closed (or reset) the connection; never blocks."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def idle_flood(a):
    conns, refused = [], 0
    for _ in range(a.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.connect(hostport(a.gateway))
            conns.append(s)
        except OSError:
            refused += 1
            s.close()
    end = time.time() + a.hold
    while time.time() < end:
        time.sleep(0.1)
    closed = sum(1 for s in conns if is_closed(s))
    for s in conns:
        s.close()
    return dict(opened=len(conns), refused=refused, closed_by_gateway=closed)


def handshake_frame(cipher, identity):
    return cipher.seal(T_HANDSHAKE, json.dumps({"identity": identity}, separators=(",", ":")).encode())


def slow_reader(a):
    cipher = Cipher(a.key)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(2.0)
    s.connect(hostport(a.gateway))
    s.sendall(handshake_frame(cipher, a.identity))
    reply = read_frame(s, time.time() + 3)
    handshaken = reply is not None and reply[0] == T_HSREPLY
    # Never read again; see whether the gateway gives up on us.
    end, closed_at = time.time() + a.hold, None
    while time.time() < end:
        try:
            s.send(b"")
        except OSError:
            pass
        r, _, x = select.select([], [], [s], 0.2)
        if x:
            closed_at = time.time()
            break
        time.sleep(0.2)
    # The receive buffer is full; a closed session shows as EOF/RST once we drain it.
    s.setblocking(False)
    drained, eof = 0, False
    try:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                eof = True
                break
            drained += len(chunk)
    except BlockingIOError:
        pass
    except OSError:
        eof = True
    s.close()
    return dict(handshaken=handshaken, closed_by_gateway=eof or closed_at is not None, drained_bytes=drained)


def handshake_replay(a):
    cipher = Cipher(a.key)
    victim = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    victim.settimeout(2.0)
    victim.connect(hostport(a.gateway))
    captured = handshake_frame(cipher, a.identity)
    victim.sendall(captured)
    reply = read_frame(victim, time.time() + 3)
    ok = reply is not None and reply[0] == T_HSREPLY
    replay_replies = 0
    for _ in range(a.replays):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2.0)
        try:
            s.connect(hostport(a.gateway))
            s.sendall(captured)
            r = read_frame(s, time.time() + 1)
            if r is not None and r[0] == T_HSREPLY:
                replay_replies += 1
        except OSError:
            pass
        s.close()
    time.sleep(0.3)
    # The victim's session must still be there: a KeepAlive gets its reply.
    body = {"name": "", "identity": a.identity, "ipv6": "", "port": 0, "stun_ip": "", "stun_port": 0,
            "peer_details": []}
    alive = False
    try:
        victim.sendall(cipher.seal(T_KEEPALIVE, json.dumps(body, separators=(",", ":")).encode()))
        deadline = time.time() + 3
        while time.time() < deadline:
            r = read_frame(victim, deadline)
            if r is None:
                break
            if r[0] == T_KEEPALIVE:
                alive = True
                break
    except OSError:
        pass
    victim.close()
    return dict(handshaken=ok, replays=a.replays, replay_replies=replay_replies, victim_alive=alive)


def punt_flood(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dst = hostport(a.relay)
    sent, gap, t0 = 0, 1.0 / a.rate if a.rate > 0 else 0.0, time.time()
    for i in range(a.count):
        payload = os.urandom(60)
        frame = MAGIC + bytes([1, T_KEEPALIVE]) + struct.pack(">H", len(payload)) + payload
        try:
            s.sendto(frame, dst)
            sent += 1
        except OSError:
            pass
        if gap:
            wait = t0 + (i + 1) * gap - time.time()
            if wait > 0:
                time.sleep(wait)
    return dict(sent=sent, seconds=round(time.time() - t0, 3))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("idle-flood")
    f.add_argument("--gateway", required=True)
    f.add_argument("--count", type=int, default=100)
    f.add_argument("--hold", type=float, default=3.0)
    f = sub.add_parser("slow-reader")
    f.add_argument("--gateway", required=True)
    f.add_argument("--identity", required=True)
    f.add_argument("--key", default="chacha20:rustun")
    f.add_argument("--hold", type=float, default=8.0)
    f = sub.add_parser("handshake-replay")
    f.add_argument("--gateway", required=True)
    f.add_argument("--identity", required=True)
    f.add_argument("--key", default="chacha20:rustun")
    f.add_argument("--replays", type=int, default=3)
    f = sub.add_parser("punt-flood")
    f.add_argument("--relay", required=True)
    f.add_argument("--count", type=int, default=20000)
    f.add_argument("--rate", type=float, default=20000.0)
    a = p.parse_args()
    fn = {"idle-flood": idle_flood, "slow-reader": slow_reader, "handshake-replay": handshake_replay,
          "punt-flood": punt_flood}[a.cmd]
    print(json.dumps(fn(a)))


if __name__ == "__main__":
    main()
