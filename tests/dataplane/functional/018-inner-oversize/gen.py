#!/usr/bin/python3
"""018-inner-oversize (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import *  # noqa: E402,F401,F403

s = Scenario(__file__)
a, b = s.client("client-a"), s.client("client-b")
s.send(b, s.data(b, icmp_echo(b.ip, a.ip, seq=100)), "tcp_deliver")  # 0: authenticated: B live (A not: TCP)
big = bytes(IP(src=a.ip, dst=b.ip, id=1) / UDP(sport=1, dport=2) / Raw(bytes(i & 0xFF for i in range(3000 - 28))))
s.send(a, s.data(a, big))                                            # 1
ok = bytes(IP(src=a.ip, dst=b.ip, id=2) / UDP(sport=1, dport=2) / Raw(bytes(i & 0xFF for i in range(1430 - 28))))
f = s.data(a, ok)
s.send(a, f)                                                         # 2
s.expect_relay(f, to=b)
s.write()
