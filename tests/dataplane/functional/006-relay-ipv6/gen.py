#!/usr/bin/python3
"""006: IPv6 outer headers, mixed v4/v6 endpoints (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario, icmp_echo  # noqa: E402

s = Scenario(__file__)
a, b, c = s.client("client-a"), s.client("client-b"), s.client("client-c")
for x in (a, b, c):
    s.send(x, s.keepalive(x), "punt")
for sender, to, seq in ((a, b, 1), (b, a, 2), (a, c, 3)):
    f = s.data(sender, icmp_echo(sender.ip, to.ip, seq=seq, size=120))
    s.send(sender, f)
    s.expect_relay(f, to=to)
s.write()
