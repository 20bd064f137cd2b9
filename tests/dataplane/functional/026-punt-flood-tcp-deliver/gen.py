#!/usr/bin/python3
"""024: a full punt ring does not stop TcpDeliver (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario, icmp_echo  # noqa: E402

s = Scenario(__file__)
a, b = s.client("client-a"), s.client("client-b")
for i in range(8):                                                   # 0..7
    s.send(a, s.keepalive(a), "punt" if i < 4 else "dropped: punt ring full")
s.send(a, s.data(a, icmp_echo(a.ip, b.ip)), "tcp_deliver")          # 8
s.write()
