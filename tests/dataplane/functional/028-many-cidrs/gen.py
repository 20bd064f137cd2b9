#!/usr/bin/python3
"""028-many-cidrs (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import *  # noqa: E402,F401,F403

s = Scenario(__file__)
a, b = s.client("client-a"), s.client("client-b")
s.send(b, s.data(b, icmp_echo(b.ip, a.ip, seq=100)), "tcp_deliver")  # 0: authenticated: B live (A not: TCP)
f = s.data(a, icmp_echo("172.17.24.5", b.ip))                         # 1: source in A's CIDR #280
s.send(a, f)
s.expect_relay(f, to=b)
f = s.data(b, icmp_echo(b.ip, "172.17.43.9", seq=2))                  # 2: destination in A's CIDR #299
s.send(b, f)
s.expect_relay(f, to=a)
s.send(b, s.data(b, icmp_echo(b.ip, "172.17.44.9", seq=3)))           # 3: nobody's
s.write()
