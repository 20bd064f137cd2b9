#!/usr/bin/python3
"""025: malformed control messages (see scenario.yaml); the traffic of 019."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario, icmp_echo  # noqa: E402

s = Scenario(__file__)
a, b, c = s.client("client-a"), s.client("client-b"), s.client("client-c")
s.send(a, s.keepalive(a), "punt")                                   # 0
s.send(a, s.data(a, icmp_echo(a.ip, b.ip)), "tcp_deliver")          # 1
s.send(a, s.data(a, icmp_echo(a.ip, c.ip, seq=2)), "tcp_deliver")   # 2
s.write()
