#!/usr/bin/python3
"""017-inner-short (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import *  # noqa: E402,F401,F403

s = Scenario(__file__)
a, b = s.client("client-a"), s.client("client-b")
s.send(b, s.keepalive(b), "punt")  # 0: B's endpoint becomes live
ip4 = icmp_echo(a.ip, b.ip)
s.send(a, s.data(a, ip4[:12]))                                       # 1
s.send(a, s.data(a, b""))                                            # 2
v6 = bytes(IPv6(src="2001:db8:1::2", dst="2001:db8:1::3", nh=59, plen=0))
s.send(a, s.data(a, v6))                                             # 3
s.send(a, s.data(a, ip4[:19]))                                       # 4
s.write()
