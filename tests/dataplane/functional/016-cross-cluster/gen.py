#!/usr/bin/python3
"""016: tenant isolation (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario, icmp_echo  # noqa: E402

s = Scenario(__file__)
a, b, l1, l2 = (s.client(i) for i in ("client-a", "client-b", "lab-1", "lab-2"))
for x in (a, b, l1, l2):
    s.send(x, s.keepalive(x), "punt")                               # 0..3
s.send(a, s.data(a, icmp_echo(a.ip, l1.ip)))                        # 4
s.send(l1, s.data(l1, icmp_echo(l1.ip, a.ip)))                      # 5
s.send(a, s.data(a, icmp_echo(a.ip, "10.77.0.1")))                  # 6
f = s.data(a, icmp_echo(a.ip, "10.0.1.3", seq=7))
s.send(a, f)                                                        # 7
s.expect_relay(f, to=b)
f = s.data(l1, icmp_echo(l1.ip, "10.0.1.3", seq=8))
s.send(l1, f)                                                       # 8
s.expect_relay(f, to=l2)
s.write()
