#!/usr/bin/python3
"""010-truncated-frame (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import *  # noqa: E402,F401,F403

s = Scenario(__file__)
a, b = s.client("client-a"), s.client("client-b")
s.send(b, s.data(b, icmp_echo(b.ip, a.ip, seq=100)), "tcp_deliver")  # 0: authenticated: B live (A not: TCP)
f = s.data(a, icmp_echo(a.ip, b.ip))
s.send(a, f[:5])                                     # 1
s.send(a, s.header(T_DATA, 120) + f[8:48])           # 2
s.send(a, b"")                                       # 3
s.send(a, f)                                         # 4: positive control
s.expect_relay(f, to=b)
s.write()
