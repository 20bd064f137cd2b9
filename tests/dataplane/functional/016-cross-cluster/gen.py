#!/usr/bin/python3
"""016: tenant isolation (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario, icmp_echo  # noqa: E402

s = Scenario(__file__)
a, b, l1, l2 = (s.client(i) for i in ("client-a", "client-b", "lab-1", "lab-2"))
# Liveness from authenticated Data (punted KeepAlives would not do): B and L2 talk first.
s.send(b, s.data(b, icmp_echo(b.ip, a.ip, seq=1)), "tcp_deliver")       # 0: B -> A (A not live)
s.send(l2, s.data(l2, icmp_echo(l2.ip, l1.ip, seq=2)), "tcp_deliver")   # 1: L2 -> L1 (L1 not live)
s.send(a, s.data(a, icmp_echo(a.ip, l1.ip, seq=3)))                     # 2: lab's private IP
s.send(l1, s.data(l1, icmp_echo(l1.ip, a.ip, seq=4)))                   # 3: test's private IP
s.send(a, s.data(a, icmp_echo(a.ip, "10.77.0.1", seq=5)))               # 4: nobody's
f = s.data(a, icmp_echo(a.ip, "10.0.1.3", seq=7))
s.send(a, f)                                                            # 5: -> B
s.expect_relay(f, to=b)
f = s.data(l1, icmp_echo(l1.ip, "10.0.1.3", seq=8))
s.send(l1, f)                                                           # 6: -> L2
s.expect_relay(f, to=l2)
s.send(a, s.data(a, icmp_echo(a.ip, "192.168.50.9", seq=9)))            # 7: inside lab-1's CIDR
s.write()
