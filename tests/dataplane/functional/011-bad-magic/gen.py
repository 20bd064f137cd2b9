#!/usr/bin/python3
"""011-bad-magic (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import *  # noqa: E402,F401,F403

s = Scenario(__file__)
a, b = s.client("client-a"), s.client("client-b")
s.send(b, s.keepalive(b), "punt")  # 0: B's endpoint becomes live
f = s.data(a, icmp_echo(a.ip, b.ip))
s.send(a, (0x90929394).to_bytes(4, "big") + f[4:])  # 1
s.send(a, bytes(4) + f[4:])                          # 2
s.write()
