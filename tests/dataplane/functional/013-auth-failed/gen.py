#!/usr/bin/python3
"""013-auth-failed (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import *  # noqa: E402,F401,F403

s = Scenario(__file__)
a, b = s.client("client-a"), s.client("client-b")
s.send(b, s.data(b, icmp_echo(b.ip, a.ip, seq=100)), "tcp_deliver")  # 0: authenticated: B live (A not: TCP)
f = bytearray(s.data(a, icmp_echo(a.ip, b.ip)))
t = bytearray(f); t[-1] ^= 0x01; s.send(a, bytes(t))          # 1
t = bytearray(f); t[8 + 12 + 5] ^= 0x80; s.send(a, bytes(t))  # 2
t = bytearray(f); t[8 + 3] ^= 0x01; s.send(a, bytes(t))       # 3
other = Cluster({"name": "x", "crypto": "chacha20:rustun2"})
s.send(a, s.frame(other, T_DATA, icmp_echo(a.ip, b.ip, seq=2)))  # 4
s.send(a, s.header(T_DATA, 27) + bytes(f[8:35]))               # 5
s.send(a, bytes(f))                                             # 6: positive control
s.expect_relay(bytes(f), to=b)
s.write()
