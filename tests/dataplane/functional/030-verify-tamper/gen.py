#!/usr/bin/python3
"""030-verify-tamper (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import *  # noqa: E402,F401,F403

s = Scenario(__file__)
for sender, peer in (("client-a", "client-b"), ("client-c", "client-d")):
    a, b = s.client(sender), s.client(peer)
    s.send(b, s.data(b, icmp_echo(b.ip, a.ip, seq=100)), "tcp_deliver")  # authenticated: B live (A not: TCP)
    f = bytes(s.data(a, icmp_echo(a.ip, b.ip, size=1100)))
    n = len(f)

    def variant(i, x):
        t = bytearray(f)
        t[i] ^= x
        return bytes(t)

    for i in range(4):
        s.send(a, variant(i, 0x01))                          # magic -> drop_bad_magic
    s.send(a, variant(4, 0x02))                              # version -> drop_bad_version
    s.send(a, variant(5, 0x01), "punt")                      # type 3 -> 2 (KeepAlive): punted, never relayed
    s.send(a, variant(7, 0x01))                              # length + 1 -> drop_short_frame
    t = bytearray(f); t[7] -= 1; s.send(a, bytes(t))         # length - 1: tag read 1 byte early -> drop_auth_failed
    for i in range(8, 20):
        s.send(a, variant(i, 0x80))                          # every nonce byte
    for i in list(range(20, 60)) + [20 + 500, 20 + 777, 20 + 1000] + list(range(n - 16 - 5, n - 16)):
        s.send(a, variant(i, 0x04))                          # ciphertext: the head, the middle, the end
    for i in range(n - 16, n):
        s.send(a, variant(i, 0x10))                          # every tag byte
    s.send(a, f)                                             # positive control: relayed unchanged
    s.expect_relay(f, to=b)
s.write()
