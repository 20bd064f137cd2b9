#!/usr/bin/python3
"""015-spoofed-source (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import *  # noqa: E402,F401,F403

s = Scenario(__file__)
a, b = s.client("client-a"), s.client("client-b")
s.send(b, s.data(b, icmp_echo(b.ip, a.ip, seq=100)), "tcp_deliver")  # 0: authenticated: B live (A not: TCP)
for src in ("10.0.1.99", b.ip, "192.168.1.5"):
    s.send(a, s.data(a, icmp_echo(src, b.ip)))                      # 1..3
f = s.data(a, icmp_echo("192.168.11.7", b.ip))
s.send(a, f)                                                         # 4
s.expect_relay(f, to=b)
s.write()
